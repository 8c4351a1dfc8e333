/// VM-entry checks on the guest-state area: 145 rows, SDM Vol. 3C §26.3.1 "Checks on the Guest
/// State Area" — §26.3.1.1 control registers, debug registers and MSRs (13), §26.3.1.2 segment
/// registers (98), §26.3.1.3 descriptor-table registers (4), §26.3.1.4 RIP and RFLAGS (6),
/// §26.3.1.5 non-register state (20), §26.3.1.6 PDPTEs (4). A failure is a VM exit with basic
/// reason 33 and bit 31 set; the exit qualification is 0 except 4 for the VMCS link pointer and
/// 2 for the PDPTEs (SDM §26.8 "VM-Entry Failures During or After Loading Guest State").
///
/// Unrestricted guest is not supported, so CR0.PE and CR0.PG are fixed to 1 (IA32_VMX_CR0_FIXED0)
/// and every check written for CR0.PE = 0, CR0.PG = 0 or a CS of type 3 is implied by
/// guest.cr0.fixed / guest.cs.ar.type and is not a separate row ("PG without PE", "IA-32e mode
/// guest requires CR0.PG", "RFLAGS.VM = 0 when CR0.PE = 0", "SS.DPL = 0 when CR0.PE = 0").
/// Likewise CR4.CET is not in IA32_VMX_CR4_FIXED1 (guest.cr4.fixed), and the
/// IA32_PERF_GLOBAL_CTRL, BNDCFGS, RTIT_CTL, CET, PKRS, SMM, virtual-NMI and shutdown/wait-for-SIPI
/// rules concern controls or states the model does not support. The SDM allows these checks "in
/// any order"; the rows keep the SDM's order of presentation.

private typealias K = EntryCheckKit

/// The guest's segment fields (Table 24-2 access rights).
private extension VMEntryContext {
    func gSel(_ s: Int) -> UInt64 { field(VMCSFieldID.guestSegment[s].selector) & 0xFFFF }
    func gBase(_ s: Int) -> UInt64 { field(VMCSFieldID.guestSegment[s].base) }
    func gLimit(_ s: Int) -> UInt64 { field(VMCSFieldID.guestSegment[s].limit) & 0xFFFF_FFFF }
    func gAR(_ s: Int) -> UInt32 { UInt32(truncatingIfNeeded: field(VMCSFieldID.guestSegment[s].ar)) }
    func gUsable(_ s: Int) -> Bool { gAR(s) & SegAttr.unusable == 0 }
    func gDPL(_ s: Int) -> UInt32 { (gAR(s) >> 5) & 3 }
    /// "The guest will be virtual-8086 if the VM flag (bit 17) is 1 in the RFLAGS field."
    var gV86: Bool { field(.guestRFLAGS) & RFLAGS.vm != 0 }
    var gUnrestricted: Bool { proc2 & Proc2.unrestrictedGuest != 0 }
    var gRFLAGS: UInt64 { field(.guestRFLAGS) }
    var gInterruptibility: UInt32 { UInt32(truncatingIfNeeded: field(.guestInterruptibilityState)) }
    var gActivity: UInt64 { field(.guestActivityState) & 0xFFFF_FFFF }
}

extension EntryCheckKit {
    /// IA32_DEBUGCTL bits this CPU defines: the same set WRMSR accepts (`MSR.debugCtlDefined`,
    /// SDM Vol. 3B §17.4.1 "IA32_DEBUGCTL MSR").
    static let debugCtlDefined: UInt64 = MSR.debugCtlDefined
}

extension VMEntryChecks {
    static let guestRows: [EntryCheck] = guestControlRegisterRows + guestSegmentRows + guestDescriptorTableRows
        + guestRIPRFLAGSRows + guestNonRegisterRows + guestPDPTERows

    private static func seg(_ s: Int) -> String { Seg.names[s].uppercased() }
    private static func arText(_ ctx: VMEntryContext, _ s: Int) -> String { "guest \(seg(s)) access rights = \(K.hex(ctx.gAR(s)))" }

    // MARK: §26.3.1.1 Checks on Guest Control Registers, Debug Registers, and MSRs

