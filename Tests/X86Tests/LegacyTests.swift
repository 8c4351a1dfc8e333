// Instructions valid only outside 64-bit mode: DAA DAS AAA AAS AAM AAD, SALC, ARPL, BOUND.
// Expected values: the worked examples of SDM Vol. 2A "DAA" and "DAS" (their "Example" sections),
// and each instruction's "Operation" evaluated by hand. In 64-bit mode each is #UD.

import Testing
@testable import X86

@Suite("Legacy-only instructions (32-bit mode)")
struct LegacyTests {
    /// 32-bit protected mode; runs `code` + HLT with EAX = ax and the arithmetic flags given.
    func run(_ code: [UInt8], eax: UInt64, flags: UInt64 = 0) -> TestMachine {
        let m = TestMachine.protected32()
        m[.rax] = eax
        m.setArith(flags)
        m.runToHalt(code)
        return m
    }

    @Test func daaAndDasMatchTheSDMExamples() {
        // "ADD AL, BL  Before: AL=79H BL=35H … After: AL=AEH; DAA  After: AL=14H EFLAGS(-SZAPC)=X00111"
        var m = run([0x27], eax: 0xAE)
        #expect(m[.rax] & 0xFF == 0x14)
        #expect(m.arith & ~RFLAGS.of == RFLAGS.af | RFLAGS.pf | RFLAGS.cf)
        // "SUB AL, BL  Before: AL=35H, BL=47H … After: AL=EEH; DAS  After: AL=88H EFLAGS(-SZAPC)=X10111"
        m = run([0x2F], eax: 0xEE, flags: RFLAGS.af | RFLAGS.cf)
        #expect(m[.rax] & 0xFF == 0x88)
        #expect(m.arith & ~RFLAGS.of == RFLAGS.sf | RFLAGS.af | RFLAGS.pf | RFLAGS.cf)
        // DAA of 0x09 + 0x01 = 0x0A → 0x10, no carry.
        m = run([0x27], eax: 0x1234_000A)
        #expect(m[.rax] == 0x1234_0010 && m.arith & RFLAGS.cf == 0 && m.arith & RFLAGS.af != 0)
    }

    @Test func aaaAasAamAad() {
        var m = run([0x37], eax: 0x000B)                 // AAA: AX + 106H, AL AND 0FH
        #expect(m[.rax] == 0x0101 && m.arith & (RFLAGS.cf | RFLAGS.af) == RFLAGS.cf | RFLAGS.af)
        m = run([0x37], eax: 0x0305)                     // no adjustment: CF = AF = 0
        #expect(m[.rax] == 0x0305 && m.arith & (RFLAGS.cf | RFLAGS.af) == 0)
        m = run([0x3F], eax: 0x020B)                     // AAS: AX − 6, AH − 1
        #expect(m[.rax] == 0x0105 && m.arith & RFLAGS.cf != 0)
        m = run([0xD4, 0x0A], eax: 0xFFFF_003F)          // AAM: 63 → AH 6, AL 3
        #expect(m[.rax] == 0xFFFF_0603)
        m = run([0xD5, 0x0A], eax: 0x0603)               // AAD: back to 63
        #expect(m[.rax] == 0x003F && m.arith & RFLAGS.pf != 0)
        m = run([0xD4, 0x10], eax: 0xAB)                 // AAM 16 splits the nibbles
        #expect(m[.rax] == 0x0A0B)
    }

    @Test func aamByZeroIsDE() {
        let m = TestMachine.protected32()
        m.load([0xD4, 0x00, 0xF4])
        m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 10)) == 0)
    }

    @Test func salcAndArpl() {
        var m = run([0xD6], eax: 0x1234_5600, flags: RFLAGS.cf)
        #expect(m[.rax] == 0x1234_56FF)
        m = run([0xD6], eax: 0x1234_56AA)
        #expect(m[.rax] == 0x1234_5600)
        // arpl ax, bx: RPL 0 raised to 3 (ZF = 1); already 3: unchanged, ZF = 0.
        m = TestMachine.protected32()
        m[.rax] = 0x0010; m[.rbx] = 0x0023
        m.runToHalt([0x63, 0xD8])
        #expect(m[.rax] == 0x0013 && m.arith & RFLAGS.zf != 0)
        m.setArith(RFLAGS.zf)
        m.runToHalt([0x63, 0xD8])
        #expect(m[.rax] == 0x0013 && m.arith & RFLAGS.zf == 0)
    }

    @Test func boundRaisesBRWhenOutOfRange() {
        let m = TestMachine.protected32()
        m.w32(Layout.data, UInt32(bitPattern: -5)); m.w32(Layout.data + 4, 10)   // bounds [-5, 10]
        m[.rsi] = Layout.data
        for (index, inRange) in [(UInt64(0), true), (10, true), (UInt64(bitPattern: -5) & 0xFFFF_FFFF, true), (11, false), (UInt64(bitPattern: -6) & 0xFFFF_FFFF, false)] {
            m[.rax] = index
            m.load([0x62, 0x06, 0xF4])                     // bound eax, [esi]
            m.rip = Layout.code
            let stop = m.cpu.run(budget: 10)
            if inRange { #expect(stop == .halted(rip: Layout.code + 2, interruptsEnabled: false), "index \(index)") }
            else { #expect(m.vector(stop) == 5, "index \(index): \(stop)") }
        }
        // 16-bit operands: 66 62 /r compares words.
        m.w16(Layout.data + 8, 0x0010); m.w16(Layout.data + 10, 0x0020)
        m[.rax] = 0xFFFF_0015
        m.load([0x66, 0x62, 0x46, 0x08, 0xF4])              // bound ax, [esi+8]
        m.rip = Layout.code
        #expect(m.cpu.run(budget: 10) == .halted(rip: Layout.code + 4, interruptsEnabled: false))
    }

    @Test(arguments: [[UInt8]([0x27]), [0x2F], [0x37], [0x3F], [0xD4, 0x0A], [0xD5, 0x0A], [0xD6]])
    func undefinedIn64BitMode(_ code: [UInt8]) {
        let m = TestMachine.long64()
        m.load(code + [0xF4])
        m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 10)) == 6)
    }
}
