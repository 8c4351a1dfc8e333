// The debugger's command table: one declarative row per command (name, arguments, summary,
// handler). gdb's `monitor CMD` runs these today; the REPL will run the same rows, so help,
// completion and the `monitor` listing all come from `DebuggerCommands.table`.

import Machine
import X86

/// What a command printed, and whether it succeeded.
public struct CommandResult: Equatable, Sendable {
    public var output: String
    public var succeeded: Bool
    public init(_ output: String, succeeded: Bool = true) {
        self.output = output.isEmpty || output.hasSuffix("\n") ? output : output + "\n"
        self.succeeded = succeeded
    }
    static func failure(_ message: String) -> CommandResult { CommandResult(message, succeeded: false) }
}

/// One command of the table.
public struct DebuggerCommand: Sendable {
    public let name: String
    /// The argument synopsis ("ADDR", "on|off").
    public let arguments: String
    public let summary: String
    /// Needs a stopped machine (refused with a message while it runs).
    public let needsStoppedMachine: Bool
    public let run: @Sendable (MachineController, [String]) -> CommandResult

    public init(_ name: String, arguments: String = "", summary: String, needsStoppedMachine: Bool = true,
                run: @escaping @Sendable (MachineController, [String]) -> CommandResult) {
        self.name = name
        self.arguments = arguments
        self.summary = summary
        self.needsStoppedMachine = needsStoppedMachine
        self.run = run
    }

    public var synopsis: String { arguments.isEmpty ? name : "\(name) \(arguments)" }
}

public enum DebuggerCommands {
    public static let table: [DebuggerCommand] = [
        DebuggerCommand("help", arguments: "[COMMAND]", summary: "list the commands, or describe one",
                        needsStoppedMachine: false) { _, args in help(args) },
        DebuggerCommand("status", summary: "run state, CPU mode, RIP with its symbol, why it stopped, instructions retired",
                        needsStoppedMachine: false) { c, _ in status(c) },
        DebuggerCommand("regs", summary: "system registers: control, EFER, segments with their hidden parts, descriptor tables, debug registers, MSRs") { c, _ in
            systemRegisters(c)
        },
        DebuggerCommand("phys", arguments: "[on|off]", summary: "memory by address is physical (on) or linear in the current paging (off); addresses with bits 63:52 = 0x800 are always physical",
                        needsStoppedMachine: false) { c, args in phys(c, args) },
        DebuggerCommand("translate", arguments: "ADDR|SYMBOL|rip", summary: "the page walk of a linear address, level by level (entry addresses, values, flags)") { c, args in
            translate(c, args)
        },
    ]

    /// Runs one command line (`monitor LINE` in gdb).
    public static func execute(_ line: String, on controller: MachineController) -> CommandResult {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        guard let name = words.first else { return help([]) }
        guard let command = table.first(where: { $0.name == name }) else {
            return .failure("unknown command '\(name)'; 'monitor help' lists the commands")
        }
        if command.needsStoppedMachine && controller.isRunning {
            return .failure("\(name): the machine is running; interrupt it first (Ctrl-C)")
        }
        return command.run(controller, Array(words.dropFirst()))
    }

    // MARK: Handlers

    static func help(_ args: [String]) -> CommandResult {
        if let name = args.first {
            guard let c = table.first(where: { $0.name == name }) else { return .failure("no command '\(name)'") }
            return CommandResult("\(c.synopsis)\n  \(c.summary)")
        }
        let width = (table.map(\.synopsis.count).max() ?? 0) + 2
        var s = "vmxemu monitor commands:\n"
        for c in table { s += "  " + c.synopsis.padded(width) + c.summary + "\n" }
        s += "Physical memory in gdb: x/4xg 0x8000000000000000+PHYS, or monitor phys on.\n"
        return CommandResult(s)
    }