    static let guestControlRegisterRows: [EntryCheck] = {
        let ref = EntryCheckSection.guestControlRegs, q0 = EntryFailureClass.invalidGuestState(qualification: 0)
        return [
            EntryCheck("guest.cr0.fixed", ref, "The guest CR0 field sets no bit to a value unsupported in VMX operation (CD and NW not checked; PE and PG not checked with unrestricted guest)",
                       q0, fields: [.guestCR0, .procBasedControls, .secondaryProcControls]) { ctx in
                let ignore = CR0.cd | CR0.nw | (ctx.gUnrestricted ? CR0.pe | CR0.pg : 0)
                return K.fixedBits(ctx.field(.guestCR0), fixed0: VMXModel.cr0Fixed0, fixed1: VMXModel.cr0Fixed1, ignore: ignore,
                                 name: "guest CR0", msr0: VMXMSR.cr0Fixed0, msr1: VMXMSR.cr0Fixed1)
            },
            EntryCheck("guest.cr4.fixed", ref, "The guest CR4 field sets no bit to a value unsupported in VMX operation",
                       q0, fields: [.guestCR4]) { ctx in
                K.fixedBits(ctx.field(.guestCR4), fixed0: VMXModel.cr4Fixed0, fixed1: VMXModel.cr4Fixed1, ignore: 0,
                          name: "guest CR4", msr0: VMXMSR.cr4Fixed0, msr1: VMXMSR.cr4Fixed1)
            },
            EntryCheck("guest.debugctl.reserved", ref, "If \"load debug controls\" is 1, reserved bits of the guest IA32_DEBUGCTL field are 0",
                       q0, fields: [.entryControls, .guestDebugCtl]) { ctx in
                let v = ctx.field(.guestDebugCtl)
                return ctx.entryCtl & EntryCtl.loadDebugControls == 0 || v & ~K.debugCtlDefined == 0 ? nil
                    : K.fail("guest IA32_DEBUGCTL = \(K.hex(v))", "reserved bits \(K.hex(v & ~K.debugCtlDefined)) = 0 (defined: LBR, BTF, TR, BTS, BTINT, BTS_OFF_OS, BTS_OFF_USR)")
            },
            EntryCheck("guest.cr4.pae-ia32e", ref, "If \"IA-32e mode guest\" is 1, CR4.PAE (bit 5) is 1 in the guest CR4 field",
                       q0, fields: [.entryControls, .guestCR4]) { ctx in
                !ctx.ia32eGuest || ctx.field(.guestCR4) & CR4.pae != 0 ? nil
                    : K.fail("guest CR4 = \(K.hex(ctx.field(.guestCR4))) with \"IA-32e mode guest\" = 1", "bit 5 (PAE) = 1")
            },
            EntryCheck("guest.cr4.pcide", ref, "If \"IA-32e mode guest\" is 0, CR4.PCIDE (bit 17) is 0 in the guest CR4 field",
                       q0, fields: [.entryControls, .guestCR4]) { ctx in
                ctx.ia32eGuest || ctx.field(.guestCR4) & CR4.pcide == 0 ? nil
                    : K.fail("guest CR4 = \(K.hex(ctx.field(.guestCR4))) with \"IA-32e mode guest\" = 0", "bit 17 (PCIDE) = 0")
            },
            EntryCheck("guest.cr3.width", ref, "Bits 63:52 and bits beyond the physical-address width of the guest CR3 field are 0",
                       q0, fields: [.guestCR3]) { ctx in
                K.withinWidth(ctx, ctx.field(.guestCR3), "guest CR3")
            },
            EntryCheck("guest.dr7.high", ref, "If \"load debug controls\" is 1, bits 63:32 of the guest DR7 field are 0",
                       q0, fields: [.entryControls, .guestDR7]) { ctx in
                ctx.entryCtl & EntryCtl.loadDebugControls == 0 || ctx.field(.guestDR7) >> 32 == 0 ? nil
                    : K.fail("guest DR7 = \(K.hex(ctx.field(.guestDR7)))", "bits 63:32 = 0")
            },
            EntryCheck("guest.sysenter-esp.canonical", ref, "The guest IA32_SYSENTER_ESP field is canonical", q0, fields: [.guestSysenterESP]) { ctx in
                K.canonical(ctx.field(.guestSysenterESP), "guest IA32_SYSENTER_ESP")
            },
            EntryCheck("guest.sysenter-eip.canonical", ref, "The guest IA32_SYSENTER_EIP field is canonical", q0, fields: [.guestSysenterEIP]) { ctx in
                K.canonical(ctx.field(.guestSysenterEIP), "guest IA32_SYSENTER_EIP")
            },
            EntryCheck("guest.pat.memory-type", ref, "If \"load IA32_PAT\" (VM-entry) is 1, each byte of the guest IA32_PAT field is 0, 1, 4, 5, 6 or 7",
                       q0, fields: [.entryControls, .guestPAT]) { ctx in
                ctx.entryCtl & EntryCtl.loadPAT == 0 ? nil : K.patValues(ctx.field(.guestPAT), "guest IA32_PAT")
            },
            EntryCheck("guest.efer.reserved", ref, "If \"load IA32_EFER\" (VM-entry) is 1, reserved bits of the guest IA32_EFER field are 0",
                       q0, fields: [.entryControls, .guestEFER]) { ctx in
                ctx.entryCtl & EntryCtl.loadEFER == 0 ? nil : K.eferReserved(ctx.field(.guestEFER), "guest IA32_EFER")
            },
            EntryCheck("guest.efer.lma", ref, "If \"load IA32_EFER\" (VM-entry) is 1, guest IA32_EFER.LMA equals \"IA-32e mode guest\"",
                       q0, fields: [.entryControls, .guestEFER]) { ctx in
                guard ctx.entryCtl & EntryCtl.loadEFER != 0 else { return nil }
                let lma = ctx.field(.guestEFER) & EFER.lma != 0
                return lma == ctx.ia32eGuest ? nil
                    : K.fail("guest IA32_EFER = \(K.hex(ctx.field(.guestEFER))) (LMA = \(lma ? 1 : 0))", "LMA = \(ctx.ia32eGuest ? 1 : 0) (\"IA-32e mode guest\")")
            },
            EntryCheck("guest.efer.lme", ref, "If \"load IA32_EFER\" (VM-entry) is 1 and guest CR0.PG is 1, guest IA32_EFER.LME equals LMA",
                       q0, fields: [.entryControls, .guestEFER, .guestCR0]) { ctx in
                let efer = ctx.field(.guestEFER)
                guard ctx.entryCtl & EntryCtl.loadEFER != 0, ctx.field(.guestCR0) & CR0.pg != 0,
                      (efer & EFER.lma != 0) != (efer & EFER.lme != 0) else { return nil }
                return K.fail("guest IA32_EFER = \(K.hex(efer)) with CR0.PG = 1", "LME = LMA")
            },
        ]
    }()

    // MARK: §26.3.1.2 Checks on Guest Segment Registers

