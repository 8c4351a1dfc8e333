/// The other VMX tables the core, the REPL and the gdb stub share — each the one source of its
/// numbers and names: basic exit reasons (SDM Appendix C) and VM-instruction errors (§30.4).

// MARK: - Basic exit reasons

/// Basic exit reasons: bits 15:0 of the exit-reason field (SDM Vol. 3D Appendix C
/// "VMX Basic Exit Reasons", Table C-1). Numbers 35, 38, 42 and 71 are not used.
public enum VMXExitReason: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case exceptionOrNMI = 0
    case externalInterrupt = 1
    case tripleFault = 2
    case initSignal = 3
    case sipi = 4
    case ioSMI = 5
    case otherSMI = 6
    case interruptWindow = 7
    case nmiWindow = 8
    case taskSwitch = 9
    case cpuid = 10
    case getsec = 11
    case hlt = 12
    case invd = 13
    case invlpg = 14
    case rdpmc = 15
    case rdtsc = 16
    case rsm = 17
    case vmcall = 18
    case vmclear = 19
    case vmlaunch = 20
    case vmptrld = 21
    case vmptrst = 22
    case vmread = 23
    case vmresume = 24
    case vmwrite = 25
    case vmxoff = 26
    case vmxon = 27
    case crAccess = 28
    case movDR = 29
    case ioInstruction = 30
    case rdmsr = 31
    case wrmsr = 32
    case invalidGuestState = 33
    case msrLoading = 34
    case mwait = 36
    case monitorTrapFlag = 37
    case monitor = 39
    case pause = 40
    case machineCheckDuringEntry = 41
    case tprBelowThreshold = 43
    case apicAccess = 44
    case virtualizedEOI = 45
    case gdtrIDTRAccess = 46
    case ldtrTRAccess = 47
    case eptViolation = 48
    case eptMisconfiguration = 49
    case invept = 50
    case rdtscp = 51
    case preemptionTimerExpired = 52
    case invvpid = 53
    case wbinvd = 54
    case xsetbv = 55
    case apicWrite = 56
    case rdrand = 57
    case invpcid = 58
    case vmfunc = 59
    case encls = 60
    case rdseed = 61
    case pmlFull = 62
    case xsaves = 63
    case xrstors = 64
    case pconfig = 65
    case sppEvent = 66
    case umwait = 67
    case tpause = 68
    case loadiwkey = 69
    case enclv = 70
    case enqcmdPASIDTranslationFailure = 72
    case enqcmdsPASIDTranslationFailure = 73
    case busLock = 74
    case instructionTimeout = 75

    /// The stable identifier used by `expect exit NAME`, `break exit NAME`, `exits --reason NAME`
    /// and JSON output. Upper case, no spaces; mostly the spelling of Linux's `EXIT_REASON_*`.
    public var name: String {
        switch self {
        case .exceptionOrNMI: return "EXCEPTION_NMI"
        case .externalInterrupt: return "EXTERNAL_INTERRUPT"
        case .tripleFault: return "TRIPLE_FAULT"
        case .initSignal: return "INIT_SIGNAL"
        case .sipi: return "SIPI"
        case .ioSMI: return "IO_SMI"
        case .otherSMI: return "OTHER_SMI"
        case .interruptWindow: return "INTERRUPT_WINDOW"
        case .nmiWindow: return "NMI_WINDOW"
        case .taskSwitch: return "TASK_SWITCH"
        case .cpuid: return "CPUID"
        case .getsec: return "GETSEC"
        case .hlt: return "HLT"
        case .invd: return "INVD"
        case .invlpg: return "INVLPG"
        case .rdpmc: return "RDPMC"
        case .rdtsc: return "RDTSC"
        case .rsm: return "RSM"
        case .vmcall: return "VMCALL"
        case .vmclear: return "VMCLEAR"
        case .vmlaunch: return "VMLAUNCH"
        case .vmptrld: return "VMPTRLD"
        case .vmptrst: return "VMPTRST"
        case .vmread: return "VMREAD"
        case .vmresume: return "VMRESUME"
        case .vmwrite: return "VMWRITE"
        case .vmxoff: return "VMXOFF"
        case .vmxon: return "VMXON"
        case .crAccess: return "CR_ACCESS"
        case .movDR: return "DR_ACCESS"
        case .ioInstruction: return "IO_INSTRUCTION"
        case .rdmsr: return "RDMSR"
        case .wrmsr: return "WRMSR"
        case .invalidGuestState: return "INVALID_GUEST_STATE"
        case .msrLoading: return "MSR_LOAD_FAIL"
        case .mwait: return "MWAIT"
        case .monitorTrapFlag: return "MONITOR_TRAP_FLAG"
        case .monitor: return "MONITOR"
        case .pause: return "PAUSE"
        case .machineCheckDuringEntry: return "MCE_DURING_VMENTRY"
        case .tprBelowThreshold: return "TPR_BELOW_THRESHOLD"
        case .apicAccess: return "APIC_ACCESS"
        case .virtualizedEOI: return "VIRTUALIZED_EOI"
        case .gdtrIDTRAccess: return "GDTR_IDTR"
        case .ldtrTRAccess: return "LDTR_TR"
        case .eptViolation: return "EPT_VIOLATION"
        case .eptMisconfiguration: return "EPT_MISCONFIG"
        case .invept: return "INVEPT"
        case .rdtscp: return "RDTSCP"
        case .preemptionTimerExpired: return "PREEMPTION_TIMER"
        case .invvpid: return "INVVPID"
        case .wbinvd: return "WBINVD"
        case .xsetbv: return "XSETBV"
        case .apicWrite: return "APIC_WRITE"
        case .rdrand: return "RDRAND"
        case .invpcid: return "INVPCID"
        case .vmfunc: return "VMFUNC"
        case .encls: return "ENCLS"
        case .rdseed: return "RDSEED"
        case .pmlFull: return "PML_FULL"
        case .xsaves: return "XSAVES"
        case .xrstors: return "XRSTORS"
        case .pconfig: return "PCONFIG"
        case .sppEvent: return "SPP_EVENT"
        case .umwait: return "UMWAIT"
        case .tpause: return "TPAUSE"
        case .loadiwkey: return "LOADIWKEY"
        case .enclv: return "ENCLV"
        case .enqcmdPASIDTranslationFailure: return "ENQCMD_PASID_FAIL"
        case .enqcmdsPASIDTranslationFailure: return "ENQCMDS_PASID_FAIL"
        case .busLock: return "BUS_LOCK"
        case .instructionTimeout: return "NOTIFY"
        }
    }

    /// Other spellings `lookup` accepts: Linux/KVM trace names that differ from `name`.
    public var aliases: [String] {
        switch self {
        case .initSignal: return ["INIT"]
        case .sipi: return ["SIPI_SIGNAL"]
        case .interruptWindow: return ["PENDING_INTERRUPT"]
        case .movDR: return ["MOV_DR"]
        case .ioInstruction: return ["IO"]
        case .rdmsr: return ["MSR_READ"]
        case .wrmsr: return ["MSR_WRITE"]
        case .invalidGuestState: return ["INVALID_STATE"]
        case .mwait: return ["MWAIT_INSTRUCTION"]
        case .monitor: return ["MONITOR_INSTRUCTION"]
        case .pause: return ["PAUSE_INSTRUCTION"]
        case .virtualizedEOI: return ["EOI_INDUCED"]
        case .preemptionTimerExpired: return ["PREEMPTION_TIMER_EXPIRED"]
        case .instructionTimeout: return ["INSTRUCTION_TIMEOUT"]
        default: return []
        }
    }

    /// The reason's name as Table C-1 prints it.
    public var sdmName: String {
        switch self {
        case .exceptionOrNMI: return "Exception or non-maskable interrupt (NMI)"
        case .externalInterrupt: return "External interrupt"
        case .tripleFault: return "Triple fault"
        case .initSignal: return "INIT signal"
        case .sipi: return "Start-up IPI (SIPI)"
        case .ioSMI: return "I/O system-management interrupt (SMI)"
        case .otherSMI: return "Other SMI"
        case .interruptWindow: return "Interrupt window"
        case .nmiWindow: return "NMI window"
        case .taskSwitch: return "Task switch"
        case .cpuid: return "CPUID"
        case .getsec: return "GETSEC"
        case .hlt: return "HLT"
        case .invd: return "INVD"
        case .invlpg: return "INVLPG"
        case .rdpmc: return "RDPMC"
        case .rdtsc: return "RDTSC"
        case .rsm: return "RSM"
        case .vmcall: return "VMCALL"
        case .vmclear: return "VMCLEAR"
        case .vmlaunch: return "VMLAUNCH"
        case .vmptrld: return "VMPTRLD"
        case .vmptrst: return "VMPTRST"
        case .vmread: return "VMREAD"
        case .vmresume: return "VMRESUME"
        case .vmwrite: return "VMWRITE"
        case .vmxoff: return "VMXOFF"
        case .vmxon: return "VMXON"
        case .crAccess: return "Control-register accesses"
        case .movDR: return "MOV DR"
        case .ioInstruction: return "I/O instruction"
        case .rdmsr: return "RDMSR"
        case .wrmsr: return "WRMSR"
        case .invalidGuestState: return "VM-entry failure due to invalid guest state"
        case .msrLoading: return "VM-entry failure due to MSR loading"
        case .mwait: return "MWAIT"
        case .monitorTrapFlag: return "Monitor trap flag"
        case .monitor: return "MONITOR"
        case .pause: return "PAUSE"
        case .machineCheckDuringEntry: return "VM-entry failure due to machine-check event"
        case .tprBelowThreshold: return "TPR below threshold"
        case .apicAccess: return "APIC access"
        case .virtualizedEOI: return "Virtualized EOI"
        case .gdtrIDTRAccess: return "Access to GDTR or IDTR"
        case .ldtrTRAccess: return "Access to LDTR or TR"
        case .eptViolation: return "EPT violation"
        case .eptMisconfiguration: return "EPT misconfiguration"
        case .invept: return "INVEPT"
        case .rdtscp: return "RDTSCP"
        case .preemptionTimerExpired: return "VMX-preemption timer expired"
        case .invvpid: return "INVVPID"
        case .wbinvd: return "WBINVD or WBNOINVD"
        case .xsetbv: return "XSETBV"
        case .apicWrite: return "APIC write"
        case .rdrand: return "RDRAND"
        case .invpcid: return "INVPCID"
        case .vmfunc: return "VMFUNC"
        case .encls: return "ENCLS"
        case .rdseed: return "RDSEED"
        case .pmlFull: return "Page-modification log full"
        case .xsaves: return "XSAVES"
        case .xrstors: return "XRSTORS"
        case .pconfig: return "PCONFIG"
        case .sppEvent: return "SPP-related event"
        case .umwait: return "UMWAIT"
        case .tpause: return "TPAUSE"
        case .loadiwkey: return "LOADIWKEY"
        case .enclv: return "ENCLV"
        case .enqcmdPASIDTranslationFailure: return "ENQCMD PASID translation failure"
        case .enqcmdsPASIDTranslationFailure: return "ENQCMDS PASID translation failure"
        case .busLock: return "Bus lock"
        case .instructionTimeout: return "Instruction timeout"
        }
    }

    /// Reasons that report a VM-entry failure (exit-reason bit 31 set; SDM §26.8 "VM-Entry
    /// Failures During or After Loading Guest State").
    public var isEntryFailure: Bool {
        self == .invalidGuestState || self == .msrLoading || self == .machineCheckDuringEntry
    }

    public static let ref = SDM.Ref("Appendix C", "VMX Basic Exit Reasons")

    public var description: String { "\(rawValue) (\(name))" }

    private static let byName: [String: VMXExitReason] = {
        var d: [String: VMXExitReason] = [:]
        for r in allCases {
            d[r.name] = r
            for a in r.aliases { d[a] = r }
        }
        return d
    }()

    /// A reason by `name` or alias (case-insensitive; `-` and spaces read as `_`), or by number
    /// (decimal, or hex with `0x`).
    public static func lookup(_ text: String) -> VMXExitReason? {
        let t = vmxTrim(text)
        if let n = vmxParseNumber(t) { return n <= UInt64(UInt16.max) ? VMXExitReason(rawValue: UInt16(n)) : nil }
        let key = String(t.uppercased().map { $0 == "-" || $0 == " " ? "_" : $0 })
        return byName[key]
    }
}

