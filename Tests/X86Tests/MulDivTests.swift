// MUL / IMUL (one, two and three operands) / DIV / IDIV (SDM Vol. 2 "MUL", "IMUL", "DIV", "IDIV").
//   MUL:  AX ← AL·r/m8; DX:AX ← AX·r/m16; EDX:EAX ← EAX·r/m32; RDX:RAX ← RAX·r/m64.
//         "The OF and CF flags are set to 0 if the upper half of the result is 0; otherwise, they
//         are set to 1. The SF, ZF, AF, and PF flags are undefined."
//   IMUL: one operand as MUL but signed: CF = OF = 1 when "significant bits are carried into the
//         upper half" (the full product ≠ the sign extension of its lower half); two/three
//         operands: CF = OF = 1 when "the result must be truncated to fit in the destination".
//         SF ZF AF PF undefined.
//   DIV/IDIV: AL ← quotient, AH ← remainder (8-bit); AX/DX, EAX/EDX, RAX/RDX otherwise. Signed
//         quotients truncate toward zero, the remainder has the dividend's sign. #DE when the
//         divisor is 0 or the quotient does not fit the destination. All flags undefined.
// Only CF and OF are compared for multiplies; no flag for divides.

import Testing
@testable import X86

struct MulCase: Sendable, CustomTestStringConvertible {
    var signed: Bool, size: Int, a: UInt64, b: UInt64
    var lo: UInt64, hi: UInt64, carry: Bool
    var testDescription: String { "\(signed ? "imul" : "mul") \(size)-bit 0x\(hex(a)) × 0x\(hex(b))" }
}

let mulCases: [MulCase] = [
    // 0x80·2 = 0x0100: AX = 0x0100, AH ≠ 0 → CF OF.
    MulCase(signed: false, size: 8, a: 0x80, b: 0x02, lo: 0x00, hi: 0x01, carry: true),
    // 15·15 = 225 = 0x00E1: AH = 0.
    MulCase(signed: false, size: 8, a: 0x0F, b: 0x0F, lo: 0xE1, hi: 0x00, carry: false),
    // 0xFFFF² = 0xFFFE0001.
    MulCase(signed: false, size: 16, a: 0xFFFF, b: 0xFFFF, lo: 0x0001, hi: 0xFFFE, carry: true),
    // 0x80000000·2 = 0x1_00000000.
    MulCase(signed: false, size: 32, a: 0x8000_0000, b: 2, lo: 0, hi: 1, carry: true),
    // (2⁶⁴−1)² = 0xFFFF…FFFE_0000…0001.
    MulCase(signed: false, size: 64, a: ~0, b: ~0, lo: 1, hi: 0xFFFF_FFFF_FFFF_FFFE, carry: true),
    MulCase(signed: false, size: 64, a: 3, b: 5, lo: 15, hi: 0, carry: false),
    // IMUL: (−1)·(−1) = 1 fits in AL.
    MulCase(signed: true, size: 8, a: 0xFF, b: 0xFF, lo: 0x01, hi: 0x00, carry: false),
    // 64·2 = 128 does not fit int8: AX = 0x0080 → CF OF.
    MulCase(signed: true, size: 8, a: 0x40, b: 0x02, lo: 0x80, hi: 0x00, carry: true),
    // (−32768)·(−1) = 32768: DX:AX = 0x0000:0x8000, not the sign extension of AX → CF OF.
    MulCase(signed: true, size: 16, a: 0x8000, b: 0xFFFF, lo: 0x8000, hi: 0x0000, carry: true),
    // (−2)·3 = −6: EDX:EAX = 0xFFFFFFFF:0xFFFFFFFA fits.
    MulCase(signed: true, size: 32, a: 0xFFFF_FFFE, b: 3, lo: 0xFFFF_FFFA, hi: 0xFFFF_FFFF, carry: false),
    // INT64_MIN·(−1) = 2⁶³: RDX:RAX = 0:0x8000…0 → CF OF.
    MulCase(signed: true, size: 64, a: 0x8000_0000_0000_0000, b: ~0, lo: 0x8000_0000_0000_0000, hi: 0, carry: true),
    // (−1)·5 = −5 fits.
    MulCase(signed: true, size: 64, a: ~0, b: 5, lo: 0xFFFF_FFFF_FFFF_FFFB, hi: ~0, carry: false),
]

