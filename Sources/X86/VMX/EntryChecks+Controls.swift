/// VM-entry checks on the VMX controls: 30 rows, SDM Vol. 3C §26.2.1 "Checks on VMX Controls"
/// (§26.2.1.1 VM-Execution Control Fields: 10, §26.2.1.2 VM-Exit Control Fields: 7,
/// §26.2.1.3 VM-Entry Control Fields: 13). A failure is VMfailValid(7).
///
/// Only checks that can fail on the modeled CPU are rows. A check about a control whose 1-setting
/// `VMXModel` does not advertise (virtual NMIs, NMI-window exiting, TPR shadow, APIC
/// virtualization, posted interrupts, VPID, EPT, PML, unrestricted guest, VM functions, VMCS
/// shadowing, #VE, the VMX-preemption timer, tertiary controls, entry to SMM / dual-monitor
/// treatment) is implied by the reserved-bit row of that control word, which reports it first.
/// Likewise the "other event" vector rule (type 7 is reserved without "monitor trap flag").
/// IA32_VMX_BASIC[48] = 0, so no address is limited to 32 bits; IA32_VMX_BASIC[56] = 0 and
/// IA32_VMX_MISC[30] = 0 decide the error-code and instruction-length rules.

/// Section references of the pinned edition (`SDM.edition`) used by the entry-check rows.
enum EntryCheckSection {
    static let execControls = SDM.Ref("26.2.1.1", "VM-Execution Control Fields")
    static let exitControls = SDM.Ref("26.2.1.2", "VM-Exit Control Fields")
    static let entryControls = SDM.Ref("26.2.1.3", "VM-Entry Control Fields")
    static let hostControlRegs = SDM.Ref("26.2.2", "Checks on Host Control Registers, MSRs, and SSP")
    static let hostSegments = SDM.Ref("26.2.3", "Checks on Host Segment and Descriptor-Table Registers")
    static let addressSpaceSize = SDM.Ref("26.2.4", "Checks Related to Address-Space Size")
    static let guestControlRegs = SDM.Ref("26.3.1.1", "Checks on Guest Control Registers, Debug Registers, and MSRs")
    static let guestSegments = SDM.Ref("26.3.1.2", "Checks on Guest Segment Registers")
    static let guestDescriptorTables = SDM.Ref("26.3.1.3", "Checks on Guest Descriptor-Table Registers")
    static let guestRIPRFLAGS = SDM.Ref("26.3.1.4", "Checks on Guest RIP, RFLAGS, and SSP")
    static let guestNonRegister = SDM.Ref("26.3.1.5", "Checks on Guest Non-Register State")
    static let guestPDPTEs = SDM.Ref("26.3.1.6", "Checks on Guest Page-Directory-Pointer-Table Entries")
}

/// Small pure helpers shared by the EntryChecks+*.swift rows.
enum EntryCheckKit {
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    static func hex(_ v: UInt32) -> String { hex(UInt64(v)) }

    static func fail(_ actual: String, _ required: String, _ decidedBy: String? = nil) -> EntryCheckFinding {
        EntryCheckFinding(actual: actual, required: required, decidedBy: decidedBy)
    }

    /// Canonical for 48-bit linear addresses: bits 63:47 all equal.
    static func isCanonical(_ v: UInt64) -> Bool { let top = v >> 47; return top == 0 || top == 0x1FFFF }

    /// "IA32_VMX_… = 0x…" for a capability MSR of the model.
    static func msr(_ index: UInt32, _ value: UInt64) -> String { "\(VMXMSR.names[index] ?? "MSR \(hex(index))") = \(hex(value))" }

    static var miscMSR: String { msr(VMXMSR.misc, VMXModel.misc) }
    static var basicMSR: String { msr(VMXMSR.basic, VMXModel.basic) }

    /// Bit positions set in `mask`, named by the control word.
    static func bitNames(_ mask: UInt32, _ word: VMXControlWord) -> String {
        (0..<32).filter { mask >> UInt32($0) & 1 != 0 }
            .map { b in word.bitName(b).map { "bit \(b) \"\($0)\"" } ?? "bit \(b) (reserved)" }
            .joined(separator: ", ")
    }

