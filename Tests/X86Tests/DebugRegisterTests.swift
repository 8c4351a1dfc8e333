// The guest's debug registers as hardware breakpoints (SDM Vol. 3A §17.2 "Debug Registers",
// §17.3.1 "Debug Exception (#DB)—Interrupt Vector 1"): instruction breakpoints are faults before
// the instruction (unless RFLAGS.RF = 1), data breakpoints are traps after the access, and DR6
// names the breakpoint in B0–B3.

import Testing
@testable import X86

@Suite("Debug registers: DR0–DR3 breakpoints, DR6, DR7")
struct DebugRegisterTests {
    /// mov dr0, rax (0F 23 C0) with RAX = the target; mov rax, 1 (48 C7 C0 01 00 00 00);
    /// mov dr7, rax (0F 23 F8): L0 = 1, R/W0 = 00B (instruction), LEN0 = 00B; nop; nop ← target; hlt.
    /// #DB is a fault: the frame's RIP is the target itself, DR6.B0 = 1.
    @Test func instructionBreakpointFaultsBeforeTheInstruction() {
        let m = TestMachine.long64()
        let target = Layout.code + 14
        m[.rax] = target
        let code: [UInt8] = [0x0F, 0x23, 0xC0, 0x48, 0xC7, 0xC0, 0x01, 0x00, 0x00, 0x00, 0x0F, 0x23, 0xF8, 0x90, 0x90, 0xF4]
        let stop = m.run(code, steps: 20)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == target)
        #expect(m.cpu.dr6 & 0xF == 1)
        #expect(m.cpu.dr6 & 0x4000 == 0)                  // not a single step
    }

    /// RFLAGS.RF = 1 suppresses the instruction breakpoint for one instruction (what IRET with RF
    /// set in the image does after a handler): the NOP at the breakpoint runs, RF is cleared after
    /// it, and the HLT follows — no #DB.
    @Test func resumeFlagSkipsTheBreakpointOnce() {
        let m = TestMachine.long64()
        m.cpu.dr = (Layout.code, 0, 0, 0)
        m.cpu.dr7 = 0x401
        m.cpu.debugRegistersChanged()
        m.cpu.rflags = m.cpu.rflags | RFLAGS.rf
        let stop = m.run([0x90, 0xF4], steps: 5)
        #expect(stop == .halted(rip: Layout.code + 1, interruptsEnabled: false), "stopped with \(stop)")
        #expect(m.cpu.rflags & RFLAGS.rf == 0)
    }

    /// A write breakpoint on 4 bytes (DR7: L1 = 1, R/W1 = 01B, LEN1 = 11B = D00004H) at DATA+4:
    /// mov dword [rbx+4], eax (89 43 04) hits it — a trap after the store (the memory is written,
    /// the frame's RIP is after the MOV), DR6.B1 = 1; a read of it does not trigger a write breakpoint.
    @Test func writeBreakpointTrapsAfterTheStore() {
        let m = TestMachine.long64()
        m.cpu.dr = (0, Layout.data + 4, 0, 0)
        m.cpu.dr7 = 0xD0_0404
        m.cpu.debugRegistersChanged()
        m[.rbx] = Layout.data; m[.rax] = 0xCAFE
        // mov ecx, [rbx+4] (8B 4B 04): a read — no #DB; then the store.
        let stop = m.run([0x8B, 0x4B, 0x04, 0x89, 0x43, 0x04, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 6)
        #expect(m.r32(Layout.data + 4) == 0xCAFE)
        #expect(m.cpu.dr6 & 0xF == 2)
    }

    /// A read/write breakpoint (R/W = 11B) on 8 bytes catches a 1-byte read inside its range
    /// (the range is aligned down to the length: DR2 = DATA+0x13 with LEN 10B covers DATA+0x10…+0x17).
    @Test func readWriteBreakpointCoversItsAlignedRange() {
        let m = TestMachine.long64()
        m.cpu.dr = (0, 0, Layout.data + 0x13, 0)
        m.cpu.dr7 = 0x400 | (1 << 4) | (3 << 24) | (2 << 26)     // L2, R/W2 = 11B, LEN2 = 10B (8 bytes)
        m.cpu.debugRegistersChanged()
        m[.rbx] = Layout.data
        // mov al, [rbx+0x16] (8A 43 16); nop; hlt
        let stop = m.run([0x8A, 0x43, 0x16, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 3)
        #expect(m.cpu.dr6 & 0xF == 4)
    }

    /// I/O breakpoints (R/W = 10B) are not modeled: arming one stops the machine with a report
    /// instead of silently never firing.
    @Test func ioBreakpointIsAnExplicitStop() {
        let m = TestMachine.long64()
        m[.rax] = 0x401 | (2 << 16)          // L0, R/W0 = 10B
        let stop = m.run([0x0F, 0x23, 0xF8], steps: 1)     // mov dr7, rax
        guard case .unimplemented = stop else { Issue.record("stopped with \(stop)"); return }
    }
}
