// Run control for the REPL: `c`, `si [N]`, `next-exit`, `next-entry`, `expect exit REASON`.
// In a gdb session gdb owns run control, so these rows are REPL-only (`monitor c` explains).
//
// While the REPL runs the machine, the CPU stops after every VM exit (cpu.vmx.breakOnExit with
// no reason filter) — the controller's transition hook has recorded it in the session's ring, as
// it records every exit whoever drives the machine — and the run goes on unless a breakpoint
// (or the goal: next exit/entry) says stop. A
// VM exit costs one hand-off between threads, so this is cheap next to the exit itself. After
// the run the CPU's break flags go back to what the session's breakpoints ask, which is what a
// gdb `continue` honours.

import Machine
import X86

/// A stop delivered by the CPU thread, waited for by the command.
final class StopBox: @unchecked Sendable {
    private let lock = ConditionLock()
    private var stop: DebugStop?
    func set(_ s: DebugStop) { lock.withLock { stop = s; lock.broadcast() } }
    /// Waits up to `seconds`; nil if no stop yet.
    func wait(_ seconds: Double) -> DebugStop? {
        lock.withLock {
            let deadline = monotonicNow() + seconds
            while stop == nil {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { break }
            }
            return stop
        }
    }
}

extension DebuggerCommands {
    static let runRows: [DebuggerCommand] = [
        DebuggerCommand("c", aliases: ["continue", "cont"],
                        summary: "continue until a breakpoint, a VMX breakpoint (break exit|entry|…), the guest's exit, a fatal event or Ctrl-C",
                        examples: ["break exit CPUID", "c"], needs: .stoppedMachine, replOnly: true) { ctx, args in
            guard args.isEmpty else { return .usage("usage: c") }
            return runCommand(ctx, mode: .continue, goal: .breakpoints, verb: "c")
        },
        DebuggerCommand("si", aliases: ["stepi"], arguments: "[N]",
                        summary: "execute N instructions (default 1); stepping VMLAUNCH/VMRESUME lands on the guest's first instruction, a trapping guest instruction on HOST_RIP",
                        examples: ["si", "si 10"], needs: .stoppedMachine, replOnly: true) { ctx, args in
            stepCommand(ctx, args)
        },
        DebuggerCommand("next-exit", summary: "continue until the next VM exit (any reason), then show it",
                        needs: .stoppedMachine, replOnly: true) { ctx, args in
            guard args.isEmpty else { return .usage("usage: next-exit") }
            return runCommand(ctx, mode: .continue, goal: .nextExit, verb: "next-exit")
        },
        DebuggerCommand("next-entry", summary: "continue until the next successful VM entry (stopped before the guest's first instruction)",
                        needs: .stoppedMachine, replOnly: true) { ctx, args in
            guard args.isEmpty else { return .usage("usage: next-entry") }
            return runCommand(ctx, mode: .continue, goal: .nextEntry, verb: "next-entry")
        },
        DebuggerCommand("expect", arguments: "exit REASON",
                        summary: "continue to the next VM exit and fail (exit status 1 in a script) unless its basic reason is REASON",
                        examples: ["expect exit CPUID", "expect exit 12"], needs: .stoppedMachine, replOnly: true,
                        completions: { $0.isEmpty ? ["exit"] : ($0.count == 1 ? exitReasonNames : []) }) { ctx, args in
            guard args.count == 2, args[0] == "exit" else { return .usage("usage: expect exit REASON (a name such as CPUID, or a number)") }
            guard let want = VMXExitReason.lookup(args[1]) else { return .usage("expect: unknown exit reason '\(args[1])'") }
            var r = runCommand(ctx, mode: .continue, goal: .nextExit, verb: "expect")
            guard r.status == .ok else { return r }
            if case .vmx(.exit(let reason, _))? = ctx.controller?.lastStop?.reason,
               UInt16(reason & 0xFFFF) == want.rawValue, reason & 0x8000_0000 == 0 {
                r.output += "expected exit \(want.name): ok\n"
                return r
            }
            r.output += "expect: wanted a VM exit with reason \(want.rawValue) \(want.name)\n"
            r.status = .failed
            return r
        },
    ]

    /// Every exit-reason name (completion).
    public static let exitReasonNames: [String] = VMXExitReason.allCases.map(\.name)

    enum RunGoal { case breakpoints, nextExit, nextEntry }

