// VM-entry checks (SDM Vol. 3C §26.2 "Checks on VMX Controls and Host-State Area" and §26.3.1
// "Checks on the Guest State Area", edition pinned in SDM.swift). A known-good VMCS for a 64-bit
// guest and a 64-bit host passes every row; each row then has at least one mutation that breaks
// exactly its condition, and `firstFailure` must name that row with the failure class the SDM
// gives its section (VMfailValid 7 for controls, 8 for host state, VM exit 33 for guest state with
// exit qualification 4 for the VMCS link pointer and 2 for the PDPTEs, SDM §26.8).

import Testing
@testable import X86

/// A VMCS under test: its fields, a little physical memory, the current-VMCS and VMXON pointers.
struct EntryEnv: Sendable {
    var fields: [VMCSFieldID: UInt64] = [:]
    var memory: [UInt64: UInt8] = [:]
    var vmcsPointer: UInt64 = 0x9000
    var vmxonPointer: UInt64 = 0xA000
    /// IA32_EFER.LMA of the processor executing VMLAUNCH (§26.2.4).
    var processorInIA32eMode = true

    subscript(_ id: VMCSFieldID) -> UInt64 {
        get { fields[id] ?? 0 }
        set { fields[id] = newValue }
    }

    mutating func write(_ addr: UInt64, _ v: UInt64, bytes: Int = 8) {
        for k in 0..<bytes { memory[addr + UInt64(k)] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
    }

    var context: VMEntryContext {
        let f = fields, m = memory
        return VMEntryContext(
            field: { f[$0] ?? 0 },
            readPhys: { addr, n in (0..<n).reduce(UInt64(0)) { v, k in v | UInt64(m[addr + k] ?? 0) << (8 * k) } },
            physAddrWidth: Int(maxPhysAddrBits), vmcsPointer: vmcsPointer, vmxonPointer: vmxonPointer, isLaunch: true,
            processorInIA32eMode: processorInIA32eMode)
    }

    /// Selectors, bases, limits and access rights of one guest segment.
    mutating func guestSeg(_ s: Int, sel: UInt64, base: UInt64, limit: UInt64, ar: UInt64) {
        let f = VMCSFieldID.guestSegment[s]
        self[f.selector] = sel; self[f.base] = base; self[f.limit] = limit; self[f.ar] = ar
    }

    /// A 64-bit guest and a 64-bit host, set up the way a VMM sets them up: the controls are the
    /// minimum the TRUE_ capability MSRs allow plus "host address-space size" and "IA-32e mode guest".
    static var good: EntryEnv {
        var e = EntryEnv()
        e[.pinBasedControls] = VMXModel.pinBased.capability(true: true) & 0xFFFF_FFFF
        e[.procBasedControls] = VMXModel.procBased.capability(true: true) & 0xFFFF_FFFF
        e[.exitControls] = (VMXModel.exitControls.capability(true: true) & 0xFFFF_FFFF) | UInt64(ExitCtl.hostAddressSpaceSize)
        e[.entryControls] = (VMXModel.entryControls.capability(true: true) & 0xFFFF_FFFF) | UInt64(EntryCtl.ia32eModeGuest)
        // Host.
        e[.hostCR0] = 0x8000_0031 | CR0.ne
        e[.hostCR3] = 0x1000
        e[.hostCR4] = CR4.pae | CR4.vmxe
        e[.hostCSSelector] = 0x08; e[.hostSSSelector] = 0x10; e[.hostDSSelector] = 0x10; e[.hostESSelector] = 0x10
        e[.hostFSSelector] = 0x10; e[.hostGSSelector] = 0x10; e[.hostTRSelector] = 0x18
        e[.hostTRBase] = 0x2000; e[.hostGDTRBase] = 0x3000; e[.hostIDTRBase] = 0x4000
        e[.hostRSP] = 0xFFFF_8000_0000_8000; e[.hostRIP] = 0xFFFF_8000_0010_0000
        e[.hostEFER] = EFER.lme | EFER.lma | EFER.sce; e[.hostPAT] = 0x0007_0406_0007_0406
        // Guest.
        e[.guestCR0] = 0x8000_0031 | CR0.ne
        e[.guestCR3] = 0x5000
        e[.guestCR4] = CR4.pae | CR4.vmxe
        e[.guestDR7] = 0x400
        e.guestSeg(Seg.cs, sel: 0x08, base: 0, limit: 0xFFFF_FFFF, ar: 0xA09B)
        for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] { e.guestSeg(s, sel: 0x10, base: 0, limit: 0xFFFF_FFFF, ar: 0xC093) }
        e.guestSeg(Seg.tr, sel: 0x18, base: 0x6000, limit: 0x67, ar: 0x8B)
        e.guestSeg(Seg.ldtr, sel: 0, base: 0, limit: 0, ar: 0x1_0000)
        e[.guestGDTRBase] = 0x7000; e[.guestGDTRLimit] = 0x27
        e[.guestIDTRBase] = 0x8000; e[.guestIDTRLimit] = 0xFFF
        e[.guestRIP] = 0x40_1000; e[.guestRSP] = 0x40_8000; e[.guestRFLAGS] = 0x2
        e[.guestEFER] = EFER.lme | EFER.lma; e[.guestPAT] = 0x0007_0406_0007_0406
        e[.vmcsLinkPointer] = ~0
        e[.guestActivityState] = 0; e[.guestInterruptibilityState] = 0; e[.guestPendingDebugExceptions] = 0
        // The current VMCS region starts with the revision identifier, as software writes it.
        e.write(e.vmcsPointer, UInt64(VMXModel.revision), bytes: 4)
        return e
    }

    // Variations used by mutations.
    mutating func clearIA32e() { self[.entryControls] &= ~UInt64(EntryCtl.ia32eModeGuest) }
    /// Virtual-8086 segments (base = selector × 16, limit FFFFH, access rights F3H).
    mutating func v86Segments() {
        for s in [Seg.cs, Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs] { guestSeg(s, sel: 0x1000, base: 0x1_0000, limit: 0xFFFF, ar: 0xF3) }
        self[.guestRFLAGS] |= RFLAGS.vm
    }
    /// A virtual-8086 guest under PAE paging (IA-32e mode guest = 0).
    mutating func v86() { clearIA32e(); v86Segments() }
    /// A 32-bit protected-mode guest with PAE paging.
    mutating func pae32() { clearIA32e(); self[.guestCSAccessRights] = 0xC09B }
    /// A usable LDT.
    mutating func ldt() { guestSeg(Seg.ldtr, sel: 0x28, base: 0xC000, limit: 0xFFFF, ar: 0x82) }
    mutating func or(_ id: VMCSFieldID, _ v: UInt64) { self[id] |= v }
    mutating func inject(_ info: UInt64) { self[.entryInterruptionInfo] = info }
}

