// Data movement and bit instructions: MOVZX MOVSX MOVSXD, LEA (every addressing form), XCHG,
// XADD, CMPXCHG, CMPXCHG8B/16B, BSWAP, BT/BTS/BTR/BTC, BSF/BSR/TZCNT/LZCNT/POPCNT,
// CBW/CWDE/CDQE/CWD/CDQ/CQO, LAHF/SAHF. Expected values from each instruction's "Operation"
// in SDM Vol. 2.

import Testing
@testable import X86

@Suite("MOVZX / MOVSX / MOVSXD")
struct ExtendTests {
    /// MOVZX zero-extends, MOVSX sign-extends the byte/word source to the operand size; a 16-bit
    /// destination merges into the register, a 32-bit one zero-extends (SDM Vol. 1 §3.4.1.1).
    @Test func registerForms() {
        let m = TestMachine.long64(mib: 2)
        func run(_ code: [UInt8], rbx: UInt64, expect: UInt64, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            m[.rax] = upperGarbage
            m[.rbx] = rbx
            #expect(m.run(code, steps: 1) == .budget, sourceLocation: sourceLocation)
            #expect(m[.rax] == expect, "\(what): RAX = 0x\(hex(m[.rax]))", sourceLocation: sourceLocation)
        }
        run([0x0F, 0xB6, 0xC3], rbx: 0xFFFF_FF80, expect: 0x80, "movzx eax, bl")
        run([0x48, 0x0F, 0xB7, 0xC3], rbx: 0x1_8001, expect: 0x8001, "movzx rax, bx")
        run([0x66, 0x0F, 0xB6, 0xC3], rbx: 0xF0, expect: (upperGarbage & ~0xFFFF) | 0x00F0, "movzx ax, bl")
        run([0x48, 0x0F, 0xBE, 0xC3], rbx: 0x80, expect: 0xFFFF_FFFF_FFFF_FF80, "movsx rax, bl")
        run([0x48, 0x0F, 0xBE, 0xC3], rbx: 0x7F, expect: 0x7F, "movsx rax, bl (positive)")
        run([0x0F, 0xBF, 0xC3], rbx: 0x8000, expect: 0xFFFF_8000, "movsx eax, bx")
        run([0x66, 0x0F, 0xBE, 0xC3], rbx: 0xFE, expect: (upperGarbage & ~0xFFFF) | 0xFFFE, "movsx ax, bl")
        run([0x48, 0x63, 0xC3], rbx: 0x1234_5678_8000_0000, expect: 0xFFFF_FFFF_8000_0000, "movsxd rax, ebx")
        run([0x48, 0x63, 0xC3], rbx: 0xFFFF_FFFF_7FFF_FFFF, expect: 0x7FFF_FFFF, "movsxd rax, ebx (positive)")
        // Without REX, ModRM rm=7/4 on a byte source is BH/AH: movzx eax, bh (0F B6 C7);
        // movsx eax, ah (0F BE C4) reads AH of the *old* RAX (upperGarbage: AH = 0xF0).
        run([0x0F, 0xB6, 0xC7], rbx: 0xAB00, expect: 0xAB, "movzx eax, bh")
        run([0x0F, 0xBE, 0xC4], rbx: 0, expect: 0xFFFF_FFF0, "movsx eax, ah")
    }

    @Test func memoryForms() {
        let m = TestMachine.long64(mib: 2)
        m.w64(Layout.data, 0x1122_3344_8899_AAFE)
        m[.rsi] = Layout.data
        // movzx eax, byte [rsi] (0F B6 06): 0xFE.
        m[.rax] = ~0
        #expect(m.run([0x0F, 0xB6, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0xFE)
        // movsx rax, word [rsi] (48 0F BF 06): 0xAAFE → sign-extended.
        #expect(m.run([0x48, 0x0F, 0xBF, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_FFFF_AAFE)
        // movsxd rax, dword [rsi] (48 63 06): 0x8899AAFE → sign-extended.
        #expect(m.run([0x48, 0x63, 0x06], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_8899_AAFE)
    }
}

@Suite("LEA: addressing forms")
struct LEATests {
    /// Registers for the address arithmetic: RBX = 0x1000, RCX = 0x10, RBP = 0x2000,
    /// R12 = 0x3000, R13 = 0x40, R8 = 0x1_00000001, R9 = 0x80000000, RSP = `Layout.stack`.
    func setUp(_ m: TestMachine) {
        m[.rax] = upperGarbage
        m[.rbx] = 0x1000; m[.rcx] = 0x10; m[.rbp] = 0x2000
        m[.r12] = 0x3000; m[.r13] = 0x40
        m[.r8] = 0x1_0000_0001; m[.r9] = 0x8000_0000
        m[.rsp] = Layout.stack
    }

