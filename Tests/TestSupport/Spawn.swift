// Helpers shared by the test targets (a plain library target, linked only into tests).
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a spawned program did: its exit status (-1 when a signal ended it, e.g. the SIGKILL at
/// the deadline) and its stdout and stderr interleaved.
public struct SpawnResult: Sendable {
    public var status: Int32
    public var output: String
}

/// Runs `argv` (argv[0] is the executable path) with stdin from /dev/null and stdout+stderr into
/// one log, through posix_spawn with an empty signal mask and SIGINT at its default disposition:
/// test-runner threads block SIGINT and children inherit the mask, so without this a Ctrl-C a
/// test sends (to gdb, or typed into a pseudo-terminal) would never arrive. `whileRunning` gets
/// the pid right after the spawn; SIGKILL after `timeout` seconds.
public func spawnWithCleanSignals(_ argv: [String], timeout: Double,
                                  whileRunning: ((pid_t) -> Void)? = nil) throws -> SpawnResult {
    let log = NSTemporaryDirectory() + "vmxemu-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    defer { unlink(log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { cargv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, cargv, environ)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    whileRunning?(pid)
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            break
        }
        usleep(20_000)
    }
    let exited = status & 0x7F == 0
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return SpawnResult(status: exited ? (status >> 8) & 0xFF : -1, output: text)
}
