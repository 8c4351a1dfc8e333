/// VM exits (SDM Vol. 3C ch. 27 "VM Exits"): recording the exit information (§27.2), saving
/// guest state (§27.3), saving MSRs (§27.4), loading host state (§27.5), loading host MSRs
/// (§27.6) and VMX aborts (§27.7).

/// Extra exit information an exit may carry (§27.2.1–27.2.5).
struct VMExitInfo {
    var qualification: UInt64 = 0
    var guestLinear: UInt64? = nil
    var interruptionInfo: UInt32? = nil
    var interruptionError: UInt32? = nil
    var instructionLength: UInt64? = nil
    var instructionInfo: UInt32? = nil
    var ioRegs = false
}

extension CPU {
    /// An instruction causes a VM exit (fault-like: the guest RIP is the instruction's address).
    /// Performs the exit and throws `.redirect` so the run loop continues in the host.
    func vmExitForInstruction(_ i: UnsafePointer<Insn>, _ reason: VMXExitReason, qualification: UInt64? = nil,
                              instructionInfo: UInt32? = nil, guestLinear: UInt64? = nil) throws(Fault) -> Never {
        let len = UInt64(i.pointee.len)
        var info = VMExitInfo()
        info.instructionLength = len
        // Memory-operand instructions report the displacement as the qualification (§27.2.1).
        // RIP-relative addressing is the exception: the qualification is the displacement plus the
        // RIP of the next instruction (§27.2.1, "an exception is made for RIP-relative addressing").
        let disp = i.pointee.base == 16 ? i.pointee.disp &+ rip : i.pointee.disp
        info.qualification = qualification ?? (i.pointee.mem ? disp : 0)
        info.instructionInfo = instructionInfo ?? vmxInstructionInfo(i)
        info.guestLinear = guestLinear
        if reason == .crAccess && i.pointee.mem && guestLinear == nil {
            // LMSW with a memory operand: the guest-linear address field receives the linear
            // address of the source operand (§27.2.1 "Guest-linear address"; Table 27-3 bit 6).
            let lin = segBase[Int(i.pointee.seg)] &+ ea(i)
            info.guestLinear = codeMode == 2 ? lin : lin & 0xFFFF_FFFF
        }
        vmExit(UInt32(reason.rawValue), info, guestRip: rip &- len)
        throw Fault(kind: .redirect, vector: 0xFE, trap: true)
    }

    /// The VM-exit instruction-information field for an instruction with a memory or register
    /// operand (§27.2.4 "Information for VM Exits Due to Instruction Execution", Tables 27-9 to 27-14):
    /// scaling 1:0, reg1 6:3, address size 9:7, mem/reg 10, segment 17:15, index 21:18 + invalid 22,
    /// base 26:23 + invalid 27, reg2 31:28.
    func vmxInstructionInfo(_ i: UnsafePointer<Insn>) -> UInt32 {
        var v: UInt32 = 0
        let asz: UInt32 = i.pointee.asz == 1 ? 0 : (i.pointee.asz == 2 ? 1 : 2)
        v |= asz << 7
        if i.pointee.mem {
            v |= UInt32(i.pointee.scale & 3)
            v |= UInt32(i.pointee.seg & 7) << 15
            if i.pointee.index < 16 { v |= UInt32(i.pointee.index) << 18 } else { v |= 1 << 22 }
            if i.pointee.base < 16 { v |= UInt32(i.pointee.base) << 23 } else { v |= 1 << 27 }
        } else {
            v |= 1 << 10
            v |= UInt32(i.pointee.rm & 0xF) << 3
        }
        v |= UInt32(i.pointee.reg & 0xF) << 28
        return v
    }

