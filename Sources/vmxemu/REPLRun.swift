// `vmxemu run IMAGE --repl` (and -x/-ex/--batch): the REPL on the main thread, the CPU on the
// controller's thread, paused until a command resumes it; with --gdb a gdb server on the same
// controller, so `monitor CMD` and the REPL share breakpoints, the exit ring and the machine.
// `vmxemu decode KIND VALUE`: the same `decode` row with no machine at all.

import ArgumentParser
import Debugger
import GDBRemote
import Machine
import REPL
import X86

enum REPLRun {
    static func run(machine: Machine, imagePath: String?, endpoint: GDBEndpoint?, options: REPLOptions, quiet: Bool) -> Int32 {
        let controller = MachineController(machine: machine)
        defer { controller.shutdown() }
        var server: GDBServer?
        if let endpoint {
            let target = MachineTarget(controller: controller, imagePath: imagePath.flatMap(GDBRun.absolutePath),
                                       hooks: MachineTargetHooks(log: { eprint("vmxemu: " + $0) }))
            let s = GDBServer(target: target, host: endpoint.host, port: endpoint.port, log: { line in
                if line.hasPrefix("listening on") || line.contains("'just probing'") { return }
                if quiet && (line.hasPrefix("gdb connected") || line.hasPrefix("gdb disconnected")) { return }
                eprint("vmxemu: gdb: " + line)
            })
            do {
                let port = try s.startBlocking()
                eprint("vmxemu: gdb server listening on \(endpoint.display(port: port))")
            } catch {
                eprint("vmxemu: cannot listen for gdb on \(endpoint.display(port: endpoint.port)): \(error)")
                return ExitStatus.usage
            }
            server = s
        }
        let status = REPL(controller: controller, options: options).run()
        controller.interrupt()
        _ = controller.waitUntilStopped(timeout: 5)
        try? server?.shutdownBlocking()
        machine.bus.flush()
        return status
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode a VMX value offline (as the REPL's decode command; no image needed).",
        discussion: """
        KIND: exit-reason, qual REASON, intinfo, idtinfo, entryinfo, ar, vmerr, field, ctl WORD, insinfo REASON.
        Examples: vmxemu decode exit-reason 0x80000021; vmxemu decode qual CR_ACCESS 0x4; \
        vmxemu decode intinfo 0x80000b0e; vmxemu decode ctl proc 0x84006172. Exit status 2 on a usage error.
        """
    )

    @Flag(name: .long, help: "One JSON object instead of text.")
    var json = false

    @Argument(help: "KIND VALUE [REASON|WORD]")
    var words: [String] = []

    func run() throws {
        let line = (["decode"] + words.map { $0.contains(" ") ? "\"\($0)\"" : $0 } + (json ? ["--json"] : [])).joined(separator: " ")
        let r = DebuggerCommands.execute(line, context: CommandContext(controller: nil, frontDoor: .offline))
        if r.succeeded { print(r.output, terminator: "") } else { eprint(r.output) }
        if let s = r.scriptExitStatus { throw ExitCode(s) }
    }
}
