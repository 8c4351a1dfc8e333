// SSE … SSE4.2 and CRC32. Expected values come from the host's Swift Float/Double arithmetic
// (IEEE 754, which SDM Vol. 1 §4.8 and ch. 10–11 specify for SSE) or from the SDM's definition of
// each instruction written out here per lane. Encodings: the mandatory prefix, the opcode and
// ModRM as in SDM Vol. 2 (checked with GNU as); "xmm1, xmm2" is ModRM CA (mod 3, reg 1, rm 2),
// "xmm1, [rax]" is ModRM 08.

import Testing
@testable import X86

typealias X128 = (UInt64, UInt64)

/// A 64-bit test machine with CR4.OSFXSR and CR4.OSXMMEXCPT set (SSE enabled by the OS).
func sseMachine() -> TestMachine {
    let m = TestMachine.long64(mib: 2)
    m.cpu.cr4 |= CR4.osfxsr | CR4.osxmmexcpt
    return m
}

extension TestMachine {
    func x(_ r: Int) -> X128 { (cpu.xmm[2 * r], cpu.xmm[2 * r + 1]) }
    func setX(_ r: Int, _ v: X128) { cpu.xmm[2 * r] = v.0; cpu.xmm[2 * r + 1] = v.1 }
}

/// `prefix opcode ModRM [imm8]`.
func enc(_ prefix: [UInt8], _ op: [UInt8], _ modrm: UInt8 = 0xCA, imm: UInt8? = nil) -> [UInt8] {
    prefix + op + [modrm] + (imm.map { [$0] } ?? [])
}

/// Run `code` (one instruction) with XMM1 = a, XMM2 = b; returns XMM1.
func run2(_ code: [UInt8], _ a: X128, _ b: X128, mxcsr: UInt32 = 0x1F80, sourceLocation: SourceLocation = #_sourceLocation) -> X128 {
    let m = sseMachine()
    m.cpu.mxcsr = mxcsr
    m.setX(1, a); m.setX(2, b)
    m.runToHalt(code, sourceLocation: sourceLocation)
    return m.x(1)
}

// Lane helpers for the reference implementations.
func bytesOf(_ v: X128) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? v.0 : v.1) >> UInt64(8 * ($0 % 8))) } }
func fromBytes(_ b: [UInt8]) -> X128 {
    var lo: UInt64 = 0, hi: UInt64 = 0
    for k in 0..<8 { lo |= UInt64(b[k]) << UInt64(8 * k); hi |= UInt64(b[k + 8]) << UInt64(8 * k) }
    return (lo, hi)
}
func wordsOf(_ v: X128) -> [UInt16] { (0..<8).map { UInt16(truncatingIfNeeded: ($0 < 4 ? v.0 : v.1) >> UInt64(16 * ($0 % 4))) } }
func fromWords(_ w: [UInt16]) -> X128 {
    var lo: UInt64 = 0, hi: UInt64 = 0
    for k in 0..<4 { lo |= UInt64(w[k]) << UInt64(16 * k); hi |= UInt64(w[k + 4]) << UInt64(16 * k) }
    return (lo, hi)
}
func dwordsOf(_ v: X128) -> [UInt32] { [UInt32(truncatingIfNeeded: v.0), UInt32(v.0 >> 32), UInt32(truncatingIfNeeded: v.1), UInt32(v.1 >> 32)] }
func fromDwords(_ d: [UInt32]) -> X128 { (UInt64(d[0]) | UInt64(d[1]) << 32, UInt64(d[2]) | UInt64(d[3]) << 32) }
func ps(_ f: [Float]) -> X128 { fromDwords(f.map { $0.bitPattern }) }
func floatsOf(_ v: X128) -> [Float] { dwordsOf(v).map { Float(bitPattern: $0) } }
func pd(_ a: Double, _ b: Double) -> X128 { (a.bitPattern, b.bitPattern) }
func eq(_ a: X128, _ b: X128) -> Bool { a.0 == b.0 && a.1 == b.1 }
func hx(_ v: X128) -> String { "\(hex(v.1)):\(hex(v.0))" }