    @Test func forms() {
        let m = TestMachine.long64(mib: 2)
        let c = Layout.code
        // (assembly, bytes, expected RAX); RIP-relative uses the address of the *next* instruction
        // (SDM Vol. 2 §2.2.1.6 "RIP-Relative Addressing").
        let cases: [(String, [UInt8], UInt64)] = [
            ("lea rax,[rbx]", [0x48, 0x8D, 0x03], 0x1000),
            ("lea rax,[rbx+rcx*4+0x10]", [0x48, 0x8D, 0x44, 0x8B, 0x10], 0x1000 + 0x40 + 0x10),
            ("lea rax,[rbx+rcx*8-8]", [0x48, 0x8D, 0x44, 0xCB, 0xF8], 0x1000 + 0x80 - 8),
            // SIB with base=101, mod=00: no base, disp32.
            ("lea rax,[rcx*2+0]", [0x48, 0x8D, 0x04, 0x4D, 0, 0, 0, 0], 0x20),
            // SIB with base=101 and index=100: absolute disp32 (not RIP-relative).
            ("lea rax,ds:0x1234", [0x48, 0x8D, 0x04, 0x25, 0x34, 0x12, 0, 0], 0x1234),
            // ModRM rm=101, mod=00 in 64-bit mode: RIP + disp32.
            ("lea rax,[rip+0x100]", [0x48, 0x8D, 0x05, 0x00, 0x01, 0, 0], c + 7 + 0x100),
            ("lea rax,[rip-8]", [0x48, 0x8D, 0x05, 0xF8, 0xFF, 0xFF, 0xFF], c + 7 - 8),
            // RBP/R13 as base need mod=01 with disp8 0.
            ("lea rax,[rbp+0]", [0x48, 0x8D, 0x45, 0x00], 0x2000),
            ("lea rax,[r13+0]", [0x49, 0x8D, 0x45, 0x00], 0x40),
            // REX.X and REX.B: R12 base, R13 index.
            ("lea rax,[r12+r13*1]", [0x4B, 0x8D, 0x04, 0x2C], 0x3040),
            // RSP as base needs a SIB (index=100: none).
            ("lea rax,[rsp+8]", [0x48, 0x8D, 0x44, 0x24, 0x08], Layout.stack + 8),
            // 32-bit operand size: the 64-bit address truncated to 32 bits, zero-extended.
            ("lea eax,[rbx-0x2000]", [0x8D, 0x83, 0x00, 0xE0, 0xFF, 0xFF], 0xFFFF_F000),
            // 16-bit operand size: the low 16 bits of the address, merged into RAX.
            ("lea ax,[rbx+rcx]", [0x66, 0x8D, 0x04, 0x0B], (upperGarbage & ~0xFFFF) | 0x1010),
            // Address-size override 0x67: 32-bit address arithmetic (wraps at 4 GiB), R8D/R9D
            // as base/index: 0x00000001 + 2·0x80000000 = 0x1_00000001 → 0x00000001.
            ("lea rax,[r8d+r9d*2]", [0x67, 0x4B, 0x8D, 0x04, 0x48], 1),
            // 0x67 with RIP-relative: EIP-relative, the sum truncated to 32 bits:
            // (0x10000 + 7 − 0x20000) mod 2³² = 0xFFFF0007.
            ("lea rax,[eip-0x20000]", [0x67, 0x48, 0x8D, 0x05, 0x00, 0x00, 0xFE, 0xFF], (c &+ 8 &- 0x20000) & 0xFFFF_FFFF),
            ("lea eax,[ebx+ecx*2+5]", [0x67, 0x8D, 0x44, 0x4B, 0x05], 0x1000 + 0x20 + 5),
        ]
        for (name, code, expected) in cases {
            setUp(m)
            #expect(m.run(code, steps: 1) == .budget, "\(name)")
            #expect(m[.rax] == expected, "\(name): RAX = 0x\(hex(m[.rax])), expected 0x\(hex(expected))")
        }
    }

    /// 0x67 wraps the address at 4 GiB even when the registers hold larger values.
    @Test func addressSizeOverrideWraps() {
        let m = TestMachine.long64(mib: 2)
        m[.rbx] = 0xFFFF_FFFF_FFFF_FFF0
        m[.rcx] = 0x10
        // lea eax,[ebx+ecx*2+5] (67 8D 44 4B 05): 0xFFFFFFF0 + 0x20 + 5 = 0x1_00000015 → 0x15.
        #expect(m.run([0x67, 0x8D, 0x44, 0x4B, 0x05], steps: 1) == .budget)
        #expect(m[.rax] == 0x15)
        // Without 0x67 the address keeps all 64 bits: lea rax,[rbx] (48 8D 03).
        #expect(m.run([0x48, 0x8D, 0x03], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_FFFF_FFF0)
    }

