// Conditions (SETcc, CMOVcc, Jcc for all 16 condition codes), the stack (PUSH/POP incl. 16-bit
// operands, PUSHF/POPF), CALL/RET, ENTER/LEAVE, LOOP/LOOPE/LOOPNE/JRCXZ.

import Testing
@testable import X86

// MARK: - Reference flags and conditions

/// The five status flags the conditions read.
struct RefFlags: Sendable, CustomStringConvertible {
    var cf = false, pf = false, zf = false, sf = false, of = false
    var rflags: UInt64 {
        (cf ? RFLAGS.cf : 0) | (pf ? RFLAGS.pf : 0) | (zf ? RFLAGS.zf : 0) | (sf ? RFLAGS.sf : 0) | (of ? RFLAGS.of : 0)
    }
    var description: String { flagNames(rflags) }

    /// Flags of `a − b` (CMP/SUB) from the definitions of SDM Vol. 1 §3.4.3.1.
    static func sub(_ a: UInt64, _ b: UInt64, _ bits: Int) -> RefFlags {
        let m = sizeMask(bits), sign: UInt64 = 1 << UInt64(bits - 1)
        let r = (a &- b) & m
        return RefFlags(cf: (a & m) < (b & m), pf: parity(r), zf: r == 0, sf: r & sign != 0,
                        of: ((a ^ b) & (a ^ r) & sign) != 0)
    }
    static func add(_ a: UInt64, _ b: UInt64, _ bits: Int) -> RefFlags {
        let m = sizeMask(bits), sign: UInt64 = 1 << UInt64(bits - 1)
        let r = (a &+ b) & m
        return RefFlags(cf: r < (a & m), pf: parity(r), zf: r == 0, sf: r & sign != 0,
                        of: ((a ^ r) & (b ^ r) & sign) != 0)
    }
    static func logic(_ r: UInt64, _ bits: Int) -> RefFlags {
        RefFlags(cf: false, pf: parity(r), zf: r & sizeMask(bits) == 0, sf: r >> UInt64(bits - 1) & 1 != 0, of: false)
    }
    static func parity(_ r: UInt64) -> Bool { UInt8(truncatingIfNeeded: r).nonzeroBitCount % 2 == 0 }
}

/// SDM Vol. 1 Appendix B, Table B-1 "EFLAGS Condition Codes".
func refCondition(_ cc: Int, _ f: RefFlags) -> Bool {
    let r: Bool
    switch cc >> 1 {
    case 0: r = f.of                        // O
    case 1: r = f.cf                        // B/C/NAE
    case 2: r = f.zf                        // E/Z
    case 3: r = f.cf || f.zf                // BE/NA
    case 4: r = f.sf                        // S
    case 5: r = f.pf                        // P/PE
    case 6: r = f.sf != f.of                // L/NGE
    default: r = f.zf || (f.sf != f.of)     // LE/NG
    }
    return cc & 1 == 0 ? r : !r
}

/// Something that sets the flags before the conditional instruction: either RFLAGS written
/// directly, or an arithmetic instruction run by the CPU (exercising its lazy-flag paths).
struct FlagProducer: Sendable, CustomTestStringConvertible {
    var name: String
    var code: [UInt8]
    var rax: UInt64 = 0, rcx: UInt64 = 0
    var presetCF: Bool = false
    var flags: RefFlags
    var testDescription: String { name }
}

