// BMI1, BMI2, ADX, RDRAND/RDSEED, RD/WR FS/GS BASE. Encodings from GNU as (binutils 2.40);
// expected values from each instruction's "Operation" section in SDM Vol. 2, written out here
// bit by bit (a different formulation from the core's).

import Testing
@testable import X86

@Suite("BMI1, BMI2, ADX, RDRAND, FSGSBASE")
struct BitManipulationTests {
    static let a: UInt64 = 0xF0F0_1234_8000_0F0F, b: UInt64 = 0x0000_FFFF_0000_00FF

    /// Run one instruction with RBX = x, RCX = y; the machine's RAX and flags after it.
    func run(_ code: [UInt8], rbx: UInt64, rcx: UInt64, rdx: UInt64 = 0, flags: UInt64 = 0) -> TestMachine {
        let m = TestMachine.long64()
        m[.rax] = 0x5555_5555_5555_5555; m[.rbx] = rbx; m[.rcx] = rcx; m[.rdx] = rdx
        m.setArith(flags)
        m.runToHalt(code)
        return m
    }

    static func pdepRef(_ src: UInt64, _ mask: UInt64) -> UInt64 {
        var r: UInt64 = 0, k = 0
        for bit in 0..<64 where mask >> UInt64(bit) & 1 == 1 {
            r |= ((src >> UInt64(k)) & 1) << UInt64(bit); k += 1
        }
        return r
    }
    static func pextRef(_ src: UInt64, _ mask: UInt64) -> UInt64 {
        var r: UInt64 = 0, k = 0
        for bit in 0..<64 where mask >> UInt64(bit) & 1 == 1 {
            r |= ((src >> UInt64(bit)) & 1) << UInt64(k); k += 1
        }
        return r
    }

    @Test func andnAndTheBLSGroup() {
        var m = run([0xC4, 0xE2, 0xE0, 0xF2, 0xC1], rbx: Self.a, rcx: Self.b)          // andn rax, rbx, rcx
        #expect(m[.rax] == ~Self.a & Self.b)
        #expect(m.arith & (RFLAGS.cf | RFLAGS.of | RFLAGS.zf | RFLAGS.sf) == 0)
        m = run([0xC4, 0xE2, 0x60, 0xF2, 0xC1], rbx: ~0, rcx: 0xFFFF_FFFF, flags: RFLAGS.cf)   // andn eax, ebx, ecx
        #expect(m[.rax] == 0 && m.arith & RFLAGS.zf != 0 && m.arith & RFLAGS.cf == 0)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xCB], rbx: 0b1011_0000, rcx: 0)              // blsr rax, rbx
        #expect(m[.rax] == 0b1010_0000 && m.arith & RFLAGS.cf == 0)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xCB], rbx: 0, rcx: 0)
        #expect(m[.rax] == 0 && m.arith & (RFLAGS.cf | RFLAGS.zf) == RFLAGS.cf | RFLAGS.zf)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xD3], rbx: 0b1011_0000, rcx: 0)              // blsmsk
        #expect(m[.rax] == 0b0001_1111 && m.arith & (RFLAGS.cf | RFLAGS.zf) == 0)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xD3], rbx: 0, rcx: 0)
        #expect(m[.rax] == ~0 && m.arith & RFLAGS.cf != 0 && m.arith & RFLAGS.sf != 0 && m.arith & RFLAGS.zf == 0)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xDB], rbx: 0b1011_0000, rcx: 0)              // blsi
        #expect(m[.rax] == 0b0001_0000 && m.arith & RFLAGS.cf != 0)
        m = run([0xC4, 0xE2, 0xF8, 0xF3, 0xDB], rbx: 0, rcx: 0)
        #expect(m[.rax] == 0 && m.arith & RFLAGS.cf == 0 && m.arith & RFLAGS.zf != 0)
    }

