/// The VMCS field table — THE one source of VMCS field metadata (docs/DESIGN.md, "The tables").
///. VMREAD/VMWRITE validity (VM-instruction error 12), the storage
/// slot of each field in the VMCS page, IA32_VMX_VMCS_ENUM, the REPL's `vmcs` listings, field-name
/// completion, JSON output and gdb pseudo-registers all derive from `VMCSFields.all`.
///
/// Layout of a field encoding (SDM Vol. 3C §24.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields",
/// Table 24-21 "Structure of VMCS Component Encoding"):
///
///     31           15 14  13 12 11  10 9            1  0
///    +---------------+------+--+------+--------------+----+
///    |  reserved (0) | width|0 | type |    index     | AT |
///    +---------------+------+--+------+--------------+----+
///     width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width
///     type:  0 control, 1 VM-exit information (read-only), 2 guest state, 3 host state
///     AT (access type): 0 full, 1 high (64-bit fields only: bits 63:32)

/// Field width: encoding bits 14:13.
public enum VMCSWidth: Int, Sendable, CaseIterable {
    case bits16 = 0, bits64 = 1, bits32 = 2, natural = 3

    /// Short name for listings.
    public var name: String {
        switch self {
        case .bits16: return "16-bit"
        case .bits64: return "64-bit"
        case .bits32: return "32-bit"
        case .natural: return "natural"
        }
    }
    /// Size in bytes on a processor that supports Intel 64 (natural width = 64 bits).
    public var bytes: Int {
        switch self {
        case .bits16: return 2
        case .bits32: return 4
        case .bits64, .natural: return 8
        }
    }
    /// The mask of the bits the field holds (natural width = 64 bits).
    public var mask: UInt64 {
        switch self {
        case .bits16: return 0xFFFF
        case .bits32: return 0xFFFF_FFFF
        case .bits64, .natural: return ~0
        }
    }
}

/// Field type ("kind" here, to stay clear of Swift's `Type`): encoding bits 11:10.
public enum VMCSKind: Int, Sendable, CaseIterable {
    case control = 0, readOnlyData = 1, guestState = 2, hostState = 3

    public var name: String {
        switch self {
        case .control: return "control"
        case .readOnlyData: return "read-only data"
        case .guestState: return "guest state"
        case .hostState: return "host state"
        }
    }
}

/// The four areas of the VMCS data (SDM §24.3 "Organization of VMCS Data": guest-state area,
/// host-state area, VM-execution/exit/entry control fields, VM-exit information fields).
/// `vmcs guest` shows every group whose `area` is `.guest`.
public enum VMCSArea: String, Sendable, CaseIterable {
    case control = "control", exitInfo = "exit-info", guest = "guest", host = "host"
}

/// How the REPL groups fields (`vmcs GROUP`): the SDM's own grouping (§24.4 … §24.9), with the
/// guest and host areas split into registers, segments (with GDTR/IDTR) and MSRs.
public enum VMCSGroup: String, Sendable, CaseIterable {
    case executionControls = "exec"
    case exitControls = "exit-ctl"
    case entryControls = "entry-ctl"
    case exitInformation = "exit-info"
    case guestRegisters = "guest-regs"
    case guestSegments = "guest-segs"
    case guestMSRs = "guest-msrs"
    case guestNonRegister = "guest-nonreg"
    case hostRegisters = "host-regs"
    case hostSegments = "host-segs"
    case hostMSRs = "host-msrs"

    /// The short lowercase name the REPL accepts (`vmcs exec`).
    public var name: String { rawValue }

    public var area: VMCSArea {
        switch self {
        case .executionControls, .exitControls, .entryControls: return .control
        case .exitInformation: return .exitInfo
        case .guestRegisters, .guestSegments, .guestMSRs, .guestNonRegister: return .guest
        case .hostRegisters, .hostSegments, .hostMSRs: return .host
        }
    }
    /// Alias of `area`, the name the REPL design uses.
    public var parent: VMCSArea { area }

    public var title: String {
        switch self {
        case .executionControls: return "VM-execution control fields"
        case .exitControls: return "VM-exit control fields"
        case .entryControls: return "VM-entry control fields"
        case .exitInformation: return "VM-exit information fields"
        case .guestRegisters: return "Guest register state"
        case .guestSegments: return "Guest segment registers and descriptor tables"
        case .guestMSRs: return "Guest MSRs"
        case .guestNonRegister: return "Guest non-register state"
        case .hostRegisters: return "Host registers"
        case .hostSegments: return "Host segment selectors and base addresses"
        case .hostMSRs: return "Host MSRs"
        }
    }

    public var ref: SDM.Ref {
        switch self {
        case .executionControls: return SDM.Ref("24.6", "VM-Execution Control Fields")
        case .exitControls: return SDM.Ref("24.7", "VM-Exit Control Fields")
        case .entryControls: return SDM.Ref("24.8", "VM-Entry Control Fields")
        case .exitInformation: return SDM.Ref("24.9", "VM-Exit Information Fields")
        case .guestRegisters, .guestSegments, .guestMSRs: return SDM.Ref("24.4.1", "Guest Register State")
        case .guestNonRegister: return SDM.Ref("24.4.2", "Guest Non-Register State")
        case .hostRegisters, .hostSegments, .hostMSRs: return SDM.Ref("24.5", "Host-State Area")
        }
    }

    /// The groups of one area, in listing order.
    public static func groups(in area: VMCSArea) -> [VMCSGroup] { allCases.filter { $0.area == area } }