@Suite("MUL / IMUL / DIV / IDIV")
struct MulDivTests {
    /// One-operand MUL/IMUL with the source in RBX (ModRM 11 /4|/5 011) and in [RSI] (00 /n 110).
    @Test(arguments: mulCases)
    func oneOperandMultiply(_ c: MulCase) {
        let m = TestMachine.long64(mib: 2)
        let mask = sizeMask(c.size)
        var p: [UInt8] = []
        if c.size == 16 { p.append(0x66) }
        if c.size == 64 { p.append(0x48) }
        let opc: UInt8 = c.size == 8 ? 0xF6 : 0xF7
        let n: UInt8 = c.signed ? 5 : 4
        for memory in [false, true] {
            let code = p + [opc, memory ? (n << 3 | 0x06) : (0xC0 | n << 3 | 3)]
            let raxBefore = (upperGarbage & ~mask) | c.a
            let rdxBefore: UInt64 = 0x7777_6666_5555_4444
            m[.rax] = raxBefore
            m[.rdx] = rdxBefore
            m[.rbx] = c.b
            m[.rsi] = Layout.data
            m.w64(Layout.data, c.b)
            m.setArith(c.carry ? 0 : RFLAGS.cf | RFLAGS.of)
            #expect(m.run(code, steps: 1) == .budget)
            #expect(m.arith & (RFLAGS.cf | RFLAGS.of) == (c.carry ? RFLAGS.cf | RFLAGS.of : 0), "memory \(memory)")
            if c.size == 8 {
                // AX ← product; the rest of RAX and all of RDX unchanged.
                #expect(m[.rax] == (raxBefore & ~0xFFFF) | c.hi << 8 | c.lo)
                #expect(m[.rdx] == rdxBefore)
            } else {
                #expect(m[.rax] == merged(raxBefore, c.lo, c.size), "RAX 0x\(hex(m[.rax]))")
                #expect(m[.rdx] == merged(rdxBefore, c.hi, c.size), "RDX 0x\(hex(m[.rdx]))")
            }
        }
    }

    /// Two- and three-operand IMUL: the product truncated to the destination size.
    @Test func twoAndThreeOperandIMUL() {
        let m = TestMachine.long64(mib: 2)
        func check(_ code: [UInt8], rax: UInt64, rcx: UInt64, result: UInt64, carry: Bool,
                   sourceLocation: SourceLocation = #_sourceLocation) {
            m[.rax] = rax; m[.rcx] = rcx
            m[.rsi] = Layout.data
            m.w64(Layout.data, rcx)
            m.setArith(carry ? 0 : RFLAGS.cf | RFLAGS.of)
            #expect(m.run(code, steps: 1) == .budget, sourceLocation: sourceLocation)
            #expect(m[.rax] == result, "RAX 0x\(hex(m[.rax]))", sourceLocation: sourceLocation)
            #expect(m.arith & (RFLAGS.cf | RFLAGS.of) == (carry ? RFLAGS.cf | RFLAGS.of : 0), sourceLocation: sourceLocation)
        }
        // imul rax, rcx (48 0F AF C1): 2⁶²·2 = 2⁶³ does not fit int64 → truncated, CF OF.
        check([0x48, 0x0F, 0xAF, 0xC1], rax: 0x4000_0000_0000_0000, rcx: 2, result: 0x8000_0000_0000_0000, carry: true)
        // imul rax, [rsi] (48 0F AF 06): same from memory.
        check([0x48, 0x0F, 0xAF, 0x06], rax: 0x4000_0000_0000_0000, rcx: 2, result: 0x8000_0000_0000_0000, carry: true)
        // imul eax, ecx (0F AF C1): 0x7FFFFFFF·(−1) = −0x7FFFFFFF = 0x80000001 fits; zero-extended.
        check([0x0F, 0xAF, 0xC1], rax: 0xFFFF_FFFF_7FFF_FFFF, rcx: 0xFFFF_FFFF, result: 0x8000_0001, carry: false)
        // imul ax, cx (66 0F AF C1): 300·300 = 90000 = 0x15F90 → 0x5F90, CF OF; RAX[63:16] kept.
        check([0x66, 0x0F, 0xAF, 0xC1], rax: 0xAAAA_0000_0000_012C, rcx: 300, result: 0xAAAA_0000_0000_5F90, carry: true)
        // imul rax, rcx, −2 (48 6B C1 FE): 2⁶²·(−2) = −2⁶³ fits exactly → no CF/OF.
        check([0x48, 0x6B, 0xC1, 0xFE], rax: 0, rcx: 0x4000_0000_0000_0000, result: 0x8000_0000_0000_0000, carry: false)
        // imul eax, ecx, 0x10000 (69 C1 00 00 01 00): 0x10000·0x10000 = 2³² → 0, CF OF.
        check([0x69, 0xC1, 0x00, 0x00, 0x01, 0x00], rax: ~0, rcx: 0x10000, result: 0, carry: true)
        // imul ax, cx, 7 (66 6B C1 07): 0x1000·7 = 0x7000 fits int16.
        check([0x66, 0x6B, 0xC1, 0x07], rax: 0x1234_5678_9ABC_DEF0, rcx: 0x1000, result: 0x1234_5678_9ABC_7000, carry: false)
    }

