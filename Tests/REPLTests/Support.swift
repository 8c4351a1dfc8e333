// Machines for the REPL tests: GuestImages booted in-process under a MachineController, and the
// built vmxemu binary for the process-level tests.
import Debugger
import Foundation
import Machine
import REPL
import TestSupport
import X86

enum Fixture {
    /// The repository root (this file is Tests/REPLTests/Support.swift).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static func image(_ name: String) -> String { "\(repo)/GuestImages/build/\(name).elf" }

    /// A booted image under a controller, CPU not started (as `--repl` leaves it).
    static func controller(_ name: String) throws -> (MachineController, MemorySink) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: image(name))))
        let sink = MemorySink()
        let m = Machine(memoryBytes: 128 << 20, console: sink)
        try m.boot(kernel: bytes)
        return (MachineController(machine: m), sink)
    }

    static func repl(_ c: MachineController) -> CommandContext { CommandContext(controller: c, frontDoor: .repl) }

    static func run(_ line: String, _ c: MachineController) -> CommandResult {
        DebuggerCommands.execute(line, context: repl(c))
    }

    /// The JSON object of a `--json` result.
    static func json(_ r: CommandResult) throws -> [String: Any] {
        let obj = try JSONSerialization.jsonObject(with: Data(r.output.utf8))
        guard let d = obj as? [String: Any] else { throw FixtureError.notAnObject(r.output) }
        return d
    }

    enum FixtureError: Error { case notAnObject(String) }

    /// `vmxemu` next to the test bundle (swift build puts both in the same directory); tests
    /// that use it carry `.requires(.vmxemu)`.
    static var vmxemu: String? { Oracle.vmxemuPath }

    struct ProcessResult { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a program with stdin text; waits at most `timeout` seconds.
    static func spawn(_ path: String, _ args: [String], stdin: String = "", env: [String: String]? = nil, timeout: Double = 60) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let env { p.environment = env }
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        try inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        final class Box: @unchecked Sendable { var data = Data() }
        let out = Box(), err = Box()
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { out.data = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { err.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        group.wait()
        return ProcessResult(status: p.terminationStatus, stdout: String(decoding: out.data, as: UTF8.self), stderr: String(decoding: err.data, as: UTF8.self))
    }
}

extension Fixture {
    /// Runs `/bin/sh -c command` through posix_spawn with an empty signal mask and SIGINT at its
    /// default disposition (test-runner threads block SIGINT, and children inherit the mask: a
    /// Ctrl-C typed into a pseudo-terminal would then never reach the REPL). stdout+stderr and
    /// the exit status; SIGKILL after `timeout`.
    static func shellWithCleanSignals(_ command: String, timeout: Double = 60) throws -> ProcessResult {
        let r = try spawnWithCleanSignals(["/bin/sh", "-c", command], timeout: timeout)
        return ProcessResult(status: r.status, stdout: r.output, stderr: "")
    }
}
