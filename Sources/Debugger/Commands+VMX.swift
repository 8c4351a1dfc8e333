// The VMX rows of the command table: the VMCS (`vmcs …`), `why`, `exit`/`exits`, `ctl`,
// `caps`, `decode`, `msrbitmap`, `iobitmap`. Every value is decoded by name with the pure
// decoders of X86 (VMXDecode, VMXModel, VMEntryChecks); this file only reads the machine and
// lays the text out. `decode`, `caps` and `vmcs fields` need no machine.

import Machine
import X86

extension DebuggerCommands {
    static let vmcsSubcommands = ["get", "set", "fields", "list", "check"]
    static let vmcsGroupNames: [String] = VMCSArea.allCases.map(\.rawValue) + VMCSGroup.allCases.map(\.rawValue)
    /// Every VMCS field name (completion).
    public static let vmcsFieldNames: [String] = VMCSFields.all.map(\.name)
    /// Capability MSR names (completion of `caps`).
    public static let msrNames: [String] = VMXMSR.names.sorted { $0.key < $1.key }.map(\.value) + ["IA32_FEATURE_CONTROL"]
    static let controlWordNames = ["pin", "proc", "proc2", "exit", "entry"]

    static let vmxRows: [DebuggerCommand] = [
        DebuggerCommand("vmcs", arguments: "[GROUP] | get FIELD | set FIELD VALUE | fields [PATTERN] | list | check",
                        summary: "the current VMCS decoded by SDM group; get/set one field (SDM name, case-insensitive, or encoding); the field catalogue; every VM-entry check now",
                        details: "GROUP: guest, host, control, exit-info, or one of exec, exit-ctl, entry-ctl, guest-regs, guest-segs, guest-msrs, guest-nonreg, host-regs, host-segs, host-msrs.",
                        examples: ["vmcs guest", "vmcs get GUEST_RIP", "vmcs get 0x681e", "vmcs set GUEST_RFLAGS 0x2", "vmcs fields cr3", "vmcs check"],
                        needs: .nothing,
                        completions: { prev in
                            if prev.isEmpty { return vmcsSubcommands + vmcsGroupNames }
                            if prev.count == 1, prev[0] == "get" || prev[0] == "set" { return vmcsFieldNames }
                            return []
                        }) { ctx, args in vmcs(ctx, args) },
        DebuggerCommand("why", summary: "after a failed VM entry or VMfail: every failing check (SDM section and title, fields, actual vs required, deciding capability MSR); after a VM exit: what caused it",
                        needs: .stoppedMachine) { ctx, args in
            guard args.isEmpty else { return .usage("usage: why") }
            var r = why(ctx)
            // Every § in the explanation is of one edition: name it.
            if r.succeeded { r.output += "(SDM sections: \(SDM.edition))\n" }
            return r
        },
        DebuggerCommand("exit", arguments: "[N]",
                        summary: "the last VM exit decoded from the VMCS (reason, qualification per reason, interruption and IDT-vectoring info, instruction length/info, addresses); N: exit #N from the ring",
                        examples: ["exit", "exit 3"], needs: .stoppedMachine) { ctx, args in exitCommand(ctx, args) },
        DebuggerCommand("exits", arguments: "[N] | stats | --save FILE",
                        summary: "the recent VM exits and failed entries (last N, default 20) with the instruction count of each, counts per reason, or --save FILE as JSON lines (not from gdb)",
                        examples: ["exits", "exits 5", "exits stats", "exits --save trace.jsonl"], needs: .machine,
                        completions: { $0.isEmpty ? ["stats", "--save"] : [] }) { ctx, args in exitsCommand(ctx, args) },
        DebuggerCommand("ctl", arguments: "[pin|proc|proc2|exit|entry [BIT]]",
                        summary: "the VMCS control words bit by bit: name, value, allowed-0/allowed-1 from the capability MSRs, and what breaks the rules; one bit by name (hlt-exiting) or number",
                        examples: ["ctl", "ctl proc", "ctl proc hlt-exiting", "ctl pin 3"], needs: .stoppedMachine,
                        completions: { prev in
                            if prev.isEmpty { return controlWordNames }
                            if prev.count == 1, let w = VMXDecode.controlWord(named: prev[0]) { return w.bits.map { controlBitSlug($0.name) } }
                            return []
                        }) { ctx, args in ctl(ctx, args) },
        DebuggerCommand("caps", arguments: "[MSR]",
                        summary: "the IA32_VMX_* capability MSRs of the modeled CPU, decoded (and IA32_FEATURE_CONTROL with a machine)",
                        examples: ["caps", "caps IA32_VMX_PROCBASED_CTLS", "caps 0x481"], needs: .nothing,
                        completions: { $0.isEmpty ? msrNames : [] }) { ctx, args in caps(ctx, args) },
        DebuggerCommand("decode", arguments: "KIND VALUE [REASON|WORD]",
                        summary: "decode a value offline (no machine needed): exit-reason, qual REASON, intinfo, idtinfo, entryinfo, ar, vmerr, field, ctl WORD, insinfo REASON",
                        details: "Values are 0x-hex or decimal. The exit reason of qual/insinfo and the control word of ctl may come before or after the value.",
                        examples: ["decode exit-reason 0x80000021", "decode qual CR_ACCESS 0x4", "decode intinfo 0x80000b0e", "decode ar 0xa09b", "decode vmerr 7", "decode field 0x681e", "decode ctl proc 0x84006172"],
                        needs: .nothing,
                        completions: { prev in
                            if prev.isEmpty { return VMXDecode.kinds }
                            if prev.count == 1, ["qual", "qualification", "insinfo", "instruction-info"].contains(prev[0]) { return exitReasonNames }
                            if prev.count == 1, ["ctl", "control"].contains(prev[0]) { return controlWordNames }
                            return []
                        }) { _, args in decode(args) },
        DebuggerCommand("msrbitmap", arguments: "MSR",
                        summary: "would RDMSR/WRMSR of MSR exit? the bits of the current VMCS's MSR bitmaps (or why no bitmap is used)",
                        examples: ["msrbitmap 0xc0000080"], needs: .stoppedMachine) { ctx, args in msrBitmap(ctx, args) },
        DebuggerCommand("iobitmap", arguments: "PORT",
                        summary: "would IN/OUT of PORT exit? the bit of the current VMCS's I/O bitmaps (or the unconditional control)",
                        examples: ["iobitmap 0x3f8"], needs: .stoppedMachine) { ctx, args in ioBitmap(ctx, args) },
    ]

    // MARK: Shared helpers

    /// "root, current VMCS 0x… (launched), last exit 10 CPUID" — one line for status and regs.
    /// The VMX abort the machine stopped at (indicator, detail), if that was its last stop.
    static func lastAbort(_ c: MachineController?) -> (indicator: UInt32, detail: String)? {
        if case .fatal(.vmx(.abort(let i, let d)))? = c?.lastStop?.reason { return (i, d) }
        return nil
    }

    static func vmxStatusLine(_ cpu: CPU, abort: UInt32? = nil) -> String {
        guard cpu.vmx.on else { return vmxLeft(cpu) ? "off: VMX operation left (VMXOFF)" : "off (not in VMX operation)" }
        var s = cpu.vmx.nonRoot ? "non-root (a guest runs)" : "root"
        let v = cpu.vmx.currentVMCS
        s += v == VMXState.invalidPointer ? ", no current VMCS" : ", current VMCS 0x\(hex(v)) (\(cpu.vmcsLaunched(at: v) ? "launched" : "clear"))"
        if let abort {
            s += ", VMX abort (indicator \(abort)) in the last VM exit: 'why' explains it"
        } else if let r = cpu.vmx.lastExitReason {
            let name = VMXExitReason(rawValue: UInt16(r & 0xFFFF)).map(\.name) ?? "?"
            s += ", last exit \(r & 0xFFFF) \(name)\(r & 0x8000_0000 != 0 ? " (VM-entry failure)" : "")"
        }
        s += ", \(cpu.vmx.entries) entries, \(cpu.vmx.exits) exits"
        return s
    }

    /// Not in VMX operation, but it was: VMXOFF ran (a VMXON region or a VMCS was seen).
    static func vmxLeft(_ cpu: CPU) -> Bool { !cpu.vmx.on && (cpu.vmx.vmxonPointer != 0 || !cpu.vmx.knownVMCS.isEmpty || cpu.vmx.entries > 0) }