let sampleA: X128 = (0x8001_7FFF_00FF_1234, 0xFEDC_BA98_7654_3210)
let sampleB: X128 = (0x7F80_8000_FF01_0203, 0x0123_4567_89AB_CDEF)

@Suite("SSE floating point")
struct SSEFloatTests {
    static let doubles: [(Double, Double)] = [(1.5, 2.25), (-3.0, 7.0), (1e300, 1e10), (0.1, 0.2), (1.0, 3.0), (-0.0, 0.0), (5e-324, 1.5)]
    static let floats: [(Float, Float)] = [(1.5, 2.25), (-3.0, 7.0), (1e30, 1e10), (0.1, 0.2), (1.0, 3.0), (1e-45, 3.5)]

    /// ADD/SUB/MUL/DIV/MIN/MAX SD (F2 0F 58/5C/59/5E/5D/5F) and SQRTSD (F2 0F 51): the low lane
    /// is the IEEE result, the high lane of the destination is kept (SDM Vol. 2A "ADDSD").
    @Test func scalarDouble() {
        let ops: [(UInt8, String, (Double, Double) -> Double)] = [
            (0x58, "addsd", { $0 + $1 }), (0x5C, "subsd", { $0 - $1 }), (0x59, "mulsd", { $0 * $1 }),
            (0x5E, "divsd", { $0 / $1 }), (0x51, "sqrtsd", { $1.squareRoot() }),
            // MINSD/MAXSD: the second operand if either is NaN or both are zeros (SDM Vol. 2B "MINSD").
            (0x5D, "minsd", { $0 < $1 ? $0 : $1 }), (0x5F, "maxsd", { $0 > $1 ? $0 : $1 }),
        ]
        for (op, name, f) in ops {
            for (a, b) in Self.doubles {
                let r = run2(enc([0xF2], [0x0F, op]), (a.bitPattern, 0xAAAA), (b.bitPattern, 0xBBBB))
                #expect(r.0 == f(a, b).bitPattern && r.1 == 0xAAAA, "\(name) \(a), \(b) → \(Double(bitPattern: r.0))")
            }
        }
    }

    @Test func scalarFloat() {
        let ops: [(UInt8, String, (Float, Float) -> Float)] = [
            (0x58, "addss", { $0 + $1 }), (0x5C, "subss", { $0 - $1 }), (0x59, "mulss", { $0 * $1 }),
            (0x5E, "divss", { $0 / $1 }), (0x51, "sqrtss", { $1.squareRoot() }),
            (0x5D, "minss", { $0 < $1 ? $0 : $1 }), (0x5F, "maxss", { $0 > $1 ? $0 : $1 }),
        ]
        for (op, name, f) in ops {
            for (a, b) in Self.floats {
                let r = run2(enc([0xF3], [0x0F, op]), (0x1234_5678_0000_0000 | UInt64(a.bitPattern), 9), (UInt64(b.bitPattern), 0))
                let want = 0x1234_5678_0000_0000 | UInt64(f(a, b).bitPattern)
                #expect(r.0 == want && r.1 == 9, "\(name) \(a), \(b)")
            }
        }
    }

