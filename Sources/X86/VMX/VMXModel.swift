/// The VMX capabilities of the modeled CPU — ONE description from which CPUID.1:ECX.VMX, every
/// IA32_VMX_* capability MSR (SDM Appendix A "VMX Capability Reporting Facility"), the fixed
/// bits of CR0/CR4 in VMX operation and the existence of VMCS fields are derived
/// (docs/DESIGN.md, "Capability MSRs describe one coherent CPU"). The CPU honours exactly what is
/// reported here: a control bit is advertised only when the core implements it.

/// Optional VMX features that decide whether VMCS fields exist and controls may be set.
public enum VMXFeature: String, CaseIterable, Sendable {
    case secondaryControls, tertiaryControls
    case vpid, ept, unrestrictedGuest, postedInterrupts, preemptionTimer, virtualNMIs
    case tprShadow, virtualizeAPICAccesses, virtualInterruptDelivery, pml, vmFunctions, eptpSwitching
    case vmcsShadowing, eptViolationVE, xsaves, enclsExiting, enclvExiting, tscScaling, pauseLoopExiting
    case subPagePermissions, loadPerfGlobalCtrl, loadPAT, savePAT, loadEFER, saveEFER, bndcfgs
    case rtitCtl, cet, pkrs, smm
}

/// A named bit of a VMX control word (SDM Vol. 3C §24.6 "VM-Execution Control Fields",
/// §24.7.1 "VM-Exit Controls", §24.8.1 "VM-Entry Controls").
public struct VMXControlBit: Sendable {
    public let bit: Int
    public let name: String
    public init(_ bit: Int, _ name: String) { self.bit = bit; self.name = name }
    public var mask: UInt32 { 1 << UInt32(bit) }
}

/// One control word: its bits (by SDM name), which bits are "default1", and which bits the
/// modeled CPU supports setting to 1.
public struct VMXControlWord: Sendable {
    public let name: String
    public let field: VMCSFieldID
    public let ref: SDM.Ref
    public let bits: [VMXControlBit]
    /// Bits whose default setting is 1 (SDM Appendix A.2 "Reserved Controls and Default Settings").
    public let default1: UInt32
    /// Default1 bits that the TRUE_ capability MSR allows to be 0 (Appendix A.3.x).
    public let trueMayBeZero: UInt32
    /// Bits the CPU supports setting to 1 (beyond default1).
    public let supported: UInt32

    /// The capability MSR value: allowed 0-settings in bits 31:0 (a 1 there means "must be 1"),
    /// allowed 1-settings in bits 63:32 (SDM Appendix A.3.1–A.5).
    public func capability(true isTrue: Bool) -> UInt64 {
        let mustBe1 = isTrue ? default1 & ~trueMayBeZero : default1
        return UInt64(mustBe1) | UInt64(default1 | supported) << 32
    }

    public func bitName(_ b: Int) -> String? { bits.first { $0.bit == b }?.name }
}

public enum VMXModel {
    /// VMCS revision identifier (IA32_VMX_BASIC bits 30:0). Any nonzero 31-bit value; ours.
    public static let revision: UInt32 = 0x0000_0004

    /// Features the modeled CPU has (EPT, VPID, unrestricted guest, the preemption timer, posted
    /// interrupts … are not implemented, so not advertised).
    public static let features: Set<VMXFeature> = [.secondaryControls, .loadPAT, .savePAT, .loadEFER, .saveEFER]

    public static func has(_ f: VMXFeature) -> Bool { features.contains(f) }

    // MARK: Control words (bit names: SDM Tables 24-5, 24-6, 24-7, 24-13, 24-15)

    public static let pinBased = VMXControlWord(
        name: "pin-based VM-execution controls", field: .pinBasedControls,
        ref: SDM.Ref("24.6.1", "Pin-Based VM-Execution Controls"),
        bits: [VMXControlBit(0, "external-interrupt exiting"), VMXControlBit(3, "NMI exiting"),
               VMXControlBit(5, "virtual NMIs"), VMXControlBit(6, "activate VMX-preemption timer"),
               VMXControlBit(7, "process posted interrupts")],
        default1: 0x0000_0016, trueMayBeZero: 0,
        supported: Pin.externalInterruptExiting | Pin.nmiExiting)

