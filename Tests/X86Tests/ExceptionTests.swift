// Exception delivery (SDM Vol. 3A ch. 6 "Interrupt and Exception Handling"): vectors, error
// codes (§6.13: bits 15:3 selector index, bit 1 IDT, bit 0 EXT), fault vs trap return addresses,
// the IA-32e frame (§6.14.2: SS, RSP, RFLAGS, CS, RIP, [error code], RSP aligned to 16 first),
// interrupt vs trap gates (IF), stack switches through TSS.RSP0 and the IST (§6.14.4-§6.14.5),
// double fault and shutdown (§6.15 "Interrupt 8", Table 6-5), and 32-bit delivery through a
// 32-bit interrupt gate with a privilege change via the 32-bit TSS (§6.12.1).

import Testing
@testable import X86

@Suite("Exceptions: vectors and error codes")
struct ExceptionVectorTests {
    /// #UD from UD2: a fault, no error code, RIP of the UD2.
    @Test func ud2() {
        let m = TestMachine.long64(mib: 2)
        m.expectFault([0x0F, 0x0B], vector: 6)
    }

    /// "LOCK … #UD: If the LOCK prefix is used but the destination is not a memory operand"
    /// or the instruction is not one of the lockable read-modify-write instructions (SDM Vol. 2
    /// "LOCK—Assert LOCK# Signal Prefix").
    @Test func lockOnNonLockableInstruction() {
        let m = TestMachine.long64(mib: 2)
        m[.rsi] = Layout.data
        m.expectFault([0xF0, 0x90], vector: 6)                       // lock nop
        m.expectFault([0xF0, 0x48, 0x01, 0xC8], vector: 6)           // lock add rax, rcx (register destination)
        m.expectFault([0xF0, 0x48, 0x89, 0x0E], vector: 6)           // lock mov [rsi], rcx (MOV is not lockable)
        m.expectFault([0xF0, 0x48, 0x39, 0x0E], vector: 6)           // lock cmp [rsi], rcx (CMP does not write)
        // The lockable form runs: lock add [rsi], rcx.
        m.w64(Layout.data, 40); m[.rcx] = 2
        #expect(m.run([0xF0, 0x48, 0x01, 0x0E], steps: 1) == .budget)
        #expect(m.r64(Layout.data) == 42)
    }

    /// INT3 is a trap: "the saved contents of CS and EIP registers point to the instruction
    /// following the INT3 instruction" (§6.15 "Interrupt 3—Breakpoint Exception (#BP)").
    /// A trap retires its instruction, so the handler's HLT is one instruction more.
    @Test func int3IsATrap() {
        let m = TestMachine.long64(mib: 2)
        let stop = m.run([0x90, 0xCC], steps: 3)
        m.expectException(stop, vector: 3, rip: Layout.code + 2)
        // INT 3 (CD 03) likewise: RIP after the two-byte instruction.
        let stop2 = m.run([0xCD, 0x03], steps: 2)
        m.expectException(stop2, vector: 3, rip: Layout.code + 2)
    }

    /// A #BP handler that IRETQs resumes after the INT3.
    @Test func int3HandlerReturns() {
        let m = TestMachine.long64(mib: 2)
        let h = Layout.code + 0x800
        m.setGate64(3, offset: h)
        m.load([0x48, 0xCF], at: h)                                   // iretq
        // int3; mov eax,5 → HLT after it.
        m[.rax] = 0
        m.runToHalt([0xCC, 0xB8, 0x05, 0x00, 0x00, 0x00])
        #expect(m[.rax] == 5)
        #expect(m[.rsp] == Layout.stack)
    }