    static func status(_ c: MachineController) -> CommandResult {
        // (Gathered first: the controller's lock is not re-entrant.)
        let last = c.lastStop
        let physicalView = c.physicalView
        let (sw, hw, wp) = c.debugTables(context: MachineController.vmmContext)
        let report: String? = c.withStopped { m in
            let cpu = m.cpu
            var s = "state:         stopped"
            if let last { s += " — \(last.summary)" } else { s += " — not started yet" }
            s += "\n"
            s += "context:       gdb process 1 = VMM (VMX root), thread 1.1 = vCPU0; VMX: off (not in VMX operation)\n"
            s += "mode:          \(cpu.modeDescription)\n"
            s += "rip:           \(c.describe(cpu.rip))"
            let lin = linearRIP(cpu)
            if lin != cpu.rip { s += "  (linear 0x\(hex(lin)))" }
            s += "\n"
            s += "instructions:  \(cpu.instructions) retired\n"
            s += "memory view:   \(physicalView ? "physical (monitor phys on)" : "linear, current paging") — tagged physical: 0x8000000000000000 | PHYS\n"
            s += "debugger:      \(sw.count) breakpoint\(sw.count == 1 ? "" : "s"), \(hw.count) hardware breakpoint\(hw.count == 1 ? "" : "s"), \(wp.count) watchpoint\(wp.count == 1 ? "" : "s")\n"
            s += "guest RAM:     \(m.memory.size >> 20) MiB"
            if let exit = m.bus.exitRequest { s += "\nguest exit:    status \(exit.status) written to port 0xF4" }
            return s
        }
        return CommandResult(report ?? "state:         running (interrupt with Ctrl-C)")
    }

    static func phys(_ c: MachineController, _ args: [String]) -> CommandResult {
        switch args.first {
        case nil: break
        case "on": c.physicalView = true
        case "off": c.physicalView = false
        case let other?: return .failure("phys: expected on or off, not '\(other)'")
        }
        return CommandResult(c.physicalView
            ? "physical view on: memory addresses are physical (monitor phys off to return to linear)"
            : "physical view off: memory addresses are linear, through the current paging")
    }

    static func translate(_ c: MachineController, _ args: [String]) -> CommandResult {
        guard args.count == 1 else { return .failure("usage: translate ADDR|SYMBOL|rip") }
        let out: CommandResult? = c.withStopped { m in
            guard let lin = resolveAddress(args[0], machine: m) else {
                return .failure("translate: '\(args[0])' is neither an address nor a symbol")
            }
            return CommandResult(PageWalkReport.render(lin, cpu: m.cpu))
        }
        return out ?? .failure("translate: the machine is running")
    }

    /// An address: 0x-hex, decimal, a symbol (optionally +offset), or rip/pc.
    static func resolveAddress(_ text: String, machine: Machine) -> UInt64? {
        if text == "rip" || text == "pc" || text == "$pc" || text == "$rip" { return linearRIP(machine.cpu) }
        if let plus = text.firstIndex(of: "+"), plus != text.startIndex {
            guard let base = resolveAddress(String(text[..<plus]), machine: machine),
                  let off = parseNumber(String(text[text.index(after: plus)...])) else { return nil }
            return base &+ off
        }
        if let n = parseNumber(text) { return n }
        return machine.symbols.address(of: text)
    }