    /// A group or area by its short name (case-insensitive): the groups it selects.
    public static func select(_ text: String) -> [VMCSGroup]? {
        let t = text.lowercased()
        if let g = VMCSGroup(rawValue: t) { return [g] }
        if let a = VMCSArea(rawValue: t) { return groups(in: a) }
        return nil
    }
}

/// One row of the field table.
public struct VMCSField: Sendable, CustomStringConvertible {
    public let id: VMCSFieldID
    /// The "full" encoding (bit 0 = 0).
    public let encoding: UInt32
    /// The conventional upper-case name (Linux `enum vmcs_field` spelling where Linux has one).
    public let name: String
    /// The field's name as printed in SDM Appendix B (without "(full)"/"(high)").
    public let sdmName: String
    public let width: VMCSWidth
    public let kind: VMCSKind
    public let group: VMCSGroup
    /// The feature whose support makes the field exist (Appendix B footnotes); nil = always exists.
    public let existsIf: VMXFeature?
    /// The §24.x section that describes the field.
    public let ref: SDM.Ref

    /// Bits 9:1 of the encoding.
    public var index: Int { Int((encoding >> 1) & 0x1FF) }
    /// The encoding of the high 32 bits of a 64-bit field (access type 1), nil otherwise.
    public var highEncoding: UInt32? { width == .bits64 ? encoding | 1 : nil }
    public var area: VMCSArea { group.area }
    /// VMWRITE may not write read-only data fields (VM-instruction error 13; IA32_VMX_MISC bit 29 = 0).
    public var isReadOnly: Bool { kind == .readOnlyData }

    /// The Appendix B section and table that lists the field's encoding (derived from width and kind).
    public var appendixB: SDM.Ref {
        let kindTitle: String
        switch kind {
        case .control: kindTitle = "Control"
        case .readOnlyData: kindTitle = "Read-Only Data"
        case .guestState: kindTitle = "Guest-State"
        case .hostState: kindTitle = "Host-State"
        }
        // 16-bit fields have no read-only data table, so B.1.x and Tables B-1…B-3 skip it.
        let (section, widthTitle, firstTable): (Int, String, Int) = switch width {
        case .bits16: (1, "16-Bit", 1)
        case .bits64: (2, "64-Bit", 4)
        case .bits32: (3, "32-Bit", 8)
        case .natural: (4, "Natural-Width", 12)
        }
        let sub = width == .bits16 && kind != .control ? kind.rawValue : kind.rawValue + 1
        let plural = (width == .bits64 && kind == .readOnlyData) || (width == .bits32 && kind == .hostState) ? "Field" : "Fields"
        return SDM.Ref("B.\(section).\(sub) (Table B-\(firstTable + sub - 1))", "\(widthTitle) \(kindTitle) \(plural)")
    }

    public var description: String { "\(name) (0x\(hex(encoding, 4)))" }
}

public enum VMCSFields {
    // MARK: The table

