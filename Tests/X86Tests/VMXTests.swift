// VMX: the VMX instructions in root operation (VMsucceed / VMfailInvalid / VMfailValid with each
// VM-instruction error the core can produce, #UD and #GP cases), the capability MSRs, VMREAD and
// VMWRITE semantics, VM entry (guest-state loading, event injection) and every VM exit the core
// produces, with its exit qualification, instruction length and instruction information.
//
// The SDM edition is the one pinned in Sources/X86/VMX/SDM.swift (325462-077US): Vol. 3C ch. 25
// "VMX Non-Root Operation", ch. 26 "VM Entries", ch. 27 "VM Exits", §30.2 "Conventions", §30.3
// (each instruction's "Operation"), §30.4 "VM Instruction Error Numbers" (Table 30-1), Appendix A
// "VMX Capability Reporting Facility", Appendix C "VMX Basic Exit Reasons".
//
// The fixture: a `TestMachine.long64()` with VMX enabled (IA32_FEATURE_CONTROL = 5: lock + VMX
// outside SMX, CR4.VMXE = 1, a VMXON region carrying the revision of IA32_VMX_BASIC), a VMCS made
// current with the CPU's own VMCLEAR / VMPTRLD, and its fields written with `cpu.vmcsWrite`
// for a valid 64-bit guest and host. Host RIP is a lone HLT (`VX.hostRIP`), so a test runs to the
// exit and reads the exit fields; guest code lives at `VX.guestCode`. Guest and host differ in
// every register the exit must switch (CS/SS selectors, CR3, RSP, FS/GS bases, RFLAGS), so
// "the host state was loaded" is observable.
//
// Instruction encodings were produced with GNU as (--64, Intel syntax) and objdump -d.

import Testing
@testable import X86

// MARK: - Fixture

/// Addresses used by the VMX tests (all inside the identity-mapped first 4 MiB).
enum VX {
    static let vmxonRegion: UInt64 = 0x90000
    static let vmcs: UInt64 = 0x91000
    static let vmcs2: UInt64 = 0x92000
    static let ioBitmapA: UInt64 = 0x93000
    static let ioBitmapB: UInt64 = 0x94000
    static let msrBitmap: UInt64 = 0x95000
    static let msrList: UInt64 = 0x96000
    /// Where the 64-bit memory operand of VMXON/VMCLEAR/VMPTRLD/VMPTRST lives ([rax]).
    static let operand: UInt64 = 0x97000
    /// The guest's own PML4 (a copy of the host's, so CR3 differs between guest and host).
    static let guestPML4: UInt64 = 0x98000
    static let hostRIP: UInt64 = 0xA0000
    static let hostRSP: UInt64 = 0x88000
    static let guestCode: UInt64 = 0xB0000
    static let guestRSP: UInt64 = 0xC0000
    /// Guest CS/SS selectors: GDT slots 0x48 (64-bit code, DPL 0) and 0x50 (data, DPL 0); the host
    /// uses 0x08/0x10.
    static let guestCS: UInt16 = 0x48, guestSS: UInt16 = 0x50
    static let hostFSBase: UInt64 = 0x11_1000, hostGSBase: UInt64 = 0x22_2000
    /// Guest RFLAGS: bit 1, CF, ZF (the host's after an exit must be exactly 2, §27.5.3).
    static let guestRFLAGS: UInt64 = 0x43
    /// Host code: VMLAUNCH at `Layout.code`, VMRESUME at `Layout.code + 0x100`, each followed by HLT.
    static let resumeCode: UInt64 = Layout.code + 0x100

    // Control values from the TRUE capability MSRs (SDM Appendix A.3.1–A.5; our model's values
    // are derived by hand in CapabilityMSRTests): every default1 bit that the TRUE MSR still
    // requires, plus what a test asks for.
    /// Pin-based: bits 1, 2, 4 (default1, Appendix A.3.1).
    static let pinBase: UInt32 = 0x16
    /// Primary processor-based: bits 1, 4–6, 8, 13, 14, 26 (default1 minus CR3-load/store
    /// exiting, which IA32_VMX_TRUE_PROCBASED_CTLS allows to be 0; Appendix A.3.2).
    static let procBase: UInt32 = 0x0400_6172
    /// VM-exit: bits 0, 1, 3–8, 10, 11, 13, 14, 16, 17 (default1 minus "save debug controls",
    /// Appendix A.4) plus "host address-space size" (bit 9).
    static let exitBase: UInt32 = 0x0003_6DFB | 0x200
    /// VM-entry: bits 0, 1, 3–8, 12 (default1 minus "load debug controls", Appendix A.5) plus
    /// "IA-32e mode guest" (bit 9).
    static let entryBase: UInt32 = 0x0000_11FB | 0x200
}

/// Encodings of the VMX instructions used from the host (GNU as --64).
enum VOp {
    static let vmxon: [UInt8] = [0xF3, 0x0F, 0xC7, 0x30]      // vmxon QWORD PTR [rax]
    static let vmclear: [UInt8] = [0x66, 0x0F, 0xC7, 0x30]    // vmclear QWORD PTR [rax]
    static let vmptrld: [UInt8] = [0x0F, 0xC7, 0x30]          // vmptrld QWORD PTR [rax]
    static let vmptrst: [UInt8] = [0x0F, 0xC7, 0x38]          // vmptrst QWORD PTR [rax]
    static let vmreadRAX_RCX: [UInt8] = [0x0F, 0x78, 0xC8]    // vmread rax, rcx   (rcx = encoding)
    static let vmwriteRCX_RAX: [UInt8] = [0x0F, 0x79, 0xC8]   // vmwrite rcx, rax  (rcx = encoding)
    static let vmreadMem: [UInt8] = [0x0F, 0x78, 0x0B]        // vmread QWORD PTR [rbx], rcx
    static let vmwriteMem: [UInt8] = [0x0F, 0x79, 0x0B]       // vmwrite rcx, QWORD PTR [rbx]
    static let vmlaunch: [UInt8] = [0x0F, 0x01, 0xC2]
    static let vmresume: [UInt8] = [0x0F, 0x01, 0xC3]
    static let vmcall: [UInt8] = [0x0F, 0x01, 0xC1]
    static let vmxoff: [UInt8] = [0x0F, 0x01, 0xC4]
}

extension TestMachine {
    var vmcsRevision: UInt32 { UInt32(truncatingIfNeeded: (try? cpu.readMSR(VMXMSR.basic)) ?? 0) & 0x7FFF_FFFF }

    /// Enable VMX without entering it: IA32_FEATURE_CONTROL = 5 (lock, VMX outside SMX, §23.7),
    /// CR4.VMXE = 1, a VMXON region with the revision identifier (§24.11.5).
    func vmxEnable() {
        #expect((try? cpu.writeMSR(MSR.featureControl, 5)) != nil)
        cpu.cr4 |= CR4.vmxe
        cpu.modeChanged()
        w32(VX.vmxonRegion, vmcsRevision)
        // The guest's own PML4: the same PDPT as the host's.
        w64(VX.guestPML4, Layout.pdpt | 7)
        // Guest GDT slots.
        w64(Layout.gdt + UInt64(VX.guestCS), descriptor(access: 0x9B, flags: 0xA))
        w64(Layout.gdt + UInt64(VX.guestSS), descriptor(access: 0x93, flags: 0xC))
        w8(VX.hostRIP, 0xF4)
    }

    /// Run one host VMX instruction whose memory operand is [rax] = `pointer`.
    @discardableResult
    func vmxInsn(_ code: [UInt8], pointer: UInt64 = 0) -> StopCause {
        w64(VX.operand, pointer)
        self[.rax] = VX.operand
        return run(code, steps: 1)
    }

    /// Enter VMX root operation; expects VMsucceed.
    func vmxon(sourceLocation: SourceLocation = #_sourceLocation) {
        vmxEnable()
        #expect(vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget, sourceLocation: sourceLocation)
        #expect(arith == 0 && cpu.vmx.on, sourceLocation: sourceLocation)
    }

    /// VMXON, then VMCLEAR + VMPTRLD of `VX.vmcs` (revision written first).
    func vmxonWithVMCS(sourceLocation: SourceLocation = #_sourceLocation) {
        vmxon(sourceLocation: sourceLocation)
        w32(VX.vmcs, vmcsRevision)
        #expect(vmxInsn(VOp.vmclear, pointer: VX.vmcs) == .budget && arith == 0, sourceLocation: sourceLocation)
        #expect(vmxInsn(VOp.vmptrld, pointer: VX.vmcs) == .budget && arith == 0, sourceLocation: sourceLocation)
        #expect(cpu.vmx.currentVMCS == VX.vmcs, sourceLocation: sourceLocation)
    }

    func vw(_ f: VMCSFieldID, _ v: UInt64) { cpu.vmcsWrite(f, v, at: VX.vmcs) }
    func vr(_ f: VMCSFieldID) -> UInt64 { cpu.vmcsRead(f, at: VX.vmcs) }

    /// A VMCS for a valid 64-bit guest running `code` at `VX.guestCode`, with the given controls
    /// added to the TRUE-MSR minimum (SDM §26.2 controls and host state, §26.3.1 guest state).
    func setupGuest(_ code: [UInt8], pin: UInt32 = 0, proc: UInt32 = 0, proc2: UInt32 = 0,
                    exceptionBitmap: UInt32 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
        vmxonWithVMCS(sourceLocation: sourceLocation)
        load(code, at: VX.guestCode)
        let p = VX.procBase | proc | (proc2 != 0 ? Proc.activateSecondaryControls : 0)
        vw(.pinBasedControls, UInt64(VX.pinBase | pin))
        vw(.procBasedControls, UInt64(p))
        vw(.secondaryProcControls, UInt64(proc2))
        vw(.exitControls, UInt64(VX.exitBase))
        vw(.entryControls, UInt64(VX.entryBase))
        vw(.exceptionBitmap, UInt64(exceptionBitmap))
        vw(.pageFaultErrorCodeMask, 0); vw(.pageFaultErrorCodeMatch, 0)
        vw(.cr3TargetCount, 0)
        vw(.exitMSRStoreCount, 0); vw(.exitMSRLoadCount, 0); vw(.entryMSRLoadCount, 0)
        vw(.entryInterruptionInfo, 0)
        vw(.ioBitmapA, VX.ioBitmapA); vw(.ioBitmapB, VX.ioBitmapB); vw(.msrBitmaps, VX.msrBitmap)
        vw(.cr0GuestHostMask, 0); vw(.cr4GuestHostMask, 0); vw(.cr0ReadShadow, 0); vw(.cr4ReadShadow, 0)
        vw(.vmcsLinkPointer, ~0)          // §26.3.1.5: FFFFFFFF_FFFFFFFFH without VMCS shadowing

        // Host state (§26.2.2–26.2.4): this machine's 64-bit state, distinct RSP/RIP/FS/GS bases.
        vw(.hostCR0, cpu.cr0); vw(.hostCR3, Layout.pml4); vw(.hostCR4, CR4.pae | CR4.vmxe)
        vw(.hostCSSelector, UInt64(Sel.code64))
        for f: VMCSFieldID in [.hostSSSelector, .hostDSSelector, .hostESSelector, .hostFSSelector, .hostGSSelector] {
            vw(f, UInt64(Sel.data))
        }
        vw(.hostTRSelector, UInt64(Sel.tss))
        vw(.hostFSBase, VX.hostFSBase); vw(.hostGSBase, VX.hostGSBase); vw(.hostTRBase, Layout.tss)
        vw(.hostGDTRBase, Layout.gdt); vw(.hostIDTRBase, Layout.idt)
        vw(.hostSysenterCS, 0); vw(.hostSysenterESP, 0); vw(.hostSysenterEIP, 0)
        vw(.hostRSP, VX.hostRSP); vw(.hostRIP, VX.hostRIP)

        // Guest state (§26.3.1): 64-bit, CPL 0, paging through its own PML4.
        vw(.guestCR0, CR0.pe | CR0.mp | CR0.et | CR0.ne | CR0.wp | CR0.pg)
        vw(.guestCR3, VX.guestPML4); vw(.guestCR4, CR4.pae | CR4.vmxe)
        vw(.guestDR7, 0x400)
        let segs: [(Int, UInt16, UInt64, UInt32, UInt32)] = [   // index, selector, base, limit, access rights
            (Seg.es, VX.guestSS, 0, 0xFFFF_FFFF, 0xC093), (Seg.cs, VX.guestCS, 0, 0xFFFF_FFFF, 0xA09B),
            (Seg.ss, VX.guestSS, 0, 0xFFFF_FFFF, 0xC093), (Seg.ds, VX.guestSS, 0, 0xFFFF_FFFF, 0xC093),
            (Seg.fs, VX.guestSS, 0, 0xFFFF_FFFF, 0xC093), (Seg.gs, VX.guestSS, 0, 0xFFFF_FFFF, 0xC093),
            (Seg.ldtr, 0, 0, 0, SegAttr.unusable), (Seg.tr, Sel.tss, Layout.tss, 0x67, 0x8B),
        ]
        for (s, sel, base, limit, ar) in segs {
            let f = VMCSFieldID.guestSegment[s]
            vw(f.selector, UInt64(sel)); vw(f.base, base); vw(f.limit, UInt64(limit)); vw(f.ar, UInt64(ar))
        }
        vw(.guestGDTRBase, Layout.gdt); vw(.guestGDTRLimit, 0x7F)
        vw(.guestIDTRBase, Layout.idt); vw(.guestIDTRLimit, 256 * 16 - 1)
        vw(.guestRSP, VX.guestRSP); vw(.guestRIP, VX.guestCode); vw(.guestRFLAGS, VX.guestRFLAGS)
        vw(.guestSysenterCS, 0); vw(.guestSysenterESP, 0); vw(.guestSysenterEIP, 0)
        vw(.guestActivityState, 0); vw(.guestInterruptibilityState, 0); vw(.guestPendingDebugExceptions, 0)
    }