func makeProducers() -> [FlagProducer] {
    var p: [FlagProducer] = []
    // All 32 combinations of CF PF ZF SF OF written directly into RFLAGS.
    for bitsSet in 0..<32 {
        let f = RefFlags(cf: bitsSet & 1 != 0, pf: bitsSet & 2 != 0, zf: bitsSet & 4 != 0, sf: bitsSet & 8 != 0, of: bitsSet & 16 != 0)
        p.append(FlagProducer(name: "RFLAGS = \(f)", code: [], flags: f))
    }
    // CMP rax, rcx at each size (38/39 C8 with 66/REX.W).
    let pairs: [(UInt64, UInt64, Int)] = [
        (5, 5, 64), (3, 5, 64), (5, 3, 64),
        (0x8000_0000_0000_0000, 1, 64), (1, 0x8000_0000_0000_0000, 64), (~0, 1, 64), (0x7FFF_FFFF_FFFF_FFFF, ~0, 64),
        (0x80, 0x7F, 8), (0x7F, 0x80, 8), (0, 0x80, 8), (0xFF, 0xFF, 8), (0x10, 0x01, 8),
        (0x8000, 0x0001, 16), (0x0001, 0xFFFF, 16),
        (0x8000_0000, 0x7FFF_FFFF, 32), (0xFFFF_FFFF, 0, 32), (0, 0xFFFF_FFFF, 32), (0x1_0000_0005, 0x2_0000_0005, 32),
    ]
    func prefix(_ bits: Int) -> [UInt8] { bits == 16 ? [0x66] : bits == 64 ? [0x48] : [] }
    for (a, b, bits) in pairs {
        let w: UInt8 = bits == 8 ? 0 : 1
        p.append(FlagProducer(name: "cmp \(bits)-bit 0x\(hex(a)), 0x\(hex(b))", code: prefix(bits) + [0x38 + w, 0xC8],
                              rax: a, rcx: b, flags: .sub(a, b, bits)))
        p.append(FlagProducer(name: "sub \(bits)-bit 0x\(hex(a)), 0x\(hex(b))", code: prefix(bits) + [0x28 + w, 0xC8],
                              rax: a, rcx: b, flags: .sub(a, b, bits)))
    }
    // TEST rax, rcx (84/85 C8) and ADD rax, rcx (00/01 C8).
    let logicPairs: [(UInt64, UInt64, Int)] = [
        (0x8000_0000_0000_0000, ~0, 64), (0xF0, 0x0F, 8), (0x80, 0x81, 8), (0x3, 0x1, 32), (0x8000_0000, 0x8000_0000, 32), (0x0100, 0x0100, 16),
    ]
    for (a, b, bits) in logicPairs {
        let w: UInt8 = bits == 8 ? 0 : 1
        p.append(FlagProducer(name: "test \(bits)-bit 0x\(hex(a)), 0x\(hex(b))", code: prefix(bits) + [0x84 + w, 0xC8],
                              rax: a, rcx: b, flags: .logic(a & b & sizeMask(bits), bits)))
        p.append(FlagProducer(name: "add \(bits)-bit 0x\(hex(a)), 0x\(hex(b))", code: prefix(bits) + [0x00 + w, 0xC8],
                              rax: a, rcx: b, flags: .add(a, b, bits)))
    }
    // INC/DEC (FF C0 / FF C8 with REX.W): CF is not affected, so it is the preset value.
    for (a, inc, cf) in [(UInt64(0x7FFF_FFFF_FFFF_FFFF), true, true), (0xFFFF_FFFF_FFFF_FFFF, true, false),
                         (0, false, true), (0x8000_0000_0000_0000, false, false), (1, false, false)] {
        var f = inc ? RefFlags.add(a, 1, 64) : RefFlags.sub(a, 1, 64)
        f.cf = cf
        p.append(FlagProducer(name: "\(inc ? "inc" : "dec") 0x\(hex(a)) (CF=\(cf))", code: [0x48, 0xFF, inc ? 0xC0 : 0xC8],
                              rax: a, presetCF: cf, flags: f))
    }
    return p
}

let flagProducers = makeProducers()

@Suite("SETcc / CMOVcc / Jcc: all 16 conditions")
struct ConditionTests {
    func prepare(_ m: TestMachine, _ p: FlagProducer) {
        m[.rax] = p.rax; m[.rcx] = p.rcx
        if p.code.isEmpty { m.setArith(p.flags.rflags) }
        else { m.setArith((RFLAGS.arith & ~RFLAGS.cf) | (p.presetCF ? RFLAGS.cf : 0)) }
    }

