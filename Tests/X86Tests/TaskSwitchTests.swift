// Hardware task switching in legacy protected mode (SDM Vol. 3A ch. 7 "Task Management", edition
// 325462-077US pinned in Sources/X86/VMX/SDM.swift): far JMP/CALL to a TSS and through a task
// gate, IRET with NT = 1 (§7.3 "Task Switching", §7.4 "Task Linking", Table 7-2 "Effect of a
// Task Switch on Busy Flag, NT Flag, Previous Task Link Field, and TS Flag"), INT n and an
// exception through an IDT task gate (§6.12.2 "Interrupt Tasks"), the faults of Table 6-6
// "Invalid TSS Conditions" and Table 7-1 "Exception Conditions Checked During a Task Switch",
// and the VM exit of a task switch in VMX non-root operation (Vol. 3C §25.4.2 "Treatment of Task
// Switches", §27.2.1 Table 27-2 "Exit Qualification for Task Switches").
//
// The machine is `TestMachine.protected32()`: the current task is the busy 32-bit TSS at
// `Sel.tss` (38H, base `Layout.tss`); a second 32-bit TSS ("task B") is placed at `TS.tssB`
// with its descriptor in GDT slot 48H. Encodings (GNU as --32, Intel syntax):
//   jmp far 0x48:0   EA 00 00 00 00 48 00        call far 0x48:0   9A 00 00 00 00 48 00
//   iretd            CF                          int 0x40          CD 40
//   mov ds, ax       8E D8

import Testing
@testable import X86

enum TS {
    static let tssB: UInt64 = 0xA000
    static let selB: UInt16 = 0x48
    static let gateSel: UInt16 = 0x50
    static let codeB: UInt64 = Layout.code + 0x200
    static let stackB: UInt64 = 0x70000
    static let stack0B: UInt64 = 0x6C000
    /// Task B's general registers EAX…EDI.
    static let regsB: [UInt32] = [0xB0B0_0001, 0xB0B0_0002, 0xB0B0_0003, 0xB0B0_0004,
                                  UInt32(stackB), 0xB0B0_0006, 0xB0B0_0007, 0xB0B0_0008]
    /// Task B's EFLAGS image: bit 1, CF, ZF.
    static let flagsB: UInt32 = 0x43
}

extension TestMachine {
    /// A 32-bit TSS for task B (Figure 7-2 "32-Bit Task-State Segment (TSS)") and its available
    /// TSS descriptor (type 9, DPL `dpl`) at `TS.selB`.
    func writeTaskB(limit: UInt32 = 0x67, dpl: UInt8 = 0, tBit: Bool = false, ss: UInt16 = Sel.data) {
        let b = TS.tssB
        mem.zero(at: b, count: 0x68)
        w32(b + 4, UInt32(TS.stack0B)); w32(b + 8, UInt32(Sel.data))      // ESP0, SS0
        w32(b + 0x20, UInt32(TS.codeB))
        w32(b + 0x24, TS.flagsB)
        for r in 0..<8 { w32(b + 0x28 + UInt64(r) * 4, TS.regsB[r]) }
        let sels: [UInt16] = [Sel.data, Sel.code32, ss, Sel.data, Sel.data, Sel.data]   // ES CS SS DS FS GS
        for s in 0..<6 { w16(b + 0x48 + UInt64(s) * 4, sels[s]) }
        w16(b + 0x64, tBit ? 1 : 0)
        w16(b + 0x66, 0x68)
        w64(Layout.gdt + UInt64(TS.selB), descriptor(base: UInt32(b), limit: limit, access: 0x89 | dpl << 5, flags: 0))
    }

    /// A task gate (§7.2.5 "Task-Gate Descriptor", Figure 7-6) naming `tss`, at `address`.
    func writeTaskGate(at address: UInt64, tss: UInt16, dpl: UInt8 = 0) {
        w64(address, UInt64(tss) << 16 | UInt64(0x85 | dpl << 5) << 40)
    }

    /// The type nibble of the GDT descriptor at `sel`.
    func gdtType(_ sel: UInt16) -> UInt8 { r8(Layout.gdt + UInt64(sel) + 5) & 0xF }
}

@Suite("Task switching")
struct TaskSwitchTests {
    static let jmpB: [UInt8] = [0xEA, 0, 0, 0, 0, UInt8(TS.selB), 0]
    static let callB: [UInt8] = [0x9A, 0, 0, 0, 0, UInt8(TS.selB), 0]