    /// 16-bit addressing (0x67 in 32-bit code): [BX+SI+disp8] wraps at 64 KiB (SDM Vol. 2
    /// Table 2-1 "16-Bit Addressing Forms with the ModR/M Byte").
    @Test func sixteenBitAddressingIn32BitMode() {
        let m = TestMachine.protected32()
        m[.rbx] = 0xFFFF; m[.rsi] = 0x0002
        m[.rax] = 0xAAAA_BBBB
        // lea eax,[bx+si+4] (67 8D 40 04): (0xFFFF + 2 + 4) & 0xFFFF = 0x0005.
        #expect(m.run([0x67, 0x8D, 0x40, 0x04], steps: 1) == .budget)
        #expect(m[.rax] & 0xFFFF_FFFF == 0x0005)
        // lea eax,[bp+di] (67 8D 03): BP + DI.
        m[.rbp] = 0x1234; m[.rdi] = 0x0100
        #expect(m.run([0x67, 0x8D, 0x03], steps: 1) == .budget)
        #expect(m[.rax] & 0xFFFF_FFFF == 0x1334)
        // lea eax,[0x5678] in 16-bit addressing: mod=00 rm=110 is disp16 alone (67 8D 06 78 56).
        #expect(m.run([0x67, 0x8D, 0x06, 0x78, 0x56], steps: 1) == .budget)
        #expect(m[.rax] & 0xFFFF_FFFF == 0x5678)
    }

    /// Memory accesses through the same forms reach the computed address.
    @Test func loadThroughSIBAndRIPRelative() {
        let m = TestMachine.long64(mib: 2)
        m.w64(Layout.data + 0x48, 0xAAAA_5555_AAAA_5555)
        m[.rbx] = Layout.data; m[.rcx] = 8
        // mov rax,[rbx+rcx*8+8] (48 8B 44 CB 08)
        #expect(m.run([0x48, 0x8B, 0x44, 0xCB, 0x08], steps: 1) == .budget)
        #expect(m[.rax] == 0xAAAA_5555_AAAA_5555)
        // mov rdx,[rip+0x20] (48 8B 15 20 00 00 00): reads code+7+0x20.
        m.w64(Layout.code + 7 + 0x20, 0x0123_4567_89AB_CDEF)
        m.load([0x48, 0x8B, 0x15, 0x20, 0x00, 0x00, 0x00])
        m.rip = Layout.code
        #expect(m.run(1) == .budget)
        #expect(m[.rdx] == 0x0123_4567_89AB_CDEF)
    }
}

@Suite("XCHG / XADD / CMPXCHG / CMPXCHG8B / CMPXCHG16B / BSWAP")
struct ExchangeTests {
    @Test func xchg() {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 1; m[.rcx] = 2; m[.r8] = 3
        m.setArith(flagMask("CF ZF"))
        // xchg rcx,rax (48 91); xchg r8,rax (49 90 — with REX.B, 90 is XCHG, not NOP)
        #expect(m.run([0x48, 0x91, 0x49, 0x90], steps: 2) == .budget)
        #expect(m[.rax] == 3 && m[.rcx] == 1 && m[.r8] == 2)
        #expect(m.flagString == "CF ZF")         // XCHG: no flags affected
        // xchg [rsi],ecx (87 0E): 32-bit, RCX zero-extended, memory upper half untouched.
        m[.rsi] = Layout.data
        m.w64(Layout.data, 0x1111_1111_2222_2222)
        m[.rcx] = 0xFFFF_FFFF_3333_3333
        #expect(m.run([0x87, 0x0E], steps: 1) == .budget)
        #expect(m[.rcx] == 0x2222_2222)
        #expect(m.r64(Layout.data) == 0x1111_1111_3333_3333)
        // xchg al,ch (86 E8): AL ↔ CH.
        m[.rax] = 0x11; m[.rcx] = 0x2200
        #expect(m.run([0x86, 0xE8], steps: 1) == .budget)
        #expect(m[.rax] == 0x22 && m[.rcx] == 0x1100)
        // 90 alone is NOP (even though it is the XCHG EAX,EAX encoding it does not clear RAX[63:32]).
        m[.rax] = 0xFFFF_FFFF_0000_0001
        #expect(m.run([0x90], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_0000_0001)
    }