    /// One machine per producer (building a CPU is the expensive part of a test).
    @Test(arguments: flagProducers)
    func conditions(_ p: FlagProducer) {
        let m = TestMachine.long64(mib: 2)
        setcc(m, p)
        cmovcc(m, p)
        jcc(m, p)
    }

    func setcc(_ m: TestMachine, _ p: FlagProducer) {
        prepare(m, p)
        m[.rsi] = Layout.data
        m.mem.write([UInt8](repeating: 0xEE, count: 16), at: Layout.data)
        // setcc byte [rsi+cc] = 0F 90+cc 46 cc (ModRM 01 000 110, disp8).
        var code = p.code
        for cc in 0..<16 { code += [0x0F, 0x90 + UInt8(cc), 0x46, UInt8(cc)] }
        #expect(m.run(code, steps: UInt64(16 + (p.code.isEmpty ? 0 : 1))) == .budget)
        for cc in 0..<16 {
            #expect(m.r8(Layout.data + UInt64(cc)) == (refCondition(cc, p.flags) ? 1 : 0), "SETcc cc=\(cc) with \(p.flags)")
        }
    }

    /// CMOVcc: "temp ← SRC; IF condition TRUE THEN DEST ← temp; ELSE IF (OperandSize = 32 and
    /// IA-32e mode active) THEN DEST[63:32] ← 0" (SDM Vol. 2 "CMOVcc", Operation).
    func cmovcc(_ m: TestMachine, _ p: FlagProducer) {
        for wide in [true, false] {
            for half in 0..<2 {
                prepare(m, p)
                m[.rbx] = 0x1234_5678_9ABC_DEF0
                for r in 8..<16 { m.cpu.regs[r] = 0xAAAA_AAAA_0000_0000 | UInt64(r) }
                // cmovcc r8..r15, rbx: REX.W+R (4C) or REX.R (44) 0F 40+cc, ModRM 11 (r−8) 011.
                var code = p.code
                for k in 0..<8 {
                    code += [wide ? 0x4C : 0x44, 0x0F, 0x40 + UInt8(half * 8 + k), 0xC3 | UInt8(k) << 3]
                }
                #expect(m.run(code, steps: UInt64(8 + (p.code.isEmpty ? 0 : 1))) == .budget)
                for k in 0..<8 {
                    let cc = half * 8 + k
                    let taken = refCondition(cc, p.flags)
                    let old = 0xAAAA_AAAA_0000_0000 | UInt64(8 + k)
                    let expected: UInt64 = wide ? (taken ? 0x1234_5678_9ABC_DEF0 : old)
                                                : (taken ? 0x9ABC_DEF0 : old & 0xFFFF_FFFF)
                    #expect(m.cpu.regs[8 + k] == expected, "CMOVcc cc=\(cc) \(wide ? 64 : 32)-bit with \(p.flags)")
                }
            }
        }
    }

    /// Jcc rel8 (70+cc) and rel32 (0F 80+cc): RIP = next + displacement when taken.
    func jcc(_ m: TestMachine, _ p: FlagProducer) {
        for cc in 0..<16 {
            for long in [false, true] {
                prepare(m, p)
                let j: [UInt8] = long ? [0x0F, 0x80 + UInt8(cc)] + le(Int32(0x123)) : [0x70 + UInt8(cc), 0x30]
                let code = p.code + j
                #expect(m.run(code, steps: UInt64(1 + (p.code.isEmpty ? 0 : 1))) == .budget)
                let next = Layout.code + UInt64(code.count)
                let expected = refCondition(cc, p.flags) ? next + (long ? 0x123 : 0x30) : next
                #expect(m.rip == expected, "Jcc cc=\(cc) \(long ? "rel32" : "rel8") with \(p.flags)")
            }
        }
    }