    /// A non-canonical memory address: #GP(0), or #SS(0) when the reference uses SS (RSP/RBP
    /// base) (SDM Vol. 3A §3.3.7.1, and each instruction's 64-Bit Mode Exceptions).
    @Test func nonCanonicalAccess() {
        let m = TestMachine.long64(mib: 2)
        m[.rcx] = 0x0000_8000_0000_0000
        m.expectFault([0x48, 0x8B, 0x01], vector: 13, error: 0)      // mov rax,[rcx]
        m[.rcx] = 0xFFFF_7FFF_FFFF_FFF8
        m.expectFault([0x48, 0x89, 0x01], vector: 13, error: 0)      // mov [rcx],rax
        m[.rbp] = 0x1234_0000_0000_0000
        m.expectFault([0x48, 0x8B, 0x45, 0x00], vector: 12, error: 0) // mov rax,[rbp]: #SS(0)
        // Jumping to a non-canonical address faults on the JMP itself (RIP not updated).
        m[.rax] = 0x0000_8000_0000_0000
        m.expectFault([0xFF, 0xE0], vector: 13, error: 0)            // jmp rax
    }

    /// Segment-load faults carry the selector as error code (§6.13; SDM Vol. 2 "MOV" Protected
    /// Mode Exceptions): "#GP(selector) If segment selector index is outside descriptor table
    /// limits … If the DS… register is being loaded and the segment pointed to is not a data or
    /// readable code segment"; "#NP(selector) If the … segment is marked not present"; SS loads
    /// with a non-writable segment: #GP(selector).
    @Test func selectorErrorCodes() {
        let m = TestMachine.long64(mib: 2)
        // Outside the GDT limit (0x7F): mov ds, ax with AX = 0x80 → #GP(0x80).
        m[.rax] = 0x80
        m.expectFault([0x8E, 0xD8], vector: 13, error: 0x80)
        // A TSS descriptor is a system segment: #GP(0x38).
        m[.rax] = UInt64(Sel.tss)
        m.expectFault([0x8E, 0xD8], vector: 13, error: UInt64(Sel.tss))
        // SS with a code segment: #GP(0x08).
        m[.rax] = UInt64(Sel.code64)
        m.expectFault([0x8E, 0xD0], vector: 13, error: UInt64(Sel.code64))
        // The RPL bits are not part of the error code's index: AX = 0x83 → #GP(0x80).
        m[.rax] = 0x83
        m.expectFault([0x8E, 0xD8], vector: 13, error: 0x80)
        // Not present data segment: #NP(selector), vector 11.
        m.w64(Layout.gdt + UInt64(Sel.spare), descriptor(access: 0x13, flags: 0xC))   // P = 0
        m[.rax] = UInt64(Sel.spare)
        m.expectFault([0x8E, 0xD8], vector: 11, error: UInt64(Sel.spare))
        #expect(m.cpu.segs[Seg.ds].selector == Sel.data)
    }

    /// INT n through a gate whose DPL < CPL: #GP with error code vector·8 + 2 (IDT bit; EXT = 0
    /// for a software interrupt) (SDM Vol. 2 "INT n", "IF software interrupt … AND gate DPL < CPL
    /// THEN #GP(error_code(vector_number,1,0))"). With a DPL-3 gate it reaches the handler.
    /// The #GP is a fault: its saved RIP is the INT instruction's.
    @Test func softwareInterruptGateDPL() {
        let m = TestMachine.long64(mib: 2)
        m.load([0xCD, 0x80], at: Layout.userCode)
        m.enterUser64()
        m.rip = Layout.userCode
        let stop = m.cpu.run(budget: 10)
        #expect(m.vector(stop) == 13)
        let f = m.frame64(errorCode: true)
        #expect(f.error == 0x80 * 8 + 2)
        #expect(f.rip == Layout.userCode)
        // DPL 3 gate: the handler runs, the saved RIP is after the INT (a trap).
        m.setGate64(0x80, offset: m.handlerAddress(0x80), dpl: 3)
        m.enterUser64()
        let stop2 = m.run([0xCD, 0x80], at: Layout.userCode, steps: 2)
        #expect(m.vector(stop2) == 0x80)
        let f2 = m.frame64(errorCode: false)
        #expect(f2.rip == Layout.userCode + 2 && f2.cs == UInt64(Sel.userCode64 | 3))
    }

