// SYSENTER / SYSEXIT (SDM Vol. 2B "SYSENTER", "SYSEXIT"): the flat CPL-0 / CPL-3 segments are
// derived from IA32_SYSENTER_CS (CS, CS+8 for SS; SYSEXIT: CS+16 (32-bit) or CS+32 (REX.W, 64-bit),
// SS = that + 8, RPL 3), not read from the GDT; RSP/RIP from the MSRs or from RCX/RDX.

import Testing
@testable import X86

@Suite("SYSENTER / SYSEXIT")
struct SysenterTests {
    @Test func roundTripIn64BitMode() {
        let m = TestMachine.long64()
        #expect(CPUModel.leaf1EDX & (1 << 11) != 0)          // CPUID.1:EDX.SEP
        m.cpu.msrs.sysenterCS = UInt64(Sel.code64)          // 08H
        m.cpu.msrs.sysenterESP = Layout.rsp0Stack
        m.cpu.msrs.sysenterEIP = Layout.code + 0x100
        m.cpu.rflags = m.cpu.rflags | RFLAGS.if
        // sysenter (0F 34)
        #expect(m.run([0x0F, 0x34], steps: 1) == .budget)
        #expect(m.rip == Layout.code + 0x100 && m[.rsp] == Layout.rsp0Stack)
        #expect(m.cpu.segs[Seg.cs].selector == 0x08 && m.cpu.segs[Seg.ss].selector == 0x10 && m.cpu.cpl == 0)
        #expect(m.cpu.segs[Seg.cs].attr & SegAttr.l != 0)   // IA-32e mode: 64-bit code
        #expect(m.cpu.rflags & RFLAGS.if == 0)               // IF, VM, RF cleared
        // sysexitq (48 0F 35): CS = 08H + 32 = 28H | 3, SS = 33H, RSP = RCX, RIP = RDX, CPL 3.
        m[.rcx] = Layout.userStack; m[.rdx] = Layout.userCode
        m.load([0x48, 0x0F, 0x35], at: Layout.code + 0x100)
        #expect(m.run(1) == .budget)
        #expect(m.rip == Layout.userCode && m[.rsp] == Layout.userStack)
        #expect(m.cpu.segs[Seg.cs].selector == 0x2B && m.cpu.segs[Seg.ss].selector == 0x33 && m.cpu.cpl == 3)
        #expect(m.cpu.segs[Seg.cs].attr & SegAttr.l != 0 && m.cpu.segs[Seg.cs].dpl == 3)
        // SYSEXIT at CPL 3: #GP(0).
        m.load([0x0F, 0x35], at: Layout.userCode)
        let stop = m.run(1)
        #expect(m.vector(stop) == 13, "stopped with \(stop)")
    }

    /// IA32_SYSENTER_CS with a null selector (bits 15:2 = 0): SYSENTER raises #GP(0).
    @Test func nullSysenterCSFaults() {
        let m = TestMachine.long64()
        m.cpu.msrs.sysenterCS = 3
        let stop = m.run([0x0F, 0x34], steps: 1)
        #expect(m.vector(stop) == 13, "stopped with \(stop)")
        #expect(m.frame64(errorCode: true).error == 0 && m.frame64(errorCode: true).rip == Layout.code)
    }
}