    /// One row per `VMCSFieldID` case, in Appendix B order (Tables B-1 … B-15). The row index is
    /// the field's storage slot in the VMCS page (`slot(_:)`).
    ///
    /// Width and kind are written per Appendix B table (the `T(...)` headers), not computed from
    /// the encoding, so the test that compares them with encoding bits 14:13 and 11:10 checks
    /// something. Section references follow the pinned edition (`SDM.edition`).
    public static let all: [VMCSField] = {
        var rows: [VMCSField] = []
        rows.reserveCapacity(VMCSFieldID.allCases.count)
        func T(_ w: VMCSWidth, _ k: VMCSKind, _ add: ((VMCSFieldID, String, String, VMCSGroup, VMXFeature?, SDM.Ref) -> Void) -> Void) {
            add { id, name, sdm, group, feature, ref in
                rows.append(VMCSField(id: id, encoding: id.rawValue, name: name, sdmName: sdm, width: w, kind: k,
                                      group: group, existsIf: feature, ref: ref))
            }
        }

        // B.1.1 16-Bit Control Fields (Table B-1)
        T(.bits16, .control) { r in
            r(.vpid, "VIRTUAL_PROCESSOR_ID", "Virtual-processor identifier (VPID)", .executionControls, .vpid, S.vpid)
            r(.postedInterruptNotificationVector, "POSTED_INTR_NV", "Posted-interrupt notification vector", .executionControls, .postedInterrupts, S.apicVirt)
            r(.eptpIndex, "EPTP_INDEX", "EPTP index", .executionControls, .eptViolationVE, S.ve)
        }
        // B.1.2 16-Bit Guest-State Fields (Table B-2)
        T(.bits16, .guestState) { r in
            r(.guestESSelector, "GUEST_ES_SELECTOR", "Guest ES selector", .guestSegments, nil, S.guestReg)
            r(.guestCSSelector, "GUEST_CS_SELECTOR", "Guest CS selector", .guestSegments, nil, S.guestReg)
            r(.guestSSSelector, "GUEST_SS_SELECTOR", "Guest SS selector", .guestSegments, nil, S.guestReg)
            r(.guestDSSelector, "GUEST_DS_SELECTOR", "Guest DS selector", .guestSegments, nil, S.guestReg)
            r(.guestFSSelector, "GUEST_FS_SELECTOR", "Guest FS selector", .guestSegments, nil, S.guestReg)
            r(.guestGSSelector, "GUEST_GS_SELECTOR", "Guest GS selector", .guestSegments, nil, S.guestReg)
            r(.guestLDTRSelector, "GUEST_LDTR_SELECTOR", "Guest LDTR selector", .guestSegments, nil, S.guestReg)
            r(.guestTRSelector, "GUEST_TR_SELECTOR", "Guest TR selector", .guestSegments, nil, S.guestReg)
            r(.guestInterruptStatus, "GUEST_INTR_STATUS", "Guest interrupt status", .guestNonRegister, .virtualInterruptDelivery, S.guestNonReg)
            r(.pmlIndex, "GUEST_PML_INDEX", "PML index", .guestNonRegister, .pml, S.guestNonReg)
        }
        // B.1.3 16-Bit Host-State Fields (Table B-3)
        T(.bits16, .hostState) { r in
            r(.hostESSelector, "HOST_ES_SELECTOR", "Host ES selector", .hostSegments, nil, S.host)
            r(.hostCSSelector, "HOST_CS_SELECTOR", "Host CS selector", .hostSegments, nil, S.host)
            r(.hostSSSelector, "HOST_SS_SELECTOR", "Host SS selector", .hostSegments, nil, S.host)
            r(.hostDSSelector, "HOST_DS_SELECTOR", "Host DS selector", .hostSegments, nil, S.host)
            r(.hostFSSelector, "HOST_FS_SELECTOR", "Host FS selector", .hostSegments, nil, S.host)
            r(.hostGSSelector, "HOST_GS_SELECTOR", "Host GS selector", .hostSegments, nil, S.host)
            r(.hostTRSelector, "HOST_TR_SELECTOR", "Host TR selector", .hostSegments, nil, S.host)
        }
        // B.2.1 64-Bit Control Fields (Table B-4)
        T(.bits64, .control) { r in
            r(.ioBitmapA, "IO_BITMAP_A", "Address of I/O bitmap A", .executionControls, nil, S.ioBitmaps)
            r(.ioBitmapB, "IO_BITMAP_B", "Address of I/O bitmap B", .executionControls, nil, S.ioBitmaps)
            // Appendix B: exists only with the 1-setting of "use MSR bitmaps". There is no
            // VMXFeature for it because every model we describe supports that control.
            r(.msrBitmaps, "MSR_BITMAP", "Address of MSR bitmaps", .executionControls, nil, S.msrBitmap)
            r(.exitMSRStoreAddress, "VM_EXIT_MSR_STORE_ADDR", "VM-exit MSR-store address", .exitControls, nil, S.exitMSR)
            r(.exitMSRLoadAddress, "VM_EXIT_MSR_LOAD_ADDR", "VM-exit MSR-load address", .exitControls, nil, S.exitMSR)
            r(.entryMSRLoadAddress, "VM_ENTRY_MSR_LOAD_ADDR", "VM-entry MSR-load address", .entryControls, nil, S.entryMSR)
            // The executive-VMCS pointer serves the dual-monitor treatment of SMIs (§24.6.10,
            // §34.15), but Table B-4 gives it no "exists only on processors that …" footnote:
            // it exists on every VMX processor, so VMREAD/VMWRITE of it must succeed. Not .smm.
            r(.executiveVMCSPointer, "EXECUTIVE_VMCS_POINTER", "Executive-VMCS pointer", .executionControls, nil, S.execVMCS)
            r(.pmlAddress, "PML_ADDRESS", "PML address", .executionControls, .pml, S.pml)
            r(.tscOffset, "TSC_OFFSET", "TSC offset", .executionControls, nil, S.tsc)
            r(.virtualAPICAddress, "VIRTUAL_APIC_PAGE_ADDR", "Virtual-APIC address", .executionControls, .tprShadow, S.apicVirt)
            r(.apicAccessAddress, "APIC_ACCESS_ADDR", "APIC-access address", .executionControls, .virtualizeAPICAccesses, S.apicVirt)
            r(.postedInterruptDescriptorAddress, "POSTED_INTR_DESC_ADDR", "Posted-interrupt descriptor address", .executionControls, .postedInterrupts, S.apicVirt)
            r(.vmFunctionControls, "VM_FUNCTION_CONTROL", "VM-function controls", .executionControls, .vmFunctions, S.vmfunc)
            r(.eptPointer, "EPT_POINTER", "EPT pointer (EPTP)", .executionControls, .ept, S.eptp)
            r(.eoiExitBitmap0, "EOI_EXIT_BITMAP0", "EOI-exit bitmap 0 (EOI_EXIT0)", .executionControls, .virtualInterruptDelivery, S.apicVirt)
            r(.eoiExitBitmap1, "EOI_EXIT_BITMAP1", "EOI-exit bitmap 1 (EOI_EXIT1)", .executionControls, .virtualInterruptDelivery, S.apicVirt)
            r(.eoiExitBitmap2, "EOI_EXIT_BITMAP2", "EOI-exit bitmap 2 (EOI_EXIT2)", .executionControls, .virtualInterruptDelivery, S.apicVirt)
            r(.eoiExitBitmap3, "EOI_EXIT_BITMAP3", "EOI-exit bitmap 3 (EOI_EXIT3)", .executionControls, .virtualInterruptDelivery, S.apicVirt)
            // Appendix B footnote: the 1-setting of the "EPTP switching" VM function.
            r(.eptpListAddress, "EPTP_LIST_ADDRESS", "EPTP-list address", .executionControls, .eptpSwitching, S.vmfunc)
            r(.vmreadBitmapAddress, "VMREAD_BITMAP", "VMREAD-bitmap address", .executionControls, .vmcsShadowing, S.shadow)
            r(.vmwriteBitmapAddress, "VMWRITE_BITMAP", "VMWRITE-bitmap address", .executionControls, .vmcsShadowing, S.shadow)
            r(.veInformationAddress, "VE_INFORMATION_ADDRESS", "Virtualization-exception information address", .executionControls, .eptViolationVE, S.ve)
            r(.xssExitingBitmap, "XSS_EXIT_BITMAP", "XSS-exiting bitmap", .executionControls, .xsaves, S.xss)
            r(.enclsExitingBitmap, "ENCLS_EXITING_BITMAP", "ENCLS-exiting bitmap", .executionControls, .enclsExiting, S.encls)
            r(.subPagePermissionTablePointer, "SPPT_POINTER", "Sub-page-permission-table pointer", .executionControls, .subPagePermissions, S.spp)
            r(.tscMultiplier, "TSC_MULTIPLIER", "TSC multiplier", .executionControls, .tscScaling, S.tsc)
            r(.tertiaryProcControls, "TERTIARY_VM_EXEC_CONTROL", "Tertiary processor-based VM-execution controls", .executionControls, .tertiaryControls, S.proc)
            r(.enclvExitingBitmap, "ENCLV_EXITING_BITMAP", "ENCLV-exiting bitmap", .executionControls, .enclvExiting, S.enclv)
        }
        // B.2.2 64-Bit Read-Only Data Field (Table B-5)
        T(.bits64, .readOnlyData) { r in
            r(.guestPhysicalAddress, "GUEST_PHYSICAL_ADDRESS", "Guest-physical address", .exitInformation, .ept, S.exitBasic)
        }
        // B.2.3 64-Bit Guest-State Fields (Table B-6)
        T(.bits64, .guestState) { r in
            r(.vmcsLinkPointer, "VMCS_LINK_POINTER", "VMCS link pointer", .guestNonRegister, nil, S.guestNonReg)
            r(.guestDebugCtl, "GUEST_IA32_DEBUGCTL", "Guest IA32_DEBUGCTL", .guestMSRs, nil, S.guestReg)
            // Appendix B: "load IA32_PAT" entry control or "save IA32_PAT" exit control.
            r(.guestPAT, "GUEST_IA32_PAT", "Guest IA32_PAT", .guestMSRs, .loadPAT, S.guestReg)
            r(.guestEFER, "GUEST_IA32_EFER", "Guest IA32_EFER", .guestMSRs, .loadEFER, S.guestReg)
            r(.guestPerfGlobalCtrl, "GUEST_IA32_PERF_GLOBAL_CTRL", "Guest IA32_PERF_GLOBAL_CTRL", .guestMSRs, .loadPerfGlobalCtrl, S.guestReg)
            r(.guestPDPTE0, "GUEST_PDPTR0", "Guest PDPTE0", .guestNonRegister, .ept, S.guestNonReg)
            r(.guestPDPTE1, "GUEST_PDPTR1", "Guest PDPTE1", .guestNonRegister, .ept, S.guestNonReg)
            r(.guestPDPTE2, "GUEST_PDPTR2", "Guest PDPTE2", .guestNonRegister, .ept, S.guestNonReg)
            r(.guestPDPTE3, "GUEST_PDPTR3", "Guest PDPTE3", .guestNonRegister, .ept, S.guestNonReg)
            r(.guestBNDCFGS, "GUEST_BNDCFGS", "Guest IA32_BNDCFGS", .guestMSRs, .bndcfgs, S.guestReg)
            r(.guestRTITCtl, "GUEST_IA32_RTIT_CTL", "Guest IA32_RTIT_CTL", .guestMSRs, .rtitCtl, S.guestReg)
            r(.guestPKRS, "GUEST_IA32_PKRS", "Guest IA32_PKRS", .guestMSRs, .pkrs, S.guestReg)
        }
        // B.2.4 64-Bit Host-State Fields (Table B-7)
        T(.bits64, .hostState) { r in
            r(.hostPAT, "HOST_IA32_PAT", "Host IA32_PAT", .hostMSRs, .loadPAT, S.host)
            r(.hostEFER, "HOST_IA32_EFER", "Host IA32_EFER", .hostMSRs, .loadEFER, S.host)
            r(.hostPerfGlobalCtrl, "HOST_IA32_PERF_GLOBAL_CTRL", "Host IA32_PERF_GLOBAL_CTRL", .hostMSRs, .loadPerfGlobalCtrl, S.host)
            r(.hostPKRS, "HOST_IA32_PKRS", "Host IA32_PKRS", .hostMSRs, .pkrs, S.host)
        }
        // B.3.1 32-Bit Control Fields (Table B-8)
        T(.bits32, .control) { r in
            r(.pinBasedControls, "PIN_BASED_VM_EXEC_CONTROL", "Pin-based VM-execution controls", .executionControls, nil, S.pin)
            r(.procBasedControls, "CPU_BASED_VM_EXEC_CONTROL", "Primary processor-based VM-execution controls", .executionControls, nil, S.proc)
            r(.exceptionBitmap, "EXCEPTION_BITMAP", "Exception bitmap", .executionControls, nil, S.exceptionBitmap)
            r(.pageFaultErrorCodeMask, "PAGE_FAULT_ERROR_CODE_MASK", "Page-fault error-code mask", .executionControls, nil, S.exceptionBitmap)
            r(.pageFaultErrorCodeMatch, "PAGE_FAULT_ERROR_CODE_MATCH", "Page-fault error-code match", .executionControls, nil, S.exceptionBitmap)
            r(.cr3TargetCount, "CR3_TARGET_COUNT", "CR3-target count", .executionControls, nil, S.cr3Target)
            r(.exitControls, "VM_EXIT_CONTROLS", "VM-exit controls", .exitControls, nil, S.exitCtl)
            r(.exitMSRStoreCount, "VM_EXIT_MSR_STORE_COUNT", "VM-exit MSR-store count", .exitControls, nil, S.exitMSR)
            r(.exitMSRLoadCount, "VM_EXIT_MSR_LOAD_COUNT", "VM-exit MSR-load count", .exitControls, nil, S.exitMSR)
            r(.entryControls, "VM_ENTRY_CONTROLS", "VM-entry controls", .entryControls, nil, S.entryCtl)
            r(.entryMSRLoadCount, "VM_ENTRY_MSR_LOAD_COUNT", "VM-entry MSR-load count", .entryControls, nil, S.entryMSR)
            r(.entryInterruptionInfo, "VM_ENTRY_INTR_INFO_FIELD", "VM-entry interruption-information field", .entryControls, nil, S.entryEvent)
            r(.entryExceptionErrorCode, "VM_ENTRY_EXCEPTION_ERROR_CODE", "VM-entry exception error code", .entryControls, nil, S.entryEvent)
            r(.entryInstructionLength, "VM_ENTRY_INSTRUCTION_LEN", "VM-entry instruction length", .entryControls, nil, S.entryEvent)
            r(.tprThreshold, "TPR_THRESHOLD", "TPR threshold", .executionControls, .tprShadow, S.apicVirt)
            r(.secondaryProcControls, "SECONDARY_VM_EXEC_CONTROL", "Secondary processor-based VM-execution controls", .executionControls, .secondaryControls, S.proc)
            r(.pleGap, "PLE_GAP", "PLE_Gap", .executionControls, .pauseLoopExiting, S.ple)
            r(.pleWindow, "PLE_WINDOW", "PLE_Window", .executionControls, .pauseLoopExiting, S.ple)
        }
        // B.3.2 32-Bit Read-Only Data Fields (Table B-9)
        T(.bits32, .readOnlyData) { r in
            r(.vmInstructionError, "VM_INSTRUCTION_ERROR", "VM-instruction error", .exitInformation, nil, S.vmInstrError)
            r(.exitReason, "VM_EXIT_REASON", "Exit reason", .exitInformation, nil, S.exitBasic)
            r(.exitInterruptionInfo, "VM_EXIT_INTR_INFO", "VM-exit interruption information", .exitInformation, nil, S.exitVectored)
            r(.exitInterruptionErrorCode, "VM_EXIT_INTR_ERROR_CODE", "VM-exit interruption error code", .exitInformation, nil, S.exitVectored)
            r(.idtVectoringInfo, "IDT_VECTORING_INFO_FIELD", "IDT-vectoring information field", .exitInformation, nil, S.exitDuringDelivery)
            r(.idtVectoringErrorCode, "IDT_VECTORING_ERROR_CODE", "IDT-vectoring error code", .exitInformation, nil, S.exitDuringDelivery)
            r(.exitInstructionLength, "VM_EXIT_INSTRUCTION_LEN", "VM-exit instruction length", .exitInformation, nil, S.exitInstruction)
            r(.exitInstructionInfo, "VMX_INSTRUCTION_INFO", "VM-exit instruction information", .exitInformation, nil, S.exitInstruction)
        }
        // B.3.3 32-Bit Guest-State Fields (Table B-10)
        T(.bits32, .guestState) { r in
            r(.guestESLimit, "GUEST_ES_LIMIT", "Guest ES limit", .guestSegments, nil, S.guestReg)
            r(.guestCSLimit, "GUEST_CS_LIMIT", "Guest CS limit", .guestSegments, nil, S.guestReg)
            r(.guestSSLimit, "GUEST_SS_LIMIT", "Guest SS limit", .guestSegments, nil, S.guestReg)
            r(.guestDSLimit, "GUEST_DS_LIMIT", "Guest DS limit", .guestSegments, nil, S.guestReg)
            r(.guestFSLimit, "GUEST_FS_LIMIT", "Guest FS limit", .guestSegments, nil, S.guestReg)
            r(.guestGSLimit, "GUEST_GS_LIMIT", "Guest GS limit", .guestSegments, nil, S.guestReg)
            r(.guestLDTRLimit, "GUEST_LDTR_LIMIT", "Guest LDTR limit", .guestSegments, nil, S.guestReg)
            r(.guestTRLimit, "GUEST_TR_LIMIT", "Guest TR limit", .guestSegments, nil, S.guestReg)
            r(.guestGDTRLimit, "GUEST_GDTR_LIMIT", "Guest GDTR limit", .guestSegments, nil, S.guestReg)
            r(.guestIDTRLimit, "GUEST_IDTR_LIMIT", "Guest IDTR limit", .guestSegments, nil, S.guestReg)
            r(.guestESAccessRights, "GUEST_ES_AR_BYTES", "Guest ES access rights", .guestSegments, nil, S.guestReg)
            r(.guestCSAccessRights, "GUEST_CS_AR_BYTES", "Guest CS access rights", .guestSegments, nil, S.guestReg)
            r(.guestSSAccessRights, "GUEST_SS_AR_BYTES", "Guest SS access rights", .guestSegments, nil, S.guestReg)
            r(.guestDSAccessRights, "GUEST_DS_AR_BYTES", "Guest DS access rights", .guestSegments, nil, S.guestReg)
            r(.guestFSAccessRights, "GUEST_FS_AR_BYTES", "Guest FS access rights", .guestSegments, nil, S.guestReg)
            r(.guestGSAccessRights, "GUEST_GS_AR_BYTES", "Guest GS access rights", .guestSegments, nil, S.guestReg)
            r(.guestLDTRAccessRights, "GUEST_LDTR_AR_BYTES", "Guest LDTR access rights", .guestSegments, nil, S.guestReg)
            r(.guestTRAccessRights, "GUEST_TR_AR_BYTES", "Guest TR access rights", .guestSegments, nil, S.guestReg)
            r(.guestInterruptibilityState, "GUEST_INTERRUPTIBILITY_INFO", "Guest interruptibility state", .guestNonRegister, nil, S.guestNonReg)
            r(.guestActivityState, "GUEST_ACTIVITY_STATE", "Guest activity state", .guestNonRegister, nil, S.guestNonReg)
            // SMBASE is guest register state on every VMX processor: Table B-10 has no
            // "exists only …" footnote for it (unlike the preemption-timer value two rows down),
            // and §24.4.1 lists it without a condition. It is not tied to dual-monitor (.smm)
            // support, so existsIf is nil.
            r(.guestSMBASE, "GUEST_SMBASE", "Guest SMBASE", .guestRegisters, nil, S.guestReg)
            r(.guestSysenterCS, "GUEST_SYSENTER_CS", "Guest IA32_SYSENTER_CS", .guestMSRs, nil, S.guestReg)
            r(.preemptionTimerValue, "VMX_PREEMPTION_TIMER_VALUE", "VMX-preemption timer value", .guestNonRegister, .preemptionTimer, S.guestNonReg)
        }
        // B.3.4 32-Bit Host-State Field (Table B-11)
        T(.bits32, .hostState) { r in
            r(.hostSysenterCS, "HOST_IA32_SYSENTER_CS", "Host IA32_SYSENTER_CS", .hostMSRs, nil, S.host)
        }
        // B.4.1 Natural-Width Control Fields (Table B-12)
        T(.natural, .control) { r in
            r(.cr0GuestHostMask, "CR0_GUEST_HOST_MASK", "CR0 guest/host mask", .executionControls, nil, S.crMasks)
            r(.cr4GuestHostMask, "CR4_GUEST_HOST_MASK", "CR4 guest/host mask", .executionControls, nil, S.crMasks)
            r(.cr0ReadShadow, "CR0_READ_SHADOW", "CR0 read shadow", .executionControls, nil, S.crMasks)
            r(.cr4ReadShadow, "CR4_READ_SHADOW", "CR4 read shadow", .executionControls, nil, S.crMasks)
            // All four exist: IA32_VMX_MISC bits 24:16 report 4 CR3-target values.
            r(.cr3TargetValue0, "CR3_TARGET_VALUE0", "CR3-target value 0", .executionControls, nil, S.cr3Target)
            r(.cr3TargetValue1, "CR3_TARGET_VALUE1", "CR3-target value 1", .executionControls, nil, S.cr3Target)
            r(.cr3TargetValue2, "CR3_TARGET_VALUE2", "CR3-target value 2", .executionControls, nil, S.cr3Target)
            r(.cr3TargetValue3, "CR3_TARGET_VALUE3", "CR3-target value 3", .executionControls, nil, S.cr3Target)
        }
        // B.4.2 Natural-Width Read-Only Data Fields (Table B-13)
        T(.natural, .readOnlyData) { r in
            r(.exitQualification, "EXIT_QUALIFICATION", "Exit qualification", .exitInformation, nil, S.exitBasic)
            r(.ioRCX, "IO_RCX", "I/O RCX", .exitInformation, nil, S.exitInstruction)
            r(.ioRSI, "IO_RSI", "I/O RSI", .exitInformation, nil, S.exitInstruction)
            r(.ioRDI, "IO_RDI", "I/O RDI", .exitInformation, nil, S.exitInstruction)
            r(.ioRIP, "IO_RIP", "I/O RIP", .exitInformation, nil, S.exitInstruction)
            r(.guestLinearAddress, "GUEST_LINEAR_ADDRESS", "Guest-linear address", .exitInformation, nil, S.exitBasic)
        }
        // B.4.3 Natural-Width Guest-State Fields (Table B-14)
        T(.natural, .guestState) { r in
            r(.guestCR0, "GUEST_CR0", "Guest CR0", .guestRegisters, nil, S.guestReg)
            r(.guestCR3, "GUEST_CR3", "Guest CR3", .guestRegisters, nil, S.guestReg)
            r(.guestCR4, "GUEST_CR4", "Guest CR4", .guestRegisters, nil, S.guestReg)
            r(.guestESBase, "GUEST_ES_BASE", "Guest ES base", .guestSegments, nil, S.guestReg)
            r(.guestCSBase, "GUEST_CS_BASE", "Guest CS base", .guestSegments, nil, S.guestReg)
            r(.guestSSBase, "GUEST_SS_BASE", "Guest SS base", .guestSegments, nil, S.guestReg)
            r(.guestDSBase, "GUEST_DS_BASE", "Guest DS base", .guestSegments, nil, S.guestReg)
            r(.guestFSBase, "GUEST_FS_BASE", "Guest FS base", .guestSegments, nil, S.guestReg)
            r(.guestGSBase, "GUEST_GS_BASE", "Guest GS base", .guestSegments, nil, S.guestReg)
            r(.guestLDTRBase, "GUEST_LDTR_BASE", "Guest LDTR base", .guestSegments, nil, S.guestReg)
            r(.guestTRBase, "GUEST_TR_BASE", "Guest TR base", .guestSegments, nil, S.guestReg)
            r(.guestGDTRBase, "GUEST_GDTR_BASE", "Guest GDTR base", .guestSegments, nil, S.guestReg)
            r(.guestIDTRBase, "GUEST_IDTR_BASE", "Guest IDTR base", .guestSegments, nil, S.guestReg)
            r(.guestDR7, "GUEST_DR7", "Guest DR7", .guestRegisters, nil, S.guestReg)
            r(.guestRSP, "GUEST_RSP", "Guest RSP", .guestRegisters, nil, S.guestReg)
            r(.guestRIP, "GUEST_RIP", "Guest RIP", .guestRegisters, nil, S.guestReg)
            r(.guestRFLAGS, "GUEST_RFLAGS", "Guest RFLAGS", .guestRegisters, nil, S.guestReg)
            r(.guestPendingDebugExceptions, "GUEST_PENDING_DBG_EXCEPTIONS", "Guest pending debug exceptions", .guestNonRegister, nil, S.guestNonReg)
            r(.guestSysenterESP, "GUEST_SYSENTER_ESP", "Guest IA32_SYSENTER_ESP", .guestMSRs, nil, S.guestReg)
            r(.guestSysenterEIP, "GUEST_SYSENTER_EIP", "Guest IA32_SYSENTER_EIP", .guestMSRs, nil, S.guestReg)
            r(.guestSCET, "GUEST_S_CET", "Guest IA32_S_CET", .guestMSRs, .cet, S.guestReg)
            r(.guestSSP, "GUEST_SSP", "Guest SSP", .guestRegisters, .cet, S.guestReg)
            r(.guestInterruptSSPTableAddress, "GUEST_INTR_SSP_TABLE", "Guest IA32_INTERRUPT_SSP_TABLE_ADDR", .guestMSRs, .cet, S.guestReg)
        }
        // B.4.4 Natural-Width Host-State Fields (Table B-15)
        T(.natural, .hostState) { r in
            r(.hostCR0, "HOST_CR0", "Host CR0", .hostRegisters, nil, S.host)
            r(.hostCR3, "HOST_CR3", "Host CR3", .hostRegisters, nil, S.host)
            r(.hostCR4, "HOST_CR4", "Host CR4", .hostRegisters, nil, S.host)
            r(.hostFSBase, "HOST_FS_BASE", "Host FS base", .hostSegments, nil, S.host)
            r(.hostGSBase, "HOST_GS_BASE", "Host GS base", .hostSegments, nil, S.host)
            r(.hostTRBase, "HOST_TR_BASE", "Host TR base", .hostSegments, nil, S.host)
            r(.hostGDTRBase, "HOST_GDTR_BASE", "Host GDTR base", .hostSegments, nil, S.host)
            r(.hostIDTRBase, "HOST_IDTR_BASE", "Host IDTR base", .hostSegments, nil, S.host)
            r(.hostSysenterESP, "HOST_IA32_SYSENTER_ESP", "Host IA32_SYSENTER_ESP", .hostMSRs, nil, S.host)
            r(.hostSysenterEIP, "HOST_IA32_SYSENTER_EIP", "Host IA32_SYSENTER_EIP", .hostMSRs, nil, S.host)
            r(.hostRSP, "HOST_RSP", "Host RSP", .hostRegisters, nil, S.host)
            r(.hostRIP, "HOST_RIP", "Host RIP", .hostRegisters, nil, S.host)
            r(.hostSCET, "HOST_S_CET", "Host IA32_S_CET", .hostMSRs, .cet, S.host)
            r(.hostSSP, "HOST_SSP", "Host SSP", .hostRegisters, .cet, S.host)
            r(.hostInterruptSSPTableAddress, "HOST_INTR_SSP_TABLE", "Host IA32_INTERRUPT_SSP_TABLE_ADDR", .hostMSRs, .cet, S.host)
        }
        return rows
    }()

