/// VM entries (SDM Vol. 3C ch. 26 "VM Entries"): the basic checks of §26.1, the control and
/// host-state checks of §26.2 and the guest-state checks of §26.3.1 (rows, `VMEntryChecks`),
/// loading guest state (§26.3.2), loading MSRs (§26.4), and event injection (§26.6).

extension CPU {
    /// The entry-check context for the VMCS at `vmcs`.
    public func entryContext(vmcs: UInt64, launch: Bool) -> VMEntryContext {
        VMEntryContext(field: { [unowned self] f in
                           VMCSFields.exists(VMCSFields.field(f)) ? self.vmcsRead(f, at: vmcs) : 0
                       },
                       readPhys: { [unowned self] a, n in self.readPhys(a, n) },
                       physAddrWidth: Int(maxPhysAddrBits), vmcsPointer: vmcs,
                       vmxonPointer: vmx.vmxonPointer, isLaunch: launch, processorInIA32eMode: longMode)
    }

    /// VMLAUNCH / VMRESUME (§30.3 "VMLAUNCH/VMRESUME—Launch/Resume Virtual Machine").
    func vmEntryInstruction(_ i: UnsafePointer<Insn>, launch: Bool) throws(Fault) {
        try vmxPrelude(i, exitReason: launch ? .vmlaunch : .vmresume)
        vmx.lastEntryFailure = nil
        // §26.1 "Basic VM-Entry Checks".
        if vmx.currentVMCS == VMXState.invalidPointer { vmFailInvalid(); return try vmFailStop() }
        let start = rip &- UInt64(i.pointee.len)
        if vmx.ssShadowRip == start { vmFailValid(VMInstructionError.entryBlockedByMovSS.rawValue); return try vmFailStop() }
        let launched = vmcsLaunched(at: vmx.currentVMCS)
        if launch && launched { vmFailValid(VMInstructionError.vmlaunchNonClear.rawValue); return try vmFailStop() }
        if !launch && !launched { vmFailValid(VMInstructionError.vmresumeNonLaunched.rawValue); return try vmFailStop() }

        // §26.2 controls and host state, §26.3.1 guest state: the first failing row.
        let ctx = entryContext(vmcs: vmx.currentVMCS, launch: launch)
        if let failure = VMEntryChecks.firstFailure(ctx) {
            vmx.lastEntryFailure = failure
            switch failure.check.failure {
            case .invalidControls:
                vmFailValid(VMInstructionError.entryInvalidControls.rawValue); return try vmFailStop()
            case .invalidHostState:
                vmFailValid(VMInstructionError.entryInvalidHostState.rawValue); return try vmFailStop()
            case let .invalidGuestState(q):
                // §26.8 "VM-Entry Failures During or After Loading Guest State": a VM exit with
                // basic reason 33 and bit 31 set; only host state is loaded.
                failedEntryExit(reason: UInt32(VMXExitReason.invalidGuestState.rawValue), qualification: q, guestRip: start)
                throw Fault(kind: .redirect, vector: 0xFE, trap: true)
            }
        }
        vmx.lastEntryFailure = nil

        // §26.3.2 "Loading Guest State".
        loadGuestState()
        // §26.4 "Loading MSRs".
        if let bad = loadMSRList(address: vmread(.entryMSRLoadAddress), count: vmread(.entryMSRLoadCount)) {
            failedEntryExit(reason: UInt32(VMXExitReason.msrLoading.rawValue), qualification: UInt64(bad), guestRip: vmread(.guestRIP))
            throw Fault(kind: .redirect, vector: 0xFE, trap: true)
        }
        if launch { writePhys(vmx.currentVMCS &+ VMCSLayout.launchStateOffset, 4, 1) }
        vmx.nonRoot = true
        vmx.entries &+= 1
        cacheGuestControls()
        // VM exits clear the valid bit of the entry interruption-information field; the
        // injection happens now (§26.6 "Event Injection").
        let info = UInt32(truncatingIfNeeded: vmread(.entryInterruptionInfo))
        if info & 0x8000_0000 != 0 {
            vmwrite(.entryInterruptionInfo, UInt64(info & 0x7FFF_FFFF))
            injectEvent(info)
        }
        onVMTransition?(self)
        if vmx.breakOnEntry { pendingStop = .vmx(.entry) ; throw Fault(kind: .stop, vector: 0xFF, trap: true) }
        throw Fault(kind: .redirect, vector: 0xFE, trap: true)
    }