/// One mutation that breaks exactly the condition of row `row`.
struct EntryBreak: Sendable, CustomTestStringConvertible {
    let row: String
    let why: String
    let apply: @Sendable (inout EntryEnv) -> Void
    init(_ row: String, _ why: String, _ apply: @escaping @Sendable (inout EntryEnv) -> Void) {
        self.row = row; self.why = why; self.apply = apply
    }
    var testDescription: String { "\(row) — \(why)" }
}

private let nonCanonical: UInt64 = 0x0000_8000_0000_0000
private let extInt: UInt64 = 0x8000_0020          // valid, external interrupt, vector 0x20
private let v86Segs = [Seg.cs, Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs]
private let dataSegs = [Seg.ds, Seg.es, Seg.fs, Seg.gs]
private func ar(_ s: Int) -> VMCSFieldID { VMCSFieldID.guestSegment[s].ar }
private func lim(_ s: Int) -> VMCSFieldID { VMCSFieldID.guestSegment[s].limit }
private func n(_ s: Int) -> String { Seg.names[s] }

/// Every row's mutation(s), from the SDM text of its check.
let entryBreaks: [EntryBreak] = {
    var b: [EntryBreak] = []
    // §26.2.1.1
    b += [
        EntryBreak("ctl.pin.reserved", "bits 1, 2, 4 are default1 and IA32_VMX_TRUE_PINBASED_CTLS keeps them 1") { $0[.pinBasedControls] = 0 },
        EntryBreak("ctl.pin.reserved", "\"virtual NMIs\" is not an allowed 1-setting") { $0.or(.pinBasedControls, UInt64(Pin.virtualNMIs)) },
        EntryBreak("ctl.proc.reserved", "bit 1 is default1 and must stay 1") { $0[.procBasedControls] &= ~2 },
        EntryBreak("ctl.proc.reserved", "\"use TPR shadow\" is not an allowed 1-setting") { $0.or(.procBasedControls, UInt64(Proc.useTPRShadow)) },
        EntryBreak("ctl.proc2.reserved", "\"enable EPT\" is not an allowed 1-setting") {
            $0.or(.procBasedControls, UInt64(Proc.activateSecondaryControls)); $0[.secondaryProcControls] = UInt64(Proc2.enableEPT)
        },
        EntryBreak("ctl.cr3-target-count", "5 targets, IA32_VMX_MISC reports 4") { $0[.cr3TargetCount] = 5 },
        EntryBreak("ctl.io-bitmap-a.addr", "I/O bitmap A not 4-KByte aligned") {
            $0.or(.procBasedControls, UInt64(Proc.useIOBitmaps)); $0[.ioBitmapA] = 0x1_0010; $0[.ioBitmapB] = 0x1_1000
        },
        EntryBreak("ctl.io-bitmap-a.width", "I/O bitmap A sets bit 52") {
            $0.or(.procBasedControls, UInt64(Proc.useIOBitmaps)); $0[.ioBitmapA] = 1 << 52; $0[.ioBitmapB] = 0x1_1000
        },
        EntryBreak("ctl.io-bitmap-b.addr", "I/O bitmap B not 4-KByte aligned") {
            $0.or(.procBasedControls, UInt64(Proc.useIOBitmaps)); $0[.ioBitmapA] = 0x1_0000; $0[.ioBitmapB] = 0x1_1800
        },
        EntryBreak("ctl.io-bitmap-b.width", "I/O bitmap B sets bit 52") {
            $0.or(.procBasedControls, UInt64(Proc.useIOBitmaps)); $0[.ioBitmapA] = 0x1_0000; $0[.ioBitmapB] = 1 << 52 | 0x1000
        },
        EntryBreak("ctl.msr-bitmap.addr", "MSR bitmap not 4-KByte aligned") {
            $0.or(.procBasedControls, UInt64(Proc.useMSRBitmaps)); $0[.msrBitmaps] = 0x1_2004
        },
        EntryBreak("ctl.msr-bitmap.width", "MSR bitmap sets bit 63") {
            $0.or(.procBasedControls, UInt64(Proc.useMSRBitmaps)); $0[.msrBitmaps] = 1 << 63 | 0x1_2000
        },
    ]
    // §26.2.1.2 and the MSR areas of §26.2.1.3
    b += [EntryBreak("ctl.exit.reserved", "bit 0 is default1 and must stay 1") { $0[.exitControls] &= ~1 },
          EntryBreak("ctl.exit.reserved", "\"save VMX-preemption timer value\" is not an allowed 1-setting") { $0.or(.exitControls, UInt64(ExitCtl.savePreemptionTimer)) }]
    for (id, addr, count) in [("ctl.exit.msr-store", VMCSFieldID.exitMSRStoreAddress, VMCSFieldID.exitMSRStoreCount),
                              ("ctl.exit.msr-load", .exitMSRLoadAddress, .exitMSRLoadCount),
                              ("ctl.entry.msr-load", .entryMSRLoadAddress, .entryMSRLoadCount)] {
        b += [
            EntryBreak("\(id).addr", "count 1, address bits 3:0 = 8") { $0[count] = 1; $0[addr] = 0x2_0008 },
            EntryBreak("\(id).width", "count 1, address sets bit 52") { $0[count] = 1; $0[addr] = 1 << 52 },
            EntryBreak("\(id).last-byte", "count 2 starting 16 bytes below the width: the last byte is beyond it") {
                $0[count] = 2; $0[addr] = (1 << UInt64(maxPhysAddrBits)) - 16
            },
        ]
    }
    // §26.2.1.3
    b += [
        EntryBreak("ctl.entry.reserved", "\"entry to SMM\" must be 0 outside SMM (and is not supported)") { $0.or(.entryControls, UInt64(EntryCtl.entryToSMM)) },
        EntryBreak("ctl.entry.reserved", "bit 0 is default1 and must stay 1") { $0[.entryControls] &= ~1 },
        EntryBreak("ctl.entry.interruption.type", "type 1 is reserved on all processors") { $0.inject(0x8000_0100) },
        EntryBreak("ctl.entry.interruption.type", "type 7 is reserved without \"monitor trap flag\"") { $0.inject(0x8000_0700) },
        EntryBreak("ctl.entry.interruption.vector.nmi", "NMI with vector 3") { $0.inject(0x8000_0203) },
        EntryBreak("ctl.entry.interruption.vector.exception", "hardware exception vector 32") { $0.inject(0x8000_0320) },
        EntryBreak("ctl.entry.interruption.error-code.required", "#GP without deliver-error-code") { $0.inject(0x8000_030D) },
        EntryBreak("ctl.entry.interruption.error-code.required", "#PF without deliver-error-code") { $0.inject(0x8000_030E) },
        EntryBreak("ctl.entry.interruption.error-code.forbidden", "#UD (vector 6) with deliver-error-code") { $0.inject(0x8000_0B06) },
        EntryBreak("ctl.entry.interruption.error-code.forbidden", "external interrupt with deliver-error-code") {
            $0.inject(extInt | 0x800); $0.or(.guestRFLAGS, RFLAGS.if)
        },
        EntryBreak("ctl.entry.interruption.reserved", "bit 12 set") { $0.inject(extInt | 0x1000); $0.or(.guestRFLAGS, RFLAGS.if) },
        EntryBreak("ctl.entry.exception-error-code.reserved", "#GP error code with bit 16 set") {
            $0.inject(0x8000_0B0D); $0[.entryExceptionErrorCode] = 0x1_0000
        },
        EntryBreak("ctl.entry.instruction-length.range", "INT 80H with instruction length 16") {
            $0.inject(0x8000_0480); $0[.entryInstructionLength] = 16
        },
        EntryBreak("ctl.entry.instruction-length.zero", "INT3 (software exception) with length 0; IA32_VMX_MISC[30] = 0") {
            $0.inject(0x8000_0603); $0[.entryInstructionLength] = 0
        },
    ]
    // §26.2.2
    b += [
        EntryBreak("host.cr0.fixed", "CR0.NE = 0 (IA32_VMX_CR0_FIXED0)") { $0[.hostCR0] &= ~CR0.ne },
        EntryBreak("host.cr0.fixed", "CR0 bit 32 set (IA32_VMX_CR0_FIXED1)") { $0.or(.hostCR0, 1 << 32) },
        EntryBreak("host.cr4.fixed", "CR4.VMXE = 0 (IA32_VMX_CR4_FIXED0)") { $0[.hostCR4] &= ~CR4.vmxe },
        EntryBreak("host.cr3.width", "CR3 bit 52 set") { $0.or(.hostCR3, 1 << 52) },
        EntryBreak("host.sysenter-esp.canonical", "non-canonical") { $0[.hostSysenterESP] = nonCanonical },
        EntryBreak("host.sysenter-eip.canonical", "non-canonical") { $0[.hostSysenterEIP] = nonCanonical },
        EntryBreak("host.pat.memory-type", "load IA32_PAT with memory type 2 in byte 0") {
            $0.or(.exitControls, UInt64(ExitCtl.loadPAT)); $0[.hostPAT] = 0x0007_0406_0007_0402
        },
        EntryBreak("host.efer.reserved", "load IA32_EFER with bit 1 set") { $0.or(.exitControls, UInt64(ExitCtl.loadEFER)); $0.or(.hostEFER, 2) },
        EntryBreak("host.efer.lma", "LMA = 0 with host address-space size 1") { $0.or(.exitControls, UInt64(ExitCtl.loadEFER)); $0[.hostEFER] = EFER.lme },
        EntryBreak("host.efer.lme", "LME = 0 with host address-space size 1") { $0.or(.exitControls, UInt64(ExitCtl.loadEFER)); $0[.hostEFER] = EFER.lma },
    ]
    // §26.2.3
    for s in [Seg.es, Seg.cs, Seg.ss, Seg.ds, Seg.fs, Seg.gs, Seg.tr] {
        let f = VMCSFieldID.hostSelector[s]!
        b.append(EntryBreak("host.selector.rpl-ti.\(n(s))", "RPL 1") { $0.or(f, 1) })
        b.append(EntryBreak("host.selector.rpl-ti.\(n(s))", "TI 1") { $0.or(f, 4) })
    }
    b += [
        EntryBreak("host.cs.null", "CS selector 0000H") { $0[.hostCSSelector] = 0 },
        EntryBreak("host.tr.null", "TR selector 0000H") { $0[.hostTRSelector] = 0 },
        EntryBreak("host.ss.null", "SS selector 0000H with host address-space size 0") {
            $0[.exitControls] &= ~UInt64(ExitCtl.hostAddressSpaceSize); $0[.hostSSSelector] = 0
        },
    ]
    for (id, f) in [("fs", VMCSFieldID.hostFSBase), ("gs", .hostGSBase), ("gdtr", .hostGDTRBase), ("idtr", .hostIDTRBase), ("tr", .hostTRBase)] {
        b.append(EntryBreak("host.base.canonical.\(id)", "non-canonical base") { $0[f] = nonCanonical })
    }
    // §26.2.4
    b += [
        EntryBreak("host.cr4.pcide", "32-bit host (a VMM outside IA-32e mode) with CR4.PCIDE = 1") {
            $0.processorInIA32eMode = false
            $0[.exitControls] &= ~UInt64(ExitCtl.hostAddressSpaceSize); $0.clearIA32e(); $0[.hostRIP] = 0x10_0000
            $0.or(.hostCR4, CR4.pcide)
        },
        EntryBreak("host.rip.high", "32-bit host (a VMM outside IA-32e mode) with RIP above 4 GBytes") {
            $0.processorInIA32eMode = false
            $0[.exitControls] &= ~UInt64(ExitCtl.hostAddressSpaceSize); $0.clearIA32e(); $0[.hostRIP] = 0x1_0000_0000
        },
        EntryBreak("host.cr4.pae", "64-bit host with CR4.PAE = 0") { $0[.hostCR4] &= ~CR4.pae },
        EntryBreak("host.rip.canonical", "64-bit host with a non-canonical RIP") { $0[.hostRIP] = nonCanonical },
        // §26.2.4, first bullets: the processor's own IA32_EFER.LMA at VM entry.
        EntryBreak("host.addr-size.outside-ia32e.guest", "a 32-bit VMM (LMA = 0) asking for an IA-32e mode guest, host size 0") {
            $0.processorInIA32eMode = false
            $0[.exitControls] &= ~UInt64(ExitCtl.hostAddressSpaceSize)
        },
        EntryBreak("host.addr-size.outside-ia32e.host", "a 32-bit VMM (LMA = 0) with \"host address-space size\" 1 and a 32-bit guest") {
            $0.processorInIA32eMode = false
            $0[.entryControls] &= ~UInt64(EntryCtl.ia32eModeGuest)
        },
        EntryBreak("host.addr-size.in-ia32e", "a 64-bit VMM (LMA = 1) with \"host address-space size\" 0") {
            $0[.exitControls] &= ~UInt64(ExitCtl.hostAddressSpaceSize)
        },
    ]
    // §26.3.1.1
    b += [
        EntryBreak("guest.cr0.fixed", "CR0.NE = 0") { $0[.guestCR0] &= ~CR0.ne },
        EntryBreak("guest.cr0.fixed", "CR0.PE = 0 without unrestricted guest") { $0[.guestCR0] &= ~CR0.pe },
        EntryBreak("guest.cr0.fixed", "CR0.PG = 0 without unrestricted guest") { $0[.guestCR0] &= ~CR0.pg },
        EntryBreak("guest.cr4.fixed", "CR4.VMXE = 0") { $0[.guestCR4] &= ~CR4.vmxe },
        EntryBreak("guest.debugctl.reserved", "load debug controls, IA32_DEBUGCTL bit 2 (reserved)") {
            $0.or(.entryControls, UInt64(EntryCtl.loadDebugControls)); $0[.guestDebugCtl] = 1 << 2
        },
        EntryBreak("guest.cr4.pae-ia32e", "IA-32e mode guest with CR4.PAE = 0") { $0[.guestCR4] &= ~CR4.pae },
        EntryBreak("guest.cr4.pcide", "32-bit guest with CR4.PCIDE = 1") { $0.pae32(); $0.or(.guestCR4, CR4.pcide) },
        EntryBreak("guest.cr3.width", "CR3 bit 52 set") { $0.or(.guestCR3, 1 << 52) },
        EntryBreak("guest.dr7.high", "load debug controls, DR7 bit 32") {
            $0.or(.entryControls, UInt64(EntryCtl.loadDebugControls)); $0.or(.guestDR7, 1 << 32)
        },
        EntryBreak("guest.sysenter-esp.canonical", "non-canonical") { $0[.guestSysenterESP] = nonCanonical },
        EntryBreak("guest.sysenter-eip.canonical", "non-canonical") { $0[.guestSysenterEIP] = nonCanonical },
        EntryBreak("guest.pat.memory-type", "load IA32_PAT with memory type 3 in byte 3") {
            $0.or(.entryControls, UInt64(EntryCtl.loadPAT)); $0[.guestPAT] = 0x0007_0406_0307_0406
        },
        EntryBreak("guest.efer.reserved", "load IA32_EFER with bit 1 set") { $0.or(.entryControls, UInt64(EntryCtl.loadEFER)); $0.or(.guestEFER, 2) },
        EntryBreak("guest.efer.lma", "LMA = 0 with IA-32e mode guest") { $0.or(.entryControls, UInt64(EntryCtl.loadEFER)); $0[.guestEFER] = EFER.lme },
        EntryBreak("guest.efer.lme", "LME = 0, LMA = 1 with CR0.PG = 1") { $0.or(.entryControls, UInt64(EntryCtl.loadEFER)); $0[.guestEFER] = EFER.lma },
    ]
    // §26.3.1.2 selectors and bases
    b += [
        EntryBreak("guest.tr.selector.ti", "TR selector TI = 1") { $0[.guestTRSelector] = 0x1C },
        EntryBreak("guest.ldtr.selector.ti", "usable LDTR with TI = 1") { $0.ldt(); $0[.guestLDTRSelector] = 0x2C },
        EntryBreak("guest.ss.selector.rpl", "SS.RPL 3, CS.RPL 0") { $0[.guestSSSelector] = 0x13 },
    ]
    for s in v86Segs {
        let f = VMCSFieldID.guestSegment[s]
        b.append(EntryBreak("guest.\(n(s)).v86.base", "virtual-8086 with base ≠ selector × 16") { $0.v86(); $0[f.base] = 0x1_2340 })
    }
    for (s, f) in [(Seg.tr, VMCSFieldID.guestTRBase), (Seg.fs, .guestFSBase), (Seg.gs, .guestGSBase)] {
        b.append(EntryBreak("guest.\(n(s)).base.canonical", "non-canonical") { $0[f] = nonCanonical })
    }
    b.append(EntryBreak("guest.ldtr.base.canonical", "usable LDTR with a non-canonical base") { $0.ldt(); $0[.guestLDTRBase] = nonCanonical })
    for s in [Seg.cs, Seg.ss, Seg.ds, Seg.es] {
        let f = VMCSFieldID.guestSegment[s].base
        b.append(EntryBreak("guest.\(n(s)).base.high", "base 1_0000_0000H") { $0[f] = 0x1_0000_0000 })
    }
    // §26.3.1.2 limits and access rights, virtual-8086
    for s in v86Segs {
        b.append(EntryBreak("guest.\(n(s)).v86.limit", "virtual-8086 with limit 1FFFFH") { $0.v86(); $0[lim(s)] = 0x1_FFFF })
        b.append(EntryBreak("guest.\(n(s)).v86.ar", "virtual-8086 with access rights 40F3H") { $0.v86(); $0[ar(s)] = 0x40F3 })
    }
    // §26.3.1.2 access rights, not virtual-8086 (CS AR A09BH, data C093H)
    let base: [Int: UInt64] = [Seg.cs: 0xA09B, Seg.ss: 0xC093, Seg.ds: 0xC093, Seg.es: 0xC093, Seg.fs: 0xC093, Seg.gs: 0xC093]
    b += [
        EntryBreak("guest.cs.ar.type", "CS type 3 (data) without unrestricted guest") { $0[.guestCSAccessRights] = 0xA093 },
        EntryBreak("guest.cs.ar.type", "CS type 8 (code, not accessed)") { $0[.guestCSAccessRights] = 0xA098 },
        EntryBreak("guest.ss.ar.type", "SS type 11 (code)") { $0[.guestSSAccessRights] = 0xC09B },
    ]
    for s in dataSegs {
        b.append(EntryBreak("guest.\(n(s)).ar.type.accessed", "type 2 (not accessed)") { $0[ar(s)] = 0xC092 })
        b.append(EntryBreak("guest.\(n(s)).ar.type.readable", "type 9 (execute-only code)") { $0[ar(s)] = 0xC099 })
    }
    for s in v86Segs {
        let a = base[s]!
        b.append(EntryBreak("guest.\(n(s)).ar.s", "S = 0") { $0[ar(s)] = a & ~0x10 })
        b.append(EntryBreak("guest.\(n(s)).ar.p", "P = 0") { $0[ar(s)] = a & ~0x80 })
        b.append(EntryBreak("guest.\(n(s)).ar.reserved-11-8", "bit 8 set") { $0[ar(s)] = a | 0x100 })
        b.append(EntryBreak("guest.\(n(s)).ar.g.limit-low", "G = 1 with limit FFFFFFFEH") { $0[lim(s)] = 0xFFFF_FFFE })
        b.append(EntryBreak("guest.\(n(s)).ar.g.limit-high", "G = 0 with limit 00100FFFH") { $0[lim(s)] = 0x0010_0FFF; $0[ar(s)] = a & ~0x8000 })
        b.append(EntryBreak("guest.\(n(s)).ar.reserved-31-17", "bit 17 set") { $0[ar(s)] = a | 0x2_0000 })
    }
    b += [
        EntryBreak("guest.cs.ar.dpl.nonconforming", "CS type 11 DPL 3, SS.DPL 0") { $0[.guestCSAccessRights] = 0xA0FB },
        EntryBreak("guest.cs.ar.dpl.conforming", "CS type 15 DPL 3 > SS.DPL 0") { $0[.guestCSAccessRights] = 0xA0FF },
        EntryBreak("guest.ss.ar.dpl", "SS.DPL 3 with SS.RPL 0 (CS.DPL 3 too)") { $0[.guestCSAccessRights] = 0xA0FB; $0[.guestSSAccessRights] = 0xC0F3 },
        EntryBreak("guest.cs.ar.l-db", "IA-32e mode guest with CS.L = 1 and D/B = 1") { $0[.guestCSAccessRights] = 0xE09B },
    ]
    for s in dataSegs {
        let f = VMCSFieldID.guestSegment[s].selector
        b.append(EntryBreak("guest.\(n(s)).ar.dpl", "DPL 0 < RPL 3 for a data segment") { $0[f] = 0x13 })
    }
    // TR and LDTR
    b += [
        EntryBreak("guest.tr.ar.type", "type 3 (16-bit busy TSS) in IA-32e mode") { $0[.guestTRAccessRights] = 0x83 },
        EntryBreak("guest.tr.ar.type", "type 9 (available TSS) outside IA-32e mode") { $0.pae32(); $0[.guestTRAccessRights] = 0x89 },
        EntryBreak("guest.tr.ar.s", "S = 1") { $0[.guestTRAccessRights] = 0x9B },
        EntryBreak("guest.tr.ar.p", "P = 0") { $0[.guestTRAccessRights] = 0x0B },
        EntryBreak("guest.tr.ar.reserved-11-8", "bit 8 set") { $0[.guestTRAccessRights] = 0x18B },
        EntryBreak("guest.tr.ar.g.limit-low", "G = 1 with limit 67H") { $0[.guestTRAccessRights] = 0x808B },
        EntryBreak("guest.tr.ar.g.limit-high", "G = 0 with limit 100067H") { $0[.guestTRLimit] = 0x10_0067 },
        EntryBreak("guest.tr.ar.unusable", "unusable TR") { $0[.guestTRAccessRights] = 0x1_008B },
        EntryBreak("guest.tr.ar.reserved-31-17", "bit 17 set") { $0[.guestTRAccessRights] = 0x2_008B },
        EntryBreak("guest.ldtr.ar.type", "usable LDTR of type 3") { $0.ldt(); $0[.guestLDTRAccessRights] = 0x83 },
        EntryBreak("guest.ldtr.ar.s", "usable LDTR with S = 1") { $0.ldt(); $0[.guestLDTRAccessRights] = 0x92 },
        EntryBreak("guest.ldtr.ar.p", "usable LDTR with P = 0") { $0.ldt(); $0[.guestLDTRAccessRights] = 0x02 },
        EntryBreak("guest.ldtr.ar.reserved-11-8", "usable LDTR with bit 8 set") { $0.ldt(); $0[.guestLDTRAccessRights] = 0x182 },
        EntryBreak("guest.ldtr.ar.g.limit-low", "usable LDTR, G = 1 with limit FFFEH") {
            $0.ldt(); $0[.guestLDTRAccessRights] = 0x8082; $0[.guestLDTRLimit] = 0xFFFE
        },
        EntryBreak("guest.ldtr.ar.g.limit-high", "usable LDTR, G = 0 with limit 1FFFFFH") { $0.ldt(); $0[.guestLDTRLimit] = 0x1F_FFFF },
        EntryBreak("guest.ldtr.ar.reserved-31-17", "usable LDTR with bit 17 set") { $0.ldt(); $0[.guestLDTRAccessRights] = 0x2_0082 },
    ]
    // §26.3.1.3
    b += [
        EntryBreak("guest.gdtr.base.canonical", "non-canonical") { $0[.guestGDTRBase] = nonCanonical },
        EntryBreak("guest.idtr.base.canonical", "non-canonical") { $0[.guestIDTRBase] = nonCanonical },
        EntryBreak("guest.gdtr.limit", "limit 10000H") { $0[.guestGDTRLimit] = 0x1_0000 },
        EntryBreak("guest.idtr.limit", "limit 10000H") { $0[.guestIDTRLimit] = 0x1_0000 },
    ]
    // §26.3.1.4
    b += [
        EntryBreak("guest.rip.high", "compatibility mode (CS.L = 0) with RIP above 4 GBytes") {
            $0[.guestCSAccessRights] = 0xC09B; $0[.guestRIP] = 0x1_0000_0000
        },
        EntryBreak("guest.rip.high", "32-bit guest with RIP above 4 GBytes") { $0.pae32(); $0[.guestRIP] = 0x1_0000_0000 },
        EntryBreak("guest.rip.canonical", "64-bit mode with RIP bits 63:48 not identical") { $0[.guestRIP] = 0x0001_0000_0000_0000 },
        EntryBreak("guest.rflags.reserved", "bit 3 set") { $0.or(.guestRFLAGS, 1 << 3) },
        EntryBreak("guest.rflags.reserved", "bit 22 set") { $0.or(.guestRFLAGS, 1 << 22) },
        EntryBreak("guest.rflags.bit1", "bit 1 clear") { $0[.guestRFLAGS] = 0 },
        EntryBreak("guest.rflags.vm-ia32e", "RFLAGS.VM with IA-32e mode guest (virtual-8086 segments)") { $0.v86Segments() },
        EntryBreak("guest.rflags.if-extint", "external interrupt injected with IF = 0") { $0.inject(extInt) },
    ]
    // §26.3.1.5
    b += [
        EntryBreak("guest.activity.state", "shutdown: IA32_VMX_MISC bit 7 = 0") { $0[.guestActivityState] = 2 },
        EntryBreak("guest.activity.state", "wait-for-SIPI: IA32_VMX_MISC bit 8 = 0") { $0[.guestActivityState] = 3 },
        EntryBreak("guest.activity.state", "4 is no activity state") { $0[.guestActivityState] = 4 },
        EntryBreak("guest.activity.hlt-ss-dpl", "HLT at CPL 3") {
            $0[.guestCSSelector] = 0x0B; $0[.guestCSAccessRights] = 0xA0FB
            $0[.guestSSSelector] = 0x13; $0[.guestSSAccessRights] = 0xC0F3; $0[.guestActivityState] = 1
        },
        EntryBreak("guest.activity.blocking", "HLT with blocking by STI") {
            $0.or(.guestRFLAGS, RFLAGS.if); $0[.guestInterruptibilityState] = 1; $0[.guestActivityState] = 1
        },
        EntryBreak("guest.activity.injection", "#GP injected into HLT") {
            $0[.guestActivityState] = 1; $0.inject(0x8000_0B0D)
        },
        EntryBreak("guest.interruptibility.reserved", "bit 5 set") { $0[.guestInterruptibilityState] = 0x20 },
        EntryBreak("guest.interruptibility.sti-movss", "blocking by STI and MOV SS") { $0.or(.guestRFLAGS, RFLAGS.if); $0[.guestInterruptibilityState] = 3 },
        EntryBreak("guest.interruptibility.sti-if", "blocking by STI with IF = 0") { $0[.guestInterruptibilityState] = 1 },
        EntryBreak("guest.interruptibility.extint", "external interrupt with blocking by MOV SS") {
            $0.or(.guestRFLAGS, RFLAGS.if); $0.inject(extInt); $0[.guestInterruptibilityState] = 2
        },
        EntryBreak("guest.interruptibility.extint", "external interrupt with blocking by STI") {
            $0.or(.guestRFLAGS, RFLAGS.if); $0.inject(extInt); $0[.guestInterruptibilityState] = 1
        },
        EntryBreak("guest.interruptibility.nmi-movss", "NMI with blocking by MOV SS") { $0.inject(0x8000_0202); $0[.guestInterruptibilityState] = 2 },
        EntryBreak("guest.interruptibility.smi", "blocking by SMI outside SMM") { $0[.guestInterruptibilityState] = 4 },
        EntryBreak("guest.interruptibility.enclave", "enclave interruption without SGX") { $0[.guestInterruptibilityState] = 0x10 },
        EntryBreak("guest.pending-dbg.reserved", "bit 4 set") { $0[.guestPendingDebugExceptions] = 0x10 },
        EntryBreak("guest.pending-dbg.reserved", "bit 13 set") { $0[.guestPendingDebugExceptions] = 0x2000 },
        EntryBreak("guest.pending-dbg.reserved", "bit 17 set") { $0[.guestPendingDebugExceptions] = 0x2_0000 },
        EntryBreak("guest.pending-dbg.rtm", "RTM bit without RTM support") { $0[.guestPendingDebugExceptions] = 0x1_0000 },
        EntryBreak("guest.pending-dbg.bs-set", "HLT, TF = 1, BTF = 0, BS = 0") { $0[.guestActivityState] = 1; $0.or(.guestRFLAGS, RFLAGS.tf) },
        EntryBreak("guest.pending-dbg.bs-clear", "HLT, TF = 0, BS = 1") { $0[.guestActivityState] = 1; $0[.guestPendingDebugExceptions] = 0x4000 },
        EntryBreak("guest.pending-dbg.bs-clear", "MOV-SS blocking, TF = 1, BTF = 1, BS = 1") {
            $0[.guestInterruptibilityState] = 2; $0.or(.guestRFLAGS, RFLAGS.tf); $0[.guestDebugCtl] = 2; $0[.guestPendingDebugExceptions] = 0x4000
        },
        EntryBreak("guest.link-pointer.align", "link pointer B001H") { $0[.vmcsLinkPointer] = 0xB001 },
        EntryBreak("guest.link-pointer.width", "link pointer sets bit 52") { $0[.vmcsLinkPointer] = 1 << 52 },
        EntryBreak("guest.link-pointer.revision", "referenced region has another revision identifier") {
            $0[.vmcsLinkPointer] = 0xB000; $0.write(0xB000, UInt64(VMXModel.revision) + 1, bytes: 4)
        },
        EntryBreak("guest.link-pointer.shadow", "shadow-VMCS indicator 1 with VMCS shadowing 0") {
            $0[.vmcsLinkPointer] = 0xB000; $0.write(0xB000, UInt64(VMXModel.revision) | 0x8000_0000, bytes: 4)
        },
        EntryBreak("guest.link-pointer.current", "link pointer = current VMCS pointer") { $0[.vmcsLinkPointer] = $0.vmcsPointer },
    ]
    // §26.3.1.6
    for k in 0..<4 {
        let at = UInt64(0x5000 + 8 * k)
        b.append(EntryBreak("guest.pdpte.\(k).reserved", "PAE guest, present PDPTE\(k) with bit 1 set") { $0.pae32(); $0.write(at, 0x6003) })
        b.append(EntryBreak("guest.pdpte.\(k).reserved", "PAE guest, present PDPTE\(k) with bit 51 set") { $0.pae32(); $0.write(at, 1 << 51 | 0x6001) })
    }
    b.append(EntryBreak("guest.pdpte.2.reserved", "virtual-8086 guest under PAE paging, PDPTE2 bit 7 set") { $0.v86(); $0.write(0x5010, 0x6081) })
    return b
}()

