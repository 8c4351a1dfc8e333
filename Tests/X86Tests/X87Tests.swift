// The x87 FPU and FXSAVE/FXRSTOR (SDM Vol. 1 ch. 8 "Programming with the x87 FPU", Vol. 2A
// "FXSAVE", "FXRSTOR", and each instruction's page).
//
// Expected numbers are computed in the test with Swift's Float80/Double/Float on this x86-64 host
// (and the exact-rounding direction from integer arithmetic on the significand); expected flags,
// tags and exception behaviour come from the SDM, cited next to each case.
//
// Encodings: memory operands are [rsi+disp8] (ModRM 01 reg 110 = 0x46 | reg<<3) or [rdi]
// (ModRM 00 reg 111 = 0x07 | reg<<3); register forms are escape, C0 | reg<<3 | i.

import Testing
@testable import X86

// MARK: - Helpers

/// The 10 bytes of a Float80 as (significand, sign|exponent).
func bits80(_ x: Float80) -> (UInt64, UInt16) {
    withUnsafeBytes(of: x) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt16.self)) }
}

func float80(_ m: UInt64, _ se: UInt16) -> Float80 {
    var x: Float80 = 0
    withUnsafeMutableBytes(of: &x) { $0.storeBytes(of: m, as: UInt64.self); $0.storeBytes(of: se, toByteOffset: 8, as: UInt16.self) }
    return x
}

/// [rsi+d] memory form of escape D8+esc, /reg.
func xm(_ esc: UInt8, _ reg: UInt8, _ d: UInt8) -> [UInt8] { [0xD8 + esc, 0x46 | reg << 3, d] }
/// [rdi] memory form.
func xmdi(_ esc: UInt8, _ reg: UInt8) -> [UInt8] { [0xD8 + esc, 0x07 | reg << 3] }
/// Register form escape D8+esc, C0 | reg<<3 | i.
func xr(_ esc: UInt8, _ reg: UInt8, _ i: UInt8) -> [UInt8] { [0xD8 + esc, 0xC0 | reg << 3 | i] }

func fldM80(_ d: UInt8) -> [UInt8] { xm(3, 5, d) }       // DB /5 FLD m80fp
func fstpM80(_ d: UInt8) -> [UInt8] { xm(3, 7, d) }      // DB /7 FSTP m80fp
func fldcw(_ d: UInt8) -> [UInt8] { xm(1, 5, d) }        // D9 /5 FLDCW m2byte
let fninit: [UInt8] = [0xDB, 0xE3]
let fnclex: [UInt8] = [0xDB, 0xE2]
let fwait: [UInt8] = [0x9B]
let fld1: [UInt8] = [0xD9, 0xE8]
let fldz: [UInt8] = [0xD9, 0xEE]

/// Control word with precision control `pc` (0 single, 2 double, 3 extended) and rounding `rc`
/// (0 nearest, 1 down, 2 up, 3 toward zero), all exceptions masked (SDM Vol. 1 §8.1.5, Figure 8-6).
func controlWord(pc: UInt16 = 3, rc: UInt16 = 0, masks: UInt16 = 0x3F) -> UInt16 { 0x40 | masks | pc << 8 | rc << 10 }

extension TestMachine {
    static func x87() -> TestMachine {
        let m = TestMachine.long64()
        m[.rsi] = Layout.data
        m[.rdi] = Layout.data + 0x400       // 16-byte aligned save area
        return m
    }
    func putF80(_ a: UInt64, _ x: Float80) { let (mm, se) = bits80(x); w64(a, mm); w16(a + 8, se) }
    func getF80(_ a: UInt64) -> Float80 { float80(r64(a), r16(a + 8)) }
    /// ST(i) as a Float80.
    func st(_ i: Int) -> Float80 {
        let r = cpu.x87.register(cpu.x87.physical(i))
        return float80(r.mantissa, r.signExponent)
    }
    func stBits(_ i: Int) -> (UInt64, UInt16) {
        let r = cpu.x87.register(cpu.x87.physical(i)); return (r.mantissa, r.signExponent)
    }
    var fsw: UInt16 { cpu.x87.fsw }
    var top: Int { Int(cpu.x87.fsw >> 11 & 7) }
}

/// Which way round-to-nearest went for a positive quotient: the nearest value `q` of type T is
/// above the exact value `exact` (a wider approximation, or exact ordering known otherwise).
/// Returns the value under rounding control `rc` for the positive quotient.
func directed<T: BinaryFloatingPoint>(_ q: T, nearestIsAbove: Bool, rc: Int) -> T {
    switch rc {
    case 0: return q
    case 1, 3: return nearestIsAbove ? q.nextDown : q     // down / toward zero (positive value)
    default: return nearestIsAbove ? q : q.nextUp         // up
    }
}

let qnanIndefinite: (UInt64, UInt16) = (0xC000_0000_0000_0000, 0xFFFF)

// MARK: - Tests

@Suite("x87 FPU")
struct X87Tests {
    // MARK: Arithmetic, rounding and precision

    struct DivCase: Sendable, CustomTestStringConvertible {
        var pc: UInt16, rc: UInt16, negative: Bool
        var testDescription: String { "1/3 pc=\(pc) rc=\(rc)\(negative ? " negative" : "")" }
    }
    static let divCases: [DivCase] = [0, 2, 3].flatMap { pc in (0...3).flatMap { rc in [false, true].map { DivCase(pc: UInt16(pc), rc: UInt16(rc), negative: $0) } } }

