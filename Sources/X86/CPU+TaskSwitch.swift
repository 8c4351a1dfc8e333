/// Hardware task switching in legacy protected mode (SDM Vol. 3A ch. 7 "Task Management"):
/// far JMP/CALL to a TSS descriptor or a task gate, IRET with EFLAGS.NT = 1, and interrupts and
/// exceptions through a task gate in the IDT. In VMX non-root operation every task switch is a
/// VM exit instead (Vol. 3C §25.4.2 "Treatment of Task Switches").
///
/// Section numbers are those of the pinned edition (`SDM.edition`, 325462-077US).
///
/// 32-bit TSSs (types 9/B) and 16-bit TSSs (types 1/3, §7.6 "16-Bit Task-State Segment (TSS)")
/// as the old and the new task. A new task with EFLAGS.VM = 1 runs in virtual-8086 mode: its
/// segment registers are loaded 8086-style, CPL 3 (Vol. 3B §20.2.5). IA-32e mode has no
/// task switching (§7.7 "Task Management in 64-bit Mode"): callers keep #GP there.

extension CPU {
    /// What started a task switch: the value of bits 31:30 of the exit qualification of a VM exit
    /// due to a task switch (Vol. 3C §27.2.1 "Basic VM-Exit Information", Table 27-2 "Exit
    /// Qualification for Task Switches").
    enum TaskSwitchSource: UInt64 {
        case call = 0, iret = 1, jmp = 2, idtGate = 3
        /// CALL and interrupts/exceptions nest: back link written, NT set, old task stays busy
        /// (§7.4 "Task Linking", Table 7-2 "Effect of a Task Switch on Busy Flag, NT Flag,
        /// Previous Task Link Field, and TS Flag").
        var nests: Bool { self == .call || self == .idtGate }
    }

    // MARK: Entry points

    /// Far JMP/CALL whose selector names a task gate (type 5) or a TSS descriptor (1, 3, 9, B)
    /// outside IA-32e mode (Vol. 2A "CALL—Call Procedure" and "JMP—Jump", Operation: TASK-GATE
    /// and TASK-STATE-SEGMENT; §7.3 "Task Switching"; §7.2.5 "Task-Gate Descriptor").
    /// `start` is the address of the JMP/CALL (RIP already points past it).
    func farTaskSwitch(sel: UInt16, desc d: Descriptor, call: Bool, start: UInt64) throws(Fault) {
        let rpl = UInt8(sel & 3)
        let e = UInt32(sel & ~3)
        let source: TaskSwitchSource = call ? .call : .jmp
        if d.type == 5 {
            // TASK-GATE: the gate's DPL is checked against CPL and the gate selector's RPL; the
            // DPL of the TSS descriptor it names is not used (§7.2.5).
            if d.dpl < cpl || d.dpl < rpl { throw Fault.GP(e) }
            if !d.present { throw Fault.NP(e) }
            let tssSel = UInt16(truncatingIfNeeded: d.lo >> 16)
            let tss = try availableTSSDescriptor(tssSel, ext: 0)
            try switchTasks(to: tssSel, tss, source: source, ext: 0, savedEIP: rip, savedFlags: flags(),
                            errorCode: nil, start: start)
        } else {
            // TASK-STATE-SEGMENT: a TSS descriptor must be in the GDT (§7.2.2 "TSS Descriptor");
            // DPL < CPL or RPL, or a busy TSS: #GP(TSS selector); not present: #NP.
            if sel & 4 != 0 { throw Fault.GP(e) }
            if d.dpl < cpl || d.dpl < rpl { throw Fault.GP(e) }
            if d.type == 3 || d.type == 0xB { throw Fault.GP(e) }
            if !d.present { throw Fault.NP(e) }
            try switchTasks(to: sel, d, source: source, ext: 0, savedEIP: rip, savedFlags: flags(),
                            errorCode: nil, start: start)
        }
    }