    /// Guest at CPL 3: CS = 2BH (64-bit code, DPL 3), SS/DS/ES/FS/GS = 23H (data, DPL 3).
    func setUserGuest() {
        let cs = VMCSFieldID.guestSegment[Seg.cs]
        vw(cs.selector, UInt64(Sel.userCode64 | 3)); vw(cs.ar, 0xA0FB)
        for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] {
            let f = VMCSFieldID.guestSegment[s]
            vw(f.selector, UInt64(Sel.userData | 3)); vw(f.ar, 0xC0F3)
        }
    }

    /// Run VMLAUNCH (or VMRESUME) from the host, then until something stops the run.
    func launch(resume: Bool = false, budget: UInt64 = 10_000) -> StopCause {
        let at = resume ? VX.resumeCode : Layout.code
        load((resume ? VOp.vmresume : VOp.vmlaunch) + [0xF4], at: at)
        cpu.rip = at
        return cpu.run(budget: budget)
    }

    /// Expect that the run stopped at the host's HLT after a VM exit with `reason`, and that the
    /// exit recorded what the SDM says; check that host state was loaded (§27.5).
    func expectExit(_ stop: StopCause, reason: UInt32, qualification: UInt64? = 0, length: UInt64? = nil,
                    guestRIP: UInt64, guestRSP: UInt64 = VX.guestRSP,
                    sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(stop == .halted(rip: VX.hostRIP, interruptsEnabled: false), "stopped with \(stop)", sourceLocation: loc)
        #expect(vr(.exitReason) == UInt64(reason), "exit reason \(vr(.exitReason))", sourceLocation: loc)
        if let q = qualification {
            #expect(vr(.exitQualification) == q, "qualification 0x\(hex(vr(.exitQualification))), expected 0x\(hex(q))", sourceLocation: loc)
        }
        if let l = length { #expect(vr(.exitInstructionLength) == l, "instruction length", sourceLocation: loc) }
        #expect(vr(.guestRIP) == guestRIP, "guest RIP 0x\(hex(vr(.guestRIP))), expected 0x\(hex(guestRIP))", sourceLocation: loc)
        #expect(vr(.guestRSP) == guestRSP, "guest RSP 0x\(hex(vr(.guestRSP)))", sourceLocation: loc)
        expectHostState(sourceLocation: loc)
    }

    /// §27.5 "Loading Host State": CR3, RSP, RIP from the host fields; CS/SS/DS… selectors; FS/GS
    /// bases; RFLAGS = 2 (§27.5.3); CPL 0; back in root operation; 64-bit mode (host address-space size).
    func expectHostState(sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(!cpu.vmx.nonRoot, "still in non-root operation", sourceLocation: loc)
        #expect(cpu.cr3 == Layout.pml4, "host CR3", sourceLocation: loc)
        #expect(cpu.regs[Reg.rsp] == VX.hostRSP, "host RSP", sourceLocation: loc)
        #expect(cpu.rflags == 0x2, "host RFLAGS 0x\(hex(cpu.rflags))", sourceLocation: loc)
        #expect(cpu.segs[Seg.cs].selector == Sel.code64 && cpu.segs[Seg.ss].selector == Sel.data
                && cpu.segs[Seg.ds].selector == Sel.data, "host selectors", sourceLocation: loc)
        #expect(cpu.segs[Seg.fs].base == VX.hostFSBase && cpu.segs[Seg.gs].base == VX.hostGSBase, "host FS/GS bases", sourceLocation: loc)
        #expect(cpu.segs[Seg.tr].selector == Sel.tss && cpu.segs[Seg.tr].base == Layout.tss, "host TR", sourceLocation: loc)
        #expect(cpu.cpl == 0 && cpu.efer & EFER.lma != 0 && cpu.codeMode == 2, "host CPL 0, 64-bit", sourceLocation: loc)
        #expect(cpu.gdtrBase == Layout.gdt && cpu.idtrBase == Layout.idt, "host GDTR/IDTR bases", sourceLocation: loc)
    }

    /// VMfailValid(n): CF = PF = AF = SF = OF = 0, ZF = 1, and the VM-instruction error field = n (§30.2).
    func expectFailValid(_ n: UInt32, sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(arith == RFLAGS.zf, "flags \(flagString), expected ZF only", sourceLocation: loc)
        #expect(vr(.vmInstructionError) == UInt64(n), "VM-instruction error \(vr(.vmInstructionError)), expected \(n)", sourceLocation: loc)
    }

    /// VMfailInvalid: CF = 1, PF = AF = ZF = SF = OF = 0 (§30.2).
    func expectFailInvalid(sourceLocation loc: SourceLocation = #_sourceLocation) {
        #expect(arith == RFLAGS.cf, "flags \(flagString), expected CF only", sourceLocation: loc)
    }
}

// MARK: - Root operation: VMsucceed, VMfailInvalid, VMfailValid (§30.2, §30.4 Table 30-1)

@Suite("VMX instructions: VM-instruction errors")
struct VMXInstructionErrorTests {
    /// Every flag set before, so VMsucceed/VMfail visibly clear the others.
    static let allArith = RFLAGS.arith

    /// VMsucceed: CF, PF, AF, ZF, SF, OF all cleared (§30.2).
    @Test func vmsucceedClearsFlags() {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.setArith(Self.allArith)
        #expect(m.vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget)
        #expect(m.arith == 0 && m.cpu.vmx.on)
        w32VMCS(m)
        m.setArith(Self.allArith)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs) == .budget)
        #expect(m.arith == 0)
        // VMPTRST stores the current-VMCS pointer (§30.3 "VMPTRST").
        m.setArith(Self.allArith)
        #expect(m.vmxInsn(VOp.vmptrst) == .budget)
        #expect(m.arith == 0 && m.r64(VX.operand) == VX.vmcs)
    }

    func w32VMCS(_ m: TestMachine) { m.w32(VX.vmcs, m.vmcsRevision) }

    /// Error 1: VMCALL in VMX root operation (IA32_SMM_MONITOR_CTL[0] = 0 → VMfail, §30.3 "VMCALL").
    @Test func error1VMCALLInRoot() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.setArith(Self.allArith)
        #expect(m.run(VOp.vmcall, steps: 1) == .budget)
        m.expectFailValid(1)
        #expect(m.rip == Layout.code + 3)
    }

    /// Error 2: VMCLEAR with an address not 4-KByte aligned, or with a bit set at or beyond the
    /// physical-address width (46 bits: CPUID.80000008H:EAX[7:0]) (§30.3 "VMCLEAR").
    @Test func error2VMCLEARInvalidAddress() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.setArith(Self.allArith)
        #expect(m.vmxInsn(VOp.vmclear, pointer: VX.vmcs2 + 8) == .budget)
        m.expectFailValid(2)
        m.vw(.vmInstructionError, 0)
        #expect(m.vmxInsn(VOp.vmclear, pointer: 1 << 46) == .budget)
        m.expectFailValid(2)
        #expect(m.cpu.vmx.currentVMCS == VX.vmcs)
    }

    /// Error 3: VMCLEAR with the VMXON pointer.
    @Test func error3VMCLEARVMXONPointer() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        #expect(m.vmxInsn(VOp.vmclear, pointer: VX.vmxonRegion) == .budget)
        m.expectFailValid(3)
    }

    /// Error 4: VMLAUNCH with a launched VMCS (§30.3 "VMLAUNCH/VMRESUME"). The first VMLAUNCH
    /// enters the guest (a HLT with HLT exiting) and the exit leaves the VMCS "launched".
    @Test func error4VMLAUNCHLaunched() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.expectExit(m.launch(), reason: 12, length: 1, guestRIP: VX.guestCode)
        #expect(m.cpu.vmcsLaunched(at: VX.vmcs))
        // The failing VMLAUNCH falls through to the HLT after it.
        #expect(m.launch() == .halted(rip: Layout.code + 3, interruptsEnabled: false))
        m.expectFailValid(4)
        #expect(!m.cpu.vmx.nonRoot)
    }

    /// Error 5: VMRESUME with a VMCS whose launch state is clear (after VMCLEAR).
    @Test func error5VMRESUMEClear() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        #expect(m.launch(resume: true) == .halted(rip: VX.resumeCode + 3, interruptsEnabled: false))
        m.expectFailValid(5)
    }

    /// Error 7: VM entry with invalid control fields (§26.2.1.1: a pin-based control bit that
    /// IA32_VMX_TRUE_PINBASED_CTLS requires to be 1 — bits 1, 2, 4 — is 0).
    @Test func error7InvalidControls() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.vw(.pinBasedControls, 0)
        withKnownIssue("VMEntryChecks.rows is empty: the §26.2.1 control checks are not written yet") {
            #expect(m.launch() == .halted(rip: Layout.code + 3, interruptsEnabled: false))
            m.expectFailValid(7)
        } when: { VMEntryChecks.rows.isEmpty }
    }

    /// Error 8: VM entry with invalid host-state fields (§26.2.3: "The selector field for CS cannot
    /// be 0000H").
    @Test func error8InvalidHostState() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.vw(.hostCSSelector, 0)
        withKnownIssue("VMEntryChecks.rows is empty: the §26.2.3 host-state checks are not written yet") {
            #expect(m.launch() == .halted(rip: Layout.code + 3, interruptsEnabled: false))
            m.expectFailValid(8)
        } when: { VMEntryChecks.rows.isEmpty }
    }

    /// Error 9: VMPTRLD with an invalid physical address (unaligned; beyond the 46-bit width).
    @Test func error9VMPTRLDInvalidAddress() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs2 | 0x10) == .budget)
        m.expectFailValid(9)
        m.vw(.vmInstructionError, 0)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: 1 << 46) == .budget)
        m.expectFailValid(9)
        #expect(m.cpu.vmx.currentVMCS == VX.vmcs)
    }

    /// Error 10: VMPTRLD with the VMXON pointer.
    @Test func error10VMPTRLDVMXONPointer() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmxonRegion) == .budget)
        m.expectFailValid(10)
    }

    /// Error 11: VMPTRLD with a region whose revision identifier is wrong, or whose bit 31
    /// (shadow-VMCS indicator) is 1 while VMCS shadowing is not supported (§30.3 "VMPTRLD").
    @Test func error11VMPTRLDIncorrectRevision() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.w32(VX.vmcs2, m.vmcsRevision ^ 1)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs2) == .budget)
        m.expectFailValid(11)
        m.vw(.vmInstructionError, 0)
        m.w32(VX.vmcs2, m.vmcsRevision | 0x8000_0000)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs2) == .budget)
        m.expectFailValid(11)
        #expect(m.cpu.vmx.currentVMCS == VX.vmcs)
    }

    /// Error 12: VMREAD/VMWRITE of an unsupported component (§24.11.2, §30.3): an encoding no
    /// field has; the high access (bit 0 = 1) of a 32-bit field; a field this CPU lacks (the EPT
    /// pointer, 201AH, exists only with "enable EPT"); bits 63:15 of the encoding register set.
    @Test(arguments: [UInt64(0x6FFE), 0x4001, 0x201A, 0x1_0000_681E, 0x8000_681E])
    func error12UnsupportedComponent(_ encoding: UInt64) {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m[.rcx] = encoding
        m[.rax] = 0x5555
        #expect(m.run(VOp.vmreadRAX_RCX, steps: 1) == .budget)
        m.expectFailValid(12)
        #expect(m[.rax] == 0x5555, "VMREAD must not write its destination on failure")
        m.vw(.vmInstructionError, 0)
        m[.rcx] = encoding
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget)
        m.expectFailValid(12)
    }

    /// Error 13: VMWRITE to a read-only VM-exit information field (IA32_VMX_MISC bit 29 = 0).
    @Test func error13VMWRITEReadOnly() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.vw(.exitReason, 0x1234)
        m[.rcx] = 0x4402    // VM-exit reason
        m[.rax] = 7
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget)
        m.expectFailValid(13)
        #expect(m.vr(.exitReason) == 0x1234)
    }

    /// Error 15: VMXON in VMX root operation (VMfailValid with a current VMCS; VMfailInvalid
    /// without one, §30.2 "VMfail").
    @Test func error15VMXONInRoot() {
        let m = TestMachine.long64()
        m.vmxon()
        #expect(m.vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget)
        m.expectFailInvalid()
        m.w32(VX.vmcs, m.vmcsRevision)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs) == .budget)
        #expect(m.vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget)
        m.expectFailValid(15)
        #expect(m.cpu.vmx.on && m.cpu.vmx.vmxonPointer == VX.vmxonRegion)
    }

    /// Error 26: VM entry with events blocked by MOV SS (§26.1 checks it before the launch state).
    /// mov ss, ax (8E D0); vmlaunch (0F 01 C2).
    @Test func error26BlockedByMovSS() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m[.rax] = UInt64(Sel.data)
        #expect(m.run([0x8E, 0xD0] + VOp.vmlaunch, steps: 2) == .budget)
        m.expectFailValid(26)
        #expect(!m.cpu.vmx.nonRoot && m.rip == Layout.code + 5)
        #expect(!m.cpu.vmcsLaunched(at: VX.vmcs))
    }

    // MARK: VMfailInvalid

    /// No current VMCS: VMREAD, VMWRITE, VMLAUNCH, VMRESUME fail with VMfailInvalid (CF = 1).
    @Test func noCurrentVMCS() {
        let m = TestMachine.long64()
        m.vmxon()
        #expect(m.cpu.vmx.currentVMCS == VMXState.invalidPointer)
        for code in [VOp.vmreadRAX_RCX, VOp.vmwriteRCX_RAX, VOp.vmlaunch, VOp.vmresume] {
            m.setArith(RFLAGS.zf | RFLAGS.of)
            m[.rcx] = 0x681E
            #expect(m.run(code, steps: 1) == .budget)
            m.expectFailInvalid()
        }
        // VMCALL: VMfail → VMfailInvalid without a current VMCS.
        #expect(m.run(VOp.vmcall, steps: 1) == .budget)
        m.expectFailInvalid()
        // VMPTRST without a current VMCS stores FFFFFFFF_FFFFFFFFH and succeeds.
        #expect(m.vmxInsn(VOp.vmptrst) == .budget)
        #expect(m.arith == 0 && m.r64(VX.operand) == ~0)
    }

    /// VMCLEAR of the current VMCS leaves no current VMCS (§30.3 "VMCLEAR": "IF operand
    /// addr = current-VMCS pointer THEN current-VMCS pointer ← FFFFFFFF_FFFFFFFFH").
    @Test func vmclearCurrentInvalidatesPointer() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        #expect(m.vmxInsn(VOp.vmclear, pointer: VX.vmcs) == .budget && m.arith == 0)
        #expect(m.vmxInsn(VOp.vmptrst) == .budget && m.r64(VX.operand) == ~0)
        // A VMCLEAR failure now is VMfailInvalid (no current VMCS).
        #expect(m.vmxInsn(VOp.vmclear, pointer: 0x123) == .budget)
        m.expectFailInvalid()
    }

    /// VMXON with a bad address (unaligned; beyond the width) or a bad revision (wrong value;
    /// bit 31 set): VMfailInvalid and still outside VMX operation (§30.3 "VMXON").
    @Test func vmxonFailInvalid() {
        let m = TestMachine.long64()
        m.vmxEnable()
        for p in [VX.vmxonRegion + 0x800, UInt64(1) << 46] {
            #expect(m.vmxInsn(VOp.vmxon, pointer: p) == .budget)
            m.expectFailInvalid()
            #expect(!m.cpu.vmx.on)
        }
        for rev in [m.vmcsRevision + 1, m.vmcsRevision | 0x8000_0000] {
            m.w32(VX.vmxonRegion, rev)
            #expect(m.vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget)
            m.expectFailInvalid()
            #expect(!m.cpu.vmx.on)
        }
    }

    /// VMXOFF leaves VMX operation; VMX instructions are then #UD.
    @Test func vmxoff() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.setArith(Self.allArith)
        #expect(m.run(VOp.vmxoff, steps: 1) == .budget)
        #expect(m.arith == 0 && !m.cpu.vmx.on)
        m.expectFault(VOp.vmptrst, vector: 6)
    }
}