    static func hex0(_ v: UInt64, _ f: VMCSField) -> String { "0x" + hex(v, f.width.bytes * 2) }

    /// Runs `body` with the stopped machine and the current VMCS, or explains why it cannot.
    static func withVMCS(_ ctx: CommandContext, _ verb: String, _ body: (Machine, CPU, UInt64) -> CommandResult) -> CommandResult {
        guard let c = ctx.controller else { return .usage("\(verb): needs a machine (vmxemu run IMAGE --repl)") }
        let r: CommandResult? = c.withStopped { m in
            let cpu = m.cpu
            guard cpu.vmx.on else {
                return .failure(vmxLeft(cpu) ? "\(verb): VMX operation left (VMXOFF ran): there is no current VMCS any more"
                                             : "\(verb): the CPU is not in VMX operation (no VMXON yet)")
            }
            let vmcs = cpu.vmx.currentVMCS
            guard vmcs != VMXState.invalidPointer else { return .failure("\(verb): no current VMCS (VMPTRLD has not run, or VMCLEAR cleared it)") }
            return body(m, cpu, vmcs)
        }
        return r ?? .failure("\(verb): the machine is running; interrupt it first (Ctrl-C)")
    }

    /// One line of meaning for a field's value (empty when a number says it all).
    static func meaning(_ f: VMCSField, _ v: UInt64, cpu: CPU, vmcs: UInt64, describe: (UInt64) -> String) -> String {
        let v32 = UInt32(truncatingIfNeeded: v)
        if VMCSFieldID.guestSegment.contains(where: { $0.ar == f.id }) { return VMXDecode.accessRights(v32).summary }
        if let w = VMXModel.controlWords.first(where: { $0.field == f.id }) { return VMXDecode.control(w, v32).summary }
        switch f.id {
        case .exitReason: return VMXDecode.exitReason(v32).summary
        case .exitQualification:
            let r = UInt32(truncatingIfNeeded: cpu.vmcsRead(.exitReason, at: vmcs))
            guard let reason = VMXExitReason(rawValue: UInt16(r & 0xFFFF)) else { return "" }
            let vector = UInt8(truncatingIfNeeded: cpu.vmcsRead(.exitInterruptionInfo, at: vmcs))
            return VMXDecode.exitQualification(v, reason: reason, vector: vector).summary
        case .exitInterruptionInfo: return VMXDecode.interruptionInfo(v32, field: .exit).summary
        case .idtVectoringInfo: return VMXDecode.interruptionInfo(v32, field: .idtVectoring).summary
        case .entryInterruptionInfo: return VMXDecode.interruptionInfo(v32, field: .entry).summary
        case .vmInstructionError: return VMXDecode.instructionError(v32).summary
        case .exitInstructionInfo:
            let r = UInt32(truncatingIfNeeded: cpu.vmcsRead(.exitReason, at: vmcs))
            guard let reason = VMXExitReason(rawValue: UInt16(r & 0xFFFF)), r & 0x8000_0000 == 0,
                  definesInstructionInfo(reason, qualification: cpu.vmcsRead(.exitQualification, at: vmcs)) else { return "" }
            return VMXDecode.instructionInfo(v32, reason: reason)?.summary ?? ""
        case .guestActivityState:
            return ["active", "HLT", "shutdown", "wait-for-SIPI"].indices.contains(Int(v)) ? ["active", "HLT", "shutdown", "wait-for-SIPI"][Int(v)] : "reserved activity state"
        case .guestInterruptibilityState:
            let names = ["blocking by STI", "blocking by MOV SS", "blocking by SMI", "blocking by NMI", "enclave interruption"]
            let set = (0..<5).filter { v & (1 << UInt64($0)) != 0 }.map { names[$0] }
            return set.isEmpty ? "no blocking" : set.joined(separator: ", ")
        case .vmcsLinkPointer: return v == ~0 ? "~0: no shadow VMCS" : "not ~0 (must be ~0 unless VMCS shadowing is used)"
        case .guestRIP, .hostRIP: return describe(v)
        case .guestRFLAGS:
            return v & 2 == 0 ? "bit 1 is 0 (must be 1)" : (v & 0x200 != 0 ? "IF=1" : "IF=0")
        default: return ""
        }
    }

    /// Does an exit of this reason define the VM-exit instruction-information field? The
    /// reasons VMXDecode.instructionInfo knows, except that of I/O instructions only INS and
    /// OUTS (qualification bit 4, "string instruction") report it [SDM §27.2.5 "Information for
    /// VM Exits Due to Instruction Execution"].
    static func definesInstructionInfo(_ reason: VMXExitReason, qualification: UInt64) -> Bool {
        reason != .ioInstruction || qualification & 0x10 != 0
    }

    // MARK: vmcs

    static func vmcs(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        let sub = args.first?.lowercased()
        switch sub {
        case "fields"?: return vmcsFields(args.count > 1 ? args[1] : nil)
        case "get"?:
            guard args.count == 2 else { return .usage("usage: vmcs get FIELD (SDM name such as GUEST_RIP, case-insensitive, or an encoding such as 0x681e)") }
            guard let f = fieldLookup(args[1]) else { return .usage("vmcs get: no VMCS field '\(args[1])'; 'vmcs fields PATTERN' searches the catalogue") }
            return vmcsGet(ctx, f)
        case "set"?:
            guard args.count == 3 else { return .usage("usage: vmcs set FIELD VALUE") }
            guard let f = fieldLookup(args[1]) else { return .usage("vmcs set: no VMCS field '\(args[1])'") }
            guard let v = parseNumber(args[2]) else { return .usage("vmcs set: '\(args[2])' is not a number (0x-hex or decimal)") }
            return vmcsSet(ctx, f, v)
        case "list"?: return vmcsList(ctx)
        case "check"?: return vmcsCheck(ctx)
        default:
            var groups: [VMCSGroup] = VMCSGroup.allCases
            if let s = sub {
                guard args.count == 1, let g = VMCSGroup.select(s) else {
                    return .usage("vmcs: '\(args.joined(separator: " "))' is neither a subcommand (get, set, fields, list, check) nor a group (\(vmcsGroupNames.joined(separator: ", ")))")
                }
                groups = g
            }
            return vmcsDump(ctx, groups)
        }
    }

    static func vmcsDump(_ ctx: CommandContext, _ groups: [VMCSGroup]) -> CommandResult {
        let c = ctx.controller
        return withVMCS(ctx, "vmcs") { _, cpu, vmcs in
            var s = "VMCS at 0x\(hex(vmcs)) (\(cpu.vmcsLaunched(at: vmcs) ? "launched" : "clear"))\n"
            var items: [JSONValue] = []
            var unwritten = 0
            for g in groups {
                s += "\(g.title) [\(g.ref)]\n"
                for f in VMCSFields.fields(in: g) where VMCSFields.exists(f) {
                    let v = cpu.vmcsRead(f.id, at: vmcs)
                    let m = meaning(f, v, cpu: cpu, vmcs: vmcs, describe: { c?.describe($0) ?? "0x" + hex($0) })
                    let written = cpu.vmcsWritten(f.id, at: vmcs)
                    let mark = written || f.isReadOnly ? "" : "  [never written]"
                    if !written && !f.isReadOnly { unwritten += 1 }
                    s += "  " + f.name.padded(34) + hex0(v, f) + (m.isEmpty ? "" : "  " + m) + mark + "\n"
                    items.append(.object([("field", .string(f.name)), ("encoding", .uint(UInt64(f.encoding))), ("group", .string(g.rawValue)),
                                          ("value", .uint(v)), ("meaning", .string(m)), ("written", .bool(written))]))
                }
            }
            if unwritten > 0 { s += "[never written]: \(unwritten) field\(unwritten == 1 ? "" : "s") no VMWRITE set since VMCLEAR (the value is whatever the region held)\n" }
            return CommandResult(s, data: .object([("vmcs", .uint(vmcs)), ("fields", .array(items))]))
        }
    }

