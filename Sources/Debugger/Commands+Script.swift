// Rows for breakpoints, memory, settings and scripts: `break`, `info breakpoints`, `delete`,
// `x/FMT`, `apropos`, `set`, `source`, `assert`, `quit`.

import Machine
import X86

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DebuggerCommands {
    static let breakKinds = ["exit", "entry", "entry-fail", "vmfail", "vmx"]
    static let vmxInstructionNames = ["VMXON", "VMXOFF", "VMCLEAR", "VMPTRLD", "VMPTRST", "VMREAD", "VMWRITE", "VMLAUNCH", "VMRESUME", "VMCALL"]
    static let vmxInstructionOps: [Op] = [.vmxon, .vmxoff, .vmclear, .vmptrld, .vmptrst, .vmread, .vmwrite, .vmlaunch, .vmresume, .vmcall]

    static let scriptRows: [DebuggerCommand] = [
        DebuggerCommand("break", aliases: ["b"], arguments: "exit [REASON…] [FILTER…] | entry | entry-fail | vmfail | vmx INSN… | ADDR|SYMBOL",
                        summary: "stop at VM exits (of these basic reasons, optionally only this MSR/port/vector/CR), VM entries, failed entries, VMfail, before a VMX instruction in root operation — or before the instruction at an address or symbol",
                        details: "FILTER: msr=N, port=N, vector=N, cr=N.\nExit filters are checked by the REPL's run control (c, si); in a gdb session a gdb continue stops at every exit of the filter's reasons.",
                        examples: ["break exit CPUID", "break exit 10 HLT", "break exit WRMSR msr=0xc0000080", "break exit port=0x3f8", "break exit vector=14", "break exit cr=3", "break entry-fail", "break vmx VMLAUNCH", "break vmm_main"], needs: .stoppedMachine,
                        completions: { prev in prev.isEmpty ? breakKinds : (prev[0] == "exit" ? exitReasonNames + ["msr=", "port=", "vector=", "cr="] : (prev[0] == "vmx" ? vmxInstructionNames : [])) }) { ctx, args in
            breakCommand(ctx, args)
        },
        DebuggerCommand("info", arguments: "breakpoints", summary: "list the breakpoints (VMX and code) with their numbers and hit counts",
                        needs: .machine, completions: { $0.isEmpty ? ["breakpoints"] : [] }) { ctx, args in
            guard args.count == 1, "breakpoints".hasPrefix(args[0]), !args[0].isEmpty else { return .usage("usage: info breakpoints") }
            return infoBreakpoints(ctx)
        },
        DebuggerCommand("delete", arguments: "[N]", summary: "delete breakpoint N, or all breakpoints",
                        needs: .stoppedMachine) { ctx, args in deleteCommand(ctx, args) },
        DebuggerCommand("x", arguments: "/FMT ADDR",
                        summary: "examine memory as gdb does: FMT = [COUNT][x|d|u|c][b|h|w|g], ADDR a number, symbol or rip (linear; gpa:/hpa: prefix for physical)",
                        examples: ["x/8gx rip", "x/16bx 0x1000", "x/4wx hpa:0x100000"], needs: .stoppedMachine) { ctx, args in
            examine(ctx, args)
        },
        DebuggerCommand("apropos", arguments: "WORD", summary: "the commands whose name or description mentions WORD",
                        examples: ["apropos exit"], needs: .nothing) { _, args in apropos(args) },
        DebuggerCommand("set", arguments: "json on|off", summary: "settings: json on prints every result as one JSON object",
                        needs: .nothing, completions: { $0.isEmpty ? ["json"] : ($0.count == 1 ? ["on", "off"] : []) }) { ctx, args in
            guard args.count == 2, args[0] == "json", args[1] == "on" || args[1] == "off" else { return .usage("usage: set json on|off") }
            ctx.session.json = args[1] == "on"
            return CommandResult("json \(args[1])", data: .object([("json", .bool(args[1] == "on"))]))
        },
        DebuggerCommand("source", arguments: "FILE", summary: "run the commands of FILE (one per line, # comments); stops at the first failing command",
                        needs: .nothing) { ctx, args in sourceCommand(ctx, args) },
        DebuggerCommand("assert", arguments: "EXPR",
                        summary: "fail (exit status 1 in a script) unless EXPR holds: A [==|!=|<|<=|>|>= B]; operands are numbers, registers (rax…r15, rip, rflags, cr0, cr3, cr4, efer), VMCS field names, exit-reason, exits, entries, vmx, nonroot, exit reason names",
                        examples: ["assert exit-reason == CPUID", "assert GUEST_RFLAGS & 2", "assert rip == 0x101000", "assert exits >= 3"],
                        needs: .nothing) { ctx, args in assertCommand(ctx, args) },
        DebuggerCommand("quit", aliases: ["q"], arguments: "[N]", summary: "leave the REPL with exit status N (default 0)", needs: .nothing) { ctx, args in
            guard args.count <= 1 else { return .usage("usage: quit [N]") }
            var n: Int32 = 0
            if let a = args.first {
                guard let v = Int32(a), v >= 0, v <= 255 else { return .usage("quit: N must be 0…255, not '\(a)'") }
                n = v
            }
            if ctx.frontDoor == .monitor { return .usage("quit: in gdb, use gdb's own quit (or kill to end the machine)") }
            return CommandResult("", status: .quit(n))
        },
    ]

    // MARK: break, info, delete

    static func breakCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller, let what = args.first else {
            return .usage("usage: break exit [REASON…] | entry | entry-fail | vmfail | ADDR|SYMBOL")
        }
        let kind: VMXBreakpoint.Kind
        switch what {
        case "exit":
            var reasons = Set<UInt16>()
            var filter = ExitFilter()
            for a in args.dropFirst() {
                if let eq = a.firstIndex(of: "=") {
                    let key = a[..<eq].lowercased(), text = String(a[a.index(after: eq)...])
                    guard let v = parseNumber(text) else { return .usage("break exit: '\(text)' in '\(a)' is not a number") }
                    switch key {
                    case "msr" where v <= 0xFFFF_FFFF: filter.msr = UInt32(v)
                    case "port" where v <= 0xFFFF: filter.port = UInt16(v)
                    case "vector" where v <= 0xFF: filter.vector = UInt8(v)
                    case "cr" where [0, 3, 4, 8].contains(v): filter.cr = UInt8(v)
                    default: return .usage("break exit: '\(a)' is not a filter (msr=N, port=0…0xffff, vector=0…255, cr=0|3|4|8)")
                    }
                    continue
                }
                guard let r = VMXExitReason.lookup(a) else { return .usage("break exit: unknown exit reason '\(a)' (names as in 'decode exit-reason', or numbers)") }
                reasons.insert(r.rawValue)
            }
            if !filter.isEmpty {
                if reasons.isEmpty { reasons = filter.reasons }
                guard !reasons.isDisjoint(with: filter.reasons) else {
                    return .usage("break exit: the filter\(filter.description) never matches these reasons (msr= goes with RDMSR/WRMSR, port= with IO_INSTRUCTION, vector= with EXCEPTION_NMI, cr= with CR_ACCESS)")
                }
            }
            let n = ctx.session.addBreakpoint(.exit(reasons), filter: filter)
            _ = c.withStopped { m in ctx.session.applyBreakFlags(m.cpu) }
            let bp = ctx.session.breakpoints.first { $0.number == n }!
            return CommandResult("breakpoint \(n): \(bp.description)", data: .object([("number", .int(Int64(n))), ("what", .string(bp.description))]))
        case "vmx":
            guard args.count > 1 else { return .usage("usage: break vmx INSN… (\(vmxInstructionNames.joined(separator: ", ")))") }
            var mask: UInt16 = 0
            var names: [String] = []
            for a in args.dropFirst() {
                guard let i = vmxInstructionNames.firstIndex(of: a.uppercased()) else {
                    return .usage("break vmx: '\(a)' is not a VMX instruction (\(vmxInstructionNames.joined(separator: ", ")))")
                }
                mask |= VMXState.breakBit(vmxInstructionOps[i])!
                if !names.contains(vmxInstructionNames[i]) { names.append(vmxInstructionNames[i]) }
            }
            kind = .vmxInstruction(mask, names)
        case "entry": kind = .entry
        case "entry-fail", "entry-failure": kind = .entryFailure
        case "vmfail": kind = .vmfail
        default:
            guard args.count == 1 else { return .usage("usage: break ADDR|SYMBOL") }
            let addr: UInt64?? = c.withStopped { m in resolveAddress(what, machine: m) }
            guard let a = addr ?? nil else { return .usage("break: '\(what)' is neither exit/entry/entry-fail/vmfail nor an address or symbol") }
            // Every context: a guest's code (guest_main) stops when the guest runs it, as in gdb.
            guard c.insertBreakpoint(context: MachineController.everyContext, address: a, hardware: false) else {
                return .failure("break: the machine is running")
            }
            let n = ctx.session.addCodeBreakpoint(a)
            return CommandResult("breakpoint \(n) at \(c.describe(a))", data: .object([("number", .int(Int64(n))), ("address", .uint(a))]))
        }
        if args.count > 1 && what != "vmx" { return .usage("usage: break \(what)") }
        let n = ctx.session.addBreakpoint(kind)
        _ = c.withStopped { m in ctx.session.applyBreakFlags(m.cpu) }
        let bp = ctx.session.breakpoints.first { $0.number == n }!
        return CommandResult("breakpoint \(n): \(bp.description)", data: .object([("number", .int(Int64(n))), ("what", .string(bp.description))]))
    }

    static func infoBreakpoints(_ ctx: CommandContext) -> CommandResult {
        let vmx = ctx.session.breakpoints, code = ctx.session.codeBreakpoints
        if vmx.isEmpty && code.isEmpty { return CommandResult("no breakpoints", data: .array([])) }
        var rows: [(Int, String, Int?)] = vmx.map { ($0.number, $0.description, $0.hits) }
        rows += code.map { ($0.number, "code at \(ctx.controller?.describe($0.address) ?? "0x" + hex($0.address))", nil) }
        rows.sort { $0.0 < $1.0 }
        var s = "Num  What\n"
        for r in rows { s += String(r.0).padded(5) + r.1 + (r.2.map { $0 > 0 ? "  (hit \($0) time\($0 == 1 ? "" : "s"))" : "" } ?? "") + "\n" }
        return CommandResult(s, data: .array(rows.map { .object([("number", .int(Int64($0.0))), ("what", .string($0.1))]) }))
    }

    static func deleteCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller else { return .usage("delete: needs a machine") }
        guard args.count <= 1 else { return .usage("usage: delete [N]") }
        var numbers: [Int]
        if let a = args.first {
            guard let n = Int(a) else { return .usage("delete: '\(a)' is not a breakpoint number") }
            numbers = [n]
        } else {
            numbers = ctx.session.breakpoints.map(\.number) + ctx.session.codeBreakpoints.map(\.number)
        }
        for n in numbers {
            let (found, address) = ctx.session.remove(n)
            if !found { return .failure("delete: no breakpoint \(n)") }
            if let a = address { c.removeBreakpoint(context: MachineController.everyContext, address: a, hardware: false) }
        }
        _ = c.withStopped { m in ctx.session.applyBreakFlags(m.cpu) }
        return CommandResult(numbers.isEmpty ? "no breakpoints to delete" : "deleted \(numbers.map(String.init).joined(separator: ", "))")
    }

    // MARK: x/FMT

    static func examine(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard let c = ctx.controller else { return .usage("x: needs a machine") }
        var fmt = "", addrWords = args
        if let f = args.first, f.hasPrefix("/") { fmt = String(f.dropFirst()); addrWords.removeFirst() }
        guard addrWords.count == 1 else { return .usage("usage: x/FMT ADDR (FMT = [COUNT][x|d|u|c][b|h|w|g])") }
        var count = 1, format: Character = "x", size = 4
        var digits = ""
        for ch in fmt {
            if ch.isNumber { digits.append(ch); continue }
            switch ch {
            case "x", "d", "u", "c": format = ch
            case "b": size = 1
            case "h": size = 2
            case "w": size = 4
            case "g": size = 8
            default: return .usage("x: unknown format letter '\(ch)' (x d u c, sizes b h w g)")
            }
        }
        if format == "c" && !fmt.contains(where: { "bhwg".contains($0) }) { size = 1 }
        if !digits.isEmpty {
            guard let n = Int(digits), n >= 1, n <= 4096 else { return .usage("x: count must be 1…4096") }
            count = n
        }
        var text = addrWords[0]
        var physical = false
        for p in ["hpa:", "gpa:", "phys:"] where text.lowercased().hasPrefix(p) { physical = true; text = String(text.dropFirst(p.count)) }
        let addr: UInt64?? = c.withStopped { m in resolveAddress(text, machine: m) }
        guard let a = addr ?? nil else { return .usage("x: '\(addrWords[0])' is neither an address nor a symbol") }
        let n = count * size
        let pid = ctx.session.context ?? c.currentContext
        let bytes = (physical ? c.readPhysical(address: a, count: n) : c.readMemory(context: pid, address: a, count: n)) ?? []
        if bytes.isEmpty { return .failure("x: cannot read \(physical ? "physical" : "linear") 0x\(hex(a)) (not mapped)") }
        var s = ""
        var values: [JSONValue] = []
        let perLine = size == 1 ? 8 : (size == 8 ? 2 : 4)
        var i = 0
        while i + size <= bytes.count {
            if (i / size) % perLine == 0 { s += (i == 0 ? "" : "\n") + "0x" + hex(a &+ UInt64(i), 16) + ":" }
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            switch format {
            case "d":
                let shift = UInt64(64 - 8 * size)
                s += "  " + String(Int64(bitPattern: v << shift) >> Int64(shift))
            case "u": s += "  " + String(v)
            case "c": s += "  " + (v >= 0x20 && v < 0x7F ? "'\(Character(Unicode.Scalar(UInt8(v))))'" : "\\x" + hex(v, 2))
            default: s += "  0x" + hex(v, size * 2)
            }
            values.append(.uint(v))
            i += size
        }
        if bytes.count < n { s += "\n(stopped at 0x\(hex(a &+ UInt64(bytes.count))): not mapped)" }
        return CommandResult(s, data: .object([("address", .uint(a)), ("size", .int(Int64(size))), ("values", .array(values))]))
    }

    // MARK: source

    static func sourceCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count == 1 else { return .usage("usage: source FILE") }
        guard ctx.sourceDepth < 8 else { return .failure("source: nested more than 8 deep") }
        if isDirectory(args[0]) { return .failure("source: '\(args[0])' is a directory, not a command file") }
        guard let text = readTextFile(args[0]) else { return .failure("source: cannot read '\(args[0])'") }
        var inner = ctx
        inner.sourceDepth += 1
        var out = ""
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = String(line)
            if l.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) || l.drop(while: { $0 == " " }).hasPrefix("#") { continue }
            let r = execute(l, context: inner)
            out += r.output
            if r.status != .ok {
                var res = r
                if r.scriptExitStatus != nil, case .quit = r.status {} else { out += "\(args[0]):\(i + 1): '\(l)' failed\n" }
                res.output = out
                return res
            }
            if ctx.interruptRequested() { return CommandResult(out + "source: interrupted\n", status: .failed) }
        }
        return CommandResult(out)
    }

    /// Writes `text` to a host file (created or truncated); an error message, or nil.
    static func writeTextFile(_ path: String, _ text: String) -> String? {
        if isDirectory(path) { return "it is a directory" }
        guard let f = fopen(path, "wb") else { return String(cString: strerror(errno)) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f) == 0
        return n == bytes.count && closed ? nil : "short write"
    }

    /// A text file's contents (the REPL's `-x`), nil if unreadable.
    public static func readTextFileForREPL(_ path: String) -> String? { readTextFile(path) }

    /// True when `path` names a directory (fopen opens one, and reading it then fails).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    static func readTextFile(_ path: String) -> String? {
        guard !isDirectory(path), let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { bytes.append(contentsOf: buf[0..<n]) }
            if n < buf.count { break }
            if bytes.count > 16 << 20 { return nil }
        }
        if ferror(f) != 0 { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: assert

    static func assertCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard !args.isEmpty else { return .usage("usage: assert A [OP B] (OP: == != < <= > >= &)") }
        let ops = ["==", "!=", "<=", ">=", "<", ">", "&"]
        var lhsText = args[0], op: String?, rhsText: String?
        if args.count == 3, ops.contains(args[1]) { op = args[1]; rhsText = args[2] } else if args.count != 1 {
            // Also "a==b" written without blanks.
            let joined = args.joined()
            guard let o = ops.first(where: { joined.contains($0) }), let r = joined.firstRange(of: o) else {
                return .usage("assert: cannot read '\(args.joined(separator: " "))' (write A OP B with OP one of \(ops.joined(separator: " ")))")
            }
            lhsText = String(joined[..<r.lowerBound]); op = o; rhsText = String(joined[r.upperBound...])
        } else if let o = ops.first(where: { lhsText.contains($0) }), let r = lhsText.firstRange(of: o) {
            op = o; rhsText = String(lhsText[r.upperBound...]); lhsText = String(lhsText[..<r.lowerBound])
        }
        let l: Result<UInt64, EvalError> = evaluate(lhsText, ctx)
        guard case .success(let a) = l else { if case .failure(let e) = l { return .usage("assert: \(e.message)") }; return .usage("assert") }
        guard let op, let rhsText else {
            return a != 0 ? CommandResult("assert: ok (\(lhsText) = 0x\(hex(a)))") : .failure("assertion failed: \(lhsText) is 0")
        }
        let r: Result<UInt64, EvalError> = evaluate(rhsText, ctx, reasonNames: isExitReasonOperand(lhsText))
        guard case .success(let b) = r else { if case .failure(let e) = r { return .usage("assert: \(e.message)") }; return .usage("assert") }
        let holds: Bool
        switch op {
        case "==": holds = a == b
        case "!=": holds = a != b
        case "<": holds = a < b
        case "<=": holds = a <= b
        case ">": holds = a > b
        case ">=": holds = a >= b
        default: holds = a & b != 0
        }
        let text = "\(lhsText) \(op) \(rhsText)  (0x\(hex(a)) \(op) 0x\(hex(b)))"
        return holds ? CommandResult("assert: ok: \(text)") : .failure("assertion failed: \(text)")
    }

    public struct EvalError: Error { public let message: String; init(_ m: String) { message = m } }

    static func isExitReasonOperand(_ t: String) -> Bool { ["exit-reason", "exit_reason", "reason"].contains(t.lowercased()) }

    /// The value of an assert operand.
    static func evaluate(_ text: String, _ ctx: CommandContext, reasonNames: Bool = false) -> Result<UInt64, EvalError> {
        let t = text.lowercased()
        if let n = parseNumber(t) { return .success(n) }
        if t.hasPrefix("-"), let n = parseNumber(String(t.dropFirst())) { return .success(0 &- n) }
        if reasonNames, let r = VMXExitReason.lookup(text) { return .success(UInt64(r.rawValue)) }
        guard let c = ctx.controller else { return .failure(EvalError("'\(text)' needs a machine (only numbers work offline)")) }
        let gpr = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
        let name = t.hasPrefix("$") ? String(t.dropFirst()) : t
        let v: Result<UInt64, EvalError>? = c.withStopped { m in
            let cpu = m.cpu
            if let i = gpr.firstIndex(of: name) { return .success(cpu.regs[i]) }
            switch name {
            case "rip", "pc": return .success(cpu.rip)
            case "rflags", "eflags": return .success(cpu.rflags)
            case "cr0": return .success(cpu.cr0)
            case "cr2": return .success(cpu.cr2)
            case "cr3": return .success(cpu.cr3)
            case "cr4": return .success(cpu.cr4)
            case "efer": return .success(cpu.efer)
            case "exit-reason", "exit_reason", "reason":
                guard let r = cpu.vmx.lastExitReason else { return .failure(EvalError("no VM exit yet: exit-reason has no value")) }
                return .success(UInt64(r & 0xFFFF))
            case "exits": return .success(cpu.vmx.exits)
            case "entries": return .success(cpu.vmx.entries)
            case "vmx": return .success(cpu.vmx.on ? 1 : 0)
            case "nonroot", "non-root": return .success(cpu.vmx.nonRoot ? 1 : 0)
            case "instructions": return .success(cpu.instructions)
            case "guest-exit-status":
                guard let e = m.bus.exitRequest else { return .failure(EvalError("the guest has not exited")) }
                return .success(UInt64(bitPattern: Int64(e.status)))
            default: break
            }
            if let f = VMCSFields.lookup(text), !text.allSatisfy(\.isHexDigit) {
                guard cpu.vmx.currentVMCS != VMXState.invalidPointer else { return .failure(EvalError("\(f.name): no current VMCS")) }
                return .success(cpu.vmcsRead(f.id, at: cpu.vmx.currentVMCS))
            }
            if let a = m.symbols.address(of: text) { return .success(a) }
            return .failure(EvalError("unknown operand '\(text)' (a number, register, VMCS field, symbol, exit-reason, exits, entries, vmx, nonroot)"))
        }
        return v ?? .failure(EvalError("the machine is running"))
    }
}