    /// The current task's registers before the switch, all distinct from task B's.
    func setOldRegisters(_ m: TestMachine) {
        for r in 0..<8 where r != Reg.rsp { m.cpu.regs[r] = 0xA0A0_0000 | UInt64(r) }
        m.cpu.rflags = 0x2 | RFLAGS.cf | RFLAGS.sf     // 0x83
    }

    func expectTaskBLoaded(_ m: TestMachine, nested: Bool, sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(m.rip == TS.codeB, "EIP 0x\(hex(m.rip))", sourceLocation: loc)
        for r in 0..<8 { #expect(m.cpu.regs[r] == UInt64(TS.regsB[r]), "register \(r)", sourceLocation: loc) }
        #expect(m.cpu.rflags == UInt64(TS.flagsB) | (nested ? RFLAGS.nt : 0), "EFLAGS 0x\(hex(m.cpu.rflags))", sourceLocation: loc)
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB && m.cpu.segs[Seg.tr].base == TS.tssB
                && m.cpu.segs[Seg.tr].type == 0xB, "TR", sourceLocation: loc)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code32 && m.cpu.segs[Seg.ss].selector == Sel.data, sourceLocation: loc)
        #expect(!m.cpu.segs[Seg.ss].unusable && m.cpu.segs[Seg.ss].limit == 0xFFFF_FFFF, sourceLocation: loc)
        #expect(m.cpu.cpl == 0, sourceLocation: loc)
        #expect(m.cpu.cr0 & CR0.ts != 0, "CR0.TS", sourceLocation: loc)
    }

    /// The old task's state in its TSS (§7.3 step 8): EIP after the instruction, EFLAGS, the
    /// general registers and the segment selectors.
    func expectOldSaved(_ m: TestMachine, eip: UInt64, flags: UInt32, sourceLocation loc: SourceLocation = #_sourceLocation) {
        let o = Layout.tss
        #expect(UInt64(m.r32(o + 0x20)) == eip, "saved EIP 0x\(hex(m.r32(o + 0x20)))", sourceLocation: loc)
        #expect(m.r32(o + 0x24) == flags, "saved EFLAGS 0x\(hex(m.r32(o + 0x24)))", sourceLocation: loc)
        for r in 0..<8 where r != Reg.rsp { #expect(m.r32(o + 0x28 + UInt64(r) * 4) == 0xA0A0_0000 | UInt32(r), sourceLocation: loc) }
        #expect(UInt64(m.r32(o + 0x38)) == Layout.stack, "saved ESP", sourceLocation: loc)
        #expect(m.r16(o + 0x4C) == Sel.code32 && m.r16(o + 0x50) == Sel.data && m.r16(o + 0x48) == Sel.data, sourceLocation: loc)
    }

    // MARK: JMP, CALL, IRET

    /// JMP to an available TSS (Table 7-2): old busy cleared, new busy set, NT unchanged (task B's
    /// image has NT = 0), no back link written, CR0.TS set.
    @Test func jmpToTSS() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        setOldRegisters(m)
        #expect(m.run(Self.jmpB, steps: 1) == .budget)
        expectTaskBLoaded(m, nested: false)
        expectOldSaved(m, eip: Layout.code + 7, flags: 0x83)
        #expect(m.gdtType(Sel.tss) == 0x9 && m.gdtType(TS.selB) == 0xB)
        #expect(m.r16(TS.tssB) == 0)    // previous task link untouched
    }

    /// CALL to a TSS, then IRET back (§7.4 "Task Linking", Figure 7-8): the CALL sets NT in the
    /// new task, writes the back link and leaves the old task busy; the IRET follows the link,
    /// saves task B with NT cleared in its EFLAGS image and clears B's busy flag.
    @Test func callToTSSAndIretBack() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.load([0xCF], at: TS.codeB)                       // task B: iretd
        setOldRegisters(m)
        #expect(m.run(Self.callB + [0xF4], steps: 1) == .budget)
        expectTaskBLoaded(m, nested: true)
        expectOldSaved(m, eip: Layout.code + 7, flags: 0x83)
        #expect(m.r16(TS.tssB) == Sel.tss, "back link")
        #expect(m.gdtType(Sel.tss) == 0xB && m.gdtType(TS.selB) == 0xB)

        #expect(m.run(1) == .budget)                      // IRET: task return
        #expect(m.rip == Layout.code + 7 && m.cpu.segs[Seg.tr].selector == Sel.tss)
        for r in 0..<8 where r != Reg.rsp { #expect(m.cpu.regs[r] == 0xA0A0_0000 | UInt64(r)) }
        #expect(m[.rsp] == Layout.stack && m.cpu.rflags == 0x83)
        #expect(m.gdtType(Sel.tss) == 0xB && m.gdtType(TS.selB) == 0x9)
        // Task B saved with EIP after its IRET and NT cleared in the EFLAGS image.
        #expect(UInt64(m.r32(TS.tssB + 0x20)) == TS.codeB + 1)
        #expect(m.r32(TS.tssB + 0x24) == TS.flagsB)
        #expect(m.run(1) == .halted(rip: Layout.code + 7, interruptsEnabled: false))
    }

    /// CALL through a task gate in the GDT (§7.2.5): the gate's DPL is checked against CPL and the
    /// RPL, the TSS's DPL is not (task B's TSS has DPL 0, the gate DPL 3, called from CPL 3).
    @Test func callThroughTaskGate() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.writeTaskGate(at: Layout.gdt + UInt64(TS.gateSel), tss: TS.selB, dpl: 3)
        m.enterUser32()
        m.run([0x9A, 0, 0, 0, 0, UInt8(TS.gateSel | 3), 0], at: Layout.userCode, steps: 1)
        #expect(m.rip == TS.codeB && m.cpu.cpl == 0 && m.cpu.segs[Seg.tr].selector == TS.selB)
        #expect(m.cpu.rflags & RFLAGS.nt != 0 && m.r16(TS.tssB) == Sel.tss)
        #expect(UInt64(m.r32(Layout.tss + 0x20)) == Layout.userCode + 7)
        #expect(m.r16(Layout.tss + 0x4C) == Sel.userCode32 | 3)
    }

    /// A task gate with DPL 0 called from CPL 3, or with RPL 3: #GP(gate selector); the TSS
    /// named directly with DPL 0 from CPL 3: #GP(TSS selector).
    @Test func privilegeChecks() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.writeTaskGate(at: Layout.gdt + UInt64(TS.gateSel), tss: TS.selB, dpl: 0)
        m.enterUser32()
        let s1 = m.run([0xEA, 0, 0, 0, 0, UInt8(TS.gateSel), 0], at: Layout.userCode, steps: 1)
        #expect(m.vector(s1) == 13 && m.r32(m[.rsp] & 0xFFFF_FFFF) == UInt32(TS.gateSel))
        let n = TestMachine.protected32()
        n.writeTaskB()
        n.enterUser32()
        let s2 = n.run([0xEA, 0, 0, 0, 0, UInt8(TS.selB | 3), 0], at: Layout.userCode, steps: 1)
        #expect(n.vector(s2) == 13 && n.r32(n[.rsp] & 0xFFFF_FFFF) == UInt32(TS.selB))
        #expect(n.cpu.segs[Seg.tr].selector == Sel.tss && n.gdtType(TS.selB) == 0x9)
        // RPL 3 in the selector at CPL 0 against a DPL-0 gate.
        let k = TestMachine.protected32()
        k.writeTaskB()
        k.writeTaskGate(at: Layout.gdt + UInt64(TS.gateSel), tss: TS.selB, dpl: 0)
        let s3 = k.run([0xEA, 0, 0, 0, 0, UInt8(TS.gateSel | 3), 0], steps: 1)
        #expect(k.vector(s3) == 13 && k.r32(k[.rsp] & 0xFFFF_FFFF) == UInt32(TS.gateSel))
    }

    /// CALL to the busy current TSS: #GP(TSS selector) (§7.4.1 "Use of Busy Flag To Prevent
    /// Recursive Task Switching"); nothing changes.
    @Test func busyTSSIsGP() {
        let m = TestMachine.protected32()
        let stop = m.run([0x9A, 0, 0, 0, 0, UInt8(Sel.tss), 0], steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.r32(m[.rsp] & 0xFFFF_FFFF) == UInt32(Sel.tss))
        #expect(m.r32((m[.rsp] & 0xFFFF_FFFF) + 4) == UInt32(Layout.code))     // fault: EIP of the CALL
        #expect(m.cpu.cr0 & CR0.ts == 0 && m.gdtType(Sel.tss) == 0xB)
    }

    /// A 32-bit TSS descriptor with limit 66H < 67H: #TS(TSS selector) (§7.2.2 "TSS Descriptor"),
    /// before anything is saved.
    @Test func tssLimitTooSmallIsTS() {
        let m = TestMachine.protected32()
        m.writeTaskB(limit: 0x66)
        setOldRegisters(m)
        let stop = m.run(Self.jmpB, steps: 1)
        #expect(m.vector(stop) == 10)
        let esp = m[.rsp] & 0xFFFF_FFFF
        #expect(m.r32(esp) == UInt32(TS.selB) && UInt64(m.r32(esp + 4)) == Layout.code)
        #expect(m.cpu.segs[Seg.tr].selector == Sel.tss && m.gdtType(TS.selB) == 0x9 && m.gdtType(Sel.tss) == 0xB)
        #expect(m.r32(Layout.tss + 0x20) == 0 && m.cpu.cr0 & CR0.ts == 0)
    }

    /// A TSS descriptor that is not present: #NP(TSS selector).
    @Test func notPresentTSSIsNP() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.w8(Layout.gdt + UInt64(TS.selB) + 5, 0x09)      // P = 0
        let stop = m.run(Self.jmpB, steps: 1)
        #expect(m.vector(stop) == 11 && m.r32(m[.rsp] & 0xFFFF_FFFF) == UInt32(TS.selB))
    }

    // MARK: Interrupts and exceptions through a task gate (§6.12.2)

    /// INT 40H through an IDT task gate: a nested switch (NT, back link, old stays busy), the old
    /// task's EIP is the one after the INT; IRET returns there.
    @Test func intThroughTaskGate() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.writeTaskGate(at: Layout.idt + 0x40 * 8, tss: TS.selB)
        m.load([0xCF], at: TS.codeB)
        setOldRegisters(m)
        #expect(m.run([0xCD, 0x40, 0xF4], steps: 1) == .budget)
        expectTaskBLoaded(m, nested: true)
        expectOldSaved(m, eip: Layout.code + 2, flags: 0x83)
        #expect(m.r16(TS.tssB) == Sel.tss && m.gdtType(Sel.tss) == 0xB && m.gdtType(TS.selB) == 0xB)
        #expect(m.run(1) == .budget)
        #expect(m.rip == Layout.code + 2 && m.cpu.segs[Seg.tr].selector == Sel.tss && m.gdtType(TS.selB) == 0x9)
    }

    /// INT n through a task gate with DPL 0 from CPL 3: #GP(vector·8 + 2) (§6.12.1.1).
    @Test func intThroughTaskGateDPLCheck() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.writeTaskGate(at: Layout.idt + 0x40 * 8, tss: TS.selB, dpl: 0)
        m.enterUser32()
        let stop = m.run([0xCD, 0x40], at: Layout.userCode, steps: 2)
        #expect(m.vector(stop) == 13 && m.r32(m[.rsp] & 0xFFFF_FFFF) == 0x40 * 8 + 2)
        #expect(m.cpu.segs[Seg.tr].selector == Sel.tss)
    }

    /// #GP(88H) from mov ds, ax (selector beyond the GDT limit) through a task gate: the old
    /// task's EIP is the faulting instruction's, the error code is pushed on task B's stack.
    @Test func exceptionWithErrorCodeThroughTaskGate() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.writeTaskGate(at: Layout.idt + 13 * 8, tss: TS.selB)
        m.load([0xF4], at: TS.codeB)
        setOldRegisters(m)
        m[.rax] = 0x88
        #expect(m.run([0x90, 0x8E, 0xD8], steps: 3) == .halted(rip: TS.codeB, interruptsEnabled: false))
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB)
        #expect(m.cpu.rflags & RFLAGS.nt != 0)
        #expect(m[.rsp] == TS.stackB - 4 && m.r32(TS.stackB - 4) == 0x88, "error code on the new stack")
        #expect(UInt64(m.r32(Layout.tss + 0x20)) == Layout.code + 1, "the faulting EIP")
        #expect(m.r32(Layout.tss + 0x28) == 0x88)    // saved EAX
    }

    // MARK: Debug state, the T flag, faults after the commit point

    /// DR7: L0–L3 and LE cleared, G0–G3 and GE kept (§17.2.4 "Debug Control Register (DR7)").
    @Test func dr7LocalEnablesCleared() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        m.cpu.dr = (0x1234_0000, 0x1234_1000, 0x1234_2000, 0x1234_3000)
        m.cpu.dr7 = 0x400 | 0x1FF | 0x200         // L0 G0 … L3 G3, LE, GE
        m.cpu.debugRegistersChanged()
        #expect(m.run(Self.jmpB, steps: 1) == .budget)
        #expect(m.cpu.dr7 == 0x400 | 0xAA | 0x200)
        #expect(m.cpu.cr0 & CR0.ts != 0)
    }

    /// T = 1 in the new TSS: #DB after the switch, before task B's first instruction, DR6.BT set
    /// (§7.2.1 "Task-State Segment (TSS)", debug trap flag; §17.2.3 "Debug Status Register").
    @Test func debugTrapFlag() {
        let m = TestMachine.protected32()
        m.writeTaskB(tBit: true)
        let stop = m.run(Self.jmpB, steps: 2)
        #expect(m.vector(stop) == 1)
        #expect(m.cpu.dr6 & 0x8000 != 0)
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB)
        let esp = m[.rsp] & 0xFFFF_FFFF
        #expect(esp == TS.stackB - 12)
        #expect(UInt64(m.r32(esp)) == TS.codeB, "the #DB frame holds task B's EIP")
    }

    /// A null SS in the new TSS: after the commit point, so #TS(0) in the new task's context
    /// (Table 7-1): TR is task B, the frame holds task B's EIP and CS, and with CPL forced to 3
    /// during the SS check the handler runs on task B's ring-0 stack (ESP0).
    @Test func faultAfterCommitPoint() {
        let m = TestMachine.protected32()
        m.writeTaskB(ss: 0)
        let stop = m.run(Self.jmpB, steps: 1)
        #expect(m.vector(stop) == 10)
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB && m.gdtType(TS.selB) == 0xB && m.gdtType(Sel.tss) == 0x9)
        let esp = m[.rsp] & 0xFFFF_FFFF
        #expect(esp == TS.stack0B - 24, "ESP 0x\(hex(esp))")
        #expect(m.r32(esp) == 0, "error code")
        #expect(UInt64(m.r32(esp + 4)) == TS.codeB && m.r32(esp + 8) == UInt32(Sel.code32))
        #expect(m.cpu.cr0 & CR0.ts != 0)
    }

    // MARK: Not implemented, IA-32e mode

    /// A 16-bit TSS for task B (§7.6 "16-Bit Task-State Segment (TSS)"): IP 0EH, FLAGS 10H,
    /// AX…DI 12H–20H, ES CS SS DS 22H–28H, LDT 2AH; descriptor type 1, limit 2BH. Its CS (58H) is
    /// a 32-bit code segment with base `Layout.code`, so IP 200H is linear `TS.codeB`.
    func writeTaskB16(_ m: TestMachine) {
        let b = TS.tssB
        m.mem.zero(at: b, count: 0x2C)
        m.w16(b + 0x0E, 0x200)
        m.w16(b + 0x10, UInt16(TS.flagsB))
        for r in 0..<8 { m.w16(b + 0x12 + UInt64(r) * 2, 0x1610 + UInt16(r)) }
        let sels: [UInt16] = [Sel.data, 0x58, Sel.data, Sel.data]      // ES CS SS DS
        for s in 0..<4 { m.w16(b + 0x22 + UInt64(s) * 2, sels[s]) }
        m.w64(Layout.gdt + 0x58, descriptor(base: UInt32(Layout.code), limit: 0xFFFF, access: 0x9B, flags: 0x4))
        m.w64(Layout.gdt + UInt64(TS.selB), descriptor(base: UInt32(b), limit: 0x2B, access: 0x81, flags: 0))
    }

    /// JMP from the 32-bit task to a 16-bit one: IP and FLAGS zero-extended, the upper words of the
    /// general registers FFFFH (as Bochs and QEMU load them), FS and GS null, TR a busy 16-bit TSS.
    @Test func jmpTo16BitTSS() {
        let m = TestMachine.protected32()
        writeTaskB16(m)
        setOldRegisters(m)
        #expect(m.run(Self.jmpB, steps: 1) == .budget)
        #expect(m.rip == 0x200 && m.cpu.segs[Seg.cs].selector == 0x58 && m.cpu.segs[Seg.cs].base == Layout.code)
        for r in 0..<8 { #expect(m.cpu.regs[r] == 0xFFFF_0000 | UInt64(0x1610 + r), "register \(r)") }
        #expect(m.cpu.rflags == UInt64(TS.flagsB))
        #expect(m.cpu.segs[Seg.fs].selector == 0 && m.cpu.segs[Seg.fs].unusable && m.cpu.segs[Seg.gs].unusable)
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB && m.cpu.segs[Seg.tr].type == 0x3 && m.gdtType(TS.selB) == 0x3)
        expectOldSaved(m, eip: Layout.code + 7, flags: 0x83)
        #expect(m.gdtType(Sel.tss) == 0x9)
    }

    /// CALL to a 16-bit task, whose IRETD returns (NT = 1): the 16-bit TSS receives IP, FLAGS
    /// (NT cleared), the low words of the registers and ES CS SS DS; its busy flag is cleared.
    @Test func callTo16BitTSSAndIretBack() {
        let m = TestMachine.protected32()
        writeTaskB16(m)
        m.load([0xCF], at: TS.codeB)                       // iretd
        setOldRegisters(m)
        #expect(m.run(Self.callB, steps: 1) == .budget)
        #expect(m.rip == 0x200 && m.cpu.rflags == UInt64(TS.flagsB) | RFLAGS.nt && m.r16(TS.tssB) == Sel.tss)
        #expect(m.run(1) == .budget)
        #expect(m.rip == Layout.code + 7 && m.cpu.segs[Seg.tr].selector == Sel.tss && m.cpu.rflags == 0x83)
        for r in 0..<8 where r != Reg.rsp { #expect(m.cpu.regs[r] == 0xA0A0_0000 | UInt64(r)) }
        let b = TS.tssB
        #expect(m.r16(b + 0x0E) == 0x201 && m.r16(b + 0x10) == UInt16(TS.flagsB))
        for r in 0..<8 { #expect(m.r16(b + 0x12 + UInt64(r) * 2) == 0x1610 + UInt16(r), "saved register \(r)") }
        #expect(m.r16(b + 0x22) == Sel.data && m.r16(b + 0x24) == 0x58 && m.r16(b + 0x26) == Sel.data && m.r16(b + 0x28) == Sel.data)
        #expect(m.gdtType(TS.selB) == 0x1 && m.gdtType(Sel.tss) == 0xB)
    }

    // A new task with EFLAGS.VM = 1 (a virtual-8086 task): V86Tests.taskSwitchIntoV86Task.

    // MARK: CR3 and LDTR (§7.5 "Task Address Space")

    static let pd1: UInt64 = 0x9B000, pd2: UInt64 = 0x9C000, ldt: UInt64 = 0x9D000
    static let ldtSel: UInt16 = 0x58

    /// 32-bit paging with one 4-MByte page (CR4.PSE) in two page directories; task B's TSS names
    /// the second as CR3 and an LDT (GDT slot 58H) holding one data descriptor.
    func pagedMachine() -> TestMachine {
        let m = TestMachine.protected32()
        m.w32(Self.pd1, 0x87); m.w32(Self.pd2, 0x87)
        m.cpu.cr4 = CR4.pse
        m.cpu.cr0 |= CR0.pg
        m.cpu.cr3 = Self.pd1
        m.cpu.modeChanged()
        m.writeTaskB()
        m.w32(TS.tssB + 0x1C, UInt32(Self.pd2))
        m.w16(TS.tssB + 0x60, Self.ldtSel)
        m.w64(Layout.gdt + UInt64(Self.ldtSel), descriptor(base: UInt32(Self.ldt), limit: 0xF, access: 0x82, flags: 0))
        m.w64(Self.ldt + 8, descriptor(access: 0x93, flags: 0xC))
        return m
    }

    /// CR3 and LDTR come from the new TSS; neither is saved in the old one.
    @Test func cr3AndLDTLoaded() {
        let m = pagedMachine()
        m.w16(TS.tssB + 0x54, 0x0C)                 // DS = LDT entry 1
        m.w32(Layout.tss + 0x1C, 0x1234_5000)
        #expect(m.run(Self.jmpB, steps: 1) == .budget)
        #expect(m.cpu.cr3 == Self.pd2)
        #expect(m.cpu.segs[Seg.ldtr].selector == Self.ldtSel && m.cpu.segs[Seg.ldtr].base == Self.ldt)
        #expect(m.cpu.segs[Seg.ds].selector == 0x0C && !m.cpu.segs[Seg.ds].unusable)
        #expect(m.r32(Layout.tss + 0x1C) == 0x1234_5000 && m.r16(Layout.tss + 0x60) == 0)
    }

    /// An LDT selector naming a data descriptor: #TS(LDT selector) after the commit point, in the
    /// new task (TR = task B, CR3 already loaded).
    @Test func badLDTIsTSInTheNewTask() {
        let m = pagedMachine()
        m.w64(Layout.gdt + UInt64(Self.ldtSel), descriptor(access: 0x93, flags: 0xC))
        let stop = m.run(Self.jmpB, steps: 1)
        #expect(m.vector(stop) == 10)
        let esp = m[.rsp] & 0xFFFF_FFFF
        #expect(m.r32(esp) == UInt32(Self.ldtSel) && UInt64(m.r32(esp + 4)) == TS.codeB)
        #expect(m.cpu.segs[Seg.tr].selector == TS.selB && m.cpu.cr3 == Self.pd2)
    }

    /// IA-32e mode has no task switching (§7.7): a far JMP to the TSS descriptor is #GP(selector);
    /// IRETQ with NT = 1 is #GP(0) (Vol. 2A "IRET" Operation).
    @Test func ia32eMode() {
        let m = TestMachine.long64()
        m.w32(Layout.data, 0); m.w16(Layout.data + 4, Sel.tss)
        let s2 = m.run([0xFF, 0x2C, 0x25] + le(UInt32(Layout.data)), steps: 1)   // jmp far [data] (m16:32)
        #expect(m.vector(s2) == 13 && m.r64(m[.rsp]) == UInt64(Sel.tss))
        let n = TestMachine.long64()
        n.cpu.rflags = 0x2 | RFLAGS.nt
        let s3 = n.run([0x48, 0xCF], steps: 1)
        #expect(n.vector(s3) == 13 && n.r64(n[.rsp]) == 0)
    }
}

// MARK: - VMX non-root operation (Vol. 3C §25.4.2 "Treatment of Task Switches")

/// A 32-bit protected-mode guest (no IA-32e mode guest entry control): CR0 = PE PG NE ET (the
/// fixed-1 bits of IA32_VMX_CR0_FIXED0, §23.8), 32-bit paging with one 4-MByte page (CR4.PSE)
/// identity-mapping the machine's RAM, CS = 30H (32-bit code), SS/DS/ES/FS/GS = 10H, TR = 38H
/// (a busy 32-bit TSS), an IDT of 8-byte gates. Task B's TSS descriptor sits in GDT slot 58H (48H
/// and 50H are the 64-bit guest's in this fixture), a task gate to it in slot 60H.
@Suite("Task switching: VM exits")
struct TaskSwitchVMExitTests {
    static let guestPD: UInt64 = 0x99000
    static let guestIDT: UInt64 = 0x9A000
    static let selB: UInt16 = 0x58
    static let gateSel: UInt16 = 0x60

    func guest32(_ code: [UInt8]) -> TestMachine {
        let m = TestMachine.long64()
        m.setupGuest(code)
        m.w32(Self.guestPD, 0x87)                    // PDE 0: 4 MByte page at 0, P RW US PS
        m.vw(.entryControls, UInt64(VX.entryBase & ~EntryCtl.ia32eModeGuest))
        m.vw(.guestCR0, CR0.pe | CR0.et | CR0.ne | CR0.pg)
        m.vw(.guestCR3, Self.guestPD)
        m.vw(.guestCR4, CR4.vmxe | CR4.pse)
        let segs: [(Int, UInt16, UInt32)] = [(Seg.es, Sel.data, 0xC093), (Seg.cs, Sel.code32, 0xC09B), (Seg.ss, Sel.data, 0xC093),
                                             (Seg.ds, Sel.data, 0xC093), (Seg.fs, Sel.data, 0xC093), (Seg.gs, Sel.data, 0xC093)]
        for (s, sel, ar) in segs {
            let f = VMCSFieldID.guestSegment[s]
            m.vw(f.selector, UInt64(sel)); m.vw(f.base, 0); m.vw(f.limit, 0xFFFF_FFFF); m.vw(f.ar, UInt64(ar))
        }
        m.vw(.guestIDTRBase, Self.guestIDT); m.vw(.guestIDTRLimit, 256 * 8 - 1)
        m.vw(.guestRFLAGS, 0x2)
        // Task B: a 32-bit available TSS (type 9) at TS.tssB, and a task gate to it.
        m.w64(Layout.gdt + UInt64(Self.selB), descriptor(base: UInt32(TS.tssB), limit: 0x67, access: 0x89, flags: 0))
        m.writeTaskGate(at: Layout.gdt + UInt64(Self.gateSel), tss: Self.selB)
        m.writeTaskGate(at: Self.guestIDT + 0x40 * 8, tss: Self.selB)
        return m
    }

    /// Nothing of the switch happened: task B's descriptor is still available, the guest's TR is
    /// still 38H, CR0.TS is clear in the saved guest CR0.
    func expectNoSwitch(_ m: TestMachine, sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(m.gdtType(Self.selB) == 0x9, "task B's busy flag", sourceLocation: loc)
        #expect(m.vr(VMCSFieldID.guestSegment[Seg.tr].selector) == UInt64(Sel.tss), "guest TR", sourceLocation: loc)
        #expect(m.vr(.guestCR0) & CR0.ts == 0, "guest CR0.TS", sourceLocation: loc)
        #expect(m.vr(VMCSFieldID.guestSegment[Seg.cs].selector) == UInt64(Sel.code32), sourceLocation: loc)
    }

    /// JMP to the TSS: exit reason 9, qualification 58H | 2 << 30 (JMP), guest RIP = the JMP, length 7.
    @Test func jmpToTSS() {
        let m = guest32([0x90, 0xEA, 0, 0, 0, 0, UInt8(Self.selB), 0])
        m.expectExit(m.launch(), reason: 9, qualification: 0x8000_0058, length: 7, guestRIP: VX.guestCode + 1)
        expectNoSwitch(m)
        #expect(m.vr(.idtVectoringInfo) & 0x8000_0000 == 0)
    }

    /// CALL through the task gate: the qualification names the TSS (58H), not the gate; source 0.
    @Test func callThroughTaskGate() {
        let m = guest32([0x9A, 0, 0, 0, 0, UInt8(Self.gateSel), 0])
        m.expectExit(m.launch(), reason: 9, qualification: 0x0000_0058, length: 7, guestRIP: VX.guestCode)
        expectNoSwitch(m)
    }

    /// IRET with NT = 1: the TSS named by the back link of the current TSS (set to 58H, with task
    /// B's descriptor marked busy), source 1.
    @Test func iretTaskReturn() {
        let m = guest32([0xCF])
        m.vw(.guestRFLAGS, 0x2 | RFLAGS.nt)
        m.w16(Layout.tss, Self.selB)
        m.w8(Layout.gdt + UInt64(Self.selB) + 5, 0x8B)
        m.expectExit(m.launch(), reason: 9, qualification: 0x4000_0058, length: 1, guestRIP: VX.guestCode)
        #expect(m.gdtType(Self.selB) == 0xB && m.gdtType(Sel.tss) == 0xB)
    }

    /// INT 40H through an IDT task gate: source 3; the IDT-vectoring information records the
    /// software interrupt (vector 40H, type 4, valid), the guest RIP is the INT's, length 2.
    @Test func intThroughIDTTaskGate() {
        let m = guest32([0x90, 0xCD, 0x40])
        m.expectExit(m.launch(), reason: 9, qualification: 0xC000_0058, length: 2, guestRIP: VX.guestCode + 1)
        #expect(m.vr(.idtVectoringInfo) == 0x8000_0440)
        expectNoSwitch(m)
    }

    /// The checks before the exit still fault (§25.4.2 items 1–4): a busy TSS on JMP is #GP(58H),
    /// here a VM exit for the exception (bitmap bit 13) instead of a task switch.
    @Test func busyTSSFaultsBeforeTheExit() {
        let m = guest32([0xEA, 0, 0, 0, 0, UInt8(Self.selB), 0])
        m.w8(Layout.gdt + UInt64(Self.selB) + 5, 0x8B)
        m.vw(.exceptionBitmap, 1 << 13)
        m.expectExit(m.launch(), reason: 0, guestRIP: VX.guestCode)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0D && m.vr(.exitInterruptionErrorCode) == 0x58)
    }
}