    /// The allowed-0/allowed-1 check of a control word against its capability MSR
    /// (SDM Appendix A.3–A.5: bits 31:0 = 1 → must be 1; bits 63:32 = 0 → must be 0).
    static func controlWord(_ value: UInt32, _ word: VMXControlWord, msr index: UInt32, trueMSR: Bool) -> EntryCheckFinding? {
        let cap = word.capability(true: trueMSR)
        let must1 = UInt32(truncatingIfNeeded: cap), may1 = UInt32(truncatingIfNeeded: cap >> 32)
        let missing = must1 & ~value, extra = value & ~may1
        if missing == 0 && extra == 0 { return nil }
        var req: [String] = []
        if missing != 0 { req.append("must be 1 (allowed 0-settings): \(bitNames(missing, word))") }
        if extra != 0 { req.append("must be 0 (allowed 1-settings): \(bitNames(extra, word))") }
        return fail("\(word.name) = \(hex(value))", req.joined(separator: "; "), msr(index, cap))
    }

    /// "Bits 11:0 (or 3:0) are 0" for an address field.
    static func aligned(_ ctx: VMEntryContext, _ f: VMCSFieldID, _ name: String, low bits: Int) -> EntryCheckFinding? {
        let v = ctx.field(f), mask = (UInt64(1) << UInt64(bits)) - 1
        return v & mask == 0 ? nil : fail("\(name) = \(hex(v))", "bits \(bits - 1):0 = 0")
    }

    /// "The address does not set bits beyond the physical-address width".
    static func withinWidth(_ ctx: VMEntryContext, _ v: UInt64, _ what: String) -> EntryCheckFinding? {
        ctx.withinPhysWidth(v) ? nil
            : fail("\(what) = \(hex(v))", "no bit set at or above bit \(ctx.physAddrWidth) (physical-address width)",
                   "CPUID.80000008H:EAX[7:0] = \(ctx.physAddrWidth)")
    }

    // MARK: The VM-entry interruption-information field (SDM Table 24-14)

    struct Injection { let type: UInt32, vector: UInt32, deliversErrorCode: Bool, raw: UInt32 }
    /// The event to inject, or nil when the valid bit (31) is 0.
    static func injection(_ ctx: VMEntryContext) -> Injection? {
        let v = UInt32(truncatingIfNeeded: ctx.field(.entryInterruptionInfo))
        guard v & 0x8000_0000 != 0 else { return nil }
        return Injection(type: (v >> 8) & 7, vector: v & 0xFF, deliversErrorCode: v & 0x800 != 0, raw: v)
    }
    static let typeNames = ["external interrupt", "reserved (1)", "NMI", "hardware exception", "software interrupt",
                            "privileged software exception", "software exception", "other event"]
    static func describe(_ i: Injection) -> String {
        "VM-entry interruption information = \(hex(i.raw)) (\(typeNames[Int(i.type)]), vector \(i.vector))"
    }
    /// Exceptions that deliver an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC (SDM §26.2.1.3).
    static let errorCodeVectors: Set<UInt32> = [8, 10, 11, 12, 13, 14, 17]

    /// The MSR-load/store address rules of §26.2.1.2/§26.2.1.3 (only when the count is non-zero).
    static func msrArea(_ id: String, _ ref: SDM.Ref, _ name: String, address: VMCSFieldID, count: VMCSFieldID) -> [EntryCheck] {
        [
            EntryCheck("\(id).addr", ref, "If the \(name) count is non-zero, bits 3:0 of the \(name) address are 0",
                       .invalidControls, fields: [count, address]) { ctx in
                ctx.field(count) & 0xFFFF_FFFF == 0 ? nil : aligned(ctx, address, "\(name) address", low: 4)
            },
            EntryCheck("\(id).width", ref, "If the \(name) count is non-zero, the \(name) address sets no bit beyond the physical-address width",
                       .invalidControls, fields: [count, address]) { ctx in
                ctx.field(count) & 0xFFFF_FFFF == 0 ? nil : withinWidth(ctx, ctx.field(address), "\(name) address")
            },
            EntryCheck("\(id).last-byte", ref, "If the \(name) count is non-zero, the area's last byte (address + count × 16 − 1) is within the physical-address width",
                       .invalidControls, fields: [count, address]) { ctx in
                let n = ctx.field(count) & 0xFFFF_FFFF
                guard n != 0 else { return nil }
                // "The arithmetic used for the computation uses more bits than the processor's
                // physical-address width": a 64-bit sum that wraps is beyond any width.
                let (end, over) = ctx.field(address).addingReportingOverflow(n * 16 - 1)
                return over ? fail("last byte of the \(name) area overflows 64 bits", "within the physical-address width")
                    : withinWidth(ctx, end, "last byte of the \(name) area (count \(n))")
            },
        ]
    }
}