/// The sections of the pinned edition with their titles as printed (325462-077US, Vol. 3C).
let sdmEntryCheckSections: [String: String] = [
    "26.2.1.1": "VM-Execution Control Fields",
    "26.2.1.2": "VM-Exit Control Fields",
    "26.2.1.3": "VM-Entry Control Fields",
    "26.2.2": "Checks on Host Control Registers, MSRs, and SSP",
    "26.2.3": "Checks on Host Segment and Descriptor-Table Registers",
    "26.2.4": "Checks Related to Address-Space Size",
    "26.3.1.1": "Checks on Guest Control Registers, Debug Registers, and MSRs",
    "26.3.1.2": "Checks on Guest Segment Registers",
    "26.3.1.3": "Checks on Guest Descriptor-Table Registers",
    "26.3.1.4": "Checks on Guest RIP, RFLAGS, and SSP",
    "26.3.1.5": "Checks on Guest Non-Register State",
    "26.3.1.6": "Checks on Guest Page-Directory-Pointer-Table Entries",
]

/// The failure class the SDM gives a row, from the area its id names.
func sdmFailureClass(_ id: String) -> EntryFailureClass {
    if id.hasPrefix("ctl.") { return .invalidControls }                      // §26.2: VMfailValid 7
    if id.hasPrefix("host.") { return .invalidHostState }                    // §26.2: VMfailValid 8
    if id.hasPrefix("guest.link-pointer.") { return .invalidGuestState(qualification: 4) }  // §26.8
    if id.hasPrefix("guest.pdpte.") { return .invalidGuestState(qualification: 2) }         // §26.8
    return .invalidGuestState(qualification: 0)
}