// MARK: - #UD and #GP

@Suite("VMX instructions: #UD and #GP")
struct VMXFaultTests {
    /// VMXON with CR4.VMXE = 0: #UD (§30.3 "VMXON": the first check).
    @Test func vmxonWithoutVMXE() {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.cpu.cr4 &= ~CR4.vmxe
        m.w64(VX.operand, VX.vmxonRegion); m[.rax] = VX.operand
        m.expectFault(VOp.vmxon, vector: 6)
        #expect(!m.cpu.vmx.on)
    }

    /// VMX instructions other than VMXON outside VMX operation: #UD.
    @Test(arguments: [VOp.vmptrld, VOp.vmclear, VOp.vmptrst, VOp.vmreadRAX_RCX, VOp.vmwriteRCX_RAX,
                      VOp.vmlaunch, VOp.vmresume, VOp.vmxoff, VOp.vmcall])
    func outsideVMXOperation(_ code: [UInt8]) {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.w64(VX.operand, VX.vmcs); m[.rax] = VX.operand
        m.expectFault(code, vector: 6)
    }

    /// Compatibility mode (IA32_EFER.LMA = 1, CS.L = 0): #UD for VMXON and, in VMX operation,
    /// for the others. The bytes decode the same in 32-bit code (vmxon [eax] etc.).
    @Test func compatibilityMode() {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.w64(VX.operand, VX.vmxonRegion); m[.rax] = VX.operand
        m.enterCompat32()
        m.expectFault(VOp.vmxon, vector: 6)
        #expect(!m.cpu.vmx.on)
        // In VMX operation (entered from 64-bit mode), VMPTRST and VMCALL are #UD in compat mode.
        let m2 = TestMachine.long64()
        m2.vmxonWithVMCS()
        m2[.rax] = VX.operand
        m2.enterCompat32()
        m2.expectFault(VOp.vmptrst, vector: 6)
        m2.enterCompat32()      // the #UD handler ran in 64-bit mode
        m2.expectFault(VOp.vmcall, vector: 6)
    }

    /// VMXON at CPL 3 (CR4.VMXE = 1, outside VMX operation): #GP(0).
    @Test func vmxonAtCPL3() {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.w64(VX.operand, VX.vmxonRegion)
        m.enterUser64()
        m[.rax] = VX.operand
        let stop = m.run(VOp.vmxon, at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.frame64(errorCode: true).error == 0)
        #expect(m.frame64(errorCode: true).rip == Layout.userCode)
        #expect(!m.cpu.vmx.on)
    }

    /// VMX instructions at CPL > 0 in root operation: #GP(0) (VMPTRLD; VMXON in root).
    @Test func rootInstructionsAtCPL3() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.enterUser64()
        m[.rax] = VX.operand
        var stop = m.run(VOp.vmptrld, at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13 && m.frame64(errorCode: true).error == 0)
        m.enterUser64()
        stop = m.run(VOp.vmxon, at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13 && m.frame64(errorCode: true).error == 0)
    }

    /// IA32_FEATURE_CONTROL not locked (bit 0 = 0) or VMX outside SMX disabled (bit 2 = 0): #GP(0).
    @Test(arguments: [UInt64(4), 1])
    func vmxonFeatureControl(_ value: UInt64) {
        let m = TestMachine.long64()
        m.cpu.cr4 |= CR4.vmxe
        m.w32(VX.vmxonRegion, m.vmcsRevision)
        m.cpu.msrs.featureControl = value
        m.w64(VX.operand, VX.vmxonRegion); m[.rax] = VX.operand
        m.expectFault(VOp.vmxon, vector: 13, error: 0)
        #expect(!m.cpu.vmx.on)
    }

    /// CR0.NE = 0 is not allowed in VMX operation (IA32_VMX_CR0_FIXED0 bit 5): VMXON #GP(0).
    @Test func vmxonWithCR0NEClear() {
        let m = TestMachine.long64()
        m.vmxEnable()
        m.cpu.cr0 &= ~CR0.ne
        m.w64(VX.operand, VX.vmxonRegion); m[.rax] = VX.operand
        m.expectFault(VOp.vmxon, vector: 13, error: 0)
        #expect(!m.cpu.vmx.on)
    }

    /// Clearing CR4.VMXE in VMX operation: #GP(0) (IA32_VMX_CR4_FIXED0 bit 13, §23.8).
    /// mov cr4, rax (0F 22 E0).
    @Test func clearVMXEInVMXOperation() {
        let m = TestMachine.long64()
        m.vmxon()
        m[.rax] = m.cpu.cr4 & ~CR4.vmxe
        m.expectFault([0x0F, 0x22, 0xE0], vector: 13, error: 0)
        #expect(m.cpu.cr4 & CR4.vmxe != 0)
        // Clearing CR0.PE/PG/NE is #GP too: mov cr0, rax (0F 22 C0) with NE clear.
        m[.rax] = m.cpu.cr0 & ~CR0.ne
        m.expectFault([0x0F, 0x22, 0xC0], vector: 13, error: 0)
    }

    /// WRMSR to IA32_FEATURE_CONTROL once locked: #GP(0) (§23.7). wrmsr (0F 30).
    @Test func featureControlLocked() {
        let m = TestMachine.long64()
        m[.rcx] = UInt64(MSR.featureControl); m[.rax] = 5; m[.rdx] = 0
        #expect(m.run([0x0F, 0x30], steps: 1) == .budget)
        #expect(m.cpu.msrs.featureControl == 5)
        m[.rcx] = UInt64(MSR.featureControl); m[.rax] = 4; m[.rdx] = 0
        m.expectFault([0x0F, 0x30], vector: 13, error: 0)
        #expect(m.cpu.msrs.featureControl == 5)
    }
}

// MARK: - Capability MSRs (SDM Appendix A)

@Suite("VMX capability MSRs")
struct CapabilityMSRTests {
    func rdmsr(_ m: TestMachine, _ index: UInt32) -> UInt64? {
        m[.rcx] = UInt64(index); m[.rax] = ~0; m[.rdx] = ~0
        guard m.run([0x0F, 0x32], steps: 1) == .budget else { return nil }   // rdmsr
        return m[.rdx] << 32 | m[.rax]
    }

    /// Values worked out from Appendix A and the controls the core implements:
    ///  - BASIC (A.1): revision in 30:0 (bit 31 = 0); region size 4096 in 44:32; bit 48 = 0 (no
    ///    32-bit address limit); bit 49 = 0 (no dual-monitor treatment); memory type WB (6) in
    ///    53:50; bit 54 = 1 (INS/OUTS instruction information reported); bit 55 = 1 (TRUE MSRs).
    ///  - Control MSRs (A.3–A.5): allowed-0 settings in 31:0 (1 = must be 1, the default1 bits),
    ///    allowed-1 settings in 63:32 (default1 bits plus the implemented controls).
    ///    Pin (A.3.1): default1 bits 1, 2, 4 = 16H; implemented: external-interrupt exiting (0),
    ///      NMI exiting (3) → allowed-1 1FH.
    ///    Primary (A.3.2): default1 bits 1, 4–6, 8, 13–16, 26 = 0401E172H; implemented: 3 (TSC
    ///      offsetting), 7 (HLT), 9 (INVLPG), 10 (MWAIT), 11 (RDPMC), 12 (RDTSC), 15/16 (CR3
    ///      load/store), 19/20 (CR8 load/store), 23 (MOV DR), 24 (unconditional I/O), 25 (I/O
    ///      bitmaps), 28 (MSR bitmaps), 29 (MONITOR), 30 (PAUSE), 31 (secondary controls)
    ///      → allowed-1 F799_FFFAH.
    ///    Secondary (A.3.3): no default1; implemented: 2 (descriptor-table exiting),
    ///      3 (enable RDTSCP), 6 (WBINVD exiting) → 4CH.
    ///    Exit (A.4): default1 bits 0–8, 10, 11, 13, 14, 16, 17 = 36DFFH; implemented: 9 (host
    ///      address-space size), 15 (acknowledge interrupt on exit), 18–21 (PAT/EFER save/load)
    ///      → allowed-1 3FEFFFH.
    ///    Entry (A.5): default1 bits 0–8, 12 = 11FFH; implemented: 9 (IA-32e mode guest),
    ///      14/15 (load PAT/EFER) → allowed-1 D3FFH.
    ///    TRUE_ MSRs: CR3-load/store exiting (primary), save debug controls (exit) and load debug
    ///      controls (entry) may be 0.
    ///  - MISC (A.6): bit 5 (exits store EFER.LMA into "IA-32e mode guest"), bit 6 (HLT activity
    ///    state), 4 CR3-target values in 24:16, 512 MSR-list entries (27:25 = 0), bit 29 = 0.
    ///  - CR0_FIXED0 (A.7): PE, NE, PG = 80000021H; CR0_FIXED1 FFFFFFFFH.
    ///  - CR4_FIXED0 (A.8): VMXE = 2000H; CR4_FIXED1: the CR4 bits the CPU implements (TSD, DE, PSE,
    ///    PAE, MCE, PGE, PCE, VMXE) = 21FCH.
    ///  - VMCS_ENUM (A.9): highest index among existing fields in 9:1. The highest is index 21
    ///    (guest IA32_SYSENTER_CS, 482AH); the preemption-timer value (index 23) does not exist
    ///    without the preemption timer → 2AH.
    static let expected: [(UInt32, UInt64)] = [
        (0x480, 0x00D8_1000_0000_0000 | UInt64(VMXModel.revision)),
        (0x481, 0x0000_001F_0000_0016),
        (0x482, 0xF799_FFFA_0401_E172),
        (0x483, 0x003F_EFFF_0003_6DFF),
        (0x484, 0x0000_D3FF_0000_11FF),
        (0x485, 0x0000_0000_0004_0060),
        (0x486, 0x8000_0021),
        (0x487, 0xFFFF_FFFF),
        (0x488, 0x2000),
        (0x489, 0x727FC),   // + OSFXSR, OSXMMEXCPT, FSGSBASE, PCIDE, OSXSAVE
        (0x48A, 0x2A),
        (0x48B, 0x0000_004C_0000_0000),
        (0x48D, 0x0000_001F_0000_0016),
        (0x48E, 0xF799_FFFA_0400_6172),
        (0x48F, 0x003F_EFFF_0003_6DFB),
        (0x490, 0x0000_D3FF_0000_11FB),
    ]

    @Test func values() {
        let m = TestMachine.long64()
        for (index, want) in Self.expected {
            let got = rdmsr(m, index)
            #expect(got == want, "MSR 0x\(hex(index)): 0x\(hex(got ?? 0)), expected 0x\(hex(want))")
        }
        // Consistency the SDM requires: every must-be-1 bit is also allowed to be 1, and the
        // revision is nonzero with bit 31 clear.
        for (index, v) in Self.expected where (0x481...0x484).contains(index) || (0x48B...0x490).contains(index) {
            #expect(UInt32(truncatingIfNeeded: v) & ~UInt32(v >> 32) == 0, "MSR 0x\(hex(index))")
        }
        #expect(VMXModel.revision != 0 && VMXModel.revision & 0x8000_0000 == 0)
    }

    /// IA32_VMX_EPT_VPID_CAP exists only if the secondary controls allow EPT or VPID, and
    /// IA32_VMX_VMFUNC only with "enable VM functions" (A.10, A.11): neither here → #GP(0).
    @Test(arguments: [UInt32(0x48C), 0x491])
    func absentMSRs(_ index: UInt32) {
        let m = TestMachine.long64()
        m[.rcx] = UInt64(index)
        m.expectFault([0x0F, 0x32], vector: 13, error: 0)
    }

    /// CPUID.1:ECX.VMX (bit 5) = 1.
    @Test func cpuidVMXBit() {
        let m = TestMachine.long64()
        m[.rax] = 1; m[.rcx] = 0
        #expect(m.run([0x0F, 0xA2], steps: 1) == .budget)
        #expect(m[.rcx] & (1 << 5) != 0)
    }
}

// MARK: - VMREAD / VMWRITE (§24.11.2, §30.3)

