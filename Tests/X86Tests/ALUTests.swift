// ALU family: ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT, 8/16/32/64-bit, register,
// memory and immediate forms. Expected results and flags from SDM Vol. 1 §3.4.3.1 "Status Flags"
// and each instruction's "Flags Affected" in Vol. 2:
//   CF  carry out of (ADD) / borrow into (SUB) the most-significant bit
//   PF  1 when the least-significant *byte* of the result has an even number of 1 bits
//   AF  carry out of / borrow into bit 3
//   ZF  result = 0;  SF  most-significant bit of the result
//   OF  the signed result does not fit (ADD: both operands of one sign, result of the other;
//       SUB: operands of different signs and the result's sign differs from the minuend's)
// AND/OR/XOR/TEST: "The OF and CF flags are cleared … The state of the AF flag is undefined",
// so AF is not compared for them. INC/DEC: "The CF flag is not affected". NEG: "The CF flag set
// to 0 if the source operand is 0; otherwise it is set to 1. The OF, SF, ZF, AF, and PF flags
// are set according to the result." NOT: "None" of the flags is affected.

import Testing
@testable import X86

enum ALUOp: UInt8, Sendable { case add, or, adc, sbb, and, sub, xor, cmp, test }

/// Flag names ("CF PF AF ZF SF OF", any subset) to an RFLAGS mask.
func flagMask(_ s: String) -> UInt64 {
    var f: UInt64 = 0
    for n in s.split(separator: " ") {
        switch n {
        case "CF": f |= RFLAGS.cf
        case "PF": f |= RFLAGS.pf
        case "AF": f |= RFLAGS.af
        case "ZF": f |= RFLAGS.zf
        case "SF": f |= RFLAGS.sf
        case "OF": f |= RFLAGS.of
        default: fatalError("unknown flag \(n)")
        }
    }
    return f
}

func sizeMask(_ bits: Int) -> UInt64 { bits == 64 ? ~0 : (1 << UInt64(bits)) - 1 }

/// Garbage placed in the bits above an operand, to see merges (8/16-bit) and zero-extension (32-bit).
let upperGarbage: UInt64 = 0xDEAD_BEEF_CAFE_F00D

struct ALUCase: Sendable, CustomTestStringConvertible {
    var op: ALUOp, size: Int, a: UInt64, b: UInt64, cfIn: Bool = false
    var result: UInt64, flags: String
    var testDescription: String { "\(op) \(size)-bit 0x\(hex(a)), 0x\(hex(b))\(cfIn ? " CF=1" : "")" }
    var writes: Bool { op != .cmp && op != .test }
    /// Flags the SDM leaves undefined for this instruction.
    var undefinedFlags: UInt64 { [.and, .or, .xor, .test].contains(op) ? RFLAGS.af : 0 }
}

