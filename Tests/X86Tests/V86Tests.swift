// Virtual-8086 mode without CR4.VME (SDM Vol. 3B ch. 20 "8086 Emulation", edition 325462-077US
// pinned in Sources/X86/VMX/SDM.swift): entering it with IRETD from CPL 0 (§20.2.5 "Entering
// Virtual-8086 Mode"; Vol. 2A "IRET" RETURN-TO-VIRTUAL-8086-MODE) and with a task switch,
// 8086-style segment loads with the 64 KiB limit (§20.2 "Virtual-8086 Mode"), the IOPL-sensitive
// instructions (§20.2.7 "Sensitive Instructions"), I/O through the TSS permission bitmap whatever
// IOPL is (§20.2.8 "Virtual-8086 Mode I/O"), the instructions that are #UD in the mode, interrupts
// and exceptions through the protected-mode IDT with the ring-0 frame of Figure 20-4 (§20.3.1.1
// "Handling an Interrupt or Exception Through a Protected-Mode Trap or Interrupt Gate"; Vol. 2A
// "INT n" INTERRUPT-FROM-VIRTUAL-8086-MODE), and a VMX guest entered with RFLAGS.VM = 1
// (Vol. 3C §26.3.1.2 "Checks on Guest Segment Registers", §26.3.2.2 "Loading Guest Segment
// Registers and Descriptor-Table Registers").
//
// The machine is `TestMachine.protected32()` (flat 32-bit CPL 0, ring-0 stack SS0:ESP0 =
// 10H:`Layout.rsp0Stack` in the TSS, IDT of 32-bit DPL-0 interrupt gates to HLTs). The 8086
// program runs with CS = 3000H (linear 30000H = `Layout.userCode`), IP = 0100H; SS:SP =
// 4000H:8000H (linear 48000H, the stack grows down from there); DS = 2000H, ES = 1234H, FS = 5000H, GS = 6000H.
// Encodings (GNU as --32 with .code16, Intel syntax):
//   mov ax, 0x2100  B8 00 21        mov ds, ax     8E D8          mov byte ptr [0x10], 0x5a  C6 06 10 00 5A
//   mov eax, 0x12345678  66 B8 78 56 34 12        mov ax, [0xffff]  A1 FF FF
//   jmp far 0x3100:0x100  EA 00 01 00 31          call far 0x3100:0x10  9A 10 00 00 31      retf  CB
//   cli FA  sti FB  pushf 9C  pushfd 66 9C  popf 9D  push 2  6A 02  int 0x40  CD 40  int3  CC  iret CF
//   out 0x80, al  E6 80   out 0x81, al  E6 81   in al, 0x80  E4 80
//   lar ax, bx  0F 02 C3   lsl ax, bx  0F 03 C3   verr ax  0F 00 E0   verw ax  0F 00 E8
//   sldt ax  0F 00 C0   str ax  0F 00 C8   lldt ax  0F 00 D0   ltr ax  0F 00 D8   arpl bx, ax  63 C3
//   hlt F4   mov eax, cr0  0F 20 C0   (32-bit monitor) iretd  CF

import Testing
@testable import X86

enum V8 {
    static let cs: UInt16 = 0x3000, ip: UInt64 = 0x0100
    static let ss: UInt16 = 0x4000, sp: UInt64 = 0x8000
    static let ds: UInt16 = 0x2000, es: UInt16 = 0x1234, fs: UInt16 = 0x5000, gs: UInt16 = 0x6000
    /// SS base (the stack top SS:SP is linear 48000H).
    static let ssBase: UInt64 = UInt64(ss) << 4
    /// Linear address of CS:IP.
    static let code: UInt64 = UInt64(cs) << 4 + ip
    /// EFLAGS image for the IRETD into the 8086 program: VM, bit 1, the given IOPL, CF.
    static func flags(iopl: UInt64, _ extra: UInt64 = 0) -> UInt64 { RFLAGS.vm | 0x2 | iopl << 12 | RFLAGS.cf | extra }
    /// ESP after an event from virtual-8086 mode: nine doublewords (+ error code) on the ring-0 stack.
    static func frameESP(error: Bool) -> UInt64 { Layout.rsp0Stack - (error ? 40 : 36) }
}

