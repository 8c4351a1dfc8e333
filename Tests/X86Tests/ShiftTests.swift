// Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR (SDM Vol. 2 "SAL/SAR/SHL/SHR—Shift",
// "RCL/RCR/ROL/ROR—Rotate") and SHLD/SHRD ("SHLD—Double Precision Shift Left", "SHRD").
//
// Rules used for the expected values:
// - The count is masked to 5 bits (6 with REX.W). "If the count is 0, the flags are not affected"
//   and the destination is unchanged.
// - Shifts: CF = last bit shifted out ("undefined for SHL and SHR instructions where the count
//   is greater than or equal to the size … of the destination"); OF only for 1-bit shifts
//   (SHL: MSB(result) XOR CF; SAR: 0; SHR: MSB of the original operand), undefined otherwise;
//   SF ZF PF from the result; AF undefined for a non-zero count.
// - ROL/ROR: tempCOUNT = masked count MOD size; if the masked count ≠ 0, ROL: CF = LSB(result),
//   ROR: CF = MSB(result); OF for a count of 1: ROL MSB(result) XOR CF, ROR MSB XOR MSB−1 of the
//   result. "All other flags are unaffected."
// - RCL/RCR: a (size+1)-bit rotation through CF, tempCOUNT = masked count MOD 9 (8-bit), MOD 17
//   (16-bit), plain masked count otherwise; OF for count 1: RCL MSB(result) XOR CF (after);
//   RCR MSB(dest) XOR CF (before the rotation).
// - SHLD/SHRD: CF = last bit shifted out of the destination; OF for count 1: sign changed;
//   AF undefined; count 0: nothing changes.

import Testing
@testable import X86

enum ShiftOp: UInt8, Sendable { case rol = 0, ror = 1, rcl = 2, rcr = 3, shl = 4, shr = 5, sar = 7 }

struct ShiftCase: Sendable, CustomTestStringConvertible {
    var op: ShiftOp, size: Int, a: UInt64, count: UInt8
    /// Flags before the instruction (CF is the carry-in of RCL/RCR). Nil: the complement of the
    /// expected flags, so any flag the instruction should write is seen to change.
    var preset: String? = nil
    var result: UInt64, flags: String
    /// Flags the SDM leaves undefined for this case (not compared).
    var undefined: String = ""
    var testDescription: String { "\(op) \(size)-bit 0x\(hex(a)), \(count)\(preset.map { " [\($0)]" } ?? "")" }
}