    /// XADD: TEMP ← SRC + DEST; SRC ← DEST; DEST ← TEMP; flags as ADD.
    @Test func xadd() {
        let m = TestMachine.long64(mib: 2)
        // xadd rcx,rax (48 0F C1 C1): dest RCX = 0xFFFF…F, src RAX = 1 → RCX = 0, RAX = 0xFFFF…F.
        m[.rcx] = ~0; m[.rax] = 1
        #expect(m.run([0x48, 0x0F, 0xC1, 0xC1], steps: 1) == .budget)
        #expect(m[.rcx] == 0 && m[.rax] == ~0)
        #expect(m.flagString == "CF PF AF ZF")
        // lock xadd [rsi],eax (F0 0F C1 06): memory 0x7FFFFFFF + 1.
        m[.rsi] = Layout.data
        m.w64(Layout.data, 0xAAAA_AAAA_7FFF_FFFF)
        m[.rax] = 0xFFFF_FFFF_0000_0001
        #expect(m.run([0xF0, 0x0F, 0xC1, 0x06], steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 0xAAAA_AAAA_8000_0000)
        #expect(m[.rax] == 0x7FFF_FFFF)             // old DEST, zero-extended
        #expect(m.flagString == "PF AF SF OF")
        // The register is also the base: the sum goes to the address of the *old* RSI
        // (KVMDiffTests found this: lock xadd [rsi-0x3C], esi).
        m[.rsi] = Layout.data + 0x3C
        m.w64(Layout.data, 5)
        #expect(m.run([0xF0, 0x0F, 0xC1, 0x76, 0xC4], steps: 1) == .budget)
        #expect(m.r32(Layout.data) == UInt32(truncatingIfNeeded: 5 + Layout.data + 0x3C))
        #expect(m[.rsi] == 5)
    }

    /// CMPXCHG: compare the accumulator with DEST (flags as CMP accumulator, DEST); equal →
    /// ZF=1, DEST ← SRC; else ZF=0, accumulator ← DEST.
    @Test func cmpxchg() {
        let m = TestMachine.long64(mib: 2)
        // cmpxchg rcx,rdx (48 0F B1 D1), equal.
        m[.rax] = 5; m[.rcx] = 5; m[.rdx] = 9
        #expect(m.run([0x48, 0x0F, 0xB1, 0xD1], steps: 1) == .budget)
        #expect(m[.rcx] == 9 && m[.rax] == 5)
        #expect(m.flagString == "PF ZF")
        // Not equal: RAX = 3 vs RCX = 5: RAX ← 5; flags of 3 − 5 = 0xFF…FE: CF, SF, AF (3−5 borrows), no PF (0xFE).
        m[.rax] = 3; m[.rcx] = 5; m[.rdx] = 9
        #expect(m.run([0x48, 0x0F, 0xB1, 0xD1], steps: 1) == .budget)
        #expect(m[.rcx] == 5 && m[.rax] == 5)
        #expect(m.flagString == "CF AF SF")
        // cmpxchg [rsi],edx (0F B1 16), 32-bit memory: equal, then not equal (EAX zero-extended).
        m[.rsi] = Layout.data
        m.w64(Layout.data, 0x5555_5555_0000_0007)
        m[.rax] = 0xFFFF_FFFF_0000_0007; m[.rdx] = 0x42
        #expect(m.run([0x0F, 0xB1, 0x16], steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 0x5555_5555_0000_0042)
        #expect(m.arith & RFLAGS.zf != 0)
        m[.rax] = 0xFFFF_FFFF_0000_0007
        #expect(m.run([0x0F, 0xB1, 0x16], steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 0x5555_5555_0000_0042)
        #expect(m[.rax] == 0x42)
        #expect(m.arith & RFLAGS.zf == 0)
        // 8-bit: cmpxchg [rsi],dl (0F B0 16) equal: AL = 0x42.
        m[.rax] = 0x42; m[.rdx] = 0x99
        #expect(m.run([0x0F, 0xB0, 0x16], steps: 1) == .budget)
        #expect(m.r8(Layout.data) == 0x99)
    }

