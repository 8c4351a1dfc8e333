/// Every VMCS field of SDM Appendix B "Field Encoding in VMCS" (Tables B-1 … B-14), by its
/// encoding. The metadata of each field (SDM name, group, "exists if", reference) is in
/// `VMCSFields` — this enum only gives the encodings names the code can use.
/// 64-bit fields are listed by their "full" encoding (bit 0 = 0); the "high" access type
/// (bit 0 = 1) reaches bits 63:32 and is handled by VMREAD/VMWRITE, not listed here.
public enum VMCSFieldID: UInt32, CaseIterable, Sendable {
    // B.1.1 16-Bit Control Fields
    case vpid = 0x0000, postedInterruptNotificationVector = 0x0002, eptpIndex = 0x0004
    // B.1.2 16-Bit Guest-State Fields
    case guestESSelector = 0x0800, guestCSSelector = 0x0802, guestSSSelector = 0x0804, guestDSSelector = 0x0806
    case guestFSSelector = 0x0808, guestGSSelector = 0x080A, guestLDTRSelector = 0x080C, guestTRSelector = 0x080E
    case guestInterruptStatus = 0x0810, pmlIndex = 0x0812
    // B.1.3 16-Bit Host-State Fields
    case hostESSelector = 0x0C00, hostCSSelector = 0x0C02, hostSSSelector = 0x0C04, hostDSSelector = 0x0C06
    case hostFSSelector = 0x0C08, hostGSSelector = 0x0C0A, hostTRSelector = 0x0C0C
    // B.2.1 64-Bit Control Fields
    case ioBitmapA = 0x2000, ioBitmapB = 0x2002, msrBitmaps = 0x2004
    case exitMSRStoreAddress = 0x2006, exitMSRLoadAddress = 0x2008, entryMSRLoadAddress = 0x200A
    case executiveVMCSPointer = 0x200C, pmlAddress = 0x200E, tscOffset = 0x2010
    case virtualAPICAddress = 0x2012, apicAccessAddress = 0x2014, postedInterruptDescriptorAddress = 0x2016
    case vmFunctionControls = 0x2018, eptPointer = 0x201A
    case eoiExitBitmap0 = 0x201C, eoiExitBitmap1 = 0x201E, eoiExitBitmap2 = 0x2020, eoiExitBitmap3 = 0x2022
    case eptpListAddress = 0x2024, vmreadBitmapAddress = 0x2026, vmwriteBitmapAddress = 0x2028
    case veInformationAddress = 0x202A, xssExitingBitmap = 0x202C, enclsExitingBitmap = 0x202E
    case subPagePermissionTablePointer = 0x2030, tscMultiplier = 0x2032, tertiaryProcControls = 0x2034
    case enclvExitingBitmap = 0x2036
    // B.2.2 64-Bit Read-Only Data Field
    case guestPhysicalAddress = 0x2400
    // B.2.3 64-Bit Guest-State Fields
    case vmcsLinkPointer = 0x2800, guestDebugCtl = 0x2802, guestPAT = 0x2804, guestEFER = 0x2806
    case guestPerfGlobalCtrl = 0x2808, guestPDPTE0 = 0x280A, guestPDPTE1 = 0x280C, guestPDPTE2 = 0x280E
    case guestPDPTE3 = 0x2810, guestBNDCFGS = 0x2812, guestRTITCtl = 0x2814, guestPKRS = 0x2818
    // B.2.4 64-Bit Host-State Fields
    case hostPAT = 0x2C00, hostEFER = 0x2C02, hostPerfGlobalCtrl = 0x2C04, hostPKRS = 0x2C06
    // B.3.1 32-Bit Control Fields
    case pinBasedControls = 0x4000, procBasedControls = 0x4002, exceptionBitmap = 0x4004
    case pageFaultErrorCodeMask = 0x4006, pageFaultErrorCodeMatch = 0x4008, cr3TargetCount = 0x400A
    case exitControls = 0x400C, exitMSRStoreCount = 0x400E, exitMSRLoadCount = 0x4010
    case entryControls = 0x4012, entryMSRLoadCount = 0x4014, entryInterruptionInfo = 0x4016
    case entryExceptionErrorCode = 0x4018, entryInstructionLength = 0x401A, tprThreshold = 0x401C
    case secondaryProcControls = 0x401E, pleGap = 0x4020, pleWindow = 0x4022
    // B.3.2 32-Bit Read-Only Data Fields
    case vmInstructionError = 0x4400, exitReason = 0x4402, exitInterruptionInfo = 0x4404
    case exitInterruptionErrorCode = 0x4406, idtVectoringInfo = 0x4408, idtVectoringErrorCode = 0x440A
    case exitInstructionLength = 0x440C, exitInstructionInfo = 0x440E
    // B.3.3 32-Bit Guest-State Fields
    case guestESLimit = 0x4800, guestCSLimit = 0x4802, guestSSLimit = 0x4804, guestDSLimit = 0x4806
    case guestFSLimit = 0x4808, guestGSLimit = 0x480A, guestLDTRLimit = 0x480C, guestTRLimit = 0x480E
    case guestGDTRLimit = 0x4810, guestIDTRLimit = 0x4812
    case guestESAccessRights = 0x4814, guestCSAccessRights = 0x4816, guestSSAccessRights = 0x4818
    case guestDSAccessRights = 0x481A, guestFSAccessRights = 0x481C, guestGSAccessRights = 0x481E
    case guestLDTRAccessRights = 0x4820, guestTRAccessRights = 0x4822
    case guestInterruptibilityState = 0x4824, guestActivityState = 0x4826, guestSMBASE = 0x4828
    case guestSysenterCS = 0x482A, preemptionTimerValue = 0x482E
    // B.3.4 32-Bit Host-State Field
    case hostSysenterCS = 0x4C00
    // B.4.1 Natural-Width Control Fields
    case cr0GuestHostMask = 0x6000, cr4GuestHostMask = 0x6002, cr0ReadShadow = 0x6004, cr4ReadShadow = 0x6006
    case cr3TargetValue0 = 0x6008, cr3TargetValue1 = 0x600A, cr3TargetValue2 = 0x600C, cr3TargetValue3 = 0x600E
    // B.4.2 Natural-Width Read-Only Data Fields
    case exitQualification = 0x6400, ioRCX = 0x6402, ioRSI = 0x6404, ioRDI = 0x6406, ioRIP = 0x6408
    case guestLinearAddress = 0x640A
    // B.4.3 Natural-Width Guest-State Fields
    case guestCR0 = 0x6800, guestCR3 = 0x6802, guestCR4 = 0x6804
    case guestESBase = 0x6806, guestCSBase = 0x6808, guestSSBase = 0x680A, guestDSBase = 0x680C
    case guestFSBase = 0x680E, guestGSBase = 0x6810, guestLDTRBase = 0x6812, guestTRBase = 0x6814
    case guestGDTRBase = 0x6816, guestIDTRBase = 0x6818, guestDR7 = 0x681A, guestRSP = 0x681C
    case guestRIP = 0x681E, guestRFLAGS = 0x6820, guestPendingDebugExceptions = 0x6822
    case guestSysenterESP = 0x6824, guestSysenterEIP = 0x6826
    case guestSCET = 0x6828, guestSSP = 0x682A, guestInterruptSSPTableAddress = 0x682C
    // B.4.4 Natural-Width Host-State Fields
    case hostCR0 = 0x6C00, hostCR3 = 0x6C02, hostCR4 = 0x6C04, hostFSBase = 0x6C06, hostGSBase = 0x6C08
    case hostTRBase = 0x6C0A, hostGDTRBase = 0x6C0C, hostIDTRBase = 0x6C0E
    case hostSysenterESP = 0x6C10, hostSysenterEIP = 0x6C12, hostRSP = 0x6C14, hostRIP = 0x6C16
    case hostSCET = 0x6C18, hostSSP = 0x6C1A, hostInterruptSSPTableAddress = 0x6C1C