let shiftCases: [ShiftCase] = [
    // SHL 0x81,1 = 0x02: bit 7 out → CF=1; OF = MSB(0x02)=0 XOR CF=1 → 1; 0x02 has one 1 bit (no PF).
    ShiftCase(op: .shl, size: 8, a: 0x81, count: 1, result: 0x02, flags: "CF OF", undefined: "AF"),
    // SHL 0x40,1 = 0x80: CF=0; OF = 1 XOR 0 = 1; SF.
    ShiftCase(op: .shl, size: 8, a: 0x40, count: 1, result: 0x80, flags: "SF OF", undefined: "AF"),
    // SHL 0xC0,1 = 0x80: CF=1, OF = 1 XOR 1 = 0.
    ShiftCase(op: .shl, size: 8, a: 0xC0, count: 1, result: 0x80, flags: "CF SF", undefined: "AF"),
    // SHL 0x10000001,4 = 0x00000010: the last bit out is bit 28 = 1 → CF.
    ShiftCase(op: .shl, size: 32, a: 0x1000_0001, count: 4, result: 0x10, flags: "CF", undefined: "AF OF"),
    // Masked count: 33 & 0x1F = 1 → as SHL 1: 0x80000001 → 0x00000002, CF=1, OF = 0 XOR 1.
    ShiftCase(op: .shl, size: 32, a: 0x8000_0001, count: 33, result: 0x2, flags: "CF OF", undefined: "AF"),
    // 64-bit: count masked to 6 bits: 65 & 0x3F = 1.
    ShiftCase(op: .shl, size: 64, a: 0xC000_0000_0000_0000, count: 65, result: 0x8000_0000_0000_0000, flags: "CF PF SF", undefined: "AF"),
    // 8-bit SHL by 9 (masked count 9 ≥ 8): result 0; CF undefined (count ≥ size).
    ShiftCase(op: .shl, size: 8, a: 0xFF, count: 9, result: 0, flags: "PF ZF", undefined: "CF AF OF"),
    // 16-bit SHL by 16: result 0, CF undefined.
    ShiftCase(op: .shl, size: 16, a: 0xFFFF, count: 16, result: 0, flags: "PF ZF", undefined: "CF AF OF"),
    // 64-bit SHL by 63: 0x3 → 0x8000…0, last bit out = bit 1 = 1.
    ShiftCase(op: .shl, size: 64, a: 0x3, count: 63, result: 0x8000_0000_0000_0000, flags: "CF PF SF", undefined: "AF OF"),

    // SHR 0x81,1 = 0x40: CF = bit 0 = 1; OF = MSB of the original = 1.
    ShiftCase(op: .shr, size: 8, a: 0x81, count: 1, result: 0x40, flags: "CF OF", undefined: "AF"),
    // SHR 0xFFFFFFFF,1 = 0x7FFFFFFF: CF, OF (original MSB), PF (0xFF).
    ShiftCase(op: .shr, size: 32, a: 0xFFFF_FFFF, count: 1, result: 0x7FFF_FFFF, flags: "CF PF OF", undefined: "AF"),
    // SHR 0x8000,15 = 1: last bit out = bit 14 = 0.
    ShiftCase(op: .shr, size: 16, a: 0x8000, count: 15, result: 1, flags: "", undefined: "AF OF"),
    // SHR 0x4000…0,63 → 0: last bit out = bit 62 = 1.
    ShiftCase(op: .shr, size: 64, a: 0x4000_0000_0000_0000, count: 63, result: 0, flags: "CF PF ZF", undefined: "AF OF"),

    // SAR 0x81,1 = 0xC0: CF=1, OF=0, SF; 0xC0 has two 1s (PF).
    ShiftCase(op: .sar, size: 8, a: 0x81, count: 1, result: 0xC0, flags: "CF PF SF", undefined: "AF"),
    // SAR 0x7FFF…F,1 = 0x3FFF…F: CF=1, OF=0, PF (0xFF).
    ShiftCase(op: .sar, size: 64, a: 0x7FFF_FFFF_FFFF_FFFF, count: 1, result: 0x3FFF_FFFF_FFFF_FFFF, flags: "CF PF", undefined: "AF"),
    // SAR 0x80000000,31 = 0xFFFFFFFF: last bit out = bit 30 = 0.
    ShiftCase(op: .sar, size: 32, a: 0x8000_0000, count: 31, result: 0xFFFF_FFFF, flags: "PF SF", undefined: "AF OF"),
    // SAR 0x8000 by 20 (≥ 16, still < 32 so not masked away): every iteration shifts the sign
    // in; CF (not undefined for SAR) is the last bit out = the sign = 1.
    ShiftCase(op: .sar, size: 16, a: 0x8000, count: 20, result: 0xFFFF, flags: "CF PF SF", undefined: "AF OF"),

    // ROL 0x81,1 = 0x03: CF = LSB = 1; OF = MSB(0)… = 0 XOR 1 = 1; SF ZF AF PF unaffected (preset).
    ShiftCase(op: .rol, size: 8, a: 0x81, count: 1, preset: "PF AF ZF SF", result: 0x03, flags: "CF PF AF ZF SF OF"),
    // ROL 0x81 by 8: masked count 8 ≠ 0 but 8 MOD 8 = 0 → unchanged; CF = LSB(DEST) = 1.
    ShiftCase(op: .rol, size: 8, a: 0x81, count: 8, preset: "ZF OF", result: 0x81, flags: "CF ZF", undefined: "OF"),
    // ROL 0x8001 by 4 = 0x0018: CF = LSB = 0 (preset CF cleared).
    ShiftCase(op: .rol, size: 16, a: 0x8001, count: 4, preset: "CF SF", result: 0x0018, flags: "SF", undefined: "OF"),
    // ROL 0x8000…0,1 = 1: CF = 1, OF = MSB(1)=0 XOR 1 = 1.
    ShiftCase(op: .rol, size: 64, a: 0x8000_0000_0000_0000, count: 1, preset: "", result: 1, flags: "CF OF"),
    // ROR 0x01,1 = 0x80: CF = MSB = 1; OF = MSB XOR MSB−1 = 1 XOR 0 = 1.
    ShiftCase(op: .ror, size: 8, a: 0x01, count: 1, preset: "PF", result: 0x80, flags: "CF PF OF"),
    // ROR 0x00000003,1 = 0x80000001: CF=1, OF = 1 XOR 0 = 1.
    ShiftCase(op: .ror, size: 32, a: 0x3, count: 1, preset: "ZF", result: 0x8000_0001, flags: "CF ZF OF"),
    // ROR 0x00F0 by 4 = 0x000F: CF = MSB = 0.
    ShiftCase(op: .ror, size: 16, a: 0x00F0, count: 4, preset: "CF AF", result: 0x000F, flags: "AF", undefined: "OF"),
    // ROR 1 by 4 (64-bit) = 0x1000…0: CF = MSB = 0.
    ShiftCase(op: .ror, size: 64, a: 1, count: 4, preset: "CF", result: 0x1000_0000_0000_0000, flags: "", undefined: "OF"),
    // ROR 0xC000…0,1 = 0x6000…0: CF=0, OF = 0 XOR 1 = 1.
    ShiftCase(op: .ror, size: 64, a: 0xC000_0000_0000_0000, count: 1, preset: "CF", result: 0x6000_0000_0000_0000, flags: "OF"),

    // RCL 0x80,1 with CF=0 = 0x00, CF=1; OF = MSB(0)=0 XOR CF=1 = 1.
    ShiftCase(op: .rcl, size: 8, a: 0x80, count: 1, preset: "", result: 0x00, flags: "CF OF"),
    // RCL 0x00,1 with CF=1 = 0x01, CF=0, OF = 0 XOR 0 = 0.
    ShiftCase(op: .rcl, size: 8, a: 0x00, count: 1, preset: "CF OF", result: 0x01, flags: ""),
    // RCL by 9 on 8 bits: 9 MOD 9 = 0 → nothing rotates, CF stays (preset CF=1).
    ShiftCase(op: .rcl, size: 8, a: 0x5A, count: 9, preset: "CF", result: 0x5A, flags: "CF", undefined: "OF"),
    // RCL by 17 on 16 bits: 17 MOD 17 = 0 → unchanged.
    ShiftCase(op: .rcl, size: 16, a: 0x8000, count: 17, preset: "", result: 0x8000, flags: "", undefined: "OF"),
    // RCL 0x80000000 by 4 with CF=1, step by step (tempCF ← MSB; DEST ← DEST·2 + CF; CF ← tempCF):
    // 1: 0x00000001 CF=1; 2: 0x00000003 CF=0; 3: 0x00000006 CF=0; 4: 0x0000000C CF=0.
    ShiftCase(op: .rcl, size: 32, a: 0x8000_0000, count: 4, preset: "CF", result: 0xC, flags: "", undefined: "OF"),
    // RCL 0x4000…0,1 with CF=1 = 0x8000…01, CF=0, OF = 1 XOR 0 = 1.
    ShiftCase(op: .rcl, size: 64, a: 0x4000_0000_0000_0000, count: 1, preset: "CF", result: 0x8000_0000_0000_0001, flags: "OF"),
    // RCR 0x01,1 with CF=0 = 0x00, CF=1; OF = MSB(dest before)=0 XOR CF before=0 = 0.
    ShiftCase(op: .rcr, size: 8, a: 0x01, count: 1, preset: "OF", result: 0x00, flags: "CF"),
    // RCR 0x00,1 with CF=1 = 0x80, CF=0; OF = 0 XOR 1 = 1.
    ShiftCase(op: .rcr, size: 8, a: 0x00, count: 1, preset: "CF", result: 0x80, flags: "OF"),
    // RCR 0x0001 by 2 with CF=1 (tempCF ← LSB; DEST ← DEST/2 + CF·2¹⁵; CF ← tempCF):
    // 1: 0x8000 CF=1; 2: 0xC000 CF=0.
    ShiftCase(op: .rcr, size: 16, a: 0x0001, count: 2, preset: "CF", result: 0xC000, flags: "", undefined: "OF"),
    // RCR 1,1 with CF=1 (64-bit) = 0x8000…0, CF=1; OF = MSB before 0 XOR CF before 1 = 1.
    ShiftCase(op: .rcr, size: 64, a: 1, count: 1, preset: "CF", result: 0x8000_0000_0000_0000, flags: "CF OF"),
]