    public static let procBased = VMXControlWord(
        name: "primary processor-based VM-execution controls", field: .procBasedControls,
        ref: SDM.Ref("24.6.2", "Processor-Based VM-Execution Controls"),
        bits: [VMXControlBit(2, "interrupt-window exiting"), VMXControlBit(3, "use TSC offsetting"),
               VMXControlBit(7, "HLT exiting"), VMXControlBit(9, "INVLPG exiting"), VMXControlBit(10, "MWAIT exiting"),
               VMXControlBit(11, "RDPMC exiting"), VMXControlBit(12, "RDTSC exiting"),
               VMXControlBit(15, "CR3-load exiting"), VMXControlBit(16, "CR3-store exiting"),
               VMXControlBit(17, "activate tertiary controls"),
               VMXControlBit(19, "CR8-load exiting"), VMXControlBit(20, "CR8-store exiting"),
               VMXControlBit(21, "use TPR shadow"), VMXControlBit(22, "NMI-window exiting"),
               VMXControlBit(23, "MOV-DR exiting"), VMXControlBit(24, "unconditional I/O exiting"),
               VMXControlBit(25, "use I/O bitmaps"), VMXControlBit(27, "monitor trap flag"),
               VMXControlBit(28, "use MSR bitmaps"), VMXControlBit(29, "MONITOR exiting"),
               VMXControlBit(30, "PAUSE exiting"), VMXControlBit(31, "activate secondary controls")],
        // Bits 1, 4–6, 8, 13–16, 26 (SDM Appendix A.3.2).
        default1: 0x0401_E172, trueMayBeZero: Proc.cr3LoadExiting | Proc.cr3StoreExiting,
        supported: Proc.useTSCOffsetting | Proc.hltExiting | Proc.invlpgExiting | Proc.mwaitExiting | Proc.monitorExiting | Proc.rdpmcExiting
            | Proc.rdtscExiting | Proc.cr3LoadExiting | Proc.cr3StoreExiting | Proc.cr8LoadExiting
            | Proc.cr8StoreExiting | Proc.movDRExiting | Proc.unconditionalIOExiting | Proc.useIOBitmaps
            | Proc.useMSRBitmaps | Proc.pauseExiting | Proc.activateSecondaryControls)

    public static let procBased2 = VMXControlWord(
        name: "secondary processor-based VM-execution controls", field: .secondaryProcControls,
        ref: SDM.Ref("24.6.2", "Processor-Based VM-Execution Controls"),
        bits: [VMXControlBit(0, "virtualize APIC accesses"), VMXControlBit(1, "enable EPT"),
               VMXControlBit(2, "descriptor-table exiting"), VMXControlBit(3, "enable RDTSCP"),
               VMXControlBit(4, "virtualize x2APIC mode"), VMXControlBit(5, "enable VPID"),
               VMXControlBit(6, "WBINVD exiting"), VMXControlBit(7, "unrestricted guest"),
               VMXControlBit(8, "APIC-register virtualization"), VMXControlBit(9, "virtual-interrupt delivery"),
               VMXControlBit(10, "PAUSE-loop exiting"), VMXControlBit(11, "RDRAND exiting"),
               VMXControlBit(12, "enable INVPCID"), VMXControlBit(13, "enable VM functions"),
               VMXControlBit(14, "VMCS shadowing"), VMXControlBit(15, "enable ENCLS exiting"),
               VMXControlBit(16, "RDSEED exiting"), VMXControlBit(17, "enable PML"),
               VMXControlBit(18, "EPT-violation #VE"), VMXControlBit(19, "conceal VMX from PT"),
               VMXControlBit(20, "enable XSAVES/XRSTORS"), VMXControlBit(22, "mode-based execute control for EPT"),
               VMXControlBit(23, "sub-page write permissions for EPT"), VMXControlBit(24, "Intel PT uses guest physical addresses"),
               VMXControlBit(25, "use TSC scaling"), VMXControlBit(26, "enable user wait and pause"),
               VMXControlBit(28, "enable ENCLV exiting")],
        default1: 0, trueMayBeZero: 0,
        supported: Proc2.descriptorTableExiting | Proc2.enableRDTSCP | Proc2.wbinvdExiting)

