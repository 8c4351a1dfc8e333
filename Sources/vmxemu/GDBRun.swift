// `vmxemu run IMAGE --gdb [HOST:]PORT` (and `-s`, `-S`): the machine under the gdb server.
//
//   main thread   boots the machine, starts the server, then waits here for the end:
//                 the guest's exit (port 0xF4; gdb was sent `W`) or gdb's `kill`
//   CPU thread    MachineController: runs when gdb resumes (or at once without -S)
//   NIO thread    GDBServer: one gdb at a time; the machine keeps its state between them

import Debugger
import GDBRemote
import Machine
import X86

#if canImport(Glibc)
import Glibc
#endif

/// Where the gdb server listens: `[HOST:]PORT`, the host 127.0.0.1 unless given.
struct GDBEndpoint: Equatable {
    var host: String
    var port: Int

    static let defaultHost = "127.0.0.1"
    static let defaultPort = 1234

    /// `1234`, `127.0.0.1:1234`, `0.0.0.0:1234`, `localhost:1234`, `[::1]:1234`, `:1234`.
    static func parse(_ text: String) -> GDBEndpoint? {
        var host = defaultHost
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            let h = text[..<colon]
            guard !h.contains(":") else { return nil }   // a bare IPv6 address needs brackets
            if !h.isEmpty { host = String(h) }
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !portText.isEmpty, portText.allSatisfy(\.isNumber),
              let port = Int(portText), port >= 0, port <= 65535 else { return nil }
        return GDBEndpoint(host: host, port: port)
    }

    func display(port p: Int) -> String { host.contains(":") ? "[\(host)]:\(p)" : "\(host):\(p)" }
}

/// The events the main thread waits for.
final class GDBRunEvents: @unchecked Sendable {
    enum End: Equatable {
        case exited(Int32)
        case killed
    }

    private let lock = ConditionLock()
    private var end: End?
    private var connected = false

    func guestExited(_ status: Int32) { lock.withLock { if end == nil { end = .exited(status) }; lock.broadcast() } }
    func killed() { lock.withLock { if end == nil { end = .killed }; lock.broadcast() } }
    func gdbConnected() { lock.withLock { connected = true; lock.broadcast() } }
    func gdbDisconnected() { lock.withLock { connected = false; lock.broadcast() } }

    func waitForEnd() -> End {
        lock.withLock {
            while end == nil { lock.wait() }
            return end ?? .killed
        }
    }

    /// Gives gdb time to read the last reply (`W`, or the `vKill` OK) and hang up by itself.
    func waitForDisconnect(timeout: Double) {
        lock.withLock {
            let deadline = monotonicNow() + timeout
            while connected {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { return }
            }
        }
    }
}

enum GDBRun {
    /// Runs the machine under the gdb server until the guest exits or gdb kills it; returns the
    /// exit status for vmxemu.
    static func run(machine: Machine, imagePath: String?, endpoint: GDBEndpoint, waitForGDB: Bool, quiet: Bool) -> Int32 {
        let events = GDBRunEvents()
        let hooks = MachineTargetHooks(
            guestExited: { events.guestExited($0) },
            killed: { events.killed() },
            gdbConnected: { events.gdbConnected() },
            gdbDisconnected: { events.gdbDisconnected() },
            log: { eprint("vmxemu: " + $0) })
        let target = MachineTarget(machine: machine, imagePath: imagePath.flatMap(absolutePath), hooks: hooks)
        let server = GDBServer(target: target, host: endpoint.host, port: endpoint.port, log: { line in
            // The listening line is printed below in its documented form.
            if line.hasPrefix("listening on") { return }
            // gdb probes for host I/O with a file it does not expect to exist.
            if line.contains("'just probing'") { return }
            if quiet && (line.hasPrefix("gdb connected") || line.hasPrefix("gdb disconnected")) { return }
            eprint("vmxemu: gdb: " + line)
        })
        let port: Int
        do {
            port = try server.startBlocking()
        } catch {
            eprint("vmxemu: cannot listen for gdb on \(endpoint.display(port: endpoint.port)): \(error)")
            return ExitStatus.usage
        }
        eprint("vmxemu: gdb server listening on \(endpoint.display(port: port))")
        if waitForGDB {
            if !quiet { eprint("vmxemu: the CPU waits for gdb to resume it (-S): (gdb) target remote \(endpoint.display(port: port))") }
        } else {
            target.startFreeRun()
        }
        let end = events.waitForEnd()
        events.waitForDisconnect(timeout: 2)
        try? server.shutdownBlocking()
        machine.bus.flush()
        switch end {
        case .exited(let status):
            if !quiet { eprint("vmxemu: guest exited with status \(status) (\(machine.cpu.instructions) instructions)") }
            return status
        case .killed:
            if !quiet { eprint("vmxemu: killed by gdb") }
            return ExitStatus.killedByDebugger
        }
    }

    static func absolutePath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}
