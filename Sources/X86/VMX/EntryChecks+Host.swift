/// VM-entry checks on the host-state area: 31 rows, SDM Vol. 3C §26.2.2 "Checks on Host Control
/// Registers, MSRs, and SSP" (9), §26.2.3 "Checks on Host Segment and Descriptor-Table
/// Registers" (15), §26.2.4 "Checks Related to Address-Space Size" (7). A failure is VMfailValid(8).
///
/// Not rows: the IA32_PERF_GLOBAL_CTRL, CET and PKRS checks (those VM-exit controls are not
/// supported, so ctl.exit.reserved reports them); and "if host
/// address-space size is 0, IA-32e mode guest is 0", which the three processor-mode rows before it
/// always report first (LMA = 1 needs host size 1; LMA = 0 needs IA-32e mode guest 0).

private typealias K = EntryCheckKit

extension VMEntryChecks {
    static let hostRows: [EntryCheck] = hostControlRegisterRows + hostSegmentRows + hostAddressSpaceRows

    // MARK: §26.2.2

    static let hostControlRegisterRows: [EntryCheck] = {
        let ref = EntryCheckSection.hostControlRegs
        return [
            EntryCheck("host.cr0.fixed", ref, "The host CR0 field sets no bit to a value unsupported in VMX operation (CD and NW are not checked)",
                       .invalidHostState, fields: [.hostCR0]) { ctx in
                K.fixedBits(ctx.field(.hostCR0), fixed0: VMXModel.cr0Fixed0, fixed1: VMXModel.cr0Fixed1,
                          ignore: CR0.cd | CR0.nw, name: "host CR0", msr0: VMXMSR.cr0Fixed0, msr1: VMXMSR.cr0Fixed1)
            },
            EntryCheck("host.cr4.fixed", ref, "The host CR4 field sets no bit to a value unsupported in VMX operation",
                       .invalidHostState, fields: [.hostCR4]) { ctx in
                K.fixedBits(ctx.field(.hostCR4), fixed0: VMXModel.cr4Fixed0, fixed1: VMXModel.cr4Fixed1,
                          ignore: 0, name: "host CR4", msr0: VMXMSR.cr4Fixed0, msr1: VMXMSR.cr4Fixed1)
            },
            EntryCheck("host.cr3.width", ref, "Bits 63:52 and bits beyond the physical-address width of the host CR3 field are 0",
                       .invalidHostState, fields: [.hostCR3]) { ctx in
                K.withinWidth(ctx, ctx.field(.hostCR3), "host CR3")
            },
            EntryCheck("host.sysenter-esp.canonical", ref, "The host IA32_SYSENTER_ESP field is canonical",
                       .invalidHostState, fields: [.hostSysenterESP]) { ctx in
                K.canonical(ctx.field(.hostSysenterESP), "host IA32_SYSENTER_ESP")
            },
            EntryCheck("host.sysenter-eip.canonical", ref, "The host IA32_SYSENTER_EIP field is canonical",
                       .invalidHostState, fields: [.hostSysenterEIP]) { ctx in
                K.canonical(ctx.field(.hostSysenterEIP), "host IA32_SYSENTER_EIP")
            },
            EntryCheck("host.pat.memory-type", ref, "If \"load IA32_PAT\" (VM-exit) is 1, each byte of the host IA32_PAT field is 0, 1, 4, 5, 6 or 7",
                       .invalidHostState, fields: [.exitControls, .hostPAT]) { ctx in
                ctx.exitCtl & ExitCtl.loadPAT == 0 ? nil : K.patValues(ctx.field(.hostPAT), "host IA32_PAT")
            },
            EntryCheck("host.efer.reserved", ref, "If \"load IA32_EFER\" (VM-exit) is 1, reserved bits of the host IA32_EFER field are 0",
                       .invalidHostState, fields: [.exitControls, .hostEFER]) { ctx in
                ctx.exitCtl & ExitCtl.loadEFER == 0 ? nil : K.eferReserved(ctx.field(.hostEFER), "host IA32_EFER")
            },
            EntryCheck("host.efer.lma", ref, "If \"load IA32_EFER\" (VM-exit) is 1, host IA32_EFER.LMA equals \"host address-space size\"",
                       .invalidHostState, fields: [.exitControls, .hostEFER]) { ctx in
                guard ctx.exitCtl & ExitCtl.loadEFER != 0 else { return nil }
                let lma = ctx.field(.hostEFER) & EFER.lma != 0
                return lma == ctx.hostAddressSpaceSize ? nil
                    : K.fail("host IA32_EFER = \(K.hex(ctx.field(.hostEFER))) (LMA = \(lma ? 1 : 0))", "LMA = \(ctx.hostAddressSpaceSize ? 1 : 0) (\"host address-space size\")")
            },
            EntryCheck("host.efer.lme", ref, "If \"load IA32_EFER\" (VM-exit) is 1, host IA32_EFER.LME equals \"host address-space size\"",
                       .invalidHostState, fields: [.exitControls, .hostEFER]) { ctx in
                guard ctx.exitCtl & ExitCtl.loadEFER != 0 else { return nil }
                let lme = ctx.field(.hostEFER) & EFER.lme != 0
                return lme == ctx.hostAddressSpaceSize ? nil
                    : K.fail("host IA32_EFER = \(K.hex(ctx.field(.hostEFER))) (LME = \(lme ? 1 : 0))", "LME = \(ctx.hostAddressSpaceSize ? 1 : 0) (\"host address-space size\")")
            },
        ]
    }()