let aluCases: [ALUCase] = [
    // ADD
    // 0xFF+0x01 = 0x100 → 0x00: carry out (CF), 0 has no 1 bits (PF), F+1 carries out of bit 3
    // (AF), zero (ZF); −1 + 1 = 0 fits (no OF).
    ALUCase(op: .add, size: 8, a: 0xFF, b: 0x01, result: 0x00, flags: "CF PF AF ZF"),
    // 127 + 1 = 128 does not fit in int8: OF; 0x80 has one 1 bit (PF=0); F+1 → AF; MSB set → SF.
    ALUCase(op: .add, size: 8, a: 0x7F, b: 0x01, result: 0x80, flags: "AF SF OF"),
    // −128 + −128 = −256: carry out, result 0x00 (PF ZF), two negatives give a non-negative: OF.
    ALUCase(op: .add, size: 8, a: 0x80, b: 0x80, result: 0x00, flags: "CF PF ZF OF"),
    // 0x1234+0x4321 = 0x5555: low byte 01010101 has four 1s (PF); 4+1 no nibble carry.
    ALUCase(op: .add, size: 16, a: 0x1234, b: 0x4321, result: 0x5555, flags: "PF"),
    // 8+8 = 0x10: carry out of bit 3 (AF); 0x10 has one 1 bit (no PF).
    ALUCase(op: .add, size: 16, a: 0x0008, b: 0x0008, result: 0x0010, flags: "AF"),
    // 0xFFFFFFFF+1 wraps to 0 with carry; the 32-bit register write zero-extends.
    ALUCase(op: .add, size: 32, a: 0xFFFF_FFFF, b: 0x0000_0001, result: 0, flags: "CF PF AF ZF"),
    // 0x7FFFFFFF + 0x7FFFFFFF = 0xFFFFFFFE: positive + positive = negative (OF, SF); low byte
    // 0xFE has seven 1s (no PF); F+F carries out of bit 3 (AF); no carry out of bit 31.
    ALUCase(op: .add, size: 32, a: 0x7FFF_FFFF, b: 0x7FFF_FFFF, result: 0xFFFF_FFFE, flags: "AF SF OF"),
    // INT64_MAX + 1 = 0x8000…0: low byte 0 (PF), F+1 (AF), sign flips (SF OF).
    ALUCase(op: .add, size: 64, a: 0x7FFF_FFFF_FFFF_FFFF, b: 1, result: 0x8000_0000_0000_0000, flags: "PF AF SF OF"),
    // INT64_MIN + (−1) = 0x7FFF…F with carry: negative + negative = positive (OF); low byte 0xFF
    // (eight 1s, PF); 0+F no nibble carry.
    ALUCase(op: .add, size: 64, a: 0x8000_0000_0000_0000, b: 0xFFFF_FFFF_FFFF_FFFF, result: 0x7FFF_FFFF_FFFF_FFFF, flags: "CF PF OF"),

    // ADC: DEST + SRC + CF
    // 0xFF + 0 + 1 = 0x100 → 0: CF, PF, AF (F+0+1), ZF; −1+0+1 = 0 fits.
    ALUCase(op: .adc, size: 8, a: 0xFF, b: 0x00, cfIn: true, result: 0x00, flags: "CF PF AF ZF"),
    // 0x1000 + 0x2000 + 0 = 0x3000: only PF (low byte 0).
    ALUCase(op: .adc, size: 16, a: 0x1000, b: 0x2000, cfIn: false, result: 0x3000, flags: "PF"),
    // 0xFFFFFFFF + 0xFFFFFFFF + 1 = 0x1FFFFFFFF: result 0xFFFFFFFF, CF; F+F+1 = 0x1F (AF); PF (0xFF);
    // SF; −1 + −1 + 1 = −1 fits (no OF).
    ALUCase(op: .adc, size: 32, a: 0xFFFF_FFFF, b: 0xFFFF_FFFF, cfIn: true, result: 0xFFFF_FFFF, flags: "CF PF AF SF"),
    // INT64_MAX + 0 + 1 overflows: PF AF SF OF.
    ALUCase(op: .adc, size: 64, a: 0x7FFF_FFFF_FFFF_FFFF, b: 0, cfIn: true, result: 0x8000_0000_0000_0000, flags: "PF AF SF OF"),
    // 2⁶⁴−1 + 2⁶⁴−1 + 1 = 2⁶⁵−1: the carry-in must not be lost at 64 bits: CF, result all ones.
    ALUCase(op: .adc, size: 64, a: ~0, b: ~0, cfIn: true, result: ~0, flags: "CF PF AF SF"),
    // 2⁶⁴−1 + 0 + 1 = 2⁶⁴ → 0 with CF (carry produced only by the carry-in).
    ALUCase(op: .adc, size: 64, a: ~0, b: 0, cfIn: true, result: 0, flags: "CF PF AF ZF"),

    // SUB: DEST − SRC
    // 0 − 1 = 0xFF: borrow (CF), eight 1s (PF), nibble borrow (AF), SF; 0 − 1 = −1 fits.
    ALUCase(op: .sub, size: 8, a: 0x00, b: 0x01, result: 0xFF, flags: "CF PF AF SF"),
    // −128 − 1 = −129 does not fit: OF; 0x7F has seven 1s (no PF); nibble borrow (AF).
    ALUCase(op: .sub, size: 8, a: 0x80, b: 0x01, result: 0x7F, flags: "AF OF"),
    // 127 − (−1) = 128 does not fit: OF, SF; 0x7F < 0xFF unsigned: CF; F−F no nibble borrow.
    ALUCase(op: .sub, size: 8, a: 0x7F, b: 0xFF, result: 0x80, flags: "CF SF OF"),
    // 0x10 − 1 = 0x0F: nibble borrow (AF), four 1s (PF).
    ALUCase(op: .sub, size: 16, a: 0x0010, b: 0x0001, result: 0x000F, flags: "PF AF"),
    // 5 − 5 = 0.
    ALUCase(op: .sub, size: 32, a: 5, b: 5, result: 0, flags: "PF ZF"),
    // 0 − INT64_MIN = 2⁶³ does not fit: OF, SF; borrow (CF); low byte 0 (PF); 0−0 no nibble borrow.
    ALUCase(op: .sub, size: 64, a: 0, b: 0x8000_0000_0000_0000, result: 0x8000_0000_0000_0000, flags: "CF PF SF OF"),

    // SBB: DEST − (SRC + CF)
    // 0 − 0 − 1 = 0xFF: CF PF AF SF.
    ALUCase(op: .sbb, size: 8, a: 0x00, b: 0x00, cfIn: true, result: 0xFF, flags: "CF PF AF SF"),
    // 0 − 0xFFFF − 1 = −0x10000 → 0 with borrow; AF (0−F−1); ZF; 0 − (−1) − 1 = 0 fits.
    ALUCase(op: .sbb, size: 16, a: 0x0000, b: 0xFFFF, cfIn: true, result: 0x0000, flags: "CF PF AF ZF"),
    // INT32_MIN − 0 − 1 overflows to 0x7FFFFFFF: PF (0xFF), AF, OF.
    ALUCase(op: .sbb, size: 32, a: 0x8000_0000, b: 0, cfIn: true, result: 0x7FFF_FFFF, flags: "PF AF OF"),
    // 5 − 4 − 1 = 0.
    ALUCase(op: .sbb, size: 64, a: 5, b: 4, cfIn: true, result: 0, flags: "PF ZF"),
    // 0 − (2⁶⁴−1) − 1: borrow must include the carry-in at 64 bits: result 0, CF.
    ALUCase(op: .sbb, size: 64, a: 0, b: ~0, cfIn: true, result: 0, flags: "CF PF AF ZF"),

    // AND/OR/XOR: CF = OF = 0 (the preset flags have them set), SF ZF PF from the result.
    ALUCase(op: .and, size: 8, a: 0xF0, b: 0x0F, result: 0x00, flags: "PF ZF"),
    // 0x80000003 & 0xFFFFFFFF: low byte 0x03 has two 1s (PF), MSB (SF).
    ALUCase(op: .and, size: 32, a: 0x8000_0003, b: 0xFFFF_FFFF, result: 0x8000_0003, flags: "PF SF"),
    // low byte 0x81 has two 1s (PF); MSB set (SF); b = −127 also runs as 83 /4 ib.
    ALUCase(op: .and, size: 64, a: 0x8000_0000_0000_00FF, b: 0xFFFF_FFFF_FFFF_FF81, result: 0x8000_0000_0000_0081, flags: "PF SF"),
    ALUCase(op: .and, size: 16, a: 0x8001, b: 0x0001, result: 0x0001, flags: ""),
    ALUCase(op: .or, size: 16, a: 0x0000, b: 0x0000, result: 0x0000, flags: "PF ZF"),
    ALUCase(op: .or, size: 8, a: 0x80, b: 0x01, result: 0x81, flags: "PF SF"),
    ALUCase(op: .or, size: 32, a: 0x0000_0100, b: 0x0000_0001, result: 0x0000_0101, flags: ""),
    ALUCase(op: .or, size: 64, a: 1, b: 2, result: 3, flags: "PF"),
    ALUCase(op: .xor, size: 64, a: 0x1234_5678_9ABC_DEF0, b: 0x1234_5678_9ABC_DEF0, result: 0, flags: "PF ZF"),
    ALUCase(op: .xor, size: 8, a: 0xAA, b: 0x55, result: 0xFF, flags: "PF SF"),
    ALUCase(op: .xor, size: 32, a: 0x8000_0000, b: 0x0000_0001, result: 0x8000_0001, flags: "SF"),
    // 0xF0 ^ 0x03 = 0xF3: six 1s (PF).
    ALUCase(op: .xor, size: 16, a: 0x00F0, b: 0x0003, result: 0x00F3, flags: "PF"),
    // 0xF0 ^ 0x01 = 0xF1: five 1s (no PF).
    ALUCase(op: .xor, size: 16, a: 0x00F0, b: 0x0001, result: 0x00F1, flags: ""),

    // CMP: flags of DEST − SRC, DEST unchanged (so a 32-bit CMP does not zero-extend either).
    ALUCase(op: .cmp, size: 8, a: 0x00, b: 0x01, result: 0x00, flags: "CF PF AF SF"),
    // 0x7FFF − 0x8000 = 0xFFFF: borrow (CF), PF, SF; 32767 − (−32768) = 65535 does not fit (OF).
    ALUCase(op: .cmp, size: 16, a: 0x7FFF, b: 0x8000, result: 0x7FFF, flags: "CF PF SF OF"),
    ALUCase(op: .cmp, size: 32, a: 7, b: 7, result: 7, flags: "PF ZF"),
    // INT64_MIN − 1 = 0x7FFF…F: OF, PF (0xFF), AF.
    ALUCase(op: .cmp, size: 64, a: 0x8000_0000_0000_0000, b: 1, result: 0x8000_0000_0000_0000, flags: "PF AF OF"),

    // TEST: flags of DEST AND SRC, nothing written.
    ALUCase(op: .test, size: 8, a: 0x0F, b: 0xF0, result: 0x0F, flags: "PF ZF"),
    ALUCase(op: .test, size: 16, a: 0x8003, b: 0xFFFF, result: 0x8003, flags: "PF SF"),
    ALUCase(op: .test, size: 32, a: 0x1, b: 0x3, result: 0x1, flags: ""),
    ALUCase(op: .test, size: 64, a: 0x8000_0000_0000_0000, b: 0x8000_0000_0000_0000, result: 0x8000_0000_0000_0000, flags: "PF SF"),
]