    static func vmcsGet(_ ctx: CommandContext, _ f: VMCSField) -> CommandResult {
        let c = ctx.controller
        return withVMCS(ctx, "vmcs get") { _, cpu, vmcs in
            let v = cpu.vmcsRead(f.id, at: vmcs)
            var s = "\(f.name) = \(hex0(v, f))"
            let m = meaning(f, v, cpu: cpu, vmcs: vmcs, describe: { c?.describe($0) ?? "0x" + hex($0) })
            if !m.isEmpty { s += "  \(m)" }
            s += "\n  \(f.sdmName); encoding 0x\(hex(f.encoding, 4)), \(f.width.name) \(f.kind.name), group \(f.group.rawValue) [\(f.appendixB)]\n"
            let written = cpu.vmcsWritten(f.id, at: vmcs)
            if !written && !f.isReadOnly { s += "  never written since VMCLEAR: no VMWRITE has set it (the value is whatever the region held)\n" }
            if !VMCSFields.exists(f) { s += "  not on the modeled CPU (needs \(f.existsIf?.rawValue ?? "?")): VMREAD fails with VM-instruction error 12\n" }
            return CommandResult(s, data: .object([("field", .string(f.name)), ("encoding", .uint(UInt64(f.encoding))),
                                                   ("value", .uint(v)), ("hex", .string(hex0(v, f))), ("meaning", .string(m)),
                                                   ("written", .bool(written))]))
        }
    }

    static func vmcsSet(_ ctx: CommandContext, _ f: VMCSField, _ v: UInt64) -> CommandResult {
        withVMCS(ctx, "vmcs set") { _, cpu, vmcs in
            guard VMCSFields.exists(f) else { return .failure("vmcs set: \(f.name) does not exist on the modeled CPU") }
            let old = cpu.vmcsRead(f.id, at: vmcs)
            cpu.vmcsWrite(f.id, v, at: vmcs)
            // Set by the user: no longer "never written" for vmcs, vmcs check and why.
            cpu.markVMCSWritten(f.id, at: vmcs)
            let now = cpu.vmcsRead(f.id, at: vmcs)
            var s = "\(f.name): \(hex0(old, f)) → \(hex0(now, f))"
            if now != v { s += " (truncated to the field's \(f.width.name) width)" }
            if f.isReadOnly { s += "\n  note: a read-only data field — VMWRITE could not do this (error 13); the debugger can" }
            return CommandResult(s, data: .object([("field", .string(f.name)), ("old", .uint(old)), ("value", .uint(now))]))
        }
    }

    static func vmcsFields(_ pattern: String?) -> CommandResult {
        let p = pattern?.lowercased()
        let rows = VMCSFields.all.filter { f in
            guard let p else { return true }
            return f.name.lowercased().contains(p) || f.sdmName.lowercased().contains(p) || hex(f.encoding, 4).contains(p.replacingPrefix("0x"))
        }
        var s = "encoding  " + "name".padded(34) + "width    type        group         exists\n"
        for f in rows {
            s += "0x" + hex(f.encoding, 4) + "    " + f.name.padded(34) + f.width.name.padded(8) + f.kind.name.padded(11)
            s += f.group.rawValue.padded(13) + (VMCSFields.exists(f) ? "yes" : "no (needs \(f.existsIf?.rawValue ?? "?"))") + "\n"
        }
        s += "\(rows.count) field\(rows.count == 1 ? "" : "s")"
        return CommandResult(s, data: .array(rows.map { f in
            .object([("name", .string(f.name)), ("sdm_name", .string(f.sdmName)), ("encoding", .uint(UInt64(f.encoding))),
                     ("width", .string(f.width.name)), ("type", .string(f.kind.name)), ("group", .string(f.group.rawValue)),
                     ("exists", .bool(VMCSFields.exists(f)))])
        }))
    }

    static func vmcsList(_ ctx: CommandContext) -> CommandResult {
        guard let c = ctx.controller else { return .usage("vmcs list: needs a machine") }
        let contexts = c.contexts()
        let r: CommandResult? = c.withStopped { m in
            let cpu = m.cpu
            func u32(_ a: UInt64) -> UInt32 { m.memory.contains(a, count: 4) ? m.memory.read32(at: a) : 0 }
            var s = cpu.vmx.on ? "VMXON region 0x\(hex(cpu.vmx.vmxonPointer))\n" : (vmxLeft(cpu) ? "VMX operation left (VMXOFF)\n" : "not in VMX operation (no VMXON yet)\n")
            let cur = cpu.vmx.currentVMCS
            var known = cpu.vmx.knownVMCS
            if cur != VMXState.invalidPointer && !known.contains(cur) { known.append(cur) }
            if known.isEmpty {
                s += "no VMCS seen: no VMCLEAR or VMPTRLD has succeeded yet"
                return CommandResult(s, data: .object([("vmxon", cpu.vmx.on ? .uint(cpu.vmx.vmxonPointer) : .null), ("current", .null), ("regions", .array([]))]))
            }
            s += "   VMCS                revision    launch state  written  context\n"
            var items: [JSONValue] = []
            for v in known {
                let rev = u32(v), abort = u32(v + 4)
                let launched = cpu.vmcsLaunched(at: v)
                let written = VMCSFields.all.filter { VMCSFields.exists($0) && cpu.vmcsWritten($0.id, at: v) }.count
                let pid = contexts.first { $0.vmcs == v }?.pid
                s += (v == cur ? " * " : "   ") + "0x\(hex(v, 16))  0x\(hex(rev & 0x7FFF_FFFF, 8))  " + (launched ? "launched" : "clear").padded(14)
                s += String(written).leftPadded(7) + "  " + (pid.map { "guest (gdb process \($0))" } ?? "-")
                if abort != 0 { s += "  VMX-abort indicator \(abort)" }
                s += "\n"
                items.append(.object([("address", .uint(v)), ("revision", .uint(UInt64(rev & 0x7FFF_FFFF))), ("current", .bool(v == cur)),
                                      ("launched", .bool(launched)), ("fields_written", .uint(UInt64(written))),
                                      ("abort_indicator", .uint(UInt64(abort))), ("context", pid.map { .int(Int64($0)) } ?? .null)]))
            }
            s += "* = current VMCS" + (cur == VMXState.invalidPointer ? " (none now)" : "") + "; written = fields VMWRITE set since VMCLEAR; regions are those VMCLEAR or VMPTRLD named"
            return CommandResult(s, data: .object([("vmxon", cpu.vmx.on ? .uint(cpu.vmx.vmxonPointer) : .null),
                                                   ("current", cur == VMXState.invalidPointer ? .null : .uint(cur)), ("regions", .array(items))]))
        }
        return r ?? .failure("vmcs list: the machine is running")
    }

    /// Failing checks as text and JSON.
    static func renderChecks(_ failures: [EntryCheckFailure], cpu: CPU, vmcs: UInt64) -> (String, JSONValue) {
        var s = ""
        var items: [JSONValue] = []
        var neverWritten: [String] = []
        for f in failures {
            s += "  ✗ \(f.check.statement)  [\(f.check.ref)]\n"
            s += "      check \(f.check.id); fails as \(f.check.failure)\n"
            var unwritten: [String] = []
            for id in f.check.fields {
                let fd = VMCSFields.field(id)
                let written = cpu.vmcsWritten(id, at: vmcs) || fd.isReadOnly
                if !written { unwritten.append(fd.name); if !neverWritten.contains(fd.name) { neverWritten.append(fd.name) } }
                s += "      \(fd.name) = \(hex0(cpu.vmcsRead(id, at: vmcs), fd))" + (written ? "" : "  ⚠ never written since VMCLEAR") + "\n"
            }
            s += "      actual: \(f.finding.actual); required: \(f.finding.required)\n"
            if let d = f.finding.decidedBy { s += "      decided by: \(d)\n" }
            items.append(.object([("id", .string(f.check.id)), ("section", .string(f.check.ref.section)), ("title", .string(f.check.ref.title)),
                                  ("statement", .string(f.check.statement)), ("failure", .string(f.check.failure.description)),
                                  ("fields", .array(f.check.fields.map { .string(VMCSFields.field($0).name) })),
                                  ("actual", .string(f.finding.actual)), ("required", .string(f.finding.required)),
                                  ("decided_by", f.finding.decidedBy.map(JSONValue.string) ?? .null),
                                  ("never_written", .array(unwritten.map(JSONValue.string)))]))
        }
        if !neverWritten.isEmpty {
            s += "warning: \(neverWritten.count) field\(neverWritten.count == 1 ? "" : "s") of failing checks never written since VMCLEAR (a missing VMWRITE?): \(neverWritten.joined(separator: ", "))\n"
        }
        return (s, .array(items))
    }