    /// Sections of Vol. 3C ch. 24 cited by the rows (pinned edition numbering).
    private enum S {
        static let guestReg = SDM.Ref("24.4.1", "Guest Register State")
        static let guestNonReg = SDM.Ref("24.4.2", "Guest Non-Register State")
        static let host = SDM.Ref("24.5", "Host-State Area")
        static let pin = SDM.Ref("24.6.1", "Pin-Based VM-Execution Controls")
        static let proc = SDM.Ref("24.6.2", "Processor-Based VM-Execution Controls")
        static let exceptionBitmap = SDM.Ref("24.6.3", "Exception Bitmap")
        static let ioBitmaps = SDM.Ref("24.6.4", "I/O-Bitmap Addresses")
        static let tsc = SDM.Ref("24.6.5", "Time-Stamp Counter Offset and Multiplier")
        static let crMasks = SDM.Ref("24.6.6", "Guest/Host Masks and Read Shadows for CR0 and CR4")
        static let cr3Target = SDM.Ref("24.6.7", "CR3-Target Controls")
        static let apicVirt = SDM.Ref("24.6.8", "Controls for APIC Virtualization")
        static let msrBitmap = SDM.Ref("24.6.9", "MSR-Bitmap Address")
        static let execVMCS = SDM.Ref("24.6.10", "Executive-VMCS Pointer")
        static let eptp = SDM.Ref("24.6.11", "Extended-Page-Table Pointer (EPTP)")
        static let vpid = SDM.Ref("24.6.12", "Virtual-Processor Identifier (VPID)")
        static let ple = SDM.Ref("24.6.13", "Controls for PAUSE-Loop Exiting")
        static let vmfunc = SDM.Ref("24.6.14", "VM-Function Controls")
        static let shadow = SDM.Ref("24.6.15", "VMCS Shadowing Bitmap Addresses")
        static let encls = SDM.Ref("24.6.16", "ENCLS-Exiting Bitmap")
        static let enclv = SDM.Ref("24.6.17", "ENCLV-Exiting Bitmap")
        static let pml = SDM.Ref("24.6.18", "Control Field for Page-Modification Logging")
        static let ve = SDM.Ref("24.6.19", "Controls for Virtualization Exceptions")
        static let xss = SDM.Ref("24.6.20", "XSS-Exiting Bitmap")
        static let spp = SDM.Ref("24.6.21", "Sub-Page-Permission-Table Pointer (SPPTP)")
        static let exitCtl = SDM.Ref("24.7.1", "VM-Exit Controls")
        static let exitMSR = SDM.Ref("24.7.2", "VM-Exit Controls for MSRs")
        static let entryCtl = SDM.Ref("24.8.1", "VM-Entry Controls")
        static let entryMSR = SDM.Ref("24.8.2", "VM-Entry Controls for MSRs")
        static let entryEvent = SDM.Ref("24.8.3", "VM-Entry Controls for Event Injection")
        static let exitBasic = SDM.Ref("24.9.1", "Basic VM-Exit Information")
        static let exitVectored = SDM.Ref("24.9.2", "Information for VM Exits Due to Vectored Events")
        static let exitDuringDelivery = SDM.Ref("24.9.3", "Information for VM Exits That Occur During Event Delivery")
        static let exitInstruction = SDM.Ref("24.9.4", "Information for VM Exits Due to Instruction Execution")
        static let vmInstrError = SDM.Ref("24.9.5", "VM-Instruction Error Field")
    }