    /// Packed forms: every lane (ADDPS 0F 58, MULPD 66 0F 59, DIVPS 0F 5E, SUBPD 66 0F 5C, SQRTPS 0F 51).
    @Test func packed() {
        let a: [Float] = [1.5, -2, 1e30, 0.1], b: [Float] = [2.25, 8, 1e10, 0.3]
        var r = run2(enc([], [0x0F, 0x58]), ps(a), ps(b))
        #expect(floatsOf(r) == zip(a, b).map { $0 + $1 })
        r = run2(enc([], [0x0F, 0x5E]), ps(a), ps(b))
        #expect(floatsOf(r) == zip(a, b).map { $0 / $1 })
        r = run2(enc([], [0x0F, 0x51]), ps(a), ps(b))
        #expect(floatsOf(r) == b.map { $0.squareRoot() })
        r = run2(enc([0x66], [0x0F, 0x59]), pd(0.1, -3), pd(0.7, 1e-300))
        #expect(eq(r, pd(0.1 * 0.7, -3 * 1e-300)))
        r = run2(enc([0x66], [0x0F, 0x5C]), pd(0.1, -3), pd(0.7, 1e-300))
        #expect(eq(r, pd(0.1 - 0.7, -3 - 1e-300)))
        // HADDPS (F2 0F 7C): (a0+a1, a2+a3, b0+b1, b2+b3); ADDSUBPD (66 0F D0): (a0-b0, a1+b1).
        r = run2(enc([0xF2], [0x0F, 0x7C]), ps(a), ps(b))
        #expect(floatsOf(r) == [a[0] + a[1], a[2] + a[3], b[0] + b[1], b[2] + b[3]])
        r = run2(enc([0x66], [0x0F, 0xD0]), pd(0.1, -3), pd(0.7, 0.2))
        #expect(eq(r, pd(0.1 - 0.7, -3 + 0.2)))
        // Memory source, aligned: addpd xmm1, [rax] (66 0F 58 08).
        let m = sseMachine()
        m[.rax] = Layout.data
        m.w64(Layout.data, (2.5).bitPattern); m.w64(Layout.data + 8, (-1.0).bitPattern)
        m.setX(1, pd(1, 2))
        m.runToHalt([0x66, 0x0F, 0x58, 0x08])
        #expect(eq(m.x(1), pd(3.5, 1)))
    }

    /// Rounding control MXCSR.RC (bits 14:13: 00 nearest, 01 down, 10 up, 11 toward zero;
    /// SDM Vol. 1 §4.8.4, §10.2.3.3): 1/3 and -1/3 in each mode. Expected: the nearest quotient q
    /// and its neighbour, chosen by the sign of the exact residual 1 − 3q (an FMA, exact).
    @Test(arguments: [0, 1, 2, 3]) func roundingModes(_ rc: UInt32) {
        for num in [1.0, -1.0, 2.0] {
            let q = num / 3.0
            let residual = num.addingProduct(-3.0, q)     // num − 3q exactly: > 0 means q < num/3
            let below = residual > 0 ? q : q.nextDown, above = residual > 0 ? q.nextUp : q
            let want: Double
            switch rc {
            case 0: want = q
            case 1: want = below
            case 2: want = above
            default: want = num > 0 ? below : above
            }
            let r = run2(enc([0xF2], [0x0F, 0x5E]), (num.bitPattern, 0), ((3.0).bitPattern, 0), mxcsr: 0x1F80 | rc << 13)
            #expect(r.0 == want.bitPattern, "RC=\(rc) \(num)/3")
        }
    }

    /// Masked exceptions set their flags: 1/0 → +∞ with ZE; 1/3 → PE; 0/0 → default NaN with IE.
    @Test func maskedFlags() {
        let m = sseMachine()
        m.setX(1, ((1.0).bitPattern, 0)); m.setX(2, (0, 0))
        m.setX(3, ((1.0).bitPattern, 0)); m.setX(4, ((3.0).bitPattern, 0))
        m.setX(5, (0, 0))
        // divsd xmm1,xmm2 ; divsd xmm3,xmm4 ; divsd xmm5,xmm5
        m.runToHalt([0xF2, 0x0F, 0x5E, 0xCA, 0xF2, 0x0F, 0x5E, 0xDC, 0xF2, 0x0F, 0x5E, 0xED])
        #expect(m.x(1).0 == Double.infinity.bitPattern)
        #expect(m.x(5).0 == 0xFFF8_0000_0000_0000)      // QNaN floating-point indefinite
        #expect(m.cpu.mxcsr == 0x1F80 | 0x04 | 0x20 | 0x01)
    }

