/// Exception and interrupt delivery (SDM Vol. 3A ch. 6 "Interrupt and Exception Handling").

extension CPU {
    /// Exception classes for double-fault detection (SDM Vol. 3A §6.15, Table 6-4
    /// "Interrupt and Exception Classes").
    enum FaultClass { case benign, contributory, pageFault, doubleFault }

    static func faultClass(_ f: Fault) -> FaultClass {
        guard f.kind == .exception else { return .benign }
        switch f.vector {
        case 0, 10, 11, 12, 13: return .contributory
        case 14: return .pageFault
        case 8: return .doubleFault
        default: return .benign
        }
    }

    /// Deliver `first` through the IDT, handling faults during delivery as the SDM says
    /// (Table 6-5 "Conditions for Generating a Double Fault"). Returns a stop cause if the
    /// processor shuts down (triple fault).
    @usableFromInline func deliver(_ event: Fault) -> StopCause? {
        var first = event
        // Data breakpoints a MOV SS / POP SS hit wait for the next instruction boundary or event
        // (§6.8.3 "Masking Exceptions and Interrupts When Switching Stacks"): a #DB delivered now
        // reports them with its own conditions; any other event goes first, and they follow it
        // as a #DB trap before the handler's first instruction (below).
        if first.isDebugException && pendingDebugHits != 0 {
            first.errorCode |= UInt32(truncatingIfNeeded: pendingDebugHits)
            pendingDebugHits = 0
        }
        var current = first
        var chain: [Fault] = [first]
        // An event injected by VM entry is delivered without consulting the exception bitmap
        // (SDM Vol. 3C §26.6.1); faults during its delivery are ordinary guest exceptions.
        var injected = vmx.injecting != 0
        while true {
            // VMX non-root operation: the exception bitmap decides (SDM Vol. 3C §25.2).
            if vmx.nonRoot && !injected && exceptionExits(current) { return vmExitForException(current) }
            injected = false
            do {
                if current.isDebugException && vmx.injecting == 0 { recordDebugConditions(current) }
                try deliverOnce(current)
                if pendingDebugHits != 0 {
                    let held = UInt32(truncatingIfNeeded: pendingDebugHits)
                    pendingDebugHits = 0
                    currentRip = rip
                    return deliver(Fault.debug(held, trap: true))
                }
                return nil
            } catch let second {
                // A task switch through a task gate became a VM exit: the host runs now.
                if second.kind == .redirect { taskSwitchCommitted = false; return takeVMXStop() }
                if second.kind == .stop { taskSwitchCommitted = false; return takeStop(currentRip) }
                // A software interrupt (INT n, INT3, INTO) whose delivery faults did not complete:
                // the fault is reported against the INT instruction itself, not the one after it.
                // After the commit point of a task switch through a task gate, the fault belongs
                // to the new task and RIP is already its EIP (SDM Vol. 3A §7.3 "Task Switching").
                if current.kind == .software && !taskSwitchCommitted { rip = currentRip }
                taskSwitchCommitted = false
                chain.append(second)
                let c1 = CPU.faultClass(current), c2 = CPU.faultClass(second)
                if vmx.nonRoot {
                    // A VM exit during delivery records the event being delivered as IDT-vectoring
                    // information (SDM Vol. 3C §27.2.4).
                    vmx.vectoring = vmx.injecting != 0 ? vmx.injecting : interruptionInfo(current)
                    vmx.vectoringError = current.errorCode
                }
                if c1 == .doubleFault {
                    if vmx.nonRoot {
                        // Triple fault in VMX non-root operation: a VM exit (basic reason 2, §25.2).
                        vmx.vectoring = 0
                        vmExit(UInt32(VMXExitReason.tripleFault.rawValue), VMExitInfo(), guestRip: rip)
                        return takeVMXStop()
                    }
                    faultChain = chain
                    return .tripleFault(chain: chain, rip: currentRip)
                }
                let df = (c1 == .contributory && c2 == .contributory)
                    || (c1 == .pageFault && (c2 == .contributory || c2 == .pageFault))
                if df {
                    current = Fault(vector: 8, errorCode: 0)
                    chain.append(current)
                } else {
                    current = second
                }
            }
        }
    }

    /// A #DB about to be delivered through the IDT updates DR6 and DR7 (SDM Vol. 3A §17.2.3
    /// "Debug Status Register (DR6)": "Certain debug exceptions may clear bits 0-3. The remaining
    /// contents of the DR6 register are never cleared by the processor" — B0–B3 become the
    /// breakpoints this exception reports, BD/BS/BT are set when their condition is; §17.2.4
    /// "Debug Control Register (DR7)": "The processor clears the GD flag upon entering to the
    /// debug exception handler"). INT1 reports no condition and leaves DR6 alone. A #DB that
    /// causes a VM exit changes neither (Vol. 3C §27.1 "Architectural State Before a VM Exit"),
    /// nor does one injected by VM entry.
    func recordDebugConditions(_ f: Fault) {
        let c = UInt64(f.debugConditions)
        if !f.isINT1 || c != 0 { dr6 = (dr6 & ~0xF) | c }
        dr7 &= ~0x2000
        // IA32_DEBUGCTL.LBR and .BTF are cleared when a debug exception is generated (Vol. 3B
        // §17.4.1 "IA32_DEBUGCTL MSR", §17.4.3 "Single-Stepping on Branches").
        msrs.debugCtl &= ~0x3
    }

