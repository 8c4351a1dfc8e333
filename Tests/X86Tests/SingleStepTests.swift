// The guest's own single-step: RFLAGS.TF = 1 makes the processor raise a #DB trap after each
// instruction (SDM Vol. 3A §17.3.1.4 "Single-Step Exception Condition"), with DR6.BS (bit 14)
// set; the instruction that sets TF (POPF) is not trapped, and MOV SS / POP SS inhibit the trap
// for the instruction after them (§6.8.3 "Masking Exceptions and Interrupts When Switching Stacks").

import Testing
@testable import X86

@Suite("Single-step (RFLAGS.TF)")
struct SingleStepTests {
    /// pushfq (9C); or qword [rsp], 100H (48 81 0C 24 00 01 00 00); popfq (9D); nop (90); hlt (F4):
    /// POPF sets TF and is not trapped; the NOP after it is — #DB with the frame's RIP after the
    /// NOP (a trap), TF set in the pushed RFLAGS, DR6.BS = 1, and the handler runs with TF clear.
    @Test func trapAfterTheInstructionFollowingPOPF() {
        let m = TestMachine.long64()
        let code: [UInt8] = [0x9C, 0x48, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9D, 0x90, 0xF4]
        let stop = m.run(code, steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        let f = m.frame64(errorCode: false)
        #expect(f.rip == Layout.code + 11)                 // after the NOP
        #expect(f.rflags & RFLAGS.tf != 0)
        #expect(m.cpu.dr6 & 0x4000 != 0)
        #expect(m.cpu.rflags & RFLAGS.tf == 0)
        // Exactly four instructions ran before the handler's HLT: pushfq, or, popfq, nop.
        #expect(m.cpu.instructions == 5)
    }

    /// With TF already set, MOV SS (8E D0, mov ss, eax) inhibits the trap after itself: the trap
    /// comes after the NOP that follows, not after the MOV SS.
    @Test func movSSInhibitsTheTrapForOneInstruction() {
        let m = TestMachine.long64()
        m.cpu.rflags = m.cpu.rflags | RFLAGS.tf
        m[.rax] = UInt64(Sel.data)
        let stop = m.run([0x8E, 0xD0, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 3)   // after the NOP, not after MOV SS
    }
}

// MARK: - Debug conditions around MOV SS / POP SS, general detect, BTF

/// The debug-exception rules an external conformance run (kvm-unit-tests' debug.c style) found
/// wrong: DR6.B0–B3 are rewritten by each #DB (§17.2.3 "Debug Status Register (DR6)": "Certain
/// debug exceptions may clear bits 0-3"), data breakpoints hit by MOV SS wait for the next
/// instruction boundary or event (§6.8.3 "Masking Exceptions and Interrupts When Switching
/// Stacks"), DR7.GD makes MOV DR a #DB fault (§17.2.4 "Debug Control Register (DR7)"), and
/// IA32_DEBUGCTL.BTF single-steps on branches only (Vol. 3B §17.4.3 "Single-Stepping on Branches").
@Suite("Debug exceptions: DR6 B0–B3, MOV SS blocking, DR7.GD, BTF")
struct DebugConditionTests {
    /// DR6 written with BS | B1 beforehand (what software leaves there), then an instruction
    /// breakpoint on DR2 hits: B0–B3 now name DR2 alone (B1 gone), BS stays (never cleared by the
    /// processor), the reserved-1 bits stay 1: DR6 = FFFF4FF4H.
    @Test func eachDebugExceptionRewritesB0toB3() {
        let m = TestMachine.long64()
        m.cpu.dr6 = 0xFFFF_0FF0 | 0x4000 | 0x2
        m.cpu.dr = (0, 0, Layout.code + 1, 0)
        m.cpu.dr7 = 0x400 | (1 << 5)          // G2, R/W2 = 00B (instruction)
        m.cpu.debugRegistersChanged()
        let stop = m.run([0x90, 0x90, 0xF4], steps: 5)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 1)
        #expect(m.cpu.dr6 == 0xFFFF_4FF4, "DR6 = 0x\(hex(m.cpu.dr6))")
    }

    /// A read/write breakpoint on DR1 over DATA (2 bytes, R/W1 = 11B, LEN1 = 01B, L1).
    func machineWithWatchedSelector() -> TestMachine {
        let m = TestMachine.long64()
        m.w16(Layout.data, Sel.data)
        m[.rbx] = Layout.data
        m.cpu.dr = (0, Layout.data, 0, 0)
        m.cpu.dr7 = 0x400 | (1 << 2) | (3 << 20) | (1 << 22)
        m.cpu.debugRegistersChanged()
        return m
    }

    /// mov ss, [rbx] (8E 13) reads the watched word: its #DB waits until after the NOP that
    /// follows — the frame's RIP is after the NOP (CODE+3), not after the MOV SS (CODE+2); DR6.B1.
    @Test func movSSDataBreakpointWaitsForTheNextInstruction() {
        let m = machineWithWatchedSelector()
        let stop = m.run([0x8E, 0x13, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 3)
        #expect(m.cpu.dr6 & 0xF == 2)
        #expect(m.cpu.regs[Reg.rsp] == Layout.stack - 40)   // one frame: one #DB
    }

    /// mov ss, [rbx]; icebp (F1): the held breakpoint is reported by ICEBP's own #DB — one #DB
    /// (one frame on the stack), its RIP after the ICEBP, DR6.B1 set.
    @Test func movSSDataBreakpointMergesWithICEBP() {
        let m = machineWithWatchedSelector()
        let stop = m.run([0x8E, 0x13, 0xF1, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 3)
        #expect(m.cpu.regs[Reg.rsp] == Layout.stack - 40)
        #expect(m.cpu.dr6 & 0xF == 2)
    }

    /// mov ss, [rbx]; int3 (CC): the #BP is delivered first; the held #DB follows before the #BP
    /// handler's first instruction (the inhibition ends with the delivery of an event). The #DB
    /// frame's RIP is the #BP handler; under it lies the #BP frame with RIP after the INT3.
    @Test func movSSDataBreakpointFollowsINT3Delivery() {
        let m = machineWithWatchedSelector()
        let stop = m.run([0x8E, 0x13, 0xCC, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        let db = m.frame64(errorCode: false)
        #expect(db.rip == m.handlerAddress(3), "#DB frame RIP 0x\(hex(db.rip))")
        #expect(m.r64(db.rsp) == Layout.code + 3)   // the #BP frame (at the #DB frame's saved RSP): RIP after INT3
        #expect(m.cpu.dr6 & 0xF == 2)
    }

    /// DR7.GD = 1 with TF = 1: mov ss, eax (8E D0) inhibits the single step; mov dr6, rax
    /// (0F 23 F0) is then a #DB fault before it executes — frame RIP = the MOV DR6, DR6 = BD only
    /// (FFFF2FF0H: no BS, the MOV SS's single step is not carried over), DR7.GD cleared on entry
    /// to the handler, RF = 1 in the pushed RFLAGS (a fault other than an instruction breakpoint,
    /// §17.3.1.1), TF = 1 there too.
    @Test func generalDetectAfterMovSS() {
        let m = TestMachine.long64()
        m.cpu.dr7 = 0x400 | 0x2000
        m.cpu.rflags = m.cpu.rflags | RFLAGS.tf
        m[.rax] = UInt64(Sel.data)
        let stop = m.run([0x8E, 0xD0, 0x0F, 0x23, 0xF0, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        let f = m.frame64(errorCode: false)
        #expect(f.rip == Layout.code + 2)
        #expect(m.cpu.dr6 == 0xFFFF_2FF0, "DR6 = 0x\(hex(m.cpu.dr6))")
        #expect(m.cpu.dr7 & 0x2000 == 0)
        #expect(f.rflags & RFLAGS.tf != 0 && f.rflags & RFLAGS.rf != 0)
    }

    /// IA32_DEBUGCTL.BTF = 1 with TF = 1: nop; nop; jmp short +1 (EB 01); (skipped 90); nop:
    /// the first #DB follows the JMP — frame RIP = its target CODE+5 — with BS; BTF is cleared.
    @Test func btfTrapsOnlyAfterBranches() {
        let m = TestMachine.long64()
        m.cpu.msrs.debugCtl = 0x2
        m.cpu.rflags = m.cpu.rflags | RFLAGS.tf
        let stop = m.run([0x90, 0x90, 0xEB, 0x01, 0x90, 0x90, 0xF4], steps: 10)
        #expect(m.vector(stop) == 1, "stopped with \(stop)")
        #expect(m.frame64(errorCode: false).rip == Layout.code + 5)
        #expect(m.cpu.dr6 & 0x4000 != 0)
        #expect(m.cpu.msrs.debugCtl & 0x2 == 0)
    }
}