    @Test func bextrAndBzhi() {
        // BEXTR rax, rbx, rcx: start = CL, length = CH.
        var m = run([0xC4, 0xE2, 0xF0, 0xF7, 0xC3], rbx: 0x1234_5678_9ABC_DEF0, rcx: 0x0C08)   // 12 bits from bit 8
        #expect(m[.rax] == 0xCDE)
        m = run([0xC4, 0xE2, 0xF0, 0xF7, 0xC3], rbx: ~0, rcx: 0x0040)                    // start 64: 0, ZF
        #expect(m[.rax] == 0 && m.arith & RFLAGS.zf != 0)
        m = run([0xC4, 0xE2, 0xF0, 0xF7, 0xC3], rbx: 0x8000_0000_0000_0001, rcx: 0xFF00)   // length ≥ 64: all
        #expect(m[.rax] == 0x8000_0000_0000_0001)
        // BZHI rax, rbx, rcx: keep bits below CL; CF when the index is out of range.
        m = run([0xC4, 0xE2, 0xF0, 0xF5, 0xC3], rbx: ~0, rcx: 12)
        #expect(m[.rax] == 0xFFF && m.arith & RFLAGS.cf == 0)
        m = run([0xC4, 0xE2, 0xF0, 0xF5, 0xC3], rbx: 0x8000_0000_0000_0000, rcx: 0x140)  // index 0x40 (bits 7:0)
        #expect(m[.rax] == 0x8000_0000_0000_0000 && m.arith & RFLAGS.cf != 0 && m.arith & RFLAGS.sf != 0)
    }

    @Test(arguments: [(UInt64(0x1234_5678_9ABC_DEF0), UInt64(0xFF00_FF00_0F0F_F0F0)), (~0, 0x8000_0000_0000_0001), (0xDEAD_BEEF, 0)])
    func pdepPext(_ src: UInt64, _ mask: UInt64) {
        var m = run([0xC4, 0xE2, 0xE3, 0xF5, 0xC1], rbx: src, rcx: mask)   // pdep rax, rbx, rcx
        #expect(m[.rax] == Self.pdepRef(src, mask))
        m = run([0xC4, 0xE2, 0xE2, 0xF5, 0xC1], rbx: src, rcx: mask)       // pext rax, rbx, rcx
        #expect(m[.rax] == Self.pextRef(src, mask))
    }

    @Test func mulxLeavesFlagsAlone() {
        // mulx rax (high), rbx (low), rcx × rdx
        var m = run([0xC4, 0xE2, 0xE3, 0xF6, 0xC1], rbx: 0, rcx: 0xFFFF_FFFF_FFFF_FFFF, rdx: 0x1_0000_0003,
                    flags: RFLAGS.cf | RFLAGS.zf)
        #expect(m[.rax] == 0x1_0000_0002 && m[.rbx] == 0xFFFF_FFFF_FFFF_FFFF &- 0x1_0000_0003 &+ 1)
        #expect(m.arith == RFLAGS.cf | RFLAGS.zf)
        m = run([0xC4, 0xE2, 0x63, 0xF6, 0xC1], rbx: 0, rcx: 0xFFFF_FFFF, rdx: 0xFFFF_FFFF)   // 32-bit
        #expect(m[.rax] == 0xFFFF_FFFE && m[.rbx] == 1)
    }

    @Test func shiftsWithoutFlagsAndRorx() {
        var m = run([0xC4, 0xE2, 0xF1, 0xF7, 0xC3], rbx: 0x8000_0000_0000_0001, rcx: 65, flags: RFLAGS.of)   // shlx: count mod 64
        #expect(m[.rax] == 2 && m.arith == RFLAGS.of)
        m = run([0xC4, 0xE2, 0xF2, 0xF7, 0xC3], rbx: 0x8000_0000_0000_0000, rcx: 4)    // sarx
        #expect(m[.rax] == 0xF800_0000_0000_0000)
        m = run([0xC4, 0xE2, 0x73, 0xF7, 0xC3], rbx: 0xFFFF_FFFF_8000_0000, rcx: 33)    // shrx eax, ebx, ecx: count mod 32
        #expect(m[.rax] == 0x4000_0000)
        m = run([0xC4, 0xE3, 0xFB, 0xF0, 0xC3, 0x0C], rbx: 0x1234_5678_9ABC_DEF0, rcx: 0)   // rorx rax, rbx, 12
        #expect(m[.rax] == 0xEF01_2345_6789_ABCD)
    }