    // MARK: §26.2.3

    static let hostSegmentRows: [EntryCheck] = {
        let ref = EntryCheckSection.hostSegments
        // "In the selector field for each of CS, SS, DS, ES, FS, GS and TR" — one row each, in field order.
        var rows: [EntryCheck] = [Seg.es, Seg.cs, Seg.ss, Seg.ds, Seg.fs, Seg.gs, Seg.tr].map { s in
            let f = VMCSFieldID.hostSelector[s]!, name = Seg.names[s].uppercased()
            return EntryCheck("host.selector.rpl-ti.\(Seg.names[s])", ref, "The RPL (bits 1:0) and TI (bit 2) of the host \(name) selector are 0",
                              .invalidHostState, fields: [f]) { ctx in
                let v = ctx.field(f) & 0xFFFF
                return v & 7 == 0 ? nil : K.fail("host \(name) selector = \(K.hex(v))", "bits 2:0 = 0")
            }
        }
        rows += [
            EntryCheck("host.cs.null", ref, "The host CS selector is not 0000H", .invalidHostState, fields: [.hostCSSelector]) { ctx in
                ctx.field(.hostCSSelector) & 0xFFFF != 0 ? nil : K.fail("host CS selector = 0x0", "not 0000H")
            },
            EntryCheck("host.tr.null", ref, "The host TR selector is not 0000H", .invalidHostState, fields: [.hostTRSelector]) { ctx in
                ctx.field(.hostTRSelector) & 0xFFFF != 0 ? nil : K.fail("host TR selector = 0x0", "not 0000H")
            },
            EntryCheck("host.ss.null", ref, "The host SS selector is not 0000H if \"host address-space size\" is 0",
                       .invalidHostState, fields: [.exitControls, .hostSSSelector]) { ctx in
                ctx.hostAddressSpaceSize || ctx.field(.hostSSSelector) & 0xFFFF != 0 ? nil
                    : K.fail("host SS selector = 0x0 with \"host address-space size\" = 0", "not 0000H")
            },
        ]
        let bases: [(String, VMCSFieldID, String)] = [("fs", .hostFSBase, "FS"), ("gs", .hostGSBase, "GS"),
                                                      ("gdtr", .hostGDTRBase, "GDTR"), ("idtr", .hostIDTRBase, "IDTR"), ("tr", .hostTRBase, "TR")]
        rows += bases.map { id, f, name in
            EntryCheck("host.base.canonical.\(id)", ref, "The host \(name) base address is canonical", .invalidHostState, fields: [f]) { ctx in
                K.canonical(ctx.field(f), "host \(name) base")
            }
        }
        return rows
    }()

    // MARK: §26.2.4