    public static let exitControls = VMXControlWord(
        name: "VM-exit controls", field: .exitControls,
        ref: SDM.Ref("24.7.1", "VM-Exit Controls"),
        bits: [VMXControlBit(2, "save debug controls"), VMXControlBit(9, "host address-space size"),
               VMXControlBit(12, "load IA32_PERF_GLOBAL_CTRL"), VMXControlBit(15, "acknowledge interrupt on exit"),
               VMXControlBit(18, "save IA32_PAT"), VMXControlBit(19, "load IA32_PAT"),
               VMXControlBit(20, "save IA32_EFER"), VMXControlBit(21, "load IA32_EFER"),
               VMXControlBit(22, "save VMX-preemption timer value"), VMXControlBit(23, "clear IA32_BNDCFGS"),
               VMXControlBit(24, "conceal VMX from PT"), VMXControlBit(25, "clear IA32_RTIT_CTL"),
               VMXControlBit(28, "load CET state"), VMXControlBit(29, "load PKRS")],
        // Bits 0–8, 10, 11, 13, 14, 16, 17 (SDM Appendix A.4).
        default1: 0x0003_6DFF, trueMayBeZero: ExitCtl.saveDebugControls,
        supported: ExitCtl.hostAddressSpaceSize | ExitCtl.acknowledgeInterruptOnExit | ExitCtl.savePAT
            | ExitCtl.loadPAT | ExitCtl.saveEFER | ExitCtl.loadEFER)

    public static let entryControls = VMXControlWord(
        name: "VM-entry controls", field: .entryControls,
        ref: SDM.Ref("24.8.1", "VM-Entry Controls"),
        bits: [VMXControlBit(2, "load debug controls"), VMXControlBit(9, "IA-32e mode guest"),
               VMXControlBit(10, "entry to SMM"), VMXControlBit(11, "deactivate dual-monitor treatment"),
               VMXControlBit(13, "load IA32_PERF_GLOBAL_CTRL"), VMXControlBit(14, "load IA32_PAT"),
               VMXControlBit(15, "load IA32_EFER"), VMXControlBit(16, "load IA32_BNDCFGS"),
               VMXControlBit(17, "conceal VMX from PT"), VMXControlBit(18, "load IA32_RTIT_CTL"),
               VMXControlBit(20, "load CET state"), VMXControlBit(22, "load PKRS")],
        // Bits 0–8, 12 (SDM Appendix A.5).
        default1: 0x0000_11FF, trueMayBeZero: EntryCtl.loadDebugControls,
        supported: EntryCtl.ia32eModeGuest | EntryCtl.loadPAT | EntryCtl.loadEFER)

    public static let controlWords = [pinBased, procBased, procBased2, exitControls, entryControls]

    // MARK: Fixed bits of CR0/CR4 in VMX operation (SDM Appendix A.7, A.8)

    /// IA32_VMX_CR0_FIXED0: bits that must be 1 — PE, NE, PG (§23.8 "Restrictions on VMX Operation").
    public static let cr0Fixed0: UInt64 = CR0.pe | CR0.ne | CR0.pg
    /// IA32_VMX_CR0_FIXED1: bits that may be 1 — every CR0 bit the CPU implements.
    public static let cr0Fixed1: UInt64 = 0xFFFF_FFFF
    /// IA32_VMX_CR4_FIXED0: VMXE must be 1.
    public static let cr4Fixed0: UInt64 = CR4.vmxe
    /// IA32_VMX_CR4_FIXED1: the CR4 bits the CPU supports, with VMXE.
    public static var cr4Fixed1: UInt64 { CPU.cr4Supported | CR4.vmxe }

    // MARK: Other capability MSRs

    /// IA32_VMX_BASIC (SDM Appendix A.1 "Basic VMX Information"): revision; VMCS region size 4096
    /// (bits 44:32); 0 in bit 48 (addresses up to the physical-address width); dual-monitor
    /// treatment not supported (bit 49 = 0); write-back VMCS memory type (bits 53:50 = 6);
    /// INS/OUTS instruction information reported (bit 54); TRUE_ MSRs exist (bit 55);
    /// bit 56 = 0: hardware exceptions injected with an error code only when the SDM says so.
    public static var basic: UInt64 {
        UInt64(revision) | (4096 << 32) | (6 << 50) | (1 << 54) | (1 << 55)
    }

    /// IA32_VMX_MISC (Appendix A.6): bit 5 = VM exits store EFER.LMA into the "IA-32e mode guest"
    /// entry control; activity states supported: HLT only (bit 6); 4 CR3-target values (bits 24:16);
    /// max MSR-list entries = 512 × (N + 1) with N = 0 (bits 27:25); bit 29: VMWRITE may write the
    /// read-only VM-exit information fields = 0 (not supported); MSEG revision 0.
    public static var misc: UInt64 { (1 << 5) | (1 << 6) | (4 << 16) }