    @Test func tzcnt() {
        var m = run([0xF3, 0x48, 0x0F, 0xBC, 0xC3], rbx: 0x100, rcx: 0)
        #expect(m[.rax] == 8 && m.arith & (RFLAGS.cf | RFLAGS.zf) == 0)
        m = run([0xF3, 0x48, 0x0F, 0xBC, 0xC3], rbx: 0, rcx: 0)
        #expect(m[.rax] == 64 && m.arith & RFLAGS.cf != 0)
        m = run([0xF3, 0x48, 0x0F, 0xBC, 0xC3], rbx: 1, rcx: 0)
        #expect(m[.rax] == 0 && m.arith & RFLAGS.zf != 0)
    }

    @Test func adcxAdoxUseTheirOwnCarry() {
        // adcx rax, rbx with RAX = ~0: carry out in CF only; OF untouched.
        var m = run([0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x66, 0x48, 0x0F, 0x38, 0xF6, 0xC3], rbx: 1, rcx: 0, flags: RFLAGS.of)
        #expect(m[.rax] == 0 && m.arith == RFLAGS.cf | RFLAGS.of)
        // adcx with CF in: 5 + 6 + 1
        m = run([0x48, 0xC7, 0xC0, 0x05, 0, 0, 0, 0x66, 0x48, 0x0F, 0x38, 0xF6, 0xC3], rbx: 6, rcx: 0, flags: RFLAGS.cf | RFLAGS.zf)
        #expect(m[.rax] == 12 && m.arith == RFLAGS.zf)
        // adox: OF is the carry; CF untouched.
        m = run([0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0x48, 0x0F, 0x38, 0xF6, 0xC3], rbx: 0, rcx: 0, flags: RFLAGS.of | RFLAGS.cf)
        #expect(m[.rax] == 0 && m.arith == RFLAGS.of | RFLAGS.cf)
        // 32-bit adcx: carry out of bit 31, result zero-extended.
        m = run([0xB8, 0xFF, 0xFF, 0xFF, 0xFF, 0x66, 0x0F, 0x38, 0xF6, 0xC3], rbx: 2, rcx: 0)
        #expect(m[.rax] == 1 && m.arith == RFLAGS.cf)
    }

    func decoded(_ bytes: [UInt8]) -> Op {
        let m = TestMachine.long64()
        m.load(bytes + [0xF4])
        return (try? m.cpu.decode(at: Layout.code).op) ?? .unimplemented
    }

    @Test func vexRulesGiveUD() {
        #expect(decoded([0xC4, 0xE2, 0xE0, 0xF2, 0xC1]) == .bmi)
        #expect(decoded([0xC4, 0xE2, 0xE4, 0xF2, 0xC1]) == .ud)          // VEX.L = 1
        #expect(decoded([0x66, 0xC4, 0xE2, 0xE0, 0xF2, 0xC1]) == .ud)    // 66 before VEX
        #expect(decoded([0x48, 0xC4, 0xE2, 0xE0, 0xF2, 0xC1]) == .ud)    // REX before VEX
        #expect(decoded([0xC4, 0xE2, 0xF8, 0xF3, 0xE3]) == .ud)          // VEX 0F38 F3 /4: not a BLS* form
        #expect(decoded([0xC5, 0xF8, 0x77]) == .ud)                      // VZEROUPPER: AVX, not modeled
        // In real mode VEX is #UD at execution (Table 2-28).
    }