    /// Perform a VM exit with basic reason `reason` (§27: "VM exits").
    func vmExit(_ reason: UInt32, _ info: VMExitInfo, guestRip: UInt64) {
        // §27.2 "Recording VM-Exit Information and Updating VM-Entry Control Fields".
        vmwrite(.exitReason, UInt64(reason))
        vmwrite(.exitQualification, info.qualification)
        if let g = info.guestLinear { vmwrite(.guestLinearAddress, g) }
        vmwrite(.exitInterruptionInfo, UInt64(info.interruptionInfo ?? 0))
        if let e = info.interruptionError { vmwrite(.exitInterruptionErrorCode, UInt64(e)) }
        // IDT-vectoring information: the event whose delivery caused this exit, if any (§27.2.4).
        vmwrite(.idtVectoringInfo, UInt64(vmx.vectoring))
        if vmx.vectoring != 0 { vmwrite(.idtVectoringErrorCode, UInt64(vmx.vectoringError)) }
        vmx.vectoring = 0
        if let l = info.instructionLength { vmwrite(.exitInstructionLength, l) }
        if let ii = info.instructionInfo { vmwrite(.exitInstructionInfo, UInt64(ii)) }
        // Every VM exit clears the valid bit of the VM-entry interruption-information field (§27.2.7? — §24.8.3).
        let entryInfo = vmread(.entryInterruptionInfo)
        vmwrite(.entryInterruptionInfo, entryInfo & 0x7FFF_FFFF)

        saveGuestState(guestRip: guestRip)
        // §27.4 "Saving MSRs".
        if let bad = storeMSRList(address: vmread(.exitMSRStoreAddress), count: vmread(.exitMSRStoreCount)) {
            vmxAbort(1, detail: "VM-exit MSR-store entry \(bad)"); return
        }
        loadHostState()
        // §27.6 "Loading MSRs".
        if let bad = loadMSRList(address: vmread(.exitMSRLoadAddress), count: vmread(.exitMSRLoadCount)) {
            vmxAbort(4, detail: "VM-exit MSR-load entry \(bad)"); return
        }
        vmx.nonRoot = false
        onVMTransition?(self)
        vmx.exits &+= 1
        vmx.lastExitReason = reason
        if vmx.breakOnExit && (vmx.breakExitReasons.isEmpty || vmx.breakExitReasons.contains(UInt16(reason & 0xFFFF))) {
            pendingStop = .vmx(.exit(reason: reason, qualification: info.qualification))
        }
    }

    /// A VM entry that fails after the control/host checks (§26.8): exit-reason bit 31 set, only
    /// the exit reason and qualification are recorded, guest state is not saved, host state is
    /// loaded as on an exit (the MSR-load list of the exit included).
    func failedEntryExit(reason: UInt32, qualification: UInt64, guestRip: UInt64) {
        let full = reason | 0x8000_0000
        vmwrite(.exitReason, UInt64(full))
        vmwrite(.exitQualification, qualification)
        loadHostState()
        if let bad = loadMSRList(address: vmread(.exitMSRLoadAddress), count: vmread(.exitMSRLoadCount)) {
            vmxAbort(4, detail: "VM-exit MSR-load entry \(bad)"); return
        }
        vmx.nonRoot = false
        onVMTransition?(self)
        vmx.lastExitReason = full
        if vmx.breakOnEntryFailure || vmx.breakOnExit {
            pendingStop = .vmx(.exit(reason: full, qualification: qualification))
        }
    }

    /// §27.3 "Saving Guest State".
    func saveGuestState(guestRip: UInt64) {
        vmwrite(.guestCR0, cr0); vmwrite(.guestCR3, cr3); vmwrite(.guestCR4, cr4)
        if vmx.exitCtl & ExitCtl.saveDebugControls != 0 { vmwrite(.guestDR7, dr7); vmwrite(.guestDebugCtl, msrs.debugCtl) }
        for s in 0..<8 {
            let f = VMCSFieldID.guestSegment[s]
            let r = segs[s]
            vmwrite(f.selector, UInt64(r.selector)); vmwrite(f.base, r.base)
            vmwrite(f.limit, UInt64(r.limit)); vmwrite(f.ar, UInt64(r.attr & 0x1F0FF))
        }
        vmwrite(.guestGDTRBase, gdtrBase); vmwrite(.guestGDTRLimit, UInt64(gdtrLimit))
        vmwrite(.guestIDTRBase, idtrBase); vmwrite(.guestIDTRLimit, UInt64(idtrLimit))
        vmwrite(.guestRSP, regs[Reg.rsp])
        vmwrite(.guestRIP, guestRip)
        vmwrite(.guestRFLAGS, flags())
        vmwrite(.guestSysenterCS, msrs.sysenterCS)
        vmwrite(.guestSysenterESP, msrs.sysenterESP); vmwrite(.guestSysenterEIP, msrs.sysenterEIP)
        if vmx.exitCtl & ExitCtl.savePAT != 0 { vmwrite(.guestPAT, msrs.pat) }
        if vmx.exitCtl & ExitCtl.saveEFER != 0 { vmwrite(.guestEFER, efer) }
        // Non-register state (§27.3.4): activity state, interruptibility, pending debug exceptions.
        vmwrite(.guestActivityState, halted ? 1 : 0)
        var intr: UInt64 = 0
        if vmx.stiShadowRip == guestRip { intr |= 1 }
        if vmx.ssShadowRip == guestRip { intr |= 2 }
        vmwrite(.guestInterruptibilityState, intr)
        // Data breakpoints held pending by MOV SS / POP SS (Vol. 3A §6.8.3) stay pending in the
        // guest: B3–B0 of the pending debug exceptions (§24.4.2 "Guest Non-Register State").
        vmwrite(.guestPendingDebugExceptions, pendingDebugHits & 0xF)
        if pendingDebugHits != 0 { pendingDebugHits = 0 }
        // IA32_VMX_MISC bit 5: the "IA-32e mode guest" entry control ← EFER.LMA.
        var entry = vmread(.entryControls)
        entry = longMode ? entry | UInt64(EntryCtl.ia32eModeGuest) : entry & ~UInt64(EntryCtl.ia32eModeGuest)
        vmwrite(.entryControls, entry)
    }