/// Count-0 cases: the masked count is 0 ⇒ operand and flags unchanged.
let zeroCountCases: [ShiftCase] = [
    ShiftCase(op: .shl, size: 64, a: 0x8000_0000_0000_0001, count: 0, preset: "CF PF OF", result: 0x8000_0000_0000_0001, flags: "CF PF OF"),
    ShiftCase(op: .shr, size: 64, a: 0x1234, count: 64, preset: "ZF", result: 0x1234, flags: "ZF"),          // 64 & 0x3F = 0
    ShiftCase(op: .sar, size: 8, a: 0x81, count: 32, preset: "AF SF", result: 0x81, flags: "AF SF"),         // 32 & 0x1F = 0
    ShiftCase(op: .rol, size: 16, a: 0x8001, count: 32, preset: "OF", result: 0x8001, flags: "OF"),
    ShiftCase(op: .rcr, size: 8, a: 0x01, count: 0, preset: "CF", result: 0x01, flags: "CF"),
]

func shiftCode(_ c: ShiftCase, form: Int, memory: Bool) -> [UInt8]? {
    var p: [UInt8] = []
    if c.size == 16 { p.append(0x66) }
    if c.size == 64 { p.append(0x48) }
    let w: UInt8 = c.size == 8 ? 0 : 1
    let modrm: UInt8 = (memory ? 0x03 : 0xC0) | c.op.rawValue << 3   // [RBX] or RAX
    switch form {
    case 0: return c.count == 1 ? p + [0xD0 + w, modrm] : nil        // D0/D1 /n: by 1
    case 1: return p + [0xD2 + w, modrm]                             // D2/D3 /n: by CL
    default: return p + [0xC0 + w, modrm, c.count]                  // C0/C1 /n ib
    }
}