@Suite struct EntryCheckTests {
    @Test func knownGoodVMCSPassesEveryRow() {
        let failures = VMEntryChecks.evaluateAll(EntryEnv.good.context)
        #expect(failures.isEmpty, "\(failures.map { "\($0.check.id): \($0.finding.actual)" })")
        #expect(VMEntryChecks.firstFailure(EntryEnv.good.context) == nil)
    }

    @Test(arguments: entryBreaks)
    func eachMutationFailsItsRow(_ m: EntryBreak) throws {
        var e = EntryEnv.good
        m.apply(&e)
        let first = try #require(VMEntryChecks.firstFailure(e.context), "no row failed")
        #expect(first.check.id == m.row, "first failure \(first.check.id): \(first.finding.actual)")
        #expect(first.check.failure == sdmFailureClass(m.row))
        #expect(VMEntryChecks.evaluateAll(e.context).contains { $0.check.id == m.row })
        #expect(!first.finding.actual.isEmpty && !first.finding.required.isEmpty)
    }

    @Test func rowIdsAreUniqueStableAndEachHasAMutation() {
        let ids = VMEntryChecks.rows.map(\.id)
        #expect(Set(ids).count == ids.count, "duplicate ids: \(Dictionary(grouping: ids) { $0 }.filter { $1.count > 1 }.keys.sorted())")
        for id in ids {
            #expect(id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "." || $0 == "-" }, "\(id)")
            #expect(id.hasPrefix("ctl.") || id.hasPrefix("host.") || id.hasPrefix("guest."), "\(id)")
        }
        let tested = Set(entryBreaks.map(\.row))
        #expect(Set(ids).subtracting(tested).sorted() == [], "rows without a mutation")
        #expect(tested.subtracting(ids).sorted() == [], "mutations for rows that do not exist")
    }