    struct DivCase: Sendable, CustomTestStringConvertible {
        var signed: Bool, size: Int, hi: UInt64, lo: UInt64, divisor: UInt64
        /// nil: #DE
        var quotient: UInt64?, remainder: UInt64 = 0
        var testDescription: String { "\(signed ? "idiv" : "div") \(size)-bit 0x\(hex(hi)):0x\(hex(lo)) / 0x\(hex(divisor))" }
    }

    static let divCases: [DivCase] = [
        // AX = 256 / 3 = 85 rem 1 (8-bit: the dividend is all of AX; hi = AH).
        DivCase(signed: false, size: 8, hi: 0x01, lo: 0x00, divisor: 3, quotient: 0x55, remainder: 1),
        // AX = 0x0400 / 2 = 0x200 > 0xFF → #DE.
        DivCase(signed: false, size: 8, hi: 0x04, lo: 0x00, divisor: 2, quotient: nil),
        // DX:AX = 65536 / 3 = 21845 rem 1.
        DivCase(signed: false, size: 16, hi: 1, lo: 0, divisor: 3, quotient: 0x5555, remainder: 1),
        // EDX:EAX = 2³² / 16 = 0x10000000.
        DivCase(signed: false, size: 32, hi: 1, lo: 0, divisor: 16, quotient: 0x1000_0000, remainder: 0),
        // RDX:RAX = 2⁶⁴ / 3 = 0x5555…5 rem 1.
        DivCase(signed: false, size: 64, hi: 1, lo: 0, divisor: 3, quotient: 0x5555_5555_5555_5555, remainder: 1),
        // RDX = 5 ≥ divisor 5: quotient ≥ 2⁶⁴ → #DE.
        DivCase(signed: false, size: 64, hi: 5, lo: 0, divisor: 5, quotient: nil),
        // Divide by zero → #DE.
        DivCase(signed: false, size: 32, hi: 0, lo: 10, divisor: 0, quotient: nil),
        DivCase(signed: false, size: 64, hi: 0, lo: 10, divisor: 0, quotient: nil),
        // IDIV AX = −7 / 2 = −3 rem −1 (truncation toward zero).
        DivCase(signed: true, size: 8, hi: 0xFF, lo: 0xF9, divisor: 2, quotient: 0xFD, remainder: 0xFF),
        // AX = −256 / 2 = −128 fits int8.
        DivCase(signed: true, size: 8, hi: 0xFF, lo: 0x00, divisor: 2, quotient: 0x80, remainder: 0),
        // AX = 256 / 2 = 128 does not fit int8 → #DE.
        DivCase(signed: true, size: 8, hi: 0x01, lo: 0x00, divisor: 2, quotient: nil),
        // AX = −128 / −1 = 128 → #DE.
        DivCase(signed: true, size: 8, hi: 0xFF, lo: 0x80, divisor: 0xFF, quotient: nil),
        // DX:AX = −32768 / −1 = 32768 → #DE.
        DivCase(signed: true, size: 16, hi: 0xFFFF, lo: 0x8000, divisor: 0xFFFF, quotient: nil),
        // EDX:EAX = −2⁶³ / −1: the quotient 2⁶³ does not fit → #DE (found by the KVM differential:
        // Swift's Int64 division trapped, a crash of the host process).
        DivCase(signed: true, size: 32, hi: 0x8000_0000, lo: 0, divisor: 0xFFFF_FFFF, quotient: nil),
        // EDX:EAX = −2³¹ / −1 = 2³¹ does not fit int32 → #DE; −2³¹ / 1 fits.
        DivCase(signed: true, size: 32, hi: 0xFFFF_FFFF, lo: 0x8000_0000, divisor: 0xFFFF_FFFF, quotient: nil),
        DivCase(signed: true, size: 32, hi: 0xFFFF_FFFF, lo: 0x8000_0000, divisor: 1, quotient: 0x8000_0000, remainder: 0),
        // EDX:EAX = −100 / 7 = −14 rem −2.
        DivCase(signed: true, size: 32, hi: 0xFFFF_FFFF, lo: 0xFFFF_FF9C, divisor: 7, quotient: 0xFFFF_FFF2, remainder: 0xFFFF_FFFE),
        // RDX:RAX = 100 / −7 = −14 rem 2.
        DivCase(signed: true, size: 64, hi: 0, lo: 100, divisor: 0xFFFF_FFFF_FFFF_FFF9, quotient: 0xFFFF_FFFF_FFFF_FFF2, remainder: 2),
        // INT64_MIN / −1 = 2⁶³ does not fit → #DE.
        DivCase(signed: true, size: 64, hi: ~0, lo: 0x8000_0000_0000_0000, divisor: ~0, quotient: nil),
        // INT64_MIN / 1 = INT64_MIN fits.
        DivCase(signed: true, size: 64, hi: ~0, lo: 0x8000_0000_0000_0000, divisor: 1, quotient: 0x8000_0000_0000_0000, remainder: 0),
        // −2⁶⁴ / 2 = −2⁶³ fits (RDX:RAX = 0xFFFF…F:0); −2⁶⁴ / 1 does not.
        DivCase(signed: true, size: 64, hi: ~0, lo: 0, divisor: 2, quotient: 0x8000_0000_0000_0000, remainder: 0),
        DivCase(signed: true, size: 64, hi: ~0, lo: 0, divisor: 1, quotient: nil),
        DivCase(signed: true, size: 64, hi: 0, lo: 1, divisor: 0, quotient: nil),
    ]