    // MARK: Derived indexes (built once from `all`)

    /// Dense key of a full encoding: width (2 bits), kind (2 bits), index (bits 9:1, 9 bits).
    @inline(__always) static func key(_ enc: UInt32) -> Int {
        Int((enc >> 13) & 3) << 11 | Int((enc >> 10) & 3) << 9 | Int((enc >> 1) & 0x1FF)
    }

    /// Slot by dense key; -1 where no field has that encoding.
    static let slotByKey: [Int16] = {
        var t = [Int16](repeating: -1, count: 1 << 13)
        for (i, f) in all.enumerated() { t[key(f.encoding)] = Int16(i) }
        return t
    }()

    private static let byName: [String: Int] = {
        var d: [String: Int] = [:]
        for (i, f) in all.enumerated() {
            d[f.name.uppercased()] = i
            d[f.sdmName.uppercased()] = i
            d["\(f.id)".uppercased()] = i     // the Swift case name, e.g. guestRIP
        }
        return d
    }()

    // MARK: Queries

    /// The row's index in `all` — the field's storage slot in the VMCS page. O(1).
    @inline(__always) public static func slot(_ id: VMCSFieldID) -> Int {
        Int(slotByKey[key(id.rawValue)])
    }

    public static func field(_ id: VMCSFieldID) -> VMCSField { all[slot(id)] }