    /// After VMfail: continue after the instruction, or stop when the debugger asked to.
    func vmFailStop() throws(Fault) {
        if vmx.breakOnVMFail || (vmx.breakOnEntryFailure && vmx.lastEntryFailure != nil) {
            pendingStop = .vmx(.vmfail(error: vmx.failedNow ?? 0))
            throw Fault(kind: .stop, vector: 0xFF, trap: true)
        }
    }

    func cacheGuestControls() {
        vmx.pin = UInt32(truncatingIfNeeded: vmread(.pinBasedControls))
        vmx.proc = UInt32(truncatingIfNeeded: vmread(.procBasedControls))
        vmx.proc2 = vmx.proc & Proc.activateSecondaryControls != 0 ? UInt32(truncatingIfNeeded: vmread(.secondaryProcControls)) : 0
        vmx.exitCtl = UInt32(truncatingIfNeeded: vmread(.exitControls))
        vmx.entryCtl = UInt32(truncatingIfNeeded: vmread(.entryControls))
        vmx.exceptionBitmap = UInt32(truncatingIfNeeded: vmread(.exceptionBitmap))
        vmx.pfecMask = UInt32(truncatingIfNeeded: vmread(.pageFaultErrorCodeMask))
        vmx.pfecMatch = UInt32(truncatingIfNeeded: vmread(.pageFaultErrorCodeMatch))
        vmx.cr0Mask = vmread(.cr0GuestHostMask); vmx.cr4Mask = vmread(.cr4GuestHostMask)
        vmx.cr0Shadow = vmread(.cr0ReadShadow); vmx.cr4Shadow = vmread(.cr4ReadShadow)
        vmx.tscOffset = vmx.proc & Proc.useTSCOffsetting != 0 ? vmread(.tscOffset) : 0
    }

