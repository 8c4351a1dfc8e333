// The debugger's command table: one declarative row per command (name, aliases, arguments,
// summary, examples, completion, handler). Both front doors run these rows — the REPL
// (`vmxemu run IMAGE --repl`) and gdb's `monitor CMD` — so help, `help CMD`, `apropos`,
// completion, unique-prefix abbreviation and the `monitor` listing all come from
// `DebuggerCommands.table`, and the same line prints the same text through either door.
// `--json` on any line (or `set json on`) prints one JSON object per result instead.
//
//   Commands.swift        the row type, dispatch, help, and the machine-state rows
//   Commands+VMX.swift    vmcs, why, exit/exits, ctl, caps, decode, break/delete, assert
//   Commands+Run.swift    c, si, next-exit, next-entry, expect (REPL only: gdb owns run control
//                         in a gdb session) and the exit ring they record
//   DebugSession.swift    per-machine state of the front doors (VMX breakpoints, exit ring, json)

import Machine
import X86

/// What a command printed, and how it ended.
public struct CommandResult: Equatable, Sendable {
    public enum Status: Equatable, Sendable {
        case ok
        /// The command ran and failed, or an `assert`/`expect` did not hold (script exit status 1).
        case failed
        /// The command line was wrong: unknown command, bad arguments (script exit status 2).
        case usage
        /// The guest hit a fatal event — triple fault, VMX abort (script exit status 3).
        case guestFatal
        /// `quit [N]`.
        case quit(Int32)
    }
    public var output: String
    public var status: Status
    /// The structured form for `--json` (nil: the JSON object carries only the text).
    public var data: JSONValue?

    public init(_ output: String, succeeded: Bool = true, data: JSONValue? = nil) {
        self.init(output, status: succeeded ? .ok : .failed, data: data)
    }
    public init(_ output: String, status: Status, data: JSONValue? = nil) {
        self.output = output.isEmpty || output.hasSuffix("\n") ? output : output + "\n"
        self.status = status
        self.data = data
    }
    /// The command did what was asked (a guest fatal event reached by `c` is still a result).
    public var succeeded: Bool { status != .failed && status != .usage }

    static func failure(_ message: String) -> CommandResult { CommandResult(message, status: .failed) }
    static func usage(_ message: String) -> CommandResult { CommandResult(message, status: .usage) }

    /// The exit status a script ends with after this result (nil: the script goes on).
    public var scriptExitStatus: Int32? {
        switch status {
        case .ok: return nil
        case .failed: return 1
        case .usage: return 2
        case .guestFatal: return 3
        case .quit(let n): return n
        }
    }
}

/// Which front door runs a command line.
public enum FrontDoor: Sendable, Equatable {
    /// The readline REPL or a script (`-x`, `-ex`, `source`, stdin).
    case repl
    /// gdb's `monitor CMD`.
    case monitor
    /// No machine at all (`vmxemu decode …`): only commands that need nothing run.
    case offline
}

/// What a handler may use: the machine (nil offline), the front door, the session state.
public struct CommandContext: Sendable {
    public let controller: MachineController?
    public let frontDoor: FrontDoor
    public let session: DebugSession
    /// Polled while the machine runs: true when the user asked to stop it (Ctrl-C).
    public var interruptRequested: @Sendable () -> Bool
    /// Nesting depth of `source` (refused beyond a few levels).
    public var sourceDepth = 0

    public init(controller: MachineController?, frontDoor: FrontDoor, session: DebugSession? = nil,
                interruptRequested: @escaping @Sendable () -> Bool = { false }) {
        self.controller = controller
        self.frontDoor = frontDoor
        self.session = session ?? controller.map(DebugSession.of) ?? DebugSession()
        self.interruptRequested = interruptRequested
    }
}

/// One command of the table.
public struct DebuggerCommand: Sendable {
    /// What a command needs before it can run.
    public enum Needs: Sendable, Equatable {
        /// Nothing: runs offline too (`decode`, `help`).
        case nothing
        /// A machine, running or not.
        case machine
        /// A stopped machine (refused with a message while it runs).
        case stoppedMachine
    }