    @Test func rowsCiteTheirSectionsWithTitlesInSDMOrder() {
        var last = ""
        for row in VMEntryChecks.rows {
            #expect(!row.statement.isEmpty && !row.statement.contains("\n"), "\(row.id)")
            #expect(!row.fields.isEmpty, "\(row.id)")
            #expect(sdmEntryCheckSections[row.ref.section] == row.ref.title, "\(row.id): §\(row.ref.section) \"\(row.ref.title)\"")
            let prefix = row.id.hasPrefix("ctl.") ? "26.2.1." : row.id.hasPrefix("host.") ? "26.2." : "26.3.1."
            #expect(row.ref.section.hasPrefix(prefix), "\(row.id) cites §\(row.ref.section)")
            #expect(row.id.hasPrefix("ctl.") || !row.ref.section.hasPrefix("26.2.1."), "\(row.id)")
            // Rows run in SDM order: section numbers never go backwards.
            let key = row.ref.section.split(separator: ".").map { Int($0)! }
            let lastKey = last.isEmpty ? [] : last.split(separator: ".").map { Int($0)! }
            #expect(!key.lexicographicallyPrecedes(lastKey), "\(row.id) (§\(row.ref.section)) after §\(last)")
            last = row.ref.section
        }
        #expect(VMEntryChecks.rows.count == VMEntryChecks.controlRows.count + VMEntryChecks.hostRows.count + VMEntryChecks.guestRows.count)
    }