@Suite("VMREAD / VMWRITE")
struct VMReadWriteTests {
    func vmwrite(_ m: TestMachine, _ enc: UInt64, _ v: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        m[.rcx] = enc; m[.rax] = v
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget, sourceLocation: sourceLocation)
        #expect(m.arith == 0, "VMWRITE 0x\(hex(enc)) flags \(m.flagString)", sourceLocation: sourceLocation)
    }
    func vmread(_ m: TestMachine, _ enc: UInt64, sourceLocation: SourceLocation = #_sourceLocation) -> UInt64 {
        m[.rcx] = enc; m[.rax] = 0xDEAD_BEEF_DEAD_BEEF
        #expect(m.run(VOp.vmreadRAX_RCX, steps: 1) == .budget, sourceLocation: sourceLocation)
        #expect(m.arith == 0, "VMREAD 0x\(hex(enc)) flags \(m.flagString)", sourceLocation: sourceLocation)
        return m[.rax]
    }

    /// A 16-bit field keeps the low 16 bits of the source; VMREAD zero-extends it ("If the VMCS
    /// field is shorter than the effective operand size, the high bits … are cleared"). Same for
    /// a 32-bit field. Natural-width fields hold all 64 bits in 64-bit mode.
    @Test func widths() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        vmwrite(m, 0x0800, 0xFFFF_FFFF_FFFF_ABCD)          // guest ES selector (16-bit)
        #expect(vmread(m, 0x0800) == 0xABCD)
        #expect(m.vr(.guestESSelector) == 0xABCD)
        vmwrite(m, 0x4004, 0x1_2345_6789)                  // exception bitmap (32-bit)
        #expect(vmread(m, 0x4004) == 0x2345_6789)
        vmwrite(m, 0x681E, 0xFFFF_8000_1234_5678)          // guest RIP (natural width)
        #expect(vmread(m, 0x681E) == 0xFFFF_8000_1234_5678)
        // Read-only fields are readable.
        m.vw(.exitReason, 0x1C)
        #expect(vmread(m, 0x4402) == 0x1C)
    }

    /// A 64-bit field: the "full" encoding reaches all 64 bits; the "high" encoding (bit 0 = 1)
    /// reads bits 63:32 into the low half of the destination, and VMWRITE high writes bits 63:32
    /// from bits 31:0 of the source, leaving bits 31:0 alone (§24.11.2).
    @Test func highAccess() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        vmwrite(m, 0x2010, 0x1111_2222_3333_4444)          // TSC offset (full)
        #expect(vmread(m, 0x2010) == 0x1111_2222_3333_4444)
        #expect(vmread(m, 0x2011) == 0x1111_2222)
        vmwrite(m, 0x2011, 0xAAAA_BBBB_CCCC_DDDD)
        #expect(m.vr(.tscOffset) == 0xCCCC_DDDD_3333_4444)
        #expect(vmread(m, 0x2010) == 0xCCCC_DDDD_3333_4444)
    }

    /// Memory operands: vmread QWORD PTR [rbx], rcx (0F 78 0B) stores 64 bits; vmwrite rcx,
    /// QWORD PTR [rbx] (0F 79 0B) loads them.
    @Test func memoryForms() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        m.w64(Layout.data, 0x0123_4567_89AB_CDEF)
        m[.rbx] = Layout.data; m[.rcx] = 0x6C16               // host RIP
        #expect(m.run(VOp.vmwriteMem, steps: 1) == .budget && m.arith == 0)
        #expect(m.vr(.hostRIP) == 0x0123_4567_89AB_CDEF)
        m.vw(.guestCSSelector, 0x1234)
        m.w64(Layout.data + 8, ~0)
        m[.rbx] = Layout.data + 8; m[.rcx] = 0x0802           // guest CS selector (16-bit)
        #expect(m.run(VOp.vmreadMem, steps: 1) == .budget && m.arith == 0)
        #expect(m.r64(Layout.data + 8) == 0x1234, "64-bit store of the zero-extended field")
    }

    /// Outside 64-bit mode the operands are 32 bits (§30.3 "VMREAD": "the effective size of the
    /// operands is 32 bits outside IA-32e mode"): VMREAD of a 64-bit field gives its low 32 bits;
    /// VMWRITE of a natural-width field clears bits 63:32 ("If the VMCS field … is longer, the high
    /// bits of the field are cleared to 0"). Set up: 32-bit protected mode with 32-bit paging (one
    /// 4-MByte page, CR4.PSE) so CR0.PG = 1 as VMX operation requires.
    @Test func operands32Bit() {
        let m = TestMachine.protected32()
        let pd: UInt64 = 0x9A000
        m.w32(pd, 0x83)                                      // PDE 0: 4 MByte page at 0, P R/W PS
        m.cpu.cr3 = pd
        m.cpu.cr4 = CR4.pse | CR4.vmxe
        m.cpu.cr0 |= CR0.pg
        m.cpu.modeChanged()
        #expect((try? m.cpu.writeMSR(MSR.featureControl, 5)) != nil)
        m.w32(VX.vmxonRegion, m.vmcsRevision)
        m.w32(VX.vmcs, m.vmcsRevision)
        // vmxon [eax]; vmptrld [eax] (same bytes in 32-bit code).
        #expect(m.vmxInsn(VOp.vmxon, pointer: VX.vmxonRegion) == .budget && m.arith == 0)
        #expect(m.vmxInsn(VOp.vmptrld, pointer: VX.vmcs) == .budget && m.arith == 0)
        m.vw(.tscOffset, 0x1111_2222_3333_4444)
        m[.rcx] = 0x2010; m[.rax] = 0
        #expect(m.run(VOp.vmreadRAX_RCX, steps: 1) == .budget && m.arith == 0)   // vmread eax, ecx
        #expect(m[.rax] == 0x3333_4444)
        m.vw(.guestRIP, ~0)
        m[.rcx] = 0x681E; m[.rax] = 0x89AB_CDEF
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget && m.arith == 0)  // vmwrite ecx, eax
        #expect(m.vr(.guestRIP) == 0x89AB_CDEF)
        // Bits 31:15 of a 32-bit encoding register set → error 12.
        m[.rcx] = 0x8000_681E
        #expect(m.run(VOp.vmreadRAX_RCX, steps: 1) == .budget)
        m.expectFailValid(12)
    }
}

// MARK: - VM exits (ch. 27; reasons from Appendix C)

@Suite("VM exits")
struct VMExitTests {
    // MARK: Exit reason 0: exceptions (§25.2, §27.2.2)