/// The encodings exercised for a binary ALU case. Operand a lives in RAX (or at [RBX]), b in RCX
/// (or at [RBX], or an immediate).
enum ALUForm: CaseIterable { case regReg, memReg, regMem, immediate, accumulator }

/// Bytes for `op` in `form` (SDM Vol. 2 Appendix A, one-byte opcode map: ALU op k at k·8 + 0…5,
/// group 1 at 80/81/83 with /k; TEST at 84/85 and A8/A9, F6/F7 /0). Nil when the form does not
/// exist for the case (e.g. TEST r, m is the same instruction as TEST m, r; an immediate that
/// does not fit).
func aluBytes(_ c: ALUCase, _ form: ALUForm) -> [UInt8]? {
    var p: [UInt8] = []
    if c.size == 16 { p.append(0x66) }
    if c.size == 64 { p.append(0x48) }
    let wide: UInt8 = c.size == 8 ? 0 : 1
    let k = c.op.rawValue
    let isTest = c.op == .test
    switch form {
    case .regReg:   // op rax, rcx: ModRM 11 001 000 = C8
        return p + [isTest ? 0x84 + wide : k * 8 + wide, 0xC8]
    case .memReg:   // op [rbx], rcx: ModRM 00 001 011 = 0B
        return p + [isTest ? 0x84 + wide : k * 8 + wide, 0x0B]
    case .regMem:   // op rax, [rbx]: ModRM 00 000 011 = 03 (b lives in memory)
        if isTest { return nil }
        return p + [k * 8 + 2 + wide, 0x03]
    case .immediate:
        let reg = isTest ? UInt8(0) : k
        let opc: UInt8 = isTest ? 0xF6 + wide : (c.size == 8 ? 0x80 : 0x81)
        switch c.size {
        case 8: return p + [opc, 0xC0 | reg << 3, UInt8(c.b)]
        case 16: return p + [opc, 0xC0 | reg << 3] + le(UInt16(c.b))
        case 32: return p + [opc, 0xC0 | reg << 3] + le(UInt32(c.b))
        default:
            // imm32 sign-extended to 64 bits: only if b is such a value.
            guard Int64(bitPattern: c.b) == Int64(Int32(truncatingIfNeeded: c.b)) else { return nil }
            if !isTest, Int64(bitPattern: c.b) == Int64(Int8(truncatingIfNeeded: c.b)) {
                return p + [0x83, 0xC0 | reg << 3, UInt8(truncatingIfNeeded: c.b)]   // 83 /k ib
            }
            return p + [opc, 0xC0 | reg << 3] + le(UInt32(truncatingIfNeeded: c.b))
        }
    case .accumulator:   // op al/ax/eax/rax, imm: k·8+4 / k·8+5, TEST A8/A9
        let opc: UInt8 = isTest ? 0xA8 + wide : k * 8 + 4 + wide
        switch c.size {
        case 8: return p + [opc, UInt8(c.b)]
        case 16: return p + [opc] + le(UInt16(c.b))
        case 32: return p + [opc] + le(UInt32(c.b))
        default:
            guard Int64(bitPattern: c.b) == Int64(Int32(truncatingIfNeeded: c.b)) else { return nil }
            return p + [opc] + le(UInt32(truncatingIfNeeded: c.b))
        }
    }
}