extension TestMachine {
    /// IRETD at `Layout.code` from flat 32-bit CPL 0 with a RETURN-TO-VIRTUAL-8086-MODE frame
    /// (EIP CS EFLAGS ESP SS ES DS FS GS), after placing `code` at CS:IP. Runs the IRETD only.
    func enterV86(_ code: [UInt8], flags: UInt64, ip: UInt64 = V8.ip) {
        load(code, at: UInt64(V8.cs) << 4 + ip)
        let frame: [UInt64] = [ip, UInt64(V8.cs), flags, V8.sp, UInt64(V8.ss),
                               UInt64(V8.es), UInt64(V8.ds), UInt64(V8.fs), UInt64(V8.gs)]
        let top = Layout.stack - 36
        for (k, v) in frame.enumerated() {
            let junk: UInt32 = k == 1 || k >= 4 ? 0xABCD_0000 : 0     // upper words of the selector doublewords
            w32(top + UInt64(k) * 4, UInt32(truncatingIfNeeded: v) | junk)
        }
        cpu.regs[Reg.rsp] = top
        #expect(run([0xCF], steps: 1) == .budget)
    }

    /// The ring-0 frame of an event from virtual-8086 mode (Figure 20-4), error code first if any.
    struct FrameV86: Equatable { var error: UInt32?; var eip, cs, eflags, esp, ss, es, ds, fs, gs: UInt32 }
    func frameV86(error: Bool) -> FrameV86 {
        var a = cpu.regs[Reg.rsp]
        var e: UInt32? = nil
        if error { e = r32(a); a += 4 }
        let v = (0..<9).map { r32(a + UInt64($0) * 4) }
        return FrameV86(error: e, eip: v[0], cs: v[1], eflags: v[2], esp: v[3], ss: v[4], es: v[5], ds: v[6], fs: v[7], gs: v[8])
    }

    /// The state the monitor sees after an event from the 8086 program: CPL 0, the handler's CS,
    /// SS0:ESP0 switched to and the frame pushed, VM/TF/RF/NT clear, DS/ES/FS/GS null.
    func expectMonitorEntry(vector: Int, _ stop: StopCause, error: Bool, sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(self.vector(stop) == vector, "stopped with \(stop)", sourceLocation: loc)
        #expect(cpu.cpl == 0 && cpu.rflags & (RFLAGS.vm | RFLAGS.tf | RFLAGS.rf | RFLAGS.nt) == 0, sourceLocation: loc)
        #expect(cpu.segs[Seg.cs].selector == Sel.code32 && cpu.segs[Seg.ss].selector == Sel.data, sourceLocation: loc)
        #expect(cpu.regs[Reg.rsp] == V8.frameESP(error: error), "ESP 0x\(hex(cpu.regs[Reg.rsp]))", sourceLocation: loc)
        for s in [Seg.ds, Seg.es, Seg.fs, Seg.gs] {
            #expect(cpu.segs[s].selector == 0 && cpu.segs[s].unusable, "\(Seg.names[s]) not null", sourceLocation: loc)
        }
        #expect(cpu.codeMode == 1, sourceLocation: loc)
    }

    /// The selectors and stack of the 8086 program saved in the frame.
    func expectSavedV86Segments(_ f: FrameV86, sp: UInt64 = V8.sp, sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(f.cs == UInt32(V8.cs) && f.ss == UInt32(V8.ss) && UInt64(f.esp) == sp, "CS SS ESP \(f)", sourceLocation: loc)
        #expect(f.es == UInt32(V8.es) && f.ds == UInt32(V8.ds) && f.fs == UInt32(V8.fs) && f.gs == UInt32(V8.gs), "ES DS FS GS \(f)", sourceLocation: loc)
    }

    /// Every segment register holds the 8086-style value for `sel`.
    func expectV86Segment(_ s: Int, _ sel: UInt16, sourceLocation loc: SourceLocation = #_sourceLocation) {
        let r = cpu.segs[s]
        #expect(r.selector == sel && r.base == UInt64(sel) << 4 && r.limit == 0xFFFF && r.attr == 0xF3,
                "\(Seg.names[s]) = \(r)", sourceLocation: loc)
    }
}

@Suite("Virtual-8086 mode")
struct V86Tests {
    // MARK: Entering with IRETD; segment loads

    /// RETURN-TO-VIRTUAL-8086-MODE: the nine doublewords are popped (the upper words of the
    /// selector doublewords, ABxxH here, are discarded), every segment register is 8086-style
    /// (base = selector × 16, limit FFFFH, AR F3H), CPL 3, 16-bit code, EFLAGS as popped.
    @Test func iretdEntersV86() {
        let m = TestMachine.protected32()
        m.enterV86([0x90], flags: V8.flags(iopl: 0))
        #expect(m.rip == V8.ip && m[.rsp] == V8.sp)
        #expect(m.cpu.rflags == V8.flags(iopl: 0), "EFLAGS 0x\(hex(m.cpu.rflags))")
        #expect(m.cpu.cpl == 3 && m.cpu.codeMode == 0 && m.cpu.v86)
        for (s, sel) in [(Seg.cs, V8.cs), (Seg.ss, V8.ss), (Seg.ds, V8.ds), (Seg.es, V8.es), (Seg.fs, V8.fs), (Seg.gs, V8.gs)] {
            m.expectV86Segment(s, sel)
        }
        #expect(m.cpu.modeDescription.hasPrefix("virtual-8086 mode, 16-bit"), "\(m.cpu.modeDescription)")
        #expect(m.run(1) == .budget && m.rip == V8.ip + 1)     // the NOP at 3000:0100
    }