    /// A backward Jcc in a loop (the decoded-block trace predicts it taken): the loop ends when
    /// the condition turns false.
    @Test func backwardConditionalLoop() {
        let m = TestMachine.long64(mib: 2)
        // L: inc rax (48 FF C0); cmp rax, 10 (48 83 F8 0A); jb L (72 F7)
        m[.rax] = 0
        m.runToHalt([0x48, 0xFF, 0xC0, 0x48, 0x83, 0xF8, 0x0A, 0x72, 0xF7])
        #expect(m[.rax] == 10)
        // Signed: L: dec rax; cmp rax, -5; jg L → stops at −5.
        m[.rax] = 3
        m.runToHalt([0x48, 0xFF, 0xC8, 0x48, 0x83, 0xF8, 0xFB, 0x7F, 0xF7])
        #expect(m[.rax] == UInt64(bitPattern: -5))
    }
}

// MARK: - Stack

@Suite("PUSH / POP / PUSHF / POPF")
struct StackTests {
    @Test func push64AndPop() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack
        m[.rax] = 0x1122_3344_5566_7788
        // push rax; pop rcx
        #expect(m.run([0x50, 0x59], steps: 1) == .budget)
        #expect(m[.rsp] == s - 8)
        #expect(m.r64(s - 8) == 0x1122_3344_5566_7788)
        #expect(m.run(1) == .budget)
        #expect(m[.rcx] == 0x1122_3344_5566_7788 && m[.rsp] == s)
        // push -1 (6A FF): imm8 sign-extended to 64 bits.
        #expect(m.run([0x6A, 0xFF], steps: 1) == .budget)
        #expect(m[.rsp] == s - 8 && m.r64(s - 8) == ~0)
        // push 0x80000000 (68 00 00 00 80): imm32 sign-extended.
        m[.rsp] = s
        #expect(m.run([0x68, 0x00, 0x00, 0x00, 0x80], steps: 1) == .budget)
        #expect(m[.rsp] == s - 8 && m.r64(s - 8) == 0xFFFF_FFFF_8000_0000)
        // push r15; pop r9 (41 57, 41 59)
        m[.rsp] = s; m[.r15] = 0xF00D
        #expect(m.run([0x41, 0x57, 0x41, 0x59], steps: 2) == .budget)
        #expect(m[.r9] == 0xF00D && m[.rsp] == s)
    }

    /// 0x66 makes PUSH/POP 16-bit in 64-bit mode: RSP moves by 2 (SDM Vol. 2 "PUSH": "the
    /// operand size … determines the amount by which the stack pointer is decremented").
    @Test func push16WithOperandSizePrefix() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack
        m.w64(s - 8, 0)
        m[.rax] = 0xAAAA_BBBB_CCCC_1234
        m[.rcx] = 0x5555_6666_7777_8888
        // push ax (66 50); pop cx (66 59)
        #expect(m.run([0x66, 0x50], steps: 1) == .budget)
        #expect(m[.rsp] == s - 2)
        #expect(m.r16(s - 2) == 0x1234)
        #expect(m.r16(s - 4) == 0)
        #expect(m.run([0x66, 0x59], steps: 1) == .budget)
        #expect(m[.rsp] == s)
        #expect(m[.rcx] == 0x5555_6666_7777_1234)
        // pushw -1 (66 6A FF)
        #expect(m.run([0x66, 0x6A, 0xFF], steps: 1) == .budget)
        #expect(m[.rsp] == s - 2 && m.r16(s - 2) == 0xFFFF)
    }

    @Test func pushPopMemoryAndRSP() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack
        m[.rsi] = Layout.data; m[.rdi] = Layout.data + 0x100
        m.w64(Layout.data, 0xCAFE_BABE_DEAD_BEEF)
        // push qword [rsi] (FF 36); pop qword [rdi] (8F 07)
        #expect(m.run([0xFF, 0x36, 0x8F, 0x07], steps: 2) == .budget)
        #expect(m.r64(Layout.data + 0x100) == 0xCAFE_BABE_DEAD_BEEF && m[.rsp] == s)
        // push rsp (54): "pushes the value of the RSP register as it existed before the
        // instruction was executed".
        #expect(m.run([0x54], steps: 1) == .budget)
        #expect(m.r64(s - 8) == s)
        // pop rsp (5C): RSP ← the popped value.
        m[.rsp] = s - 8
        m.w64(s - 8, 0x7_0000)
        #expect(m.run([0x5C], steps: 1) == .budget)
        #expect(m[.rsp] == 0x7_0000)
        // pop qword [rsp+8] (8F 44 24 08): "If the RSP register is used as a base register for
        // addressing a destination operand in memory, the POP instruction computes the effective
        // address of the operand after it increments the RSP register."
        m[.rsp] = s - 16
        m.w64(s - 16, 0x1234)
        m.w64(s, 0); m.w64(s - 8, 0)
        #expect(m.run([0x8F, 0x44, 0x24, 0x08], steps: 1) == .budget)
        #expect(m[.rsp] == s - 8)
        #expect(m.r64(s) == 0x1234)            // (s − 16 + 8) + 8
        #expect(m.r64(s - 8) == 0)
    }

    @Test func push32In32BitMode() {
        let m = TestMachine.protected32()
        let s = Layout.stack
        m[.rax] = 0x1234_5678
        // push eax (50); push 0x80 (6A 80 → sign-extended 0xFFFFFF80); push ax (66 50)
        #expect(m.run([0x50, 0x6A, 0x80, 0x66, 0x50], steps: 3) == .budget)
        #expect(m[.rsp] == s - 10)
        #expect(m.r32(s - 4) == 0x1234_5678)
        #expect(m.r32(s - 8) == 0xFFFF_FF80)
        #expect(m.r16(s - 10) == 0x5678)
        // pop ebx (5B) reads the 32 bits at ESP.
        #expect(m.run([0x66, 0x5B, 0x5B], steps: 2) == .budget)   // pop bx; pop ebx
        #expect(m[.rbx] == 0xFFFF_FF80)
        #expect(m[.rsp] == s - 4)
    }

    /// PUSHF pushes RFLAGS "(except the RF and VM flags, which are cleared in the image)".
    @Test func pushf() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.rflags = 0x2 | RFLAGS.cf | RFLAGS.zf | RFLAGS.df | RFLAGS.if | RFLAGS.rf | RFLAGS.ac
        #expect(m.run([0x9C], steps: 1) == .budget)
        #expect(m.r64(Layout.stack - 8) == 0x2 | RFLAGS.cf | RFLAGS.zf | RFLAGS.df | RFLAGS.if | RFLAGS.ac)
        // pushf (66 9C): the low 16 bits only.
        #expect(m.run([0x66, 0x9C], steps: 1) == .budget)
        #expect(m[.rsp] == Layout.stack - 10)
        #expect(m.r16(Layout.stack - 10) == UInt16(0x2 | RFLAGS.cf | RFLAGS.zf | RFLAGS.df | RFLAGS.if))
    }

    /// POPF at CPL 0: "All non-reserved flags except RF, VIP, VIF, and VM can be modified; VIP,
    /// VIF, VM, and all reserved bits are unaffected. RF is cleared." Reserved bits read as
    /// 0, bit 1 as 1.
    @Test func popfAtCPL0() {
        let m = TestMachine.long64(mib: 2)
        // Everything but TF (which would single-step) and the bits POPF may not change.
        m.w64(Layout.stack - 8, ~RFLAGS.tf)
        m[.rsp] = Layout.stack - 8
        #expect(m.run([0x9D], steps: 1) == .budget)
        // CF 1, bit1, PF 4, AF 10, ZF 40, SF 80, IF 200, DF 400, OF 800, IOPL 3000, NT 4000,
        // AC 40000, ID 200000 = 0x247ED7.
        #expect(m.cpu.rflags == 0x24_7ED7, "RFLAGS 0x\(hex(m.cpu.rflags))")
        #expect(m[.rsp] == Layout.stack)
        // popf (66 9D): the low 16 bits; the upper ones (AC, ID) stay.
        m.w16(Layout.stack - 2, 0x0002)
        m[.rsp] = Layout.stack - 2
        #expect(m.run([0x66, 0x9D], steps: 1) == .budget)
        #expect(m.cpu.rflags == 0x24_0002, "RFLAGS 0x\(hex(m.cpu.rflags))")
    }

    /// POPF at CPL 3 with IOPL 0: "the IF and IOPL flags are not modified" (no exception).
    @Test func popfAtCPL3KeepsIFAndIOPL() {
        let m = TestMachine.long64(mib: 2)
        m.enterUser64()
        m.cpu.rflags = 0x2 | RFLAGS.if
        m.w64(Layout.userStack - 8, 0x2 | RFLAGS.cf | RFLAGS.iopl | RFLAGS.df)   // IF = 0, IOPL = 3 requested
        m[.rsp] = Layout.userStack - 8
        #expect(m.run([0x9D], at: Layout.userCode, steps: 1) == .budget)
        #expect(m.cpu.rflags == 0x2 | RFLAGS.cf | RFLAGS.df | RFLAGS.if, "RFLAGS 0x\(hex(m.cpu.rflags))")
    }
}