/// Expected full 64-bit register after writing `v` with operand size `bits` over `old`
/// (SDM Vol. 1 §3.4.1.1: 32-bit results are zero-extended; 8/16-bit results leave the rest).
func merged(_ old: UInt64, _ v: UInt64, _ bits: Int) -> UInt64 {
    bits == 32 ? v & 0xFFFF_FFFF : (old & ~sizeMask(bits)) | (v & sizeMask(bits))
}

@Suite("ALU: ADD OR ADC SBB AND SUB XOR CMP TEST")
struct ALUTests {
    @Test(arguments: aluCases)
    func binary(_ c: ALUCase) {
        let m = TestMachine.long64(mib: 2)
        let mask = sizeMask(c.size)
        let expectedFlags = flagMask(c.flags)
        // Preset every arithmetic flag to the opposite of its expected value (CF = the carry-in
        // for ADC/SBB), so a flag the instruction fails to write shows up.
        var preset = RFLAGS.arith & ~expectedFlags
        if c.op == .adc || c.op == .sbb { preset = (preset & ~RFLAGS.cf) | (c.cfIn ? RFLAGS.cf : 0) }
        for form in ALUForm.allCases {
            guard let code = aluBytes(c, form) else { continue }
            let raxBefore = (upperGarbage & ~mask) | c.a
            let memBefore: UInt64 = 0x1122_3344_5566_7788
            m[.rax] = raxBefore
            m[.rcx] = (0x0BAD_0BAD_0BAD_0BAD & ~mask) | c.b
            m[.rbx] = Layout.data
            switch form {
            case .memReg: m.w64(Layout.data, (memBefore & ~mask) | c.a)
            case .regMem: m.w64(Layout.data, (memBefore & ~mask) | c.b)
            default: m.w64(Layout.data, memBefore)
            }
            m.setArith(preset)
            let stop = m.run(code, steps: 1)
            #expect(stop == .budget, "\(form)")
            #expect(m.rip == Layout.code + UInt64(code.count), "\(form)")
            #expect(flagNames(m.arith & ~c.undefinedFlags) == flagNames(expectedFlags & ~c.undefinedFlags), "\(form)")
            if form == .memReg {
                let expected = c.writes ? (memBefore & ~mask) | c.result : (memBefore & ~mask) | c.a
                #expect(m.r64(Layout.data) == expected, "\(form): memory")
                #expect(m[.rax] == raxBefore, "\(form): RAX untouched")
            } else {
                let expected = c.writes ? merged(raxBefore, c.result, c.size) : raxBefore
                #expect(m[.rax] == expected, "\(form): RAX = 0x\(hex(m[.rax])), expected 0x\(hex(expected))")
            }
        }
    }
}