    /// MOV DS is 8086-style (no GDT lookup: 2100H would be beyond the GDT limit in protected
    /// mode); a store through DS lands at 21000H + 10H; a 32-bit operand works with 66H; the far
    /// JMP loads CS = 3100H (base 31000H) with no descriptor.
    @Test func segmentLoadsAndFarJump() {
        let m = TestMachine.protected32()
        m.enterV86([0xB8, 0x00, 0x21, 0x8E, 0xD8, 0xC6, 0x06, 0x10, 0x00, 0x5A,
                    0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0xEA, 0x00, 0x01, 0x00, 0x31], flags: V8.flags(iopl: 0))
        #expect(m.run(5) == .budget)
        m.expectV86Segment(Seg.ds, 0x2100)
        #expect(m.r8(0x21010) == 0x5A)
        #expect(m[.rax] == 0x1234_5678)
        m.expectV86Segment(Seg.cs, 0x3100)
        #expect(m.rip == 0x100 && m.cpu.cpl == 3 && m.cpu.codeMode == 0)
    }

    /// Far CALL pushes CS:IP (16-bit) on SS:SP and RETF pops them, both 8086-style.
    @Test func farCallAndReturn() {
        let m = TestMachine.protected32()
        m.load([0xCB], at: 0x31010)                           // 3100:0010: retf
        m.enterV86([0x9A, 0x10, 0x00, 0x00, 0x31], flags: V8.flags(iopl: 0))
        #expect(m.run(1) == .budget)
        m.expectV86Segment(Seg.cs, 0x3100)
        #expect(m.rip == 0x10 && m[.rsp] == V8.sp - 4)
        #expect(m.r16(V8.ssBase + V8.sp - 2) == V8.cs && m.r16(V8.ssBase + V8.sp - 4) == UInt16(V8.ip + 5))
        #expect(m.run(1) == .budget)
        m.expectV86Segment(Seg.cs, V8.cs)
        #expect(m.rip == V8.ip + 5 && m[.rsp] == V8.sp)
    }

    /// The 64 KiB limit still applies: a word read at DS:FFFFH is #GP(0), delivered to the
    /// ring-0 handler through the IDT with the virtual-8086 frame.
    @Test func segmentLimitIsChecked() {
        let m = TestMachine.protected32()
        m.enterV86([0xA1, 0xFF, 0xFF], flags: V8.flags(iopl: 0))
        let stop = m.run(2)
        m.expectMonitorEntry(vector: 13, stop, error: true)
        let f = m.frameV86(error: true)
        #expect(f.error == 0 && UInt64(f.eip) == V8.ip)
    }

    // MARK: IOPL-sensitive instructions (§20.2.7)

    /// At IOPL 0, CLI is #GP(0): the frame is GS FS DS ES SS ESP EFLAGS CS EIP and the error
    /// code on the TSS's ring-0 stack; EFLAGS in it still has VM (and the RF of a fault).
    @Test func cliAtIOPL0IsGPWithV86Frame() {
        let m = TestMachine.protected32()
        m.enterV86([0xFA], flags: V8.flags(iopl: 0, RFLAGS.if))
        let stop = m.run(2)
        m.expectMonitorEntry(vector: 13, stop, error: true)
        let f = m.frameV86(error: true)
        #expect(f.error == 0 && UInt64(f.eip) == V8.ip)
        #expect(UInt64(f.eflags) == V8.flags(iopl: 0, RFLAGS.if | RFLAGS.rf), "EFLAGS image 0x\(hex(f.eflags))")
        m.expectSavedV86Segments(f)
        #expect(m.cpu.rflags & RFLAGS.if == 0)     // interrupt gate
    }