    public let name: String
    public let aliases: [String]
    /// The argument synopsis ("ADDR", "on|off").
    public let arguments: String
    public let summary: String
    /// More lines for `help CMD`.
    public let details: String
    public let examples: [String]
    public let needs: Needs
    /// Run control (`c`, `si`, …): the REPL's; in a gdb session gdb resumes the machine.
    public let replOnly: Bool
    /// Candidates for the next word, given the argument words before it (completion).
    public let completions: @Sendable ([String]) -> [String]
    public let handler: @Sendable (CommandContext, [String]) -> CommandResult

    public init(_ name: String, aliases: [String] = [], arguments: String = "", summary: String,
                details: String = "", examples: [String] = [], needs: Needs = .stoppedMachine,
                replOnly: Bool = false, completions: @escaping @Sendable ([String]) -> [String] = { _ in [] },
                handler: @escaping @Sendable (CommandContext, [String]) -> CommandResult) {
        self.name = name
        self.aliases = aliases
        self.arguments = arguments
        self.summary = summary
        self.details = details
        self.examples = examples
        self.needs = needs
        self.replOnly = replOnly
        self.completions = completions
        self.handler = handler
    }

    /// A row whose handler needs only the machine (the original `monitor` rows).
    public init(_ name: String, arguments: String = "", summary: String, needsStoppedMachine: Bool = true,
                run: @escaping @Sendable (MachineController, [String]) -> CommandResult) {
        self.init(name, arguments: arguments, summary: summary, needs: needsStoppedMachine ? .stoppedMachine : .machine) { ctx, args in
            guard let c = ctx.controller else { return .failure("\(name): no machine (this command needs a loaded image)") }
            return run(c, args)
        }
    }

    public var needsStoppedMachine: Bool { needs == .stoppedMachine }
    public var synopsis: String { arguments.isEmpty ? name : "\(name) \(arguments)" }
}

public enum DebuggerCommands {
    public static let table: [DebuggerCommand] = machineRows + vmxRows + contextRows + runRows + scriptRows

    static let machineRows: [DebuggerCommand] = [
        DebuggerCommand("help", arguments: "[COMMAND]", summary: "list the commands, or describe one",
                        examples: ["help", "help vmcs"], needs: .nothing,
                        completions: { $0.isEmpty ? commandNames : [] }) { ctx, args in help(args, ctx.frontDoor) },
        DebuggerCommand("status", summary: "run state, CPU mode, RIP with its symbol, why it stopped, instructions retired",
                        needsStoppedMachine: false) { c, _ in status(c) },
        DebuggerCommand("regs", summary: "registers of the selected context (ctx): GPRs, control, EFER, segments with their hidden parts, descriptor tables, debug registers, MSRs; from the VMCS when the context is not on the CPU") { ctx, _ in
            guard let c = ctx.controller else { return .usage("regs: needs a machine") }
            let sel = selected(ctx, c)
            return sel.onCPU ? systemRegisters(c) : offCPURegisters(ctx, c, sel)
        },
        DebuggerCommand("phys", arguments: "[on|off]", summary: "memory by address is physical (on) or linear in the current paging (off); addresses with bits 63:52 = 0x800 are always physical",
                        needsStoppedMachine: false) { c, args in phys(c, args) },
        DebuggerCommand("translate", arguments: "ADDR|SYMBOL|rip", summary: "the page walk of a linear address, level by level (entry addresses, values, flags)") { c, args in
            translate(c, args)
        },
    ]

    /// Every name and alias (completion of the first word).
    public static let commandNames: [String] = table.flatMap { [$0.name] + $0.aliases }