    static let guestSegmentRows: [EntryCheck] = {
        let ref = EntryCheckSection.guestSegments, q0 = EntryFailureClass.invalidGuestState(qualification: 0)
        let v86Segs = [Seg.cs, Seg.ss, Seg.ds, Seg.es, Seg.fs, Seg.gs]   // the SDM's order
        let dataSegs = [Seg.ds, Seg.es, Seg.fs, Seg.gs]
        let rflags: [VMCSFieldID] = [.guestRFLAGS]
        func f(_ s: Int) -> (selector: VMCSFieldID, base: VMCSFieldID, limit: VMCSFieldID, ar: VMCSFieldID) { VMCSFieldID.guestSegment[s] }
        func row(_ id: String, _ statement: String, _ fields: [VMCSFieldID],
                 _ check: @escaping @Sendable (VMEntryContext) -> EntryCheckFinding?) -> EntryCheck {
            EntryCheck(id, ref, statement, q0, fields: fields, check: check)
        }
        var rows: [EntryCheck] = []

        // Selector fields.
        rows.append(row("guest.tr.selector.ti", "The TI flag (bit 2) of the guest TR selector is 0", [f(Seg.tr).selector]) { ctx in
            ctx.gSel(Seg.tr) & 4 == 0 ? nil : K.fail("guest TR selector = \(K.hex(ctx.gSel(Seg.tr)))", "bit 2 (TI) = 0")
        })
        rows.append(row("guest.ldtr.selector.ti", "If LDTR is usable, the TI flag (bit 2) of the guest LDTR selector is 0",
                        [f(Seg.ldtr).selector, f(Seg.ldtr).ar]) { ctx in
            !ctx.gUsable(Seg.ldtr) || ctx.gSel(Seg.ldtr) & 4 == 0 ? nil : K.fail("guest LDTR selector = \(K.hex(ctx.gSel(Seg.ldtr)))", "bit 2 (TI) = 0")
        })
        rows.append(row("guest.ss.selector.rpl", "If the guest is not virtual-8086, the RPL of the guest SS selector equals the RPL of the CS selector",
                        rflags + [f(Seg.ss).selector, f(Seg.cs).selector, .procBasedControls, .secondaryProcControls]) { ctx in
            guard !ctx.gV86, !ctx.gUnrestricted, ctx.gSel(Seg.ss) & 3 != ctx.gSel(Seg.cs) & 3 else { return nil }
            return K.fail("guest SS selector = \(K.hex(ctx.gSel(Seg.ss))), CS selector = \(K.hex(ctx.gSel(Seg.cs)))", "SS.RPL = CS.RPL")
        })

        // Base-address fields.
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).v86.base", "If the guest is virtual-8086, the guest \(seg(s)) base is the selector × 16",
                            rflags + [f(s).selector, f(s).base]) { ctx in
                guard ctx.gV86, ctx.gBase(s) != ctx.gSel(s) << 4 else { return nil }
                return K.fail("guest \(seg(s)) base = \(K.hex(ctx.gBase(s))), selector = \(K.hex(ctx.gSel(s)))", "base = \(K.hex(ctx.gSel(s) << 4))")
            })
        }
        for s in [Seg.tr, Seg.fs, Seg.gs] {
            rows.append(row("guest.\(Seg.names[s]).base.canonical", "The guest \(seg(s)) base address is canonical", [f(s).base]) { ctx in
                K.canonical(ctx.gBase(s), "guest \(seg(s)) base")
            })
        }
        rows.append(row("guest.ldtr.base.canonical", "If LDTR is usable, the guest LDTR base address is canonical", [f(Seg.ldtr).base, f(Seg.ldtr).ar]) { ctx in
            ctx.gUsable(Seg.ldtr) ? K.canonical(ctx.gBase(Seg.ldtr), "guest LDTR base") : nil
        })
        rows.append(row("guest.cs.base.high", "Bits 63:32 of the guest CS base address are 0", [f(Seg.cs).base]) { ctx in
            ctx.gBase(Seg.cs) >> 32 == 0 ? nil : K.fail("guest CS base = \(K.hex(ctx.gBase(Seg.cs)))", "bits 63:32 = 0")
        })
        for s in [Seg.ss, Seg.ds, Seg.es] {
            rows.append(row("guest.\(Seg.names[s]).base.high", "If \(seg(s)) is usable, bits 63:32 of the guest \(seg(s)) base address are 0", [f(s).base, f(s).ar]) { ctx in
                !ctx.gUsable(s) || ctx.gBase(s) >> 32 == 0 ? nil : K.fail("guest \(seg(s)) base = \(K.hex(ctx.gBase(s)))", "bits 63:32 = 0")
            })
        }

        // Limit fields.
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).v86.limit", "If the guest is virtual-8086, the guest \(seg(s)) limit is 0000FFFFH", rflags + [f(s).limit]) { ctx in
                !ctx.gV86 || ctx.gLimit(s) == 0xFFFF ? nil : K.fail("guest \(seg(s)) limit = \(K.hex(ctx.gLimit(s)))", "0xffff")
            })
        }

        // Access-rights fields: virtual-8086.
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).v86.ar", "If the guest is virtual-8086, the guest \(seg(s)) access rights are 000000F3H", rflags + [f(s).ar]) { ctx in
                !ctx.gV86 || ctx.gAR(s) == 0xF3 ? nil : K.fail(arText(ctx, s), "0xf3")
            })
        }

        // Access-rights fields of CS, SS, DS, ES, FS, GS when not virtual-8086. `applies` is
        // "the register is CS or the register is usable".
        @Sendable func applies(_ ctx: VMEntryContext, _ s: Int) -> Bool { !ctx.gV86 && (s == Seg.cs || ctx.gUsable(s)) }
        /// "If SS is usable, …" (CS is checked whether usable or not); the first letter capitalized.
        @Sendable func when(_ s: Int, _ rest: String) -> String {
            s == Seg.cs ? rest.prefix(1).uppercased() + rest.dropFirst() : "If \(seg(s)) is usable, " + rest
        }

        // Bits 3:0 (Type).
        rows.append(row("guest.cs.ar.type", "The guest CS type is 9, 11, 13 or 15 (accessed code; 3 also with unrestricted guest)",
                        rflags + [f(Seg.cs).ar, .procBasedControls, .secondaryProcControls]) { ctx in
            let t = ctx.gAR(Seg.cs) & 0xF
            guard !ctx.gV86, ![9, 11, 13, 15].contains(t), !(ctx.gUnrestricted && t == 3) else { return nil }
            return K.fail(arText(ctx, Seg.cs) + " (type \(t))", "type 9, 11, 13 or 15")
        })
        rows.append(row("guest.ss.ar.type", "If SS is usable, the guest SS type is 3 or 7 (read/write accessed data)", rflags + [f(Seg.ss).ar]) { ctx in
            let t = ctx.gAR(Seg.ss) & 0xF
            return !applies(ctx, Seg.ss) || t == 3 || t == 7 ? nil : K.fail(arText(ctx, Seg.ss) + " (type \(t))", "type 3 or 7")
        })
        for s in dataSegs {
            rows.append(row("guest.\(Seg.names[s]).ar.type.accessed", "If \(seg(s)) is usable, bit 0 (accessed) of the guest \(seg(s)) type is 1", rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) & 1 != 0 ? nil : K.fail(arText(ctx, s), "type bit 0 (accessed) = 1")
            })
        }
        for s in dataSegs {
            rows.append(row("guest.\(Seg.names[s]).ar.type.readable", "If \(seg(s)) is usable and a code segment, bit 1 (readable) of the guest \(seg(s)) type is 1", rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) & 8 == 0 || ctx.gAR(s) & 2 != 0 ? nil : K.fail(arText(ctx, s), "type bit 1 (readable) = 1 for a code segment")
            })
        }
        // Bit 4 (S).
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.s", when(s, "S (bit 4) of the guest \(seg(s)) access rights is 1"), rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) & SegAttr.s != 0 ? nil : K.fail(arText(ctx, s), "bit 4 (S) = 1")
            })
        }
        // Bits 6:5 (DPL).
        rows.append(row("guest.cs.ar.dpl.nonconforming", "If the guest CS type is 9 or 11 (non-conforming code), CS.DPL equals SS.DPL",
                        rflags + [f(Seg.cs).ar, f(Seg.ss).ar]) { ctx in
            let t = ctx.gAR(Seg.cs) & 0xF
            guard !ctx.gV86, t == 9 || t == 11, ctx.gDPL(Seg.cs) != ctx.gDPL(Seg.ss) else { return nil }
            return K.fail("guest CS.DPL = \(ctx.gDPL(Seg.cs)) (type \(t)), SS.DPL = \(ctx.gDPL(Seg.ss))", "CS.DPL = SS.DPL")
        })
        rows.append(row("guest.cs.ar.dpl.conforming", "If the guest CS type is 13 or 15 (conforming code), CS.DPL is not greater than SS.DPL",
                        rflags + [f(Seg.cs).ar, f(Seg.ss).ar]) { ctx in
            let t = ctx.gAR(Seg.cs) & 0xF
            guard !ctx.gV86, t == 13 || t == 15, ctx.gDPL(Seg.cs) > ctx.gDPL(Seg.ss) else { return nil }
            return K.fail("guest CS.DPL = \(ctx.gDPL(Seg.cs)) (type \(t)), SS.DPL = \(ctx.gDPL(Seg.ss))", "CS.DPL ≤ SS.DPL")
        })
        rows.append(row("guest.ss.ar.dpl", "The guest SS.DPL equals the RPL of the SS selector (without unrestricted guest)",
                        rflags + [f(Seg.ss).ar, f(Seg.ss).selector, .procBasedControls, .secondaryProcControls]) { ctx in
            guard !ctx.gV86, !ctx.gUnrestricted, UInt64(ctx.gDPL(Seg.ss)) != ctx.gSel(Seg.ss) & 3 else { return nil }
            return K.fail("guest SS.DPL = \(ctx.gDPL(Seg.ss)), SS selector = \(K.hex(ctx.gSel(Seg.ss)))", "SS.DPL = SS.RPL")
        })
        for s in dataSegs {
            rows.append(row("guest.\(Seg.names[s]).ar.dpl", "If \(seg(s)) is usable with type 0–11 (data or non-conforming code), its DPL is not less than the selector's RPL",
                            rflags + [f(s).ar, f(s).selector, .procBasedControls, .secondaryProcControls]) { ctx in
                guard applies(ctx, s), !ctx.gUnrestricted, ctx.gAR(s) & 0xF <= 11, UInt64(ctx.gDPL(s)) < ctx.gSel(s) & 3 else { return nil }
                return K.fail("guest \(seg(s)).DPL = \(ctx.gDPL(s)), selector = \(K.hex(ctx.gSel(s)))", "DPL ≥ RPL")
            })
        }
        // Bit 7 (P).
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.p", when(s, "P (bit 7) of the guest \(seg(s)) access rights is 1"), rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) & SegAttr.p != 0 ? nil : K.fail(arText(ctx, s), "bit 7 (P) = 1")
            })
        }
        // Bits 11:8 (reserved).
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.reserved-11-8", when(s, "reserved bits 11:8 of the guest \(seg(s)) access rights are 0"), rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) & 0xF00 == 0 ? nil : K.fail(arText(ctx, s), "bits 11:8 = 0")
            })
        }
        // Bit 14 (D/B).
        rows.append(row("guest.cs.ar.l-db", "If \"IA-32e mode guest\" is 1 and CS.L is 1, CS.D/B (bit 14) is 0",
                        rflags + [.entryControls, f(Seg.cs).ar]) { ctx in
            let ar = ctx.gAR(Seg.cs)
            guard !ctx.gV86, ctx.ia32eGuest, ar & SegAttr.l != 0, ar & SegAttr.db != 0 else { return nil }
            return K.fail(arText(ctx, Seg.cs) + " (L = 1, D/B = 1)", "D/B = 0 when L = 1 in IA-32e mode")
        })
        // Bit 15 (G).
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.g.limit-low", when(s, "G is 0 in the guest \(seg(s)) access rights if any of limit bits 11:0 is 0"),
                            rflags + [f(s).ar, f(s).limit]) { ctx in
                granularityLow(applies(ctx, s), ctx.gAR(s), ctx.gLimit(s), seg(s))
            })
        }
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.g.limit-high", when(s, "G is 1 in the guest \(seg(s)) access rights if any of limit bits 31:20 is 1"),
                            rflags + [f(s).ar, f(s).limit]) { ctx in
                granularityHigh(applies(ctx, s), ctx.gAR(s), ctx.gLimit(s), seg(s))
            })
        }
        // Bits 31:17 (reserved).
        for s in v86Segs {
            rows.append(row("guest.\(Seg.names[s]).ar.reserved-31-17", when(s, "reserved bits 31:17 of the guest \(seg(s)) access rights are 0"), rflags + [f(s).ar]) { ctx in
                !applies(ctx, s) || ctx.gAR(s) >> 17 == 0 ? nil : K.fail(arText(ctx, s), "bits 31:17 = 0")
            })
        }

        // TR.
        let tr = Seg.tr, trAR = f(tr).ar
        rows += [
            row("guest.tr.ar.type", "The guest TR type is 11 (64-bit busy TSS) in IA-32e mode, else 3 or 11 (busy TSS)", [.entryControls, trAR]) { ctx in
                let t = ctx.gAR(tr) & 0xF
                if ctx.ia32eGuest { return t == 11 ? nil : K.fail(arText(ctx, tr) + " (type \(t))", "type 11 (\"IA-32e mode guest\" = 1)") }
                return t == 3 || t == 11 ? nil : K.fail(arText(ctx, tr) + " (type \(t))", "type 3 or 11")
            },
            row("guest.tr.ar.s", "S (bit 4) of the guest TR access rights is 0", [trAR]) { ctx in
                ctx.gAR(tr) & SegAttr.s == 0 ? nil : K.fail(arText(ctx, tr), "bit 4 (S) = 0")
            },
            row("guest.tr.ar.p", "P (bit 7) of the guest TR access rights is 1", [trAR]) { ctx in
                ctx.gAR(tr) & SegAttr.p != 0 ? nil : K.fail(arText(ctx, tr), "bit 7 (P) = 1")
            },
            row("guest.tr.ar.reserved-11-8", "Reserved bits 11:8 of the guest TR access rights are 0", [trAR]) { ctx in
                ctx.gAR(tr) & 0xF00 == 0 ? nil : K.fail(arText(ctx, tr), "bits 11:8 = 0")
            },
            row("guest.tr.ar.g.limit-low", "G is 0 in the guest TR access rights if any of limit bits 11:0 is 0", [trAR, f(tr).limit]) { ctx in
                granularityLow(true, ctx.gAR(tr), ctx.gLimit(tr), "TR")
            },
            row("guest.tr.ar.g.limit-high", "G is 1 in the guest TR access rights if any of limit bits 31:20 is 1", [trAR, f(tr).limit]) { ctx in
                granularityHigh(true, ctx.gAR(tr), ctx.gLimit(tr), "TR")
            },
            row("guest.tr.ar.unusable", "The unusable bit (16) of the guest TR access rights is 0", [trAR]) { ctx in
                ctx.gUsable(tr) ? nil : K.fail(arText(ctx, tr), "bit 16 (unusable) = 0")
            },
            row("guest.tr.ar.reserved-31-17", "Reserved bits 31:17 of the guest TR access rights are 0", [trAR]) { ctx in
                ctx.gAR(tr) >> 17 == 0 ? nil : K.fail(arText(ctx, tr), "bits 31:17 = 0")
            },
        ]

        // LDTR (only if usable).
        let ldtr = Seg.ldtr, ldtrAR = f(ldtr).ar
        rows += [
            row("guest.ldtr.ar.type", "If LDTR is usable, the guest LDTR type is 2 (LDT)", [ldtrAR]) { ctx in
                !ctx.gUsable(ldtr) || ctx.gAR(ldtr) & 0xF == 2 ? nil : K.fail(arText(ctx, ldtr) + " (type \(ctx.gAR(ldtr) & 0xF))", "type 2")
            },
            row("guest.ldtr.ar.s", "If LDTR is usable, S (bit 4) of the guest LDTR access rights is 0", [ldtrAR]) { ctx in
                !ctx.gUsable(ldtr) || ctx.gAR(ldtr) & SegAttr.s == 0 ? nil : K.fail(arText(ctx, ldtr), "bit 4 (S) = 0")
            },
            row("guest.ldtr.ar.p", "If LDTR is usable, P (bit 7) of the guest LDTR access rights is 1", [ldtrAR]) { ctx in
                !ctx.gUsable(ldtr) || ctx.gAR(ldtr) & SegAttr.p != 0 ? nil : K.fail(arText(ctx, ldtr), "bit 7 (P) = 1")
            },
            row("guest.ldtr.ar.reserved-11-8", "If LDTR is usable, reserved bits 11:8 of the guest LDTR access rights are 0", [ldtrAR]) { ctx in
                !ctx.gUsable(ldtr) || ctx.gAR(ldtr) & 0xF00 == 0 ? nil : K.fail(arText(ctx, ldtr), "bits 11:8 = 0")
            },
            row("guest.ldtr.ar.g.limit-low", "If LDTR is usable, G is 0 in its access rights if any of limit bits 11:0 is 0", [ldtrAR, f(ldtr).limit]) { ctx in
                granularityLow(ctx.gUsable(ldtr), ctx.gAR(ldtr), ctx.gLimit(ldtr), "LDTR")
            },
            row("guest.ldtr.ar.g.limit-high", "If LDTR is usable, G is 1 in its access rights if any of limit bits 31:20 is 1", [ldtrAR, f(ldtr).limit]) { ctx in
                granularityHigh(ctx.gUsable(ldtr), ctx.gAR(ldtr), ctx.gLimit(ldtr), "LDTR")
            },
            row("guest.ldtr.ar.reserved-31-17", "If LDTR is usable, reserved bits 31:17 of the guest LDTR access rights are 0", [ldtrAR]) { ctx in
                !ctx.gUsable(ldtr) || ctx.gAR(ldtr) >> 17 == 0 ? nil : K.fail(arText(ctx, ldtr), "bits 31:17 = 0")
            },
        ]
        return rows
    }()

    private static func granularityLow(_ applies: Bool, _ ar: UInt32, _ limit: UInt64, _ name: String) -> EntryCheckFinding? {
        guard applies, limit & 0xFFF != 0xFFF, ar & SegAttr.g != 0 else { return nil }
        return K.fail("guest \(name) limit = \(K.hex(limit)), access rights = \(K.hex(ar)) (G = 1)", "G = 0 (limit bits 11:0 are not all 1)")
    }
    private static func granularityHigh(_ applies: Bool, _ ar: UInt32, _ limit: UInt64, _ name: String) -> EntryCheckFinding? {
        guard applies, limit >> 20 != 0, ar & SegAttr.g == 0 else { return nil }
        return K.fail("guest \(name) limit = \(K.hex(limit)), access rights = \(K.hex(ar)) (G = 0)", "G = 1 (limit bits 31:20 are not all 0)")
    }

    // MARK: §26.3.1.3 Checks on Guest Descriptor-Table Registers

    static let guestDescriptorTableRows: [EntryCheck] = {
        let ref = EntryCheckSection.guestDescriptorTables, q0 = EntryFailureClass.invalidGuestState(qualification: 0)
        let tables: [(String, VMCSFieldID, VMCSFieldID)] = [("gdtr", .guestGDTRBase, .guestGDTRLimit), ("idtr", .guestIDTRBase, .guestIDTRLimit)]
        return tables.map { id, base, _ in
            EntryCheck("guest.\(id).base.canonical", ref, "The guest \(id.uppercased()) base address is canonical", q0, fields: [base]) { ctx in
                K.canonical(ctx.field(base), "guest \(id.uppercased()) base")
            }
        } + tables.map { id, _, limit in
            EntryCheck("guest.\(id).limit", ref, "Bits 31:16 of the guest \(id.uppercased()) limit are 0", q0, fields: [limit]) { ctx in
                let v = ctx.field(limit) & 0xFFFF_FFFF
                return v >> 16 == 0 ? nil : K.fail("guest \(id.uppercased()) limit = \(K.hex(v))", "bits 31:16 = 0")
            }
        }
    }()

    // MARK: §26.3.1.4 Checks on Guest RIP, RFLAGS, and SSP

    static let guestRIPRFLAGSRows: [EntryCheck] = {
        let ref = EntryCheckSection.guestRIPRFLAGS, q0 = EntryFailureClass.invalidGuestState(qualification: 0)
        @Sendable func longMode(_ ctx: VMEntryContext) -> Bool { ctx.ia32eGuest && ctx.gAR(Seg.cs) & SegAttr.l != 0 }
        return [
            EntryCheck("guest.rip.high", ref, "Bits 63:32 of the guest RIP are 0 if \"IA-32e mode guest\" is 0 or CS.L is 0",
                       q0, fields: [.entryControls, .guestCSAccessRights, .guestRIP]) { ctx in
                longMode(ctx) || ctx.field(.guestRIP) >> 32 == 0 ? nil : K.fail("guest RIP = \(K.hex(ctx.field(.guestRIP))) outside 64-bit mode", "bits 63:32 = 0")
            },
            EntryCheck("guest.rip.canonical", ref, "If \"IA-32e mode guest\" and CS.L are 1, bits 63:48 of the guest RIP are identical (48 linear-address bits)",
                       q0, fields: [.entryControls, .guestCSAccessRights, .guestRIP]) { ctx in
                let top = ctx.field(.guestRIP) >> 48
                return !longMode(ctx) || top == 0 || top == 0xFFFF ? nil : K.fail("guest RIP = \(K.hex(ctx.field(.guestRIP)))", "bits 63:48 all equal")
            },
            EntryCheck("guest.rflags.reserved", ref, "Reserved RFLAGS bits 63:22, 15, 5 and 3 are 0", q0, fields: [.guestRFLAGS]) { ctx in
                let bad = ctx.gRFLAGS & (~UInt64(0x3F_FFFF) | 1 << 15 | 1 << 5 | 1 << 3)
                return bad == 0 ? nil : K.fail("guest RFLAGS = \(K.hex(ctx.gRFLAGS))", "bits \(K.hex(bad)) = 0")
            },
            EntryCheck("guest.rflags.bit1", ref, "Reserved RFLAGS bit 1 is 1", q0, fields: [.guestRFLAGS]) { ctx in
                ctx.gRFLAGS & 2 != 0 ? nil : K.fail("guest RFLAGS = \(K.hex(ctx.gRFLAGS))", "bit 1 = 1")
            },
            EntryCheck("guest.rflags.vm-ia32e", ref, "RFLAGS.VM (bit 17) is 0 if \"IA-32e mode guest\" is 1", q0, fields: [.entryControls, .guestRFLAGS]) { ctx in
                !ctx.ia32eGuest || !ctx.gV86 ? nil : K.fail("guest RFLAGS = \(K.hex(ctx.gRFLAGS)) with \"IA-32e mode guest\" = 1", "bit 17 (VM) = 0")
            },
            EntryCheck("guest.rflags.if-extint", ref, "RFLAGS.IF (bit 9) is 1 if an external interrupt is injected",
                       q0, fields: [.entryInterruptionInfo, .guestRFLAGS]) { ctx in
                guard let i = K.injection(ctx), i.type == 0, ctx.gRFLAGS & RFLAGS.if == 0 else { return nil }
                return K.fail("guest RFLAGS = \(K.hex(ctx.gRFLAGS)); \(K.describe(i))", "bit 9 (IF) = 1")
            },
        ]
    }()

    // MARK: §26.3.1.5 Checks on Guest Non-Register State

    static let guestNonRegisterRows: [EntryCheck] = {
        let ref = EntryCheckSection.guestNonRegister, q0 = EntryFailureClass.invalidGuestState(qualification: 0)
        // SDM §26.8: "4. Failure was due to an invalid VMCS link pointer (see Section 26.3.1.5)".
        let q4 = EntryFailureClass.invalidGuestState(qualification: 4)
        let intr: [VMCSFieldID] = [.guestInterruptibilityState], info: [VMCSFieldID] = [.entryInterruptionInfo]
        @Sendable func blockingText(_ ctx: VMEntryContext) -> String { "guest interruptibility state = \(K.hex(ctx.gInterruptibility))" }
        /// The pending-debug-exception BS rule applies with STI or MOV-SS blocking or in HLT.
        @Sendable func bsApplies(_ ctx: VMEntryContext) -> Bool { ctx.gInterruptibility & 3 != 0 || ctx.gActivity == 1 }
        @Sendable func bsRequired(_ ctx: VMEntryContext) -> Bool { ctx.gRFLAGS & RFLAGS.tf != 0 && ctx.field(.guestDebugCtl) & 2 == 0 }
        let bsFields: [VMCSFieldID] = [.guestPendingDebugExceptions, .guestInterruptibilityState, .guestActivityState, .guestRFLAGS, .guestDebugCtl]
        let link: [VMCSFieldID] = [.vmcsLinkPointer]
        @Sendable func linkUsed(_ ctx: VMEntryContext) -> Bool { ctx.field(.vmcsLinkPointer) != ~0 }
        @Sendable func linkReadable(_ ctx: VMEntryContext) -> Bool {
            let p = ctx.field(.vmcsLinkPointer); return linkUsed(ctx) && p & 0xFFF == 0 && ctx.withinPhysWidth(p)
        }
        return [
            // Activity state.
            EntryCheck("guest.activity.state", ref, "The activity state is one IA32_VMX_MISC reports as supported (0 active, 1 HLT)",
                       q0, fields: [.guestActivityState]) { ctx in
                let a = ctx.gActivity
                let supported = a == 0 || (a <= 3 && VMXModel.misc & (1 << (5 + a)) != 0)
                return supported ? nil : K.fail("guest activity state = \(a)", "a supported state (IA32_VMX_MISC bits 8:6)", K.miscMSR)
            },
            EntryCheck("guest.activity.hlt-ss-dpl", ref, "The activity state is not HLT if SS.DPL is not 0", q0, fields: [.guestActivityState, .guestSSAccessRights]) { ctx in
                ctx.gActivity != 1 || ctx.gDPL(Seg.ss) == 0 ? nil : K.fail("guest activity state = 1 (HLT), SS.DPL = \(ctx.gDPL(Seg.ss))", "SS.DPL = 0 for HLT")
            },
            EntryCheck("guest.activity.blocking", ref, "The activity state is active if the interruptibility state indicates blocking by STI or MOV SS",
                       q0, fields: [.guestActivityState] + intr) { ctx in
                ctx.gInterruptibility & 3 == 0 || ctx.gActivity == 0 ? nil
                    : K.fail("guest activity state = \(ctx.gActivity); \(blockingText(ctx))", "activity state 0 (active)")
            },
            EntryCheck("guest.activity.injection", ref, "An injected event is one the activity state allows (HLT: external interrupt, NMI, #DB, #MC, MTF)",
                       q0, fields: [.guestActivityState] + info) { ctx in
                guard let i = K.injection(ctx), ctx.gActivity == 1 else { return nil }
                let allowed = i.type == 0 || i.type == 2 || (i.type == 3 && (i.vector == 1 || i.vector == 18)) || (i.type == 7 && i.vector == 0)
                return allowed ? nil : K.fail("guest activity state = 1 (HLT); \(K.describe(i))", "external interrupt, NMI, #DB, #MC or MTF in HLT")
            },
            // Interruptibility state.
            EntryCheck("guest.interruptibility.reserved", ref, "Reserved bits 31:5 of the interruptibility state are 0", q0, fields: intr) { ctx in
                ctx.gInterruptibility >> 5 == 0 ? nil : K.fail(blockingText(ctx), "bits 31:5 = 0")
            },
            EntryCheck("guest.interruptibility.sti-movss", ref, "The interruptibility state does not indicate blocking by both STI and MOV SS", q0, fields: intr) { ctx in
                ctx.gInterruptibility & 3 != 3 ? nil : K.fail(blockingText(ctx), "bits 0 and 1 not both 1")
            },
            EntryCheck("guest.interruptibility.sti-if", ref, "Blocking by STI (bit 0) is 0 if RFLAGS.IF is 0", q0, fields: intr + [.guestRFLAGS]) { ctx in
                ctx.gInterruptibility & 1 == 0 || ctx.gRFLAGS & RFLAGS.if != 0 ? nil
                    : K.fail("\(blockingText(ctx)); guest RFLAGS = \(K.hex(ctx.gRFLAGS))", "bit 0 (blocking by STI) = 0 when IF = 0")
            },
            EntryCheck("guest.interruptibility.extint", ref, "Blocking by STI and by MOV SS are 0 if an external interrupt is injected", q0, fields: intr + info) { ctx in
                guard let i = K.injection(ctx), i.type == 0, ctx.gInterruptibility & 3 != 0 else { return nil }
                return K.fail("\(blockingText(ctx)); \(K.describe(i))", "bits 1:0 = 0")
            },
            EntryCheck("guest.interruptibility.nmi-movss", ref, "Blocking by MOV SS (bit 1) is 0 if an NMI is injected", q0, fields: intr + info) { ctx in
                guard let i = K.injection(ctx), i.type == 2, ctx.gInterruptibility & 2 != 0 else { return nil }
                return K.fail("\(blockingText(ctx)); \(K.describe(i))", "bit 1 = 0")
            },
            EntryCheck("guest.interruptibility.smi", ref, "Blocking by SMI (bit 2) is 0 outside SMM", q0, fields: intr) { ctx in
                ctx.gInterruptibility & 4 == 0 ? nil : K.fail(blockingText(ctx), "bit 2 (blocking by SMI) = 0: the processor is not in SMM")
            },
            EntryCheck("guest.interruptibility.enclave", ref, "Enclave interruption (bit 4) is 0: it requires SGX, which CPUID.(EAX=07H,ECX=0):EBX[2] reports absent",
                       q0, fields: intr) { ctx in
                ctx.gInterruptibility & 0x10 == 0 ? nil : K.fail(blockingText(ctx), "bit 4 (enclave interruption) = 0", "CPUID.(EAX=07H,ECX=0):EBX.SGX[bit 2] = 0")
            },
            // Pending debug exceptions.
            EntryCheck("guest.pending-dbg.reserved", ref, "Bits 11:4, 13, 15 and 63:17 of the pending debug exceptions are 0", q0, fields: [.guestPendingDebugExceptions]) { ctx in
                let v = ctx.field(.guestPendingDebugExceptions), bad = v & ~UInt64(0x1_500F)
                return bad == 0 ? nil : K.fail("guest pending debug exceptions = \(K.hex(v))", "bits \(K.hex(bad)) = 0")
            },
            EntryCheck("guest.pending-dbg.rtm", ref, "Bit 16 (RTM) of the pending debug exceptions is 0: it requires RTM, which CPUID.(EAX=07H,ECX=0):EBX[11] reports absent",
                       q0, fields: [.guestPendingDebugExceptions]) { ctx in
                let v = ctx.field(.guestPendingDebugExceptions)
                return v & 0x1_0000 == 0 ? nil : K.fail("guest pending debug exceptions = \(K.hex(v))", "bit 16 (RTM) = 0", "CPUID.(EAX=07H,ECX=0):EBX.RTM[bit 11] = 0")
            },
            EntryCheck("guest.pending-dbg.bs-set", ref, "With STI/MOV-SS blocking or HLT, BS (bit 14) is 1 if RFLAGS.TF is 1 and IA32_DEBUGCTL.BTF is 0", q0, fields: bsFields) { ctx in
                let v = ctx.field(.guestPendingDebugExceptions)
                guard bsApplies(ctx), bsRequired(ctx), v & 0x4000 == 0 else { return nil }
                return K.fail("guest pending debug exceptions = \(K.hex(v)) (TF = 1, BTF = 0)", "bit 14 (BS) = 1")
            },
            EntryCheck("guest.pending-dbg.bs-clear", ref, "With STI/MOV-SS blocking or HLT, BS (bit 14) is 0 if RFLAGS.TF is 0 or IA32_DEBUGCTL.BTF is 1", q0, fields: bsFields) { ctx in
                let v = ctx.field(.guestPendingDebugExceptions)
                guard bsApplies(ctx), !bsRequired(ctx), v & 0x4000 != 0 else { return nil }
                return K.fail("guest pending debug exceptions = \(K.hex(v)) (TF = \(ctx.gRFLAGS & RFLAGS.tf != 0 ? 1 : 0), BTF = \(ctx.field(.guestDebugCtl) & 2 != 0 ? 1 : 0))", "bit 14 (BS) = 0")
            },
            // VMCS link pointer (checked when not FFFFFFFF_FFFFFFFFH).
            EntryCheck("guest.link-pointer.align", ref, "A VMCS link pointer other than FFFFFFFF_FFFFFFFFH has bits 11:0 = 0", q4, fields: link) { ctx in
                guard linkUsed(ctx) else { return nil }
                return K.aligned(ctx, .vmcsLinkPointer, "VMCS link pointer", low: 12)
            },
            EntryCheck("guest.link-pointer.width", ref, "A VMCS link pointer other than FFFFFFFF_FFFFFFFFH sets no bit beyond the physical-address width", q4, fields: link) { ctx in
                linkUsed(ctx) ? K.withinWidth(ctx, ctx.field(.vmcsLinkPointer), "VMCS link pointer") : nil
            },
            EntryCheck("guest.link-pointer.revision", ref, "Bits 30:0 of the VMCS the link pointer references hold the VMCS revision identifier", q4, fields: link) { ctx in
                guard linkReadable(ctx) else { return nil }
                let p = ctx.field(.vmcsLinkPointer), rev = ctx.readPhys(p, 4) & 0x7FFF_FFFF
                return rev == UInt64(VMXModel.revision) ? nil
                    : K.fail("revision identifier at \(K.hex(p)) = \(K.hex(rev))", K.hex(UInt64(VMXModel.revision)), K.basicMSR)
            },
            EntryCheck("guest.link-pointer.shadow", ref, "Bit 31 of the VMCS the link pointer references equals \"VMCS shadowing\"",
                       q4, fields: link + [.procBasedControls, .secondaryProcControls]) { ctx in
                guard linkReadable(ctx) else { return nil }
                let p = ctx.field(.vmcsLinkPointer), shadow = ctx.readPhys(p, 4) & 0x8000_0000 != 0
                let want = ctx.proc2 & Proc2.vmcsShadowing != 0
                return shadow == want ? nil
                    : K.fail("shadow-VMCS indicator at \(K.hex(p)) = \(shadow ? 1 : 0)", "\(want ? 1 : 0) (\"VMCS shadowing\")")
            },
            EntryCheck("guest.link-pointer.current", ref, "The VMCS link pointer is not the current VMCS pointer (outside SMM)", q4, fields: link) { ctx in
                let p = ctx.field(.vmcsLinkPointer)
                return !linkUsed(ctx) || p != ctx.vmcsPointer ? nil : K.fail("VMCS link pointer = \(K.hex(p))", "not the current VMCS pointer \(K.hex(ctx.vmcsPointer))")
            },
        ]
    }()

    // MARK: §26.3.1.6 Checks on Guest Page-Directory-Pointer-Table Entries

    /// Reserved bits of a present PAE PDPTE: 2:1, 8:5 and bits 63:MAXPHYADDR — what MOV to CR3
    /// checks (SDM Vol. 3A §4.4.1); "enable EPT" is not supported, so the PDPTEs are read from
    /// guest-physical memory at CR3[31:5] (the guest PDPTE fields are used only with EPT).
    static let guestPDPTERows: [EntryCheck] = (0..<4).map { n in
        EntryCheck("guest.pdpte.\(n).reserved", EntryCheckSection.guestPDPTEs,
                   "With PAE paging (CR0.PG = 1, CR4.PAE = 1, not IA-32e), present PDPTE\(n) at guest CR3 sets no reserved bit",
                   .invalidGuestState(qualification: 2), fields: [.guestCR0, .guestCR4, .entryControls, .guestCR3]) { ctx in
            guard ctx.field(.guestCR0) & CR0.pg != 0, ctx.field(.guestCR4) & CR4.pae != 0, !ctx.ia32eGuest else { return nil }
            let addr = (ctx.field(.guestCR3) & 0xFFFF_FFE0) + UInt64(8 * n)
            let e = ctx.readPhys(addr, 8)
            let widthBits: UInt64 = ctx.physAddrWidth >= 64 ? 0 : ~((UInt64(1) << UInt64(ctx.physAddrWidth)) - 1)
            let bad = e & (0x1E6 | widthBits)
            return e & 1 == 0 || bad == 0 ? nil
                : K.fail("PDPTE\(n) at \(K.hex(addr)) = \(K.hex(e))", "reserved bits \(K.hex(bad)) = 0 (2:1, 8:5, 63:\(ctx.physAddrWidth))")
        }
    }
}