    /// STI, PUSHF, POPF, INT n and IRET are #GP(0) at IOPL 1 too (any IOPL < 3); the faulting
    /// instruction's IP is saved and SP is untouched.
    @Test(arguments: [[UInt8(0xFB)], [0x9C], [0x66, 0x9C], [0x9D], [0xCD, 0x40], [0xCF]])
    func sensitiveInstructionsAtIOPL1(code: [UInt8]) {
        let m = TestMachine.protected32()
        m.setGate32(0x40, offset: UInt32(m.handlerAddress(0x40)), dpl: 3)
        m.enterV86(code, flags: V8.flags(iopl: 1))
        let stop = m.run(2)
        m.expectMonitorEntry(vector: 13, stop, error: true)
        let f = m.frameV86(error: true)
        #expect(f.error == 0 && UInt64(f.eip) == V8.ip, "\(f)")
        m.expectSavedV86Segments(f)
    }

    /// At IOPL 3 they execute: STI/CLI change IF; PUSHFD pushes EFLAGS with VM and RF clear;
    /// POPF of 0002H clears IF and the arithmetic flags but cannot change IOPL (still 3) or VM.
    @Test func sensitiveInstructionsAtIOPL3() {
        let m = TestMachine.protected32()
        m.enterV86([0xFB, 0x66, 0x9C, 0xFA, 0x9C, 0xFB, 0x6A, 0x02, 0x9D], flags: V8.flags(iopl: 3))
        #expect(m.run(2) == .budget)
        #expect(m.cpu.rflags & RFLAGS.if != 0)
        #expect(UInt64(m.r32(V8.ssBase + V8.sp - 4)) == 0x3203, "PUSHFD image 0x\(hex(m.r32(V8.ssBase + V8.sp - 4)))")
        #expect(m.run(2) == .budget)
        #expect(m.cpu.rflags & RFLAGS.if == 0)
        #expect(m.r16(V8.ssBase + V8.sp - 6) == 0x3003)
        #expect(m.run(3) == .budget)
        #expect(m.cpu.rflags == RFLAGS.vm | 0x3002, "EFLAGS 0x\(hex(m.cpu.rflags))")
        #expect(m[.rsp] == V8.sp - 6 && m.cpu.cpl == 3)
    }

    /// INT 40H at IOPL 3 through a DPL-3 interrupt gate to the DPL-0 handler: the frame has no
    /// error code, EIP is after the INT; the handler's IRETD returns to virtual-8086 mode with
    /// every segment register restored 8086-style.
    @Test func intNAtIOPL3AndIretdBack() {
        let m = TestMachine.protected32()
        m.setGate32(0x40, offset: UInt32(m.handlerAddress(0x40)), dpl: 3)
        m.w8(m.handlerAddress(0x40), 0xCF)                      // the handler: iretd
        m.enterV86([0xCD, 0x40, 0x90], flags: V8.flags(iopl: 3, RFLAGS.if))
        #expect(m.run(1) == .budget)
        #expect(m.rip == m.handlerAddress(0x40))
        m.expectMonitorEntry(vector: 0x40, .halted(rip: m.rip, interruptsEnabled: false), error: false)
        let f = m.frameV86(error: false)
        #expect(UInt64(f.eip) == V8.ip + 2 && UInt64(f.eflags) == V8.flags(iopl: 3, RFLAGS.if))
        m.expectSavedV86Segments(f)
        #expect(m.cpu.rflags & RFLAGS.if == 0)
        #expect(m.run(1) == .budget)                           // IRETD back
        #expect(m.rip == V8.ip + 2 && m[.rsp] == V8.sp && m.cpu.cpl == 3)
        #expect(m.cpu.rflags == V8.flags(iopl: 3, RFLAGS.if))
        for (s, sel) in [(Seg.cs, V8.cs), (Seg.ss, V8.ss), (Seg.ds, V8.ds), (Seg.es, V8.es), (Seg.fs, V8.fs), (Seg.gs, V8.gs)] {
            m.expectV86Segment(s, sel)
        }
    }

    /// IRET inside virtual-8086 mode at IOPL 3 pops IP, CS, FLAGS 8086-style; IOPL and VM stay.
    @Test func iretWithinV86AtIOPL3() {
        let m = TestMachine.protected32()
        // Stack: IP = 0200H, CS = 3100H, FLAGS = 0002H (IOPL 0 in the image).
        m.w16(V8.ssBase + V8.sp - 6, 0x0200); m.w16(V8.ssBase + V8.sp - 4, 0x3100); m.w16(V8.ssBase + V8.sp - 2, 0x0002)
        m.enterV86([0x83, 0xEC, 0x06, 0xCF], flags: V8.flags(iopl: 3))   // sub sp, 6; iret
        #expect(m.run(2) == .budget)
        m.expectV86Segment(Seg.cs, 0x3100)
        #expect(m.rip == 0x200 && m[.rsp] == V8.sp && m.cpu.rflags == RFLAGS.vm | 0x3002, "EFLAGS 0x\(hex(m.cpu.rflags))")
    }