    static func parseNumber(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text, radix: 10)
    }

    static func systemRegisters(_ c: MachineController) -> CommandResult {
        let out: String? = c.withStopped { m in
            let cpu = m.cpu
            func bits(_ v: UInt64, _ names: [(String, Int)]) -> String {
                "[ " + names.filter { v & (1 << UInt64($0.1)) != 0 }.map(\.0).joined(separator: " ") + " ]"
            }
            func row(_ name: String, _ v: UInt64, _ extra: String = "") -> String {
                name.padded(12) + "0x" + hex(v, 16) + (extra.isEmpty ? "" : "  " + extra) + "\n"
            }
            var s = "mode        \(cpu.modeDescription)\n"
            s += row("rflags", cpu.rflags, bits(cpu.rflags, [("CF", 0), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("ID", 21)]) + " IOPL=\((cpu.rflags >> 12) & 3)")
            s += row("cr0", cpu.cr0, bits(cpu.cr0, [("PE", 0), ("MP", 1), ("EM", 2), ("TS", 3), ("ET", 4), ("NE", 5), ("WP", 16), ("AM", 18), ("NW", 29), ("CD", 30), ("PG", 31)]))
            s += row("cr2", cpu.cr2)
            s += row("cr3", cpu.cr3, "page tables at 0x\(hex(cpu.cr3 & 0x000F_FFFF_FFFF_F000))")
            s += row("cr4", cpu.cr4, bits(cpu.cr4, [("VME", 0), ("PVI", 1), ("TSD", 2), ("DE", 3), ("PSE", 4), ("PAE", 5), ("MCE", 6), ("PGE", 7), ("PCE", 8), ("OSFXSR", 9), ("OSXMMEXCPT", 10), ("UMIP", 11), ("LA57", 12), ("VMXE", 13), ("SMXE", 14), ("FSGSBASE", 16), ("PCIDE", 17), ("OSXSAVE", 18), ("SMEP", 20), ("SMAP", 21), ("PKE", 22)]))
            s += row("cr8", cpu.cr8)
            s += row("efer", cpu.efer, bits(cpu.efer, [("SCE", 0), ("LME", 8), ("LMA", 10), ("NXE", 11)]))
            s += "segments    sel    base               limit      attr\n"
            for (i, name) in Seg.names.enumerated() {
                let r = cpu.segs[i]
                s += "  " + name.padded(10) + hex(r.selector, 4) + "   " + hex(r.base, 16) + "   " + hex(r.limit, 8)
                s += "   " + hex(r.attr, 5) + "  " + describeSegment(r, index: i) + "\n"
            }
            s += "gdtr        base 0x\(hex(cpu.gdtrBase, 16))  limit 0x\(hex(cpu.gdtrLimit, 4))\n"
            s += "idtr        base 0x\(hex(cpu.idtrBase, 16))  limit 0x\(hex(cpu.idtrLimit, 4))\n"
            s += row("dr0", cpu.dr.0) + row("dr1", cpu.dr.1) + row("dr2", cpu.dr.2) + row("dr3", cpu.dr.3)
            s += row("dr6", cpu.dr6) + row("dr7", cpu.dr7)
            let msrs = cpu.msrs
            s += "MSRs\n"
            for (name, v) in [("IA32_APIC_BASE", msrs.apicBase), ("IA32_FEATURE_CONTROL", msrs.featureControl),
                              ("IA32_SYSENTER_CS", msrs.sysenterCS), ("IA32_SYSENTER_ESP", msrs.sysenterESP),
                              ("IA32_SYSENTER_EIP", msrs.sysenterEIP), ("IA32_PAT", msrs.pat),
                              ("IA32_STAR", msrs.star), ("IA32_LSTAR", msrs.lstar), ("IA32_CSTAR", msrs.cstar),
                              ("IA32_FMASK", msrs.fmask), ("IA32_FS_BASE", cpu.segs[Seg.fs].base),
                              ("IA32_GS_BASE", cpu.segs[Seg.gs].base), ("IA32_KERNEL_GS_BASE", msrs.kernelGSBase),
                              ("IA32_TSC_AUX", msrs.tscAux)] {
                s += "  " + name.padded(22) + "0x" + hex(v, 16) + "\n"
            }
            s += "VMX         off (not in VMX operation; no current VMCS)\n"
            return s
        }
        return out.map { CommandResult($0) } ?? .failure("regs: the machine is running")
    }

    static func describeSegment(_ r: SegmentRegister, index: Int) -> String {
        if r.unusable { return "unusable" }
        var parts: [String] = []
        if r.attr & SegAttr.s != 0 {
            let code = r.type & 8 != 0
            parts.append(code ? "code" : "data")
            if code { parts.append(r.type & 2 != 0 ? "readable" : "exec-only") } else {
                parts.append(r.type & 2 != 0 ? "writable" : "read-only")
                if r.type & 4 != 0 { parts.append("expand-down") }
            }
            if r.attr & SegAttr.l != 0 { parts.append("64-bit") } else if r.attr & SegAttr.db != 0 { parts.append("32-bit") } else { parts.append("16-bit") }
        } else {
            let types: [UInt32: String] = [2: "LDT", 9: "TSS (available)", 11: "TSS (busy)", 1: "TSS16 (available)", 3: "TSS16 (busy)"]
            parts.append(types[r.type] ?? "system type \(r.type)")
        }
        parts.append("DPL\(r.dpl)")
        if !r.present { parts.append("not present") }
        if r.attr & SegAttr.g != 0 { parts.append("G") }
        return parts.joined(separator: " ")
    }
}