    @Test func rowCounts() {
        // The numbers the file comments and the README cite.
        #expect(VMEntryChecks.controlRows.count == 30)
        #expect(VMEntryChecks.hostRows.count == 31)
        #expect(VMEntryChecks.guestRows.count == 145)
    }

    /// The rows leave out checks that only a control's 1-setting can reach (the reserved-bit rows
    /// report those controls first). If the model starts advertising one of these, its §26.2/§26.3
    /// checks must become rows: this test names what to add.
    @Test func controlsWithoutRowsAreNotAdvertised() {
        func allowed1(_ w: VMXControlWord) -> UInt32 { UInt32(truncatingIfNeeded: w.capability(true: true) >> 32) }
        let missing: [(VMXControlWord, UInt32, String)] = [
            (VMXModel.pinBased, Pin.virtualNMIs, "NMI exiting/virtual NMIs/NMI-window and blocking-by-NMI checks"),
            (VMXModel.pinBased, Pin.activatePreemptionTimer, "save-preemption-timer check"),
            (VMXModel.pinBased, Pin.processPostedInterrupts, "posted-interrupt checks"),
            (VMXModel.procBased, Proc.useTPRShadow, "virtual-APIC address / TPR threshold checks"),
            (VMXModel.procBased, Proc.nmiWindowExiting, "NMI-window requires virtual NMIs"),
            (VMXModel.procBased, Proc.monitorTrapFlag, "\"other event\" vector 0 and HLT/MTF injection rows"),
            (VMXModel.procBased, Proc.activateTertiaryControls, "tertiary-control checks"),
            (VMXModel.procBased2, Proc2.virtualizeAPICAccesses | Proc2.virtualizeX2APIC | Proc2.virtualInterruptDelivery, "APIC-virtualization checks"),
            (VMXModel.procBased2, Proc2.enableEPT | Proc2.unrestrictedGuest, "EPTP, PDPTE-field and unrestricted-guest checks"),
            (VMXModel.procBased2, Proc2.enableVPID, "VPID ≠ 0 check"),
            (VMXModel.procBased2, Proc2.vmcsShadowing | Proc2.enableVMFunctions | Proc2.enablePML | Proc2.eptViolationVE, "shadowing/VMFUNC/PML/#VE address checks"),
            (VMXModel.exitControls, ExitCtl.loadPerfGlobalCtrl | ExitCtl.savePreemptionTimer, "host IA32_PERF_GLOBAL_CTRL / preemption-timer checks"),
            (VMXModel.entryControls, EntryCtl.entryToSMM | EntryCtl.deactivateDualMonitor | EntryCtl.loadPerfGlobalCtrl, "SMM and guest IA32_PERF_GLOBAL_CTRL checks"),
        ]
        for (word, bits, rows) in missing {
            #expect(allowed1(word) & bits == 0, "\(word.name) now allows \(EntryCheckKit.bitNames(allowed1(word) & bits, word)): add rows for \(rows)")
        }
        #expect(VMXModel.misc & (1 << 7 | 1 << 8) == 0, "shutdown/wait-for-SIPI now supported: extend guest.activity.injection")
    }