    /// From virtual-8086 mode the handler must be DPL 0 and nonconforming: a gate to the DPL-3
    /// code segment 18H is #GP(18H); a DPL-0 gate for INT n is #GP(40H × 8 + 2). INT3 is not
    /// IOPL-sensitive: at IOPL 0 it reaches a DPL-3 gate's handler.
    @Test func gateAndHandlerChecks() {
        let m = TestMachine.protected32()
        m.setGate32(0x41, offset: 0, selector: Sel.userCode32, dpl: 3)
        m.enterV86([0xCD, 0x41], flags: V8.flags(iopl: 3))
        var stop = m.run(2)
        m.expectMonitorEntry(vector: 13, stop, error: true)
        var f = m.frameV86(error: true)
        #expect(f.error == UInt32(Sel.userCode32) && UInt64(f.eip) == V8.ip, "\(f)")

        let m2 = TestMachine.protected32()
        m2.enterV86([0xCD, 0x40], flags: V8.flags(iopl: 3))
        stop = m2.run(2)
        m2.expectMonitorEntry(vector: 13, stop, error: true)
        f = m2.frameV86(error: true)
        #expect(f.error == 0x40 * 8 + 2 && UInt64(f.eip) == V8.ip)

        let m3 = TestMachine.protected32()
        m3.setGate32(3, offset: UInt32(m3.handlerAddress(3)), dpl: 3)
        m3.enterV86([0xCC], flags: V8.flags(iopl: 0))
        stop = m3.run(2)
        m3.expectMonitorEntry(vector: 3, stop, error: false)
        #expect(UInt64(m3.frameV86(error: false).eip) == V8.ip + 1)
    }

    // MARK: I/O (§20.2.8)

    /// The TSS I/O permission bitmap is consulted whatever IOPL is: with no bitmap (I/O map base
    /// beyond the limit) OUT is #GP(0) even at IOPL 3; with a bitmap allowing only port 80H, OUT
    /// 80H and IN 80H work at IOPL 0 and OUT 81H is #GP(0) at IOPL 3.
    @Test func ioUsesTheBitmapAtAnyIOPL() {
        let m = TestMachine.protected32()
        m.enterV86([0xE6, 0x80], flags: V8.flags(iopl: 3))
        m.expectMonitorEntry(vector: 13, m.run(2), error: true)
        #expect(m.io.writes.isEmpty)

        for iopl: UInt64 in [0, 3] {
            let m = TestMachine.protected32()
            // Bitmap at TSS + 68H for ports 0…FFH (20H bytes), all 1 but port 80H; limit 88H.
            for k in 0..<0x21 { m.w8(Layout.tss + 0x68 + UInt64(k), k == 0x10 ? 0xFE : 0xFF) }
            m.w64(Layout.gdt + UInt64(Sel.tss), descriptor(base: UInt32(Layout.tss), limit: 0x88, access: 0x8B, flags: 0))
            m.cpu.segs[Seg.tr].limit = 0x88
            m[.rax] = 0x77
            m.enterV86([0xE6, 0x80, 0xE4, 0x80, 0xE6, 0x81], flags: V8.flags(iopl: iopl))
            #expect(m.run(2) == .budget)
            #expect(m.io.writes == [PortLog.Access(port: 0x80, size: 1, value: 0x77)])
            #expect(m.io.reads.count == 1 && m[.rax] & 0xFF == 0xFF)
            m.expectMonitorEntry(vector: 13, m.run(2), error: true)
            #expect(UInt64(m.frameV86(error: true).eip) == V8.ip + 4 && m.io.writes.count == 1)
        }
    }

    // MARK: Instructions not recognized in virtual-8086 mode; privileged ones

    /// LAR, LSL, VERR, VERW, SLDT, STR, LLDT, LTR, ARPL: #UD (each page's "Virtual-8086 Mode
    /// Exceptions"), delivered with the virtual-8086 frame and no error code.
    @Test(arguments: [[UInt8(0x0F), 0x02, 0xC3], [0x0F, 0x03, 0xC3], [0x0F, 0x00, 0xE0], [0x0F, 0x00, 0xE8],
                      [0x0F, 0x00, 0xC0], [0x0F, 0x00, 0xC8], [0x0F, 0x00, 0xD0], [0x0F, 0x00, 0xD8], [0x63, 0xC3]])
    func notRecognizedIsUD(code: [UInt8]) {
        let m = TestMachine.protected32()
        m.enterV86(code, flags: V8.flags(iopl: 3))
        m.expectMonitorEntry(vector: 6, m.run(2), error: false)
        #expect(UInt64(m.frameV86(error: false).eip) == V8.ip)
    }

