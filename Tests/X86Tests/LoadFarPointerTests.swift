// LDS/LES/LSS/LFS/LGS (SDM Vol. 2A "LDS/LES/LFS/LGS/LSS—Load Far Pointer"): offset then 16-bit
// selector from memory (m16:16, m16:32, or m16:64 with REX.W); the segment is loaded with the
// usual checks; register forms are #UD; LES/LDS do not exist in 64-bit mode (C4/C5 are VEX).

import Testing
@testable import X86

@Suite("LDS / LES / LSS / LFS / LGS")
struct LoadFarPointerTests {
    @Test func lfsAndLgsIn64BitMode() {
        let m = TestMachine.long64()
        m.w32(Layout.data, 0x1234_5678); m.w16(Layout.data + 4, Sel.data)
        m[.rbx] = Layout.data
        // lfs eax, [rbx] (0F B4 03): m16:32.
        #expect(m.run([0x0F, 0xB4, 0x03], steps: 1) == .budget)
        #expect(m[.rax] == 0x1234_5678 && m.cpu.segs[Seg.fs].selector == Sel.data)
        // lgs rcx, [rbx+8] (48 0F B5 4B 08): m16:64 — 8-byte offset, selector at +8.
        m.w64(Layout.data + 8, 0xFFFF_8000_0000_1000); m.w16(Layout.data + 16, Sel.data)
        #expect(m.run([0x48, 0x0F, 0xB5, 0x4B, 0x08], steps: 1) == .budget)
        #expect(m[.rcx] == 0xFFFF_8000_0000_1000 && m.cpu.segs[Seg.gs].selector == Sel.data)
    }

    /// LSS with a code-segment selector: #GP(selector) (SS must be a writable data segment), and
    /// the destination register is not written.
    @Test func lssWithACodeSelectorFaults() {
        let m = TestMachine.long64()
        m.w32(Layout.data, 0x4000); m.w16(Layout.data + 4, Sel.code64)
        m[.rbx] = Layout.data; m[.rsp] = Layout.stack
        let stop = m.run([0x0F, 0xB2, 0x23], steps: 1)          // lss esp, [rbx]
        #expect(m.vector(stop) == 13, "stopped with \(stop)")
        #expect(m.frame64(errorCode: true).error == UInt64(Sel.code64))
    }

    /// In 32-bit protected mode C4 with a memory operand is LES: les eax, [ebx] (C4 03).
    @Test func lesIn32BitMode() {
        let m = TestMachine.protected32()
        m.w32(Layout.data, 0xCAFE_F00D); m.w16(Layout.data + 4, Sel.data)
        m[.rbx] = Layout.data
        #expect(m.run([0xC4, 0x03], steps: 1) == .budget)
        #expect(m[.rax] == 0xCAFE_F00D && m.cpu.segs[Seg.es].selector == Sel.data)
    }

    /// A register operand is #UD: lfs eax, ecx (0F B4 C1).
    @Test func registerFormIsUD() {
        let m = TestMachine.long64()
        let stop = m.run([0x0F, 0xB4, 0xC1], steps: 1)
        #expect(m.vector(stop) == 6, "stopped with \(stop)")
    }
}