    /// The whole IA-32e frame for a fault with an error code, from CPL 0 without IST: the old RSP
    /// is first aligned down to 16, then SS, RSP, RFLAGS, CS, RIP, error code are pushed
    /// (§6.14.2 "64-Bit Mode Stack Frame").
    @Test func frameLayoutWithErrorCode() {
        let m = TestMachine.long64(mib: 2)
        m[.rsp] = Layout.stack - 8                 // not 16-byte aligned
        m.cpu.rflags = 0x2 | RFLAGS.cf | RFLAGS.if
        m[.rax] = 0x80
        let stop = m.run([0x8E, 0xD8], steps: 1)  // mov ds, ax → #GP(0x80)
        #expect(m.vector(stop) == 13)
        let top = Layout.stack - 16 - 6 * 8
        #expect(m[.rsp] == top)
        #expect(m.r64(top) == 0x80)                                  // error code
        #expect(m.r64(top + 8) == Layout.code)                       // RIP
        #expect(m.r64(top + 16) == UInt64(Sel.code64))               // CS
        // RFLAGS, with RF = 1: "For any fault-class exception except a debug exception generated
        // in response to an instruction breakpoint, the value pushed for RF is 1" (Vol. 3A §17.3.1.1).
        #expect(m.r64(top + 24) == 0x2 | RFLAGS.cf | RFLAGS.if | RFLAGS.rf)
        #expect(m.r64(top + 32) == Layout.stack - 8)                 // RSP (unaligned original)
        #expect(m.r64(top + 40) == UInt64(Sel.data))                 // SS
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code64)
    }

    /// Interrupt gates clear IF; trap gates leave it (§6.12.1.3 "Flag Usage By Exception- or
    /// Interrupt-Handler Procedure"). Both clear TF, and the pushed RFLAGS keeps IF = 1.
    @Test func interruptGateClearsIFTrapGateKeepsIt() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.rflags = 0x2 | RFLAGS.if
        let s1 = m.run([0x0F, 0x0B], steps: 1)
        #expect(s1 == .halted(rip: m.handlerAddress(6), interruptsEnabled: false))
        #expect(m.frame64(errorCode: false).rflags & RFLAGS.if != 0)
        m.setGate64(6, offset: m.handlerAddress(6), type: 0xF)        // trap gate
        m[.rsp] = Layout.stack
        m.cpu.rflags = 0x2 | RFLAGS.if
        let s2 = m.run([0x0F, 0x0B], steps: 1)
        #expect(s2 == .halted(rip: m.handlerAddress(6), interruptsEnabled: true))
    }

    /// CPL 3 → CPL 0: the new RSP comes from TSS.RSP0, SS becomes a null selector (RPL = new
    /// CPL = 0), and the frame holds the user SS:RSP (§6.14.4 "Stack Switching in IA-32e Mode").
    @Test func stackSwitchThroughRSP0() {
        let m = TestMachine.long64(mib: 2)
        m.enterUser64()
        m[.rsp] = Layout.userStack - 0x18
        m.cpu.rflags = 0x2 | RFLAGS.if | RFLAGS.zf
        let stop = m.run([0x0F, 0x0B], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 6)
        #expect(m.cpu.cpl == 0)
        #expect(m[.rsp] == Layout.rsp0Stack - 40)
        let f = m.frame64(errorCode: false)
        #expect(f.rip == Layout.userCode)
        #expect(f.cs == UInt64(Sel.userCode64 | 3))
        #expect(f.rflags == 0x2 | RFLAGS.if | RFLAGS.zf | RFLAGS.rf)   // #UD is a fault: RF pushed as 1 (§17.3.1.1)
        #expect(f.rsp == Layout.userStack - 0x18)
        #expect(f.ss == UInt64(Sel.userData | 3))
        #expect(m.cpu.segs[Seg.ss].selector == 0)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code64)
        // With an error code (#GP from HLT at CPL 3): six qwords below RSP0.
        m.enterUser64()
        let stop2 = m.run([0xF4], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop2) == 13)
        #expect(m[.rsp] == Layout.rsp0Stack - 48)
        #expect(m.frame64(errorCode: true).error == 0)
    }

    /// A gate with IST = 1 always switches to TSS.IST1, even without a privilege change.
    @Test func interruptStackTable() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(6, offset: m.handlerAddress(6), ist: 1)
        let stop = m.run([0x0F, 0x0B], steps: 1)
        #expect(m.vector(stop) == 6)
        #expect(m[.rsp] == Layout.ist1Stack - 40)
        let f = m.frame64(errorCode: false)
        #expect(f.rsp == Layout.stack && f.ss == UInt64(Sel.data) && f.rip == Layout.code)
        // From CPL 3 the IST wins over RSP0.
        m.enterUser64()
        let stop2 = m.run([0x0F, 0x0B], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop2) == 6)
        #expect(m[.rsp] == Layout.ist1Stack - 40)
    }
}