    /// §27.5 "Loading Host State".
    func loadHostState() {
        let exitCtl = UInt32(truncatingIfNeeded: vmread(.exitControls))
        let host64 = exitCtl & ExitCtl.hostAddressSpaceSize != 0
        // §27.5.1: CR0 except ET, reserved bits, NW, CD; CR3; CR4; DR7 ← 400H; IA32_DEBUGCTL ← 0.
        loadControlRegisters(cr0: vmread(.hostCR0), cr3: vmread(.hostCR3), cr4: vmread(.hostCR4))
        dr7 = 0x400
        msrs.debugCtl = 0
        debugRegistersChanged()
        msrs.sysenterCS = vmread(.hostSysenterCS) & 0xFFFF_FFFF
        msrs.sysenterESP = vmread(.hostSysenterESP); msrs.sysenterEIP = vmread(.hostSysenterEIP)
        if exitCtl & ExitCtl.loadPAT != 0 { msrs.pat = vmread(.hostPAT) }
        if exitCtl & ExitCtl.loadEFER != 0 {
            efer = vmread(.hostEFER) & (EFER.sce | EFER.lme | EFER.lma | EFER.nxe)
        } else {
            efer = host64 ? efer | EFER.lma | EFER.lme : efer & ~(EFER.lma | EFER.lme)
        }
        // §27.5.2 "Loading Host Segment and Descriptor-Table Registers".
        let csSel = UInt16(truncatingIfNeeded: vmread(.hostCSSelector))
        segs[Seg.cs] = SegmentRegister(selector: csSel, base: 0, limit: 0xFFFF_FFFF,
                                       attr: 0x9B | SegAttr.g | (host64 ? SegAttr.l : SegAttr.db))
        for s in [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs] {
            let sel = UInt16(truncatingIfNeeded: vmread(VMCSFieldID.hostSelector[s]!))
            var r = SegmentRegister(selector: sel, base: 0, limit: 0xFFFF_FFFF, attr: 0x93 | SegAttr.g | SegAttr.db)
            if s == Seg.fs { r.base = vmread(.hostFSBase) }
            if s == Seg.gs { r.base = vmread(.hostGSBase) }
            if sel == 0 { r.attr |= SegAttr.unusable }
            segs[s] = r
        }
        segs[Seg.tr] = SegmentRegister(selector: UInt16(truncatingIfNeeded: vmread(.hostTRSelector)),
                                       base: vmread(.hostTRBase), limit: 0x67, attr: 0x8B)
        segs[Seg.ldtr] = SegmentRegister(selector: 0, base: 0, limit: 0, attr: SegAttr.unusable)
        gdtrBase = vmread(.hostGDTRBase); gdtrLimit = 0xFFFF
        idtrBase = vmread(.hostIDTRBase); idtrLimit = 0xFFFF
        // §27.5.3: RIP, RSP from the host fields; RFLAGS ← 2.
        regs[Reg.rsp] = vmread(.hostRSP)
        rip = vmread(.hostRIP)
        setFlags(0x2)
        cpl = 0
        halted = false
        vmx.ssShadowRip = ~0; vmx.stiShadowRip = ~0
        if !host64 { loadPDPTERegistersIfPAE() }
        modeChanged()
    }

    /// §27.7 "VMX Aborts": write the abort indicator into the VMCS and shut the processor down.
    func vmxAbort(_ indicator: UInt32, detail: String) {
        writePhys(vmx.currentVMCS &+ VMCSLayout.abortOffset, 4, UInt64(indicator))
        vmx.nonRoot = false
        pendingStop = .vmx(.abort(indicator: indicator, detail: detail))
    }
}