private typealias K = EntryCheckKit

extension VMEntryChecks {
    static let controlRows: [EntryCheck] = executionControlRows + exitControlRows + entryControlRows

    // MARK: §26.2.1.1 VM-Execution Control Fields

    static let executionControlRows: [EntryCheck] = {
        let ref = EntryCheckSection.execControls
        var rows: [EntryCheck] = [
            EntryCheck("ctl.pin.reserved", ref, "Reserved bits in the pin-based VM-execution controls are set as IA32_VMX_TRUE_PINBASED_CTLS requires",
                       .invalidControls, fields: [.pinBasedControls]) { ctx in
                K.controlWord(ctx.pin, VMXModel.pinBased, msr: VMXMSR.truePinbasedCtls, trueMSR: true)
            },
            EntryCheck("ctl.proc.reserved", ref, "Reserved bits in the primary processor-based VM-execution controls are set as IA32_VMX_TRUE_PROCBASED_CTLS requires",
                       .invalidControls, fields: [.procBasedControls]) { ctx in
                K.controlWord(ctx.proc, VMXModel.procBased, msr: VMXMSR.trueProcbasedCtls, trueMSR: true)
            },
            EntryCheck("ctl.proc2.reserved", ref, "If \"activate secondary controls\" is 1, reserved bits in the secondary processor-based VM-execution controls are 0",
                       .invalidControls, fields: [.procBasedControls, .secondaryProcControls]) { ctx in
                // ctx.proc2 is 0 when "activate secondary controls" is 0: no checks then.
                K.controlWord(ctx.proc2, VMXModel.procBased2, msr: VMXMSR.procbasedCtls2, trueMSR: false)
            },
            EntryCheck("ctl.cr3-target-count", ref, "The CR3-target count is not greater than the number IA32_VMX_MISC bits 24:16 report (4)",
                       .invalidControls, fields: [.cr3TargetCount]) { ctx in
                let n = ctx.field(.cr3TargetCount) & 0xFFFF_FFFF, max = (VMXModel.misc >> 16) & 0x1FF
                return n <= max ? nil : K.fail("CR3-target count = \(n)", "at most \(max)", K.miscMSR)
            },
        ]
        for (id, f, name) in [("ctl.io-bitmap-a", VMCSFieldID.ioBitmapA, "I/O-bitmap A"), ("ctl.io-bitmap-b", .ioBitmapB, "I/O-bitmap B")] {
            rows.append(EntryCheck("\(id).addr", ref, "If \"use I/O bitmaps\" is 1, bits 11:0 of the \(name) address are 0",
                                   .invalidControls, fields: [.procBasedControls, f]) { ctx in
                ctx.proc & Proc.useIOBitmaps == 0 ? nil : K.aligned(ctx, f, "\(name) address", low: 12)
            })
            rows.append(EntryCheck("\(id).width", ref, "If \"use I/O bitmaps\" is 1, the \(name) address sets no bit beyond the physical-address width",
                                   .invalidControls, fields: [.procBasedControls, f]) { ctx in
                ctx.proc & Proc.useIOBitmaps == 0 ? nil : K.withinWidth(ctx, ctx.field(f), "\(name) address")
            })
        }
        rows.append(EntryCheck("ctl.msr-bitmap.addr", ref, "If \"use MSR bitmaps\" is 1, bits 11:0 of the MSR-bitmap address are 0",
                               .invalidControls, fields: [.procBasedControls, .msrBitmaps]) { ctx in
            ctx.proc & Proc.useMSRBitmaps == 0 ? nil : K.aligned(ctx, .msrBitmaps, "MSR-bitmap address", low: 12)
        })
        rows.append(EntryCheck("ctl.msr-bitmap.width", ref, "If \"use MSR bitmaps\" is 1, the MSR-bitmap address sets no bit beyond the physical-address width",
                               .invalidControls, fields: [.procBasedControls, .msrBitmaps]) { ctx in
            ctx.proc & Proc.useMSRBitmaps == 0 ? nil : K.withinWidth(ctx, ctx.field(.msrBitmaps), "MSR-bitmap address")
        })
        return rows
    }()