extension ExceptionVectorTests {
    /// A not-present gate: "#NP(error_code(vector_number,1,EXT))" — for #UD from UD2:
    /// 6·8 + 2 (IDT) + 1 (EXT) = 0x33 (SDM Vol. 2 "INT n" Operation; §6.13).
    @Test func notPresentGate() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(6, offset: m.handlerAddress(6), present: false)
        let stop = m.run([0x0F, 0x0B], steps: 1)
        m.expectException(stop, vector: 11, error: 0x33, rip: Layout.code)
    }

    /// The IST pointer lies beyond the TSS limit: "#TS(TSS selector)" with EXT = 1 (SDM Vol. 2
    /// "INT n", IA-32e mode: "IF … stack pointer … is beyond the TSS limit THEN #TS(error_code
    /// (current TSS selector,0,EXT))"). TR limit 0x0B still covers RSP0 (bytes 4–11), not IST1.
    @Test func istBeyondTSSLimit() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.segs[Seg.tr].limit = 0x0B
        m.setGate64(6, offset: m.handlerAddress(6), ist: 1)
        let stop = m.run([0x0F, 0x0B], steps: 1)
        m.expectException(stop, vector: 10, error: UInt64(Sel.tss) | 1, rip: Layout.code)
    }

    /// INTO is invalid in 64-bit mode (#UD); in 32-bit mode it raises #OF (vector 4) as a trap
    /// when OF = 1 and does nothing when OF = 0 (SDM Vol. 2 "INT n/INTO/INT3/INT1").
    @Test func into() {
        let m = TestMachine.long64(mib: 2)
        m.setArith(RFLAGS.of)
        m.expectFault([0xCE], vector: 6)
        let p = TestMachine.protected32()
        #expect(p.run([0xCE], steps: 1) == .budget)
        #expect(p.rip == Layout.code + 1)
        p.setArith(RFLAGS.of)
        let stop = p.run([0xCE], steps: 2)
        #expect(p.vector(stop) == 4)
        #expect(UInt64(p.r32(p[.rsp])) == Layout.code + 1)
    }
}