    /// An unmasked exception: no destination write, the flag set, #XM with CR4.OSXMMEXCPT = 1
    /// and #UD with it clear (SDM Vol. 3A §6.15 "Interrupt 19", Vol. 1 §11.5.2).
    @Test(arguments: [true, false]) func unmaskedDivideByZero(_ osxmmexcpt: Bool) {
        let m = sseMachine()
        if !osxmmexcpt { m.cpu.cr4 &= ~CR4.osxmmexcpt }
        m.cpu.mxcsr = 0x1F80 & ~0x200           // ZM clear
        m.setX(1, ((1.0).bitPattern, 7)); m.setX(2, (0, 0))
        m.load([0xF2, 0x0F, 0x5E, 0xCA, 0xF4])   // divsd xmm1, xmm2
        m.rip = Layout.code
        let s = m.cpu.run(budget: 10)
        m.expectException(s, vector: osxmmexcpt ? 19 : 6, rip: Layout.code)
        #expect(eq(m.x(1), ((1.0).bitPattern, 7)))
        #expect(m.cpu.mxcsr & 0x3F == 0x04)
    }

    /// Unmasked precision exception on 1/3 (post-computation): #XM, destination kept, PE set.
    @Test func unmaskedPrecision() {
        let m = sseMachine()
        m.cpu.mxcsr = 0x1F80 & ~0x1000          // PM clear
        m.setX(1, ((1.0).bitPattern, 0)); m.setX(2, ((3.0).bitPattern, 0))
        m.load([0xF2, 0x0F, 0x5E, 0xCA, 0xF4])
        m.rip = Layout.code
        m.expectException(m.cpu.run(budget: 10), vector: 19, rip: Layout.code)
        #expect(m.x(1).0 == (1.0).bitPattern)
        #expect(m.cpu.mxcsr & 0x20 != 0)
        // Exact 1/2 does not fault with PM clear.
        let m2 = sseMachine()
        m2.cpu.mxcsr = 0x1F80 & ~0x1000
        m2.setX(1, ((1.0).bitPattern, 0)); m2.setX(2, ((2.0).bitPattern, 0))
        m2.runToHalt([0xF2, 0x0F, 0x5E, 0xCA])
        #expect(m2.x(1).0 == (0.5).bitPattern && m2.cpu.mxcsr == 0x1F80 & ~0x1000)
    }

    /// Underflow (SDM Vol. 1 §4.9.1.5): masked, UE is set only for a tiny and inexact result;
    /// unmasked (UM = 0), a tiny result signals #U even when exact — #XM, destination kept.
    @Test func underflowExactTiny() {
        let tiny = Double.leastNormalMagnitude            // 2^-1022; × 0.5 is an exact denormal
        let m = sseMachine()
        m.setX(1, (tiny.bitPattern, 0)); m.setX(2, ((0.5).bitPattern, 0))
        m.runToHalt([0xF2, 0x0F, 0x59, 0xCA])             // mulsd xmm1, xmm2
        #expect(m.x(1).0 == (tiny * 0.5).bitPattern && m.cpu.mxcsr == 0x1F80)
        let u = sseMachine()
        u.cpu.mxcsr = 0x1F80 & ~0x800                     // UM clear
        u.setX(1, (tiny.bitPattern, 0)); u.setX(2, ((0.5).bitPattern, 0))
        u.load([0xF2, 0x0F, 0x59, 0xCA, 0xF4]); u.rip = Layout.code
        u.expectException(u.cpu.run(budget: 10), vector: 19, rip: Layout.code)
        #expect(u.x(1).0 == tiny.bitPattern)
        #expect(u.cpu.mxcsr & 0x10 != 0)
        // A normal result with UM clear does not fault.
        let n = sseMachine()
        n.cpu.mxcsr = 0x1F80 & ~0x800
        n.setX(1, (tiny.bitPattern, 0)); n.setX(2, ((2.0).bitPattern, 0))
        n.runToHalt([0xF2, 0x0F, 0x59, 0xCA])
        #expect(n.x(1).0 == (tiny * 2).bitPattern)
    }