    /// CMPXCHG8B m64: EDX:EAX vs m64; equal → ZF=1, m64 ← ECX:EBX; else ZF=0, EDX:EAX ← m64.
    /// Only ZF is affected. CMPXCHG16B (REX.W): RDX:RAX vs m128, RCX:RBX; #GP(0) if the operand
    /// is not 16-byte aligned (SDM Vol. 2 "CMPXCHG8B/CMPXCHG16B").
    @Test func cmpxchg8b16b() {
        let m = TestMachine.long64(mib: 2)
        m[.rsi] = Layout.data
        m.w64(Layout.data, 0x1111_2222_3333_4444)
        m[.rdx] = 0x1111_2222; m[.rax] = 0x3333_4444
        m[.rcx] = 0xAAAA_BBBB; m[.rbx] = 0xCCCC_DDDD
        m.setArith(flagMask("CF OF"))
        #expect(m.run([0x0F, 0xC7, 0x0E], steps: 1) == .budget)          // cmpxchg8b [rsi]
        #expect(m.r64(Layout.data) == 0xAAAA_BBBB_CCCC_DDDD)
        #expect(m.flagString == "CF ZF OF")
        // Now they differ: EDX:EAX ← m64.
        #expect(m.run([0x0F, 0xC7, 0x0E], steps: 1) == .budget)
        #expect(m[.rdx] == 0xAAAA_BBBB && m[.rax] == 0xCCCC_DDDD)
        #expect(m.r64(Layout.data) == 0xAAAA_BBBB_CCCC_DDDD)
        #expect(m.flagString == "CF OF")

        // CMPXCHG16B at an aligned address (Layout.data is 16-byte aligned).
        m.w64(Layout.data, 0x0123_4567_89AB_CDEF)
        m.w64(Layout.data + 8, 0xFEDC_BA98_7654_3210)
        m[.rax] = 0x0123_4567_89AB_CDEF; m[.rdx] = 0xFEDC_BA98_7654_3210
        m[.rbx] = 0x1111_1111_1111_1111; m[.rcx] = 0x2222_2222_2222_2222
        #expect(m.run([0x48, 0x0F, 0xC7, 0x0E], steps: 1) == .budget)     // cmpxchg16b [rsi]
        #expect(m.r64(Layout.data) == 0x1111_1111_1111_1111)
        #expect(m.r64(Layout.data + 8) == 0x2222_2222_2222_2222)
        #expect(m.arith & RFLAGS.zf != 0)
        m[.rax] = 0
        #expect(m.run([0x48, 0x0F, 0xC7, 0x0E], steps: 1) == .budget)
        #expect(m[.rax] == 0x1111_1111_1111_1111 && m[.rdx] == 0x2222_2222_2222_2222)
        #expect(m.arith & RFLAGS.zf == 0)
        // Misaligned: #GP(0) (vector 13, error code 0, RIP of the instruction).
        m[.rsi] = Layout.data + 8
        let stop = m.run([0x48, 0x0F, 0xC7, 0x0E], steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.frame64(errorCode: true).error == 0)
        #expect(m.frame64(errorCode: true).rip == Layout.code)
        // The linear address counts: an aligned offset through a misaligned FS base is #GP(0) too.
        let n = TestMachine.long64(mib: 2)
        n.cpu.segs[Seg.fs].base = 8
        n.cpu.modeChanged()
        n[.rsi] = Layout.data
        #expect(n.vector(n.run([0x64, 0x48, 0x0F, 0xC7, 0x0E], steps: 1)) == 13)   // cmpxchg16b fs:[rsi]
    }

    /// CPUID.01H:ECX.CX16[bit 13] = 1 and EDX.CX8[bit 8] = 1 advertise what this suite tests.
    @Test func cx8AndCx16Advertised() {
        #expect(CPUModel.leaf1ECX & (1 << 13) != 0)
        #expect(CPUModel.leaf1EDX & (1 << 8) != 0)
    }

    @Test func bswap() {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 0x1122_3344_5566_7788
        m[.r9] = 0x0102_0304_0506_0708
        // bswap eax (0F C8): 0x55667788 → 0x88776655, zero-extended.
        #expect(m.run([0x0F, 0xC8], steps: 1) == .budget)
        #expect(m[.rax] == 0x8877_6655)
        // bswap rax (48 0F C8); bswap r9 (49 0F C9).
        m[.rax] = 0x1122_3344_5566_7788
        #expect(m.run([0x48, 0x0F, 0xC8, 0x49, 0x0F, 0xC9], steps: 2) == .budget)
        #expect(m[.rax] == 0x8877_6655_4433_2211)
        #expect(m[.r9] == 0x0807_0605_0403_0201)
    }
}