// MARK: - CALL / RET / ENTER / LEAVE / LOOP

@Suite("CALL / RET / ENTER / LEAVE / LOOP / JRCXZ")
struct CallTests {
    @Test func callAndReturn() {
        let m = TestMachine.long64(mib: 2)
        let c = Layout.code, s = Layout.stack
        // call +0x20 (E8 20 00 00 00): push c+5, RIP = c+5+0x20.
        #expect(m.run([0xE8, 0x20, 0x00, 0x00, 0x00], steps: 1) == .budget)
        #expect(m.rip == c + 0x25 && m[.rsp] == s - 8 && m.r64(s - 8) == c + 5)
        // ret (C3) at c+0x25: back to c+5.
        m.load([0xC3], at: c + 0x25)
        m.rip = c + 0x25
        #expect(m.run(1) == .budget)
        #expect(m.rip == c + 5 && m[.rsp] == s)
        // call rax (FF D0)
        m[.rax] = c + 0x400
        #expect(m.run([0xFF, 0xD0], steps: 1) == .budget)
        #expect(m.rip == c + 0x400 && m.r64(s - 8) == c + 2)
        // call [rsi] (FF 16)
        m[.rsp] = s
        m[.rsi] = Layout.data; m.w64(Layout.data, c + 0x800)
        #expect(m.run([0xFF, 0x16], steps: 1) == .budget)
        #expect(m.rip == c + 0x800 && m.r64(s - 8) == c + 2)
        // ret 0x10 (C2 10 00): pop RIP, then RSP += 16.
        m[.rsp] = s - 8
        m.w64(s - 8, c + 0x123)
        #expect(m.run([0xC2, 0x10, 0x00], steps: 1) == .budget)
        #expect(m.rip == c + 0x123 && m[.rsp] == s + 0x10)
    }