// MARK: - INC DEC NEG NOT

enum UnaryOp: UInt8, Sendable { case inc = 0, dec = 1, not = 2, neg = 3 }

struct UnaryCase: Sendable, CustomTestStringConvertible {
    var op: UnaryOp, size: Int, a: UInt64, cfIn: Bool = false, result: UInt64, flags: String
    var testDescription: String { "\(op) \(size)-bit 0x\(hex(a))\(cfIn ? " CF=1" : "")" }
}

let unaryCases: [UnaryCase] = [
    // INC: CF is not affected — it keeps the preset value (listed in flags when cfIn).
    // 0xFF+1 = 0: PF AF ZF.
    UnaryCase(op: .inc, size: 8, a: 0xFF, cfIn: false, result: 0x00, flags: "PF AF ZF"),
    UnaryCase(op: .inc, size: 8, a: 0xFF, cfIn: true, result: 0x00, flags: "CF PF AF ZF"),
    // 0x7FFF+1 = 0x8000: low byte 0 (PF), F+1 (AF), SF, 32767+1 overflows (OF).
    UnaryCase(op: .inc, size: 16, a: 0x7FFF, cfIn: false, result: 0x8000, flags: "PF AF SF OF"),
    // 32-bit: wraps to 0 and zero-extends; CF (preset 1) survives.
    UnaryCase(op: .inc, size: 32, a: 0xFFFF_FFFF, cfIn: true, result: 0, flags: "CF PF AF ZF"),
    UnaryCase(op: .inc, size: 64, a: 0x7FFF_FFFF_FFFF_FFFF, cfIn: true, result: 0x8000_0000_0000_0000, flags: "CF PF AF SF OF"),
    // 0x41+1 = 0x42: two 1 bits (PF), no nibble carry.
    UnaryCase(op: .inc, size: 64, a: 0x41, cfIn: false, result: 0x42, flags: "PF"),
    // DEC: 0 − 1 = 0xFF: PF AF SF; no CF change.
    UnaryCase(op: .dec, size: 8, a: 0x00, cfIn: false, result: 0xFF, flags: "PF AF SF"),
    // 0x10 − 1 = 0x0F: PF (four 1s), AF (nibble borrow).
    UnaryCase(op: .dec, size: 16, a: 0x0010, cfIn: true, result: 0x000F, flags: "CF PF AF"),
    UnaryCase(op: .dec, size: 32, a: 1, cfIn: true, result: 0, flags: "CF PF ZF"),
    // INT64_MIN − 1 overflows to 0x7FFF…F: PF (0xFF) AF OF.
    UnaryCase(op: .dec, size: 64, a: 0x8000_0000_0000_0000, cfIn: false, result: 0x7FFF_FFFF_FFFF_FFFF, flags: "PF AF OF"),
    // NEG = 0 − x; CF = (x ≠ 0).
    UnaryCase(op: .neg, size: 8, a: 0, result: 0, flags: "PF ZF"),
    // −(−128) = −128 does not fit: OF; 0x80 (one bit: no PF); 0 − 0 nibble: no AF; CF (x ≠ 0).
    UnaryCase(op: .neg, size: 8, a: 0x80, result: 0x80, flags: "CF SF OF"),
    UnaryCase(op: .neg, size: 16, a: 0x0001, result: 0xFFFF, flags: "CF PF AF SF"),
    UnaryCase(op: .neg, size: 32, a: 1, result: 0xFFFF_FFFF, flags: "CF PF AF SF"),
    // 0 − 0x10 = 0xF0: four 1s (PF), 0−0 in the low nibble (no AF), SF, CF.
    UnaryCase(op: .neg, size: 64, a: 0x10, result: 0xFFFF_FFFF_FFFF_FFF0, flags: "CF PF SF"),
    UnaryCase(op: .neg, size: 64, a: 0x8000_0000_0000_0000, result: 0x8000_0000_0000_0000, flags: "CF PF SF OF"),
    // NOT: bitwise complement, flags untouched (the test presets a pattern and expects it back).
    UnaryCase(op: .not, size: 8, a: 0x0F, result: 0xF0, flags: "CF ZF OF"),
    UnaryCase(op: .not, size: 16, a: 0x1234, result: 0xEDCB, flags: "PF SF"),
    UnaryCase(op: .not, size: 32, a: 0, result: 0xFFFF_FFFF, flags: "AF"),
    UnaryCase(op: .not, size: 64, a: 0x5555_5555_5555_5555, result: 0xAAAA_AAAA_AAAA_AAAA, flags: ""),
]