    static let hostAddressSpaceRows: [EntryCheck] = {
        let ref = EntryCheckSection.addressSpaceSize
        return [
            EntryCheck("host.addr-size.outside-ia32e.guest", ref, "Outside IA-32e mode (IA32_EFER.LMA = 0 at VM entry), \"IA-32e mode guest\" is 0",
                       .invalidHostState, fields: [.entryControls]) { ctx in
                ctx.processorInIA32eMode || !ctx.ia32eGuest ? nil
                    : K.fail("\"IA-32e mode guest\" = 1 while the processor is outside IA-32e mode", "\"IA-32e mode guest\" = 0")
            },
            EntryCheck("host.addr-size.outside-ia32e.host", ref, "Outside IA-32e mode (IA32_EFER.LMA = 0 at VM entry), \"host address-space size\" is 0",
                       .invalidHostState, fields: [.exitControls]) { ctx in
                ctx.processorInIA32eMode || !ctx.hostAddressSpaceSize ? nil
                    : K.fail("\"host address-space size\" = 1 while the processor is outside IA-32e mode", "\"host address-space size\" = 0")
            },
            EntryCheck("host.addr-size.in-ia32e", ref, "In IA-32e mode (IA32_EFER.LMA = 1 at VM entry), \"host address-space size\" is 1",
                       .invalidHostState, fields: [.exitControls]) { ctx in
                !ctx.processorInIA32eMode || ctx.hostAddressSpaceSize ? nil
                    : K.fail("\"host address-space size\" = 0 while the processor is in IA-32e mode", "\"host address-space size\" = 1")
            },
            EntryCheck("host.cr4.pcide", ref, "If \"host address-space size\" is 0, CR4.PCIDE (bit 17) is 0 in the host CR4 field",
                       .invalidHostState, fields: [.exitControls, .hostCR4]) { ctx in
                ctx.hostAddressSpaceSize || ctx.field(.hostCR4) & CR4.pcide == 0 ? nil
                    : K.fail("host CR4 = \(K.hex(ctx.field(.hostCR4))) with \"host address-space size\" = 0", "bit 17 (PCIDE) = 0")
            },
            EntryCheck("host.rip.high", ref, "If \"host address-space size\" is 0, bits 63:32 of the host RIP field are 0",
                       .invalidHostState, fields: [.exitControls, .hostRIP]) { ctx in
                ctx.hostAddressSpaceSize || ctx.field(.hostRIP) >> 32 == 0 ? nil
                    : K.fail("host RIP = \(K.hex(ctx.field(.hostRIP)))", "bits 63:32 = 0")
            },
            EntryCheck("host.cr4.pae", ref, "If \"host address-space size\" is 1, CR4.PAE (bit 5) is 1 in the host CR4 field",
                       .invalidHostState, fields: [.exitControls, .hostCR4]) { ctx in
                !ctx.hostAddressSpaceSize || ctx.field(.hostCR4) & CR4.pae != 0 ? nil
                    : K.fail("host CR4 = \(K.hex(ctx.field(.hostCR4)))", "bit 5 (PAE) = 1")
            },
            EntryCheck("host.rip.canonical", ref, "If \"host address-space size\" is 1, the host RIP field is canonical",
                       .invalidHostState, fields: [.exitControls, .hostRIP]) { ctx in
                ctx.hostAddressSpaceSize ? K.canonical(ctx.field(.hostRIP), "host RIP") : nil
            },
        ]
    }()
}

/// Helpers shared by the host and guest rows.
extension EntryCheckKit {

    /// IA32_VMX_CRx_FIXED0 bits must be 1, bits clear in IA32_VMX_CRx_FIXED1 must be 0 (SDM §23.8,
    /// Appendix A.7/A.8), except `ignore`.
    static func fixedBits(_ v: UInt64, fixed0: UInt64, fixed1: UInt64, ignore: UInt64, name: String,
                          msr0: UInt32, msr1: UInt32) -> EntryCheckFinding? {
        let missing = fixed0 & ~v & ~ignore, extra = v & ~fixed1 & ~ignore
        if missing == 0 && extra == 0 { return nil }
        var req: [String] = []
        if missing != 0 { req.append("bits \(K.hex(missing)) = 1") }
        if extra != 0 { req.append("bits \(K.hex(extra)) = 0") }
        return K.fail("\(name) = \(K.hex(v))", req.joined(separator: "; "),
                      "\(K.msr(msr0, fixed0)), \(K.msr(msr1, fixed1))")
    }

    static func canonical(_ v: UInt64, _ name: String) -> EntryCheckFinding? {
        K.isCanonical(v) ? nil : K.fail("\(name) = \(K.hex(v))", "canonical (bits 63:47 all equal)")
    }

    /// WRMSR IA32_PAT accepts memory types 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB), 7 (UC-).
    static func patValues(_ v: UInt64, _ name: String) -> EntryCheckFinding? {
        for k in 0..<8 {
            let t = (v >> UInt64(8 * k)) & 0xFF
            if t > 7 || t == 2 || t == 3 {
                return K.fail("\(name) = \(K.hex(v)) (byte \(k) = \(K.hex(t)))", "each byte 0, 1, 4, 5, 6 or 7")
            }
        }
        return nil
    }

    /// IA32_EFER bits this CPU implements: SCE (0), LME (8), LMA (10), NXE (11) — as WRMSR accepts.
    static let eferDefined: UInt64 = EFER.sce | EFER.lme | EFER.lma | EFER.nxe
    static func eferReserved(_ v: UInt64, _ name: String) -> EntryCheckFinding? {
        v & ~eferDefined == 0 ? nil : K.fail("\(name) = \(K.hex(v))", "reserved bits \(K.hex(v & ~eferDefined)) = 0 (defined: \(K.hex(eferDefined)))")
    }
}