    /// FTZ (bit 15): a tiny result becomes zero with UE and PE; DAZ (bit 6): a denormal input is
    /// read as zero (SDM Vol. 1 §10.2.3.3, §10.2.3.4).
    @Test func ftzAndDaz() {
        let tiny = Double.leastNormalMagnitude
        var r = run2(enc([0xF2], [0x0F, 0x59]), (tiny.bitPattern, 0), ((0.5).bitPattern, 0))
        #expect(r.0 == (tiny * 0.5).bitPattern && r.0 != 0)        // denormal without FTZ
        let m = sseMachine()
        m.cpu.mxcsr = 0x1F80 | 0x8000
        m.setX(1, (tiny.bitPattern, 0)); m.setX(2, ((0.5).bitPattern, 0))
        m.runToHalt([0xF2, 0x0F, 0x59, 0xCA])
        #expect(m.x(1).0 == 0)
        #expect(m.cpu.mxcsr & 0x30 == 0x30)
        let denorm = Double.leastNonzeroMagnitude
        r = run2(enc([0xF2], [0x0F, 0x58]), (denorm.bitPattern, 0), ((0.0).bitPattern, 0))
        #expect(r.0 == denorm.bitPattern)
        r = run2(enc([0xF2], [0x0F, 0x58]), (denorm.bitPattern, 0), ((0.0).bitPattern, 0), mxcsr: 0x1F80 | 0x40)
        #expect(r.0 == 0)
    }

    /// CVTSI2SD xmm, r64 (F2 REX.W 0F 2A), CVTSI2SS xmm, r32 (F3 0F 2A), CVTSD2SI r64 (RC),
    /// CVTTSD2SI r32 (truncation), indefinite 80000000H with IE for NaN, CVTSS2SD, CVTSD2SS,
    /// CVTDQ2PS, CVTTPS2DQ, CVTPD2PS, CVTPS2PD, CVTDQ2PD.
    @Test func conversions() {
        let m = sseMachine()
        m[.rax] = UInt64(bitPattern: -123456789012345)
        m[.rbx] = 16_777_217                         // 2^24 + 1: not exact in single precision
        m.setX(3, ((2.5).bitPattern, 0)); m.setX(4, ((-2.7).bitPattern, 0))
        m.setX(5, (Double.nan.bitPattern, 0))
        m.runToHalt([0xF2, 0x48, 0x0F, 0x2A, 0xC8,   // cvtsi2sd xmm1, rax
                     0xF3, 0x0F, 0x2A, 0xD3,         // cvtsi2ss xmm2, ebx
                     0xF2, 0x48, 0x0F, 0x2D, 0xCB,   // cvtsd2si rcx, xmm3
                     0xF2, 0x0F, 0x2C, 0xD4,         // cvttsd2si edx, xmm4
                     0xF2, 0x0F, 0x2D, 0xF5])        // cvtsd2si esi, xmm5
        #expect(m.x(1).0 == Double(-123456789012345).bitPattern)
        #expect(m.x(2).0 & 0xFFFF_FFFF == UInt64(Float(16_777_217).bitPattern))
        #expect(m[.rcx] == 2)                          // 2.5 → 2 (nearest even)
        #expect(m[.rdx] == UInt64(UInt32(bitPattern: -2)))
        #expect(m[.rsi] == 0x8000_0000)
        #expect(m.cpu.mxcsr & 0x3F == 0x21)            // PE (2^24+1, 2.5, -2.7), IE (NaN)
        // RC = down: cvtsd2si of 2.5 → 2, of -2.7 → -3.
        let m2 = sseMachine()
        m2.cpu.mxcsr = 0x1F80 | 1 << 13
        m2.setX(3, ((-2.7).bitPattern, 0))
        m2.runToHalt([0xF2, 0x48, 0x0F, 0x2D, 0xCB])
        #expect(m2[.rcx] == UInt64(bitPattern: -3))
        // Packed and precision conversions.
        let d = run2(enc([0xF3], [0x0F, 0x5A]), (0, 0), (UInt64(Float(0.1).bitPattern), 0))      // cvtss2sd
        #expect(d.0 == Double(Float(0.1)).bitPattern)
        let s = run2(enc([0xF2], [0x0F, 0x5A]), (0xDEAD_0000_0000_0000, 5), ((0.1).bitPattern, 0)) // cvtsd2ss
        #expect(s.0 == 0xDEAD_0000_0000_0000 | UInt64(Float(0.1).bitPattern) && s.1 == 5)
        let i4 = fromDwords([1, UInt32(bitPattern: -7), 16_777_217, 0x7FFF_FFFF])
        #expect(floatsOf(run2(enc([], [0x0F, 0x5B]), (0, 0), i4)) == [1, -7, Float(16_777_217), Float(Int32.max)])
        let f4 = ps([1.9, -1.9, 3e9, .nan])
        #expect(dwordsOf(run2(enc([0xF3], [0x0F, 0x5B]), (0, 0), f4)) == [1, UInt32(bitPattern: -1), 0x8000_0000, 0x8000_0000])
        #expect(floatsOf(run2(enc([0x66], [0x0F, 0x5A]), (0, 0), pd(0.1, -2))) == [Float(0.1), -2, 0, 0])
        #expect(eq(run2(enc([], [0x0F, 0x5A]), (0, 0), ps([0.1, -2, 9, 9])), pd(Double(Float(0.1)), -2)))
        #expect(eq(run2(enc([0xF3], [0x0F, 0xE6]), (0, 0), fromDwords([UInt32(bitPattern: -5), 7, 9, 9])), pd(-5, 7)))
    }