@Suite("Exceptions: double fault and shutdown")
struct DoubleFaultTests {
    /// A contributory exception (#GP) while delivering a contributory one (#GP): "the processor
    /// signals a double-fault exception (#DF)" with error code 0 (Table 6-5). The #GP gate's
    /// code selector is null: "IF new code-segment selector is NULL THEN #GP(EXT)" during its
    /// own delivery.
    @Test func gpWhileDeliveringGPIsDoubleFault() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(13, offset: m.handlerAddress(13), selector: 0)
        m[.rax] = 0x80
        let stop = m.run([0x8E, 0xD8], steps: 1)       // mov ds, ax → #GP(0x80)
        #expect(m.vector(stop) == 8)
        #expect(m.frame64(errorCode: true).error == 0)
    }

    /// Benign then contributory is not a double fault: "the processor handles the exceptions
    /// serially". #UD through a gate with a null selector raises #GP(EXT = 1), which is delivered.
    @Test func benignThenContributoryIsSerial() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(6, offset: m.handlerAddress(6), selector: 0)
        let stop = m.run([0x0F, 0x0B], steps: 1)
        #expect(m.vector(stop) == 13)
        let f = m.frame64(errorCode: true)
        #expect(f.error == 1)
        #expect(f.rip == Layout.code)
    }

    /// A page fault while delivering a page fault: #DF. The #PF handler's stack (IST1) is not
    /// mapped, so pushing the #PF frame page-faults.
    @Test func pageFaultWhileDeliveringPageFault() {
        let m = TestMachine.long64(mib: 2)
        m.setGate64(14, offset: m.handlerAddress(14), ist: 1)
        m.setPTE(Layout.ist1Stack - 0x1000, 0)          // the page below IST1: not present
        m.setPTE(Layout.data, 0)
        m[.rsi] = Layout.data
        let stop = m.run([0x48, 0x8B, 0x06], steps: 1)  // mov rax,[rsi] → #PF
        #expect(m.vector(stop) == 8)
        #expect(m.frame64(errorCode: true).error == 0)
        #expect(m.cpu.cr2 == Layout.ist1Stack - 8)     // the last fault's address: the push
    }

    /// "If another exception occurs while attempting to call the double-fault handler, the
    /// processor enters shutdown mode" (§6.15 Interrupt 8). The chain here: #UD (gate type
    /// invalid → #GP(6·8+2+1 = 0x33)) → #GP (gate invalid → #GP(13·8+3 = 0x6B): contributory +
    /// contributory) → #DF (gate invalid → #GP(8·8+3 = 0x43)) → shutdown.
    @Test func tripleFault() {
        let m = TestMachine.long64(mib: 2)
        for v in [6, 8, 13] { m.setGate64(v, offset: m.handlerAddress(v), type: 0x0) }
        let stop = m.run([0x0F, 0x0B], steps: 1)
        guard case let .tripleFault(chain, rip) = stop else {
            Issue.record("expected a triple fault, got \(stop)"); return
        }
        #expect(rip == Layout.code)
        #expect(chain.map(\.name) == ["#UD", "#GP", "#GP", "#DF", "#GP"])
        #expect(chain.map(\.errorCode) == [0, 0x33, 0x6B, 0, 0x43])
        #expect(chain.map(\.hasErrorCode) == [false, true, true, true, true])
        #expect(stop.description.contains("#UD → #GP(0x33) → #GP(0x6b) → #DF(0x0) → #GP(0x43)"))
    }

    /// With no usable IDT at all (limit 0), the first exception escalates straight to shutdown:
    /// #UD → #GP(IDT: 6·8+3) → #GP(13·8+3) ⇒ #DF → #GP(8·8+3) ⇒ shutdown.
    @Test func tripleFaultWithEmptyIDT() {
        let m = TestMachine.long64(mib: 2)
        m.cpu.idtrLimit = 0
        let stop = m.run([0x0F, 0x0B], steps: 1)
        guard case let .tripleFault(chain, _) = stop else {
            Issue.record("expected a triple fault, got \(stop)"); return
        }
        #expect(chain.map(\.name) == ["#UD", "#GP", "#GP", "#DF", "#GP"])
        #expect(chain.map(\.errorCode) == [0, 0x33, 0x6B, 0, 0x43])
    }
}