// MARK: - VM-instruction errors

/// VM-instruction error numbers (SDM Vol. 3C §30.4 "VM Instruction Error Numbers", Table 30-1),
/// stored in the VM-instruction error field on VMfailValid. Numbers 14, 21 and 27 are not used.
public enum VMInstructionError: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case vmcallInRoot = 1
    case vmclearInvalidAddress = 2
    case vmclearVMXONPointer = 3
    case vmlaunchNonClear = 4
    case vmresumeNonLaunched = 5
    case vmresumeAfterVMXOFF = 6
    case entryInvalidControls = 7
    case entryInvalidHostState = 8
    case vmptrldInvalidAddress = 9
    case vmptrldVMXONPointer = 10
    case vmptrldBadRevision = 11
    case unsupportedComponent = 12
    case vmwriteReadOnly = 13
    case vmxonInRoot = 15
    case entryInvalidExecutiveVMCSPointer = 16
    case entryNonLaunchedExecutiveVMCS = 17
    case entryExecutiveVMCSNotVMXON = 18
    case vmcallNonClear = 19
    case vmcallInvalidExitControls = 20
    case vmcallBadMSEGRevision = 22
    case vmxoffUnderDualMonitor = 23
    case vmcallInvalidSMMMonitorFeatures = 24
    case entryInvalidExecutiveControls = 25
    case entryBlockedByMovSS = 26
    case invalidINVEPTINVVPIDOperand = 28

    /// Table 30-1's description.
    public var sdmText: String {
        switch self {
        case .vmcallInRoot: return "VMCALL executed in VMX root operation"
        case .vmclearInvalidAddress: return "VMCLEAR with invalid physical address"
        case .vmclearVMXONPointer: return "VMCLEAR with VMXON pointer"
        case .vmlaunchNonClear: return "VMLAUNCH with non-clear VMCS"
        case .vmresumeNonLaunched: return "VMRESUME with non-launched VMCS"
        case .vmresumeAfterVMXOFF: return "VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)"
        case .entryInvalidControls: return "VM entry with invalid control field(s)"
        case .entryInvalidHostState: return "VM entry with invalid host-state field(s)"
        case .vmptrldInvalidAddress: return "VMPTRLD with invalid physical address"
        case .vmptrldVMXONPointer: return "VMPTRLD with VMXON pointer"
        case .vmptrldBadRevision: return "VMPTRLD with incorrect VMCS revision identifier"
        case .unsupportedComponent: return "VMREAD/VMWRITE from/to unsupported VMCS component"
        case .vmwriteReadOnly: return "VMWRITE to read-only VMCS component"
        case .vmxonInRoot: return "VMXON executed in VMX root operation"
        case .entryInvalidExecutiveVMCSPointer: return "VM entry with invalid executive-VMCS pointer"
        case .entryNonLaunchedExecutiveVMCS: return "VM entry with non-launched executive VMCS"
        case .entryExecutiveVMCSNotVMXON:
            return "VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the dual-monitor treatment of SMIs and SMM)"
        case .vmcallNonClear:
            return "VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment of SMIs and SMM)"
        case .vmcallInvalidExitControls: return "VMCALL with invalid VM-exit control fields"
        case .vmcallBadMSEGRevision:
            return "VMCALL with incorrect MSEG revision identifier (when attempting to activate the dual-monitor treatment of SMIs and SMM)"
        case .vmxoffUnderDualMonitor: return "VMXOFF under dual-monitor treatment of SMIs and SMM"
        case .vmcallInvalidSMMMonitorFeatures:
            return "VMCALL with invalid SMM-monitor features (when attempting to activate the dual-monitor treatment of SMIs and SMM)"
        case .entryInvalidExecutiveControls:
            return "VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return from SMM)"
        case .entryBlockedByMovSS: return "VM entry with events blocked by MOV SS"
        case .invalidINVEPTINVVPIDOperand: return "Invalid operand to INVEPT/INVVPID"
        }
    }

    public static let ref = SDM.Ref("30.4", "VM Instruction Error Numbers")

    public var description: String { "VM-instruction error \(rawValue): \(sdmText)" }
}

// MARK: - Small shared helpers

/// A number as the REPL spells it: `0x` hex, `…h` hex, or decimal. Nil otherwise.
func vmxParseNumber(_ text: String) -> UInt64? {
    let t = text.lowercased()
    if t.hasPrefix("0x") { return UInt64(t.dropFirst(2).filter { $0 != "_" }, radix: 16) }
    if t.hasSuffix("h"), t.count > 1, let v = UInt64(t.dropLast(), radix: 16) { return v }
    return UInt64(t.filter { $0 != "_" }, radix: 10)
}

/// `text` without leading and trailing blanks (no Foundation in X86).
func vmxTrim(_ text: String) -> String {
    var s = Substring(text)
    while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
    while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
    return String(s)
}