    // MARK: SDM facts the rows must respect (no failure where the SDM allows the setting)

    func passes(_ change: (inout EntryEnv) -> Void) -> [String] {
        var e = EntryEnv.good
        change(&e)
        return VMEntryChecks.evaluateAll(e.context).map(\.check.id)
    }

    @Test func trueCapabilityMSRsDecideTheDefault1Controls() throws {
        // Appendix A.2: IA32_VMX_BASIC[55] = 1, so the TRUE_ MSRs decide; they allow
        // "CR3-load exiting" = 0 although IA32_VMX_PROCBASED_CTLS reports it must be 1.
        #expect(VMXModel.basic & (1 << 55) != 0)
        #expect(VMXModel.procBased.capability(true: false) & UInt64(Proc.cr3LoadExiting) != 0)
        #expect(passes { $0[.procBasedControls] &= ~UInt64(Proc.cr3LoadExiting | Proc.cr3StoreExiting) } == [])
        // And the finding names the MSR that decided.
        var e = EntryEnv.good
        e[.procBasedControls] = 0
        let f = try #require(VMEntryChecks.firstFailure(e.context))
        #expect(f.finding.decidedBy?.hasPrefix("IA32_VMX_TRUE_PROCBASED_CTLS = 0x") == true)
        #expect(f.finding.actual.contains("0x"))
    }