    // MARK: §26.2.1.2 VM-Exit Control Fields

    static let exitControlRows: [EntryCheck] = {
        let ref = EntryCheckSection.exitControls
        return [
            EntryCheck("ctl.exit.reserved", ref, "Reserved bits in the VM-exit controls are set as IA32_VMX_TRUE_EXIT_CTLS requires",
                       .invalidControls, fields: [.exitControls]) { ctx in
                K.controlWord(ctx.exitCtl, VMXModel.exitControls, msr: VMXMSR.trueExitCtls, trueMSR: true)
            },
        ]
        + K.msrArea("ctl.exit.msr-store", ref, "VM-exit MSR-store", address: .exitMSRStoreAddress, count: .exitMSRStoreCount)
        + K.msrArea("ctl.exit.msr-load", ref, "VM-exit MSR-load", address: .exitMSRLoadAddress, count: .exitMSRLoadCount)
    }()

    // MARK: §26.2.1.3 VM-Entry Control Fields

    static let entryControlRows: [EntryCheck] = {
        let ref = EntryCheckSection.entryControls
        let info: [VMCSFieldID] = [.entryInterruptionInfo]
        return [
            EntryCheck("ctl.entry.reserved", ref, "Reserved bits in the VM-entry controls are set as IA32_VMX_TRUE_ENTRY_CTLS requires",
                       .invalidControls, fields: [.entryControls]) { ctx in
                K.controlWord(ctx.entryCtl, VMXModel.entryControls, msr: VMXMSR.trueEntryCtls, trueMSR: true)
            },
            EntryCheck("ctl.entry.interruption.type", ref, "An injected event's type (bits 10:8) is not reserved: 1 never, 7 only with \"monitor trap flag\" support",
                       .invalidControls, fields: info) { ctx in
                guard let i = K.injection(ctx) else { return nil }
                let cap = VMXModel.procBased.capability(true: true)
                let mtf = UInt32(truncatingIfNeeded: cap >> 32) & Proc.monitorTrapFlag != 0
                if i.type == 1 { return K.fail(K.describe(i), "type 0, 2, 3, 4, 5 or 6\(mtf ? " or 7" : "")") }
                if i.type == 7 && !mtf {
                    return K.fail(K.describe(i), "type 0, 2, 3, 4, 5 or 6 (\"monitor trap flag\" is not supported)",
                                  K.msr(VMXMSR.trueProcbasedCtls, cap))
                }
                return nil
            },
            EntryCheck("ctl.entry.interruption.vector.nmi", ref, "An injected NMI has vector 2",
                       .invalidControls, fields: info) { ctx in
                guard let i = K.injection(ctx), i.type == 2, i.vector != 2 else { return nil }
                return K.fail(K.describe(i), "vector 2")
            },
            EntryCheck("ctl.entry.interruption.vector.exception", ref, "An injected hardware exception has a vector of at most 31",
                       .invalidControls, fields: info) { ctx in
                guard let i = K.injection(ctx), i.type == 3, i.vector > 31 else { return nil }
                return K.fail(K.describe(i), "vector ≤ 31")
            },
            EntryCheck("ctl.entry.interruption.error-code.required", ref, "Deliver-error-code (bit 11) is 1 for an injected #DF, #TS, #NP, #SS, #GP, #PF or #AC in protected mode",
                       .invalidControls, fields: info + [.guestCR0, .procBasedControls, .secondaryProcControls]) { ctx in
                guard let i = K.injection(ctx), !i.deliversErrorCode, i.type == 3, K.errorCodeVectors.contains(i.vector),
                      K.protectedModeForInjection(ctx) else { return nil }
                return K.fail(K.describe(i), "bit 11 (deliver error code) = 1", K.basicMSR + " (bit 56 = 0)")
            },
            EntryCheck("ctl.entry.interruption.error-code.forbidden", ref, "Deliver-error-code (bit 11) is 0 unless the event is a hardware exception that has an error code, in protected mode",
                       .invalidControls, fields: info + [.guestCR0, .procBasedControls, .secondaryProcControls]) { ctx in
                guard let i = K.injection(ctx), i.deliversErrorCode else { return nil }
                if i.type != 3 { return K.fail(K.describe(i), "bit 11 = 0: only a hardware exception delivers an error code") }
                if !K.protectedModeForInjection(ctx) { return K.fail(K.describe(i), "bit 11 = 0: CR0.PE = 0 in the guest CR0 field") }
                if !K.errorCodeVectors.contains(i.vector) && i.vector <= 31 {
                    return K.fail(K.describe(i), "bit 11 = 0: vector \(i.vector) has no error code (only 8, 10–14, 17)", K.basicMSR + " (bit 56 = 0)")
                }
                return nil
            },
            EntryCheck("ctl.entry.interruption.reserved", ref, "Reserved bits 30:12 of the VM-entry interruption-information field are 0",
                       .invalidControls, fields: info) { ctx in
                guard let i = K.injection(ctx), i.raw & 0x7FFF_F000 != 0 else { return nil }
                return K.fail(K.describe(i), "bits 30:12 = 0")
            },
            EntryCheck("ctl.entry.exception-error-code.reserved", ref, "If deliver-error-code is 1, bits 31:16 of the VM-entry exception error code are 0",
                       .invalidControls, fields: info + [.entryExceptionErrorCode]) { ctx in
                guard let i = K.injection(ctx), i.deliversErrorCode else { return nil }
                let ec = ctx.field(.entryExceptionErrorCode) & 0xFFFF_FFFF
                return ec >> 16 == 0 ? nil : K.fail("VM-entry exception error code = \(K.hex(ec))", "bits 31:16 = 0")
            },
            EntryCheck("ctl.entry.instruction-length.range", ref, "For an injected software interrupt or (privileged) software exception, the VM-entry instruction length is at most 15",
                       .invalidControls, fields: info + [.entryInstructionLength]) { ctx in
                guard let i = K.injection(ctx), (4...6).contains(i.type) else { return nil }
                let n = ctx.field(.entryInstructionLength) & 0xFFFF_FFFF
                return n <= 15 ? nil : K.fail("VM-entry instruction length = \(n) for \(K.typeNames[Int(i.type)])", "0–15")
            },
            EntryCheck("ctl.entry.instruction-length.zero", ref, "For an injected software interrupt or (privileged) software exception, the VM-entry instruction length is not 0 (IA32_VMX_MISC[30] = 0)",
                       .invalidControls, fields: info + [.entryInstructionLength]) { ctx in
                guard let i = K.injection(ctx), (4...6).contains(i.type), VMXModel.misc & (1 << 30) == 0 else { return nil }
                let n = ctx.field(.entryInstructionLength) & 0xFFFF_FFFF
                return n != 0 ? nil : K.fail("VM-entry instruction length = 0 for \(K.typeNames[Int(i.type)])", "1–15", K.miscMSR + " (bit 30 = 0)")
            },
        ]
        + K.msrArea("ctl.entry.msr-load", ref, "VM-entry MSR-load", address: .entryMSRLoadAddress, count: .entryMSRLoadCount)
    }()
}

extension EntryCheckKit {
    /// Condition (2) of the deliver-error-code rule: "bit 0 (CR0.PE) is set in the CR0 field".
    /// Earlier editions read "(a) the 'unrestricted guest' VM-execution control is 0; or (b) CR0.PE
    /// is set", which is what hardware does; without unrestricted guest CR0.PE is fixed to 1, so
    /// the guest is treated as in protected mode (a CR0.PE = 0 field is reported by guest.cr0.fixed).
    static func protectedModeForInjection(_ ctx: VMEntryContext) -> Bool {
        ctx.field(.guestCR0) & CR0.pe != 0 || ctx.proc2 & Proc2.unrestrictedGuest == 0
    }
}