@Suite("BT / BTS / BTR / BTC")
struct BitTestTests {
    /// "CF ← the selected bit"; BTS sets it, BTR clears it, BTC complements it. ZF unaffected;
    /// OF SF AF PF undefined. With an immediate the offset is taken modulo the operand size;
    /// with a register offset and a memory operand the offset is a signed bit string index that
    /// may address memory outside the operand (SDM Vol. 2 "BT—Bit Test", Figure 3-2).
    @Test func registerOperand() {
        let m = TestMachine.long64(mib: 2)
        // bt rax,rcx (48 0F A3 C8): RCX = 67 → 67 mod 64 = 3: bit 3 of 0x8 = 1.
        m[.rax] = 0x8; m[.rcx] = 67
        m.setArith(RFLAGS.zf)
        #expect(m.run([0x48, 0x0F, 0xA3, 0xC8], steps: 1) == .budget)
        #expect(m.arith & (RFLAGS.cf | RFLAGS.zf) == RFLAGS.cf | RFLAGS.zf)
        #expect(m[.rax] == 0x8)
        // btc ax,cx (66 0F BB C8): CX = 17 → 17 mod 16 = 1: bit 1 of 0x8 = 0 → set.
        m[.rcx] = 17
        m.setArith(RFLAGS.cf)
        #expect(m.run([0x66, 0x0F, 0xBB, 0xC8], steps: 1) == .budget)
        #expect(m.arith & (RFLAGS.cf | RFLAGS.zf) == 0)
        #expect(m[.rax] == 0xA)
        // bt eax,35 (0F BA E0 23): 35 mod 32 = 3 → 1.
        m.setArith(0)
        #expect(m.run([0x0F, 0xBA, 0xE0, 0x23], steps: 1) == .budget)
        #expect(m.arith & RFLAGS.cf != 0)
        // btr rax, 3 (48 0F BA F0 03): clears bit 3, CF = 1.
        #expect(m.run([0x48, 0x0F, 0xBA, 0xF0, 0x03], steps: 1) == .budget)
        #expect(m[.rax] == 0x2)
        #expect(m.arith & RFLAGS.cf != 0)
        // bts eax, 31 (0F BA E8 1F) on a 32-bit register: zero-extends.
        m[.rax] = 0xFFFF_FFFF_0000_0000
        #expect(m.run([0x0F, 0xBA, 0xE8, 0x1F], steps: 1) == .budget)
        #expect(m[.rax] == 0x8000_0000)
        #expect(m.arith & RFLAGS.cf == 0)
    }

    @Test func memoryOperandWithFarBitOffsets() {
        let m = TestMachine.long64(mib: 2)
        let base = Layout.data + 0x100
        m[.rsi] = base
        m.mem.zero(at: Layout.data, count: 0x200)
        // bts [rsi],rcx (48 0F AB 0E) with RCX = 200: qword at base + 8·(200 div 64) = base+24,
        // bit 200 mod 64 = 8.
        m[.rcx] = 200
        #expect(m.run([0x48, 0x0F, 0xAB, 0x0E], steps: 1) == .budget)
        #expect(m.r64(base + 24) == 1 << 8)
        #expect(m.arith & RFLAGS.cf == 0)
        // Negative offset: RCX = −1 → qword at base − 8, bit 63.
        m[.rcx] = ~0
        #expect(m.run([0x48, 0x0F, 0xAB, 0x0E], steps: 1) == .budget)
        #expect(m.r64(base - 8) == 1 << 63)
        // bt again reads CF = 1 there.
        #expect(m.run([0x48, 0x0F, 0xA3, 0x0E], steps: 1) == .budget)
        #expect(m.arith & RFLAGS.cf != 0)
        // btr [rsi],ecx (0F B3 0E), 32-bit: ECX = −1 → dword at base + 4·floor(−1/32) = base − 4,
        // bit 31: the same bit as bit 63 of the qword at base − 8.
        m[.rcx] = 0xFFFF_FFFF
        #expect(m.run([0x0F, 0xB3, 0x0E], steps: 1) == .budget)
        #expect(m.arith & RFLAGS.cf != 0)
        #expect(m.r64(base - 8) == 0)
        // btc [rsi],ecx (0F BB 0E): ECX = −33 → dword at base + 4·floor(−33/32) = base − 8,
        // bit −33 − (−2·32) = 31.
        m[.rcx] = 0xFFFF_FFDF
        #expect(m.run([0x0F, 0xBB, 0x0E], steps: 1) == .budget)
        #expect(m.arith & RFLAGS.cf == 0)
        #expect(m.r64(base - 8) == 1 << 31)
        // btr word [rsi],cx (66 0F B3 0E): CX = 0x0011 (17) → word at base+2, bit 1.
        m.w16(base + 2, 0xFFFF)
        m[.rcx] = 17
        #expect(m.run([0x66, 0x0F, 0xB3, 0x0E], steps: 1) == .budget)
        #expect(m.r16(base + 2) == 0xFFFD)
        // bts qword [rsi],70 (48 0F BA 2E 46): immediate 70 mod 64 = 6 at [rsi] itself.
        m.w64(base, 0)
        #expect(m.run([0x48, 0x0F, 0xBA, 0x2E, 0x46], steps: 1) == .budget)
        #expect(m.r64(base) == 1 << 6)
        #expect(m.r64(base + 8) == 0)
    }
}