    static func stepCommand(_ ctx: CommandContext, _ args: [String]) -> CommandResult {
        guard args.count <= 1 else { return .usage("usage: si [N]") }
        var n: UInt64 = 1
        if let a = args.first {
            guard let v = parseNumber(a), v >= 1, v <= 100_000_000 else { return .usage("si: N must be a number from 1 to 100000000, not '\(a)'") }
            n = v
        }
        var last = CommandResult("")
        var done: UInt64 = 0
        while done < n {
            last = runCommand(ctx, mode: .step, goal: .breakpoints, verb: "si", quiet: done + 1 < n)
            done += 1
            guard last.status == .ok else { break }
            if let c = ctx.controller, let s = c.lastStop, s.reason != .stepped { break }
            if ctx.interruptRequested() { break }
        }
        if n > 1 { last.output = "\(done) instruction\(done == 1 ? "" : "s") stepped\n" + last.output }
        return last
    }

    /// Runs the machine (REPL) until something worth stopping for; returns the stop report.
    static func runCommand(_ ctx: CommandContext, mode: MachineController.RunMode, goal: RunGoal, verb: String,
                           quiet: Bool = false) -> CommandResult {
        guard let c = ctx.controller else { return .usage("\(verb): needs a machine") }
        let session = ctx.session
        var exitsSeen: [RecordedExit] = []
        var matched: VMXBreakpoint?
        var stop: DebugStop
        defer { _ = c.withStopped { m in session.applyBreakFlags(m.cpu) } }
        while true {
            _ = c.withStopped { m in
                let cpu = m.cpu
                session.applyBreakFlags(cpu)
                cpu.vmx.breakOnExit = true          // record every exit; filter below
                cpu.vmx.breakExitReasons = []
                if goal == .nextEntry { cpu.vmx.breakOnEntry = true }
            }
            let box = StopBox()
            guard c.resume(mode, completion: { box.set($0) }) else {
                return .failure("\(verb): the machine is already running (or has been shut down)")
            }
            var got: DebugStop?
            while got == nil {
                got = box.wait(0.05)
                if got == nil && ctx.interruptRequested() { c.interrupt() }
            }
            stop = got!
            _ = c.waitUntilStopped(timeout: 5)
            if case .breakpoint(let address, _) = stop.reason, !session.codeBreakpoints.contains(where: { $0.address == address }) {
                // Not a code breakpoint: a `break vmx INSN` stop before a VMX instruction.
                let op: Op?? = c.withStopped { m in
                    let bytes = m.cpu.debugRead(linear: linearRIP(m.cpu), count: 15)
                    return Disassembler.decodeOp(bytes, bits: m.cpu.efer & EFER.lma != 0 && m.cpu.segs[Seg.cs].attr & SegAttr.l != 0 ? 64 : 32)
                }
                if let op = op ?? nil, let bit = VMXState.breakBit(op),
                   let bp = session.breakpoints.first(where: { if case .vmxInstruction(let m, _) = $0.kind { return m & bit != 0 }; return false }) {
                    matched = bp; session.hit(bp.number)
                }
            }
            guard case .vmx(let event) = stop.reason else { break }
            switch event {
            case .exit(let reason, let qualification):
                // The controller's transition hook recorded it (whoever runs the machine).
                let e = session.exits.last.flatMap { $0.reason == reason && $0.qualification == qualification ? $0 : nil }
                if let e { exitsSeen.append(e) }
                if goal == .nextExit { break }
                let ecx = c.withStopped { UInt32(truncatingIfNeeded: $0.cpu.regs[1]) } ?? 0
                if let bp = session.matching(event, facts: (e?.interruptionInfo ?? 0, ecx)) { matched = bp; session.hit(bp.number); break }
                if mode != .continue || ctx.interruptRequested() { break }
                continue
            case .entry:
                if goal == .nextEntry { break }
                if let bp = session.matching(event) { matched = bp; session.hit(bp.number); break }
                if mode != .continue || ctx.interruptRequested() { break }
                continue
            case .vmfail:
                if let bp = session.matching(event) { matched = bp; session.hit(bp.number) }
            case .abort:
                break
            }
            break
        }
        return report(c, stop, exitsSeen: exitsSeen, matched: matched, quiet: quiet)
    }

