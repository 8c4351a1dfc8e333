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

    /// I/O breakpoints (R/W = 10B with CR4.DE = 1; SDM Vol. 3A §17.2.4, §17.3.1.2): DR1 = port
    /// 0x80 with LEN1 = 01B covers ports 80H–81H. OUT 7FH, AL misses; OUT 81H, AL hits — a trap
    /// after the write (the device saw it; the frame's RIP is after the OUT), DR6.B1 = 1. DR7 is
    /// armed with MOV DR7, which no longer stops.
    @Test func ioBreakpointTrapsAfterTheOut() {
        let m = TestMachine.long64()
        m.cpu.cr4 |= CR4.de
        m.cpu.dr = (0, 0x80, 0, 0)
        m[.rax] = 0x400 | (1 << 2) | (2 << 20) | (1 << 22)      // L1, R/W1 = 10B, LEN1 = 01B
        // mov dr7, rax; out 0x7F, al; out 0x81, al; nop; hlt
        let stop = m.run([0x0F, 0x23, 0xF8, 0xE6, 0x7F, 0xE6, 0x81, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 7)
        #expect(m.io.writes.map(\.port) == [0x7F, 0x81])
        #expect(m.cpu.dr6 & 0xF == 2)
    }

    /// An I/O breakpoint does not match memory at the same address, and a data breakpoint does
    /// not match a port: DR0 = 0x60 as an I/O breakpoint, a read of linear 60H runs on; IN AL, 60H traps.
    @Test func ioBreakpointIgnoresMemoryAccesses() {
        let m = TestMachine.long64()
        m.cpu.cr4 |= CR4.de
        m.cpu.dr = (0x60, 0, 0, 0)
        m.cpu.dr7 = 0x400 | 1 | (2 << 16)                          // L0, R/W0 = 10B, 1 byte
        m.cpu.debugRegistersChanged()
        m.io.readValue = 0x5A
        // mov al, [0x60] (8A 04 25 60 00 00 00); in al, 0x60 (E4 60); nop; hlt
        let stop = m.run([0x8A, 0x04, 0x25, 0x60, 0x00, 0x00, 0x00, 0xE4, 0x60, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 9)
        #expect(m[.rax] & 0xFF == 0x5A)
        #expect(m.cpu.dr6 & 0xF == 1)
    }

    /// A repeated string instruction traps after the iteration that hit (SDM Vol. 3A §17.3.1.2):
    /// REP OUTSB to port 80H with RCX = 4 stops after the first byte — RIP is the REP OUTSB itself
    /// (the handler's IRET resumes it), RCX = 3, one byte written.
    @Test func ioBreakpointOnRepOutsTrapsAfterTheIteration() {
        let m = TestMachine.long64()
        m.cpu.cr4 |= CR4.de
        m.cpu.dr = (0x80, 0, 0, 0)
        m.cpu.dr7 = 0x400 | 1 | (2 << 16)
        m.cpu.debugRegistersChanged()
        m[.rdx] = 0x80; m[.rcx] = 4; m[.rsi] = Layout.data
        let stop = m.run([0xF3, 0x6E, 0x90, 0xF4], steps: 10)     // rep outsb; nop; hlt
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code)
        #expect(m[.rcx] == 3 && m[.rsi] == Layout.data + 1)
        #expect(m.io.writes.count == 1)
        #expect(m.cpu.dr6 & 0xF == 1)
    }

    /// The same for a data breakpoint: REP STOSB over 8 bytes with a write breakpoint on the third
    /// traps after the third iteration with RCX = 5.
    @Test func dataBreakpointOnRepStosTrapsAfterTheIteration() {
        let m = TestMachine.long64()
        m.cpu.dr = (Layout.data + 2, 0, 0, 0)
        m.cpu.dr7 = 0x400 | 1 | (1 << 16)                          // L0, R/W0 = 01B, 1 byte
        m.cpu.debugRegistersChanged()
        m[.rdi] = Layout.data; m[.rcx] = 8; m[.rax] = 0xEE
        let stop = m.run([0xF3, 0xAA, 0x90, 0xF4], steps: 10)     // rep stosb; nop; hlt
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code)
        #expect(m[.rcx] == 5 && m[.rdi] == Layout.data + 3)
        #expect(m.r8(Layout.data + 2) == 0xEE && m.r8(Layout.data + 3) != 0xEE)
    }

    /// With CR4.DE = 0 the meaning of R/W = 10B is undefined (§17.2.4): arming one stops the
    /// machine with a report rather than pick a behaviour.
    @Test func ioBreakpointWithoutDEIsAnExplicitStop() {
        let m = TestMachine.long64()
        m[.rax] = 0x401 | (2 << 16)          // L0, R/W0 = 10B
        let stop = m.run([0x0F, 0x23, 0xF8], steps: 1)     // mov dr7, rax
        guard case let .unimplemented(what, _, _, _) = stop else { Issue.record("stopped with \(stop)"); return }
        #expect(what.contains("CR4.DE = 0"))
    }
}