    /// #UD (UD2, 0F 0B) with exception-bitmap bit 6: exit reason 0, interruption information
    /// vector 6 | type 3 (hardware exception) << 8 | valid (bit 31); no error code (bit 11 = 0).
    /// The guest RIP is the faulting instruction's.
    @Test func exceptionBitmapUD() {
        let m = TestMachine.long64()
        m.setupGuest([0x90, 0x0F, 0x0B], exceptionBitmap: 1 << 6)
        m.expectExit(m.launch(), reason: 0, guestRIP: VX.guestCode + 1)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0306)
        #expect(m.vr(.guestRFLAGS) == VX.guestRFLAGS)
    }

    /// #GP with an error code: mov ds, ax (8E D8) with AX = 88H, beyond the GDT limit (7FH) →
    /// #GP(88H); interruption info 0x80000B0D (vector 13, type 3, error code valid), the
    /// exit interruption error code 88H.
    @Test func exceptionWithErrorCode() {
        let m = TestMachine.long64()
        m.setupGuest([0x8E, 0xD8], exceptionBitmap: 1 << 13)
        m[.rax] = 0x88
        m.expectExit(m.launch(), reason: 0, guestRIP: VX.guestCode)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0D)
        #expect(m.vr(.exitInterruptionErrorCode) == 0x88)
    }

    /// INT3 (CC) with bitmap bit 3: a software exception (type 6): info 0x80000603; the guest RIP
    /// references the INT3 and the instruction length is 1 (§27.2.4: "VM exits due to software
    /// exceptions … the instruction length").
    @Test func int3SoftwareException() {
        let m = TestMachine.long64()
        m.setupGuest([0x90, 0x90, 0xCC], exceptionBitmap: 1 << 3)
        m.expectExit(m.launch(), reason: 0, length: 1, guestRIP: VX.guestCode + 2)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0603)
    }

    /// #PF: mov rax, QWORD PTR [rbx] (48 8B 03) to a not-present page. Error code 0 (not present,
    /// read, supervisor). With bitmap bit 14, MASK = MATCH = 0 → (0 & 0) = 0 → exit: info
    /// 0x80000B0E, error code 0, the exit qualification is the linear address, and CR2 is not
    /// modified (§25.2, §27.1: "CR2 is not loaded").
    @Test func pageFaultExit() {
        let m = TestMachine.long64()
        m.setupGuest([0x48, 0x8B, 0x03], exceptionBitmap: 1 << 14)
        m.setPTE(0xD0000, 0)
        m[.rbx] = 0xD0010
        m.cpu.cr2 = 0x5555_0000
        m.expectExit(m.launch(), reason: 0, qualification: 0xD0010, guestRIP: VX.guestCode)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0E)
        #expect(m.vr(.exitInterruptionErrorCode) == 0)
        #expect(m.cpu.cr2 == 0x5555_0000)
    }

    /// The #PF error-code mask/match, both ways (§25.2 "Exceptions": a page fault with
    /// (PFEC & MASK) = MATCH exits iff bit 14 is 1; otherwise it exits iff bit 14 is 0).
    /// PFEC = 0 here, MASK = 1 (P), MATCH = 1 → not equal:
    ///   bit 14 = 1 → no exit: delivered through the guest IDT (handler HLT, CR2 = address);
    ///   bit 14 = 0 → exit.
    /// And with MATCH = 0 (equal) and bit 14 = 0 → no exit.
    @Test func pageFaultMaskMatch() {
        func machine(_ bit14: Bool, match: UInt64) -> TestMachine {
            let m = TestMachine.long64()
            m.setupGuest([0x48, 0x8B, 0x03], exceptionBitmap: bit14 ? 1 << 14 : 0)
            m.vw(.pageFaultErrorCodeMask, 1); m.vw(.pageFaultErrorCodeMatch, match)
            m.setPTE(0xD0000, 0)
            m[.rbx] = 0xD0010
            return m
        }
        do {
            let m = machine(true, match: 1)
            let stop = m.launch()
            m.expectException(stop, vector: 14, error: 0, rip: VX.guestCode)
            #expect(m.cpu.vmx.nonRoot && m.cpu.cr2 == 0xD0010)
        }
        do {
            let m = machine(false, match: 1)
            m.expectExit(m.launch(), reason: 0, qualification: 0xD0010, guestRIP: VX.guestCode)
            #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0E)
        }
        do {
            let m = machine(false, match: 0)
            let stop = m.launch()
            m.expectException(stop, vector: 14, error: 0, rip: VX.guestCode)
            #expect(m.cpu.vmx.nonRoot)
        }
    }

    // MARK: Exit reason 2: triple fault

    /// Guest IDTR limit 0 and UD2: #UD cannot be delivered (gate beyond the limit → #GP), nor the
    /// #GP (→ #DF), nor the #DF → triple fault → exit reason 2 (§25.2). Exception bitmap 0.
    @Test func tripleFault() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x0B])
        m.vw(.guestIDTRLimit, 0)
        m.expectExit(m.launch(), reason: 2, guestRIP: VX.guestCode)
    }

    // MARK: Unconditional and simple conditional instruction exits

    /// One instruction, the controls that make it exit, the exit reason and the instruction length.
    struct Simple: CustomTestStringConvertible, Sendable {
        let name: String, code: [UInt8], proc: UInt32, proc2: UInt32, reason: UInt32
        var testDescription: String { name }
    }
    static let simple: [Simple] = [
        Simple(name: "CPUID (0F A2), unconditional", code: [0x0F, 0xA2], proc: 0, proc2: 0, reason: 10),
        Simple(name: "HLT (F4), HLT exiting", code: [0xF4], proc: Proc.hltExiting, proc2: 0, reason: 12),
        Simple(name: "INVD (0F 08), unconditional", code: [0x0F, 0x08], proc: 0, proc2: 0, reason: 13),
        Simple(name: "RDPMC (0F 33), RDPMC exiting", code: [0x0F, 0x33], proc: Proc.rdpmcExiting, proc2: 0, reason: 15),
        Simple(name: "RDTSC (0F 31), RDTSC exiting", code: [0x0F, 0x31], proc: Proc.rdtscExiting, proc2: 0, reason: 16),
        Simple(name: "PAUSE (F3 90), PAUSE exiting", code: [0xF3, 0x90], proc: Proc.pauseExiting, proc2: 0, reason: 40),
        Simple(name: "MONITOR (0F 01 C8), MONITOR exiting", code: [0x0F, 0x01, 0xC8], proc: Proc.monitorExiting, proc2: 0, reason: 39),
        Simple(name: "MWAIT (0F 01 C9), MWAIT exiting, monitor not armed (qualification bit 0 = 0)", code: [0x0F, 0x01, 0xC9],
               proc: Proc.mwaitExiting, proc2: 0, reason: 36),
        Simple(name: "RDTSCP (0F 01 F9), RDTSC exiting + enable RDTSCP", code: [0x0F, 0x01, 0xF9],
               proc: Proc.rdtscExiting, proc2: Proc2.enableRDTSCP, reason: 51),
        Simple(name: "WBINVD (0F 09), WBINVD exiting", code: [0x0F, 0x09], proc: 0, proc2: Proc2.wbinvdExiting, reason: 54),
        Simple(name: "VMCALL (0F 01 C1)", code: [0x0F, 0x01, 0xC1], proc: 0, proc2: 0, reason: 18),
        Simple(name: "VMLAUNCH (0F 01 C2)", code: [0x0F, 0x01, 0xC2], proc: 0, proc2: 0, reason: 20),
        Simple(name: "VMRESUME (0F 01 C3)", code: [0x0F, 0x01, 0xC3], proc: 0, proc2: 0, reason: 24),
        Simple(name: "VMXOFF (0F 01 C4)", code: [0x0F, 0x01, 0xC4], proc: 0, proc2: 0, reason: 26),
    ]

    /// Each exits with its basic reason (Appendix C), exit qualification 0 (§27.2.1: "For all
    /// other VM exits, this field is cleared"), its length, the guest RIP of the instruction
    /// (after a NOP, so RIP ≠ the entry RIP), guest RFLAGS saved as they were.
    @Test(arguments: simple)
    func simpleExit(_ c: Simple) {
        let m = TestMachine.long64()
        m.setupGuest([0x90] + c.code, proc: c.proc, proc2: c.proc2)
        m.vw(.exitQualification, 0xFFFF)
        m.expectExit(m.launch(), reason: c.reason, qualification: 0, length: UInt64(c.code.count), guestRIP: VX.guestCode + 1)
        #expect(m.vr(.guestRFLAGS) == VX.guestRFLAGS)
        #expect(m.vr(.guestCR3) == VX.guestPML4)
        #expect(m.vr(.guestCSSelector) == UInt64(VX.guestCS) && m.vr(.guestSSSelector) == UInt64(VX.guestSS))
    }

    /// MWAIT exiting after the guest armed the monitor (MONITOR without MONITOR exiting): the
    /// qualification's bit 0 says so (§27.2.1 "MWAIT: bit 0 is set if the monitoring hardware
    /// was armed"). Code: mov rax, rsp (48 89 E0); xor ecx, ecx (31 C9); xor edx, edx (31 D2);
    /// monitor (0F 01 C8); mwait (0F 01 C9) at guest offset 10.
    @Test func mwaitAfterMonitorReportsArmed() {
        let m = TestMachine.long64()
        m.setupGuest([0x48, 0x89, 0xE0, 0x31, 0xC9, 0x31, 0xD2, 0x0F, 0x01, 0xC8, 0x0F, 0x01, 0xC9], proc: Proc.mwaitExiting, proc2: 0)
        m.expectExit(m.launch(), reason: 36, qualification: 1, length: 3, guestRIP: VX.guestCode + 10)
    }

    /// Without the controls the conditional instructions execute in the guest: HLT halts it,
    /// RDTSC reads the TSC, PAUSE and WBINVD do nothing, RDTSCP without "enable RDTSCP" is #UD.
    @Test func conditionalWithoutControls() {
        let m = TestMachine.long64()
        m.setupGuest([0xF3, 0x90, 0x0F, 0x09, 0x0F, 0x31, 0xF4])
        #expect(m.launch() == .halted(rip: VX.guestCode + 6, interruptsEnabled: false))
        #expect(m.cpu.vmx.nonRoot)
        let m2 = TestMachine.long64()
        m2.setupGuest([0x0F, 0x01, 0xF9])
        m2.expectException(m2.launch(), vector: 6, rip: VX.guestCode)
    }

    /// XSAVES/XRSTORS in a guest without "enable XSAVES/XRSTORS" (which the model does not offer)
    /// are #UD (SDM Vol. 3C §25.3); XSAVEC, not a supervisor instruction, runs. Guest CR4.OSXSAVE
    /// = 1 so the #UD is the control's, not the CR4 check's. Code: mov rbx, area; mov eax, 3;
    /// xsavec [rbx] (0F C7 23); hlt — then the same with xsaves [rbx] (0F C7 2B).
    @Test func xsavesWithoutTheControlIsUD() {
        let area: UInt64 = 0x10_0000      // identity-mapped, 64-byte aligned
        let movRBX: [UInt8] = [0x48, 0xBB] + (0..<8).map { UInt8(truncatingIfNeeded: area >> (8 * $0)) }
            + [0xB8, 0x03, 0x00, 0x00, 0x00]                 // mov eax, 3: RFBM = XCR0 AND 3
        let m = TestMachine.long64()
        m.setupGuest(movRBX + [0x0F, 0xC7, 0x23, 0xF4])
        m.vw(.guestCR4, CR4.pae | CR4.vmxe | CR4.osxsave | CR4.osfxsr)
        #expect(m.launch() == .halted(rip: VX.guestCode + 18, interruptsEnabled: false))
        #expect(m.r64(area + 520) == 0x8000_0000_0000_0001, "XSAVEC wrote the compacted header (XCR0 = x87)")
        let n = TestMachine.long64()
        n.setupGuest(movRBX + [0x0F, 0xC7, 0x2B, 0xF4])
        n.vw(.guestCR4, CR4.pae | CR4.vmxe | CR4.osxsave | CR4.osfxsr)
        n.expectException(n.launch(), vector: 6, rip: VX.guestCode + 15)
    }

    /// INVLPG BYTE PTR [rax+0x10] (0F 01 78 10) with INVLPG exiting: qualification = the linear
    /// address operand (§27.2.1), length 4.
    @Test func invlpg() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x01, 0x78, 0x10], proc: Proc.invlpgExiting)
        m[.rax] = 0x1234_5000
        m.expectExit(m.launch(), reason: 14, qualification: 0x1234_5010, length: 4, guestRIP: VX.guestCode)
    }

    /// RDTSC without exiting, with "use TSC offsetting": EDX:EAX = TSC + offset (§25.3 "RDTSC").
    /// rdtsc (0F 31); cpuid (0F A2) to exit.
    @Test func tscOffsetting() {
        let m = TestMachine.long64()
        let offset: UInt64 = 0x0000_1000_0000_0000
        m.setupGuest([0x0F, 0x31, 0x0F, 0xA2], proc: Proc.useTSCOffsetting)
        m.vw(.tscOffset, offset)
        let before = m.cpu.tsc
        m.expectExit(m.launch(), reason: 10, length: 2, guestRIP: VX.guestCode + 2)
        let after = m.cpu.tsc
        let t = (m[.rdx] & 0xFFFF_FFFF) << 32 | (m[.rax] & 0xFFFF_FFFF)
        #expect(t >= before + offset && t <= after + offset, "guest TSC 0x\(hex(t))")
    }

    // MARK: Exit reasons 18–27: VMX instructions in the guest (§25.1.2)

    /// Memory forms: the qualification is the displacement (§27.2.1) and the instruction
    /// information has the formats of Tables 27-13 (VMCLEAR/VMPTRLD/VMPTRST/VMXON) and 27-14
    /// (VMREAD/VMWRITE). Only the defined bits are compared (`mask`).
    struct VMXInGuest: CustomTestStringConvertible, Sendable {
        let name: String, code: [UInt8], reason: UInt32, qualification: UInt64, info: UInt32, mask: UInt32
        var testDescription: String { name }
    }
    // Masks of defined bits. Memory operand without an index (bit 22 set): 9:7, 10, 17:15, 22,
    // 26:23, 27. With an index: also 1:0 and 21:18. VMREAD/VMWRITE add reg2 31:28; a register
    // form defines only reg1 6:3, bit 10 and reg2 31:28.
    static let memNoIndex: UInt32 = 0x0FC3_8780, memIndex: UInt32 = 0x0FFF_8783
    static let vmxInGuest: [VMXInGuest] = [
        // vmclear QWORD PTR [rax+0x8] (66 0F C7 70 08): address size 64 (2 << 7), DS (3 << 15),
        // no index (bit 22), base RAX (0).
        VMXInGuest(name: "VMCLEAR [rax+8]", code: [0x66, 0x0F, 0xC7, 0x70, 0x08], reason: 19,
                   qualification: 8, info: 0x0041_8100, mask: memNoIndex),
        // vmptrld QWORD PTR [rbx+rcx*4+0x20] (0F C7 74 8B 20): scale 2 (×4), 64-bit, DS, index RCX
        // (1 << 18), base RBX (3 << 23).
        VMXInGuest(name: "VMPTRLD [rbx+rcx*4+0x20]", code: [0x0F, 0xC7, 0x74, 0x8B, 0x20], reason: 21,
                   qualification: 0x20, info: 0x0185_8102, mask: memIndex),
        // vmptrst QWORD PTR [rsp+0x18] (0F C7 7C 24 18): SS (2 << 15), no index, base RSP (4 << 23).
        VMXInGuest(name: "VMPTRST [rsp+0x18]", code: [0x0F, 0xC7, 0x7C, 0x24, 0x18], reason: 22,
                   qualification: 0x18, info: 0x0241_0100, mask: memNoIndex),
        // vmclear QWORD PTR [rax-0x8] (66 0F C7 70 F8): the 8-bit displacement sign-extended to 64 bits.
        VMXInGuest(name: "VMCLEAR [rax-8]", code: [0x66, 0x0F, 0xC7, 0x70, 0xF8], reason: 19,
                   qualification: 0xFFFF_FFFF_FFFF_FFF8, info: 0x0041_8100, mask: memNoIndex),
        // vmptrld QWORD PTR [rip+0x100] (0F C7 35 00 01 00 00): RIP-relative — the qualification is
        // the displacement plus the RIP of the next instruction (§27.2.1): B0000H + 7 + 100H. Only
        // address size and segment are compared (the SDM does not say how RIP shows as a base).
        VMXInGuest(name: "VMPTRLD [rip+0x100]", code: [0x0F, 0xC7, 0x35, 0x00, 0x01, 0x00, 0x00], reason: 21,
                   qualification: VX.guestCode + 7 + 0x100, info: 0x0001_8100, mask: 0x0003_8780),
        // vmxon QWORD PTR [rax] (F3 0F C7 30): no displacement → qualification 0.
        VMXInGuest(name: "VMXON [rax]", code: [0xF3, 0x0F, 0xC7, 0x30], reason: 27,
                   qualification: 0, info: 0x0041_8100, mask: memNoIndex),
        // vmread rdx, rsi (0F 78 F2): register form: reg1 = RDX (2 << 3), bit 10, reg2 = RSI (6 << 28).
        VMXInGuest(name: "VMREAD rdx, rsi", code: [0x0F, 0x78, 0xF2], reason: 23,
                   qualification: 0, info: 0x6000_0410, mask: 0xF000_0478),
        // vmread QWORD PTR [rdx+0x30], rsi (0F 78 72 30): 64-bit, DS, no index, base RDX (2 << 23), reg2 RSI.
        VMXInGuest(name: "VMREAD [rdx+0x30], rsi", code: [0x0F, 0x78, 0x72, 0x30], reason: 23,
                   qualification: 0x30, info: 0x6141_8100, mask: 0xFFC3_8780),
        // vmwrite r9, r10 (45 0F 79 CA): reg1 = R10 (10 << 3), bit 10, reg2 = R9 (9 << 28).
        VMXInGuest(name: "VMWRITE r9, r10", code: [0x45, 0x0F, 0x79, 0xCA], reason: 25,
                   qualification: 0, info: 0x9000_0450, mask: 0xF000_0478),
    ]

    @Test(arguments: vmxInGuest)
    func vmxInstructionInGuest(_ c: VMXInGuest) {
        let m = TestMachine.long64()
        m.setupGuest(c.code)
        m.vw(.exitQualification, 0xFFFF)
        m.expectExit(m.launch(), reason: c.reason, qualification: c.qualification, length: UInt64(c.code.count),
                     guestRIP: VX.guestCode)
        let info = UInt32(truncatingIfNeeded: m.vr(.exitInstructionInfo))
        #expect(info & c.mask == c.info, "instruction information 0x\(hex(info)), expected 0x\(hex(c.info))")
    }

    /// In non-root operation a VMX instruction exits before the CPL check (§30.3, e.g. "VMCALL":
    /// "ELSIF in VMX non-root operation THEN VM exit; ELSIF CPL > 0 …"). Guest at CPL 3
    /// (CPL ← SS.DPL on entry, §26.3.2.2): VMCALL still exits with reason 18.
    @Test func vmcallAtGuestCPL3() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x01, 0xC1])
        m.setUserGuest()
        m.expectExit(m.launch(), reason: 18, length: 3, guestRIP: VX.guestCode)
        #expect(m.vr(.guestSSSelector) == UInt64(Sel.userData | 3))
    }

    // MARK: Exit reason 28: control-register accesses (§25.1.3, Table 27-3)

    /// MOV to CR0 changing a host-owned bit (mask TS, shadow TS = 0, source TS = 1):
    /// mov cr0, rbx (0F 22 C3) → qualification CR 0, type 0 (MOV to CR), GPR RBX (3 << 8) = 300H.
    @Test func movToCR0UnderMask() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x22, 0xC3])
        m.vw(.cr0GuestHostMask, CR0.ts); m.vw(.cr0ReadShadow, 0)
        m[.rbx] = m.vr(.guestCR0) | CR0.ts
        m.expectExit(m.launch(), reason: 28, qualification: 0x300, length: 3, guestRIP: VX.guestCode)
        #expect(m.vr(.guestCR0) & CR0.ts == 0)
    }

    /// MOV to CR0 matching the shadow in every host-owned bit does not exit; guest-owned bits
    /// change, host-owned bits keep their value (§25.3 "MOV to CR0"). Mask TS, shadow TS = 1,
    /// real TS = 0; the guest writes TS = 1 (matches the shadow) and EM = 1 (guest-owned):
    /// CR0.EM becomes 1, CR0.TS stays 0. Then CPUID exits.
    @Test func movToCR0MatchingShadow() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x22, 0xC3, 0x0F, 0xA2])
        m.vw(.cr0GuestHostMask, CR0.ts); m.vw(.cr0ReadShadow, CR0.ts)
        let cr0 = m.vr(.guestCR0)
        m[.rbx] = cr0 | CR0.ts | CR0.em
        m.expectExit(m.launch(), reason: 10, guestRIP: VX.guestCode + 3)
        #expect(m.vr(.guestCR0) == cr0 | CR0.em)
    }

    /// MOV to CR4 under the mask: mov cr4, rcx (0F 22 E1), mask PGE, shadow 0, source PGE = 1 →
    /// qualification CR 4 | GPR RCX (1 << 8) = 104H.
    @Test func movToCR4UnderMask() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x22, 0xE1])
        m.vw(.cr4GuestHostMask, 0x80); m.vw(.cr4ReadShadow, 0)
        m[.rcx] = CR4.pae | CR4.vmxe | 0x80
        m.expectExit(m.launch(), reason: 28, qualification: 0x104, length: 3, guestRIP: VX.guestCode)
    }

    /// MOV from CR4 never exits; host-owned bits read from the shadow (§25.3 "MOV from CR4").
    /// Mask VMXE | PGE, shadow PGE: the guest reads PAE (guest-owned, real) | PGE (shadow) = A0H.
    /// mov rax, cr4 (0F 20 E0); cpuid (0F A2).
    @Test func movFromCR4Shadowed() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x20, 0xE0, 0x0F, 0xA2])
        m.vw(.cr4GuestHostMask, CR4.vmxe | 0x80); m.vw(.cr4ReadShadow, 0x80)
        m.expectExit(m.launch(), reason: 10, guestRIP: VX.guestCode + 3)
        #expect(m[.rax] == 0xA0)
        #expect(m.vr(.guestCR4) == CR4.pae | CR4.vmxe)
    }

    /// CR3-load exiting: mov cr3, rcx (0F 22 D9) → qualification 3 | RCX << 8 = 103H. With the
    /// value among the first CR3-target-count targets, no exit (§25.1.3 "MOV to CR3"): the load
    /// happens, then CPUID exits and the saved guest CR3 is the new value.
    @Test func cr3LoadExiting() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x22, 0xD9, 0x0F, 0xA2], proc: Proc.cr3LoadExiting)
        m[.rcx] = Layout.pml4
        m.expectExit(m.launch(), reason: 28, qualification: 0x103, length: 3, guestRIP: VX.guestCode)
        #expect(m.vr(.guestCR3) == VX.guestPML4)

        let m2 = TestMachine.long64()
        m2.setupGuest([0x0F, 0x22, 0xD9, 0x0F, 0xA2], proc: Proc.cr3LoadExiting)
        m2.vw(.cr3TargetCount, 2)
        m2.vw(.cr3TargetValue0, 0x5000); m2.vw(.cr3TargetValue1, Layout.pml4)
        m2[.rcx] = Layout.pml4
        m2.expectExit(m2.launch(), reason: 10, guestRIP: VX.guestCode + 3)
        #expect(m2.vr(.guestCR3) == Layout.pml4)

        // A matching value beyond the target count still exits.
        let m3 = TestMachine.long64()
        m3.setupGuest([0x0F, 0x22, 0xD9], proc: Proc.cr3LoadExiting)
        m3.vw(.cr3TargetCount, 1)
        m3.vw(.cr3TargetValue0, 0x5000); m3.vw(.cr3TargetValue1, Layout.pml4)
        m3[.rcx] = Layout.pml4
        m3.expectExit(m3.launch(), reason: 28, qualification: 0x103, guestRIP: VX.guestCode)
    }

    /// CR3-store exiting: mov rbx, cr3 (0F 20 DB) → 3 | type 1 (MOV from CR) << 4 | RBX << 8 = 313H.
    @Test func cr3StoreExiting() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x20, 0xDB], proc: Proc.cr3StoreExiting)
        m.expectExit(m.launch(), reason: 28, qualification: 0x313, length: 3, guestRIP: VX.guestCode)
    }

    /// CR8-load exiting: mov cr8, rdx (44 0F 22 C2) → 8 | RDX << 8 = 208H; CR8-store exiting:
    /// mov rdx, cr8 (44 0F 20 C2) → 8 | 10H | 200H = 218H. Length 4.
    @Test func cr8Exiting() {
        let m = TestMachine.long64()
        m.setupGuest([0x44, 0x0F, 0x22, 0xC2], proc: Proc.cr8LoadExiting)
        m[.rdx] = 5
        m.expectExit(m.launch(), reason: 28, qualification: 0x208, length: 4, guestRIP: VX.guestCode)
        let m2 = TestMachine.long64()
        m2.setupGuest([0x44, 0x0F, 0x20, 0xC2], proc: Proc.cr8StoreExiting)
        m2.expectExit(m2.launch(), reason: 28, qualification: 0x218, length: 4, guestRIP: VX.guestCode)
    }

    /// CLTS (0F 06) with TS host-owned and set in the shadow exits: qualification CR 0 | type 2
    /// << 4 = 20H (GPR and data bits cleared). With TS host-owned but clear in the shadow, CLTS
    /// does not exit and leaves CR0.TS alone (§25.3 "CLTS").
    @Test func clts() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x06])
        m.vw(.cr0GuestHostMask, CR0.ts); m.vw(.cr0ReadShadow, CR0.ts)
        m.expectExit(m.launch(), reason: 28, qualification: 0x20, length: 2, guestRIP: VX.guestCode)

        let m2 = TestMachine.long64()
        m2.setupGuest([0x0F, 0x06, 0x0F, 0xA2])
        m2.vw(.cr0GuestHostMask, CR0.ts); m2.vw(.cr0ReadShadow, 0)
        m2.vw(.guestCR0, m2.vr(.guestCR0) | CR0.ts)
        m2.expectExit(m2.launch(), reason: 10, guestRIP: VX.guestCode + 2)
        #expect(m2.vr(.guestCR0) & CR0.ts != 0)
    }

    /// LMSW with a register: lmsw cx (0F 01 F1), CX = 9 (PE | TS), mask MP/EM/TS, shadow 0 →
    /// TS differs → exit. Table 27-3: CR 0, type 3 (LMSW) << 4, operand type 0 (register),
    /// bits 11:8 cleared for LMSW, source data in 31:16 → 90030H.
    @Test func lmswRegister() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x01, 0xF1])
        m.vw(.cr0GuestHostMask, 0xE); m.vw(.cr0ReadShadow, 0)
        m[.rcx] = 0x9
        m.expectExit(m.launch(), reason: 28, qualification: 0x9_0030, length: 3, guestRIP: VX.guestCode)
    }

    /// LMSW with memory: lmsw WORD PTR [rbx+0x10] (0F 01 73 10), word 000BH (PE | MP | TS):
    /// qualification 0 | 3 << 4 | 1 << 6 (memory) | 000BH << 16 = B0070H, and the guest-linear
    /// address field holds the operand's linear address (§27.2.1 "Guest-linear address").
    @Test func lmswMemory() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x01, 0x73, 0x10])
        m.vw(.cr0GuestHostMask, 0xE); m.vw(.cr0ReadShadow, 0)
        m.w16(Layout.data + 0x10, 0x000B)
        m[.rbx] = Layout.data
        m.expectExit(m.launch(), reason: 28, qualification: 0xB_0070, length: 4, guestRIP: VX.guestCode)
        #expect(m.vr(.guestLinearAddress) == Layout.data + 0x10)
    }

    // MARK: Exit reason 29: MOV DR (Table 27-4)

    /// mov rax, dr0 (0F 21 C0): DR 0 | direction 1 (from DR) << 4 | RAX = 10H;
    /// mov dr3, rbx (0F 23 DB): DR 3 | 0 | RBX << 8 = 303H.
    @Test func movDR() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x21, 0xC0], proc: Proc.movDRExiting)
        m.expectExit(m.launch(), reason: 29, qualification: 0x10, length: 3, guestRIP: VX.guestCode)
        let m2 = TestMachine.long64()
        m2.setupGuest([0x0F, 0x23, 0xDB], proc: Proc.movDRExiting)
        m2.expectExit(m2.launch(), reason: 29, qualification: 0x303, length: 3, guestRIP: VX.guestCode)
    }

    // MARK: Exit reason 30: I/O instructions (§25.1.3, Table 27-5)

    struct IOCase: CustomTestStringConvertible, Sendable {
        let name: String, code: [UInt8], dx: UInt64, qualification: UInt64
        var testDescription: String { name }
    }
    /// Table 27-5: size − 1 in 2:0, direction (1 = IN) bit 3, string bit 4, REP bit 5, operand
    /// encoding (1 = immediate) bit 6, port in 31:16.
    static let ioCases: [IOCase] = [
        IOCase(name: "in al, 0x60 (E4 60)", code: [0xE4, 0x60], dx: 0, qualification: 0x0060_0048),
        IOCase(name: "out 0x71, ax (66 E7 71)", code: [0x66, 0xE7, 0x71], dx: 0, qualification: 0x0071_0041),
        IOCase(name: "out dx, eax (EF)", code: [0xEF], dx: 0x3F8, qualification: 0x03F8_0003),
        IOCase(name: "in ax, dx (66 ED)", code: [0x66, 0xED], dx: 0x8001, qualification: 0x8001_0009),
    ]

    /// "Unconditional I/O exiting" (without I/O bitmaps): every IN/OUT exits; the port is not accessed.
    @Test(arguments: ioCases)
    func ioUnconditional(_ c: IOCase) {
        let m = TestMachine.long64()
        m.setupGuest(c.code, proc: Proc.unconditionalIOExiting)
        m[.rdx] = c.dx
        m.expectExit(m.launch(), reason: 30, qualification: c.qualification, length: UInt64(c.code.count), guestRIP: VX.guestCode)
        #expect(m.io.reads.isEmpty && m.io.writes.isEmpty)
    }

    /// "Use I/O bitmaps" (which makes "unconditional I/O exiting" irrelevant, §25.1.3): bitmap A
    /// covers ports 0000–7FFFH, B 8000–FFFFH, one bit per port; an access exits if any byte's bit
    /// is set. in ax, dx (66 ED) at 8001H with B bit 1 set exits; at 7FFFH (bytes 7FFF in A and
    /// 8000 in B) with only B bit 0 set exits; in al, 0x60 (E4 60) with A bit 60H clear does not.
    @Test func ioBitmaps() {
        func machine(_ code: [UInt8]) -> TestMachine {
            let m = TestMachine.long64()
            m.setupGuest(code, proc: Proc.useIOBitmaps | Proc.unconditionalIOExiting)
            m.mem.zero(at: VX.ioBitmapA, count: 4096); m.mem.zero(at: VX.ioBitmapB, count: 4096)
            return m
        }
        do {
            let m = machine([0x66, 0xED])
            m.w8(VX.ioBitmapB, 0x02)
            m[.rdx] = 0x8001
            m.expectExit(m.launch(), reason: 30, qualification: 0x8001_0009, length: 2, guestRIP: VX.guestCode)
        }
        do {
            let m = machine([0x66, 0xED])
            m.w8(VX.ioBitmapB, 0x01)
            m[.rdx] = 0x7FFF
            m.expectExit(m.launch(), reason: 30, qualification: 0x7FFF_0009, length: 2, guestRIP: VX.guestCode)
        }
        do {
            let m = machine([0xE4, 0x60, 0x0F, 0xA2])
            m.w8(VX.ioBitmapA + 0x60 / 8, 0xFE)   // ports 61H–67H set, 60H clear
            m.io.readValue = 0x5A
            m.expectExit(m.launch(), reason: 10, guestRIP: VX.guestCode + 2)
            #expect(m.io.reads == [PortLog.Access(port: 0x60, size: 1, value: 0x5A)])
            #expect(m[.rax] & 0xFF == 0x5A)
        }
    }

    /// rep outs dx, BYTE PTR ds:[rsi] (F3 6E): qualification size 0 | string 10H | REP 20H |
    /// port 80H << 16; guest-linear address = DS.base + RSI; instruction information (Table
    /// 27-8): address size 64 (2 << 7), segment DS (3 << 15).
    /// rep ins WORD PTR es:[rdi], dx (66 F3 6D): size 1 | IN 8 | 10H | 20H | 1F0H << 16;
    /// guest-linear = ES.base + RDI; address size 64 (the segment field is undefined for INS).
    @Test func stringIO() {
        let m = TestMachine.long64()
        m.setupGuest([0xF3, 0x6E], proc: Proc.unconditionalIOExiting)
        m[.rdx] = 0x80; m[.rsi] = Layout.data + 0x40; m[.rcx] = 3
        m.expectExit(m.launch(), reason: 30, qualification: 0x0080_0030, length: 2, guestRIP: VX.guestCode)
        #expect(m.vr(.guestLinearAddress) == Layout.data + 0x40)
        #expect(UInt32(truncatingIfNeeded: m.vr(.exitInstructionInfo)) & 0x0003_8380 == 0x0001_8100)
        #expect(m[.rcx] == 3 && m.io.writes.isEmpty)

        let m2 = TestMachine.long64()
        m2.setupGuest([0x66, 0xF3, 0x6D], proc: Proc.unconditionalIOExiting)
        m2[.rdx] = 0x1F0; m2[.rdi] = Layout.data + 0x1000; m2[.rcx] = 2
        m2.expectExit(m2.launch(), reason: 30, qualification: 0x01F0_0039, length: 3, guestRIP: VX.guestCode)
        #expect(m2.vr(.guestLinearAddress) == Layout.data + 0x1000)
        #expect(UInt32(truncatingIfNeeded: m2.vr(.exitInstructionInfo)) & 0x380 == 0x100)
    }

    // MARK: Exit reasons 31/32: RDMSR/WRMSR (§25.1.3, §24.6.9 MSR bitmaps)

    /// Without "use MSR bitmaps" every RDMSR (0F 32) / WRMSR (0F 30) exits; length 2.
    @Test func msrWithoutBitmaps() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0x32])
        m[.rcx] = 0x174
        m.expectExit(m.launch(), reason: 31, length: 2, guestRIP: VX.guestCode)
        let m2 = TestMachine.long64()
        m2.setupGuest([0x0F, 0x30])
        m2[.rcx] = 0x174; m2[.rax] = 8; m2[.rdx] = 0
        m2.expectExit(m2.launch(), reason: 32, length: 2, guestRIP: VX.guestCode)
        #expect(m2.cpu.msrs.sysenterCS == 0)
    }

    /// The 4-KByte MSR bitmap (§24.6.9; MSR 174H is byte 2EH bit 4 of a part): read-low (MSRs 0–1FFFH) at 0, read-high
    /// (C0000000H–C0001FFFH) at 1024, write-low at 2048, write-high at 3072. An MSR outside both
    /// ranges always exits.
    struct MSRCase: CustomTestStringConvertible, Sendable {
        let name: String, write: Bool, msr: UInt32, bitmapByte: UInt64, bit: UInt8, exits: Bool
        var testDescription: String { name }
    }
    static let msrCases: [MSRCase] = [
        MSRCase(name: "RDMSR 174H, read-low bit set", write: false, msr: 0x174, bitmapByte: 0x2E, bit: 4, exits: true),
        MSRCase(name: "RDMSR C0000080H, read-high bit set", write: false, msr: 0xC000_0080, bitmapByte: 1024 + 0x80 / 8, bit: 0, exits: true),
        MSRCase(name: "RDMSR 277H, its bit clear (another set)", write: false, msr: 0x277, bitmapByte: 0x2E, bit: 4, exits: false),
        MSRCase(name: "RDMSR 40000000H, outside the ranges", write: false, msr: 0x4000_0000, bitmapByte: 0, bit: 0, exits: true),
        MSRCase(name: "WRMSR 174H, write-low bit set", write: true, msr: 0x174, bitmapByte: 2048 + 0x2E, bit: 4, exits: true),
        MSRCase(name: "WRMSR 174H, only the read-low bit set", write: true, msr: 0x174, bitmapByte: 0x2E, bit: 4, exits: false),
        MSRCase(name: "WRMSR C0000100H, write-high bit set", write: true, msr: 0xC000_0100, bitmapByte: 3072 + 0x100 / 8, bit: 0, exits: true),
    ]

    @Test(arguments: msrCases)
    func msrBitmaps(_ c: MSRCase) {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, c.write ? 0x30 : 0x32, 0x0F, 0xA2], proc: Proc.useMSRBitmaps)
        m.mem.zero(at: VX.msrBitmap, count: 4096)
        m.w8(VX.msrBitmap + c.bitmapByte, 1 << c.bit)
        m[.rcx] = UInt64(c.msr); m[.rax] = 0x10; m[.rdx] = 0
        if c.exits {
            m.expectExit(m.launch(), reason: c.write ? 32 : 31, length: 2, guestRIP: VX.guestCode)
        } else {
            m.expectExit(m.launch(), reason: 10, guestRIP: VX.guestCode + 2)
            if c.write { #expect(m.vr(.guestSysenterCS) == 0x10) }
            else { #expect(m[.rdx] << 32 | m[.rax] == 0x0007_0406_0007_0406) }   // IA32_PAT reset value
        }
    }

    // MARK: Exit reasons 46/47: descriptor-table exiting (Tables 27-10, 27-11)

    struct DTCase: CustomTestStringConvertible, Sendable {
        let name: String, code: [UInt8], reason: UInt32, qualification: UInt64, info: UInt32, mask: UInt32
        var testDescription: String { name }
    }
    // Defined bits: memory without index 9:7, 10, 17:15, 22, 26:23, 27, 29:28 (3FC38780H); with
    // index also 1:0 and 21:18 (3FFF8783H); register forms (LLDT/LTR/SLDT/STR) 6:3, 10, 29:28.
    static let dtCases: [DTCase] = [
        // sgdt [rbx+rcx*8+0x40] (0F 01 44 CB 40): scale 3, 64-bit, DS, index RCX, base RBX, identity 0.
        DTCase(name: "SGDT [rbx+rcx*8+0x40]", code: [0x0F, 0x01, 0x44, 0xCB, 0x40], reason: 46,
               qualification: 0x40, info: 0x0185_8103, mask: 0x3FFF_8783),
        DTCase(name: "SIDT [rax] (0F 01 08)", code: [0x0F, 0x01, 0x08], reason: 46,
               qualification: 0, info: 0x1041_8100, mask: 0x3FC3_8780),
        DTCase(name: "LGDT [rax] (0F 01 10)", code: [0x0F, 0x01, 0x10], reason: 46,
               qualification: 0, info: 0x2041_8100, mask: 0x3FC3_8780),
        DTCase(name: "LIDT [rax] (0F 01 18)", code: [0x0F, 0x01, 0x18], reason: 46,
               qualification: 0, info: 0x3041_8100, mask: 0x3FC3_8780),
        // sldt eax (0F 00 C0): register, reg1 RAX, identity 0.
        DTCase(name: "SLDT eax (0F 00 C0)", code: [0x0F, 0x00, 0xC0], reason: 47,
               qualification: 0, info: 0x0000_0400, mask: 0x3000_0478),
        // str ecx (0F 00 C9): reg1 RCX (1 << 3), identity 1.
        DTCase(name: "STR ecx (0F 00 C9)", code: [0x0F, 0x00, 0xC9], reason: 47,
               qualification: 0, info: 0x1000_0408, mask: 0x3000_0478),
        // lldt ax (0F 00 D0): identity 2.
        DTCase(name: "LLDT ax (0F 00 D0)", code: [0x0F, 0x00, 0xD0], reason: 47,
               qualification: 0, info: 0x2000_0400, mask: 0x3000_0478),
        // ltr WORD PTR [rbx+0x8] (0F 00 5B 08): memory, 64-bit, DS, no index, base RBX, identity 3.
        DTCase(name: "LTR [rbx+8] (0F 00 5B 08)", code: [0x0F, 0x00, 0x5B, 0x08], reason: 47,
               qualification: 8, info: 0x31C1_8100, mask: 0x3FC3_8780),
    ]

    @Test(arguments: dtCases)
    func descriptorTableExiting(_ c: DTCase) {
        let m = TestMachine.long64()
        m.setupGuest(c.code, proc2: Proc2.descriptorTableExiting)
        m[.rax] = Layout.data; m[.rbx] = Layout.data; m[.rcx] = 1
        m.expectExit(m.launch(), reason: c.reason, qualification: c.qualification, length: UInt64(c.code.count),
                     guestRIP: VX.guestCode)
        let info = UInt32(truncatingIfNeeded: m.vr(.exitInstructionInfo))
        #expect(info & c.mask == c.info, "instruction information 0x\(hex(info)), expected 0x\(hex(c.info))")
    }

    // MARK: Exit reasons 33/34: VM-entry failures after the control/host checks (§26.8)

    /// Invalid guest state (§26.3.1.4: RFLAGS bit 1 must be 1): exit reason 33 | bit 31
    /// = 80000021H, qualification 0, host state loaded, the VMCS stays "clear".
    @Test func invalidGuestState() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.vw(.guestRFLAGS, 0)
        withKnownIssue("VMEntryChecks.rows is empty: the §26.3.1 guest-state checks are not written yet") {
            let stop = m.launch()
            #expect(stop == .halted(rip: VX.hostRIP, interruptsEnabled: false))
            #expect(m.vr(.exitReason) == 0x8000_0021)
            #expect(m.vr(.exitQualification) == 0)
            m.expectHostState()
            #expect(!m.cpu.vmcsLaunched(at: VX.vmcs))
        } when: { VMEntryChecks.rows.isEmpty }
    }

    /// VM-entry MSR loading fails (§26.4): exit reason 34 | bit 31 = 80000022H; the
    /// qualification is the 1-based number of the failing entry. Entry 1 loads IA32_SYSENTER_CS
    /// (valid); entry 2 names an x2APIC MSR (800H) → qualification 2. In a second VMCS entry 1
    /// sets reserved bits 63:32 of its first quadword → qualification 1.
    @Test func msrLoadFailure() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.w64(VX.msrList, 0x174); m.w64(VX.msrList + 8, 0x10)
        m.w64(VX.msrList + 16, 0x800); m.w64(VX.msrList + 24, 0)
        m.vw(.entryMSRLoadAddress, VX.msrList); m.vw(.entryMSRLoadCount, 2)
        #expect(m.launch() == .halted(rip: VX.hostRIP, interruptsEnabled: false))
        #expect(m.vr(.exitReason) == 0x8000_0022)
        #expect(m.vr(.exitQualification) == 2)
        m.expectHostState()
        #expect(!m.cpu.vmcsLaunched(at: VX.vmcs))

        let m2 = TestMachine.long64()
        m2.setupGuest([0xF4], proc: Proc.hltExiting)
        m2.w64(VX.msrList, 0x1_0000_0174); m2.w64(VX.msrList + 8, 0x10)
        m2.vw(.entryMSRLoadAddress, VX.msrList); m2.vw(.entryMSRLoadCount, 1)
        #expect(m2.launch() == .halted(rip: VX.hostRIP, interruptsEnabled: false))
        #expect(m2.vr(.exitReason) == 0x8000_0022)
        #expect(m2.vr(.exitQualification) == 1)
        m2.expectHostState()
    }

    /// A successful VM-entry MSR load: entry 1 writes IA32_SYSENTER_CS = 10H; the guest reads it
    /// back... through the exit's save of the guest IA32_SYSENTER_CS field (§27.3.1).
    @Test func msrLoadSuccess() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.w64(VX.msrList, 0x174); m.w64(VX.msrList + 8, 0x10)
        m.vw(.entryMSRLoadAddress, VX.msrList); m.vw(.entryMSRLoadCount, 1)
        m.expectExit(m.launch(), reason: 12, length: 1, guestRIP: VX.guestCode)
        #expect(m.vr(.guestSysenterCS) == 0x10)
    }
}