@Suite("BSF / BSR / TZCNT / LZCNT / POPCNT")
struct BitScanTests {
    /// BSF/BSR: index of the lowest/highest set bit; "If the content of the source operand is
    /// 0, the content of the destination operand is undefined"; ZF = (source = 0); CF OF SF AF PF
    /// undefined.
    @Test func bsfBsr() {
        let m = TestMachine.long64(mib: 2)
        func run(_ code: [UInt8], src: UInt64, result: UInt64?, sourceLocation: SourceLocation = #_sourceLocation) {
            m[.rcx] = src; m[.rax] = 0x5A5A
            m.setArith(result == nil ? 0 : RFLAGS.zf)
            #expect(m.run(code, steps: 1) == .budget, sourceLocation: sourceLocation)
            #expect((m.arith & RFLAGS.zf != 0) == (result == nil), sourceLocation: sourceLocation)
            if let result { #expect(m[.rax] == result, "RAX 0x\(hex(m[.rax]))", sourceLocation: sourceLocation) }
        }
        run([0x48, 0x0F, 0xBC, 0xC1], src: 0x8000_0000_0000_0000, result: 63)   // bsf rax,rcx
        run([0x48, 0x0F, 0xBC, 0xC1], src: 0x0000_0000_0001_0100, result: 8)
        run([0x48, 0x0F, 0xBC, 0xC1], src: 0, result: nil)
        run([0x0F, 0xBD, 0xC1], src: 0xFFFF_FFFF_0000_0001, result: 0)           // bsr eax,ecx: ECX only
        run([0x48, 0x0F, 0xBD, 0xC1], src: 0x0000_0100_0000_0001, result: 40)   // bsr rax,rcx
        run([0x66, 0x0F, 0xBD, 0xC1], src: 0x8000, result: 15)                  // bsr ax,cx (RAX was 0x5A5A)
    }

    /// F3 0F BC is TZCNT on processors with BMI1 (CPUID.(EAX=07H,ECX=0):EBX.BMI1[bit 3]), which
    /// the model advertises: the trailing-zero count, CF = (source = 0), ZF = (result = 0)
    /// (SDM Vol. 2B "TZCNT"); without the F3 prefix the same bytes are BSF.
    @Test func tzcntWithBMI1() {
        let (_, ebx, _, _) = CPUModel.cpuid(leaf: 7, subleaf: 0, cpu: nil)
        #expect(ebx & (1 << 3) != 0)
        let m = TestMachine.long64(mib: 2)
        m[.rcx] = 0x10; m[.rax] = 0
        #expect(m.run([0xF3, 0x48, 0x0F, 0xBC, 0xC1], steps: 1) == .budget)   // tzcnt rax, rcx
        #expect(m[.rax] == 4 && m.arith & (RFLAGS.zf | RFLAGS.cf) == 0)
        m[.rcx] = 0
        #expect(m.run([0xF3, 0x48, 0x0F, 0xBC, 0xC1], steps: 1) == .budget)
        #expect(m[.rax] == 64 && m.arith & RFLAGS.cf != 0 && m.arith & RFLAGS.zf == 0)
    }

    /// LZCNT (advertised: CPUID.80000001H:ECX.LZCNT[bit 5]): the number of leading zero bits;
    /// CF = (source = 0), ZF = (result = 0); OF SF PF AF undefined.
    @Test func lzcnt() {
        #expect(CPUModel.ext1ECX & (1 << 5) != 0)
        let m = TestMachine.long64(mib: 2)
        func run(_ code: [UInt8], src: UInt64, result: UInt64, cf: Bool, zf: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            m[.rcx] = src; m[.rax] = upperGarbage
            m.setArith((cf ? 0 : RFLAGS.cf) | (zf ? 0 : RFLAGS.zf))
            #expect(m.run(code, steps: 1) == .budget, sourceLocation: sourceLocation)
            #expect(m[.rax] == result, "RAX 0x\(hex(m[.rax]))", sourceLocation: sourceLocation)
            #expect(m.arith & (RFLAGS.cf | RFLAGS.zf) == (cf ? RFLAGS.cf : 0) | (zf ? RFLAGS.zf : 0), sourceLocation: sourceLocation)
        }
        run([0xF3, 0x48, 0x0F, 0xBD, 0xC1], src: 1, result: 63, cf: false, zf: false)
        run([0xF3, 0x48, 0x0F, 0xBD, 0xC1], src: 0x8000_0000_0000_0000, result: 0, cf: false, zf: true)
        run([0xF3, 0x48, 0x0F, 0xBD, 0xC1], src: 0, result: 64, cf: true, zf: false)
        run([0xF3, 0x0F, 0xBD, 0xC1], src: 0xFFFF_FFFF_0000_FFFF, result: 16, cf: false, zf: false)    // lzcnt eax,ecx
        run([0xF3, 0x0F, 0xBD, 0xC1], src: 0xFFFF_FFFF_0000_0000, result: 32, cf: true, zf: false)
        run([0x66, 0xF3, 0x0F, 0xBD, 0xC1], src: 0x00FF, result: (upperGarbage & ~0xFFFF) | 8, cf: false, zf: false)   // lzcnt ax,cx
    }

    /// POPCNT (CPUID.01H:ECX.POPCNT[bit 23]): "OF, SF, ZF, AF, CF, PF are all cleared. ZF is set
    /// if SRC = 0".
    @Test func popcnt() {
        #expect(CPUModel.leaf1ECX & (1 << 23) != 0)
        let m = TestMachine.long64(mib: 2)
        m[.rcx] = 0xF0F0_0000_0000_0001
        m.setArith(RFLAGS.arith)
        #expect(m.run([0xF3, 0x48, 0x0F, 0xB8, 0xC1], steps: 1) == .budget)    // popcnt rax,rcx
        #expect(m[.rax] == 9)
        #expect(m.flagString == "")
        m[.rsi] = Layout.data
        m.w64(Layout.data, 0xFFFF_FFFF_0000_0000)
        m.setArith(0)
        #expect(m.run([0xF3, 0x0F, 0xB8, 0x06], steps: 1) == .budget)          // popcnt eax,[rsi]
        #expect(m[.rax] == 0)
        #expect(m.flagString == "ZF")
    }
}

@Suite("CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF")
struct ConvertTests {
    @Test func signExtendAccumulator() {
        let m = TestMachine.long64(mib: 2)
        // cbw (66 98): AX ← sign-extend AL.
        m[.rax] = 0x1111_1111_1111_1180
        #expect(m.run([0x66, 0x98], steps: 1) == .budget)
        #expect(m[.rax] == 0x1111_1111_1111_FF80)
        // cwde (98): EAX ← sign-extend AX (zero-extended into RAX).
        m[.rax] = 0x1111_1111_1111_8000
        #expect(m.run([0x98], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_8000)
        // cdqe (48 98): RAX ← sign-extend EAX.
        m[.rax] = 0x0000_0000_8000_0000
        #expect(m.run([0x48, 0x98], steps: 1) == .budget)
        #expect(m[.rax] == 0xFFFF_FFFF_8000_0000)
        m[.rax] = 0xFFFF_FFFF_7FFF_FFFF
        #expect(m.run([0x48, 0x98], steps: 1) == .budget)
        #expect(m[.rax] == 0x7FFF_FFFF)
        // cwd (66 99): DX ← sign of AX.
        m[.rax] = 0x8000; m[.rdx] = 0x2222_2222_2222_2222
        #expect(m.run([0x66, 0x99], steps: 1) == .budget)
        #expect(m[.rdx] == 0x2222_2222_2222_FFFF)
        // cdq (99): EDX ← sign of EAX (zero-extended).
        m[.rax] = 0x8000_0000; m[.rdx] = 0x2222_2222_2222_2222
        #expect(m.run([0x99], steps: 1) == .budget)
        #expect(m[.rdx] == 0xFFFF_FFFF)
        m[.rax] = 0x7FFF_FFFF
        #expect(m.run([0x99], steps: 1) == .budget)
        #expect(m[.rdx] == 0)
        // cqo (48 99): RDX ← sign of RAX.
        m[.rax] = 0x8000_0000_0000_0000
        #expect(m.run([0x48, 0x99], steps: 1) == .budget)
        #expect(m[.rdx] == ~0)
    }