    /// CPL is 3: HLT and MOV from CR0 are #GP(0).
    @Test(arguments: [[UInt8(0xF4)], [0x0F, 0x20, 0xC0]])
    func privilegedIsGP(code: [UInt8]) {
        let m = TestMachine.protected32()
        m.enterV86(code, flags: V8.flags(iopl: 3))
        m.expectMonitorEntry(vector: 13, m.run(2), error: true)
        let f = m.frameV86(error: true)
        #expect(f.error == 0 && UInt64(f.eip) == V8.ip)
    }

    /// With a 16-bit TSS in TR the ring-0 stack of an interrupt from virtual-8086 mode is
    /// SS0:SP0 at offsets 4 and 2 (§7.6 "16-Bit Task-State Segment (TSS)", Figure 7-11), not the
    /// 32-bit TSS's offsets 8 and 4: here SP0 = 5000H, SS0 = 10H, and the 32-bit-TSS slots hold
    /// garbage that would fault.
    @Test func interruptWith16BitTSS() {
        let m = TestMachine.protected32()
        let t: UInt64 = 0xA000
        m.mem.zero(at: t, count: 0x2C)
        m.w16(t + 2, 0x5000); m.w16(t + 4, Sel.data)
        m.w32(t + 8, 0xFFFF_FFF8)
        m.w64(Layout.gdt + 0x48, descriptor(base: UInt32(t), limit: 0x2B, access: 0x83, flags: 0))   // busy 16-bit TSS
        m.cpu.segs[Seg.tr] = SegmentRegister(selector: 0x48, base: t, limit: 0x2B, attr: 0x83)
        m.enterV86([0xFA], flags: V8.flags(iopl: 0))
        let stop = m.run(2)
        #expect(m.vector(stop) == 13 && m.cpu.cpl == 0, "stopped with \(stop)")
        #expect(m[.rsp] == 0x5000 - 40 && m.cpu.segs[Seg.ss].selector == Sel.data, "ESP 0x\(hex(m[.rsp]))")
        let f = m.frameV86(error: true)
        #expect(f.error == 0 && UInt64(f.eip) == V8.ip && f.gs == UInt32(V8.gs))
    }

    // MARK: Task switches

    /// JMP to a TSS whose EFLAGS image has VM = 1: the selectors from the TSS are loaded
    /// 8086-style, CPL 3, EIP from the TSS; the old task saved as usual.
    @Test func taskSwitchIntoV86Task() {
        let m = TestMachine.protected32()
        m.writeTaskB()
        let b = TS.tssB
        m.w32(b + 0x20, 0x0040)                                 // EIP
        m.w32(b + 0x24, UInt32(V8.flags(iopl: 3)))              // EFLAGS: VM IOPL 3 CF
        m.w32(b + 0x38, UInt32(V8.sp))                          // ESP
        let sels: [UInt16] = [V8.es, V8.cs, V8.ss, V8.ds, V8.fs, V8.gs]
        for s in 0..<6 { m.w16(b + 0x48 + UInt64(s) * 4, sels[s]) }
        m.load([0x90], at: UInt64(V8.cs) << 4 + 0x40)
        #expect(m.run([0xEA, 0, 0, 0, 0, UInt8(TS.selB), 0], steps: 1) == .budget)
        #expect(m.rip == 0x40 && m[.rsp] == V8.sp && m.cpu.cpl == 3 && m.cpu.codeMode == 0)
        #expect(m.cpu.rflags == V8.flags(iopl: 3) && m.cpu.segs[Seg.tr].selector == TS.selB)
        for s in 0..<6 { m.expectV86Segment(s, sels[s]) }
        #expect(m.run(1) == .budget && m.rip == 0x41)
        #expect(m.r32(Layout.tss + 0x20) == UInt32(Layout.code + 7))
    }
}

// MARK: - VMX: a virtual-8086 guest

/// A guest entered with RFLAGS.VM = 1 (the way a VMM without "unrestricted guest" runs real-mode
/// code): CR0 = PE PG NE ET with 32-bit paging (one 4-MByte page), the VMCS segment fields
/// 8086-style as §26.3.1.2 requires (base = selector × 16, limit FFFFH, AR F3H), TR a busy 32-bit
/// TSS, LDTR unusable. CS:IP = B000:0000 (linear `VX.guestCode`), SS:SP = BF00:1000.
@Suite("Virtual-8086 mode: VMX guest")
struct V86GuestTests {
    static let guestPD: UInt64 = 0x99000