    /// The row a word names: exact name or alias, else a unique prefix of the names.
    public static func resolve(_ word: String) -> Result<DebuggerCommand, CommandLookupError> {
        let w = word.lowercased()
        if let c = table.first(where: { $0.name == w || $0.aliases.contains(w) }) { return .success(c) }
        let hits = table.filter { c in c.name.hasPrefix(w) || c.aliases.contains { $0.hasPrefix(w) } }
        if hits.count == 1 { return .success(hits[0]) }
        if hits.isEmpty { return .failure(.unknown(word)) }
        return .failure(.ambiguous(word, hits.map(\.name)))
    }

    /// The command names (and aliases) within edit distance 2 of an unknown word, nearest first
    /// (at most three): "did you mean".
    static func nearestNames(_ word: String) -> [String] {
        let w = Array(word.lowercased())
        guard !w.isEmpty, w.count <= 40 else { return [] }
        func distance(_ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for i in 1...w.count {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in stride(from: 1, through: b.count, by: 1) {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (w[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return prev[b.count]
        }
        let limit = w.count <= 3 ? 1 : 2
        var hits: [(String, Int)] = []
        for c in table {
            let best = ([c.name] + c.aliases).map { distance(Array($0)) }.min() ?? 99
            if best <= limit { hits.append((c.name, best)) }
        }
        return hits.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.prefix(3).map(\.0)
    }

    public enum CommandLookupError: Error, Equatable, CustomStringConvertible {
        case unknown(String)
        case ambiguous(String, [String])
        public var description: String {
            switch self {
            case .unknown(let w):
                let near = DebuggerCommands.nearestNames(w)
                return "unknown command '\(w)'" + (near.isEmpty ? "" : "; did you mean \(near.map { "'\($0)'" }.joined(separator: " or "))?") + "; 'help' lists the commands"
            case .ambiguous(let w, let names): return "ambiguous command '\(w)': \(names.joined(separator: ", "))"
            }
        }
    }

    /// Splits a line into words: blanks separate; "double" or 'single' quotes group; `x/4gx`
    /// splits into `x` and `/4gx` (gdb's format suffix).
    public static func words(_ line: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quote: Character?
        var inWord = false
        for ch in line {
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
                continue
            }
            if ch == "\"" || ch == "'" { quote = ch; inWord = true; continue }
            if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" {
                if inWord { out.append(cur); cur = ""; inWord = false }
                continue
            }
            cur.append(ch); inWord = true
        }
        if inWord { out.append(cur) }
        if let first = out.first, let slash = first.firstIndex(of: "/"), slash != first.startIndex {
            out[0] = String(first[..<slash])
            out.insert(String(first[slash...]), at: 1)
        }
        return out
    }

    /// Runs one command line (`monitor LINE` in gdb).
    public static func execute(_ line: String, on controller: MachineController) -> CommandResult {
        execute(line, context: CommandContext(controller: controller, frontDoor: .monitor))
    }

    /// Runs one command line in a context; `--json` anywhere (or `set json on`) gives the JSON form.
    public static func execute(_ line: String, context ctx: CommandContext) -> CommandResult {
        var words = words(line)
        // A comment or an empty line does nothing (scripts); `monitor` with no words lists the commands.
        if words.first?.hasPrefix("#") ?? false { return CommandResult("") }
        var json = ctx.session.json
        if let i = words.firstIndex(of: "--json") { json = true; words.remove(at: i) }
        guard let name = words.first else {
            return ctx.frontDoor == .monitor ? help([], ctx.frontDoor) : CommandResult("")
        }
        let result: CommandResult
        let resolvedName: String
        switch resolve(name) {
        case .failure(let e):
            resolvedName = name
            result = .usage(e.description)
        case .success(let command):
            resolvedName = command.name
            result = run(command, Array(words.dropFirst()), ctx)
        }
        guard json else { return result }
        var fields: [(String, JSONValue)] = [("command", .string(resolvedName)), ("ok", .bool(result.succeeded)),
                                             ("status", .string(statusWord(result.status)))]
        if case .quit(let n) = result.status { fields.append(("quit", .int(Int64(n)))) }
        fields.append(("output", .string(result.output)))
        if let d = result.data { fields.append(("data", d)) }
        var out = result
        out.output = JSONValue.object(fields).serialized() + "\n"
        return out
    }

    static func statusWord(_ s: CommandResult.Status) -> String {
        switch s {
        case .ok: return "ok"
        case .failed: return "failed"
        case .usage: return "usage"
        case .guestFatal: return "guest-fatal"
        case .quit: return "quit"
        }
    }

    static func run(_ command: DebuggerCommand, _ args: [String], _ ctx: CommandContext) -> CommandResult {
        let name = command.name
        if command.replOnly && ctx.frontDoor == .monitor {
            return .usage("\(name): run control belongs to gdb in a gdb session (continue, stepi); '\(name)' works in the vmxemu REPL")
        }
        if command.needs != .nothing {
            guard let c = ctx.controller else {
                return .usage("\(name): needs a machine (vmxemu run IMAGE --repl); with no image only 'decode' and 'help' work")
            }
            if command.needs == .stoppedMachine && c.isRunning {
                return .failure("\(name): the machine is running; interrupt it first (Ctrl-C)")
            }
        }
        return command.handler(ctx, args)
    }

    // MARK: Help

    static func help(_ args: [String], _ door: FrontDoor = .monitor) -> CommandResult {
        if let name = args.first {
            guard case .success(let c) = resolve(name) else { return .usage("no command '\(name)'; 'help' lists the commands") }
            var s = wrap(c.synopsis, indent: "", continuation: "    ") + wrap(c.summary, indent: "  ")
            if !c.aliases.isEmpty { s += "  aliases: \(c.aliases.joined(separator: ", "))\n" }
            if !c.details.isEmpty { s += c.details.split(separator: "\n", omittingEmptySubsequences: false).map { wrap(String($0), indent: "  ") }.joined() }
            if !c.examples.isEmpty { s += "  examples:\n" + c.examples.map { "    \($0)\n" }.joined() }
            if c.replOnly { s += "  (REPL only: in gdb, use gdb's own run control)\n" }
            return CommandResult(s, data: .object([("name", .string(c.name)), ("arguments", .string(c.arguments)),
                                                   ("summary", .string(c.summary)), ("aliases", .array(c.aliases.map(JSONValue.string))),
                                                   ("examples", .array(c.examples.map(JSONValue.string)))]))
        }
        // Fits `helpWidth` columns: a synopsis longer than the name column gets its own line(s),
        // summaries wrap under the summary column; `help CMD` has the whole synopsis.
        let column = 24
        var s = door == .monitor ? "vmxemu monitor commands:\n" : "vmxemu commands:\n"
        for c in table {
            let summary = c.summary + (c.replOnly ? " (REPL only)" : "")
            let pad = String(repeating: " ", count: column)
            if c.synopsis.count + 3 <= column {
                s += wrap(summary, indent: "  " + c.synopsis.padded(column - 2), continuation: pad)
            } else {
                s += wrap(c.synopsis, indent: "  ", continuation: "      ") + wrap(summary, indent: pad)
            }
        }
        s += "Unique prefixes work (vm → vmcs). --json on any command gives one JSON object per result.\n"
        s += "Physical memory in gdb: x/4xg 0x8000000000000000+PHYS, or monitor phys on.\n"
        return CommandResult(s, data: .array(table.map { .object([("name", .string($0.name)), ("summary", .string($0.summary))]) }))
    }

    /// Help text width: every line `help` prints fits this many columns.
    public static let helpWidth = 100

    /// `text` word-wrapped to `helpWidth` columns: the first line after `indent`, the others
    /// after `continuation` (default: as many blanks as `indent` is long). Ends in a newline.
    static func wrap(_ text: String, indent: String, continuation: String? = nil) -> String {
        let cont = continuation ?? String(repeating: " ", count: indent.count)
        var lines: [String] = []
        var line = indent
        var lineHasWord = false
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let w = String(word)
            if lineHasWord && line.count + 1 + w.count > helpWidth {
                lines.append(line)
                line = cont
                lineHasWord = false
            }
            if lineHasWord { line += " " }
            line += w
            lineHasWord = true
        }
        lines.append(line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `apropos WORD`: commands whose name, summary or details mention WORD.
    static func apropos(_ args: [String]) -> CommandResult {
        guard let w = args.first?.lowercased(), !w.isEmpty else { return .usage("usage: apropos WORD") }
        let hits = table.filter { ($0.name + " " + $0.aliases.joined(separator: " ") + " " + $0.summary + " " + $0.details).lowercased().contains(w) }
        if hits.isEmpty { return CommandResult("nothing matches '\(w)'", data: .array([])) }
        return CommandResult(hits.map { wrap($0.synopsis, indent: "  ", continuation: "      ") + wrap($0.summary, indent: "      ") }.joined(),
                             data: .array(hits.map { .string($0.name) }))
    }

    // MARK: Handlers

    static func status(_ c: MachineController) -> CommandResult {
        // (Gathered first: the controller's lock is not re-entrant.)
        let last = c.lastStop
        let abort = lastAbort(c)?.indicator
        let physicalView = c.physicalView
        let (vmmSW, hw, wp) = c.debugTables(context: MachineController.vmmContext)
        let sw = vmmSW + c.debugTables(context: MachineController.everyContext).software   // + the REPL's
        let vmxBreaks = DebugSession.of(c).breakpoints
        let report: String? = c.withStopped { m in
            let cpu = m.cpu
            var s = "state:         stopped"
            if let last { s += " — \(last.summary)" } else { s += " — not started yet" }
            s += "\n"
            s += "context:       gdb process 1 = VMM (VMX root), thread 1.1 = vCPU0\n"
            s += "vmx:           \(vmxStatusLine(cpu, abort: abort))\n"
            s += "mode:          \(cpu.modeDescription)\n"
            s += "rip:           \(c.describe(cpu.rip))"
            let lin = linearRIP(cpu)
            if lin != cpu.rip { s += "  (linear 0x\(hex(lin)))" }
            s += "\n"
            s += "instructions:  \(cpu.instructions) retired\n"
            s += "memory view:   \(physicalView ? "physical (monitor phys on)" : "linear, current paging") — tagged physical: 0x8000000000000000 | PHYS\n"
            s += "debugger:      \(sw.count) breakpoint\(sw.count == 1 ? "" : "s"), \(hw.count) hardware breakpoint\(hw.count == 1 ? "" : "s"), \(wp.count) watchpoint\(wp.count == 1 ? "" : "s")\n"
            // VMX breakpoints belong to the machine, not to one gdb or REPL session.
            s += "VMX breaks:    " + (vmxBreaks.isEmpty ? "none" : vmxBreaks.map { "\($0.number): \($0.description)" }.joined(separator: "; ")) + "\n"
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
        if let a = machine.symbols.address(of: text) { return a }
        // A VMCS field name (disas GUEST_RIP, x/4gx HOST_RSP): its value in the current VMCS.
        let cpu = machine.cpu
        if !text.allSatisfy(\.isHexDigit), let f = fieldLookup(text), cpu.vmx.on, cpu.vmx.currentVMCS != VMXState.invalidPointer {
            return cpu.vmcsRead(f.id, at: cpu.vmx.currentVMCS)
        }
        return nil
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
            var s = ""
            let gpr = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
            for i in stride(from: 0, to: 16, by: 2) {
                s += gpr[i].padded(4) + "0x" + hex(cpu.regs[i], 16) + "    " + gpr[i + 1].padded(4) + "0x" + hex(cpu.regs[i + 1], 16) + "\n"
            }
            s += "rip         \(c.describe(cpu.rip))\n"
            s += "mode        \(cpu.modeDescription)\n"
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
            s += "VMX         \(vmxStatusLine(cpu))\n"
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