@Suite("ALU: INC DEC NEG NOT")
struct UnaryTests {
    @Test(arguments: unaryCases)
    func unary(_ c: UnaryCase) {
        let m = TestMachine.long64(mib: 2)
        let mask = sizeMask(c.size)
        let expected = flagMask(c.flags)
        let preset: UInt64
        switch c.op {
        case .not: preset = expected                                            // NOT changes nothing
        case .inc, .dec: preset = (RFLAGS.arith & ~expected & ~RFLAGS.cf) | (c.cfIn ? RFLAGS.cf : 0)
        case .neg: preset = RFLAGS.arith & ~expected
        }
        var prefix: [UInt8] = []
        if c.size == 16 { prefix.append(0x66) }
        if c.size == 64 { prefix.append(0x48) }
        let (opc, sub): (UInt8, UInt8) = switch c.op {
        case .inc: (c.size == 8 ? 0xFE : 0xFF, 0)     // FE/FF /0
        case .dec: (c.size == 8 ? 0xFE : 0xFF, 1)     // FE/FF /1
        case .not: (c.size == 8 ? 0xF6 : 0xF7, 2)     // F6/F7 /2
        case .neg: (c.size == 8 ? 0xF6 : 0xF7, 3)     // F6/F7 /3
        }
        // Register form (ModRM 11 sub 000: RAX) and memory form (00 sub 011: [RBX]).
        for memory in [false, true] {
            let code = prefix + [opc, (memory ? 0x03 : 0xC0) | sub << 3]
            let raxBefore = (upperGarbage & ~mask) | c.a
            let memBefore = (0x1122_3344_5566_7788 & ~mask) | c.a
            m[.rax] = raxBefore
            m[.rbx] = Layout.data
            m.w64(Layout.data, memBefore)
            m.setArith(preset)
            #expect(m.run(code, steps: 1) == .budget)
            #expect(m.flagString == flagNames(expected), "memory: \(memory)")
            if memory {
                #expect(m.r64(Layout.data) == (memBefore & ~mask) | c.result)
                #expect(m[.rax] == raxBefore)
            } else {
                #expect(m[.rax] == merged(raxBefore, c.result, c.size), "RAX = 0x\(hex(m[.rax]))")
            }
        }
    }