    /// IRET with EFLAGS.NT = 1 in protected mode: a return to the task named by the previous task
    /// link field of the current TSS (Vol. 2A "IRET/IRETD/IRETQ", Operation: TASK-RETURN; §7.4
    /// "Task Linking"). No privilege checks (§25.4.2 item h); the conditions of §6.15 "Exception
    /// and Interrupt Reference", Interrupt 10, Table 6-6 "Invalid TSS Conditions" give #TS(link)
    /// for a link with TI = 1, beyond the GDT limit, null, or not naming a busy TSS.
    func taskReturn(start: UInt64) throws(Fault) {
        let tr = segs[Seg.tr]
        let link = UInt16(truncatingIfNeeded: try readSystem(tr.base, 2))
        let e = UInt32(link & ~3)
        if link & 4 != 0 || link & ~3 == 0 || UInt64(link & ~7) + 7 > UInt64(gdtrLimit) { throw Fault.TS(e) }
        let d = try fetchDescriptor(link)
        if !d.isSystem || (d.type != 3 && d.type != 0xB) { throw Fault.TS(e) }
        if !d.present { throw Fault.NP(e) }
        try switchTasks(to: link, d, source: .iret, ext: 0, savedEIP: rip, savedFlags: flags(),
                        errorCode: nil, start: start)
    }

    /// An interrupt or exception whose IDT entry is a task gate (§6.12.2 "Interrupt Tasks";
    /// Vol. 2A "INT n/INTO/INT3/INT1", Operation: TASK-GATE). The DPL check of software
    /// interrupts and the present check of the gate are done by the caller; `savedFlags` and
    /// `returnEIP` are what an interrupt gate would have pushed.
    func interruptTaskSwitch(_ f: Fault, gate g0: UInt64, ext: UInt32, savedFlags: UInt64, returnEIP: UInt64) throws(Fault) {
        let tssSel = UInt16(truncatingIfNeeded: g0 >> 16)
        let tss = try availableTSSDescriptor(tssSel, ext: ext)
        try switchTasks(to: tssSel, tss, source: .idtGate, ext: ext, savedEIP: returnEIP, savedFlags: savedFlags,
                        errorCode: f.hasErrorCode ? f.errorCode : nil, start: nil, event: f)
    }

    // MARK: The switch