    /// One attempt to deliver an event: IDT lookup, gate checks, stack switch, frame push.
    /// Faults raised while delivering a hardware exception carry the EXT bit (§6.13 "Error Code").
    func deliverOnce(_ f: Fault) throws(Fault) {
        let vector = UInt64(f.vector)
        let software = f.kind == .software
        let ext: UInt32 = software ? 0 : 1
        let idtErr = UInt32(vector * 8 + 2) | ext
        var oldFlags = flags()
        // "For any fault-class exception except a debug exception generated in response to an
        // instruction breakpoint, the value pushed for RF is 1" (SDM Vol. 3A §17.3.1.1
        // "Instruction-Breakpoint Exception Condition"), so the restarted instruction does not
        // hit an instruction breakpoint again. The #DB fault of instruction breakpoints (a
        // general-detect #DB, BD, is a fault that does get RF = 1) and the aborts #DF, #MC are
        // left alone, and so is an event injected by VM entry (its RFLAGS is the guest's, §26.6.1).
        let breakpointFault = f.vector == 1 && f.debugConditions & 0x2000 == 0
        if f.kind == .exception && !f.trap && !breakpointFault && f.vector != 8 && f.vector != 18 && vmx.injecting == 0 {
            oldFlags |= RFLAGS.rf
        }
        let returnRip = rip

        if cr0 & CR0.pe == 0 {
            // Real-address mode: the IVT at IDTR.base (SDM Vol. 3A §20.1.4 "Interrupt and Exception Handling").
            if vector * 4 + 3 > UInt64(idtrLimit) { throw Fault.GP(0) }
            let ent = try readSystem(idtrBase &+ vector * 4, 4)
            try push(1, oldFlags)
            try push(1, UInt64(segs[Seg.cs].selector))
            try push(1, returnRip)
            let sel = UInt16(ent >> 16)
            segs[Seg.cs].selector = sel; segs[Seg.cs].base = UInt64(sel) << 4
            refreshSegmentCache(Seg.cs)
            rip = ent & 0xFFFF
            flagsRest &= ~(RFLAGS.if | RFLAGS.tf | RFLAGS.ac | RFLAGS.rf)
            return
        }

        let long = longMode
        let gateSize: UInt64 = long ? 16 : 8
        if vector * gateSize + gateSize - 1 > UInt64(idtrLimit) { throw Fault.GP(idtErr) }
        let g0 = try readSystem(idtrBase &+ vector * gateSize, 8)
        let g1: UInt64 = long ? try readSystem(idtrBase &+ vector * gateSize &+ 8, 8) : 0
        let gtype = (g0 >> 40) & 0xF
        let gdpl = UInt8((g0 >> 45) & 3)
        let gpresent = g0 & (1 << 47) != 0
        let validTypes: [UInt64] = long ? [0xE, 0xF] : [0x6, 0x7, 0xE, 0xF]
        if gtype == 5 && !long {
            // A task gate (§6.12.2 "Interrupt Tasks"): the DPL check of software interrupts and
            // the present check of the gate, then a task switch (CPU+TaskSwitch.swift).
            if software && gdpl < cpl { throw Fault.GP(UInt32(vector * 8 + 2)) }
            if !gpresent { throw Fault.NP(idtErr) }
            try interruptTaskSwitch(f, gate: g0, ext: ext, savedFlags: oldFlags, returnEIP: returnRip)
            return
        }
        if !validTypes.contains(gtype) { throw Fault.GP(idtErr) }
        // Software interrupts check the gate DPL against CPL (§6.12.1.1).
        if software && gdpl < cpl { throw Fault.GP(UInt32(vector * 8 + 2)) }
        if !gpresent { throw Fault.NP(idtErr) }
        let sel = UInt16(truncatingIfNeeded: g0 >> 16)
        var offset = (g0 & 0xFFFF) | ((g0 >> 32) & 0xFFFF_0000)
        if long { offset |= (g1 & 0xFFFF_FFFF) << 32 }
        let ist = long ? Int(g0 >> 32) & 7 : 0
        let gate32 = gtype & 8 != 0
        let trapGate = gtype & 1 != 0

        if sel & ~3 == 0 { throw Fault.GP(ext) }
        let d = try fetchDescriptor(sel, ext: ext)
        let e = UInt32(sel & ~3) | ext
        if !d.isCode || d.dpl > cpl { throw Fault.GP(e) }
        // From virtual-8086 mode the handler must be in a nonconforming code segment with DPL 0,
        // else #GP(new code-segment selector) (Vol. 3B §20.3.1.1 "Handling an Interrupt or
        // Exception Through a Protected-Mode Trap or Interrupt Gate"; Vol. 2A "INT n" Operation,
        // PROTECTED-MODE: the VM = 1 branches for a DPL ≠ 0 and for a conforming or DPL = CPL
        // segment).
        let fromV86 = flagsRest & RFLAGS.vm != 0
        if fromV86 && (d.conforming || d.dpl != 0) { throw Fault.GP(e) }
        if !d.present { throw Fault.NP(e) }
        if long && !(d.long && !d.db) { throw Fault.GP(e) }
        let newCPL = d.conforming ? cpl : d.dpl
        var cs = d.register((sel & ~3) | UInt16(newCPL))
        cs.attr |= 1

        let oldSS = segs[Seg.ss], oldRSP = regs[Reg.rsp], oldCS = segs[Seg.cs].selector
        var newSS = oldSS
        var sp: UInt64
        let privChange = newCPL < cpl
        if long {
            // IA-32e: 64-bit TSS gives RSPn or ISTn (§6.14.4, §6.14.5); SS becomes null.
            if privChange || ist != 0 {
                let tss = segs[Seg.tr]
                let off: UInt64 = ist != 0 ? 0x24 + UInt64(ist - 1) * 8 : 4 + UInt64(newCPL) * 8
                if off + 7 > UInt64(tss.limit) { throw Fault.TS(UInt32(tss.selector & ~3) | ext) }
                sp = try readSystem(tss.base &+ off, 8)
            } else {
                sp = oldRSP
            }
            if privChange { newSS = SegmentRegister(selector: UInt16(newCPL), base: 0, limit: 0, attr: SegAttr.unusable | UInt32(newCPL) << 5) }
            sp &= ~0xF
            var frame: [UInt64] = [UInt64(oldSS.selector), oldRSP, oldFlags, UInt64(oldCS), returnRip]
            if f.hasErrorCode { frame.append(UInt64(f.errorCode)) }
            let savedCPL = cpl
            cpl = newCPL
            defer { cpl = savedCPL }
            for v in frame {
                sp &-= 8
                if UInt64(bitPattern: (Int64(bitPattern: sp) << 16) >> 16) != sp { throw Fault.SS(ext) }
                try writeSystemAs(sp, 8, v)
            }
        } else {
            let wide: UInt64 = gate32 ? 4 : 2
            var frame: [UInt64] = []
            var spBase = oldRSP
            if privChange {
                (sp, newSS) = try legacyInnerStack(newCPL, ext: ext)
                spBase = sp
                frame = [UInt64(oldSS.selector), oldRSP]
                if fromV86 {
                    // INTERRUPT-FROM-VIRTUAL-8086-MODE (Vol. 2A "INT n"; §20.3.1.1, Figure 20-4
                    // "Privilege Level 0 Stack After Interrupt or Exception in Virtual-8086
                    // Mode"): GS, FS, DS, ES are pushed above SS and ESP.
                    frame = [UInt64(segs[Seg.gs].selector), UInt64(segs[Seg.fs].selector),
                             UInt64(segs[Seg.ds].selector), UInt64(segs[Seg.es].selector)] + frame
                }
            } else {
                sp = oldRSP
            }
            frame += [oldFlags, UInt64(oldCS), returnRip]
            if f.hasErrorCode { frame.append(UInt64(f.errorCode)) }
            let stackMask: UInt64 = newSS.attr & SegAttr.db != 0 ? 0xFFFF_FFFF : 0xFFFF
            let savedCPL = cpl
            cpl = newCPL
            defer { cpl = savedCPL }
            for v in frame {
                sp = (sp &- wide) & stackMask
                try writeSystemAs(newSS.base &+ sp, wide, v)
            }
            // A 16-bit stack keeps the upper word of ESP — of the new stack's ESP after a switch.
            if stackMask == 0xFFFF { sp = (spBase & ~0xFFFF) | sp }
        }
        // Commit.
        commitCS(cs, cpl: newCPL)
        if privChange || long {
            segs[Seg.ss] = newSS
            refreshSegmentCache(Seg.ss)
        }
        regs[Reg.rsp] = sp
        rip = long ? offset : offset & (gate32 ? 0xFFFF_FFFF : 0xFFFF)
        flagsRest &= ~(RFLAGS.tf | RFLAGS.nt | RFLAGS.rf | RFLAGS.vm)
        if !trapGate { flagsRest &= ~RFLAGS.if }
        if fromV86 {
            // §20.3.1.1: after pushing them, the processor clears GS, FS, DS and ES (null
            // selectors, not usable in the handler).
            for s in [Seg.es, Seg.ds, Seg.fs, Seg.gs] {
                segs[s] = SegmentRegister(selector: 0, base: 0, limit: 0, attr: SegAttr.unusable)
                refreshSegmentCache(s)
            }
        }
        // (Otherwise the data segments keep their values on inward transfers.)
    }

    /// Write through paging with the privilege of the (temporarily set) CPL.
    func writeSystemAs(_ lin: UInt64, _ n: UInt64, _ v: UInt64) throws(Fault) {
        for k in 0..<n {
            var a = lin &+ k
            if !longMode { a &= 0xFFFF_FFFF }
            let p = try translateNoFill(a, .write)
            writePhys(p, 1, (v >> (8 * k)) & 0xFF)
        }
    }
}
