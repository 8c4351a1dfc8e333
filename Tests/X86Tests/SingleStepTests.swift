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