    /// The TSS descriptor a task gate names: in the GDT, within its limit, an available TSS,
    /// present (Vol. 2A "CALL" TASK-GATE: "IF TSS segment selector local/global bit is set to
    /// local or index not within GDT limits THEN #GP(TSS selector)"; busy: #GP; not present: #NP).
    func availableTSSDescriptor(_ sel: UInt16, ext: UInt32) throws(Fault) -> Descriptor {
        let e = UInt32(sel & ~3) | ext
        if sel & 4 != 0 || UInt64(sel & ~7) + 7 > UInt64(gdtrLimit) { throw Fault.GP(e) }
        let d = try fetchDescriptor(sel, ext: ext)
        if !d.isSystem || (d.type != 1 && d.type != 9) { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        return d
    }

    /// SWITCH-TASKS (§7.3 "Task Switching", steps 3–13; §7.4 "Task Linking"). The new TSS
    /// descriptor `tss` has passed the source's type, privilege and present checks.
    ///
    /// `ext` is the EXT bit of error codes (1 when an exception or external event started the
    /// switch, §6.13 "Error Code"). `start` is the address of the JMP/CALL/IRET (nil for an
    /// IDT task gate); `event` the event delivered through an IDT task gate.
    func switchTasks(to sel: UInt16, _ tss: Descriptor, source: TaskSwitchSource, ext: UInt32,
                     savedEIP: UInt64, savedFlags: UInt64, errorCode: UInt32?, start: UInt64?,
                     event: Fault? = nil) throws(Fault) {
        let is32 = tss.type & 8 != 0
        // §7.2.2 "TSS Descriptor": a limit below 67H (32-bit TSS) or 2BH (16-bit TSS, §7.6)
        // is #TS(new TSS selector) (Table 6-6).
        if tss.limit < (is32 ? 0x67 : 0x2B) { throw Fault.TS(UInt32(sel & ~3) | ext) }

        // VMX non-root operation: the checks above (§25.4.2 items 1–4: gate privilege and P bit,
        // TSS selector, TSS descriptor type, P bit, S bit and limit) come first; then the VM exit.
        if vmx.nonRoot { try taskSwitchVMExit(sel: sel, source: source, start: start, event: event) }

        let old = segs[Seg.tr]
        let old16 = old.type == 1 || old.type == 3
        // The old TSS must hold the dynamic fields written below (up to GS at 5CH–5FH, or DS at
        // 28H–29H in a 16-bit TSS): a shorter limit is a store to the old TSS that faults,
        // #TS(old TSS selector) (Table 6-6).
        if old.limit < (old16 ? 0x29 : 0x5F) { throw Fault.TS(UInt32(old.selector & ~3) | ext) }

        // §7.3 step 8: the dynamic fields of the old task — EIP, EFLAGS, the eight general
        // registers, the segment selectors; CR3 and the LDT selector are not saved. IRET saves
        // EFLAGS with NT cleared (step 7). 32-bit TSS (Figure 7-2 "32-Bit Task-State Segment
        // (TSS)"): EIP 20H, EFLAGS 24H, EAX…EDI 28H–44H, ES CS SS DS FS GS 48H–5CH. 16-bit TSS
        // (§7.6 "16-Bit Task-State Segment (TSS)"): IP 0EH, FLAGS 10H, AX…DI 12H–20H, ES CS SS DS
        // 22H–28H — only the low words: the upper halves of EIP and EFLAGS are lost.
        var image = savedFlags & 0xFFFF_FFFF
        if source == .iret { image &= ~RFLAGS.nt }
        let ob = old.base
        if old16 {
            try writeSystem(ob &+ 0x0E, 2, savedEIP & 0xFFFF)
            try writeSystem(ob &+ 0x10, 2, image & 0xFFFF)
            for r in 0..<8 { try writeSystem(ob &+ 0x12 &+ UInt64(r * 2), 2, regs[r] & 0xFFFF) }
            for s in 0..<4 { try writeSystem(ob &+ 0x22 &+ UInt64(s * 2), 2, UInt64(segs[s].selector)) }
        } else {
            try writeSystem(ob &+ 0x20, 4, savedEIP & 0xFFFF_FFFF)
            try writeSystem(ob &+ 0x24, 4, image)
            for r in 0..<8 { try writeSystem(ob &+ 0x28 &+ UInt64(r * 4), 4, regs[r] & 0xFFFF_FFFF) }
            for s in 0..<6 { try writeSystem(ob &+ 0x48 &+ UInt64(s * 4), 2, UInt64(segs[s].selector)) }
        }

        // The new task's state. 32-bit TSS: also CR3 1CH, LDT selector 60H, T flag bit 0 of 64H.
        // 16-bit TSS: LDT selector 2AH; no CR3, no T flag; FS and GS are loaded with null
        // selectors, and the upper words of the general registers become FFFFH — §7.6 does not
        // preserve them; FFFFH is what Bochs 2.7 and QEMU load (task-tests checks it there).
        let nb = tss.base
        var newCR3: UInt64? = nil
        let newEIP: UInt64
        var newFlags: UInt64
        var newRegs = [UInt64](repeating: 0, count: 8)
        var newSel = [UInt16](repeating: 0, count: 6)
        let newLDT: UInt16
        var tBit = false
        if is32 {
            newCR3 = try readSystem(nb &+ 0x1C, 4)
            newEIP = try readSystem(nb &+ 0x20, 4)
            newFlags = try readSystem(nb &+ 0x24, 4)
            for r in 0..<8 { newRegs[r] = try readSystem(nb &+ 0x28 &+ UInt64(r * 4), 4) }
            for s in 0..<6 { newSel[s] = UInt16(truncatingIfNeeded: try readSystem(nb &+ 0x48 &+ UInt64(s * 4), 2)) }
            newLDT = UInt16(truncatingIfNeeded: try readSystem(nb &+ 0x60, 2))
            tBit = try readSystem(nb &+ 0x64, 2) & 1 != 0
        } else {
            newEIP = try readSystem(nb &+ 0x0E, 2)
            newFlags = try readSystem(nb &+ 0x10, 2)
            for r in 0..<8 { newRegs[r] = 0xFFFF_0000 | (try readSystem(nb &+ 0x12 &+ UInt64(r * 2), 2)) }
            for s in 0..<4 { newSel[s] = UInt16(truncatingIfNeeded: try readSystem(nb &+ 0x22 &+ UInt64(s * 2), 2)) }
            newLDT = UInt16(truncatingIfNeeded: try readSystem(nb &+ 0x2A, 2))
        }
        // A new task whose EFLAGS image has VM = 1 is a virtual-8086 task (32-bit TSS only: a
        // 16-bit TSS holds no bit 17). Vol. 3B §20.2.5 "Entering Virtual-8086 Mode": a task
        // switch that loads a TSS whose EFLAGS image has VM set enters virtual-8086 mode, and the
        // segment selectors of the TSS are used 8086-style, as the mode requires.
        let toV86 = is32 && newFlags & RFLAGS.vm != 0

        // Busy flags and the back link (§7.3 steps 6, 10; §7.4.1 "Use of Busy Flag To Prevent
        // Recursive Task Switching"; Table 7-2): JMP and IRET clear the old task's busy flag;
        // CALL and interrupts leave it set and write the old TSS selector into the new TSS's
        // previous task link field; every source but IRET (whose target is busy) sets the new
        // task's busy flag.
        if !source.nests {
            let a = gdtrBase &+ UInt64(old.selector & ~7) &+ 5
            try writeSystem(a, 1, try readSystem(a, 1) & ~2)
        }
        if source.nests { try writeSystem(nb, 2, UInt64(old.selector)) }
        if source != .iret {
            let a = gdtrBase &+ UInt64(sel & ~7) &+ 5
            try writeSystem(a, 1, try readSystem(a, 1) | 2)
        }

        // Commit point (§7.3 step 11): TR holds the new task. From here on a fault belongs to the
        // new task: it is delivered with the new task's state and EIP (§7.3, Table 7-1
        // "Exception Conditions Checked During a Task Switch").
        var trReg = tss.register(sel)
        trReg.attr |= 2
        segs[Seg.tr] = trReg
        taskSwitchCommitted = true
        // Table 7-2: CR0.TS is set by every task switch.
        cr0 |= CR0.ts
        // §17.2.4 "Debug Control Register (DR7)": the processor clears the local enables L0–L3
        // on every task switch, so the old task's breakpoints do not fire in the new one. LE
        // (bit 8, local exact) is cleared too, as the Intel386 defined it and Bochs does (QEMU
        // keeps it); G0–G3 and GE stay.
        dr7 &= ~0x155
        debugRegistersChanged()

        // §7.3 step 12: EIP, the general registers, EFLAGS (NT set for a nested task, step 9).
        rip = newEIP
        for r in 0..<8 { regs[r] = newRegs[r] }
        if source.nests { newFlags |= RFLAGS.nt }
        setFlags((newFlags & 0x003F_7FD5) | 2)

        // CR3 when paging is on (§7.5 "Task Address Space"; 32-bit TSS only). A PAE PDPTE with
        // reserved bits set fails the load: reported as #TS(EXT) as Bochs does (the SDM gives no
        // error code for it).
        if let c = newCR3, cr0 & CR0.pg != 0 {
            do { try writeCR3(c) } catch { throw Fault.TS(ext) }
        }

        // The selectors are loaded first with no descriptor behind them, then each is qualified
        // (§7.3 step 13): a fault leaves the rest not usable. CPL is 3 while LDTR and SS are
        // checked, so a fault there is delivered on the new TSS's ring-0 stack.
        for s in 0..<6 {
            segs[s] = SegmentRegister(selector: newSel[s], base: 0, limit: 0, attr: SegAttr.unusable)
            refreshSegmentCache(s)
        }
        segs[Seg.ldtr] = SegmentRegister(selector: newLDT, base: 0, limit: 0, attr: SegAttr.unusable)
        setCPL(3)
        try loadTaskLDT(newLDT, ext: ext)
        if toV86 {
            // Virtual-8086 task: no descriptors behind the selectors, nothing to qualify; base
            // = selector × 16, limit FFFFH, CPL 3 (§20.2.5).
            for s in 0..<6 where s != Seg.cs { loadSegmentV86(s, newSel[s]) }
            commitCS(CPU.v86Segment(newSel[Seg.cs]), cpl: 3)
        } else {
            let csSel = newSel[Seg.cs]
            let newCPL = UInt8(csSel & 3)
            try loadTaskSS(newSel[Seg.ss], csRPL: newCPL, ext: ext)
            setCPL(newCPL)
            for s in [Seg.ds, Seg.es, Seg.fs, Seg.gs] { try loadTaskDataSegment(s, newSel[s], cpl: newCPL, ext: ext) }
            let cs = try taskCodeSegment(csSel, ext: ext)
            commitCS(cs, cpl: newCPL)
        }

        // §6.12.2 "Interrupt Tasks": an exception with an error code pushes it on the new task's
        // stack — a doubleword for a 32-bit TSS, a word for a 16-bit one.
        if let code = errorCode { try push(is32 ? 2 : 1, UInt64(code)) }

        // §7.2.1 "Task-State Segment (TSS)", T flag; §17.2.3 "Debug Status Register (DR6)", BT:
        // a debug exception (trap) before the new task's first instruction.
        if tBit { throw Fault.debug(0x8000, trap: true) }
        taskSwitchCommitted = false
    }

    // MARK: Loading the new task's segment registers (§7.3 step 13, Table 7-1)

    /// The descriptor for `sel` with the table limit checked first: beyond the limit (or TI = 1
    /// without an LDT) is #TS(selector) during a task switch, not #GP.
    func taskSegmentDescriptor(_ sel: UInt16, ext: UInt32) throws(Fault) -> Descriptor {
        let e = UInt32(sel & ~3) | ext
        if sel & 4 != 0 {
            let l = segs[Seg.ldtr]
            if l.unusable || UInt64(sel & ~7) + 7 > UInt64(l.limit) { throw Fault.TS(e) }
        } else if UInt64(sel & ~7) + 7 > UInt64(gdtrLimit) {
            throw Fault.TS(e)
        }
        return try fetchDescriptor(sel, ext: ext)
    }

    /// LDTR: null is allowed (LDTR not usable); otherwise TI = 0, within the GDT, an LDT
    /// descriptor, present — else #TS(LDT selector) (Table 7-1 conditions 5 and 10).
    func loadTaskLDT(_ sel: UInt16, ext: UInt32) throws(Fault) {
        let e = UInt32(sel & ~3) | ext
        if sel & 4 != 0 { throw Fault.TS(e) }
        if sel & ~3 == 0 { return }
        let d = try taskSegmentDescriptor(sel, ext: ext)
        if !d.isSystem || d.type != 2 { throw Fault.TS(e) }
        if !d.present { throw Fault.TS(e) }
        segs[Seg.ldtr] = d.register(sel)
    }

    /// SS: non-null, a writable data segment (#TS), present (#SS), DPL = CS.RPL and DPL = RPL
    /// (#TS) (Table 7-1 conditions 7, 8, 9, 13).
    func loadTaskSS(_ sel: UInt16, csRPL: UInt8, ext: UInt32) throws(Fault) {
        let e = UInt32(sel & ~3) | ext
        if sel & ~3 == 0 { throw Fault.TS(e) }
        let d = try taskSegmentDescriptor(sel, ext: ext)
        if !d.writableData { throw Fault.TS(e) }
        if !d.present { throw Fault.SS(e) }
        if d.dpl != csRPL || d.dpl != UInt8(sel & 3) { throw Fault.TS(e) }
        try commitSegment(Seg.ss, sel, d)
    }

    /// DS, ES, FS, GS: null allowed; else a data or readable code segment (#TS), for data and
    /// nonconforming code DPL ≥ CPL and DPL ≥ RPL (#TS), present (#NP) (Table 7-1 conditions
    /// 14–17).
    func loadTaskDataSegment(_ s: Int, _ sel: UInt16, cpl newCPL: UInt8, ext: UInt32) throws(Fault) {
        if sel & ~3 == 0 { return }    // stays not usable, selector loaded
        let e = UInt32(sel & ~3) | ext
        let d = try taskSegmentDescriptor(sel, ext: ext)
        if d.isSystem || (d.isCode && !d.readable) { throw Fault.TS(e) }
        if !d.conforming && (d.dpl < newCPL || d.dpl < UInt8(sel & 3)) { throw Fault.TS(e) }
        if !d.present { throw Fault.NP(e) }
        try commitSegment(s, sel, d)
    }

    /// CS: non-null, a code segment (#TS), DPL = RPL if nonconforming / DPL ≤ RPL if conforming
    /// (#TS), present (#NP) (Table 7-1 conditions 6, 11, 12). Returns the register to commit.
    func taskCodeSegment(_ sel: UInt16, ext: UInt32) throws(Fault) -> SegmentRegister {
        let e = UInt32(sel & ~3) | ext
        if sel & ~3 == 0 { throw Fault.TS(e) }
        let d = try taskSegmentDescriptor(sel, ext: ext)
        if !d.isCode { throw Fault.TS(e) }
        let rpl = UInt8(sel & 3)
        if d.conforming ? d.dpl > rpl : d.dpl != rpl { throw Fault.TS(e) }
        if !d.present { throw Fault.NP(e) }
        return try accessedRegister(sel, d)
    }

    // MARK: VMX non-root operation

    /// A task switch in VMX non-root operation is a VM exit with basic reason 9 "task switch"
    /// (Vol. 3C §25.4.2 "Treatment of Task Switches"; Appendix C "VMX Basic Exit Reasons").
    /// Exit qualification (§27.2.1, Table 27-2): bits 15:0 the selector of the new TSS, bits
    /// 31:30 the source. Nothing of the switch has happened: the guest RIP is that of the
    /// JMP/CALL/IRET (with the instruction length, §27.2.4 "Information for VM Exits Due to
    /// Instruction Execution"), or for an IDT task gate that of the interrupted instruction (the
    /// INT n itself for a software interrupt), and the event being delivered is recorded in the
    /// IDT-vectoring information fields (§25.4.2; §27.2.3 "Information for VM Exits During Event
    /// Delivery").
    func taskSwitchVMExit(sel: UInt16, source: TaskSwitchSource, start: UInt64?, event: Fault?) throws(Fault) -> Never {
        var info = VMExitInfo()
        info.qualification = UInt64(sel) | source.rawValue << 30
        var guestRip = rip
        if let s = start {
            guestRip = s
            info.instructionLength = rip &- s
        } else if let f = event {
            vmx.vectoring = vmx.injecting != 0 ? vmx.injecting : interruptionInfo(f)
            vmx.vectoringError = f.errorCode
            if f.kind == .software && vmx.injecting == 0 {
                guestRip = currentRip
                info.instructionLength = rip &- currentRip
            }
        }
        vmExit(UInt32(VMXExitReason.taskSwitch.rawValue), info, guestRip: guestRip)
        throw Fault(kind: .redirect, vector: 0xFE, trap: true)
    }
}