@Suite("Exceptions: 32-bit protected mode")
struct ProtectedModeExceptionTests {
    /// CPL 3 → CPL 0 through a 32-bit interrupt gate: SS0:ESP0 from the 32-bit TSS; pushed (as
    /// dwords) SS, ESP, EFLAGS, CS, EIP, [error code] (§6.12.1 "Exception- or Interrupt-Handler
    /// Procedures", Figure 6-4).
    @Test func privilegeChangeThroughTSS32() {
        let m = TestMachine.protected32()
        m.enterUser32()
        m[.rsp] = Layout.userStack - 4
        m.cpu.rflags = 0x2 | RFLAGS.if | RFLAGS.cf
        let stop = m.run([0x0F, 0x0B], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 6)
        #expect(m.cpu.cpl == 0)
        let esp = Layout.rsp0Stack - 20
        #expect(m[.rsp] & 0xFFFF_FFFF == esp)
        #expect(m.cpu.segs[Seg.ss].selector == Sel.data)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code32)
        #expect(UInt64(m.r32(esp)) == Layout.userCode)                  // EIP
        #expect(m.r32(esp + 4) == UInt32(Sel.userCode32 | 3))           // CS
        #expect(m.r32(esp + 8) == UInt32(0x2 | RFLAGS.if | RFLAGS.cf | RFLAGS.rf))  // EFLAGS (a fault: RF = 1, §17.3.1.1)
        #expect(UInt64(m.r32(esp + 12)) == Layout.userStack - 4)        // ESP
        #expect(m.r32(esp + 16) == UInt32(Sel.userData | 3))            // SS
        #expect(m.cpu.rflags & RFLAGS.if == 0)                          // interrupt gate
        // With an error code: HLT at CPL 3 → #GP(0): six dwords.
        m.enterUser32()
        let stop2 = m.run([0xF4], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop2) == 13)
        let esp2 = Layout.rsp0Stack - 24
        #expect(m[.rsp] & 0xFFFF_FFFF == esp2)
        #expect(m.r32(esp2) == 0)
        #expect(UInt64(m.r32(esp2 + 4)) == Layout.userCode)
        #expect(m.r32(esp2 + 20) == UInt32(Sel.userData | 3))
    }

    /// IRETD from the CPL 0 handler back to CPL 3 pops EIP, CS, EFLAGS and then ESP, SS (SDM
    /// Vol. 2 "IRET", RETURN-TO-OUTER-PRIVILEGE-LEVEL). The handler skips the 2-byte UD2.
    @Test func iretdBackToCPL3() {
        let m = TestMachine.protected32()
        let h = Layout.code + 0x800
        m.setGate32(6, offset: UInt32(h))
        m.load([0x83, 0x04, 0x24, 0x02, 0xCF], at: h)          // add dword [esp],2; iretd
        // ud2; mov eax,7; L: jmp L
        m.load([0x0F, 0x0B, 0xB8, 0x07, 0x00, 0x00, 0x00, 0xEB, 0xFE], at: Layout.userCode)
        m.enterUser32()
        m.rip = Layout.userCode
        m[.rax] = 0
        #expect(m.cpu.run(budget: 6) == .budget)               // ud2→handler (2), mov, jmp, jmp
        #expect(m[.rax] == 7)
        #expect(m.cpu.cpl == 3)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.userCode32 | 3)
        #expect(m.cpu.segs[Seg.ss].selector == Sel.userData | 3)
        #expect(m[.rsp] == Layout.userStack)
        #expect(m.rip == Layout.userCode + 7)
    }

    /// Same privilege in 32-bit mode: no stack switch, EFLAGS/CS/EIP (+ error code) pushed on
    /// the current stack.
    @Test func samePrivilege32() {
        let m = TestMachine.protected32()
        m[.rax] = 0x80
        m.expectFault32([0x8E, 0xD8], vector: 13, error: 0x80)          // mov ds, ax
        m.expectFault32([0x0F, 0x0B], vector: 6)
        #expect(m[.rsp] == Layout.stack)
        // int3 in 32-bit mode: trap, EIP after it.
        let stop = m.run([0xCC], steps: 2)
        #expect(m.vector(stop) == 3)
        #expect(UInt64(m.r32(m[.rsp])) == Layout.code + 1)
    }

    /// #DE in 32-bit mode, and IRETD back from a handler that skips the faulting instruction.
    @Test func divideErrorAndIretd() {
        let m = TestMachine.protected32()
        let h = Layout.code + 0x800
        m.setGate32(0, offset: UInt32(h))
        // handler: add dword [esp], 2 (83 04 24 02); iretd (CF)
        m.load([0x83, 0x04, 0x24, 0x02, 0xCF], at: h)
        // xor ecx,ecx (31 C9); div ecx (F7 F1); mov eax,7 (B8 07 00 00 00)
        m.runToHalt([0x31, 0xC9, 0xF7, 0xF1, 0xB8, 0x07, 0x00, 0x00, 0x00])
        #expect(m[.rax] == 7)
        #expect(m[.rsp] == Layout.stack)
    }
}

extension TestMachine {
    /// CPL 3 in 32-bit protected mode: CS = 0x1B (user 32-bit code), SS/DS/ES = 0x23.
    func enterUser32() {
        cpu.segs[Seg.cs] = SegmentRegister(selector: Sel.userCode32 | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xC0FB)
        for s in [Seg.ss, Seg.ds, Seg.es] {
            cpu.segs[s] = SegmentRegister(selector: Sel.userData | 3, base: 0, limit: 0xFFFF_FFFF, attr: 0xC0F3)
        }
        cpu.cpl = 3
        cpu.regs[Reg.rsp] = Layout.userStack
        cpu.modeChanged()
    }
}