    func guestV86(_ code: [UInt8], rflags: UInt64) -> TestMachine {
        let m = TestMachine.long64()
        m.setupGuest(code)
        m.w32(Self.guestPD, 0x87)
        m.vw(.entryControls, UInt64(VX.entryBase & ~EntryCtl.ia32eModeGuest))
        m.vw(.guestCR0, CR0.pe | CR0.et | CR0.ne | CR0.pg)
        m.vw(.guestCR3, Self.guestPD)
        m.vw(.guestCR4, CR4.vmxe | CR4.pse)
        let sels: [UInt16] = [0x1000, 0xB000, 0xBF00, 0x2000, 0x3000, 0x4000]   // ES CS SS DS FS GS
        for s in 0..<6 {
            let f = VMCSFieldID.guestSegment[s]
            m.vw(f.selector, UInt64(sels[s])); m.vw(f.base, UInt64(sels[s]) << 4); m.vw(f.limit, 0xFFFF); m.vw(f.ar, 0xF3)
        }
        m.vw(.guestIDTRBase, 0x9A000); m.vw(.guestIDTRLimit, 256 * 8 - 1)
        m.vw(.guestRSP, 0x1000); m.vw(.guestRIP, 0)
        m.vw(.guestRFLAGS, rflags)
        return m
    }