    /// A nested call chain run to the end: call f; hlt / f: call g; ret / g: ret.
    @Test func nestedCalls() {
        let m = TestMachine.long64(mib: 2)
        let code: [UInt8] = [0xE8, 0x01, 0x00, 0x00, 0x00,    // call f (c+6)
                             0xF4,                            // hlt
                             0xE8, 0x01, 0x00, 0x00, 0x00,    // f: call g (c+0xC)
                             0xC3,                            // ret
                             0x48, 0xFF, 0xC0,                // g: inc rax
                             0xC3]                            // ret
        m.load(code)
        m.rip = Layout.code
        m[.rax] = 0
        #expect(m.cpu.run(budget: 100) == .halted(rip: Layout.code + 5, interruptsEnabled: false))
        #expect(m[.rax] == 1 && m[.rsp] == Layout.stack)
    }

    /// RET to a non-canonical address: #GP(0) "If the return instruction pointer is not within
    /// … canonical"; the fault leaves RSP as it was before the RET.
    @Test func retToNonCanonicalFaults() {
        let m = TestMachine.long64(mib: 2)
        m.w64(Layout.stack - 8, 0x0000_8000_0000_0000)
        m[.rsp] = Layout.stack - 8
        let stop = m.run([0xC3], steps: 1)
        #expect(m.vector(stop) == 13)
        let f = m.frame64(errorCode: true)
        #expect(f.error == 0 && f.rip == Layout.code && f.rsp == Layout.stack - 8)
    }