    /// §26.3.2 "Loading Guest State" (26.3.2.1 control registers, debug registers and MSRs;
    /// 26.3.2.2 segment and descriptor-table registers; 26.3.2.3 RIP, RSP and RFLAGS;
    /// 26.3.2.4 PDPTEs; 26.3.2.5 non-register state).
    func loadGuestState() {
        let entry = UInt32(truncatingIfNeeded: vmread(.entryControls))
        let ia32e = entry & EntryCtl.ia32eModeGuest != 0
        loadControlRegisters(cr0: vmread(.guestCR0), cr3: vmread(.guestCR3), cr4: vmread(.guestCR4))
        if entry & EntryCtl.loadDebugControls != 0 {
            dr7 = (vmread(.guestDR7) & ~(UInt64(1) << 12 | UInt64(3) << 14)) | 0x400
            // IA32_DEBUGCTL from its guest field (§26.3.2.1; reserved bits were checked, §26.3.1.1).
            msrs.debugCtl = vmread(.guestDebugCtl)
        }
        debugRegistersChanged()
        msrs.sysenterCS = vmread(.guestSysenterCS) & 0xFFFF_FFFF
        msrs.sysenterESP = vmread(.guestSysenterESP)
        msrs.sysenterEIP = vmread(.guestSysenterEIP)
        if entry & EntryCtl.loadPAT != 0 { msrs.pat = vmread(.guestPAT) }
        if entry & EntryCtl.loadEFER != 0 {
            efer = vmread(.guestEFER) & (EFER.sce | EFER.lme | EFER.lma | EFER.nxe)
        } else {
            // EFER.LMA ← "IA-32e mode guest"; EFER.LME too when CR0.PG = 1.
            efer = ia32e ? efer | EFER.lma : efer & ~EFER.lma
            if cr0 & CR0.pg != 0 { efer = ia32e ? efer | EFER.lme : efer & ~EFER.lme }
        }
        // Segment registers from their four fields each; an unusable register keeps only what
        // the SDM says is loaded (§26.3.2.2).
        for s in 0..<8 {
            let f = VMCSFieldID.guestSegment[s]
            var r = SegmentRegister(selector: UInt16(truncatingIfNeeded: vmread(f.selector)), base: vmread(f.base),
                                    limit: UInt32(truncatingIfNeeded: vmread(f.limit)),
                                    attr: UInt32(truncatingIfNeeded: vmread(f.ar)) & 0x1F0FF)
            if r.unusable && s != Seg.cs && s != Seg.tr {
                // Unusable: base of FS/GS (and SS/DS/ES upper bits) as loaded; other fields undefined.
                if s != Seg.fs && s != Seg.gs && s != Seg.ldtr { r.base &= 0xFFFF_FFFF }
            }
            if !ia32e && s < 6 { r.base &= 0xFFFF_FFFF }
            segs[s] = r
        }
        gdtrBase = vmread(.guestGDTRBase); gdtrLimit = UInt32(truncatingIfNeeded: vmread(.guestGDTRLimit))
        idtrBase = vmread(.guestIDTRBase); idtrLimit = UInt32(truncatingIfNeeded: vmread(.guestIDTRLimit))
        // CPL ← SS.DPL (§26.3.2.2).
        cpl = segs[Seg.ss].dpl
        regs[Reg.rsp] = vmread(.guestRSP)
        rip = vmread(.guestRIP)
        setFlags((vmread(.guestRFLAGS) & 0x3F_7FD7) | 2)
        // §26.3.2.4: without EPT the PDPTEs are loaded from the guest's CR3 (checked in §26.3.1.6).
        if !ia32e { loadPDPTERegistersIfPAE() }
        // Non-register state (§26.3.2.5): activity state HLT, interruptibility.
        let interruptibility = vmread(.guestInterruptibilityState)
        vmx.ssShadowRip = interruptibility & 2 != 0 ? rip : ~0
        vmx.stiShadowRip = interruptibility & 1 != 0 ? rip : ~0
        halted = vmread(.guestActivityState) == 1
        modeChanged()   // recomputes the mode and flushes the TLB (and with it the chain links)
    }

    /// CR0, CR3, CR4 from a VMCS area on a VM transition: CR0 bits ET, reserved 15:6, 17, 28:19,
    /// NW and CD are not modified (§26.3.2.1 on entry, §27.5.1 on exit).
    func loadControlRegisters(cr0 new0: UInt64, cr3 new3: UInt64, cr4 new4: UInt64) {
        let keep: UInt64 = CR0.et | 0xFFC0 | (1 << 17) | 0x1FF8_0000 | CR0.nw | CR0.cd
        cr0 = (cr0 & keep) | (new0 & ~keep & 0xFFFF_FFFF)
        cr3 = new3
        cr4 = new4
    }

    /// With PAE paging (CR0.PG, CR4.PAE, outside IA-32e mode) the four PDPTE registers are loaded
    /// from CR3 (SDM Vol. 3A §4.4.1; §26.3.2.4 on entry, §27.5.4 on exit).
    func loadPDPTERegistersIfPAE() {
        guard cr0 & CR0.pg != 0 && cr4 & CR4.pae != 0 else { return }
        let base = cr3 & 0xFFFF_FFE0
        pdpte = (readPhys(base, 8), readPhys(base + 8, 8), readPhys(base + 16, 8), readPhys(base + 24, 8))
    }