    /// The field an encoding names, and whether it is the high access (bit 0 = 1) of a 64-bit
    /// field. Nil when bits 31:15 or bit 12 are not 0, when no field has that encoding, or for
    /// a high access to a field that is not 64-bit (SDM §24.11.2). Existence on the modeled CPU is
    /// a separate question: `exists(_:)` (VMREAD/VMWRITE need both: `supported(_:)`).
    /// (In 64-bit mode VMREAD/VMWRITE also fail when bits 63:32 of the register operand are not 0;
    /// that check belongs to the caller, which holds the 64-bit value.)
    public static func byEncoding(_ enc: UInt32) -> (field: VMCSField, high: Bool)? {
        guard enc & 0xFFFF_9000 == 0 else { return nil }
        let s = slotByKey[key(enc)]
        guard s >= 0 else { return nil }
        let f = all[Int(s)]
        let high = enc & 1 == 1
        if high && f.width != .bits64 { return nil }
        return (f, high)
    }

    /// Does the field exist on the modeled CPU (Appendix B footnotes against `VMXModel.features`)?
    public static func exists(_ f: VMCSField) -> Bool {
        guard let feature = f.existsIf else { return true }
        return VMXModel.has(feature)
    }

    /// VMREAD/VMWRITE validity: the encoding names a field that exists on the modeled CPU.
    /// Nil means VM-instruction error 12 ("VMREAD/VMWRITE from/to unsupported VMCS component").
    public static func supported(_ enc: UInt32) -> (field: VMCSField, high: Bool)? {
        guard let r = byEncoding(enc), exists(r.field) else { return nil }
        return r
    }