    /// LAHF: AH ← SF:ZF:0:AF:0:PF:1:CF. SAHF: SF ZF AF PF CF ← AH bits 7 6 4 2 0; OF unchanged.
    /// Valid in 64-bit mode because CPUID.80000001H:ECX.LAHF-SAHF[bit 0] = 1.
    @Test func lahfSahf() {
        #expect(CPUModel.ext1ECX & 1 != 0)
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 0x1234_5678_0000_00AA
        m.setArith(flagMask("CF PF ZF SF OF"))
        #expect(m.run([0x9F], steps: 1) == .budget)
        // SF=1 ZF=1 0 AF=0 0 PF=1 1 CF=1 = 1100_0111 = 0xC7.
        #expect(m[.rax] == 0x1234_5678_0000_C7AA)
        // sahf with AH = 0x12 = 0001_0010: AF=1 (bit 4); bit 1 ignored; CF PF ZF SF = 0; OF kept.
        m[.rax] = 0x12_00
        #expect(m.run([0x9E], steps: 1) == .budget)
        #expect(m.flagString == "AF OF")
        m[.rax] = 0xFF_00
        m.setArith(0)
        #expect(m.run([0x9E], steps: 1) == .budget)
        #expect(m.flagString == "CF PF AF ZF SF")
    }
}