// MARK: - VM entry (ch. 26)

@Suite("VM entry")
struct VMEntryTests {
    /// §26.3.2: after VMLAUNCH the processor holds the guest state: RIP, RSP, RFLAGS, CR3, CS/SS
    /// selectors, CPL = SS.DPL = 0, EFER.LMA = LME = 1 ("IA-32e mode guest"), in 64-bit mode; the
    /// VMCS is launched (§30.3: "launch state of current VMCS ← launched").
    @Test func guestStateLoaded() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.load(VOp.vmlaunch + [0xF4], at: Layout.code)
        m.rip = Layout.code
        _ = m.cpu.run(budget: 1)
        #expect(m.cpu.vmx.nonRoot)
        #expect(m.rip == VX.guestCode)
        #expect(m.cpu.regs[Reg.rsp] == VX.guestRSP)
        #expect(m.cpu.rflags == VX.guestRFLAGS)
        #expect(m.cpu.cr3 == VX.guestPML4)
        #expect(m.cpu.segs[Seg.cs].selector == VX.guestCS && m.cpu.segs[Seg.ss].selector == VX.guestSS)
        #expect(m.cpu.cpl == 0)
        #expect(m.cpu.efer & (EFER.lma | EFER.lme) == EFER.lma | EFER.lme && m.cpu.codeMode == 2)
        #expect(m.cpu.vmcsLaunched(at: VX.vmcs))
    }

    /// CPL comes from SS.DPL (§26.3.2.2): a guest with SS.DPL = 3 executing HLT gets #GP(0)
    /// (HLT at CPL > 0 faults before any VM exit, §25.1.1), which exits through the exception
    /// bitmap: reason 0, info 0x80000B0D, error code 0.
    @Test func cplFromSSDPL() {
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting, exceptionBitmap: 1 << 13)
        m.setUserGuest()
        m.expectExit(m.launch(), reason: 0, guestRIP: VX.guestCode)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0D)
        #expect(m.vr(.exitInterruptionErrorCode) == 0)
        #expect(m.vr(.guestCSSelector) == UInt64(Sel.userCode64 | 3))
    }

    /// VMRESUME after an exit continues the guest where the host says: the host advances the
    /// guest RIP by the exit instruction length (with VMWRITE through the CPU: vmwrite rcx, rax)
    /// and resumes; the next CPUID exits at guest RIP + 2. cpuid; cpuid (0F A2 0F A2).
    @Test func vmresumeContinues() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0xA2, 0x0F, 0xA2])
        m.expectExit(m.launch(), reason: 10, length: 2, guestRIP: VX.guestCode)
        m[.rcx] = 0x681E; m[.rax] = m.vr(.guestRIP) + m.vr(.exitInstructionLength)
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget && m.arith == 0)
        m.expectExit(m.launch(resume: true), reason: 10, length: 2, guestRIP: VX.guestCode + 2)
        #expect(m.cpu.vmx.entries == 2 && m.cpu.vmx.exits == 2)
    }

    /// Event injection of a hardware exception with an error code (§26.6): #GP, info 0x80000B0D,
    /// error code 18H, delivered through the guest IDT as if it occurred right after entry:
    /// the handler's HLT (HLT exiting) exits with guest RIP = the handler; the frame holds error
    /// 18H, RIP = the entry RIP (the instruction there did not run), CS = 48H, RFLAGS = 43H,
    /// RSP = C0000H, SS = 50H. The exit clears the entry interruption-information valid bit
    /// (§24.8.3: "VM exits clear this valid bit").
    @Test func injectHardwareException() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0xA2], proc: Proc.hltExiting)
        m.vw(.entryInterruptionInfo, 0x8000_0B0D); m.vw(.entryExceptionErrorCode, 0x18)
        m.expectExit(m.launch(), reason: 12, length: 1, guestRIP: m.handlerAddress(13), guestRSP: VX.guestRSP - 48)
        let sp = VX.guestRSP - 48
        #expect(m.r64(sp) == 0x18 && m.r64(sp + 8) == VX.guestCode && m.r64(sp + 16) == UInt64(VX.guestCS))
        #expect(m.r64(sp + 24) == VX.guestRFLAGS && m.r64(sp + 32) == VX.guestRSP && m.r64(sp + 40) == UInt64(VX.guestSS))
        #expect(m.vr(.entryInterruptionInfo) == 0x0000_0B0D)
    }

    /// Injection of a software interrupt (type 4, INT 80H) with VM-entry instruction length 2:
    /// the pushed RIP is the guest RIP + 2 (§26.6.1.3); no error code.
    @Test func injectSoftwareInterrupt() {
        let m = TestMachine.long64()
        m.setupGuest([0xCD, 0x80], proc: Proc.hltExiting)
        m.vw(.entryInterruptionInfo, 0x8000_0480); m.vw(.entryInstructionLength, 2)
        m.expectExit(m.launch(), reason: 12, length: 1, guestRIP: m.handlerAddress(0x80), guestRSP: VX.guestRSP - 40)
        let sp = VX.guestRSP - 40
        #expect(m.r64(sp) == VX.guestCode + 2 && m.r64(sp + 8) == UInt64(VX.guestCS))
        #expect(m.vr(.entryInterruptionInfo) == 0x0000_0480)
    }

    /// Every VM exit stores IA32_EFER.LMA into the "IA-32e mode guest" entry control
    /// (IA32_VMX_MISC bit 5; §27.2 "Recording VM-Exit Information and Updating VM-Entry Control
    /// Fields"). Without unrestricted guest a guest cannot leave IA-32e mode (CR0.PG is fixed to 1,
    /// §23.8), so to see the store the test clears the bit in the VMCS region while the guest runs
    /// (after VMLAUNCH, before the exit): the exit from the 64-bit guest writes it back as 1.
    @Test func ia32eModeGuestUpdatedOnExit() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0xA2])
        m.load(VOp.vmlaunch + [0xF4], at: Layout.code)
        m.rip = Layout.code
        _ = m.cpu.run(budget: 1)
        #expect(m.cpu.vmx.nonRoot)
        m.vw(.entryControls, UInt64(VX.entryBase) & ~UInt64(EntryCtl.ia32eModeGuest))
        m.expectExit(m.cpu.run(budget: 100), reason: 10, length: 2, guestRIP: VX.guestCode)
        #expect(m.vr(.entryControls) == UInt64(VX.entryBase))
    }

    /// §23.8 "Restrictions on VMX Operation": "Any attempt to set one of these bits to an
    /// unsupported value while in VMX operation (including VMX root operation) using any of the
    /// CLTS, LMSW, or MOV CR instructions causes a general-protection exception" — in non-root
    /// operation too (no unrestricted guest here). The guest goes to compatibility mode and clears
    /// CR0.PG (a guest-owned bit: CR0 mask 0): #GP(0), which exits through exception-bitmap bit 13.
    ///   jmp FWORD PTR [rip+0] (FF 2D 00 00 00 00), m16:32 = B000CH:30H (32-bit code, compat mode)
    ///   mov eax, cr0 (0F 20 C0); and eax, 7FFFFFFFH (25 FF FF FF 7F); mov cr0, eax (0F 22 C0); cpuid
    @Test func guestCannotClearCR0PG() {
        let m = TestMachine.long64()
        let code: [UInt8] = [0xFF, 0x2D, 0, 0, 0, 0] + le(UInt32(VX.guestCode + 12)) + le(Sel.code32)
            + [0x0F, 0x20, 0xC0, 0x25, 0xFF, 0xFF, 0xFF, 0x7F, 0x0F, 0x22, 0xC0, 0x0F, 0xA2]
        m.setupGuest(code, exceptionBitmap: 1 << 13)
        let stop = m.launch()
        m.expectExit(stop, reason: 0, guestRIP: VX.guestCode + 20)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B0D)
        #expect(m.vr(.exitInterruptionErrorCode) == 0)
        #expect(m.vr(.guestCR0) & CR0.pg != 0)
    }
}