@Suite("Shifts and rotates")
struct ShiftTests {
    func check(_ c: ShiftCase) {
        let m = TestMachine.long64(mib: 2)
        let expected = flagMask(c.flags)
        let undef = flagMask(c.undefined)
        let preset = c.preset.map(flagMask) ?? (RFLAGS.arith & ~expected)
        let mask = sizeMask(c.size)
        for memory in [false, true] {
            for form in 0..<3 {
                guard let code = shiftCode(c, form: form, memory: memory) else { continue }
                let raxBefore = (upperGarbage & ~mask) | c.a
                let memBefore = (0x1122_3344_5566_7788 & ~mask) | c.a
                m[.rax] = raxBefore
                m[.rcx] = 0xFF00 | UInt64(c.count)     // only CL counts
                m[.rbx] = Layout.data
                m.w64(Layout.data, memBefore)
                m.setArith(preset)
                #expect(m.run(code, steps: 1) == .budget)
                let what = "form \(form) memory \(memory)"
                #expect(flagNames(m.arith & ~undef) == flagNames(expected & ~undef), "\(what)")
                if memory {
                    #expect(m.r64(Layout.data) == (memBefore & ~mask) | c.result, "\(what): memory 0x\(hex(m.r64(Layout.data)))")
                } else if c.count & (c.size == 64 ? 0x3F : 0x1F) != 0 {
                    #expect(m[.rax] == merged(raxBefore, c.result, c.size), "\(what): RAX 0x\(hex(m[.rax]))")
                } else if c.size != 32 {
                    #expect(m[.rax] == raxBefore, "\(what): RAX 0x\(hex(m[.rax]))")
                } else {
                    #expect(m[.rax] & 0xFFFF_FFFF == c.result, "\(what): EAX")
                }
            }
        }
    }