    /// Guest segment fields by segment index (`Seg.es` … `Seg.tr`): selector, base, limit, access rights.
    public static let guestSegment: [(selector: VMCSFieldID, base: VMCSFieldID, limit: VMCSFieldID, ar: VMCSFieldID)] = [
        (.guestESSelector, .guestESBase, .guestESLimit, .guestESAccessRights),
        (.guestCSSelector, .guestCSBase, .guestCSLimit, .guestCSAccessRights),
        (.guestSSSelector, .guestSSBase, .guestSSLimit, .guestSSAccessRights),
        (.guestDSSelector, .guestDSBase, .guestDSLimit, .guestDSAccessRights),
        (.guestFSSelector, .guestFSBase, .guestFSLimit, .guestFSAccessRights),
        (.guestGSSelector, .guestGSBase, .guestGSLimit, .guestGSAccessRights),
        (.guestLDTRSelector, .guestLDTRBase, .guestLDTRLimit, .guestLDTRAccessRights),
        (.guestTRSelector, .guestTRBase, .guestTRLimit, .guestTRAccessRights),
    ]
    /// Host selector fields by segment index (`Seg.es` … `Seg.gs`, then TR at index 7; LDTR has none).
    public static let hostSelector: [VMCSFieldID?] = [
        .hostESSelector, .hostCSSelector, .hostSSSelector, .hostDSSelector, .hostFSSelector, .hostGSSelector, nil, .hostTRSelector,
    ]
}
