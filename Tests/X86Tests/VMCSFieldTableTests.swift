// Tests of the VMX data tables: the VMCS field table (VMCSFields), exit reasons and VM-instruction
// errors (VMXTables) and the offline decoders (VMXDecode).
//
// Expected values come from the SDM (edition pinned in SDM.swift), worked by hand in the comments:
// encodings from Appendix B, exit reasons from Appendix C Table C-1, error numbers from §30.4
// Table 30-1, bit layouts from Tables 24-2, 27-3 … 27-14. Nothing here compares the code's output
// with itself.

import Testing
@testable import X86

@Suite("VMCSFieldTable") struct VMCSFieldTableTests {

    // MARK: - One row per field

    @Test func everyFieldIDHasExactlyOneRowInAppendixBOrder() {
        #expect(VMCSFields.all.count == VMCSFieldID.allCases.count)
        #expect(VMCSFields.all.map(\.id) == VMCSFieldID.allCases)
        #expect(Set(VMCSFields.all.map(\.id)).count == VMCSFields.all.count)
        // Appendix B order is width-major (16, 64, 32, natural), then type, then index: the
        // encodings of consecutive rows increase within each table.
        for (a, b) in zip(VMCSFields.all, VMCSFields.all.dropFirst()) where a.width == b.width && a.kind == b.kind {
            #expect(a.encoding < b.encoding, "\(a.name) before \(b.name)")
        }
    }

    @Test func widthAndKindAgreeWithTheEncodingBits() {
        for f in VMCSFields.all {
            #expect(f.encoding == f.id.rawValue, "\(f.name)")
            #expect(Int((f.encoding >> 13) & 3) == f.width.rawValue, "\(f.name): width bits 14:13")
            #expect(Int((f.encoding >> 10) & 3) == f.kind.rawValue, "\(f.name): type bits 11:10")
            #expect(f.encoding & 1 == 0, "\(f.name): full encoding has access type 0")
            #expect(f.encoding & 0x1000 == 0, "\(f.name): bit 12 reserved")
            #expect(f.encoding >> 15 == 0, "\(f.name): bits 31:15 reserved")
            #expect(f.index == Int((f.encoding >> 1) & 0x1FF))
        }
        // Hand-picked rows against Appendix B: GUEST_RIP 0000681EH natural-width guest state, index 15;
        // VM_EXIT_REASON 00004402H 32-bit read-only, index 1; HOST_IA32_EFER 00002C02H 64-bit host.
        let rip = VMCSFields.field(.guestRIP)
        #expect(rip.encoding == 0x681E && rip.width == .natural && rip.kind == .guestState && rip.index == 15)
        let reason = VMCSFields.field(.exitReason)
        #expect(reason.encoding == 0x4402 && reason.width == .bits32 && reason.kind == .readOnlyData && reason.index == 1)
        let efer = VMCSFields.field(.hostEFER)
        #expect(efer.encoding == 0x2C02 && efer.width == .bits64 && efer.kind == .hostState && efer.highEncoding == 0x2C03)
        #expect(VMCSFields.field(.guestCSSelector).highEncoding == nil)
    }