    @Test(arguments: shiftCases) func shiftOrRotate(_ c: ShiftCase) { check(c) }
    @Test(arguments: zeroCountCases) func zeroCountChangesNothing(_ c: ShiftCase) { check(c) }

    /// A 32-bit operation writes its 32-bit result zero-extended into the 64-bit register (SDM
    /// Vol. 1 §3.4.1.1 "General-Purpose Registers in 64-Bit Mode": "32-bit operands generate a
    /// 32-bit result, zero-extended to a 64-bit result in the destination general-purpose
    /// register"). A shift by a masked count of 0 still has EAX as its destination; hardware
    /// clears bits 63:32 (as test data taken from silicon shows, e.g. FEX-Emu's
    /// `unittests/ASM/TwoByte/0F_AD_2.asm`: `shrd r11d, r15d, cl` with CL=0 leaves R11 = 0xFFFFFFFF).
    @Test func shiftByZeroStillZeroExtends32BitDestination() {
        let m = TestMachine.long64(mib: 2)
        // shl eax, cl (D3 E0); rol edx, 0 (C1 C2 00); shrd esi, edi, cl (0F AD FE)
        m[.rax] = 0xFFFF_FFFF_0000_0001
        m[.rdx] = 0xFFFF_FFFF_0000_0002
        m[.rsi] = 0xFFFF_FFFF_0000_0003
        m[.rcx] = 0
        #expect(m.run([0xD3, 0xE0, 0xC1, 0xC2, 0x00, 0x0F, 0xAD, 0xFE], steps: 3) == .budget)
        #expect(m[.rax] == 1)
        #expect(m[.rdx] == 2)
        #expect(m[.rsi] == 3)
    }
}

// MARK: - SHLD / SHRD

struct DoubleShiftCase: Sendable, CustomTestStringConvertible {
    var left: Bool, size: Int, a: UInt64, b: UInt64, count: UInt8
    var result: UInt64, flags: String, undefined: String = "AF"
    var testDescription: String { "\(left ? "shld" : "shrd") \(size)-bit 0x\(hex(a)), 0x\(hex(b)), \(count)" }
}

let doubleShiftCases: [DoubleShiftCase] = [
    // SHLD eax=0x12345678, ecx=0x9ABCDEF0, 4: (a << 4) | (b >> 28) = 0x23456789; last bit out of
    // the destination = bit 28 of a = 1 (CF); 0x89 has three 1s (no PF).
    DoubleShiftCase(left: true, size: 32, a: 0x1234_5678, b: 0x9ABC_DEF0, count: 4, result: 0x2345_6789, flags: "CF", undefined: "AF OF"),
    // SHLD rax=0x4000…0, rcx=0x8000…0, 1: 0x8000…01; CF = bit 63 of a = 0; sign changed → OF; SF.
    DoubleShiftCase(left: true, size: 64, a: 0x4000_0000_0000_0000, b: 0x8000_0000_0000_0000, count: 1, result: 0x8000_0000_0000_0001, flags: "SF OF"),
    // SHLD ax=0x1234, cx=0xABCD, 8 = 0x34AB; CF = bit 8 of a = 0; 0xAB has five 1s (no PF).
    DoubleShiftCase(left: true, size: 16, a: 0x1234, b: 0xABCD, count: 8, result: 0x34AB, flags: "", undefined: "AF OF"),
    // 64-bit count 65 & 0x3F = 1: SHLD 0x8000…0, 0, 1 → 0 with CF=1; sign changed (OF); ZF PF.
    DoubleShiftCase(left: true, size: 64, a: 0x8000_0000_0000_0000, b: 0, count: 65, result: 0, flags: "CF PF ZF OF"),
    // SHRD eax=0x12345678, ecx=0x9ABCDEF5, 4: (a >> 4) | (b << 28) = 0x51234567; CF = bit 3 of a
    // = 1; 0x67 has five 1s (no PF).
    DoubleShiftCase(left: false, size: 32, a: 0x1234_5678, b: 0x9ABC_DEF5, count: 4, result: 0x5123_4567, flags: "CF", undefined: "AF OF"),
    // SHRD rax=1, rcx=0, 1 = 0: CF=1; no sign change (OF=0); ZF PF.
    DoubleShiftCase(left: false, size: 64, a: 1, b: 0, count: 1, result: 0, flags: "CF PF ZF"),
    // SHRD rax=0, rcx=1, 1 = 0x8000…0: CF=0; sign changed (OF), SF, PF (low byte 0).
    DoubleShiftCase(left: false, size: 64, a: 0, b: 1, count: 1, result: 0x8000_0000_0000_0000, flags: "PF SF OF"),
    // SHRD ax=0x00F0, cx=0x0003, 4 = 0x300F; CF = bit 3 of a = 0; 0x0F four 1s (PF).
    DoubleShiftCase(left: false, size: 16, a: 0x00F0, b: 0x0003, count: 4, result: 0x300F, flags: "PF", undefined: "AF OF"),
]

