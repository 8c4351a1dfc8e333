// x87 and SSE rounding against a model of the SDM's rounding rules written with integers only.
//
// Why: the core computes the guest's floating-point results on the host's own x87/SSE units
// (Sources/CFPU), and KVM runs the same sequences on the same chip, so KVMDiffTests (and the
// numeric image, compiled natively on the same host) agree on arithmetic by construction: they
// check the plumbing — operands, stack, tags, flags, exceptions — not the rounding. This file is
// the independent check: the exact result of FADD/FSUB/FMUL/FDIV on random operands, of the
// x87 stores FST/FIST and of the SSE conversions, computed as a 128-bit integer times a power of
// two, rounded here by the rules of SDM Vol. 1 §4.8.4 "Rounding" (Table 4-8 "Rounding Modes and
// Encoding of Rounding Control (RC) Field") at the precision of §8.1.5.2 "Precision Control
// Field" (24, 53 or 64 bits), §8.1.5.3 "Rounding Control Field", §10.2.3.2 "SIMD Floating-Point
// Rounding Control Field" (MXCSR.RC); C1 "set if result rounded up" (§8.1.3.1 "Condition Code Flags"), PE
// (§4.9.1.6 "Inexact-Result (Precision) Exception (#P)"), and the integer indefinite with IE for
// an integer store out of range (Vol. 2A "FIST/FISTP—Store Integer", "CVTSD2SI", "CVTTSD2SI").
//
// Operands are normal and results stay in range (no overflow, underflow or denormals): those
// are unit-tested case by case in X87Tests and SSETests.

import Testing
@testable import X86

/// (-1)^neg · mag · 2^exp, exactly; `sticky`: nonzero bits below `mag` (a remainder).
struct Exact {
    var neg: Bool
    var mag: UInt128
    var exp: Int
    var sticky = false
}

/// The rounding of §4.8.4: `mag` kept to its top `bits` bits (or, with `integer`, to the units
/// bit) under rounding control `rc` (0 nearest even, 1 down, 2 up, 3 toward zero).
struct Rounded {
    var neg: Bool
    var kept: UInt128       // the rounded magnitude, scaled by 2^exp
    var exp: Int
    var inexact: Bool
    var roundedUp: Bool     // the magnitude went up (C1)
}

func roundExact(_ x: Exact, shift: Int, rc: Int) -> Rounded {
    guard shift > 0 else {
        return Rounded(neg: x.neg, kept: x.mag << UInt128(-shift), exp: x.exp + shift, inexact: x.sticky, roundedUp: false)
    }
    let kept = shift >= 128 ? 0 : x.mag >> UInt128(shift)
    let rest = shift >= 128 ? x.mag : x.mag & ((1 << UInt128(shift)) - 1)
    let half: UInt128 = shift > 128 ? 0 : 1 << UInt128(shift - 1)
    let inexact = rest != 0 || x.sticky
    var up = false
    switch rc {
    case 0: up = shift <= 128 && (rest > half || (rest == half && (x.sticky || kept & 1 == 1)))
    case 1: up = x.neg && inexact
    case 2: up = !x.neg && inexact
    default: up = false
    }
    return Rounded(neg: x.neg, kept: kept + (up ? 1 : 0), exp: x.exp + shift, inexact: inexact, roundedUp: up)
}

/// Round to `bits` significant bits; the result's (mantissa, biased exponent) in a format with
/// `bits` of significand.
func roundToPrecision(_ x: Exact, bits: Int, rc: Int) -> Rounded {
    let msb = 127 - x.mag.leadingZeroBitCount
    var r = roundExact(x, shift: msb + 1 - bits, rc: rc)
    if r.kept >> UInt128(bits) != 0 { r.kept >>= 1; r.exp += 1 }       // rounded up to the next power of two
    return r
}

/// The 80-bit register image of a rounded value with `bits` ≤ 64 significant bits.
func float80Bits(_ r: Rounded, bits: Int) -> (UInt64, UInt16) {
    let mant = UInt64(r.kept) << UInt64(64 - bits)
    let e = r.exp + bits - 1 + 16383            // value = 1.f · 2^(exp + bits - 1)
    return (mant, UInt16(e) | (r.neg ? 0x8000 : 0))
}