    static func vmcsCheck(_ ctx: CommandContext) -> CommandResult {
        withVMCS(ctx, "vmcs check") { _, cpu, vmcs in
            let launch = !cpu.vmcsLaunched(at: vmcs)
            let failures = VMEntryChecks.evaluateAll(cpu.entryContext(vmcs: vmcs, launch: launch))
            var s = "VM-entry checks on VMCS 0x\(hex(vmcs)) as \(launch ? "VMLAUNCH" : "VMRESUME") would run them (\(VMEntryChecks.rows.count) checks):\n"
            let (text, json) = renderChecks(failures, cpu: cpu, vmcs: vmcs)
            s += text
            s += failures.isEmpty ? "all checks pass\n" : "\(failures.count) failing check\(failures.count == 1 ? "" : "s")\n"
            return CommandResult(s, data: .object([("vmcs", .uint(vmcs)), ("checks", .uint(UInt64(VMEntryChecks.rows.count))), ("failures", json)]))
        }
    }

    // MARK: why

    /// What a VMX-abort indicator means [SDM §27.7 "VMX Aborts"].
    static func abortMeaning(_ indicator: UInt32) -> String {
        switch indicator {
        case 1: return "there was a failure in saving guest MSRs (§27.4 \"Saving MSRs\")"
        case 2: return "host checking of the page-directory-pointer-table entries (PDPTEs) failed (§27.5.4)"
        case 3: return "the current VMCS has been corrupted so that the VM exit cannot complete"
        case 4: return "there was a failure on loading host MSRs (§27.6 \"Loading MSRs\")"
        case 5: return "there was a machine-check event during the VM exit (§27.8)"
        case 6: return "the logical processor was in IA-32e mode before the VM exit and the \"host address-space size\" VM-exit control was 0 (§27.5)"
        default: return "an indicator the SDM does not define"
        }
    }

    /// `why` after a VMX abort: the indicator, the MSR-list entry and why that entry failed.
    static func explainAbort(_ indicator: UInt32, detail: String, cpu: CPU, vmcs: UInt64) -> CommandResult {
        let ref = SDM.Ref("27.7", "VMX Aborts")
        var s = "VMX abort during a VM exit: indicator \(indicator) — \(abortMeaning(indicator)) [\(ref)]\n"
        s += "  the logical processor is in the shutdown state; the indicator is at byte 4 of VMCS 0x\(hex(vmcs))\n"
        var fields: [(String, JSONValue)] = [("kind", .string("vmx-abort")), ("indicator", .uint(UInt64(indicator))),
                                             ("meaning", .string(abortMeaning(indicator))), ("detail", .string(detail))]
        // The failing entry of the MSR list (detail ends in its 1-based number).
        let number = UInt64(detail.split(separator: " ").last ?? "")
        if (indicator == 1 || indicator == 4), let k = number, k >= 1 {
            let load = indicator == 4
            let list = cpu.vmcsRead(load ? .exitMSRLoadAddress : .exitMSRStoreAddress, at: vmcs)
            let listRef = load ? SDM.Ref("27.6", "Loading MSRs") : SDM.Ref("27.4", "Saving MSRs")
            // Entries are 16 bytes: index 31:0, reserved 63:32, data 127:64 [SDM §24.7.2 "VM-Exit
            // Controls for MSRs", Table 24-12]; the address is guest-controlled: it wraps.
            let at = list &+ (k - 1) &* 16
            s += "  failing entry: \(load ? "VM-exit MSR-load" : "VM-exit MSR-store") list entry \(k) of \(cpu.vmcsRead(load ? .exitMSRLoadCount : .exitMSRStoreCount, at: vmcs)) at 0x\(hex(at))\n"
            fields.append(("entry", .uint(k)))
            fields.append(("entry_address", .uint(at)))
            if cpu.memory.contains(at, count: 16) {
                let index = cpu.memory.read32(at: at), reserved = cpu.memory.read32(at: at &+ 4), data = cpu.memory.read64(at: at &+ 8)
                let name = MSR.names[index].map { " (\($0))" } ?? ""
                s += "    MSR index 0x\(hex(index))\(name), reserved bits 63:32 = 0x\(hex(reserved))" + (load ? ", data 0x\(hex(data))" : "") + "\n"
                let why: String
                if reserved != 0 { why = "bits 63:32 of the entry are reserved and not 0" }
                else if index >> 8 == 0x8 { why = "bits 31:8 of the index are 000008H: the x2APIC MSRs cannot be \(load ? "loaded" : "stored") from the list" }
                else if load && (index == MSR.fsBase || index == MSR.gsBase) { why = "IA32_FS_BASE and IA32_GS_BASE cannot be loaded from the list" }
                else if load && index == 0x9B { why = "IA32_SMM_MONITOR_CTL cannot be loaded from the list" }
                else if index == 0x9E { why = "IA32_SMBASE cannot be \(load ? "loaded" : "stored") from the list" }
                else { why = load ? "WRMSR of 0x\(hex(data)) to MSR 0x\(hex(index)) would cause #GP (an MSR this CPU lacks, or a value it refuses)"
                                  : "RDMSR of MSR 0x\(hex(index)) would cause #GP (an MSR this CPU lacks)" }
                s += "    why: \(why) [\(listRef)]\n"
                fields.append(("msr", .uint(UInt64(index))))
                fields.append(("why", .string(why)))
            } else {
                s += "    the entry is not in RAM (the list address comes from the VMCS)\n"
            }
        } else if !detail.isEmpty {
            s += "  \(detail)\n"
        }
        s += "  the VM exit that aborted: reason \(cpu.vmcsRead(.exitReason, at: vmcs) & 0xFFFF) \(VMXExitReason(rawValue: UInt16(cpu.vmcsRead(.exitReason, at: vmcs) & 0xFFFF))?.name ?? "?") (guest state was saved; host state \(indicator == 1 ? "was not loaded" : "was loaded"))\n"
        return CommandResult(s, data: .object(fields))
    }

    static func why(_ ctx: CommandContext) -> CommandResult {
        let stop = ctx.controller?.lastStop
        return withVMCS(ctx, "why") { _, cpu, vmcs in
            if case .fatal(.vmx(.abort(let indicator, let detail)))? = stop?.reason {
                return explainAbort(indicator, detail: detail, cpu: cpu, vmcs: vmcs)
            }
            let reason = cpu.vmx.lastExitReason
            var vmfailError: UInt32?
            if case .vmx(.vmfail(let e))? = stop?.reason { vmfailError = e }
            let failedEntry = (reason.map { $0 & 0x8000_0000 != 0 } ?? false) && !cpu.vmx.nonRoot
            if failedEntry || vmfailError == 7 || vmfailError == 8 {
                var s: String
                if failedEntry, let r = reason {
                    let basic = UInt16(r & 0xFFFF)
                    s = "VM entry failed: exit reason \(basic) (\(VMXExitReason(rawValue: basic)?.sdmName ?? "unknown")), qualification \(cpu.vmcsRead(.exitQualification, at: vmcs))\n"
                } else {
                    let e = vmfailError ?? 0
                    s = "VM entry failed: VMfailValid(\(e)) — \(VMInstructionError(rawValue: e)?.sdmText ?? "")\n"
                }
                if let first = cpu.vmx.lastEntryFailure { s += "  the CPU stopped at the first failing check: \(first.check.id) [\(first.check.ref)]\n" }
                // The launch state did not change: a failed VMLAUNCH leaves the VMCS clear.
                let failures = VMEntryChecks.evaluateAll(cpu.entryContext(vmcs: vmcs, launch: !cpu.vmcsLaunched(at: vmcs)))
                let (text, json) = renderChecks(failures, cpu: cpu, vmcs: vmcs)
                s += text
                s += "\(failures.count) failing check\(failures.count == 1 ? "" : "s")\n"
                return CommandResult(s, data: .object([("kind", .string("entry-failure")), ("failures", json)]))
            }
            if let e = vmfailError {
                let text = e == 0 ? "VMfailInvalid (no current VMCS, or an invalid pointer/revision)" : "VMfailValid(\(e)): \(VMInstructionError(rawValue: e)?.sdmText ?? "unknown")"
                return CommandResult("the last VMX instruction failed: \(text) [SDM §30.4 \"VM Instruction Error Numbers\"]",
                                     data: .object([("kind", .string("vmfail")), ("error", .uint(UInt64(e)))]))
            }
            guard let r = reason else {
                return CommandResult("nothing to explain: no VM exit, failed entry or VMfail has happened yet", data: .object([("kind", .string("none"))]))
            }
            let basic = UInt16(r & 0xFFFF)
            let q = cpu.vmcsRead(.exitQualification, at: vmcs)
            let (cause, ref) = exitCause(basic, q: q, cpu: cpu, vmcs: vmcs)
            let name = VMXExitReason(rawValue: basic).map(\.name) ?? "\(basic)"
            let s = "VM exit \(basic) \(name): \(cause) [\(ref)]"
            return CommandResult(s, data: .object([("kind", .string("exit")), ("reason", .uint(UInt64(basic))), ("name", .string(name)),
                                                   ("cause", .string(cause)), ("section", .string(ref.section))]))
        }
    }