    /// ENTER size, level (SDM Vol. 2 "ENTER" Operation): push RBP; FrameTemp ← RSP; for level
    /// > 0 copy level−1 frame pointers from the old frame (RBP ← RBP − 8; push [RBP]) and push
    /// FrameTemp; RBP ← FrameTemp; RSP ← RSP − size. LEAVE: RSP ← RBP; RBP ← pop.
    @Test func enterLeave() {
        let m = TestMachine.long64(mib: 2)
        let s = Layout.stack, b: UInt64 = 0x7_8000
        m[.rbp] = b
        // enter 0x20, 0 (C8 20 00 00)
        #expect(m.run([0xC8, 0x20, 0x00, 0x00], steps: 1) == .budget)
        #expect(m.r64(s - 8) == b && m[.rbp] == s - 8 && m[.rsp] == s - 8 - 0x20)
        // leave (C9)
        #expect(m.run([0xC9], steps: 1) == .budget)
        #expect(m[.rsp] == s && m[.rbp] == b)
        // enter 0x10, 2 (C8 10 00 02) with [RBP−8] = X:
        //   push B → [s−8] = B; FrameTemp = s−8; RBP−8 → push X → [s−16] = X;
        //   push FrameTemp → [s−24] = s−8; RBP = s−8; RSP = s−24−0x10.
        m.w64(b - 8, 0xABCD)
        #expect(m.run([0xC8, 0x10, 0x00, 0x02], steps: 1) == .budget)
        #expect(m.r64(s - 8) == b)
        #expect(m.r64(s - 16) == 0xABCD)
        #expect(m.r64(s - 24) == s - 8)
        #expect(m[.rbp] == s - 8)
        #expect(m[.rsp] == s - 24 - 0x10)
        #expect(m.run([0xC9], steps: 1) == .budget)
        #expect(m[.rsp] == s && m[.rbp] == b)
        // enter 8, 1 (C8 08 00 01): level 1 copies no frame pointers but pushes FrameTemp.
        #expect(m.run([0xC8, 0x08, 0x00, 0x01], steps: 1) == .budget)
        #expect(m.r64(s - 8) == b && m.r64(s - 16) == s - 8)
        #expect(m[.rbp] == s - 8 && m[.rsp] == s - 16 - 8)
    }