    /// COMISD/UCOMISD (66 0F 2F/2E), COMISS (0F 2F): ZF PF CF = 000 greater, 001 less, 100 equal,
    /// 111 unordered; OF SF AF cleared. COMISD signals IE for a QNaN, UCOMISD only for an SNaN
    /// (SDM Vol. 2A "COMISD", "UCOMISD").
    @Test func compareFlags() {
        let cases: [(Double, Double, UInt64)] = [
            (2, 1, 0), (1, 2, RFLAGS.cf), (1, 1, RFLAGS.zf), (.nan, 1, RFLAGS.zf | RFLAGS.pf | RFLAGS.cf),
            (-0.0, 0.0, RFLAGS.zf),
        ]
        for (a, b, f) in cases {
            for op: UInt8 in [0x2E, 0x2F] {
                let m = sseMachine()
                m.setArith(RFLAGS.of | RFLAGS.sf | RFLAGS.af)
                m.setX(1, (a.bitPattern, 0)); m.setX(2, (b.bitPattern, 0))
                m.runToHalt([0x66, 0x0F, op, 0xCA])
                #expect(m.arith == f, "\(op == 0x2F ? "comisd" : "ucomisd") \(a), \(b): \(m.flagString)")
                #expect(m.cpu.mxcsr & 1 == (a.isNaN && op == 0x2F ? 1 : 0))
            }
        }
        let m = sseMachine()
        m.setX(1, (UInt64(Float(1).bitPattern), 0)); m.setX(2, (UInt64(Float(3).bitPattern), 0))
        m.runToHalt([0x0F, 0x2F, 0xCA])
        #expect(m.arith == RFLAGS.cf)
        // An SNaN makes UCOMISD signal IE too.
        let m2 = sseMachine()
        m2.setX(1, (0x7FF0_0000_0000_0001, 0)); m2.setX(2, ((1.0).bitPattern, 0))
        m2.runToHalt([0x66, 0x0F, 0x2E, 0xCA])
        #expect(m2.cpu.mxcsr & 1 == 1)
    }

    /// CMPPS/CMPSD predicates 0–7 (SDM Vol. 2A "CMPPS", Table 3-1): all-ones masks per lane.
    @Test func comparePredicates() {
        let a: [Float] = [1, 2, .nan, 4], b: [Float] = [1, 1, 3, 5]
        let preds: [(Float, Float) -> Bool] = [
            { $0 == $1 }, { $0 < $1 }, { $0 <= $1 }, { $0.isNaN || $1.isNaN },
            { !($0 == $1) }, { !($0 < $1) }, { !($0 <= $1) }, { !($0.isNaN || $1.isNaN) },
        ]
        for (p, f) in preds.enumerated() {
            let r = run2(enc([], [0x0F, 0xC2], imm: UInt8(p)), ps(a), ps(b))
            #expect(dwordsOf(r) == zip(a, b).map { f($0, $1) ? 0xFFFF_FFFF : 0 }, "cmpps \(p)")
        }
        let r = run2(enc([0xF2], [0x0F, 0xC2], imm: 1), ((1.0).bitPattern, 77), ((2.0).bitPattern, 0))   // cmpltsd
        #expect(eq(r, (~0, 77)))
    }