    /// A field by its name (`GUEST_RIP`), SDM name (`Guest RIP`), Swift case name (`guestRIP`) —
    /// all case-insensitive — or full encoding in hex (`0x681e`, `681E`, `681eh`; bare digits are
    /// hex, as encodings always are in the SDM). A high encoding (`0x2001`) is not a field: use
    /// `byEncoding` for it.
    public static func lookup(_ text: String) -> VMCSField? {
        let t = vmxTrim(text)
        guard !t.isEmpty else { return nil }
        if let i = byName[t.uppercased()] { return all[i] }
        var h = Substring(t.lowercased())
        if h.hasPrefix("0x") { h = h.dropFirst(2) } else if h.hasSuffix("h") { h = h.dropLast() }
        guard !h.isEmpty, h.count <= 8, let enc = UInt32(h, radix: 16),
              let r = byEncoding(enc), !r.high else { return nil }
        return r.field
    }

    /// Rows of one group, in table order.
    public static func fields(in group: VMCSGroup) -> [VMCSField] { all.filter { $0.group == group } }

    /// IA32_VMX_VMCS_ENUM (SDM Appendix A.9 "VMCS Enumeration"): bits 9:1 hold the highest index
    /// value used for any VMCS encoding that exists on the processor; every other bit is 0.
    public static let vmcsEnumValue: UInt64 = {
        let maxIndex = all.filter(exists).map(\.index).max() ?? 0
        return UInt64(maxIndex) << 1
    }()
}