    /// INC/DEC r32 fast forms in 32-bit mode use the one-byte 40+r/48+r encodings (REX in 64-bit
    /// mode): INC EAX = 40, DEC ECX = 49. CF stays.
    @Test func incDecShortFormsIn32BitMode() {
        let m = TestMachine.protected32()
        m[.rax] = 0x7FFF_FFFF
        m[.rcx] = 0
        m.setArith(RFLAGS.cf)
        // inc eax; dec ecx
        #expect(m.run([0x40, 0x49], steps: 2) == .budget)
        #expect(m[.rax] == 0x8000_0000)
        // last: DEC ECX 0 → 0xFFFFFFFF: PF AF SF, CF kept.
        #expect(m[.rcx] == 0xFFFF_FFFF)
        #expect(m.flagString == "CF PF AF SF")
    }
}

// MARK: - Register naming and partial writes

@Suite("Registers: byte registers, merges, zero-extension")
struct RegisterNamingTests {
    /// Without REX, byte-register numbers 4–7 are AH CH DH BH; with any REX prefix they are
    /// SPL BPL SIL DIL (SDM Vol. 2 §2.2.1.2 "More on REX Prefix Fields", Table 3-1 note).
    @Test func highByteRegistersVersusREX() {
        let m = TestMachine.long64(mib: 2)
        for r in R.allRegs { m[r] = 0x0101_0101_0101_0101 &* UInt64(r.rawValue + 1) }
        let before = R.allRegs.map { m[$0] }
        // mov ah,0x12 / mov ch,0x34 / mov dh,0x56 / mov bh,0x78          (B4 12, B5 34, B6 56, B7 78)
        // mov spl,0x9a / mov bpl,0xbc / mov sil,0xde / mov dil,0xf0       (40 B4 9A, 40 B5 BC, 40 B6 DE, 40 B7 F0)
        let code: [UInt8] = [0xB4, 0x12, 0xB5, 0x34, 0xB6, 0x56, 0xB7, 0x78,
                             0x40, 0xB4, 0x9A, 0x40, 0xB5, 0xBC, 0x40, 0xB6, 0xDE, 0x40, 0xB7, 0xF0]
        #expect(m.run(code, steps: 8) == .budget)
        func hi(_ old: UInt64, _ b: UInt64) -> UInt64 { (old & ~0xFF00) | b << 8 }
        func lo(_ old: UInt64, _ b: UInt64) -> UInt64 { (old & ~0xFF) | b }
        #expect(m[.rax] == hi(before[0], 0x12))
        #expect(m[.rcx] == hi(before[1], 0x34))
        #expect(m[.rdx] == hi(before[2], 0x56))
        #expect(m[.rbx] == hi(before[3], 0x78))
        #expect(m[.rsp] == lo(before[4], 0x9A))
        #expect(m[.rbp] == lo(before[5], 0xBC))
        #expect(m[.rsi] == lo(before[6], 0xDE))
        #expect(m[.rdi] == lo(before[7], 0xF0))
        for r in 8..<16 { #expect(m.cpu.regs[r] == before[r]) }
    }

    /// add ah, ch (00 EC) reads and writes bits 15:8; add spl, bpl (40 00 EC) bits 7:0 of RSP/RBP.
    @Test func highByteALU() {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 0xAAAA_AAAA_AAAA_F0AA     // AH = 0xF0
        m[.rcx] = 0xBBBB_BBBB_BBBB_20BB     // CH = 0x20
        m[.rsp] = 0x0000_0000_0008_00F0     // SPL = 0xF0
        m[.rbp] = 0x0000_0000_0000_0020     // BPL = 0x20
        #expect(m.run([0x00, 0xEC], steps: 1) == .budget)
        // 0xF0 + 0x20 = 0x110 → 0x10 with CF; 0x10 one bit (no PF); 0+0 no AF; −16 + 32 = 16 (no OF).
        #expect(m[.rax] == 0xAAAA_AAAA_AAAA_10AA)
        #expect(m.flagString == "CF")
        #expect(m.run([0x40, 0x00, 0xEC], steps: 1) == .budget)
        #expect(m[.rsp] == 0x0000_0000_0008_0010)
        #expect(m[.rax] == 0xAAAA_AAAA_AAAA_10AA)
    }

    /// REX.B/REX.R select R8–R15: add r8b, r9b (45 00 C8); 16-bit add ax, cx (66 01 C8) merges;
    /// 32-bit mov eax, ecx (89 C8) and xor r10d, r10d (45 31 D2) zero the upper halves.
    @Test func extendedRegistersAndWidths() {
        let m = TestMachine.long64(mib: 2)
        m[.r8] = 0xFFFF_FFFF_FFFF_FF01
        m[.r9] = 0x0000_0000_0000_0002
        m[.rax] = 0x1234_5678_9ABC_FFFF
        m[.rcx] = 0x0000_0000_0000_0001
        m[.r10] = ~0
        let code: [UInt8] = [0x45, 0x00, 0xC8, 0x66, 0x01, 0xC8]
        #expect(m.run(code, steps: 2) == .budget)
        #expect(m[.r8] == 0xFFFF_FFFF_FFFF_FF03)
        #expect(m[.rax] == 0x1234_5678_9ABC_0000)      // 0xFFFF + 1 = 0x0000 in AX only
        #expect(m.flagString == "CF PF AF ZF")
        m[.rcx] = 0xFFFF_FFFF_8000_0000
        #expect(m.run([0x89, 0xC8, 0x45, 0x31, 0xD2], steps: 2) == .budget)
        #expect(m[.rax] == 0x0000_0000_8000_0000)
        #expect(m[.r10] == 0)
    }
}

extension R {
    static let allRegs: [R] = (0..<16).map { R(rawValue: $0)! }
}
