// gdb's `monitor` is the remote side: whoever reaches the gdb port. It gets no host file access —
// `monitor source FILE` is refused before the file is opened (no first line of /etc/shadow in an
// error, no environment from /proc/self/environ, no command of the file executed, no FIFO that
// wedges the stub). The REPL, whose user is on the host, still sources files.
import Debugger
import Foundation
import GDBRemote
import Machine
import Testing
import X86

@Suite struct MonitorHostFileTests {
    static func tempPath(_ name: String) -> String { NSTemporaryDirectory() + "vmxemu-\(name)-\(getpid())" }

    @Test func monitorSourceIsRefusedWithoutReadingTheFile() throws {
        let t = MachineTarget(machine: makeMachine(code: I.nop + I.spin))
        // A file with a line that parses, then a secret (not a command, so it would be echoed
        // in the error).
        let path = Self.tempPath("secret")
        try "phys on\nroot:$6$SECRET-HASH:19000:0:99999:7:::\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let r = t.monitor("source \(path)")
        #expect(!r.succeeded)
        #expect(!r.output.contains("SECRET-HASH"), "\(r.output)")
        #expect(r.output.contains("no host file access"), "\(r.output)")
        // The line that parses was not executed.
        #expect(!t.controller.physicalView)
        // /proc/self/environ: no variable of the host's environment comes back.
        setenv("VMXEMU_MONITOR_PROBE", "ENVIRONMENT-VALUE", 1)
        let env = t.monitor("source /proc/self/environ")
        #expect(!env.succeeded)
        #expect(!env.output.contains("ENVIRONMENT-VALUE"), "\(env.output)")
        // Abbreviated and JSON forms resolve to the same row and are refused the same way.
        #expect(!t.monitor("sour \(path)").succeeded)
        #expect(!t.monitor("source \(path) --json").output.contains("SECRET-HASH"))
        // help says so.
        #expect(t.monitor("help source").output.contains("REPL only"))
    }

    /// A FIFO nobody writes to: opening it would block the stub's event loop for good. The call
    /// runs on its own thread so that, were it to block, the test fails instead of hanging.
    @Test func monitorSourceOfAFIFOReturnsAtOnce() throws {
        let t = MachineTarget(machine: makeMachine(code: I.nop + I.spin))
        let fifo = Self.tempPath("fifo")
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let done = DispatchSemaphore(value: 0)
        let result = LockedBox<GDBMonitorResult?>(nil)
        Thread.detachNewThread {
            result.set(t.monitor("source \(fifo)"))
            done.signal()
        }
        let returned = done.wait(timeout: .now() + 5) == .success
        if !returned {
            // Unblock the reader so the thread ends: open the write side and close it.
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            _ = done.wait(timeout: .now() + 5)
        }
        #expect(returned, "monitor source FIFO blocked")
        #expect(result.get()?.succeeded == false)
    }

    /// The REPL (the host's own user) still runs `source FILE`.
    @Test func replSourceStillRunsTheFile() throws {
        let c = MachineController(machine: makeMachine(code: I.nop + I.spin))
        let path = Self.tempPath("script")
        try "# a comment\nphys on\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let r = DebuggerCommands.execute("source \(path)", context: CommandContext(controller: c, frontDoor: .repl))
        #expect(r.succeeded, "\(r.output)")
        #expect(c.physicalView)
    }
}

/// A value shared between a test and a helper thread.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}