// MARK: - Decoded-block chaining after a VMX instruction (vmx-errors regression)

/// vmx-errors triple-faulted under vmxemu after `entry-msr-bitmap-unaligned`: its `set()` ends a
/// decoded block with VMWRITE (a block-ending instruction), and the run loop had chained that
/// block to the slot of the block at the instruction after it. Another function whose code hashes
/// to the same direct-mapped slot (vmx-errors: 0x1005c9 and 0x1025c8) then replaced that block,
/// and the next VMWRITE in `set()` followed the stale link and executed the *other* block's
/// instructions at the wrong RIP — `xor esi, esi` … `call` into zeroed memory — until `_start`'s
/// `ljmp` raised #UD in 64-bit mode. Architecturally the instruction after VMWRITE is the one at
/// the next RIP (SDM Vol. 3C §30.3 "VMWRITE": VMsucceed, then the next instruction; Vol. 3A
/// §11.6 "Self-Modifying Code" is the only way code at an address changes). A chain link must
/// only be followed to the block it was recorded for.
@Suite("Decoded-block chaining")
struct BlockChainTests {
    /// Host code (all identity-mapped, 64-bit):
    ///   A = 0x10000: vmwrite rcx, rax (0F 79 C8)   — ends its block; falls through to Y
    ///   Y = 0x10003: inc rdx (48 FF C2); ret (C3)
    ///   Z = 0x14001: inc rsi (48 FF C6); ret (C3)  — slot(Z) == slot(Y):
    ///       slot(p) = (p ^ p >> 13) & 8191: 0x10003 ^ 8 = 0xB, (0x14001 ^ 0xA) & 0x1FFF = 0xB
    ///   driver at 0x10200: call r14 (41 FF D6) → A; call r13 (41 FF D5) → Z;
    ///                      call r14 → A again; hlt
    /// The correct result runs Y twice and Z once: RDX = 2, RSI = 1. Following the stale link ran
    /// Z's block at RIP Y the second time: RDX = 1, RSI = 2.
    @Test func linkToAReplacedBlockIsNotFollowed() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        let a: UInt64 = 0x10000, y: UInt64 = 0x10003, z: UInt64 = 0x14001, driver: UInt64 = 0x10200
        m.load([0x0F, 0x79, 0xC8, 0x48, 0xFF, 0xC2, 0xC3], at: a)
        m.load([0x48, 0xFF, 0xC6, 0xC3], at: z)
        m.load([0x41, 0xFF, 0xD6, 0x41, 0xFF, 0xD5, 0x41, 0xFF, 0xD6, 0xF4], at: driver)
        #expect(BlockCache.slot(y) == BlockCache.slot(z), "the test needs Y and Z in one slot")
        m[.rcx] = UInt64(VMCSFieldID.guestRIP.rawValue)   // VMWRITE guest RIP ← RAX: VMsucceed
        m[.rax] = 0x1234
        m[.rdx] = 0; m[.rsi] = 0
        m[.r14] = a; m[.r13] = z
        m.cpu.rip = driver
        let stop = m.cpu.run(budget: 1_000)
        #expect(stop == .halted(rip: driver + 9, interruptsEnabled: false), "stopped with \(stop)")
        #expect(m[.rdx] == 2 && m[.rsi] == 1, "RDX = \(m[.rdx]), RSI = \(m[.rsi]): expected Y twice, Z once")
        #expect(m.vr(.guestRIP) == 0x1234 && m.arith == 0, "VMWRITE succeeded")
    }
}