    /// Maximum number of MSRs in one VM-entry/exit MSR list (Appendix A.6: 512 × (N + 1)).
    public static let maxMSRListEntries: UInt64 = 512

    /// IA32_VMX_EPT_VPID_CAP: no EPT, no VPID yet — the MSR reads 0... but it exists
    /// only if the secondary controls allow EPT or VPID (Appendix A.10), so RDMSR #GPs.
    public static let hasEPTVPIDCap = false
}

/// Control bits by name (the SDM tables cited in `VMXModel`).
public enum Pin {
    public static let externalInterruptExiting: UInt32 = 1 << 0, nmiExiting: UInt32 = 1 << 3
    public static let virtualNMIs: UInt32 = 1 << 5, activatePreemptionTimer: UInt32 = 1 << 6
    public static let processPostedInterrupts: UInt32 = 1 << 7
}
public enum Proc {
    public static let interruptWindowExiting: UInt32 = 1 << 2, useTSCOffsetting: UInt32 = 1 << 3
    public static let hltExiting: UInt32 = 1 << 7, invlpgExiting: UInt32 = 1 << 9, mwaitExiting: UInt32 = 1 << 10
    public static let rdpmcExiting: UInt32 = 1 << 11, rdtscExiting: UInt32 = 1 << 12
    public static let cr3LoadExiting: UInt32 = 1 << 15, cr3StoreExiting: UInt32 = 1 << 16
    public static let activateTertiaryControls: UInt32 = 1 << 17
    public static let cr8LoadExiting: UInt32 = 1 << 19, cr8StoreExiting: UInt32 = 1 << 20
    public static let useTPRShadow: UInt32 = 1 << 21, nmiWindowExiting: UInt32 = 1 << 22
    public static let movDRExiting: UInt32 = 1 << 23, unconditionalIOExiting: UInt32 = 1 << 24
    public static let useIOBitmaps: UInt32 = 1 << 25, monitorTrapFlag: UInt32 = 1 << 27
    public static let useMSRBitmaps: UInt32 = 1 << 28, monitorExiting: UInt32 = 1 << 29
    public static let pauseExiting: UInt32 = 1 << 30, activateSecondaryControls: UInt32 = 1 << 31
}
public enum Proc2 {
    public static let virtualizeAPICAccesses: UInt32 = 1 << 0, enableEPT: UInt32 = 1 << 1
    public static let descriptorTableExiting: UInt32 = 1 << 2, enableRDTSCP: UInt32 = 1 << 3
    public static let virtualizeX2APIC: UInt32 = 1 << 4, enableVPID: UInt32 = 1 << 5
    public static let wbinvdExiting: UInt32 = 1 << 6, unrestrictedGuest: UInt32 = 1 << 7
    public static let apicRegisterVirtualization: UInt32 = 1 << 8, virtualInterruptDelivery: UInt32 = 1 << 9
    public static let pauseLoopExiting: UInt32 = 1 << 10, rdrandExiting: UInt32 = 1 << 11
    public static let enableINVPCID: UInt32 = 1 << 12, enableVMFunctions: UInt32 = 1 << 13
    public static let vmcsShadowing: UInt32 = 1 << 14, rdseedExiting: UInt32 = 1 << 16
    public static let enablePML: UInt32 = 1 << 17, eptViolationVE: UInt32 = 1 << 18
    public static let enableXSAVES: UInt32 = 1 << 20, useTSCScaling: UInt32 = 1 << 25
}
public enum ExitCtl {
    public static let saveDebugControls: UInt32 = 1 << 2, hostAddressSpaceSize: UInt32 = 1 << 9
    public static let loadPerfGlobalCtrl: UInt32 = 1 << 12, acknowledgeInterruptOnExit: UInt32 = 1 << 15
    public static let savePAT: UInt32 = 1 << 18, loadPAT: UInt32 = 1 << 19
    public static let saveEFER: UInt32 = 1 << 20, loadEFER: UInt32 = 1 << 21
    public static let savePreemptionTimer: UInt32 = 1 << 22
}
public enum EntryCtl {
    public static let loadDebugControls: UInt32 = 1 << 2, ia32eModeGuest: UInt32 = 1 << 9
    public static let entryToSMM: UInt32 = 1 << 10, deactivateDualMonitor: UInt32 = 1 << 11
    public static let loadPerfGlobalCtrl: UInt32 = 1 << 13, loadPAT: UInt32 = 1 << 14, loadEFER: UInt32 = 1 << 15
}