    @Test(arguments: divCases)
    func divide(_ c: DivCase) {
        let m = TestMachine.long64(mib: 2)
        var p: [UInt8] = []
        if c.size == 16 { p.append(0x66) }
        if c.size == 64 { p.append(0x48) }
        let opc: UInt8 = c.size == 8 ? 0xF6 : 0xF7
        let n: UInt8 = c.signed ? 7 : 6
        let mask = sizeMask(c.size)
        for memory in [false, true] {
            let code = p + [opc, memory ? (n << 3 | 0x06) : (0xC0 | n << 3 | 3)]
            let raxBefore: UInt64, rdxBefore: UInt64
            if c.size == 8 {
                raxBefore = (upperGarbage & ~0xFFFF) | c.hi << 8 | c.lo
                rdxBefore = 0x7777_6666_5555_4444
            } else {
                raxBefore = (upperGarbage & ~mask) | c.lo
                rdxBefore = (0x7777_6666_5555_4444 & ~mask) | c.hi
            }
            m[.rax] = raxBefore; m[.rdx] = rdxBefore
            m[.rbx] = (0x0BAD_0BAD_0BAD_0BAD & ~mask) | c.divisor
            m[.rsi] = Layout.data
            m.w64(Layout.data, m[.rbx])
            m[.rsp] = Layout.stack
            let stop = m.run(code, steps: 1)
            if let q = c.quotient {
                #expect(stop == .budget, "memory \(memory): \(stop)")
                if c.size == 8 {
                    #expect(m[.rax] == (raxBefore & ~0xFFFF) | c.remainder << 8 | q, "RAX 0x\(hex(m[.rax]))")
                    #expect(m[.rdx] == rdxBefore)
                } else {
                    #expect(m[.rax] == merged(raxBefore, q, c.size), "RAX 0x\(hex(m[.rax]))")
                    #expect(m[.rdx] == merged(rdxBefore, c.remainder, c.size), "RDX 0x\(hex(m[.rdx]))")
                }
            } else {
                // #DE is a fault: delivered through IDT vector 0 with the RIP of the DIV itself,
                // no error code, and no register changed (SDM Vol. 3A §6.15 "Interrupt 0").
                #expect(m.vector(stop) == 0, "memory \(memory): \(stop)")
                let f = m.frame64(errorCode: false)
                #expect(f.rip == Layout.code)
                #expect(f.cs == UInt64(Sel.code64))
                #expect(f.rsp == Layout.stack)
                #expect(m[.rax] == raxBefore)
                #expect(m[.rdx] == rdxBefore)
            }
        }
    }
}
