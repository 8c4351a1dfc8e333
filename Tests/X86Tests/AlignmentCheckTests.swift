// Alignment checking (SDM Vol. 3A §6.15 "Interrupt 17—Alignment Check Exception (#AC)"): with
// CR0.AM = 1, EFLAGS.AC = 1 and CPL 3, a misaligned data access is #AC(0), a fault (RIP at the
// instruction, nothing written); Table 6-7 "Alignment Requirements by Data Type" gives the
// alignment of each operand size. CPL 0, AM = 0 or AC = 0 turn it off.

import Testing
@testable import X86

@Suite("Alignment check (#AC)")
struct AlignmentCheckTests {
    /// CPL 3 (64-bit), CR0.AM = 1, AC = 1: mov qword [rsp-4], 0 (48 C7 44 24 FC 00 00 00 00) —
    /// 8 bytes at an address ≡ 4 (mod 8) — is #AC(0): the CPL-0 handler's frame has error code
    /// 0 and RIP = the MOV; the memory is unchanged.
    @Test func misalignedQuadwordStoreAtCPL3() {
        let m = TestMachine.long64()
        m.cpu.cr0 |= CR0.am
        m.enterUser64()
        m.cpu.rflags = m.cpu.rflags | RFLAGS.ac
        m.w64(Layout.userStack - 4, 0x1122_3344_5566_7788)
        m.load([0x48, 0xC7, 0x44, 0x24, 0xFC, 0x00, 0x00, 0x00, 0x00, 0xF4], at: Layout.userCode)
        m.rip = Layout.userCode
        let stop = m.run(5)
        #expect(m.vector(stop) == 17, "stopped with \(stop)")
        let f = m.frame64(errorCode: true)
        #expect(f.error == 0 && f.rip == Layout.userCode)
        #expect(m.r64(Layout.userStack - 4) == 0x1122_3344_5566_7788)
    }

    /// The same access aligned (mov qword [rsp-8], 0), a misaligned word read with AC = 0, and a
    /// misaligned access at CPL 0 with AC = 1 do not fault; a misaligned word read (mov ax,
    /// [rsp-1]: 66 8B 44 24 FF) at CPL 3 after POPF sets AC does — POPF turning AC on takes
    /// effect for the next access even though the page was used before.
    @Test func onlyWhenAllThreeConditionsHold() {
        let m = TestMachine.long64()
        m.cpu.cr0 |= CR0.am
        m.cpu.rflags = m.cpu.rflags | RFLAGS.ac
        m[.rbx] = Layout.data
        m.runToHalt([0x48, 0x8B, 0x43, 0x03])                 // CPL 0: mov rax, [rbx+3]
        let u = TestMachine.long64()
        u.cpu.cr0 |= CR0.am
        u.enterUser64()
        // mov ax, [rsp-1]; mov qword [rsp-8], 0; pushfq; or dword [rsp], 40000H (81 0C 24 00 00 04 00);
        // popfq; mov ax, [rsp-1]
        let code: [UInt8] = [0x66, 0x8B, 0x44, 0x24, 0xFF, 0x48, 0xC7, 0x44, 0x24, 0xF8, 0x00, 0x00, 0x00, 0x00,
                             0x9C, 0x81, 0x0C, 0x24, 0x00, 0x00, 0x04, 0x00, 0x9D, 0x66, 0x8B, 0x44, 0x24, 0xFF, 0xF4]
        u.load(code, at: Layout.userCode)
        u.rip = Layout.userCode
        let stop = u.run(10)
        #expect(u.vector(stop) == 17, "stopped with \(stop)")
        #expect(u.frame64(errorCode: true).rip == Layout.userCode + 23)
    }
}