/// The IA32_VMX_* capability MSR indices (SDM Vol. 4 Table 2-2; Appendix A).
public enum VMXMSR {
    public static let basic: UInt32 = 0x480, pinbasedCtls: UInt32 = 0x481, procbasedCtls: UInt32 = 0x482
    public static let exitCtls: UInt32 = 0x483, entryCtls: UInt32 = 0x484, misc: UInt32 = 0x485
    public static let cr0Fixed0: UInt32 = 0x486, cr0Fixed1: UInt32 = 0x487
    public static let cr4Fixed0: UInt32 = 0x488, cr4Fixed1: UInt32 = 0x489, vmcsEnum: UInt32 = 0x48A
    public static let procbasedCtls2: UInt32 = 0x48B, eptVPIDCap: UInt32 = 0x48C
    public static let truePinbasedCtls: UInt32 = 0x48D, trueProcbasedCtls: UInt32 = 0x48E
    public static let trueExitCtls: UInt32 = 0x48F, trueEntryCtls: UInt32 = 0x490, vmfunc: UInt32 = 0x491
    public static let procbasedCtls3: UInt32 = 0x492

    public static let names: [UInt32: String] = [
        basic: "IA32_VMX_BASIC", pinbasedCtls: "IA32_VMX_PINBASED_CTLS", procbasedCtls: "IA32_VMX_PROCBASED_CTLS",
        exitCtls: "IA32_VMX_EXIT_CTLS", entryCtls: "IA32_VMX_ENTRY_CTLS", misc: "IA32_VMX_MISC",
        cr0Fixed0: "IA32_VMX_CR0_FIXED0", cr0Fixed1: "IA32_VMX_CR0_FIXED1", cr4Fixed0: "IA32_VMX_CR4_FIXED0",
        cr4Fixed1: "IA32_VMX_CR4_FIXED1", vmcsEnum: "IA32_VMX_VMCS_ENUM", procbasedCtls2: "IA32_VMX_PROCBASED_CTLS2",
        eptVPIDCap: "IA32_VMX_EPT_VPID_CAP", truePinbasedCtls: "IA32_VMX_TRUE_PINBASED_CTLS",
        trueProcbasedCtls: "IA32_VMX_TRUE_PROCBASED_CTLS", trueExitCtls: "IA32_VMX_TRUE_EXIT_CTLS",
        trueEntryCtls: "IA32_VMX_TRUE_ENTRY_CTLS", vmfunc: "IA32_VMX_VMFUNC", procbasedCtls3: "IA32_VMX_PROCBASED_CTLS3",
    ]

    /// The value of a capability MSR, or nil when the modeled CPU does not have that MSR
    /// (RDMSR then #GPs, SDM Appendix A: EPT_VPID_CAP and VMFUNC exist only with the controls
    /// that need them). `vmcsEnumValue` comes from the field table (highest index of a field that exists).
    public static func value(_ index: UInt32, vmcsEnumValue: UInt64) -> UInt64? {
        switch index {
        case basic: return VMXModel.basic
        case pinbasedCtls: return VMXModel.pinBased.capability(true: false)
        case procbasedCtls: return VMXModel.procBased.capability(true: false)
        case exitCtls: return VMXModel.exitControls.capability(true: false)
        case entryCtls: return VMXModel.entryControls.capability(true: false)
        case misc: return VMXModel.misc
        case cr0Fixed0: return VMXModel.cr0Fixed0
        case cr0Fixed1: return VMXModel.cr0Fixed1
        case cr4Fixed0: return VMXModel.cr4Fixed0
        case cr4Fixed1: return VMXModel.cr4Fixed1
        case vmcsEnum: return vmcsEnumValue
        case procbasedCtls2: return VMXModel.procBased2.capability(true: false)
        case truePinbasedCtls: return VMXModel.pinBased.capability(true: true)
        case trueProcbasedCtls: return VMXModel.procBased.capability(true: true)
        case trueExitCtls: return VMXModel.exitControls.capability(true: true)
        case trueEntryCtls: return VMXModel.entryControls.capability(true: true)
        default: return nil
        }
    }
}