    /// ROUNDSD/ROUNDPS (66 0F 3A 0B/08): imm8[1:0] mode, imm8[2] = use MXCSR.RC (SDM Vol. 2B "ROUNDSD").
    @Test func round() {
        let rules: [FloatingPointRoundingRule] = [.toNearestOrEven, .down, .up, .towardZero]
        for v in [2.5, -2.5, 1.7, -1.2, 0.4] {
            for (k, rule) in rules.enumerated() {
                let r = run2(enc([0x66], [0x0F, 0x3A, 0x0B], imm: UInt8(k)), (0, 3), (v.bitPattern, 0))
                #expect(eq(r, (v.rounded(rule).bitPattern, 3)), "roundsd \(v) imm \(k)")
            }
            // imm8 = 4: MXCSR.RC (here: up).
            let r = run2(enc([0x66], [0x0F, 0x3A, 0x0B], imm: 4), (0, 0), (v.bitPattern, 0), mxcsr: 0x1F80 | 2 << 13)
            #expect(r.0 == v.rounded(.up).bitPattern)
        }
        let f: [Float] = [2.5, -0.5, 7.49, -3.51]
        #expect(floatsOf(run2(enc([0x66], [0x0F, 0x3A, 0x08], imm: 3), (0, 0), ps(f))) == f.map { $0.rounded(.towardZero) })
    }

    /// DPPS (66 0F 3A 40), SDM Vol. 2A "DPPS": imm8[7:4] selects the products, summed as
    /// (p0+p1)+(p2+p3); imm8[3:0] the lanes that receive the sum (others zero). F1: all four
    /// products into lane 0; 3C: p0+p1 into lanes 2, 3. DPPD imm8 33: a0·b0 + a1·b1 in both lanes.
    @Test func dotProduct() {
        let a: [Float] = [1.5, 2, 3, 4], b: [Float] = [2, 0.25, -1, 10]
        let p = zip(a, b).map { $0 * $1 }
        #expect(floatsOf(run2(enc([0x66], [0x0F, 0x3A, 0x40], imm: 0xF1), ps(a), ps(b))) == [(p[0] + p[1]) + (p[2] + p[3]), 0, 0, 0])
        #expect(floatsOf(run2(enc([0x66], [0x0F, 0x3A, 0x40], imm: 0x3C), ps(a), ps(b))) == [0, 0, p[0] + p[1], p[0] + p[1]])
        #expect(eq(run2(enc([0x66], [0x0F, 0x3A, 0x41], imm: 0x33), pd(1.5, 2), pd(4, -1)), pd(4, 4)))
    }

    /// Logic on floats: ANDPS ANDNPS ORPS XORPD (0F 54/55/56, 66 0F 57).
    @Test func logic() {
        #expect(eq(run2(enc([], [0x0F, 0x54]), sampleA, sampleB), (sampleA.0 & sampleB.0, sampleA.1 & sampleB.1)))
        #expect(eq(run2(enc([], [0x0F, 0x55]), sampleA, sampleB), (~sampleA.0 & sampleB.0, ~sampleA.1 & sampleB.1)))
        #expect(eq(run2(enc([], [0x0F, 0x56]), sampleA, sampleB), (sampleA.0 | sampleB.0, sampleA.1 | sampleB.1)))
        #expect(eq(run2(enc([0x66], [0x0F, 0x57]), sampleA, sampleB), (sampleA.0 ^ sampleB.0, sampleA.1 ^ sampleB.1)))
    }
}