    /// RORX (VEX.LZ.F2.0F3A.W0/W1 F0 /r ib): VEX.vvvv is reserved and must be 1111b (SDM Vol. 2B
    /// "RORX — Rotate Right Logical Without Affecting Flags"; #UD otherwise, Vol. 2A §2.5.1) —
    /// all four bits outside 64-bit mode too, where only three of them could name a register.
    /// Found by the decoder oracle with a fresh seed (Zydis: invalid); ≠ 1111b in the top bit only.
    @Test func rorxWithVVVVNot1111IsUDInEveryMode() {
        func decoded32(_ bytes: [UInt8]) -> Op {
            let m = TestMachine.protected32()
            m.load(bytes + [0xF4])
            return (try? m.cpu.decode(at: Layout.code).op) ?? .unimplemented
        }
        // rorx edx, ebp, 0x2F with VEX.vvvv = 0111b (inverted: 1000b): bit 3 set only.
        #expect(decoded32([0xC4, 0xC3, 0xBB, 0xF0, 0xD5, 0x2F]) == .ud)
        #expect(decoded32([0x3E, 0xC4, 0xC3, 0x3B, 0xF0, 0x98, 0x68, 0, 0, 0, 0x01]) == .ud)
        // VEX.vvvv = 1111b: RORX proper, in both modes.
        #expect(decoded32([0xC4, 0xC3, 0xFB, 0xF0, 0xD5, 0x2F]) == .bmi)
        #expect(decoded([0xC4, 0xE3, 0xFB, 0xF0, 0xC3, 0x0C]) == .bmi)
        #expect(decoded([0xC4, 0xE3, 0xBB, 0xF0, 0xC3, 0x0C]) == .ud)
        #expect(decoded([0xC4, 0xE3, 0xF3, 0xF0, 0xC3, 0x0C]) == .ud)    // low bits ≠ 1111b
    }

    @Test func rdrandAndRdseedSetCF() {
        var seen = Set<UInt64>()
        for code: [UInt8] in [[0x48, 0x0F, 0xC7, 0xF0], [0x48, 0x0F, 0xC7, 0xF8]] {
            for _ in 0..<4 {
                let m = run(code, rbx: 0, rcx: 0, flags: RFLAGS.zf | RFLAGS.of)
                #expect(m.arith == RFLAGS.cf)
                seen.insert(m[.rax])
            }
        }
        #expect(seen.count >= 7)     // 8 draws of 64 random bits: a repeat is (almost) impossible
        let m = run([0x0F, 0xC7, 0xF8], rbx: 0, rcx: 0)                // rdseed eax: zero-extended
        #expect(m[.rax] >> 32 == 0)
    }

    @Test func fsgsbase() {
        // Without CR4.FSGSBASE: #UD, GS.base unchanged.
        let n = TestMachine.long64()
        n[.rbx] = 0x0000_7FFF_1234_5000
        n.load([0xF3, 0x48, 0x0F, 0xAE, 0xDB, 0xF4])
        n.rip = Layout.code
        _ = n.cpu.run(budget: 1)
        #expect(n.cpu.segs[Seg.gs].base == 0)
        #expect(n.rip != Layout.code + 5)
        // With it: wrgsbase rbx; rdgsbase rax; rdgsbase ecx (zero-extended); wrfsbase of a
        // non-canonical value is #GP(0).
        let k = TestMachine.long64()
        k.cpu.cr4 |= CR4.fsgsbase
        k[.rbx] = 0x0000_7FFF_1234_5000
        k.runToHalt([0xF3, 0x48, 0x0F, 0xAE, 0xDB, 0xF3, 0x48, 0x0F, 0xAE, 0xC8, 0xF3, 0x0F, 0xAE, 0xC9])
        #expect(k.cpu.segs[Seg.gs].base == 0x0000_7FFF_1234_5000)
        #expect(k[.rax] == 0x0000_7FFF_1234_5000 && k[.rcx] == 0x1234_5000)
        k[.rbx] = 0x8000_0000_0000_0000
        k.load([0xF3, 0x48, 0x0F, 0xAE, 0xD3, 0xF4])     // wrfsbase rbx
        k.rip = Layout.code
        _ = k.cpu.run(budget: 1)
        #expect(k.cpu.segs[Seg.fs].base == 0)
    }
}