    /// mov ax, 1234H; mov ds, ax; mov [10H], ax; push ax; cli — in the guest the MOV DS is
    /// 8086-style (DS base 12340H), the store lands at 12350H, PUSH uses SS:SP; CLI at IOPL 0 is
    /// #GP(0), a VM exit with reason 0 (bit 13 of the exception bitmap) whose saved guest state is
    /// still virtual-8086: RIP = the CLI's IP, RFLAGS.VM = 1, DS = 1234H / 12340H / FFFFH / F3H,
    /// SS.DPL = 3 (CPL 3).
    @Test func cliAtIOPL0ExitsWithGP() {
        let m = guestV86([0xB8, 0x34, 0x12, 0x8E, 0xD8, 0xA3, 0x10, 0x00, 0x50, 0xFA], rflags: RFLAGS.vm | 0x2 | RFLAGS.if)
        m.vw(.exceptionBitmap, 1 << 13)
        m.expectExit(m.launch(), reason: 0, guestRIP: 9, guestRSP: 0xFFE)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0D && m.vr(.exitInterruptionErrorCode) == 0)
        #expect(m.vr(.guestRFLAGS) == RFLAGS.vm | 0x2 | RFLAGS.if, "guest RFLAGS 0x\(hex(m.vr(.guestRFLAGS)))")
        let ds = VMCSFieldID.guestSegment[Seg.ds], ss = VMCSFieldID.guestSegment[Seg.ss]
        #expect(m.vr(ds.selector) == 0x1234 && m.vr(ds.base) == 0x12340 && m.vr(ds.limit) == 0xFFFF && m.vr(ds.ar) == 0xF3)
        #expect(m.vr(ss.ar) == 0xF3)
        #expect(m.r16(0x12350) == 0x1234 && m.r16(0xBF000 + 0xFFE) == 0x1234)
    }

    /// The VMM loop over a virtual-8086 guest: CPUID exits (reason 10) at IP 0; the host
    /// advances guest RIP by the exit instruction length (VMWRITE 681EH) and VMRESUMEs — the
    /// saved 8086-style segment fields pass the entry checks again — and the guest goes on in
    /// virtual-8086 mode: mov ax, 5678H; mov ds, ax (DS base 56780H); cpuid exits at IP 7.
    /// cpuid; mov ax, 0x5678; mov ds, ax; cpuid (0F A2 B8 78 56 8E D8 0F A2).
    @Test func exitAndResumeStaysInV86() {
        let m = guestV86([0x0F, 0xA2, 0xB8, 0x78, 0x56, 0x8E, 0xD8, 0x0F, 0xA2], rflags: RFLAGS.vm | 0x2)
        m.expectExit(m.launch(), reason: 10, length: 2, guestRIP: 0, guestRSP: 0x1000)
        m[.rcx] = 0x681E; m[.rax] = m.vr(.guestRIP) + m.vr(.exitInstructionLength)
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget && m.arith == 0)
        m.expectExit(m.launch(resume: true), reason: 10, length: 2, guestRIP: 7, guestRSP: 0x1000)
        let ds = VMCSFieldID.guestSegment[Seg.ds]
        #expect(m.vr(ds.selector) == 0x5678 && m.vr(ds.base) == 0x56780 && m.vr(ds.limit) == 0xFFFF && m.vr(ds.ar) == 0xF3)
        #expect(m.vr(.guestRFLAGS) == RFLAGS.vm | 0x2)
    }

    /// VMCALL in the virtual-8086 guest is a VM exit (reason 18), not the #UD it is in
    /// virtual-8086 mode outside non-root operation (§30.3 "VMCALL—Call to VM Monitor",
    /// Operation: the non-root VM exit comes before the RFLAGS.VM check); HLT at CPL 3 is #GP(0)
    /// before any HLT exiting (§25.1.1 "Relative Priority of Faults and VM Exits").
    @Test func vmcallExitsAndHLTIsGP() {
        let m = guestV86([0x0F, 0x01, 0xC1], rflags: RFLAGS.vm | 0x2)
        m.expectExit(m.launch(), reason: 18, length: 3, guestRIP: 0, guestRSP: 0x1000)
        #expect(m.vr(.guestRFLAGS) & RFLAGS.vm != 0)

        let h = guestV86([0xF4], rflags: RFLAGS.vm | 0x2)
        h.vw(.procBasedControls, UInt64(VX.procBase | Proc.hltExiting))
        h.vw(.exceptionBitmap, 1 << 13)
        h.expectExit(h.launch(), reason: 0, guestRIP: 0, guestRSP: 0x1000)
        #expect(h.vr(.exitInterruptionInfo) == 0x8000_0B0D)
    }

    /// A software interrupt (type 4, vector 40H, length 2) injected by VM entry into the guest at
    /// IOPL 0 is delivered through the guest IDT, not turned into #GP: "no general-protection
    /// exception can occur due to RFLAGS.IOPL < 3" (§26.6.1.1 "Details of Vectored-Event
    /// Injection"). The DPL-3 gate leads to flat 32-bit code 30H at B1000H (CPUID: exit reason 10);
    /// the guest TSS gives SS0:ESP0 = 10H:60000H; the Figure 20-4 frame is on that stack.
    @Test func injectedSoftwareInterruptIgnoresIOPL() {
        let m = guestV86([0x90], rflags: RFLAGS.vm | 0x2)
        let handler: UInt64 = 0xB1000
        m.load([0x0F, 0xA2], at: handler)                                   // cpuid
        m.w64(0x9A000 + 0x40 * 8, (handler & 0xFFFF) | UInt64(Sel.code32) << 16 | 0xEE << 40 | (handler >> 16) << 48)
        m.w32(Layout.tss + 4, UInt32(Layout.rsp0Stack)); m.w32(Layout.tss + 8, UInt32(Sel.data))
        m.vw(.entryInterruptionInfo, 0x8000_0440); m.vw(.entryInstructionLength, 2)
        m.expectExit(m.launch(), reason: 10, length: 2, guestRIP: handler, guestRSP: Layout.rsp0Stack - 36)
        #expect(m.vr(VMCSFieldID.guestSegment[Seg.cs].selector) == UInt64(Sel.code32))
        #expect(m.vr(.guestRFLAGS) & RFLAGS.vm == 0 && m.vr(VMCSFieldID.guestSegment[Seg.ds].selector) == 0)
        let f = (0..<9).map { m.r32(Layout.rsp0Stack - 36 + UInt64($0) * 4) }
        #expect(f == [2, 0xB000, UInt32(RFLAGS.vm | 0x2), 0x1000, 0xBF00, 0x1000, 0x2000, 0x3000, 0x4000], "frame \(f.map { hex($0) })")
    }

    /// At IOPL 3 the same CLI runs; then OUT 80H is an I/O-instruction VM exit (unconditional
    /// I/O exiting) — the I/O permission bitmap of the guest TSS is consulted first (§25.1.1:
    /// the #GP of a denied I/O has priority over the VM exit), so the guest TSS's bitmap allows it.
    @Test func ioExitFromV86Guest() {
        let m = guestV86([0xFA, 0xE6, 0x80], rflags: RFLAGS.vm | 0x2 | RFLAGS.iopl)
        m.vw(.procBasedControls, UInt64(VX.procBase | Proc.unconditionalIOExiting))
        // Guest TSS (Layout.tss, limit 67H in the VMCS): widen to hold a bitmap for ports 0…FFH.
        for k in 0..<0x21 { m.w8(Layout.tss + 0x68 + UInt64(k), 0) }
        m.w16(Layout.tss + 0x66, 0x68)
        m.vw(VMCSFieldID.guestSegment[Seg.tr].limit, 0x88)
        m.expectExit(m.launch(), reason: 30, qualification: 0x80 << 16 | 1 << 6, length: 2, guestRIP: 1, guestRSP: 0x1000)
        #expect(m.vr(.guestRFLAGS) == RFLAGS.vm | 0x2 | RFLAGS.iopl)
    }
}