    /// ±1/3 by FDIVP under every rounding control and precision control (SDM Vol. 1 §4.8.4
    /// "Rounding", §8.1.5.2 "Precision Control Field", §8.1.5.3 "Rounding Control Field").
    /// PE is set (the quotient is inexact) and C1 tells whether the magnitude was rounded up
    /// (§8.1.3.1: "C1 … set if result rounded up").
    @Test(arguments: divCases)
    func divisionRounding(_ c: DivCase) {
        let m = TestMachine.x87()
        m.putF80(Layout.data, c.negative ? -1 : 1)
        m.putF80(Layout.data + 16, 3)
        m.w16(Layout.data + 0x40, controlWord(pc: c.pc, rc: c.rc))
        // FNINIT; FLDCW [rsi+40h]; FLD m80 [rsi]; FLD m80 [rsi+16]; FDIVP ST(1), ST(0) (DE F9)
        m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + fldM80(16) + [0xDE, 0xF9])
        // The magnitude 1/3 rounded per rc' where a negative value swaps down and up.
        var rcMag = Int(c.rc)
        if c.negative && (rcMag == 1 || rcMag == 2) { rcMag = 3 - rcMag }
        let expected: Float80
        let above: Bool
        switch c.pc {
        case 0:
            let q = Float(1) / 3
            above = Float80(q) > Float80(1) / 3
            expected = Float80(directed(q, nearestIsAbove: above, rc: rcMag))
        case 2:
            let q = Double(1) / 3
            above = Float80(q) > Float80(1) / 3
            expected = Float80(directed(q, nearestIsAbove: above, rc: rcMag))
        default:
            // 1/3 = M·2⁻⁶⁵ with M the 64-bit significand of the nearest value: above iff 3M > 2⁶⁵.
            let q = Float80(1) / 3
            let (hi, lo) = bits80(q).0.multipliedFullWidth(by: 3)
            above = hi > 2 || (hi == 2 && lo > 0)
            expected = directed(q, nearestIsAbove: above, rc: rcMag)
        }
        let want = c.negative ? -expected : expected
        #expect(bits80(m.st(0)) == bits80(want), "got \(m.st(0)), expected \(want)")
        #expect(m.top == 7)
        #expect(m.fsw & 0x3F == 0x20, "PE only: fsw 0x\(hex(m.fsw))")
        // 1/3 is never exact: the magnitude went up for RC up, or for nearest when nearest is above.
        let roundedUp = rcMag == 2 || (rcMag == 0 && above)
        #expect((m.fsw & 0x200 != 0) == roundedUp, "C1")
    }

    /// Precision control also applies to FADD: 1 + 2⁻³⁰ in single precision is 1 (nearest) or
    /// the next single above 1 (up); in extended precision it is exact.
    @Test func additionPrecisionControl() {
        for (pc, rc, want) in [(UInt16(0), UInt16(0), Float80(1)), (0, 2, Float80(Float(1).nextUp)),
                               (3, 0, 1 + Float80(1) / Float80(1 << 30))] {
            let m = TestMachine.x87()
            m.putF80(Layout.data, 1)
            m.putF80(Layout.data + 16, Float80(1) / Float80(1 << 30))
            m.w16(Layout.data + 0x40, controlWord(pc: pc, rc: rc))
            // FLD m80; FADD m64?  — use FLD m80 twice and FADDP (DE C1)
            m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + fldM80(16) + [0xDE, 0xC1])
            #expect(m.st(0) == want, "pc \(pc) rc \(rc): \(m.st(0))")
            #expect((m.fsw & 0x20 != 0) == (pc == 0), "PE")
        }
    }

    /// Every operand form of the six arithmetic operations (SDM Vol. 2A "FADD", "FSUB", "FSUBR",
    /// "FMUL", "FDIV", "FDIVR"): ST(0) = 10.5, ST(1) = 4 (pushed first), memory: m32 1.5 at +32,
    /// m64 −2.25 at +40, m16int 6 at +48, m32int −8 at +52.
    @Test func arithmeticForms() {
        let st0: Float80 = 10.5, st1: Float80 = 4
        let m32: Float80 = 1.5, m64: Float80 = -2.25, i16: Float80 = 6, i32: Float80 = -8
        // (code, expected ST(0) after, expected ST(1) after or nil if popped to one value)
        let cases: [([UInt8], Float80, Float80?, String)] = [
            (xm(0, 0, 32), st0 + m32, st1, "FADD m32fp"),
            (xm(4, 1, 40), st0 * m64, st1, "FMUL m64fp"),
            (xm(0, 4, 32), st0 - m32, st1, "FSUB m32fp"),
            (xm(4, 5, 40), m64 - st0, st1, "FSUBR m64fp"),
            (xm(0, 6, 32), st0 / m32, st1, "FDIV m32fp"),
            (xm(4, 7, 40), m64 / st0, st1, "FDIVR m64fp"),
            (xm(6, 0, 48), st0 + i16, st1, "FIADD m16int"),
            (xm(2, 1, 52), st0 * i32, st1, "FIMUL m32int"),
            (xm(6, 4, 48), st0 - i16, st1, "FISUB m16int"),
            (xm(2, 5, 52), i32 - st0, st1, "FISUBR m32int"),
            (xm(6, 6, 48), st0 / i16, st1, "FIDIV m16int"),
            (xm(2, 7, 52), i32 / st0, st1, "FIDIVR m32int"),
            (xr(0, 4, 1), st0 - st1, st1, "FSUB ST(0), ST(1) (D8 E1)"),
            (xr(0, 5, 1), st1 - st0, st1, "FSUBR ST(0), ST(1) (D8 E9)"),
            (xr(0, 6, 1), st0 / st1, st1, "FDIV ST(0), ST(1) (D8 F1)"),
            (xr(0, 7, 1), st1 / st0, st1, "FDIVR ST(0), ST(1) (D8 F9)"),
            (xr(4, 0, 1), st0, st1 + st0, "FADD ST(1), ST(0) (DC C1)"),
            (xr(4, 4, 1), st0, st0 - st1, "FSUBR ST(1), ST(0) (DC E1): ST(1) ← ST(0) − ST(1)"),
            (xr(4, 5, 1), st0, st1 - st0, "FSUB ST(1), ST(0) (DC E9): ST(1) ← ST(1) − ST(0)"),
            (xr(4, 6, 1), st0, st0 / st1, "FDIVR ST(1), ST(0) (DC F1)"),
            (xr(4, 7, 1), st0, st1 / st0, "FDIV ST(1), ST(0) (DC F9)"),
            (xr(6, 1, 1), st1 * st0, nil, "FMULP (DE C9)"),
            (xr(6, 4, 1), st0 - st1, nil, "FSUBRP (DE E1)"),
            (xr(6, 5, 1), st1 - st0, nil, "FSUBP (DE E9)"),
            (xr(6, 6, 1), st0 / st1, nil, "FDIVRP (DE F1)"),
            (xr(6, 7, 1), st1 / st0, nil, "FDIVP (DE F9)"),
        ]
        for (code, r0, r1, name) in cases {
            let m = TestMachine.x87()
            m.putF80(Layout.data, st1); m.putF80(Layout.data + 16, st0)
            m.w32(Layout.data + 32, Float(m32).bitPattern)
            m.w64(Layout.data + 40, Double(m64).bitPattern)
            m.w16(Layout.data + 48, UInt16(bitPattern: Int16(i16)))
            m.w32(Layout.data + 52, UInt32(bitPattern: Int32(i32)))
            m.runToHalt(fninit + fldM80(0) + fldM80(16) + code)
            #expect(m.st(0) == r0, "\(name): ST(0) \(m.st(0))")
            if let r1 { #expect(m.st(1) == r1, "\(name): ST(1) \(m.st(1))"); #expect(m.top == 6, "\(name)") }
            else { #expect(m.top == 7, "\(name): popped") }
            #expect(m.fsw & 0x1F == 0, "\(name): no exception but PE")
        }
    }

    // MARK: Stack faults

    /// Nine pushes: the ninth overflows — IE, SF, C1 = 1, masked response: the QNaN indefinite is
    /// pushed (SDM Vol. 1 §8.5.1.1 "Stack Overflow or Underflow Exception (#IS)").
    @Test func stackOverflowMasked() {
        let m = TestMachine.x87()
        m.runToHalt(fninit + Array(repeating: fld1, count: 9).flatMap { $0 })
        #expect(m.fsw & 0x3FF == 0x241, "IE SF C1: 0x\(hex(m.fsw))")
        #expect(m.top == 7)
        #expect(m.stBits(0) == qnanIndefinite)
        #expect(m.st(1) == 1)
        #expect(m.cpu.x87.ftw == 0x8000, "R7 special (NaN, 10), R0–R6 valid (00): 0x\(hex(m.cpu.x87.ftw))")
    }

    /// An arithmetic instruction on an empty register: IE SF, C1 = 0; masked, the destination
    /// becomes the indefinite.
    @Test func stackUnderflowMasked() {
        let m = TestMachine.x87()
        m.runToHalt(fninit + fld1 + xr(0, 0, 1))   // FADD ST(0), ST(1) with ST(1) empty
        #expect(m.fsw & 0x3FF == 0x041, "IE SF: 0x\(hex(m.fsw))")
        #expect(m.stBits(0) == qnanIndefinite)
    }

    /// Unmasked stack underflow on FSTP m64: memory and TOP unchanged, ES and B set, and the next
    /// waiting instruction raises #MF (SDM Vol. 1 §8.7) — FNSTSW (no-wait) runs first.
    @Test func stackUnderflowUnmaskedThenMF() {
        let m = TestMachine.x87()
        m.w16(Layout.data + 0x40, controlWord(masks: 0x3E))   // IM clear
        m.w64(Layout.data + 0x20, 0x1122_3344_5566_7788)
        let prefix = fninit + fldcw(0x40) + xm(5, 3, 0x20) + [0xDF, 0xE0]   // FSTP m64; FNSTSW AX
        let code = prefix + fld1
        m.load(code + [0xF4])
        m.rip = Layout.code
        let stop = m.cpu.run(budget: 100)
        m.expectException(stop, vector: 16, rip: Layout.code + UInt64(prefix.count))
        #expect(m.r64(Layout.data + 0x20) == 0x1122_3344_5566_7788, "memory unchanged")
        #expect(m[.rax] & 0xFFFF == 0x80C1, "B ES SF IE: 0x\(hex(m[.rax]))")
        #expect(m.top == 0, "TOP unchanged")
    }

    /// A stack underflow suppresses the operation: a denormal memory operand of FMUL m32fp with
    /// ST(0) empty raises IE and SF only, not DE (SDM Vol. 1 §4.9.2 "Floating-Point Exception
    /// Priority": stack underflow/overflow before denormal operand).
    @Test func stackUnderflowBeforeDenormal() {
        let m = TestMachine.x87()
        m.w32(Layout.data, 1)                                   // smallest single denormal
        // With ST(0) = 1 the same operand is compared: DE, no stack fault (FCOM m32fp).
        m.runToHalt(fninit + fld1 + xm(0, 2, 0))
        #expect(m.fsw & 0x7F == 0x02, "after FCOM: 0x\(hex(m.fsw))")
        let u = TestMachine.x87()
        u.w32(Layout.data, 1)
        u.runToHalt(fninit + xm(0, 1, 0))                        // FMUL m32fp, ST(0) empty
        #expect(u.fsw & 0x7F == 0x41, "IE SF only: 0x\(hex(u.fsw))")
        #expect(u.stBits(0) == qnanIndefinite)
        // The indefinite now in ST(0) times the denormal: the QNaN operand takes precedence over
        // the denormal-operand exception (§4.9.2) — no new flag; the result is the QNaN.
        u.runToHalt(fnclex + xm(0, 1, 0) + xm(0, 2, 0))            // FMUL m32fp; FCOM m32fp (IE, not DE)
        #expect(u.fsw & 0x3F == 0x01, "IE from FCOM's QNaN only: 0x\(hex(u.fsw))")
        #expect(u.stBits(0) == qnanIndefinite)
    }

    // MARK: Masked and unmasked exceptions

    /// Masked divide by zero: ∞ with the XOR of the signs, ZE (SDM Vol. 1 §8.5.3, Table 8-10).
    @Test func maskedZeroDivide() {
        let m = TestMachine.x87()
        m.runToHalt(fninit + fld1 + [0xD9, 0xE0] + fldz + [0xDE, 0xF9])   // FLD1; FCHS; FLDZ; FDIVP
        #expect(m.st(0) == -Float80.infinity)
        #expect(m.fsw & 0x3F == 0x04)
        #expect(m.fsw & 0x8080 == 0)
    }

    /// Masked invalid operation (∞ − ∞): the QNaN indefinite, IE, SF = 0.
    @Test func maskedInvalid() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, .infinity)
        m.runToHalt(fninit + fldM80(0) + fldM80(0) + [0xDE, 0xE9])       // FSUBP
        #expect(m.stBits(0) == qnanIndefinite)
        #expect(m.fsw & 0x7F == 0x01)
    }

    /// Unmasked divide by zero: ZE, ES, B; TOP and operands unchanged (§8.5.3); FNSTSW works; the
    /// next waiting instruction (FWAIT) raises #MF with RIP at it; FNCLEX then lets execution go on.
    @Test func unmaskedZeroDivideRaisesMFAtNextWaitingInstruction() {
        let m = TestMachine.x87()
        m.w16(Layout.data + 0x40, controlWord(masks: 0x3B))   // ZM clear
        let prefix = fninit + fldcw(0x40) + fld1 + fldz + [0xDE, 0xF9] + [0xDF, 0xE0]
        m.load(prefix + fwait + [0xF4])
        m.rip = Layout.code
        let stop = m.cpu.run(budget: 100)
        m.expectException(stop, vector: 16, rip: Layout.code + UInt64(prefix.count))
        #expect(m[.rax] & 0xFFFF == 0x3084 | 0x8000, "B, TOP 6, ES, ZE: 0x\(hex(m[.rax]))")
        #expect(m.top == 6)
        #expect(m.st(0) == 0 && m.st(1) == 1, "operands unchanged")
        // After FNCLEX the same FWAIT runs.
        let m2 = TestMachine.x87()
        m2.w16(Layout.data + 0x40, controlWord(masks: 0x3B))
        m2.runToHalt(fninit + fldcw(0x40) + fld1 + fldz + [0xDE, 0xF9] + fnclex + fwait + fld1)
        #expect(m2.fsw & 0x80FF == 0)
    }

    /// With CR0.NE = 0 the exception would be reported through FERR#/IRQ 13: not modelled — a stop.
    @Test func unmaskedExceptionWithNEClearStops() {
        let m = TestMachine.x87()
        m.cpu.cr0 &= ~CR0.ne
        m.w16(Layout.data + 0x40, controlWord(masks: 0x3B))
        m.load(fninit + fldcw(0x40) + fld1 + fldz + [0xDE, 0xF9] + fwait + [0xF4])
        m.rip = Layout.code
        let stop = m.cpu.run(budget: 100)
        guard case let .unimplemented(what, _, _, _) = stop else { Issue.record("\(stop)"); return }
        #expect(what.contains("CR0.NE=0"))
    }

    /// FLDCW that unmasks an already-set flag makes the next waiting instruction fault (SDM Vol. 2A "FLDCW").
    @Test func fldcwUnmaskingPendingFlag() {
        let m = TestMachine.x87()
        m.w16(Layout.data + 0x40, controlWord(masks: 0x3B))
        let prefix = fninit + fld1 + fldz + [0xDE, 0xF9] + fldcw(0x40)
        m.load(prefix + fld1 + [0xF4])
        m.rip = Layout.code
        m.expectException(m.cpu.run(budget: 100), vector: 16, rip: Layout.code + UInt64(prefix.count))
    }

    /// Unmasked overflow with a register destination: the exponent is divided by 2²⁴⁵⁷⁶ and the
    /// result stored (SDM Vol. 1 §8.5.4, "Destination is the register stack"); with a memory
    /// destination nothing is stored and TOP stays ("Destination is a memory location").
    @Test func unmaskedOverflow() {
        let m = TestMachine.x87()
        let big = float80(0x8000_0000_0000_0000, 0x7FFE)      // 2¹⁶³⁸³
        m.putF80(Layout.data, big)
        m.w16(Layout.data + 0x40, controlWord(masks: 0x37))   // OM clear
        m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + fldM80(0) + [0xDE, 0xC9])   // FMULP: 2³²⁷⁶⁶
        // 2³²⁷⁶⁶ / 2²⁴⁵⁷⁶ = 2⁸¹⁹⁰: biased exponent 8190 + 16383 = 0x5FFD.
        #expect(m.stBits(0) == (0x8000_0000_0000_0000, 0x5FFD))
        #expect(m.fsw & 0x80BF == 0x8088, "B ES OE: 0x\(hex(m.fsw))")

        let m2 = TestMachine.x87()
        m2.putF80(Layout.data, big)
        m2.w64(Layout.data + 0x20, 0xAAAA_AAAA_AAAA_AAAA)
        m2.w16(Layout.data + 0x40, controlWord(masks: 0x37))
        m2.runToHalt(fninit + fldcw(0x40) + fldM80(0) + xm(5, 3, 0x20))   // FSTP m64: overflows double
        #expect(m2.r64(Layout.data + 0x20) == 0xAAAA_AAAA_AAAA_AAAA, "not stored")
        #expect(m2.top == 7, "not popped")
        #expect(m2.fsw & 0x08 != 0 && m2.fsw & 0x80 != 0)
    }

    /// The popping transcendentals take the same unmasked response: FYL2X with OM clear and
    /// ST(1)·log2(ST(0)) = 2¹⁶³⁸³·16000 (exact: 125·2¹⁶³⁹⁰) stores 125·2¹⁶³⁹⁰⁻²⁴⁵⁷⁶ in ST(1),
    /// pops, and the next waiting instruction (FWAIT) raises #MF (SDM Vol. 1 §8.5.4 "Numeric
    /// Overflow Exception (#O)"; Vol. 2A "FYL2X" lists #O).
    @Test func unmaskedOverflowOfFYL2XStoresTheBiasAdjustedResultAndPops() {
        func setUp() -> TestMachine {
            let m = TestMachine.x87()
            m.putF80(Layout.data, float80(0x8000_0000_0000_0000, 0x7FFE))          // y = 2¹⁶³⁸³
            m.putF80(Layout.data + 16, float80(0x8000_0000_0000_0000, 0x3FFF + 16000))   // x = 2¹⁶⁰⁰⁰
            m.w16(Layout.data + 0x40, controlWord(masks: 0x37))                   // OM clear
            return m
        }
        let fyl2x = fninit + fldcw(0x40) + fldM80(0) + fldM80(16) + [0xD9, 0xF1]
        let m = setUp()
        m.runToHalt(fyl2x)
        // 125·2⁻⁸¹⁸⁶ = 1.953125·2⁻⁸¹⁸⁰: biased exponent 16383 − 8180 = 0x200B, significand 125 << 57.
        #expect(m.stBits(0) == (0xFA00_0000_0000_0000, 0x200B))
        #expect(m.top == 7, "popped")
        // B ES OE; PE is the transcendental unit's business (the host reports it though the
        // result is exact), so it is not checked.
        #expect(m.fsw & 0x809F == 0x8088, "B ES OE: 0x\(hex(m.fsw))")
        let w = setUp()
        w.rip = Layout.code
        w.load(fyl2x + [0x9B, 0xF4])
        w.expectException(w.cpu.run(budget: 100), vector: 16, rip: Layout.code + UInt64(fyl2x.count))
    }

    /// With UM clear, an *exact* tiny result still signals UE (SDM Vol. 1 §8.5.5): FSTP m64 of
    /// 2⁻¹⁰⁷⁰ (a double denormal, exactly representable) stores nothing and does not pop; with UM
    /// set the same store is exact and raises nothing.
    @Test func unmaskedUnderflowOnAnExactTinyStore() {
        let tiny = float80(0x8000_0000_0000_0000, 0x3FFF - 1070)
        let m = TestMachine.x87()
        m.putF80(Layout.data, tiny)
        m.w64(Layout.data + 0x20, 0xAAAA_AAAA_AAAA_AAAA)
        m.w16(Layout.data + 0x40, controlWord(masks: 0x2F))   // UM clear
        m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + xm(5, 3, 0x20))
        #expect(m.r64(Layout.data + 0x20) == 0xAAAA_AAAA_AAAA_AAAA && m.top == 7)
        #expect(m.fsw & 0x10 != 0 && m.fsw & 0x20 == 0, "UE without PE: 0x\(hex(m.fsw))")
        let n = TestMachine.x87()
        n.putF80(Layout.data, tiny)
        n.runToHalt(fninit + fldM80(0) + xm(5, 3, 0x20))
        #expect(n.r64(Layout.data + 0x20) == UInt64(1) << 4)     // 2⁻¹⁰⁷⁰ = 2⁴ × 2⁻¹⁰⁷⁴
        #expect(n.fsw & 0x3F == 0)
    }

    // MARK: Comparisons

    /// FCOMI/FUCOMI/FCOMIP: ZF PF CF = 000 (>), 001 (<), 100 (=), 111 (unordered); OF SF AF cleared
    /// (SDM Vol. 2A "FCOMI/FCOMIP/FUCOMI/FUCOMIP", Table 3-32). FCOMI with a QNaN raises IE, FUCOMI
    /// does not.
    @Test func fcomiFlags() {
        let nan = Float80.nan
        let cases: [(Float80, Float80, UInt64)] = [
            (2, 1, 0), (1, 2, RFLAGS.cf), (1.5, 1.5, RFLAGS.zf),
            (nan, 1, RFLAGS.zf | RFLAGS.pf | RFLAGS.cf),
        ]
        for (a, b, f) in cases {
            for (code, unordered, pops) in [(xr(3, 6, 1), false, 0), (xr(3, 5, 1), true, 0), (xr(7, 6, 1), false, 1)] {
                let m = TestMachine.x87()
                m.putF80(Layout.data, b); m.putF80(Layout.data + 16, a)
                m.setArith(RFLAGS.of | RFLAGS.sf | RFLAGS.af)
                m.runToHalt(fninit + fldM80(0) + fldM80(16) + code)
                #expect(m.arith == f, "\(a) vs \(b) \(code): \(m.flagString)")
                #expect(m.top == 6 + pops)
                #expect((m.fsw & 1 != 0) == (a.isNaN && !unordered), "IE for \(code)")
            }
        }
    }

    /// FCOM/FCOMPP/FUCOMPP/FICOM: C3 C2 C0 (SDM Vol. 2A "FCOM", Table 3-21).
    @Test func fcomConditionCodes() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 3); m.putF80(Layout.data + 16, 1)
        m.w32(Layout.data + 32, UInt32(bitPattern: 1))
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + xr(0, 2, 1))   // FCOM ST(1): 1 < 3
        #expect(m.fsw & 0x4700 == 0x0100)
        m.runToHalt(xm(2, 2, 32))                                     // FICOM m32int 1: equal
        #expect(m.fsw & 0x4700 == 0x4000)
        m.runToHalt([0xDE, 0xD9])                                     // FCOMPP: pops both
        #expect(m.top == 0 && m.cpu.x87.ftw == 0xFFFF)
        m.putF80(Layout.data, .nan)
        m.runToHalt(fldM80(0) + fldM80(0) + [0xDA, 0xE9])             // FUCOMPP QNaN: unordered, no IE
        #expect(m.fsw & 0x4700 == 0x4500)
        #expect(m.fsw & 1 == 0)
    }

    // MARK: Integer and BCD stores

    /// FIST under each rounding control (SDM Vol. 2A "FIST/FISTP"), FISTTP truncates ("FISTTP").
    @Test func fistRounding() {
        let values: [Float80] = [2.5, -2.5, 1.5, -0.5, 7]
        let expected: [[Int32]] = [
            [2, -2, 2, 0, 7],     // nearest even
            [2, -3, 1, -1, 7],    // down
            [3, -2, 2, 0, 7],     // up
            [2, -2, 1, 0, 7],     // toward zero
        ]
        for rc in 0..<4 {
            for (k, v) in values.enumerated() {
                let m = TestMachine.x87()
                m.putF80(Layout.data, v)
                m.w16(Layout.data + 0x40, controlWord(rc: UInt16(rc)))
                m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + xm(3, 2, 0x20) + xm(3, 1, 0x24))   // FIST m32; FISTTP m32
                #expect(Int32(bitPattern: m.r32(Layout.data + 0x20)) == expected[rc][k], "FIST \(v) rc \(rc)")
                #expect(Int32(bitPattern: m.r32(Layout.data + 0x24)) == Int32(v.rounded(.towardZero)), "FISTTP \(v)")
                #expect((m.fsw & 0x20 != 0) == (v != 7), "PE")
                #expect(m.top == 0, "FISTTP popped")
            }
        }
    }

    /// Out of range or NaN: IE and the integer indefinite (SDM Vol. 1 §4.8.3.8 "Integer Indefinite");
    /// unmasked IE stores nothing and does not pop.
    @Test func fistIntegerIndefinite() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 40000)
        m.putF80(Layout.data + 16, .nan)
        m.runToHalt(fninit + fldM80(0) + xm(7, 2, 0x20) + fldM80(16) + xm(3, 3, 0x24) + xm(7, 7, 0x28))
        // FIST m16 40000; FLD NaN; FISTP m32 NaN; FISTP m64 40000 (fits)
        #expect(m.r16(Layout.data + 0x20) == 0x8000)
        #expect(m.r32(Layout.data + 0x24) == 0x8000_0000)
        #expect(m.r64(Layout.data + 0x28) == 40000)
        #expect(m.fsw & 1 == 1)

        let u = TestMachine.x87()
        u.putF80(Layout.data, 40000)
        u.w16(Layout.data + 0x20, 0x1234)
        u.w16(Layout.data + 0x40, controlWord(masks: 0x3E))
        u.runToHalt(fninit + fldcw(0x40) + fldM80(0) + xm(7, 3, 0x20))       // FISTP m16, IE unmasked
        #expect(u.r16(Layout.data + 0x20) == 0x1234)
        #expect(u.top == 7)
        #expect(u.fsw & 0x81 == 0x81)
    }

    /// FBSTP: 18 BCD digits, sign in bit 79 (SDM Vol. 1 §4.7 "BCD and Packed BCD Integers",
    /// Figure 4-10); rounding by RC; out of range → the BCD indefinite FFFF C000000000000000H with IE.
    /// FBLD reads it back.
    @Test func fbstpAndFbld() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, -1234567.5)
        m.putF80(Layout.data + 16, 1e19)
        m.runToHalt(fninit + fldM80(0) + xm(7, 6, 0x20) + xm(7, 4, 0x20))   // FBSTP; FBLD
        #expect(m.bytes(Layout.data + 0x20, 10) == [0x68, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0, 0x80], "−1234568 (nearest even)")
        #expect(m.st(0) == -1234568)
        #expect(m.fsw & 0x21 == 0x20, "PE, no IE")
        m.runToHalt(fldM80(16) + xm(7, 6, 0x30))
        #expect(m.r64(Layout.data + 0x30) == 0xC000_0000_0000_0000 && m.r16(Layout.data + 0x38) == 0xFFFF)
        #expect(m.fsw & 1 == 1)
    }

    // MARK: Loads, constants, transcendental family

    /// FLD m32/m64 conversions and FST m32 rounding; a single denormal raises DE on load; an SNaN
    /// raises IE and loads quieted (SDM Vol. 2A "FLD": #IA, #D).
    @Test func loadsAndStores() {
        let m = TestMachine.x87()
        m.w32(Layout.data, Float(0.1).bitPattern)
        m.w64(Layout.data + 8, (0.1 as Double).bitPattern)
        m.runToHalt(fninit + xm(1, 0, 0) + xm(5, 0, 8) + xm(1, 3, 0x20) + xm(5, 3, 0x28))
        // FLD m32; FLD m64; FSTP m32 (the double 0.1 rounded to single); FSTP m64 (the single 0.1)
        #expect(m.r32(Layout.data + 0x20) == Float(0.1).bitPattern)
        #expect(m.r64(Layout.data + 0x28) == Double(Float(0.1)).bitPattern)
        #expect(m.fsw & 0x3F == 0x20, "PE from the double→single store")

        let d = TestMachine.x87()
        d.w32(Layout.data, 1)                       // smallest single denormal
        d.w32(Layout.data + 4, 0x7F80_0001)         // single SNaN
        d.runToHalt(fninit + xm(1, 0, 0))
        #expect(d.fsw & 0x3F == 0x02)
        #expect(d.st(0) == Float80(Float.leastNonzeroMagnitude))
        d.runToHalt(fnclex + xm(1, 0, 4))
        #expect(d.fsw & 0x3F == 0x01)
        #expect(d.stBits(0) == (0xC000_0100_0000_0000, 0x7FFF), "quieted SNaN")
    }

    /// FILD m16/m32/m64 are exact.
    @Test func integerLoads() {
        let m = TestMachine.x87()
        m.w16(Layout.data, UInt16(bitPattern: -300))
        m.w32(Layout.data + 4, UInt32(bitPattern: -70000))
        m.w64(Layout.data + 8, UInt64(bitPattern: Int64.min + 1))
        m.runToHalt(fninit + xm(7, 0, 0) + xm(3, 0, 4) + xm(7, 5, 8))
        #expect(m.st(2) == -300 && m.st(1) == -70000 && m.st(0) == Float80(Int64.min + 1))
        #expect(m.fsw & 0x3F == 0)
    }

    /// FLDPI rounds by RC (SDM Vol. 2A "FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ"). π in
    /// binary is 1.1001001000011111…: significand C90FDAA2_2168C234 then C4C6628B… — the bits
    /// after the 64th are 1100…, so nearest and up give …C235, down and toward zero …C234.
    @Test func constantsRounding() {
        let below = float80(0xC90F_DAA2_2168_C234, 0x4000), above = float80(0xC90F_DAA2_2168_C235, 0x4000)
        for (rc, want) in [(UInt16(0), above), (1, below), (2, above), (3, below)] {
            let m = TestMachine.x87()
            m.w16(Layout.data + 0x40, controlWord(rc: rc))
            m.runToHalt(fninit + fldcw(0x40) + [0xD9, 0xEB] + fld1 + fldz)
            #expect(m.st(2) == want, "rc \(rc)")
            #expect(m.st(1) == 1 && m.st(0) == 0 && m.st(0).sign == .plus)
        }
    }

    /// FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM, FCHS, FABS, FXCH, FXAM, FTST.
    @Test func miscOperations() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 2)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xFA])               // FSQRT
        #expect(m.st(0) == Float80(2).squareRoot())
        #expect(m.fsw & 0x20 != 0)

        // FPREM 7 rem 2: remainder 1, quotient 3 → C0 = Q2 = 0, C3 = Q0 = 1, C1 = Q1 = 1, C2 = 0
        // (SDM Vol. 2A "FPREM").
        m.putF80(Layout.data, 2); m.putF80(Layout.data + 16, 7)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xF8])
        #expect(m.st(0) == 1)
        #expect(m.fsw & 0x4700 == 0x4200)

        // FSCALE 3·2^2 = 12; FXTRACT 12 → exponent 3 in ST(1), significand 1.5 in ST(0).
        m.putF80(Layout.data, 2); m.putF80(Layout.data + 16, 3)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xFD])
        #expect(m.st(0) == 12)
        m.runToHalt([0xD9, 0xF4])
        #expect(m.st(0) == 1.5 && m.st(1) == 3 && m.st(2) == 2 && m.top == 5)

        // FRNDINT under RC = up: 2.25 → 3.
        m.putF80(Layout.data, 2.25)
        m.w16(Layout.data + 0x40, controlWord(rc: 2))
        m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + [0xD9, 0xFC])
        #expect(m.st(0) == 3)

        // FCHS, FABS, FXCH.
        m.putF80(Layout.data, 5); m.putF80(Layout.data + 16, 6)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xE0] + [0xD9, 0xC9])
        #expect(m.st(0) == 5 && m.st(1) == -6)
        m.runToHalt([0xD9, 0xC9, 0xD9, 0xE1])
        #expect(m.st(0) == 6)

        // FXAM (SDM Vol. 2A "FXAM", Table 3-47): C3 C2 C0 = 010 normal, 100 zero, 011 infinity,
        // 001 NaN, 101 empty, 110 denormal; C1 = sign.
        let classes: [(Float80, UInt16)] = [
            (-1, 0x0600), (0, 0x4000), (.infinity, 0x0500), (.nan, 0x0100), (float80(1, 0), 0x4400),
        ]
        for (v, cc) in classes {
            m.putF80(Layout.data, v)
            m.runToHalt(fninit + fldM80(0) + [0xD9, 0xE5])
            #expect(m.fsw & 0x4700 == cc, "FXAM \(v): 0x\(hex(m.fsw))")
        }
        m.runToHalt(fninit + [0xD9, 0xE5])
        #expect(m.fsw & 0x4500 == 0x4100, "FXAM empty")
        #expect(m.fsw & 0x3F == 0)
        // FTST −1: C0 = 1 (below zero).
        m.putF80(Layout.data, -1)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xE4])
        #expect(m.fsw & 0x4500 == 0x0100)
    }

    /// FSIN/FCOS/FPTAN/FPATAN/FYL2X/F2XM1 run on the host unit: results within 1 ulp of the
    /// Float80 value computed here (the last bit may differ between x87 implementations, SDM
    /// Vol. 1 §8.3.10).
    @Test func transcendentals() {
        func close(_ a: Float80, _ b: Float80) -> Bool { a == b || a.nextUp == b || a.nextDown == b }
        let m = TestMachine.x87()
        m.putF80(Layout.data, 0.5)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xFB])              // FSINCOS: ST(0) cos, ST(1) sin
        let s = m.st(1), c = m.st(0)
        #expect(abs(s * s + c * c - 1) < 4 * Float80.ulpOfOne)
        #expect(s > 0.4794 && s < 0.4795 && c > 0.8775 && c < 0.8776)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xF2])              // FPTAN: 1.0 pushed
        #expect(m.st(0) == 1)
        #expect(close(m.st(1), s / c) || abs(m.st(1) - s / c) < 4 * Float80.ulpOfOne)
        // FYL2X: ST(1)·log2(ST(0)) = 3·log2(8) = 9 exactly.
        m.putF80(Layout.data, 3); m.putF80(Layout.data + 16, 8)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xF1])
        #expect(m.st(0) == 9 && m.top == 7)
        // F2XM1(0.5) = √2 − 1.
        m.putF80(Layout.data, 0.5)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xF0])
        #expect(close(m.st(0), Float80(2).squareRoot() - 1))
        // FSIN out of range (|x| ≥ 2⁶³): C2 = 1, operand unchanged.
        m.putF80(Layout.data, 0x1p64)
        m.runToHalt(fninit + fldM80(0) + [0xD9, 0xFE])
        #expect(m.fsw & 0x400 != 0 && m.st(0) == 0x1p64)
    }

    /// FCMOVcc by EFLAGS (SDM Vol. 2A "FCMOVcc").
    @Test func fcmov() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 7); m.putF80(Layout.data + 16, 1)
        m.setArith(RFLAGS.cf)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + xr(3, 0, 1))    // FCMOVNB: CF=1 → no move
        #expect(m.st(0) == 1)
        m.setArith(RFLAGS.cf)
        m.runToHalt(xr(2, 0, 1))                                       // FCMOVB: move
        #expect(m.st(0) == 7)
    }

    /// Register moves and stack control: FLD ST(i), FST/FSTP ST(i), FXCH with an empty operand
    /// (masked: the indefinite takes its place, SDM Vol. 2A "FXCH"), FFREE (tag only), FFREEP,
    /// FINCSTP/FDECSTP (TOP only, no tag change), FSTP m80 exact, FNSTSW m16, FNSTCW.
    @Test func registerMovesAndStackControl() {
        let m = TestMachine.x87()
        let odd = float80(0x8000_0000_0000_0001, 0x3FFF)          // 1 + 2⁻⁶³: needs all 64 bits
        m.putF80(Layout.data, odd); m.putF80(Layout.data + 16, 2)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + xr(1, 0, 1))  // FLD ST(1)
        #expect(m.top == 5 && m.stBits(0) == bits80(odd) && m.st(1) == 2)
        m.runToHalt(xr(5, 2, 2) + xr(5, 3, 1))                     // FST ST(2); FSTP ST(1)
        #expect(m.top == 6 && m.stBits(0) == bits80(odd) && m.stBits(1) == bits80(odd))
        m.runToHalt(fstpM80(0x20) + xm(5, 7, 0x30) + xm(1, 7, 0x32))   // FSTP m80; FNSTSW m16; FNSTCW m16
        #expect(m.getF80(Layout.data + 0x20) == odd)
        #expect(m.r16(Layout.data + 0x30) == 7 << 11 && m.r16(Layout.data + 0x32) == 0x037F)
        m.runToHalt([0xD9, 0xF7])                                  // FINCSTP: TOP 0, R7 still in use
        #expect(m.top == 0 && m.cpu.x87.ftw & 0xC000 == 0)
        m.runToHalt([0xD9, 0xF6] + xr(5, 0, 0))                    // FDECSTP; FFREE ST(0)
        #expect(m.top == 7 && m.cpu.x87.ftw == 0xFFFF && m.fsw & 0x41 == 0)
        m.runToHalt(fld1 + xr(1, 1, 3))                            // FLD1; FXCH ST(3) (empty)
        #expect(m.fsw & 0x41 == 0x41, "#IS")
        #expect(m.stBits(0) == qnanIndefinite && m.st(3) == 1)
        m.runToHalt(fnclex + [0xDF, 0xC0])                         // FFREEP ST(0)
        #expect(m.top == 7 && m.fsw & 0x41 == 0, "TOP 6 → 7")
    }

    /// The remaining integer stores: FISTTP m16/m64 truncate, FIST m16, FISTP m64 round by RC.
    @Test func integerStoreForms() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, -1234.75)
        m.runToHalt(fninit + fldM80(0) + xm(7, 2, 0x20) + fldM80(0) + xm(7, 1, 0x22) + fldM80(0) + xm(5, 1, 0x28) + xm(7, 7, 0x30))
        #expect(Int16(bitPattern: m.r16(Layout.data + 0x20)) == -1235, "FIST m16 nearest")
        #expect(Int16(bitPattern: m.r16(Layout.data + 0x22)) == -1234, "FISTTP m16")
        #expect(Int64(bitPattern: m.r64(Layout.data + 0x28)) == -1234, "FISTTP m64")
        #expect(Int64(bitPattern: m.r64(Layout.data + 0x30)) == -1235, "FISTP m64")
        #expect(m.top == 0)
    }

    /// FPREM1 (IEEE remainder: 7 = 4·2 − 1, quotient 4 → Q2 in C0), FPATAN, FYL2XP1, FUCOM/FUCOMP, FCOMP.
    @Test func moreArithmetic() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 2); m.putF80(Layout.data + 16, 7)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xF5])
        #expect(m.st(0) == -1)
        #expect(m.fsw & 0x4700 == 0x0100)
        m.putF80(Layout.data, 1)
        m.runToHalt(fninit + fldM80(0) + fldM80(0) + [0xD9, 0xF3])  // FPATAN(1/1) = π/4
        let quarter = float80(0xC90F_DAA2_2168_C235, 0x3FFE)
        #expect(m.st(0) == quarter || m.st(0) == quarter.nextDown, "\(m.st(0))")
        #expect(m.top == 7)
        m.putF80(Layout.data, 3); m.putF80(Layout.data + 16, 0)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + [0xD9, 0xF9])  // 3·log2(1 + 0) = 0
        #expect(m.st(0) == 0 && m.top == 7)
        m.putF80(Layout.data, 5); m.putF80(Layout.data + 16, 9)
        m.runToHalt(fninit + fldM80(0) + fldM80(16) + xr(5, 4, 1))   // FUCOM ST(1): 9 > 5
        #expect(m.fsw & 0x4500 == 0 && m.top == 6)
        m.runToHalt(xr(5, 5, 1))                                    // FUCOMP
        #expect(m.top == 7)
        m.runToHalt(xr(0, 3, 0))                                    // FCOMP ST(0): equal, pop
        #expect(m.fsw & 0x4500 == 0x4000 && m.top == 0)
    }

    /// Outside 64-bit mode FXSAVE stores XMM0–7 only (SDM Vol. 2A "FXSAVE": XMM8–15 "in 64-bit mode").
    @Test func fxsaveProtectedModeSavesEightXMM() {
        let m = TestMachine.protected32()
        for k in 0..<32 { m.cpu.xmm[k] = UInt64(k + 1) }
        let area = Layout.data + 0x400
        m.w64(area + 160 + 8 * 16, 0xDEAD)
        m.cpu.regs[Reg.rdi] = area
        m.runToHalt(fninit + fld1 + [0x0F, 0xAE, 0x07])
        #expect(m.r64(area + 160 + 7 * 16) == 15 && m.r64(area + 168 + 7 * 16) == 16)
        #expect(m.r64(area + 160 + 8 * 16) == 0xDEAD, "XMM8 slot untouched")
        #expect(m.r32(area + 8) == UInt32(Layout.code + 2) && m.r16(area + 12) == Sel.code32)
    }

    // MARK: Pointers

    /// FIP/FCS/FOP/FDP/FDS from the last non-control instruction (SDM Vol. 1 §8.1.8, §8.1.9):
    /// FOP = low 3 bits of the escape : ModRM. FNSTCW (control) leaves them.
    @Test func instructionAndDataPointers() {
        let m = TestMachine.x87()
        m.w64(Layout.data + 8, (1.0 as Double).bitPattern)
        let code = fninit + xm(5, 0, 8) + xm(1, 7, 0x40)              // FLD m64 [rsi+8]; FNSTCW [rsi+40h]
        m.runToHalt(code)
        #expect(m.cpu.x87.fip == Layout.code + 2)
        #expect(m.cpu.x87.fcs == Sel.code64)
        #expect(m.cpu.x87.fop == 0x546)
        #expect(m.cpu.x87.fdp == Layout.data + 8)
        #expect(m.cpu.x87.fds == Sel.data)
        m.runToHalt([0xDE, 0xC1])                                       // FADDP (no memory operand)
        #expect(m.cpu.x87.fop == 0x6C1)
        #expect(m.cpu.x87.fdp == Layout.data + 8, "FDP only for memory operands")
    }

    // MARK: Device not available

    /// SDM Vol. 3A §2.5, Table 2-2: EM or TS → #NM for x87 instructions; FWAIT → #NM only with MP
    /// and TS; FXSAVE → #UD with EM, #NM with TS (SDM Vol. 2A "FXSAVE").
    @Test func deviceNotAvailable() {
        let cases: [(UInt64, [UInt8], Int?)] = [
            (CR0.ts, fld1, 7), (CR0.em, fld1, 7), (CR0.em | CR0.mp, fninit, 7),
            (CR0.ts, fwait, nil), (CR0.ts | CR0.mp, fwait, 7), (CR0.em, fwait, nil),
            (CR0.ts, [0x0F, 0xAE, 0x07], 7), (CR0.em, [0x0F, 0xAE, 0x07], 6),
        ]
        for (bits, code, vector) in cases {
            let m = TestMachine.x87()
            m.cpu.cr0 = (m.cpu.cr0 & ~(CR0.mp | CR0.em | CR0.ts)) | bits
            m.load(code + [0xF4])
            m.rip = Layout.code
            let stop = m.cpu.run(budget: 10)
            if let vector { m.expectException(stop, vector: vector, rip: Layout.code) }
            else { #expect(stop == .halted(rip: Layout.code + UInt64(code.count), interruptsEnabled: false), "\(code) cr0 bits \(bits)") }
        }
    }

    // MARK: FNSTENV / FNSAVE / FRSTOR

    /// FNSAVE in 64-bit mode uses the 32-bit protected-mode image (SDM Vol. 1 §8.1.10, Figure 8-9,
    /// and Figure 8-13 for the registers): FCW FSW FTW as dwords, FIP, FOP:FCS, FDP, FDS, then
    /// ST(0)…ST(7); afterwards the FPU is initialised. FRSTOR brings everything back.
    @Test func fnsaveFrstorRoundTrip() {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 1.25); m.putF80(Layout.data + 16, -3)
        m.w16(Layout.data + 0x40, controlWord(rc: 3))
        m.runToHalt(fninit + fldcw(0x40) + fldM80(0) + fldM80(16) + fldz + xmdi(5, 6))   // … FNSAVE [rdi]
        let a = Layout.data + 0x400
        #expect(m.r32(a) == 0xFFFF_0000 | UInt32(controlWord(rc: 3)))
        #expect(m.r32(a + 4) == 0xFFFF_0000 | 5 << 11, "TOP = 5")
        // R5 = 0 (zero, 01), R6 = −3, R7 = 1.25 (valid, 00), others empty (11).
        #expect(m.r32(a + 8) == 0xFFFF_0000 | 0x03FF | 0x0400)
        #expect(m.r32(a + 12) == UInt32(Layout.code + 11), "FIP: FLDZ")
        #expect(m.r32(a + 16) == 0x01EE << 16 | UInt32(Sel.code64), "FOP D9 EE, FCS")
        #expect(m.r32(a + 20) == UInt32(Layout.data + 16), "FDP: the last memory operand")
        #expect(m.r32(a + 24) == 0xFFFF_0000 | UInt32(Sel.data))
        #expect(m.getF80(a + 28) == 0 && m.getF80(a + 38) == -3 && m.getF80(a + 48) == 1.25)
        #expect(m.cpu.x87.fcw == 0x037F && m.cpu.x87.ftw == 0xFFFF && m.fsw == 0, "FNINIT after FNSAVE")
        m.runToHalt(xmdi(5, 4))                                       // FRSTOR [rdi]
        #expect(m.cpu.x87.fcw == controlWord(rc: 3))
        #expect(m.top == 5 && m.st(0) == 0 && m.st(1) == -3 && m.st(2) == 1.25)
        #expect(m.cpu.x87.ftw == 0x03FF | 0x0400)
        #expect(m.cpu.x87.fop == 0x1EE && m.cpu.x87.fip == Layout.code + 11)
    }

    /// The 16-bit image (operand-size prefix): 14 bytes, FNSTENV then masks all exceptions.
    @Test func fnstenv16() {
        let m = TestMachine.x87()
        m.w16(Layout.data + 0x40, controlWord(masks: 0))
        m.runToHalt(fninit + fldcw(0x40) + fld1 + [0x66] + xmdi(1, 6))   // FNSTENV m14byte
        let a = Layout.data + 0x400
        #expect(m.r16(a) == controlWord(masks: 0))
        #expect(m.r16(a + 2) == 7 << 11)
        #expect(m.r16(a + 4) == 0x3FFF)
        #expect(m.r16(a + 6) == UInt16(truncatingIfNeeded: Layout.code + 5))
        #expect(m.r16(a + 8) == Sel.code64)
        #expect(m.cpu.x87.fcw == controlWord(masks: 0x3F), "all exceptions masked afterwards")
        // FLDENV of the same image restores the control word (unmasked) and tags.
        m.runToHalt(fninit + [0x66] + xmdi(1, 4))
        #expect(m.cpu.x87.fcw == controlWord(masks: 0) && m.top == 7 && m.cpu.x87.ftw == 0x3FFF)
    }

    /// Real-address mode, 16-bit image (Figure 8-12): the instruction pointer is the 20-bit linear
    /// address, bits 19:16 with FOP in the second word.
    @Test func fnstenvRealMode() {
        let m = TestMachine(mib: 2)
        let c = m.cpu
        c.segs[Seg.cs] = SegmentRegister(selector: 0x1000, base: 0x10000, limit: 0xFFFF, attr: 0x9B)
        for s in [Seg.ds, Seg.es, Seg.ss] { c.segs[s] = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, attr: 0x93) }
        c.cr0 = CR0.et | CR0.ne
        c.rip = 0x100
        c.modeChanged()
        // FNINIT; FLD1; FNSTENV [0x2000] (D9 36 00 20); HLT
        m.load(fninit + fld1 + [0xD9, 0x36, 0x00, 0x20, 0xF4], at: 0x10100)
        let stop = c.run(budget: 10)
        #expect(stop == .halted(rip: 0x100 + 8, interruptsEnabled: false))
        #expect(m.r16(0x2006) == 0x0102, "FIP[15:0] of linear 0x10102")
        #expect(m.r16(0x2008) == 0x1000 | 0x1E8, "FIP[19:16] = 1, FOP D9 E8")
    }

    // MARK: FXSAVE / FXRSTOR

    /// FXSAVE layout (SDM Vol. 2A "FXSAVE", Table 10-2 and, with REX.W, Table 10-3): FCW, FSW,
    /// abridged FTW, FOP, FIP/FCS or 64-bit FIP, FDP/FDS or 64-bit FDP, MXCSR, MXCSR_MASK, ST(i)
    /// at 32 + 16i, XMMi at 160 + 16i (16 registers in 64-bit mode).
    @Test(arguments: [false, true])
    func fxsaveLayout(rexW: Bool) {
        let m = TestMachine.x87()
        m.putF80(Layout.data, 2.5)
        for k in 0..<32 { m.cpu.xmm[k] = 0x1111_1111_1111_1111 &* UInt64(k + 1) }
        m.cpu.mxcsr = 0x1F80 | 0x20
        m.runToHalt(fninit + fld1 + fldM80(0) + (rexW ? [0x48] : []) + [0x0F, 0xAE, 0x07])
        let a = Layout.data + 0x400
        #expect(m.r16(a) == 0x037F)
        #expect(m.r16(a + 2) == 6 << 11)
        #expect(m.r8(a + 4) == 0xC0, "abridged: R6, R7 in use")
        #expect(m.r16(a + 6) == 0x36E, "FOP: DB 6E (FLD m80 [rsi+0])")
        if rexW {
            #expect(m.r64(a + 8) == Layout.code + 4)
            #expect(m.r64(a + 16) == Layout.data)
        } else {
            #expect(m.r32(a + 8) == UInt32(Layout.code + 4))
            #expect(m.r16(a + 12) == Sel.code64)
            #expect(m.r32(a + 16) == UInt32(Layout.data))
            #expect(m.r16(a + 20) == Sel.data)
        }
        #expect(m.r32(a + 24) == 0x1FA0)
        #expect(m.r32(a + 28) == 0xFFFF)
        #expect(m.getF80(a + 32) == 2.5 && m.getF80(a + 48) == 1)
        for k in 0..<16 {
            #expect(m.r64(a + 160 + UInt64(k) * 16) == m.cpu.xmm[2 * k] && m.r64(a + 168 + UInt64(k) * 16) == m.cpu.xmm[2 * k + 1])
        }
        // FXRSTOR after FNINIT and cleared XMM brings it all back.
        for k in 0..<32 { m.cpu.xmm[k] = 0 }
        m.runToHalt(fninit + (rexW ? [0x48] : []) + [0x0F, 0xAE, 0x0F])
        #expect(m.top == 6 && m.st(0) == 2.5 && m.st(1) == 1 && m.cpu.x87.ftw == 0x0FFF)
        #expect(m.cpu.mxcsr == 0x1FA0)
        #expect(m.cpu.xmm[31] == 0x1111_1111_1111_1111 &* 32)
        #expect(m.cpu.x87.fop == 0x36E)
    }

    /// #GP(0) for a misaligned area and for reserved MXCSR bits in the image (FXRSTOR); a #PF on
    /// the second page of the area writes nothing.
    @Test func fxsaveFaults() {
        let m = TestMachine.x87()
        m[.rdi] = Layout.data + 0x408
        m.load([0x0F, 0xAE, 0x07, 0xF4]); m.rip = Layout.code
        m.expectException(m.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code)

        let r = TestMachine.x87()
        r.w32(Layout.data + 0x400 + 24, 0x0001_1F80)
        r.load([0x0F, 0xAE, 0x0F, 0xF4]); r.rip = Layout.code
        r.expectException(r.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code)

        let p = TestMachine.x87()
        let area = Layout.data + 0x1F00                       // 512 bytes spanning into the next page
        p[.rdi] = area
        p.w64(area, 0x5555)
        p.setPTE(Layout.data + 0x2000, 0)                     // next page not present
        p.load([0x0F, 0xAE, 0x07, 0xF4]); p.rip = Layout.code
        p.expectException(p.cpu.run(budget: 10), vector: 14, error: 2, rip: Layout.code)
        #expect(p.r64(area) == 0x5555, "nothing written")
    }

    /// CPUID.1:EDX reports FPU (bit 0) and FXSR (bit 24).
    @Test func cpuidBits() {
        let (_, _, _, edx) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: nil)
        #expect(edx & 1 != 0 && edx & (1 << 24) != 0)
    }
}