    static func report(_ c: MachineController, _ stop: DebugStop, exitsSeen: [RecordedExit], matched: VMXBreakpoint?,
                       quiet: Bool) -> CommandResult {
        var s = ""
        var status: CommandResult.Status = .ok
        var fields: [(String, JSONValue)] = [("stop", .string(stopKind(stop.reason))), ("summary", .string(stop.summary)),
                                             ("rip", .uint(stop.rip)), ("instructions", .uint(stop.instructions)),
                                             ("exits_during_run", .uint(UInt64(exitsSeen.count)))]
        switch stop.reason {
        case .vmx(.exit(let reason, let q)):
            let basic = UInt16(reason & 0xFFFF)
            let name = VMXExitReason(rawValue: basic).map(\.name) ?? "reason \(basic)"
            if reason & 0x8000_0000 != 0 {
                s += "VM-entry failure\(exitsSeen.last.map { " #\($0.number)" } ?? ""): exit reason \(basic) \(name) (bit 31 set), qualification 0x\(hex(q)) — 'why' lists every failing check\n"
            } else if let e = exitsSeen.last {
                s += "VM exit #\(e.number): \(basic) \(name), qualification 0x\(hex(q)), guest RIP 0x\(hex(e.guestRIP))"
                s += (VMXExitReason(rawValue: basic).map { " — " + VMXDecode.exitQualification(q, reason: $0, vector: UInt8(truncatingIfNeeded: e.interruptionInfo)).summary } ?? "") + "\n"
            }
            s += "stopped at host RIP \(c.describe(stop.rip))"
            if let m = matched { s += " (breakpoint \(m.number): \(m.description))" }
            s += "\n"
            fields.append(("event", .object([("kind", .string(reason & 0x8000_0000 != 0 ? "entry-failure" : "exit")),
                                             ("reason", .uint(UInt64(reason))), ("basic_reason", .uint(UInt64(basic))),
                                             ("name", .string(name)), ("qualification", .uint(q))])))
        case .vmx(.entry):
            s += "VM entry: the guest's first instruction is next, at \(c.describe(stop.rip))"
            if let m = matched { s += " (breakpoint \(m.number): \(m.description))" }
            s += "\n"
            fields.append(("event", .object([("kind", .string("entry"))])))
        case .vmx(.vmfail(let e)):
            s += (e == 0 ? "VMfailInvalid" : "VMfailValid(\(e)): \(VMInstructionError(rawValue: e)?.sdmText ?? "unknown error")")
            s += " — next instruction \(c.describe(stop.rip))"
            if e == 7 || e == 8 { s += "; 'why' lists every failing check" }
            s += "\n"
            fields.append(("event", .object([("kind", .string("vmfail")), ("error", .uint(UInt64(e)))])))
        case .fatal(let cause):
            s += "stopped: \(stop.summary)\n"
            switch cause {
            case .tripleFault, .halted, .vmx(.abort): status = .guestFatal
            case .unimplemented: status = .guestFatal
            default: break
            }
        case .breakpoint where matched != nil:
            s += "stopped before \(c.withStopped { m in Disassembler.format(m.cpu.debugRead(linear: linearRIP(m.cpu), count: 15), at: linearRIP(m.cpu), bits: m.cpu.efer & EFER.lma != 0 && m.cpu.segs[Seg.cs].attr & SegAttr.l != 0 ? 64 : 32).text } ?? "?") at \(c.describe(stop.rip)) (breakpoint \(matched!.number): \(matched!.description))\n"
            fields.append(("event", .object([("kind", .string("vmx-instruction")), ("breakpoint", .int(Int64(matched!.number)))])))
        default:
            if !quiet { s += stop.summary + "\n" }
        }
        if !exitsSeen.isEmpty, stop.reason != .vmx(.exit(reason: exitsSeen.last!.reason, qualification: exitsSeen.last!.qualification)) || exitsSeen.count > 1 {
            if !quiet { s += "(\(exitsSeen.count) VM exit\(exitsSeen.count == 1 ? "" : "s") on the way; 'exits' lists them)\n" }
        }
        return CommandResult(s, status: status, data: .object(fields))
    }

    static func stopKind(_ r: DebugStopReason) -> String {
        switch r {
        case .breakpoint: return "breakpoint"
        case .watchpoint: return "watchpoint"
        case .stepped: return "stepped"
        case .interrupted: return "interrupted"
        case .exited: return "guest-exited"
        case .fatal: return "fatal"
        case .idle: return "idle"
        case .vmx: return "vmx"
        default: return "other"
        }
    }
}