    /// Which control, bitmap bit or rule made a VM exit happen (SDM §25.1.2, §25.1.3, §25.2).
    static func exitCause(_ basic: UInt16, q: UInt64, cpu: CPU, vmcs: UInt64) -> (String, SDM.Ref) {
        let unconditional = SDM.Ref("25.1.2", "Instructions That Cause VM Exits Unconditionally")
        let conditional = SDM.Ref("25.1.3", "Instructions That Cause VM Exits Conditionally")
        let proc = UInt32(truncatingIfNeeded: cpu.vmcsRead(.procBasedControls, at: vmcs))
        func ctl(_ bit: UInt32, _ name: String) -> String { "\"\(name)\" (primary processor-based control) = \(proc & bit != 0 ? 1 : 0)" }
        switch VMXExitReason(rawValue: basic) {
        case .cpuid?, .getsec?, .invd?, .vmcall?, .vmclear?, .vmlaunch?, .vmptrld?, .vmptrst?, .vmread?, .vmresume?, .vmwrite?, .vmxoff?, .vmxon?, .xsetbv?:
            return ("this instruction always exits in VMX non-root operation", unconditional)
        case .hlt?: return (ctl(Proc.hltExiting, "HLT exiting"), conditional)
        case .invlpg?: return (ctl(Proc.invlpgExiting, "INVLPG exiting"), conditional)
        case .rdpmc?: return (ctl(Proc.rdpmcExiting, "RDPMC exiting"), conditional)
        case .rdtsc?, .rdtscp?: return (ctl(Proc.rdtscExiting, "RDTSC exiting"), conditional)
        case .movDR?: return (ctl(Proc.movDRExiting, "MOV-DR exiting"), conditional)
        case .ioInstruction?:
            let port = (q >> 16) & 0xFFFF
            if proc & Proc.useIOBitmaps != 0 { return ("\"use I/O bitmaps\" = 1 and the bit of port 0x\(hex(port)) is set (iobitmap 0x\(hex(port)))", conditional) }
            return ("\"use I/O bitmaps\" = 0 and " + ctl(Proc.unconditionalIOExiting, "unconditional I/O exiting"), conditional)
        case .rdmsr?, .wrmsr?:
            if proc & Proc.useMSRBitmaps == 0 { return ("\"use MSR bitmaps\" (primary processor-based control) = 0: every RDMSR/WRMSR exits", conditional) }
            return ("the MSR's bit in the MSR bitmaps is set, or the MSR (ECX) is outside the bitmap ranges (msrbitmap ECX)", conditional)
        case .crAccess?:
            let cr = q & 0xF, type = (q >> 4) & 3
            switch (cr, type) {
            case (0, 0), (4, 0): return ("MOV to CR\(cr) changed a bit owned by the host: the CR\(cr) guest/host mask has a 1 where the new value differs from the CR\(cr) read shadow", conditional)
            case (3, 0): return ("\"CR3-load exiting\" = 1 and the value matches no CR3-target value", conditional)
            case (3, 1): return ("\"CR3-store exiting\" = 1", conditional)
            case (8, 0): return ("\"CR8-load exiting\" = 1", conditional)
            case (8, 1): return ("\"CR8-store exiting\" = 1", conditional)
            case (_, 2): return ("CLTS with CR0.TS owned by the host (guest/host mask bit 3 = 1, read shadow TS = 1)", conditional)
            case (_, 3): return ("LMSW changed a host-owned bit of CR0[3:0]", conditional)
            default: return ("a control-register access the CR controls intercept", conditional)
            }
        case .exceptionOrNMI?:
            let info = UInt32(truncatingIfNeeded: cpu.vmcsRead(.exitInterruptionInfo, at: vmcs))
            let vector = info & 0xFF, type = (info >> 8) & 7
            if type == 2 { return ("an NMI with \"NMI exiting\" (pin-based control) = 1", SDM.Ref("25.2", "Other Causes of VM Exits")) }
            let bitmap = UInt32(truncatingIfNeeded: cpu.vmcsRead(.exceptionBitmap, at: vmcs))
            return ("exception \(VMXDecode.exceptionName(UInt8(vector)) ?? "vector \(vector)"): bit \(vector) of the exception bitmap (0x\(hex(bitmap, 8))) is \(bitmap >> vector & 1)", SDM.Ref("25.2", "Other Causes of VM Exits"))
        case .externalInterrupt?: return ("an external interrupt with \"external-interrupt exiting\" (pin-based control) = 1", SDM.Ref("25.2", "Other Causes of VM Exits"))
        case .tripleFault?: return ("the guest triple-faulted (always a VM exit in non-root operation)", SDM.Ref("25.2", "Other Causes of VM Exits"))
        case .interruptWindow?: return (ctl(Proc.interruptWindowExiting, "interrupt-window exiting") + " and the guest became interruptible", SDM.Ref("25.2", "Other Causes of VM Exits"))
        case .pause?: return (ctl(Proc.pauseExiting, "PAUSE exiting"), conditional)
        case .wbinvd?: return ("\"WBINVD exiting\" (secondary processor-based control) = 1", conditional)
        case .gdtrIDTRAccess?, .ldtrTRAccess?: return ("\"descriptor-table exiting\" (secondary processor-based control) = 1", conditional)
        default: return ("see the exit reason's entry in Appendix C", VMXExitReason.ref)
        }
    }

    // MARK: exit, exits