/// An 80-bit value as exact: mantissa · 2^(E − 63).
func exact80(_ m: UInt64, _ se: UInt16) -> Exact {
    Exact(neg: se & 0x8000 != 0, mag: UInt128(m), exp: Int(se & 0x7FFF) - 16383 - 63)
}

/// SplitMix64 for the operands (a fixed seed: the model is the oracle, not the randomness).
struct ModelRNG {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// A normal 80-bit value: random significand (integer bit set), exponent 2^e, random sign.
    /// Low bits are sometimes zero so that exact results and ties occur too.
    mutating func f80(exponent e: Int) -> (UInt64, UInt16) {
        var m = next() | 1 << 63
        switch below(4) {
        case 0: m &= ~((1 << UInt64(below(64))) - 1) | 1 << 63
        default: break
        }
        return (m, UInt16(e + 16383) | (below(2) == 0 ? 0x8000 : 0))
    }
}

@Suite("Rounding against an integer model of the SDM's rules")
struct RoundingModelTests {
    static let pcBits = [0: 24, 2: 53, 3: 64]

    /// FADDP/FSUBP/FMULP/FDIVP ST(1), ST(0) on random normal operands in every precision
    /// control and rounding control: the result bits, PE and C1.
    @Test(arguments: [0, 1, 2, 3])
    func x87ArithmeticRoundsAsTheModel(op: Int) {
        var rng = ModelRNG(s: 0x5EED_0087 &+ UInt64(op))
        var bad: [String] = []
        var inexactSeen = 0, upSeen = 0
        let m = TestMachine.x87()
        for _ in 0..<800 {
            let pc = [0, 2, 3][rng.below(3)], rc = rng.below(4)
            let ea = rng.below(80) - 40
            let eb = op < 2 ? ea - rng.below(61) + (rng.below(2) == 0 ? 0 : rng.below(61)) : rng.below(80) - 40
            let a = rng.f80(exponent: ea), b = rng.f80(exponent: min(max(eb, -100), 100))
            let xa = exact80(a.0, a.1), xb = exact80(b.0, b.1)
            // The exact result.
            var x: Exact
            switch op {
            case 0, 1:   // a + b, a − b
                let nb = op == 1 ? !xb.neg : xb.neg
                let lo = min(xa.exp, xb.exp)
                let ma = xa.mag << UInt128(xa.exp - lo), mb = xb.mag << UInt128(xb.exp - lo)
                if xa.neg == nb { x = Exact(neg: xa.neg, mag: ma + mb, exp: lo) }
                else if ma >= mb { x = Exact(neg: xa.neg, mag: ma - mb, exp: lo) }
                else { x = Exact(neg: nb, mag: mb - ma, exp: lo) }
                if x.mag == 0 { continue }          // exact cancellation: the sign-of-zero rule, unit-tested elsewhere
            case 2:
                x = Exact(neg: xa.neg != xb.neg, mag: UInt128(a.0) * UInt128(b.0), exp: xa.exp + xb.exp)
            default:
                // a/b = floor(ma·2^127 / mb) · 2^(ea − eb − 127), remainder as sticky (long division).
                let (q1, r1) = b.0.dividingFullWidth((high: a.0 >> 1, low: a.0 << 63))
                let (q2, r2) = b.0.dividingFullWidth((high: r1, low: 0))
                x = Exact(neg: xa.neg != xb.neg, mag: UInt128(q1) << 64 | UInt128(q2), exp: xa.exp - xb.exp - 127, sticky: r2 != 0)
            }
            let r = roundToPrecision(x, bits: Self.pcBits[pc]!, rc: rc)
            let want = float80Bits(r, bits: Self.pcBits[pc]!)
            m.w64(Layout.data, a.0); m.w16(Layout.data + 8, a.1)
            m.w64(Layout.data + 16, b.0); m.w16(Layout.data + 24, b.1)
            m.w16(Layout.data + 0x40, controlWord(pc: UInt16(pc), rc: UInt16(rc)))
            let opcode: UInt8 = [0xC1, 0xE9, 0xC9, 0xF9][op]        // FADDP, FSUBP, FMULP, FDIVP ST(1), ST(0)
            m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + fldM80(16) + [0xDE, opcode])
            let got = m.stBits(0)
            let fsw = m.fsw
            if got != want || (fsw & 0x3F) != (r.inexact ? 0x20 : 0) || (r.inexact && (fsw & 0x200 != 0) != r.roundedUp) {
                bad.append("op \(op) pc \(pc) rc \(rc): a \(hex(a.1)):\(hex(a.0)) b \(hex(b.1)):\(hex(b.0)) → "
                           + "core \(hex(got.1)):\(hex(got.0)) fsw 0x\(hex(fsw)), model \(hex(want.1)):\(hex(want.0)) PE \(r.inexact) C1 \(r.roundedUp)")
            }
            if r.inexact { inexactSeen += 1 }
            if r.roundedUp { upSeen += 1 }
        }
        #expect(bad.isEmpty, "\(bad.count) results differ from the model:\n\(bad.prefix(10).joined(separator: "\n"))")
        #expect(inexactSeen > 300 && upSeen > 60, "the operands exercise rounding: \(inexactSeen) inexact, \(upSeen) rounded up")
    }

    /// FST m32fp / FST m64fp (D9 /2, DD /2): the 64-bit register value rounded to 24 / 53 bits
    /// under RC (SDM Vol. 2A "FST/FSTP—Store Floating Point Value"); PE and C1.
    @Test func x87StoresToSingleAndDoubleRoundAsTheModel() {
        var rng = ModelRNG(s: 0x5EED_F570)
        var bad: [String] = []
        let m = TestMachine.x87()
        for _ in 0..<1000 {
            let rc = rng.below(4), double = rng.below(2) == 0
            let v = rng.f80(exponent: rng.below(200) - 100)
            let bits = double ? 53 : 24
            let r = roundToPrecision(exact80(v.0, v.1), bits: bits, rc: rc)
            // The stored format: sign, biased exponent, fraction without the integer bit.
            let e = UInt64(r.exp + bits - 1 + (double ? 1023 : 127))
            let frac = UInt64(r.kept) & ((1 << UInt64(bits - 1)) - 1)
            let want: UInt64 = double ? (r.neg ? 1 << 63 : 0) | e << 52 | frac : (r.neg ? 1 << 31 : 0) | e << 23 | frac
            m.w64(Layout.data, v.0); m.w16(Layout.data + 8, v.1)
            m.w16(Layout.data + 0x40, controlWord(rc: UInt16(rc)))
            m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + xm(double ? 5 : 1, 2, 0x20))
            let got = double ? m.r64(Layout.data + 0x20) : UInt64(m.r32(Layout.data + 0x20))
            if got != want || (m.fsw & 0x3F) != (r.inexact ? 0x20 : 0) || (r.inexact && (m.fsw & 0x200 != 0) != r.roundedUp) {
                bad.append("FST m\(double ? 64 : 32) rc \(rc): \(hex(v.1)):\(hex(v.0)) → core 0x\(hex(got)) fsw 0x\(hex(m.fsw)), model 0x\(hex(want)) PE \(r.inexact) C1 \(r.roundedUp)")
            }
        }
        #expect(bad.isEmpty, "\(bad.count) stores differ from the model:\n\(bad.prefix(10).joined(separator: "\n"))")
    }

    /// FISTP m16int/m32int/m64int (DF /3, DB /3, DF /7): rounded to an integer under RC; out of
    /// range: IE and the integer indefinite (SDM Vol. 2A "FIST/FISTP—Store Integer"); PE and C1.
    @Test func x87IntegerStoresRoundAsTheModel() {
        var rng = ModelRNG(s: 0x5EED_F157)
        var bad: [String] = []
        var outOfRange = 0
        let m = TestMachine.x87()
        for _ in 0..<1500 {
            let rc = rng.below(4), size = [2, 4, 8][rng.below(3)]
            let v = rng.f80(exponent: rng.below(8 * size + 4) - 3)
            let r = roundExact(exact80(v.0, v.1), shift: -(Int(v.1 & 0x7FFF) - 16383 - 63), rc: rc)
            // In range: −2^(n−1) ≤ value ≤ 2^(n−1) − 1.
            let limit = UInt128(1) << UInt128(8 * size - 1)
            let fits = r.neg ? r.kept <= limit : r.kept < limit
            let mask: UInt64 = size == 8 ? .max : (1 << UInt64(8 * size)) - 1
            let want: UInt64 = !fits ? UInt64(1) << UInt64(8 * size - 1)
                : (r.neg ? (0 &- UInt64(truncatingIfNeeded: r.kept)) : UInt64(truncatingIfNeeded: r.kept)) & mask
            let wantFlags: UInt16 = !fits ? 0x01 : (r.inexact ? 0x20 : 0)
            if !fits { outOfRange += 1 }
            m.w64(Layout.data, v.0); m.w16(Layout.data + 8, v.1)
            m.w16(Layout.data + 0x40, controlWord(rc: UInt16(rc)))
            let store: [UInt8] = size == 2 ? xm(7, 3, 0x20) : size == 4 ? xm(3, 3, 0x20) : xm(7, 7, 0x20)
            m.w64(Layout.data + 0x20, 0)
            m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + store)
            let got = m.r64(Layout.data + 0x20) & mask
            if got != want || (m.fsw & 0x3F) != wantFlags || (fits && r.inexact && (m.fsw & 0x200 != 0) != r.roundedUp) {
                bad.append("FISTP m\(8 * size) rc \(rc): \(hex(v.1)):\(hex(v.0)) → core 0x\(hex(got)) fsw 0x\(hex(m.fsw)), model 0x\(hex(want)) flags 0x\(hex(wantFlags)) C1 \(r.roundedUp)")
            }
        }
        #expect(bad.isEmpty, "\(bad.count) integer stores differ from the model:\n\(bad.prefix(10).joined(separator: "\n"))")
        #expect(outOfRange > 25, "the operands reach the integer indefinite: \(outOfRange)")
    }

    /// CVTSD2SI r64 (F2 REX.W 0F 2D) under MXCSR.RC, CVTTSD2SI r64 (F2 REX.W 0F 2C: truncation),
    /// CVTSI2SD xmm, r64 (F2 REX.W 0F 2A) and CVTSI2SS xmm, r64 (F3 REX.W 0F 2A) under MXCSR.RC,
    /// CVTSD2SS (F2 0F 5A): SDM Vol. 2A "CVTSD2SI", "CVTTSD2SI", "CVTSI2SD", "CVTSI2SS",
    /// "CVTSD2SS"; MXCSR.PE, and IE with the integer indefinite 8000000000000000H out of range.
    @Test func sseConversionsRoundAsTheModel() {
        var rng = ModelRNG(s: 0x5EED_C5D2)
        var bad: [String] = []
        let m = sseMachine()
        for _ in 0..<1000 {
            let rc = rng.below(4)
            let mxcsr = UInt32(0x1F80 | rc << 13)
            // A double with an exponent around the int64 range, as exact.
            let e = rng.below(70) - 4
            let m53 = (rng.next() >> 11) | 1 << 52
            let neg = rng.below(2) == 0
            let d = Double(sign: neg ? .minus : .plus, exponent: e, significand: Double(m53) / Double(1 << 52))
            let xd = Exact(neg: neg, mag: UInt128(m53), exp: e - 52)
            // An int64 to convert the other way.
            let i = Int64(bitPattern: rng.next() >> UInt64(rng.below(63)))
            let xi = Exact(neg: i < 0, mag: UInt128(i.magnitude), exp: 0)

            m.cpu.mxcsr = mxcsr
            m.setX(1, (d.bitPattern, 0))
            m[.rbx] = UInt64(bitPattern: i)
            m.runToHalt([0xF2, 0x48, 0x0F, 0x2D, 0xC1])                 // cvtsd2si rax, xmm1
            let flagsA = m.cpu.mxcsr & 0x3F
            let gotA = m[.rax]
            m.cpu.mxcsr = mxcsr
            m.runToHalt([0xF2, 0x48, 0x0F, 0x2C, 0xC9])                 // cvttsd2si rcx, xmm1
            let gotT = m[.rcx], flagsT = m.cpu.mxcsr & 0x3F
            m.cpu.mxcsr = mxcsr
            m.runToHalt([0xF2, 0x48, 0x0F, 0x2A, 0xD3])                 // cvtsi2sd xmm2, rbx
            let gotD = m.x(2).0, flagsD = m.cpu.mxcsr & 0x3F
            m.cpu.mxcsr = mxcsr
            m.runToHalt([0xF3, 0x48, 0x0F, 0x2A, 0xDB])                 // cvtsi2ss xmm3, rbx
            let gotS = m.x(3).0 & 0xFFFF_FFFF, flagsS = m.cpu.mxcsr & 0x3F
            m.cpu.mxcsr = mxcsr
            m.runToHalt([0xF2, 0x0F, 0x5A, 0xE1])                       // cvtsd2ss xmm4, xmm1
            let gotF = m.x(4).0 & 0xFFFF_FFFF, flagsF = m.cpu.mxcsr & 0x3F

            func toInt(_ r: Rounded) -> (UInt64, UInt32) {
                let fits = r.neg ? r.kept <= UInt128(1) << 63 : r.kept < UInt128(1) << 63
                guard fits else { return (1 << 63, 0x01) }
                let v = UInt64(truncatingIfNeeded: r.kept)
                return (r.neg ? 0 &- v : v, r.inexact ? 0x20 : 0)
            }
            func toFloat(_ x: Exact, bits: Int, bias: Int) -> (UInt64, UInt32) {
                if x.mag == 0 { return (0, 0) }
                let r = roundToPrecision(x, bits: bits, rc: rc)
                let be = UInt64(r.exp + bits - 1 + bias)
                let frac = UInt64(r.kept) & ((1 << UInt64(bits - 1)) - 1)
                let sign: UInt64 = r.neg ? 1 << UInt64(bits == 53 ? 63 : 31) : 0
                return (sign | be << UInt64(bits - 1) | frac, r.inexact ? 0x20 : 0)
            }
            let wantA = toInt(roundExact(xd, shift: 52 - e, rc: rc))
            let wantT = toInt(roundExact(xd, shift: 52 - e, rc: 3))
            let wantD = toFloat(xi, bits: 53, bias: 1023)
            let wantS = toFloat(xi, bits: 24, bias: 127)
            let wantF = toFloat(xd, bits: 24, bias: 127)
            let what = "rc \(rc), double \(d) (0x\(hex(d.bitPattern))), int64 \(i)"
            if (gotA, flagsA) != wantA { bad.append("cvtsd2si \(what): core 0x\(hex(gotA)) flags 0x\(hex(flagsA)), model 0x\(hex(wantA.0)) 0x\(hex(wantA.1))") }
            if (gotT, flagsT) != wantT { bad.append("cvttsd2si \(what): core 0x\(hex(gotT)) flags 0x\(hex(flagsT)), model 0x\(hex(wantT.0)) 0x\(hex(wantT.1))") }
            if (gotD, flagsD) != wantD { bad.append("cvtsi2sd \(what): core 0x\(hex(gotD)) flags 0x\(hex(flagsD)), model 0x\(hex(wantD.0)) 0x\(hex(wantD.1))") }
            if (gotS, flagsS) != wantS { bad.append("cvtsi2ss \(what): core 0x\(hex(gotS)) flags 0x\(hex(flagsS)), model 0x\(hex(wantS.0)) 0x\(hex(wantS.1))") }
            if (gotF, flagsF) != wantF { bad.append("cvtsd2ss \(what): core 0x\(hex(gotF)) flags 0x\(hex(flagsF)), model 0x\(hex(wantF.0)) 0x\(hex(wantF.1))") }
        }
        #expect(bad.isEmpty, "\(bad.count) conversions differ from the model:\n\(bad.prefix(12).joined(separator: "\n"))")
    }

    /// The model itself, on values whose rounding is known by hand (Table 4-8's examples).
    @Test func modelRoundsKnownValues() {
        // 2.5 = 5·2^-1: to an integer, nearest even 2, down 2, up 3, toward zero 2; −2.5: −2, −3, −2, −2.
        for (neg, want) in [(false, [2, 2, 3, 2]), (true, [2, 3, 2, 2])] {
            for rc in 0..<4 {
                #expect(roundExact(Exact(neg: neg, mag: 5, exp: -1), shift: 1, rc: rc).kept == UInt128(want[rc]))
            }
        }
        // 1 + 2^-30 to 24 bits: 1 (nearest, down, toward zero), 1 + 2^-23 (up).
        let x = Exact(neg: false, mag: (1 << 30) + 1, exp: -30)
        #expect(roundToPrecision(x, bits: 24, rc: 0).kept == 1 << 23)
        #expect(roundToPrecision(x, bits: 24, rc: 2).kept == (1 << 23) + 1)
        // All ones rounded up carries into the next power of two.
        let y = roundToPrecision(Exact(neg: false, mag: (1 << 30) - 1, exp: 0), bits: 24, rc: 0)
        #expect(y.kept == 1 << 23 && y.exp == 7)
    }
}