    /// One 16-byte entry of an MSR list (§24.7.2 Table 24-12): index 31:0, reserved 63:32.
    func msrListEntry(_ address: UInt64, _ k: UInt64) -> (entry: UInt64, index: UInt32, reserved: UInt32) {
        let e = address &+ k &* 16
        return (e, UInt32(truncatingIfNeeded: readPhys(e, 4)), UInt32(truncatingIfNeeded: readPhys(e &+ 4, 4)))
    }

    /// Load an MSR list (§26.4 "Loading MSRs", §27.6 "Loading MSRs" on exits): 16-byte entries
    /// (index 31:0, reserved 63:32, data 127:64). Returns the 1-based number of the entry that
    /// failed, or nil on success. An entry fails (both sections list the same cases) if it names
    /// IA32_FS_BASE (C0000100H) or IA32_GS_BASE (C0000101H) — those are loaded only from the
    /// guest/host FS and GS base fields (§26.3.2.1, §27.5.1) — an x2APIC MSR (index bits 31:8 =
    /// 000008H), IA32_SMM_MONITOR_CTL (9BH) or IA32_SMBASE (9EH), sets a reserved bit (63:32), or
    /// if WRMSR would #GP at CPL 0 with that value.
    func loadMSRList(address: UInt64, count: UInt64) -> UInt32? {
        guard count > 0 else { return nil }
        for k in 0..<count {
            let (e, index, reserved) = msrListEntry(address, k)
            let data = readPhys(e &+ 8, 8)
            if index == MSR.fsBase || index == MSR.gsBase { return UInt32(k + 1) }
            if index >> 8 == 0x8 || index == 0x9B || index == 0x9E || reserved != 0 { return UInt32(k + 1) }
            // IA32_MICROCODE_UPDATE and similar "special" MSRs are not modeled: WRMSR semantics decide.
            do { try writeMSR(index, data) } catch { return UInt32(k + 1) }
        }
        return nil
    }

    /// Store MSRs into the VM-exit MSR-store area (§27.4 "Saving MSRs"). Returns the failing
    /// entry number (a VMX abort) or nil.
    func storeMSRList(address: UInt64, count: UInt64) -> UInt32? {
        guard count > 0 else { return nil }
        for k in 0..<count {
            let (e, index, reserved) = msrListEntry(address, k)
            if index >> 8 == 0x8 || index == 0x9E || reserved != 0 { return UInt32(k + 1) }
            guard let v = try? readMSR(index) else { return UInt32(k + 1) }
            writePhys(e &+ 8, 8, v)
        }
        return nil
    }

    /// §26.6 "Event Injection": deliver the event described by the VM-entry
    /// interruption-information field through the guest IDT, as if it occurred right after the
    /// entry (types: 0 external interrupt, 2 NMI, 3 hardware exception, 4 software interrupt,
    /// 5 privileged software exception, 6 software exception).
    func injectEvent(_ info: UInt32) {
        let vector = UInt8(info & 0xFF)
        let type = (info >> 8) & 7
        let hasError = info & (1 << 11) != 0
        let error = UInt32(truncatingIfNeeded: vmread(.entryExceptionErrorCode))
        let len = vmread(.entryInstructionLength)
        let f: Fault
        switch type {
        case 4, 6:
            // Software interrupt/exception: pushed RIP = guest RIP + instruction length; the gate
            // DPL check applies (§26.6.1.1, §26.6.1.3). A software interrupt injected into a
            // virtual-8086 guest is not IOPL-sensitive: "no general-protection exception can
            // occur due to RFLAGS.IOPL < 3" (§26.6.1.1) — the IOPL check lives in INT n alone.
            f = Fault(kind: .software, vector: vector, errorCode: nil, trap: true)
            rip &+= len
        case 5:
            f = Fault(kind: .exception, vector: vector, errorCode: nil, trap: true)
            rip &+= len
        default:
            f = Fault(kind: .exception, vector: vector, errorCode: hasError ? error : nil, trap: false)
        }
        halted = false
        currentRip = rip
        vmx.injecting = info
        if let stop = deliver(f) { pendingStop = stop }
        vmx.injecting = 0
    }
}