    @Test func groupsSitInTheAreaOfTheFieldType() {
        for f in VMCSFields.all {
            switch f.kind {
            case .control: #expect(f.area == .control, "\(f.name)")
            case .readOnlyData: #expect(f.area == .exitInfo, "\(f.name)")
            case .guestState: #expect(f.area == .guest, "\(f.name)")
            case .hostState: #expect(f.area == .host, "\(f.name)")
            }
        }
        for g in VMCSGroup.allCases { #expect(!VMCSFields.fields(in: g).isEmpty, "group \(g.name) is empty") }
        #expect(VMCSGroup.select("guest") == [.guestRegisters, .guestSegments, .guestMSRs, .guestNonRegister])
        #expect(VMCSGroup.select("EXIT-INFO") == [.exitInformation])
        #expect(VMCSGroup.select("host-msrs") == [.hostMSRs])
        #expect(VMCSGroup.select("nope") == nil)
        #expect(VMCSFields.field(.entryInterruptionInfo).group == .entryControls)
        #expect(VMCSFields.field(.exitMSRLoadCount).group == .exitControls)
        #expect(VMCSFields.field(.guestCSAccessRights).group == .guestSegments)
        #expect(VMCSFields.field(.guestEFER).group == .guestMSRs)
        #expect(VMCSFields.field(.guestActivityState).group == .guestNonRegister)
    }

    @Test func appendixBTableIsDerivedCorrectly() {
        // Appendix B: B.1.1 Table B-1 … B.1.3 Table B-3 (no 16-bit read-only table), B.2.2 Table B-5
        // "64-Bit Read-Only Data Field", B.3.4 Table B-11 "32-Bit Host-State Field", B.4.4 Table B-15.
        #expect(VMCSFields.field(.vpid).appendixB.section == "B.1.1 (Table B-1)")
        #expect(VMCSFields.field(.hostESSelector).appendixB.section == "B.1.3 (Table B-3)")
        #expect(VMCSFields.field(.guestPhysicalAddress).appendixB == SDM.Ref("B.2.2 (Table B-5)", "64-Bit Read-Only Data Field"))
        #expect(VMCSFields.field(.hostSysenterCS).appendixB == SDM.Ref("B.3.4 (Table B-11)", "32-Bit Host-State Field"))
        #expect(VMCSFields.field(.guestRIP).appendixB.section == "B.4.3 (Table B-14)")
        #expect(VMCSFields.field(.hostRIP).appendixB == SDM.Ref("B.4.4 (Table B-15)", "Natural-Width Host-State Fields"))
    }

    // MARK: - Names and lookup

    @Test func namesAndSDMNamesAreUnique() {
        let names = VMCSFields.all.map { $0.name.uppercased() }
        let sdm = VMCSFields.all.map { $0.sdmName.uppercased() }
        #expect(Set(names).count == names.count)
        #expect(Set(sdm).count == sdm.count)
        // No name of one field is the SDM name (or Swift case name) of another: lookup takes all
        // three. (PLE_GAP and "PLE_Gap" are one field's two names, which is fine.)
        var owner: [String: VMCSFieldID] = [:]
        for f in VMCSFields.all {
            for key in Set([f.name.uppercased(), f.sdmName.uppercased(), "\(f.id)".uppercased()]) {
                #expect(owner[key] == nil, "\(key) names both \(owner[key].map { "\($0)" } ?? "") and \(f.id)")
                owner[key] = f.id
            }
        }
        for f in VMCSFields.all {
            #expect(f.name == f.name.uppercased() && !f.name.contains(" "), "\(f.name)")
        }
    }

    @Test func lookupByNameSDMNameAndEncoding() {
        #expect(VMCSFields.lookup("GUEST_RIP")?.id == .guestRIP)
        #expect(VMCSFields.lookup("guest_rip")?.id == .guestRIP)
        #expect(VMCSFields.lookup("Guest RIP")?.id == .guestRIP)
        #expect(VMCSFields.lookup("  guest rip ")?.id == .guestRIP)
        #expect(VMCSFields.lookup("0x681e")?.id == .guestRIP)
        #expect(VMCSFields.lookup("681E")?.id == .guestRIP)
        #expect(VMCSFields.lookup("guestRIP")?.id == .guestRIP)
        // Linux names for the controls (encodings 4000H, 4002H, 401EH; VMCS link pointer 2800H).
        #expect(VMCSFields.lookup("PIN_BASED_VM_EXEC_CONTROL")?.encoding == 0x4000)
        #expect(VMCSFields.lookup("CPU_BASED_VM_EXEC_CONTROL")?.encoding == 0x4002)
        #expect(VMCSFields.lookup("SECONDARY_VM_EXEC_CONTROL")?.encoding == 0x401E)
        #expect(VMCSFields.lookup("VMCS_LINK_POINTER")?.encoding == 0x2800)
        #expect(VMCSFields.lookup("EXIT_QUALIFICATION")?.encoding == 0x6400)
        #expect(VMCSFields.lookup("GUEST_CS_AR_BYTES")?.encoding == 0x4816)
        #expect(VMCSFields.lookup("Exit qualification")?.encoding == 0x6400)
        #expect(VMCSFields.lookup("Primary processor-based VM-execution controls")?.encoding == 0x4002)
        #expect(VMCSFields.lookup("Virtual-processor identifier (VPID)")?.encoding == 0x0000)
        // Not fields: a high encoding, an unused index, garbage.
        #expect(VMCSFields.lookup("0x2001") == nil)
        #expect(VMCSFields.lookup("0x482C") == nil)
        #expect(VMCSFields.lookup("GUEST_RIPX") == nil)
        #expect(VMCSFields.lookup("") == nil)
    }

    @Test func byEncodingAllowsHighAccessOnlyFor64BitFields() {
        // 2001H = I/O bitmap A (high); 2C03H = host IA32_EFER (high).
        let a = VMCSFields.byEncoding(0x2001)
        #expect(a?.field.id == .ioBitmapA && a?.high == true)
        #expect(VMCSFields.byEncoding(0x2C03)?.field.id == .hostEFER)
        #expect(VMCSFields.byEncoding(0x2000)?.high == false)
        // Bit 0 = 1 on 16-bit, 32-bit and natural-width fields: no such component.
        #expect(VMCSFields.byEncoding(0x0801) == nil)
        #expect(VMCSFields.byEncoding(0x4003) == nil)
        #expect(VMCSFields.byEncoding(0x681F) == nil)
        // Reserved bit 12 or bits 31:15 set; unused indexes.
        #expect(VMCSFields.byEncoding(0x781E) == nil)
        #expect(VMCSFields.byEncoding(0x1_681E) == nil)
        #expect(VMCSFields.byEncoding(0x8000_681E) == nil)
        #expect(VMCSFields.byEncoding(0x482C) == nil)
        #expect(VMCSFields.byEncoding(0x0C0E) == nil)
        for f in VMCSFields.all {
            #expect(VMCSFields.byEncoding(f.encoding)?.field.id == f.id)
            #expect((VMCSFields.byEncoding(f.encoding | 1) != nil) == (f.width == .bits64), "\(f.name) high")
        }
    }

    @Test func slotIsABijectionOntoTheRows() {
        let slots = VMCSFieldID.allCases.map(VMCSFields.slot)
        #expect(Set(slots) == Set(0..<VMCSFields.all.count))
        for id in VMCSFieldID.allCases { #expect(VMCSFields.all[VMCSFields.slot(id)].id == id) }
    }

    // MARK: - Existence and IA32_VMX_VMCS_ENUM

    @Test func existsIfFollowsTheAppendixBFootnotes() {
        let f = VMCSFields.field
        #expect(f(.vpid).existsIf == .vpid)
        #expect(f(.postedInterruptNotificationVector).existsIf == .postedInterrupts)
        #expect(f(.eptPointer).existsIf == .ept)
        #expect(f(.guestPDPTE2).existsIf == .ept)
        #expect(f(.guestPhysicalAddress).existsIf == .ept)
        #expect(f(.guestPAT).existsIf == .loadPAT)
        #expect(f(.hostEFER).existsIf == .loadEFER)
        #expect(f(.secondaryProcControls).existsIf == .secondaryControls)
        #expect(f(.preemptionTimerValue).existsIf == .preemptionTimer)
        #expect(f(.virtualAPICAddress).existsIf == .tprShadow)
        #expect(f(.tprThreshold).existsIf == .tprShadow)
        #expect(f(.eptpListAddress).existsIf == .eptpSwitching)
        #expect(f(.guestSSP).existsIf == .cet)
        // No footnote in Tables B-4 / B-10: these exist on every VMX processor.
        #expect(f(.guestSMBASE).existsIf == nil)
        #expect(f(.executiveVMCSPointer).existsIf == nil)
        #expect(f(.guestRIP).existsIf == nil)
        for row in VMCSFields.all {
            #expect(VMCSFields.exists(row) == (row.existsIf.map(VMXModel.has) ?? true))
            #expect((VMCSFields.supported(row.encoding) != nil) == VMCSFields.exists(row))
        }
    }

    @Test func vmcsEnumIsTheHighestIndexOfAnExistingField() {
        // Independently: scan the encodings of every field that exists, take bits 9:1.
        var maxIndex: UInt32 = 0
        for id in VMCSFieldID.allCases where VMCSFields.exists(VMCSFields.field(id)) {
            maxIndex = max(maxIndex, (id.rawValue >> 1) & 0x1FF)
        }
        #expect(VMCSFields.vmcsEnumValue == UInt64(maxIndex) << 1)
        // By hand (Appendix B): the highest indexes are the VMX-preemption timer value (482EH,
        // index 23) when it exists, else guest IA32_SYSENTER_CS (482AH, index 21), which always does.
        #expect(VMCSFields.vmcsEnumValue == (VMXModel.has(.preemptionTimer) ? 0x2E : 0x2A))
        #expect(VMCSFields.vmcsEnumValue & ~UInt64(0x3FE) == 0)
        #expect(VMXMSR.value(VMXMSR.vmcsEnum, vmcsEnumValue: VMCSFields.vmcsEnumValue) == VMCSFields.vmcsEnumValue)
    }

    // MARK: - Exit reasons and VM-instruction errors

    @Test func exitReasonsMatchAppendixC() {
        #expect(VMXExitReason(rawValue: 0)?.name == "EXCEPTION_NMI")
        #expect(VMXExitReason(rawValue: 10) == .cpuid)
        #expect(VMXExitReason.cpuid.name == "CPUID")
        #expect(VMXExitReason(rawValue: 12)?.name == "HLT")
        #expect(VMXExitReason(rawValue: 18)?.name == "VMCALL")
        #expect(VMXExitReason(rawValue: 28)?.sdmName == "Control-register accesses")
        #expect(VMXExitReason(rawValue: 30)?.name == "IO_INSTRUCTION")
        #expect(VMXExitReason(rawValue: 31)?.name == "RDMSR")
        #expect(VMXExitReason(rawValue: 33)?.sdmName == "VM-entry failure due to invalid guest state")
        #expect(VMXExitReason(rawValue: 34)?.sdmName == "VM-entry failure due to MSR loading")
        #expect(VMXExitReason(rawValue: 41)?.sdmName == "VM-entry failure due to machine-check event")
        #expect(VMXExitReason(rawValue: 48)?.name == "EPT_VIOLATION")
        #expect(VMXExitReason(rawValue: 49)?.name == "EPT_MISCONFIG")
        #expect(VMXExitReason(rawValue: 52)?.sdmName == "VMX-preemption timer expired")
        #expect(VMXExitReason(rawValue: 55) == .xsetbv)
        #expect(VMXExitReason(rawValue: 62)?.sdmName == "Page-modification log full")
        // Unused numbers.
        for n: UInt16 in [35, 38, 42, 71] { #expect(VMXExitReason(rawValue: n) == nil) }
        #expect(VMXExitReason.allCases.count == 76 - 4)
        // Entry failures are exactly 33, 34, 41.
        #expect(VMXExitReason.allCases.filter(\.isEntryFailure).map(\.rawValue) == [33, 34, 41])
        // Names and aliases are unique identifiers.
        let all = VMXExitReason.allCases.flatMap { [$0.name] + $0.aliases }
        #expect(Set(all).count == all.count)
        for n in all { #expect(!n.contains(" ") && n == n.uppercased(), "\(n)") }
    }

    @Test func exitReasonLookup() {
        #expect(VMXExitReason.lookup("CPUID") == .cpuid)
        #expect(VMXExitReason.lookup("cpuid") == .cpuid)
        #expect(VMXExitReason.lookup("ept-violation") == .eptViolation)
        #expect(VMXExitReason.lookup("10") == .cpuid)
        #expect(VMXExitReason.lookup("0x30") == .eptViolation)
        #expect(VMXExitReason.lookup("msr_read") == .rdmsr)
        #expect(VMXExitReason.lookup("INVALID_STATE") == .invalidGuestState)
        #expect(VMXExitReason.lookup("35") == nil)
        #expect(VMXExitReason.lookup("70000") == nil)
        #expect(VMXExitReason.lookup("CPUIDX") == nil)
    }

    @Test func instructionErrorsMatchTable30_1() {
        #expect(VMInstructionError(rawValue: 2)?.sdmText == "VMCLEAR with invalid physical address")
        #expect(VMInstructionError(rawValue: 4)?.sdmText == "VMLAUNCH with non-clear VMCS")
        #expect(VMInstructionError(rawValue: 5)?.sdmText == "VMRESUME with non-launched VMCS")
        #expect(VMInstructionError(rawValue: 7)?.sdmText == "VM entry with invalid control field(s)")
        #expect(VMInstructionError(rawValue: 8)?.sdmText == "VM entry with invalid host-state field(s)")
        #expect(VMInstructionError(rawValue: 11)?.sdmText == "VMPTRLD with incorrect VMCS revision identifier")
        #expect(VMInstructionError(rawValue: 12)?.sdmText == "VMREAD/VMWRITE from/to unsupported VMCS component")
        #expect(VMInstructionError(rawValue: 13)?.sdmText == "VMWRITE to read-only VMCS component")
        #expect(VMInstructionError(rawValue: 15)?.sdmText == "VMXON executed in VMX root operation")
        #expect(VMInstructionError(rawValue: 26)?.sdmText == "VM entry with events blocked by MOV SS")
        #expect(VMInstructionError(rawValue: 28)?.sdmText == "Invalid operand to INVEPT/INVVPID")
        for n: UInt32 in [0, 14, 21, 27, 29] { #expect(VMInstructionError(rawValue: n) == nil) }
        #expect(VMInstructionError.allCases.count == 25)
    }

    // MARK: - Decoders on hand-worked values

    @Test func decodeExitReasonField() {
        // 80000021H: bit 31 (VM-entry failure) + basic reason 33.
        let d = VMXDecode.exitReason(0x8000_0021)
        #expect(d.line("basic exit reason")?.value == "33")
        #expect(d.line("entry failure")?.value == "1")
        #expect(d.summary.contains("INVALID_GUEST_STATE"))
        // 1000000CH: pending MTF VM exit (bit 28) + HLT (12).
        let m = VMXDecode.exitReason(0x1000_000C)
        #expect(m.line("basic exit reason")?.value == "12")
        #expect(m.line("pending MTF")?.value == "1")
        #expect(m.line("entry failure")?.value == "0")
        #expect(VMXDecode.exitReason(0x0001_000A).line("undefined bits")?.value == "0x10000")
    }

    @Test func decodeControlRegisterQualification() {
        // Table 27-3. MOV RCX, CR8: CR 8 (3:0), access type 1 (5:4 → 10H), register 1 (11:8 → 100H) = 118H.
        let d = VMXDecode.exitQualification(0x118, reason: .crAccess)
        #expect(d.line("control register")?.meaning == "CR8")
        #expect(d.line("access type")?.meaning == "MOV from CR")
        #expect(d.line("register")?.meaning == "RCX")
        #expect(d.summary == "MOV RCX, CR8")
        // MOV CR3, RAX: CR 3, type 0, register 0 = 3.
        #expect(VMXDecode.exitQualification(0x3, reason: .crAccess).summary == "MOV CR3, RAX")
        // LMSW AX with AX = 0001H: CR 0, type 3 (30H), operand type 0 (register), data in 31:16 = 00010030H.
        let l = VMXDecode.exitQualification(0x0001_0030, reason: .crAccess)
        #expect(l.line("access type")?.meaning == "LMSW")
        #expect(l.line("LMSW operand type")?.meaning == "register")
        #expect(l.line("LMSW source data")?.value == "0x1")
        // CLTS: CR 0, type 2 = 20H.
        #expect(VMXDecode.exitQualification(0x20, reason: .crAccess).summary == "CLTS")
    }

    @Test func decodeIOQualification() {
        // Table 27-5. OUT DX, AL with DX = 3F8H: size 0 (1 byte), direction 0 (OUT), not string,
        // no REP, operand encoding 0 (DX), port 3F8H in 31:16 → 03F80000H.
        let d = VMXDecode.exitQualification(0x03F8_0000, reason: .ioInstruction)
        #expect(d.line("size of access")?.meaning == "1 byte")
        #expect(d.line("direction")?.meaning == "OUT")
        #expect(d.line("operand encoding")?.meaning == "DX")
        #expect(d.line("port")?.value == "0x3f8")
        #expect(d.line("string instruction")?.value == "0")
        // IN EAX, 60H: size 3 (4 bytes), direction 1 (8H), immediate (40H), port 60H → 0060004BH.
        let i = VMXDecode.exitQualification(0x0060_004B, reason: .ioInstruction)
        #expect(i.line("size of access")?.meaning == "4 bytes")
        #expect(i.line("direction")?.meaning == "IN")
        #expect(i.line("operand encoding")?.meaning == "immediate")
        #expect(i.line("port")?.value == "0x60")
        // REP OUTSW to DX = 3F8H: size 1, string (10H), REP (20H) → 03F80031H.
        let s = VMXDecode.exitQualification(0x03F8_0031, reason: .ioInstruction)
        #expect(s.line("string instruction")?.value == "1")
        #expect(s.line("REP prefixed")?.value == "1")
        #expect(s.line("size of access")?.meaning == "2 bytes")
    }

    @Test func decodeOtherQualifications() {
        // Table 27-4. MOV RAX, DR6: DR 6, direction 1 (bit 4), register 0 → 16H.
        let dr = VMXDecode.exitQualification(0x16, reason: .movDR)
        #expect(dr.summary == "MOV RAX, DR6")
        // Table 27-2. Task switch by IRET (31:30 = 1) to selector 28H → 40000028H.
        let ts = VMXDecode.exitQualification(0x4000_0028, reason: .taskSwitch)
        #expect(ts.line("TSS selector")?.value == "0x28")
        #expect(ts.line("source")?.meaning == "IRET instruction")
        // Table 27-7. Data write (bit 1) to a readable (3) but not writable page, linear address
        // valid (7), translation of the linear address (8) → 18AH.
        let ept = VMXDecode.exitQualification(0x18A, reason: .eptViolation)
        #expect(ept.line("data write")?.value == "1")
        #expect(ept.line("data read")?.value == "0")
        #expect(ept.line("readable")?.value == "1")
        #expect(ept.line("writable")?.value == "0")
        #expect(ept.line("linear address valid")?.value == "1")
        #expect(ept.line("translated access")?.value == "1")
        #expect(ept.summary.contains("r--"))
        // Instruction fetch (bit 2) from a paging-structure walk (bit 7 = 1, bit 8 = 0) → 84H.
        #expect(VMXDecode.exitQualification(0x84, reason: .eptViolation).line("translated access")?.meaning
                == "access to a guest paging-structure entry")
        // Table 27-1. #DB after a single step: BS (bit 14) → 4000H.
        let db = VMXDecode.exitQualification(0x4000, reason: .exceptionOrNMI, vector: 1)
        #expect(db.line("BS")?.value == "1")
        #expect(db.line("B0") == nil)
        // §26.8: exit reason 33 with qualification 4 = invalid VMCS link pointer; 34 with 2 = second MSR entry.
        #expect(VMXDecode.exitQualification(4, reason: .invalidGuestState).summary.contains("VMCS link pointer"))
        #expect(VMXDecode.exitQualification(2, reason: .msrLoading).line("MSR-load entry")?.value == "2")
        #expect(VMXDecode.exitQualification(0, reason: .cpuid).summary == "not used")
    }

    @Test func decodeInterruptionInformation() {
        // §24.8.3: 800000D1H = valid (31), type 0 (external interrupt), vector D1H.
        let e = VMXDecode.interruptionInfo(0x8000_00D1, field: .entry)
        #expect(e.line("valid")?.value == "1")
        #expect(e.line("type")?.meaning == "external interrupt")
        #expect(e.line("vector")?.value == "0xd1")
        #expect(e.line("error code valid")?.value == "0")
        #expect(e.summary == "valid, external interrupt, vector 0xd1")
        // §24.9.2: 80000B0EH = valid, type 3 (hardware exception, 300H), error code valid (800H), vector 14 (#PF).
        let pf = VMXDecode.interruptionInfo(0x8000_0B0E, field: .exit)
        #expect(pf.line("type")?.meaning == "hardware exception")
        #expect(pf.line("vector")?.meaning == "#PF")
        #expect(pf.line("error code valid")?.value == "1")
        #expect(pf.line("NMI unblocking")?.value == "0")
        // 80001B0DH: #GP with error code and NMI unblocking due to IRET (bit 12).
        #expect(VMXDecode.interruptionInfo(0x8000_1B0D, field: .exit).line("NMI unblocking")?.value == "1")
        // 80000202H: NMI (type 2, vector 2).
        #expect(VMXDecode.interruptionInfo(0x8000_0202).line("type")?.meaning == "NMI")
        // Type 7 vector 0 on entry: pending MTF VM exit.
        #expect(VMXDecode.interruptionInfo(0x8000_0700, field: .entry).line("vector")?.meaning == "pending MTF VM exit")
        #expect(VMXDecode.interruptionInfo(0x0000_0B0E).line("valid")?.value == "0")
    }

    @Test func decodeAccessRights() {
        // Table 24-2. A09BH: type BH (code, execute/read, accessed), S 1, DPL 0, P 1, L 1 (bit 13),
        // D/B 0, G 1 (bit 15) — a 64-bit code segment.
        let cs = VMXDecode.accessRights(0xA09B)
        #expect(cs.line("type")?.meaning == "code, execute/read, accessed")
        #expect(cs.line("S")?.value == "1")
        #expect(cs.line("DPL")?.value == "0")
        #expect(cs.line("P")?.value == "1")
        #expect(cs.line("L")?.value == "1")
        #expect(cs.line("D/B")?.value == "0")
        #expect(cs.line("G")?.value == "1")
        #expect(cs.line("unusable")?.value == "0")
        #expect(cs.summary.contains("64-bit"))
        // C093H: data read/write accessed, DPL 0, P, D/B 1, G 1 — a flat 32-bit data segment.
        let ds = VMXDecode.accessRights(0xC093)
        #expect(ds.line("type")?.meaning == "data, read/write, accessed")
        #expect(ds.line("D/B")?.value == "1")
        // 8BH: S 0, type BH = busy 32/64-bit TSS, present.
        #expect(VMXDecode.accessRights(0x8B).line("type")?.meaning == "32-bit/64-bit TSS (busy)")
        // 82H: LDT. F3H: DPL 3 data (real-mode/virtual-8086 style).
        #expect(VMXDecode.accessRights(0x82).line("type")?.meaning == "LDT")
        #expect(VMXDecode.accessRights(0xF3).line("DPL")?.value == "3")
        // 10000H: unusable.
        #expect(VMXDecode.accessRights(0x1_0000).line("unusable")?.value == "1")
        #expect(VMXDecode.accessRights(0x1_0000).summary == "unusable")
        // Bits 11:8 are reserved.
        #expect(VMXDecode.accessRights(0x0F9B).line("reserved bits")?.value == "0xf00")
    }

    @Test func decodeErrorAndFieldEncoding() {
        #expect(VMXDecode.instructionError(7).summary == "VM entry with invalid control field(s)")
        #expect(VMXDecode.instructionError(12).summary == "VMREAD/VMWRITE from/to unsupported VMCS component")
        #expect(VMXDecode.instructionError(99).summary == "unknown VM-instruction error number")
        // 681EH: access type 0, index 15, type 2 (guest state), width 3 (natural) = GUEST_RIP.
        let rip = VMXDecode.fieldEncoding(0x681E)
        #expect(rip.line("index")?.value == "15")
        #expect(rip.line("type")?.meaning == "guest state")
        #expect(rip.line("width")?.meaning == "natural")
        #expect(rip.line("field")?.value == "GUEST_RIP")
        // 2001H: high access of the 64-bit control at index 0: I/O bitmap A.
        let a = VMXDecode.fieldEncoding(0x2001)
        #expect(a.line("access type")?.value == "1")
        #expect(a.line("field")?.value == "IO_BITMAP_A (high)")
        // 482CH: 32-bit guest state index 22 — no field.
        #expect(VMXDecode.fieldEncoding(0x482C).line("field")?.value == "none")
    }

    @Test func decodeControlWords() {
        // Primary processor-based controls: default1 0401E172H | HLT exiting (bit 7) | use MSR
        // bitmaps (bit 28) | activate secondary controls (bit 31) = 9401E1F2H.
        let proc = VMXDecode.control(VMXModel.procBased, 0x9401_E1F2)
        #expect(proc.line("bit 7")?.meaning == "HLT exiting")
        #expect(proc.line("bit 28")?.meaning == "use MSR bitmaps")
        #expect(proc.line("bit 31")?.meaning == "activate secondary controls")
        #expect(proc.line("bit 1")?.meaning == "reserved (default1)")
        #expect(proc.line("bit 0") == nil)
        #expect(!proc.summary.contains("break"))
        // Bit 1 (default1) cleared and bit 0 (reserved) set: 0401E171H.
        let bad = VMXDecode.control(VMXModel.procBased, 0x0401_E171)
        #expect(bad.line("bit 0")?.meaning == "reserved; must be 0")
        #expect(bad.line("bit 1")?.value == "0")
        #expect(bad.line("bit 1")?.meaning.contains("must be 1") == true)
        #expect(bad.summary.contains("2 bits break the rules"))
        // CR3-load exiting (bit 15) is default1 but may be 0 per IA32_VMX_TRUE_PROCBASED_CTLS.
        let noCR3 = VMXDecode.control(VMXModel.procBased, 0x0401_6172)
        #expect(noCR3.line("bit 15")?.meaning.contains("TRUE_") == true)
        // Pin-based 1FH: default1 16H + external-interrupt exiting (0) + NMI exiting (3).
        let pin = VMXDecode.control(VMXModel.pinBased, 0x1F)
        #expect(pin.summary == "external-interrupt exiting, NMI exiting")
        #expect(VMXDecode.controlWord(named: "proc2")?.field == .secondaryProcControls)
        #expect(VMXDecode.controlWord(named: "VM_ENTRY_CONTROLS")?.field == .entryControls)
        #expect(VMXDecode.controlWord(named: "GUEST_RIP") == nil)
    }

    @Test func decodeInstructionInformation() {
        // Table 27-14. VMREAD RAX, RBX (register form): reg1 = RAX (6:3 = 0), mem/reg 1 (bit 10),
        // address size 2 (9:7 → 100H), reg2 = RBX (31:28 = 3) → 30000500H.
        let vr = VMXDecode.instructionInfo(0x3000_0500, reason: .vmread)
        #expect(vr?.line("mem/reg")?.meaning == "register operand")
        #expect(vr?.line("reg1")?.meaning == "RAX")
        #expect(vr?.line("reg2")?.meaning.hasPrefix("RBX") == true)
        #expect(vr?.summary == "VMREAD RAX, RBX")
        // Table 27-13. VMPTRLD [RAX] in 64-bit mode: scaling 0, address size 2 (100H), segment DS
        // (17:15 = 3 → 18000H), index invalid (bit 22 → 400000H), base RAX (26:23 = 0) → 00418100H.
        let p = VMXDecode.instructionInfo(0x0041_8100, reason: .vmptrld)
        #expect(p?.line("address size")?.meaning == "64-bit")
        #expect(p?.line("segment")?.meaning == "DS")
        #expect(p?.line("index register")?.value == "invalid")
        #expect(p?.line("base register")?.meaning == "RAX")
        // Table 27-9. INVEPT RCX, [RDX+RSI*8]: scaling 3, address size 2 (100H), DS (18000H), index
        // RSI (6 << 18 = 180000H), base RDX (2 << 23 = 1000000H), reg2 RCX (1 << 28) → 11198103H.
        let inv = VMXDecode.instructionInfo(0x1119_8103, reason: .invept)
        #expect(inv?.line("scaling")?.meaning == "×8")
        #expect(inv?.line("index register")?.meaning == "RSI")
        #expect(inv?.line("base register")?.meaning == "RDX")
        #expect(inv?.line("reg2")?.meaning.hasPrefix("RCX") == true)
        // Table 27-10. LGDT (29:28 = 2) with a 32-bit operand size (bit 11).
        let lgdt = VMXDecode.instructionInfo(0x2041_8900, reason: .gdtrIDTRAccess)
        #expect(lgdt?.line("instruction")?.meaning == "LGDT")
        #expect(lgdt?.line("operand size")?.meaning == "32-bit")
        // Table 27-12. RDRAND R9 (6:3 = 9 → 48H), 64-bit operand (12:11 = 2 → 1000H) → 1048H.
        let rd = VMXDecode.instructionInfo(0x1048, reason: .rdrand)
        #expect(rd?.line("operand register")?.meaning == "R9")
        #expect(rd?.line("operand size")?.meaning == "64-bit")
        #expect(VMXDecode.instructionInfo(0, reason: .cpuid) == nil)
    }

    @Test func decodeDispatch() {
        #expect(VMXDecode.decode("qual", 0x03F8_0000, extra: "IO_INSTRUCTION")?.line("port")?.value == "0x3f8")
        #expect(VMXDecode.decode("qual", 0x118, extra: "28")?.summary == "MOV RCX, CR8")
        #expect(VMXDecode.decode("ar", 0xA09B)?.line("L")?.value == "1")
        #expect(VMXDecode.decode("ctl", 0x1F, extra: "pin")?.summary == "external-interrupt exiting, NMI exiting")
        #expect(VMXDecode.decode("qual", 0) == nil)
        #expect(VMXDecode.decode("bogus", 0) == nil)
        for k in VMXDecode.kinds { #expect(VMXDecode.decode(k, 0, extra: k == "ctl" ? "pin" : k == "insinfo" ? "VMREAD" : "CR_ACCESS") != nil, "\(k)") }
    }
}