    @Test func secondaryControlsAreIgnoredWhenNotActivated() {
        // §26.2.1.1: "If 'activate secondary controls' is 0, no checks are performed on the secondary controls."
        #expect(passes { $0[.secondaryProcControls] = 0xFFFF_FFFF } == [])
    }

    @Test func fourCR3TargetsAreAllowed() throws {
        #expect(passes { $0[.cr3TargetCount] = 4 } == [])
        var e = EntryEnv.good
        e[.cr3TargetCount] = 5
        #expect(try #require(VMEntryChecks.firstFailure(e.context)).finding.decidedBy?.hasPrefix("IA32_VMX_MISC") == true)
    }

    @Test func validEventInjectionPasses() {
        #expect(passes { $0.inject(0x8000_0B0E); $0[.entryExceptionErrorCode] = 0x8002 } == [])   // #PF, error code bit 15 allowed
        #expect(passes { $0.inject(0x8000_0480); $0[.entryInstructionLength] = 2 } == [])         // INT 80H, 2 bytes
        #expect(passes { $0.inject(0x8000_0202) } == [])                                          // NMI
        #expect(passes { $0.or(.guestRFLAGS, RFLAGS.if); $0.inject(extInt) } == [])
        #expect(passes { $0[.guestActivityState] = 1; $0.inject(0x8000_0312) } == [])             // #MC into HLT
    }

    @Test func cdAndNWAreNeverChecked() {
        #expect(passes { $0.or(.hostCR0, CR0.cd | CR0.nw); $0.or(.guestCR0, CR0.cd | CR0.nw) } == [])
    }

    @Test func unusableSegmentsAreNotChecked() {
        // §26.3.1.2: the DS/ES/FS/GS/SS/LDTR access-rights checks apply only if the register is usable.
        #expect(passes {
            for s in [Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs, Seg.ldtr] { $0[ar(s)] = 0x1_0F00 }
            $0[.guestDSBase] = 0xDEAD_0000_0000; $0[.guestLDTRBase] = nonCanonical
        } == [])
    }

    @Test func guestRIPNeedsOnlyBits63To48Identical() {
        // §26.3.1.4: with N = 48 linear-address bits, bits 63:48 must be identical (bit 47 is free).
        #expect(passes { $0[.guestRIP] = 0x0000_8000_0000_0000 } == [])
        #expect(passes { $0[.guestRIP] = 0xFFFF_0000_0000_0000 } == [])
    }

    @Test func virtual8086AndPAEGuestsPass() {
        #expect(passes { $0.v86() } == [])
        #expect(passes { $0.pae32(); for k in 0..<4 { $0.write(UInt64(0x5000 + 8 * k), 0x6001 + UInt64(k) * 0x1000) } } == [])
        // Not-present PDPTEs are not checked; a 64-bit guest's CR3 page is not PDPTEs.
        #expect(passes { $0.pae32(); $0.write(0x5000, 0xFFFF_FFFF_FFFF_FFFE) } == [])
        #expect(passes { $0.write(0x5000, 0x6003) } == [])
    }

    @Test func aValidVMCSLinkPointerPasses() {
        #expect(passes { $0[.vmcsLinkPointer] = 0xB000; $0.write(0xB000, UInt64(VMXModel.revision), bytes: 4) } == [])
    }

    @Test func msrAreasAreCheckedOnlyWithANonZeroCount() {
        #expect(passes { $0[.exitMSRStoreAddress] = 0x7; $0[.exitMSRLoadAddress] = 1 << 60; $0[.entryMSRLoadAddress] = ~0 } == [])
        #expect(passes { $0[.entryMSRLoadCount] = 512; $0[.entryMSRLoadAddress] = (1 << UInt64(maxPhysAddrBits)) - 512 * 16 } == [])
    }
}