// MARK: - VM-entry MSR loading refuses IA32_FS_BASE / IA32_GS_BASE (vmx-errors parity)

@Suite("VM-entry MSR loading: FS/GS base")
struct MSRLoadFSGSBaseTests {
    /// SDM Vol. 3C §26.4 "Loading MSRs" (and §27.6 for VM exits): processing of an entry fails if
    /// "the value of bits 31:0 is either C0000100H (the IA32_FS_BASE MSR) or C0000101H (the
    /// IA32_GS_BASE MSR)" — the bases come from the guest FS/GS base fields (§26.3.2.1). A VM-entry
    /// failure due to MSR loading: exit reason 80000022H, qualification = the 1-based entry number
    /// (§26.8). vmx-errors `entry-msr-load-fs-base` (Bochs 2.7: exit 0x80000022 qual 0x1); vmxemu
    /// used to load the MSR and enter the guest (exit 0xc, HLT).
    @Test func fsAndGSBaseEntriesFail() {
        // Entry 1: IA32_SYSENTER_CS (valid); entry 2: IA32_GS_BASE → qualification 2.
        let m = TestMachine.long64()
        m.setupGuest([0xF4], proc: Proc.hltExiting)
        m.w64(VX.msrList, 0x174); m.w64(VX.msrList + 8, 0x10)
        m.w64(VX.msrList + 16, 0xC000_0101); m.w64(VX.msrList + 24, 0x1000)
        m.vw(.entryMSRLoadAddress, VX.msrList); m.vw(.entryMSRLoadCount, 2)
        #expect(m.launch() == .halted(rip: VX.hostRIP, interruptsEnabled: false))
        #expect(m.vr(.exitReason) == 0x8000_0022 && m.vr(.exitQualification) == 2,
                "exit reason 0x\(hex(m.vr(.exitReason))) qualification \(m.vr(.exitQualification))")
        m.expectHostState()
        #expect(!m.cpu.vmcsLaunched(at: VX.vmcs))

        // Entry 1: IA32_FS_BASE → qualification 1.
        let m2 = TestMachine.long64()
        m2.setupGuest([0xF4], proc: Proc.hltExiting)
        m2.w64(VX.msrList, 0xC000_0100); m2.w64(VX.msrList + 8, 0x1000)
        m2.vw(.entryMSRLoadAddress, VX.msrList); m2.vw(.entryMSRLoadCount, 1)
        #expect(m2.launch() == .halted(rip: VX.hostRIP, interruptsEnabled: false))
        #expect(m2.vr(.exitReason) == 0x8000_0022 && m2.vr(.exitQualification) == 1,
                "exit reason 0x\(hex(m2.vr(.exitReason))) qualification \(m2.vr(.exitQualification))")
        m2.expectHostState()
    }
}

// MARK: - Guest debug exceptions, #AC, RDPID (conformance defects)

@Suite("VM exits: #DB qualification, INT1, #AC, RDPID")
struct VMXGuestEventTests {
    /// A single step in the guest (guest RFLAGS.TF = 1) with exception-bitmap bit 1: the #DB
    /// after the first NOP exits with the qualification BS = 4000H (§27.2.1 "Basic VM-Exit
    /// Information", Table 27-1 "Exit Qualification for Debug Exceptions"), interruption
    /// information 80000301H, guest RIP after the NOP (a trap); DR6 is not modified (§27.1).
    @Test func singleStepExitQualification() {
        let m = TestMachine.long64()
        m.setupGuest([0x90, 0x90, 0xF4], exceptionBitmap: 1 << 1)
        m.vw(.guestRFLAGS, VX.guestRFLAGS | RFLAGS.tf)
        let dr6 = m.cpu.dr6
        m.expectExit(m.launch(), reason: 0, qualification: 0x4000, guestRIP: VX.guestCode + 1)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0301)
        #expect(m.cpu.dr6 == dr6)
    }

    /// An instruction breakpoint on DR0 at the second guest instruction (guest DR7 = 401H through
    /// "load debug controls"): the #DB fault exits with qualification B0 = 1, guest RIP = the
    /// breakpoint.
    @Test func instructionBreakpointExitQualification() {
        let m = TestMachine.long64()
        m.setupGuest([0x90, 0x90, 0xF4], exceptionBitmap: 1 << 1)
        m.vw(.entryControls, UInt64(VX.entryBase | EntryCtl.loadDebugControls))
        m.vw(.guestDR7, 0x401)
        m.vw(.guestDebugCtl, 0)
        m.cpu.dr = (VX.guestCode + 1, 0, 0, 0)
        m.expectExit(m.launch(), reason: 0, qualification: 0x1, guestRIP: VX.guestCode + 1)
    }

    /// ICEBP (F1) with bitmap bit 1: a privileged software exception — interruption type 5
    /// (80000501H), the VM exit on the ICEBP itself (guest RIP = its address), instruction length
    /// 1 (§27.2.2 "Information for VM Exits Due to Vectored Events", §27.2.5).
    @Test func icebpIsAPrivilegedSoftwareException() {
        let m = TestMachine.long64()
        m.setupGuest([0x90, 0xF1, 0xF4], exceptionBitmap: 1 << 1)
        m.expectExit(m.launch(), reason: 0, length: 1, guestRIP: VX.guestCode + 1)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0501)
    }

    /// A guest at CPL 3 with CR0.AM = 1 and RFLAGS.AC = 1 stores 8 bytes at RSP-4
    /// (48 C7 44 24 FC 00 00 00 00): #AC(0). With bitmap bit 17 it exits (info 80000B11H, error
    /// code 0, guest RIP = the store); without, the guest's own IDT delivers it (its handler's HLT).
    @Test(arguments: [true, false])
    func alignmentCheckInGuest(_ exits: Bool) {
        let m = TestMachine.long64()
        m.setupGuest([0x48, 0xC7, 0x44, 0x24, 0xFC, 0x00, 0x00, 0x00, 0x00, 0xF4], exceptionBitmap: exits ? 1 << 17 : 0)
        m.setUserGuest()
        m.vw(.guestCR0, m.vr(.guestCR0) | CR0.am)
        m.vw(.guestRFLAGS, VX.guestRFLAGS | RFLAGS.ac)
        let stop = m.launch()
        if exits {
            m.expectExit(stop, reason: 0, guestRIP: VX.guestCode)
            #expect(m.vr(.exitInterruptionInfo) == 0x8000_0B11)
            #expect(m.vr(.exitInterruptionErrorCode) == 0)
        } else {
            #expect(m.vector(stop) == 17, "stopped with \(stop)")
            #expect(m.cpu.vmx.nonRoot)
            #expect(m.frame64(errorCode: true).rip == VX.guestCode)
        }
    }

    /// RDPID rax (F3 0F C7 F8) in the guest: #UD when "enable RDTSCP" is 0 (here: no secondary
    /// controls at all) — an exit with bitmap bit 6 at the RDPID; with "enable RDTSCP" = 1 it
    /// reads IA32_TSC_AUX (§25.3 "Changes to Instruction Behavior in VMX Non-Root Operation").
    @Test func rdpidNeedsEnableRDTSCP() {
        let m = TestMachine.long64()
        m.setupGuest([0xF3, 0x0F, 0xC7, 0xF8, 0x0F, 0xA2], exceptionBitmap: 1 << 6)
        m.expectExit(m.launch(), reason: 0, guestRIP: VX.guestCode)
        #expect(m.vr(.exitInterruptionInfo) == 0x8000_0306)

        let r = TestMachine.long64()
        r.setupGuest([0xF3, 0x0F, 0xC7, 0xF8, 0x0F, 0xA2], proc2: Proc2.enableRDTSCP, exceptionBitmap: 1 << 6)
        r.cpu.msrs.tscAux = 0x1234
        r.expectExit(r.launch(), reason: 10, length: 2, guestRIP: VX.guestCode + 4)   // CPUID
        #expect(r[.rax] == 0x1234)
    }
}