@Suite("SHLD/SHRD")
struct DoubleShiftTests {
    @Test(arguments: doubleShiftCases)
    func doubleShift(_ c: DoubleShiftCase) {
        let m = TestMachine.long64(mib: 2)
        let expected = flagMask(c.flags), undef = flagMask(c.undefined)
        let mask = sizeMask(c.size)
        var p: [UInt8] = []
        if c.size == 16 { p.append(0x66) }
        if c.size == 64 { p.append(0x48) }
        // SHLD r/m, r, imm8 = 0F A4 /r ib; by CL = 0F A5 /r; SHRD = 0F AC / 0F AD.
        // Source in RDX so CL is free for the count: ModRM D0 = (reg RDX, rm RAX),
        // 13 = (reg RDX, rm [RBX]).
        let base: UInt8 = c.left ? 0xA4 : 0xAC
        for memory in [false, true] {
            let modrm: UInt8 = memory ? 0x13 : 0xD0
            for code in [p + [0x0F, base, modrm, c.count], p + [0x0F, base + 1, modrm]] {
                let raxBefore = (upperGarbage & ~mask) | c.a
                let memBefore = (0x1122_3344_5566_7788 & ~mask) | c.a
                m[.rax] = raxBefore
                m[.rdx] = (0x0BAD_0BAD_0BAD_0BAD & ~mask) | c.b
                m[.rcx] = 0xFF00 | UInt64(c.count)
                m[.rbx] = Layout.data
                m.w64(Layout.data, memBefore)
                m.setArith(RFLAGS.arith & ~expected)
                #expect(m.run(code, steps: 1) == .budget)
                #expect(flagNames(m.arith & ~undef) == flagNames(expected & ~undef), "memory \(memory) \(code)")
                if memory {
                    #expect(m.r64(Layout.data) == (memBefore & ~mask) | c.result, "memory form")
                } else {
                    #expect(m[.rax] == merged(raxBefore, c.result, c.size), "RAX 0x\(hex(m[.rax]))")
                }
            }
        }
    }

    /// SHLD/SHRD with CL = 0: "If the count operand is 0, the flags are not affected", and the
    /// destination keeps its value.
    @Test func countZero() {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 0x8000_0000_0000_0001
        m[.rdx] = 0xFFFF_FFFF_FFFF_FFFF
        m[.rcx] = 0x40          // CL = 64, masked to 0 for 64-bit operands
        m.setArith(flagMask("CF ZF OF"))
        // shld rax, rdx, cl (48 0F A5 D0); shrd rax, rdx, cl (48 0F AD D0)
        #expect(m.run([0x48, 0x0F, 0xA5, 0xD0, 0x48, 0x0F, 0xAD, 0xD0], steps: 2) == .budget)
        #expect(m[.rax] == 0x8000_0000_0000_0001)
        #expect(m.flagString == "CF ZF OF")
    }
}