    /// LOOP: count ← count − 1; jump if count ≠ 0 (LOOPE also needs ZF=1, LOOPNE ZF=0). Flags
    /// are not affected. With 0x67 the count is ECX (SDM Vol. 2 "LOOP/LOOPcc").
    @Test func loops() {
        let m = TestMachine.long64(mib: 2)
        // L: inc rax (48 FF C0); loop L (E2 FB)
        m[.rax] = 0; m[.rcx] = 3
        m.setArith(RFLAGS.cf)
        m.runToHalt([0x48, 0xFF, 0xC0, 0xE2, 0xFB])
        #expect(m[.rax] == 3 && m[.rcx] == 0)
        #expect(m.arith & RFLAGS.cf != 0)
        // LOOPE with ZF=1 from CMP: continues while RAX = RDX.
        // L: inc rax; cmp rax, rdx (48 39 D0); loope L (E1 F8) — ZF=0 after the first
        // compare (1 ≠ 5), so the loop body runs once; RCX 10 → 9.
        m[.rax] = 0; m[.rdx] = 5; m[.rcx] = 10
        m.runToHalt([0x48, 0xFF, 0xC0, 0x48, 0x39, 0xD0, 0xE1, 0xF8])
        #expect(m[.rax] == 1 && m[.rcx] == 9)
        // LOOPNE: continues while RAX ≠ RDX → RAX reaches 5, RCX 10 → 5.
        m[.rax] = 0; m[.rdx] = 5; m[.rcx] = 10
        m.runToHalt([0x48, 0xFF, 0xC0, 0x48, 0x39, 0xD0, 0xE0, 0xF8])
        #expect(m[.rax] == 5 && m[.rcx] == 5)
        // 67 E2: ECX is the count: RCX = 0x1_00000001 → ECX 1 → 0: not taken.
        m[.rcx] = 0x1_0000_0001
        #expect(m.run([0x67, 0xE2, 0x10], steps: 1) == .budget)
        #expect(m.rip == Layout.code + 3)
        #expect(m[.rcx] & 0xFFFF_FFFF == 0)
        // Without 0x67 the same RCX (now 0x1_00000000 or 0) — set it again: RCX = 0x1_00000001
        // → 0x1_00000000 ≠ 0: taken.
        m[.rcx] = 0x1_0000_0001
        #expect(m.run([0xE2, 0x10], steps: 1) == .budget)
        #expect(m.rip == Layout.code + 2 + 0x10 && m[.rcx] == 0x1_0000_0000)
    }

    /// JRCXZ jumps if RCX = 0; with 0x67 it is JECXZ and tests ECX only.
    /// In 64-bit mode near branches have a fixed 64-bit operand size; Intel ignores a 66 prefix
    /// (SDM Vol. 2A "RET": "In 64-bit mode, … operand size is fixed at 64 bits" — AMD differs):
    /// `66 C3` pops 8 bytes and does not truncate RIP to 16 bits; `66 FF D0` (call rax) pushes 8.
    @Test func nearBranchesIgnoreOperandSizePrefixIn64BitMode() {
        let m = TestMachine.long64(mib: 2)
        let c = Layout.code, s = Layout.stack
        m.w64(s - 8, c + 0x1_2345)
        m[.rsp] = s - 8
        #expect(m.run([0x66, 0xC3], steps: 1) == .budget)
        #expect(m.rip == c + 0x1_2345 && m[.rsp] == s)
        m[.rax] = c + 0x1_0400
        #expect(m.run([0x66, 0xFF, 0xD0], steps: 1) == .budget)
        #expect(m.rip == c + 0x1_0400 && m[.rsp] == s - 8 && m.r64(s - 8) == c + 3)
    }

    @Test func jrcxz() {
        let m = TestMachine.long64(mib: 2)
        m[.rcx] = 0x1_0000_0000
        #expect(m.run([0xE3, 0x10], steps: 1) == .budget)            // jrcxz: RCX ≠ 0
        #expect(m.rip == Layout.code + 2)
        #expect(m.run([0x67, 0xE3, 0x10], steps: 1) == .budget)      // jecxz: ECX = 0
        #expect(m.rip == Layout.code + 3 + 0x10)
        m[.rcx] = 0
        #expect(m.run([0xE3, 0x10], steps: 1) == .budget)
        #expect(m.rip == Layout.code + 2 + 0x10)
        #expect(m[.rcx] == 0)
    }
}

extension TestMachine {
    /// Switch to CPL 3 in 64-bit mode: CS = user 64-bit code (0x2B), SS/DS/ES = user data (0x23),
    /// RSP = `Layout.userStack`.
    func enterUser64() {
        cpu.segs[Seg.cs] = SegmentRegister(selector: Sel.userCode64 | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xA0FB)
        for s in [Seg.ss, Seg.ds, Seg.es] {
            cpu.segs[s] = SegmentRegister(selector: Sel.userData | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xC0F3)
        }
        cpu.cpl = 3
        cpu.regs[Reg.rsp] = Layout.userStack
        cpu.modeChanged()
    }
}