    static func exitCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count <= 1 else { return .usage("usage: exit [N]") }
        if let a = args.first {
            guard let n = parseNumber(a) else { return .usage("exit: '\(a)' is not a number") }
            guard let e = ctx.session.exits.first(where: { $0.number == n }) else {
                let have = ctx.session.exits
                return .failure("exit: #\(n) is not in the ring" + (have.isEmpty ? " (no VM exit has happened yet)" : " (it holds #\(have.first!.number)…#\(have.last!.number))"))
            }
            return describeExit(e)
        }
        let c = ctx.controller
        let abort = lastAbort(c)?.indicator   // (before withVMCS: the controller's lock is not re-entrant)
        return withVMCS(ctx, "exit") { _, cpu, vmcs in
            guard cpu.vmx.lastExitReason != nil || abort != nil else { return .failure("exit: no VM exit has happened yet") }
            func f(_ id: VMCSFieldID) -> UInt64 { cpu.vmcsRead(id, at: vmcs) }
            // The number the ring gave the last exit or failed entry (the CPU's own counter
            // counts exits only).
            let number = ctx.session.exits.last?.number ?? cpu.vmx.exits
            let e = RecordedExit(number: number, reason: UInt32(truncatingIfNeeded: f(.exitReason)), qualification: f(.exitQualification),
                                 guestRIP: f(.guestRIP), instructionLength: UInt32(truncatingIfNeeded: f(.exitInstructionLength)),
                                 interruptionInfo: UInt32(truncatingIfNeeded: f(.exitInterruptionInfo)),
                                 instructionInfo: UInt32(truncatingIfNeeded: f(.exitInstructionInfo)),
                                 guestLinear: f(.guestLinearAddress), guestPhysical: f(.guestPhysicalAddress), vmcs: vmcs,
                                 instructions: cpu.instructions)
            var r = describeExit(e, idt: UInt32(truncatingIfNeeded: f(.idtVectoringInfo)), describe: { c?.describe($0) ?? "0x" + hex($0) })
            if let abort {
                // The aborting exit never completed (it is not in the ring): say so first.
                r.output = "VMX abort (indicator \(abort): \(abortMeaning(abort))) during this VM exit — 'why' explains it [SDM §27.7 \"VMX Aborts\"]\n"
                    + r.output.replacingOccurrences("VM exit #\(number) ", "VM exit (aborted) ")
            }
            if cpu.vmx.nonRoot { r.output = "(the guest runs again since: these are the last exit's fields)\n" + r.output }
            return r
        }
    }

    static func describeExit(_ e: RecordedExit, idt: UInt32? = nil, describe: ((UInt64) -> String)? = nil) -> CommandResult {
        let basic = UInt16(e.reason & 0xFFFF)
        let reason = VMXExitReason(rawValue: basic)
        var s = "VM exit #\(e.number) (VMCS 0x\(hex(e.vmcs)))\n"
        s += "  " + VMXDecode.exitReason(e.reason).text.replacingOccurrences("\n", "\n  ") + "\n"
        var fields: [(String, JSONValue)] = [("number", .uint(e.number)), ("reason", .uint(UInt64(e.reason))), ("basic_reason", .uint(UInt64(basic))),
                                             ("name", .string(reason?.name ?? "unknown")), ("qualification", .uint(e.qualification))]
        if let reason {
            let q = VMXDecode.exitQualification(e.qualification, reason: reason, vector: UInt8(truncatingIfNeeded: e.interruptionInfo))
            s += "  " + q.text.replacingOccurrences("\n", "\n  ") + "\n"
            fields.append(("qualification_meaning", .string(q.summary)))
        }
        if e.reason & 0x8000_0000 == 0 {
            s += "  guest RIP " + (describe.map { $0(e.guestRIP) } ?? "0x" + hex(e.guestRIP)) + ", instruction length \(e.instructionLength)\n"
            fields.append(("guest_rip", .uint(e.guestRIP)))
            fields.append(("instruction_length", .uint(UInt64(e.instructionLength))))
            if e.interruptionInfo & 0x8000_0000 != 0 {
                s += "  " + VMXDecode.interruptionInfo(e.interruptionInfo, field: .exit).text.replacingOccurrences("\n", "\n  ") + "\n"
            }
            if let idt, idt & 0x8000_0000 != 0 {
                s += "  " + VMXDecode.interruptionInfo(idt, field: .idtVectoring).text.replacingOccurrences("\n", "\n  ") + "\n"
            }
            if let reason, definesInstructionInfo(reason, qualification: e.qualification),
               let ii = VMXDecode.instructionInfo(e.instructionInfo, reason: reason) {
                s += "  " + ii.text.replacingOccurrences("\n", "\n  ") + "\n"
            }
        }
        return CommandResult(s, data: .object(fields))
    }

    static func exitsCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        let ring = ctx.session.exits
        if args.first == "--save" || args.first == "save" {
            guard args.count == 2 else { return .usage("usage: exits --save FILE (the recorded exits as JSON lines)") }
            // Host file access belongs to the REPL and scripts, never to whoever reaches the
            // gdb port (monitor).
            if ctx.frontDoor == .monitor { return .usage("exits --save: writes a host file, so it works in the vmxemu REPL and scripts only, not through gdb's monitor") }
            let text = ring.map { $0.json.serialized() + "\n" }.joined()
            if let err = writeTextFile(args[1], text) { return .failure("exits --save: cannot write '\(args[1])': \(err)") }
            return CommandResult("\(ring.count) VM exit\(ring.count == 1 ? "" : "s") written to \(args[1]) (one JSON object per line)",
                                 data: .object([("file", .string(args[1])), ("exits", .uint(UInt64(ring.count)))]))
        }
        if args.first == "stats" {
            guard args.count == 1 else { return .usage("usage: exits stats") }
            var counts: [UInt32: Int] = [:]
            for e in ring { counts[e.reason, default: 0] += 1 }
            var s = "VM exits recorded: \(ring.count) (ring of \(DebugSession.ringCapacity))\n"
            var items: [JSONValue] = []
            for (r, n) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                let name = VMXExitReason(rawValue: UInt16(r & 0xFFFF)).map(\.name) ?? "?"
                s += "  " + "\(r & 0xFFFF) \(name)\(r & 0x8000_0000 != 0 ? " (entry failure)" : "")".padded(36) + "\(n)\n"
                items.append(.object([("reason", .uint(UInt64(r))), ("name", .string(name)), ("count", .uint(UInt64(n)))]))
            }
            if let total = ctx.controller?.withStopped({ $0.cpu.vmx.exits }) { s += "CPU exit counter: \(total)" }
            return CommandResult(s, data: .array(items))
        }
        var n = 20
        if let a = args.first {
            guard args.count == 1, let v = parseNumber(a), v >= 1 else { return .usage("usage: exits [N] | exits stats") }
            n = Int(min(v, UInt64(DebugSession.ringCapacity)))
        }
        let shown = ring.suffix(n)
        if shown.isEmpty { return CommandResult("no VM exits recorded (no VM exit or failed entry has happened yet)", data: .array([])) }
        var s = "    #  reason                      qualification       guest RIP           instructions\n"
        for e in shown {
            let name = VMXExitReason(rawValue: UInt16(e.reason & 0xFFFF)).map(\.name) ?? "?"
            s += String(e.number).leftPadded(5) + "  " + "\(e.reason & 0xFFFF) \(name)\(e.reason & 0x8000_0000 != 0 ? "!" : "")".padded(27)
            s += "0x" + hex(e.qualification, 16) + "  " + (e.reason & 0x8000_0000 != 0 ? "(entry failure)" : "0x" + hex(e.guestRIP)).padded(18)
            s += String(e.instructions) + "\n"
        }
        s += "(! = failed VM entry; instructions = retired when it happened; exits --save FILE writes them as JSON lines)\n"
        return CommandResult(s, data: .array(shown.map(\.json)))
    }

    // MARK: ctl, caps

    /// A control bit's SDM name as one word: "HLT exiting" → hlt-exiting.
    public static func controlBitSlug(_ name: String) -> String {
        var out = ""
        for ch in name.lowercased() {
            if ch.isLetter || ch.isNumber { out.append(ch) } else if !out.isEmpty && out.last != "-" { out.append("-") }
        }
        while out.last == "-" { out.removeLast() }
        return out
    }

    /// `ctl WORD BIT`: one control bit, its value and what the capability MSR allows.
    static func ctlBit(_ ctx: CommandContext, _ w: VMXControlWord, _ text: String) -> CommandResult {
        let bit: Int
        if let n = parseNumber(text), n < 32 { bit = Int(n) } else if let b = w.bits.first(where: { controlBitSlug($0.name) == controlBitSlug(text) }) { bit = b.bit } else {
            return .usage("ctl \(w.name): no control bit '\(text)' (\(w.bits.map { controlBitSlug($0.name) }.joined(separator: ", ")), or 0…31)")
        }
        return withVMCS(ctx, "ctl") { _, cpu, vmcs in
            let v = UInt32(truncatingIfNeeded: cpu.vmcsRead(w.field, at: vmcs))
            let trueCtls = VMXModel.basic & (1 << 55) != 0
            let cap = w.capability(true: trueCtls)
            let must1 = UInt32(truncatingIfNeeded: cap) >> UInt32(bit) & 1 == 1, may1 = UInt32(truncatingIfNeeded: cap >> 32) >> UInt32(bit) & 1 == 1
            let value = v >> UInt32(bit) & 1
            let name = w.bitName(bit) ?? "bit \(bit) (reserved)"
            var s = "\(w.name) bit \(bit) " + (w.bitName(bit).map { "\"\($0)\"" } ?? "(reserved)") + " = \(value)  [\(w.ref)]\n"
            s += "  allowed: " + (must1 ? "must be 1 (allowed-0 bit is 1)" : (may1 ? "0 or 1" : "must be 0 (allowed-1 bit is 0)"))
            s += trueCtls && w.field != .secondaryProcControls ? " per the TRUE_ capability MSR\n" : " per the capability MSR\n"
            if (must1 && value == 0) || (!may1 && value == 1) { s += "  ✗ this setting fails VM entry (VMfailValid 7, SDM §26.2.1)\n" }
            return CommandResult(s, data: .object([("word", .string(w.name)), ("bit", .int(Int64(bit))), ("name", .string(name)), ("value", .uint(UInt64(value))),
                                                   ("must_be_one", .bool(must1)), ("may_be_one", .bool(may1))]))
        }
    }

    static func ctl(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count <= 2 else { return .usage("usage: ctl [pin|proc|proc2|exit|entry [BIT]]") }
        if args.count == 2 {
            guard let w = VMXDecode.controlWord(named: args[0]) else { return .usage("ctl: '\(args[0])' is not a control word (pin, proc, proc2, exit, entry)") }
            return ctlBit(ctx, w, args[1])
        }
        var words = VMXModel.controlWords
        if let a = args.first {
            guard let w = VMXDecode.controlWord(named: a) else { return .usage("ctl: '\(a)' is not a control word (pin, proc, proc2, exit, entry)") }
            words = [w]
        }
        return withVMCS(ctx, "ctl") { _, cpu, vmcs in
            var s = ""
            var items: [JSONValue] = []
            let trueCtls = VMXModel.basic & (1 << 55) != 0
            for w in words {
                let v = UInt32(truncatingIfNeeded: cpu.vmcsRead(w.field, at: vmcs))
                let cap = w.capability(true: trueCtls)
                let d = VMXDecode.control(w, v, all: true)
                s += d.text + "\n"
                s += "  allowed-0 (must be 1): 0x\(hex(UInt32(truncatingIfNeeded: cap), 8))  allowed-1 (may be 1): 0x\(hex(UInt32(truncatingIfNeeded: cap >> 32), 8))"
                s += trueCtls && w.field != .secondaryProcControls ? "  (from the TRUE_ capability MSR)\n" : "\n"
                if w.field == .secondaryProcControls && cpu.vmcsRead(.procBasedControls, at: vmcs) & UInt64(Proc.activateSecondaryControls) == 0 {
                    s += "  (not in effect: \"activate secondary controls\" is 0)\n"
                }
                items.append(.object([("word", .string(w.name)), ("value", .uint(UInt64(v))), ("summary", .string(d.summary)),
                                      ("set", .array(w.bits.filter { v & $0.mask != 0 }.map { .string($0.name) }))]))
            }
            return CommandResult(s, data: .array(items))
        }
    }

    static func caps(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count <= 1 else { return .usage("usage: caps [MSR]") }
        var indices = VMXMSR.names.keys.sorted()
        var wantFeatureControl = true
        if let a = args.first {
            if a.uppercased() == "IA32_FEATURE_CONTROL" || parseNumber(a) == 0x3A {
                indices = []
            } else if let i = VMXMSR.names.first(where: { $0.value == a.uppercased() })?.key ?? parseNumber(a).flatMap({ VMXMSR.names[UInt32(truncatingIfNeeded: $0)] != nil ? UInt32(truncatingIfNeeded: $0) : nil }) {
                indices = [i]; wantFeatureControl = false
            } else {
                return .usage("caps: '\(a)' is not an IA32_VMX_* capability MSR (name or index 0x480…0x492) or IA32_FEATURE_CONTROL")
            }
        }
        var s = ""
        var items: [JSONValue] = []
        for i in indices {
            let name = VMXMSR.names[i] ?? "?"
            guard let v = VMXMSR.value(i, vmcsEnumValue: VMCSFields.vmcsEnumValue) else {
                s += "0x\(hex(i)) \(name): not on the modeled CPU (RDMSR #GP)\n"
                items.append(.object([("msr", .uint(UInt64(i))), ("name", .string(name)), ("present", .bool(false))]))
                continue
            }
            s += "0x\(hex(i)) \(name) = 0x\(hex(v, 16))\n"
            for line in capabilityLines(i, v) { s += "    " + line + "\n" }
            items.append(.object([("msr", .uint(UInt64(i))), ("name", .string(name)), ("present", .bool(true)), ("value", .uint(v))]))
        }
        if wantFeatureControl, let c = ctx.controller {
            if let fc = c.withStopped({ $0.cpu.msrs.featureControl }) {
                s += "0x3a IA32_FEATURE_CONTROL = 0x\(hex(fc, 16))\n    lock \(fc & 1), VMX inside SMX \(fc >> 1 & 1), VMX outside SMX \(fc >> 2 & 1)\(fc & 5 == 5 ? "" : " — VMXON #GPs unless lock and VMX-outside-SMX are 1")\n"
                items.append(.object([("msr", .uint(0x3A)), ("name", .string("IA32_FEATURE_CONTROL")), ("present", .bool(true)), ("value", .uint(fc))]))
            }
        } else if wantFeatureControl && indices.isEmpty {
            return .failure("caps: IA32_FEATURE_CONTROL is machine state; load an image")
        }
        return CommandResult(s, data: .array(items))
    }

    static func capabilityLines(_ i: UInt32, _ v: UInt64) -> [String] {
        let word: VMXControlWord? = switch i {
        case VMXMSR.pinbasedCtls, VMXMSR.truePinbasedCtls: VMXModel.pinBased
        case VMXMSR.procbasedCtls, VMXMSR.trueProcbasedCtls: VMXModel.procBased
        case VMXMSR.procbasedCtls2: VMXModel.procBased2
        case VMXMSR.exitCtls, VMXMSR.trueExitCtls: VMXModel.exitControls
        case VMXMSR.entryCtls, VMXMSR.trueEntryCtls: VMXModel.entryControls
        default: nil
        }
        if let w = word {
            let must1 = UInt32(truncatingIfNeeded: v), may1 = UInt32(truncatingIfNeeded: v >> 32)
            func names(_ m: UInt32) -> String {
                let n = (0..<32).filter { m & (1 << UInt32($0)) != 0 }.map { w.bitName($0) ?? "bit \($0) (reserved, default1)" }
                return n.isEmpty ? "none" : n.joined(separator: ", ")
            }
            return ["allowed-0 (must be 1): \(names(must1))", "allowed-1 (may be 1): \(names(may1 & ~must1))"]
        }
        switch i {
        case VMXMSR.basic:
            return ["VMCS revision identifier 0x\(hex(v & 0x7FFF_FFFF)); VMCS region \(v >> 32 & 0x1FFF) bytes",
                    "physical addresses \(v >> 48 & 1 == 1 ? "limited to 32 bits" : "up to the physical-address width"); dual-monitor treatment \(v >> 49 & 1 == 1 ? "supported" : "not supported")",
                    "VMCS memory type \(v >> 50 & 0xF)\(v >> 50 & 0xF == 6 ? " (write-back)" : ""); INS/OUTS instruction information \(v >> 54 & 1 == 1 ? "reported" : "not reported"); TRUE_ controls MSRs \(v >> 55 & 1 == 1 ? "exist" : "do not exist") [SDM Appendix A.1 \"Basic VMX Information\"]"]
        case VMXMSR.misc:
            return ["EFER.LMA stored into \"IA-32e mode guest\" on exits: \(v >> 5 & 1); activity states: \(["HLT", "shutdown", "wait-for-SIPI"].enumerated().filter { v >> UInt64(6 + $0.offset) & 1 == 1 }.map(\.element).joined(separator: ", "))",
                    "CR3-target values: \(v >> 16 & 0x1FF); MSR-list entries max \(512 * ((v >> 25 & 7) + 1)); VMWRITE to exit-information fields: \(v >> 29 & 1 == 1 ? "allowed" : "not allowed") [SDM Appendix A.6 \"Miscellaneous Data\"]"]
        case VMXMSR.cr0Fixed0, VMXMSR.cr4Fixed0:
            return ["bits that must be 1 in VMX operation: 0x\(hex(v)) [SDM Appendix A.7/A.8]"]
        case VMXMSR.cr0Fixed1, VMXMSR.cr4Fixed1:
            return ["bits that may be 1 in VMX operation: 0x\(hex(v)) [SDM Appendix A.7/A.8]"]
        case VMXMSR.vmcsEnum:
            return ["highest VMCS field index: \(v >> 1 & 0x1FF) [SDM Appendix A.9 \"VMCS Enumeration\"]"]
        default: return []
        }
    }

    // MARK: decode

    static func decode(_ args: [String]) -> CommandResult {
        let usage = "usage: decode KIND VALUE [REASON|WORD]; KIND is one of \(VMXDecode.kinds.joined(separator: ", ")) (qual and insinfo need an exit reason, ctl a control word)"
        guard args.count == 2 || args.count == 3 else { return .usage(usage) }
        let kind = args[0]
        var valueText = args[1]
        var extra: String? = args.count == 3 ? args[2] : nil
        let needsReason = ["qual", "qualification", "insinfo", "instruction-info"].contains(kind.lowercased())
        func reasonWord(_ t: String) -> String? { t.lowercased().hasPrefix("reason=") ? String(t.dropFirst(7)) : nil }
        if needsReason, let e = extra {
            // REASON VALUE or VALUE REASON: a number is the reason only when written reason=N —
            // two bare numbers are refused rather than guessed.
            if let r = reasonWord(valueText) { (valueText, extra) = (e, r) }
            else if let r = reasonWord(e) { extra = r }
            else {
                let firstIsNumber = parseNumber(valueText) != nil, secondIsNumber = parseNumber(e) != nil
                if firstIsNumber && secondIsNumber {
                    return .usage("decode \(kind): '\(valueText)' and '\(e)' are both numbers; name the exit reason (CR_ACCESS) or write it as reason=N (decode \(kind) reason=\(valueText) \(e))")
                }
                if !firstIsNumber { (valueText, extra) = (e, valueText) }
            }
        } else if needsReason, let r = reasonWord(valueText) {
            return .usage("decode \(kind): reason=\(r) needs a value too\n" + usage)
        } else if parseNumber(valueText) == nil, let e = extra, parseNumber(e) != nil {
            (valueText, extra) = (e, valueText)
        }
        if ["field", "encoding"].contains(kind.lowercased()), parseNumber(valueText) == nil, let f = fieldLookup(valueText) {
            valueText = "0x" + hex(f.encoding)   // a field name stands for its encoding
        }
        guard let value = parseNumber(valueText) else { return .usage("decode: '\(valueText)' is not a number (0x-hex or decimal)\n" + usage) }
        guard let d = VMXDecode.decode(kind, value, extra: extra) else {
            if !VMXDecode.kinds.contains(kind.lowercased()) && !["reason", "qualification", "exitinfo", "access-rights", "error", "encoding", "control", "instruction-info"].contains(kind.lowercased()) {
                return .usage("decode: unknown kind '\(kind)'\n" + usage)
            }
            return .usage("decode \(kind): needs " + (["ctl", "control"].contains(kind.lowercased()) ? "a control word (pin, proc, proc2, exit, entry)" : "an exit reason (a name such as CR_ACCESS, or a number)") + (extra.map { ", not '\($0)'" } ?? ""))
        }
        return CommandResult(d.text, data: .object([("title", .string(d.title)), ("summary", .string(d.summary)),
                                                    ("section", .string(d.ref.section)), ("sdm_title", .string(d.ref.title)),
                                                    ("lines", .array(d.lines.map { .object([("name", .string($0.name)), ("value", .string($0.value)), ("meaning", .string($0.meaning))]) }))]))
    }

    /// A VMCS field by SDM name (case-insensitive, '-' for '_': guest-rip) or encoding.
    static func fieldLookup(_ text: String) -> VMCSField? {
        VMCSFields.lookup(text) ?? VMCSFields.lookup(String(text.map { $0 == "-" ? "_" : $0 }))
    }

    // MARK: msrbitmap, iobitmap

    static func msrBitmap(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count == 1, let msr = msrIndex(args[0]) else { return .usage("usage: msrbitmap MSR (a number such as 0xc0000080, or a name such as IA32_EFER)") }
        return withVMCS(ctx, "msrbitmap") { m, cpu, vmcs in
            let proc = cpu.vmcsRead(.procBasedControls, at: vmcs)
            if proc & UInt64(Proc.useMSRBitmaps) == 0 {
                return CommandResult("\"use MSR bitmaps\" = 0: RDMSR and WRMSR of every MSR exit [SDM §25.1.3]",
                                     data: .object([("read_exits", .bool(true)), ("write_exits", .bool(true))]))
            }
            let base = cpu.vmcsRead(.msrBitmaps, at: vmcs)
            let region: UInt64
            switch msr {
            case 0...0x1FFF: region = 0
            case 0xC000_0000...0xC000_1FFF: region = 0x400
            default:
                return CommandResult("MSR 0x\(hex(msr)) is outside both bitmap ranges: RDMSR and WRMSR exit [SDM §24.6.9 \"MSR-Bitmap Address\"]",
                                     data: .object([("read_exits", .bool(true)), ("write_exits", .bool(true))]))
            }
            let bitIndex = msr & 0x1FFF
            // The base is guest-controlled (VMWRITE, `vmcs set`): the sum wraps, and a byte outside
            // RAM reads as a set bit (unbacked memory reads all-ones for the CPU too: msrExits).
            func bit(_ off: UInt64) -> Bool {
                let a = base &+ region &+ off &+ bitIndex / 8
                guard m.memory.contains(a, count: 1) else { return true }
                return m.memory.read(at: a, count: 1)[0] >> (bitIndex % 8) & 1 == 1
            }
            let r = bit(0), w = bit(0x800)
            return CommandResult("MSR bitmaps at 0x\(hex(base)): MSR 0x\(hex(msr)) — RDMSR \(r ? "exits" : "does not exit"), WRMSR \(w ? "exits" : "does not exit") [SDM §24.6.9 \"MSR-Bitmap Address\"]" + invalidBitmapNote(base),
                                 data: .object([("bitmaps", .uint(base)), ("read_exits", .bool(r)), ("write_exits", .bool(w))]))
        }
    }

    /// A note for a bitmap address VM entry refuses: bits 11:0 must be 0 and the address must fit
    /// the physical-address width [SDM §26.2.1.1 "VM-Execution Control Fields"] ('vmcs check').
    static func invalidBitmapNote(_ base: UInt64) -> String {
        guard base & 0xFFF != 0 || base >> maxPhysAddrBits != 0 else { return "" }
        return "\n  note: 0x\(hex(base)) is not a valid bitmap address (4-KByte aligned, below 2^\(maxPhysAddrBits)): VM entry fails with it [SDM §26.2.1.1 \"VM-Execution Control Fields\"]; the bit shown is at the wrapped address"
    }

    /// An MSR index: a number up to 0xffffffff or an MSR name (IA32_EFER, case-insensitive).
    static func msrIndex(_ text: String) -> UInt64? {
        if let n = parseNumber(text) { return n <= 0xFFFF_FFFF ? n : nil }
        let t = text.uppercased()
        if let hit = MSR.names.first(where: { $0.value == t || $0.value == "IA32_" + t }) { return UInt64(hit.key) }
        return VMXMSR.names.first(where: { $0.value == t }).map { UInt64($0.key) }
    }

    static func ioBitmap(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count == 1, let port = parseNumber(args[0]), port <= 0xFFFF else { return .usage("usage: iobitmap PORT (0…0xffff)") }
        return withVMCS(ctx, "iobitmap") { m, cpu, vmcs in
            let proc = cpu.vmcsRead(.procBasedControls, at: vmcs)
            if proc & UInt64(Proc.useIOBitmaps) == 0 {
                let u = proc & UInt64(Proc.unconditionalIOExiting) != 0
                return CommandResult("\"use I/O bitmaps\" = 0, \"unconditional I/O exiting\" = \(u ? 1 : 0): IN/OUT of port 0x\(hex(port)) \(u ? "exits" : "does not exit") [SDM §25.1.3]",
                                     data: .object([("exits", .bool(u))]))
            }
            let base = cpu.vmcsRead(port < 0x8000 ? .ioBitmapA : .ioBitmapB, at: vmcs)
            let b = port & 0x7FFF
            let a = base &+ b / 8   // a guest-controlled base: wraps, never traps
            let set = m.memory.contains(a, count: 1) ? m.memory.read(at: a, count: 1)[0] >> (b % 8) & 1 == 1 : true
            return CommandResult("I/O bitmap \(port < 0x8000 ? "A" : "B") at 0x\(hex(base)): port 0x\(hex(port)) \(set ? "exits" : "does not exit") (one-byte access; wider accesses check every byte's port) [SDM §24.6.4 \"I/O-Bitmap Addresses\"]" + invalidBitmapNote(base),
                                 data: .object([("bitmap", .uint(base)), ("exits", .bool(set))]))
        }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String { split(separator: a, omittingEmptySubsequences: false).joined(separator: b) }
    func replacingPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
