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

    /// One row per reason: the number (the case), the stable name, the title Table C-1 prints,
    /// and other spellings `lookup` accepts (Linux/KVM trace names that differ from the name).
    public struct Row: Sendable {
        public let reason: VMXExitReason
        /// The stable identifier used by `expect exit NAME`, `break exit NAME`, `exits --reason
        /// NAME` and JSON output. Upper case, no spaces; mostly the spelling of Linux's `EXIT_REASON_*`.
        public let name: String
        /// The reason's name as Table C-1 prints it.
        public let sdmName: String
        public let aliases: [String]
        init(_ reason: VMXExitReason, _ name: String, _ sdmName: String, aliases: [String] = []) {
            self.reason = reason; self.name = name; self.sdmName = sdmName; self.aliases = aliases
        }
    }

    /// The table, in number order (a test checks that every case has exactly one row).
    public static let table: [Row] = [
        Row(.exceptionOrNMI, "EXCEPTION_NMI", "Exception or non-maskable interrupt (NMI)"),
        Row(.externalInterrupt, "EXTERNAL_INTERRUPT", "External interrupt"),
        Row(.tripleFault, "TRIPLE_FAULT", "Triple fault"),
        Row(.initSignal, "INIT_SIGNAL", "INIT signal", aliases: ["INIT"]),
        Row(.sipi, "SIPI", "Start-up IPI (SIPI)", aliases: ["SIPI_SIGNAL"]),
        Row(.ioSMI, "IO_SMI", "I/O system-management interrupt (SMI)"),
        Row(.otherSMI, "OTHER_SMI", "Other SMI"),
        Row(.interruptWindow, "INTERRUPT_WINDOW", "Interrupt window", aliases: ["PENDING_INTERRUPT"]),
        Row(.nmiWindow, "NMI_WINDOW", "NMI window"),
        Row(.taskSwitch, "TASK_SWITCH", "Task switch"),
        Row(.cpuid, "CPUID", "CPUID"),
        Row(.getsec, "GETSEC", "GETSEC"),
        Row(.hlt, "HLT", "HLT"),
        Row(.invd, "INVD", "INVD"),
        Row(.invlpg, "INVLPG", "INVLPG"),
        Row(.rdpmc, "RDPMC", "RDPMC"),
        Row(.rdtsc, "RDTSC", "RDTSC"),
        Row(.rsm, "RSM", "RSM"),
        Row(.vmcall, "VMCALL", "VMCALL"),
        Row(.vmclear, "VMCLEAR", "VMCLEAR"),
        Row(.vmlaunch, "VMLAUNCH", "VMLAUNCH"),
        Row(.vmptrld, "VMPTRLD", "VMPTRLD"),
        Row(.vmptrst, "VMPTRST", "VMPTRST"),
        Row(.vmread, "VMREAD", "VMREAD"),
        Row(.vmresume, "VMRESUME", "VMRESUME"),
        Row(.vmwrite, "VMWRITE", "VMWRITE"),
        Row(.vmxoff, "VMXOFF", "VMXOFF"),
        Row(.vmxon, "VMXON", "VMXON"),
        Row(.crAccess, "CR_ACCESS", "Control-register accesses"),
        Row(.movDR, "DR_ACCESS", "MOV DR", aliases: ["MOV_DR"]),
        Row(.ioInstruction, "IO_INSTRUCTION", "I/O instruction", aliases: ["IO"]),
        Row(.rdmsr, "RDMSR", "RDMSR", aliases: ["MSR_READ"]),
        Row(.wrmsr, "WRMSR", "WRMSR", aliases: ["MSR_WRITE"]),
        Row(.invalidGuestState, "INVALID_GUEST_STATE", "VM-entry failure due to invalid guest state", aliases: ["INVALID_STATE"]),
        Row(.msrLoading, "MSR_LOAD_FAIL", "VM-entry failure due to MSR loading"),
        Row(.mwait, "MWAIT", "MWAIT", aliases: ["MWAIT_INSTRUCTION"]),
        Row(.monitorTrapFlag, "MONITOR_TRAP_FLAG", "Monitor trap flag"),
        Row(.monitor, "MONITOR", "MONITOR", aliases: ["MONITOR_INSTRUCTION"]),
        Row(.pause, "PAUSE", "PAUSE", aliases: ["PAUSE_INSTRUCTION"]),
        Row(.machineCheckDuringEntry, "MCE_DURING_VMENTRY", "VM-entry failure due to machine-check event"),
        Row(.tprBelowThreshold, "TPR_BELOW_THRESHOLD", "TPR below threshold"),
        Row(.apicAccess, "APIC_ACCESS", "APIC access"),
        Row(.virtualizedEOI, "VIRTUALIZED_EOI", "Virtualized EOI", aliases: ["EOI_INDUCED"]),
        Row(.gdtrIDTRAccess, "GDTR_IDTR", "Access to GDTR or IDTR"),
        Row(.ldtrTRAccess, "LDTR_TR", "Access to LDTR or TR"),
        Row(.eptViolation, "EPT_VIOLATION", "EPT violation"),
        Row(.eptMisconfiguration, "EPT_MISCONFIG", "EPT misconfiguration"),
        Row(.invept, "INVEPT", "INVEPT"),
        Row(.rdtscp, "RDTSCP", "RDTSCP"),
        Row(.preemptionTimerExpired, "PREEMPTION_TIMER", "VMX-preemption timer expired", aliases: ["PREEMPTION_TIMER_EXPIRED"]),
        Row(.invvpid, "INVVPID", "INVVPID"),
        Row(.wbinvd, "WBINVD", "WBINVD or WBNOINVD"),
        Row(.xsetbv, "XSETBV", "XSETBV"),
        Row(.apicWrite, "APIC_WRITE", "APIC write"),
        Row(.rdrand, "RDRAND", "RDRAND"),
        Row(.invpcid, "INVPCID", "INVPCID"),
        Row(.vmfunc, "VMFUNC", "VMFUNC"),
        Row(.encls, "ENCLS", "ENCLS"),
        Row(.rdseed, "RDSEED", "RDSEED"),
        Row(.pmlFull, "PML_FULL", "Page-modification log full"),
        Row(.xsaves, "XSAVES", "XSAVES"),
        Row(.xrstors, "XRSTORS", "XRSTORS"),
        Row(.pconfig, "PCONFIG", "PCONFIG"),
        Row(.sppEvent, "SPP_EVENT", "SPP-related event"),
        Row(.umwait, "UMWAIT", "UMWAIT"),
        Row(.tpause, "TPAUSE", "TPAUSE"),
        Row(.loadiwkey, "LOADIWKEY", "LOADIWKEY"),
        Row(.enclv, "ENCLV", "ENCLV"),
        Row(.enqcmdPASIDTranslationFailure, "ENQCMD_PASID_FAIL", "ENQCMD PASID translation failure"),
        Row(.enqcmdsPASIDTranslationFailure, "ENQCMDS_PASID_FAIL", "ENQCMDS PASID translation failure"),
        Row(.busLock, "BUS_LOCK", "Bus lock"),
        Row(.instructionTimeout, "NOTIFY", "Instruction timeout", aliases: ["INSTRUCTION_TIMEOUT"]),
    ]

    private static let rowByNumber: [UInt16: Row] =
        Dictionary(table.map { ($0.reason.rawValue, $0) }, uniquingKeysWith: { a, _ in a })

    /// This reason's row (every case has one; `REASON_n` if the table ever missed one).
    public var row: Row { Self.rowByNumber[rawValue] ?? Row(self, "REASON_\(rawValue)", "Exit reason \(rawValue)") }
    public var name: String { row.name }
    public var aliases: [String] { row.aliases }
    public var sdmName: String { row.sdmName }

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
