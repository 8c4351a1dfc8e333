// The harness for the end-to-end tests: find the package, the built `vmxemu` executable and the
// guest images, and run subprocesses with a deadline, stdout and stderr captured separately.
//
// Every subprocess of a test goes through `vmxemu(_:timeout:)` or `run(_:_:timeout:)`, which
// themselves record an issue when the process was killed by a signal (a crash) or had to be
// killed at its deadline (a hang); the tests then only assert on what it said and how it exited.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Paths

enum Paths {
    /// The package root: the first directory above this file that holds `Package.swift`.
    static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                return dir
            }
            dir = dir.deletingLastPathComponent()
        }
        fatalError("IntegrationTests: no Package.swift above \(#filePath)")
    }()

    static let guestImages = packageRoot.appendingPathComponent("GuestImages")

    /// `GuestImages/build/NAME.elf`.
    static func image(_ name: String) -> URL {
        guestImages.appendingPathComponent("build/\(name).elf")
    }
}

// MARK: - The vmxemu executable

/// `swift test` builds every product of the package into the directory that also holds the test
/// bundle (`<scratch>/<triple>/debug/`), so `vmxemu` is found by walking up from the running test
/// binary to the first directory that contains an executable file named `vmxemu`. It is never
/// built from here: a nested `swift build` would contend for the scratch directory's lock held by
/// the `swift test` that is running us.
enum VMXEmuBinary {
    /// Where the search starts: the test bundle and the running executable, however they are named.
    static var searchStarts: [URL] {
        var starts: [URL] = [Bundle.main.bundleURL]
        if let exe = Bundle.main.executableURL { starts.append(exe) }
        if let arg0 = CommandLine.arguments.first, !arg0.isEmpty {
            starts.append(URL(fileURLWithPath: arg0).standardizedFileURL)
        }
        if let selfExe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: selfExe))
        }
        return starts
    }

    static func isExecutableFile(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && !isDir.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }

    /// The located binary, or a message saying where it was looked for.
    static let located: Result<URL, HarnessError> = {
        var searched: [String] = []
        for start in searchStarts {
            var dir = start.deletingLastPathComponent()
            // Six levels cover `<scratch>/<triple>/debug/X.xctest/Contents/MacOS/X` on macOS.
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent("vmxemu")
                if isExecutableFile(candidate) { return .success(candidate) }
                searched.append(dir.path)
                if dir.path == "/" { break }
                dir = dir.deletingLastPathComponent()
            }
        }
        return .failure(HarnessError(
            "the vmxemu executable was not found next to the test bundle (looked in: "
                + Array(Set(searched)).sorted().joined(separator: ", ")
                + "). Build it into the same scratch path first: swift build --product vmxemu"
                + " [--scratch-path …], then rerun swift test."))
    }()

    /// The binary; throws (a test failure, never a skip) when it is missing.
    static func url() throws -> URL { try located.get() }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

// MARK: - Guest images

enum GuestImages {
    // (The tools that build the images are the `.imageTools` oracle of TestSupport/Oracle.swift:
    // the suites that need them carry `.requires(.imageTools)`.)

    /// `make -C GuestImages`, run once per test process (the first test that needs an image
    /// builds them; the others wait for it).
    static let build: Result<Void, HarnessError> = {
        do {
            let result = try runUnchecked(
                URL(fileURLWithPath: "/usr/bin/env"), ["make", "-C", Paths.guestImages.path], timeout: 600)
            if result.timedOut { return .failure(HarnessError("make -C GuestImages did not finish in 600 s")) }
            if result.status != 0 || result.signaled {
                return .failure(HarnessError(
                    "make -C GuestImages failed (status \(result.status)):\n\(result.stdout)\(result.stderr)"))
            }
            return .success(())
        } catch {
            return .failure(HarnessError("cannot run make -C GuestImages: \(error)"))
        }
    }()

    /// The path of `build/NAME.elf` after making sure the images are built; a failed build
    /// throws, failing the test (tests that get here already know make and gcc exist).
    static func path(_ name: String) throws -> String {
        try build.get()
        let url = Paths.image(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw HarnessError("make -C GuestImages succeeded but \(url.path) does not exist")
        }
        return url.path
    }
}

// MARK: - Subprocesses

struct RunResult: Sendable, CustomStringConvertible {
    var executable: String
    var arguments: [String]
    /// The exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    /// Killed by the harness at its deadline.
    var timedOut: Bool
    var stdout: String
    var stderr: String
    var seconds: Double
    /// The child's peak resident set size in KiB (wait4's `ru_maxrss`).
    var maxRSSKiB: Int = 0

    var stdoutLines: [String] { Self.lines(stdout) }
    var stderrLines: [String] { Self.lines(stderr) }

    static func lines(_ s: String) -> [String] {
        s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .reversed().drop(while: \.isEmpty).reversed()  // no phantom line after the final newline
    }

    var description: String {
        let how = timedOut ? "killed at deadline" : signaled ? "killed by signal \(status)" : "exit \(status)"
        return "\(executable) \(arguments.joined(separator: " ")) → \(how) in \(String(format: "%.2f", seconds)) s\n"
            + "--- stdout (\(stdout.utf8.count) bytes):\n\(stdout.prefix(2000))\n"
            + "--- stderr (\(stderr.utf8.count) bytes):\n\(stderr.prefix(2000))"
    }
}

/// Run `vmxemu ARGS` (stdin from /dev/null) and record an issue if it crashed or hung.
func vmxemu(
    _ arguments: [String], timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation
) throws -> RunResult {
    let result = try runUnchecked(try VMXEmuBinary.url(), arguments, timeout: timeout)
    checkNoCrashOrHang(result, sourceLocation: sourceLocation)
    return result
}

/// `vmxemu ARGS` under GNU time(1), and vmxemu's own peak RSS in KiB. Not wait4's `ru_maxrss` of a
/// child of this process: Linux carries the forking process's high-water mark into the child
/// across exec (`exec_mmap` keeps the old mm's hiwater in `signal->maxrss`), so a child of a large
/// test process reports the test process's size. time(1) is a small process whose child is vmxemu.
func vmxemuPeakRSS(
    _ arguments: [String], timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation
) throws -> (RunResult, Int?) {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("vmxemu-rss-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    defer { try? FileManager.default.removeItem(at: out) }
    let result = try runUnchecked(URL(fileURLWithPath: "/usr/bin/time"),
                                  ["-f", "%M", "-o", out.path, try VMXEmuBinary.url().path] + arguments, timeout: timeout)
    checkNoCrashOrHang(result, sourceLocation: sourceLocation)
    let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    return (result, text.split(whereSeparator: \.isNewline).last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
}

/// Run any executable under the same rules.
func run(
    _ executable: URL, _ arguments: [String], timeout: Double = 60,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> RunResult {
    let result = try runUnchecked(executable, arguments, timeout: timeout)
    checkNoCrashOrHang(result, sourceLocation: sourceLocation)
    return result
}

func checkNoCrashOrHang(_ r: RunResult, sourceLocation: SourceLocation) {
    if r.timedOut {
        Issue.record("did not finish in time and was killed:\n\(r)", sourceLocation: sourceLocation)
    } else if r.signaled {
        Issue.record("crashed (signal \(r.status)):\n\(r)", sourceLocation: sourceLocation)
    }
}

/// Run a process to completion or its deadline, stdout and stderr each into its own temporary
/// file, stdin from /dev/null.
///
/// Not Foundation's `Process`: on Linux it learns that a child ended only once every process that
/// inherited the child's descriptors has ended too — and children spawned concurrently by
/// parallel tests inherit each other's — so a 0.1 s run would wait for the slowest neighbour and
/// deadlines would fire on the wrong tests. Here: `posix_spawn` into a new process group (so the
/// whole group, a script's grandchildren included, can be killed at the deadline) and `waitpid`
/// on exactly that child. Files rather than pipes: nothing can block on a full pipe.
func runUnchecked(_ executable: URL, _ arguments: [String], timeout: Double) throws -> RunResult {
    let tmp = try TempDir()
    defer { tmp.remove() }
    let outPath = tmp.path("stdout")
    let errPath = tmp.path("stderr")

    func openCloexec(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = open(path, flags | O_CLOEXEC, 0o600)
        if fd < 0 { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }
    let outFD = try openCloexec(outPath, O_WRONLY | O_CREAT | O_TRUNC)
    defer { close(outFD) }
    let errFD = try openCloexec(errPath, O_WRONLY | O_CREAT | O_TRUNC)
    defer { close(errFD) }
    let nullFD = try openCloexec("/dev/null", O_RDONLY)
    defer { close(nullFD) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    // dup2 onto 0/1/2 clears close-on-exec there; every other descriptor of ours stays closed.
    posix_spawn_file_actions_adddup2(&actions, nullFD, 0)
    posix_spawn_file_actions_adddup2(&actions, outFD, 1)
    posix_spawn_file_actions_adddup2(&actions, errFD, 2)

    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for sig in [SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP] { sigaddset(&defaults, sig) }
    var noMask = sigset_t()
    sigemptyset(&noMask)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setsigmask(&attr, &noMask)
    posix_spawnattr_setpgroup(&attr, 0)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable.path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }

    var pid: pid_t = 0
    let start = Date()
    let rc = argv.withUnsafeBufferPointer { posix_spawn(&pid, executable.path, &actions, &attr, $0.baseAddress!, environ) }
    if rc != 0 { throw HarnessError("posix_spawn \(executable.path): \(String(cString: strerror(rc)))") }

    var raw: Int32 = 0
    var timedOut = false
    var killedAt: Date?
    var usage = rusage()
    while true {
        let w = wait4(pid, &raw, WNOHANG, &usage)
        if w == pid { break }
        if w < 0 && errno != EINTR { throw HarnessError("waitpid \(pid): \(String(cString: strerror(errno)))") }
        let elapsed = Date().timeIntervalSince(start)
        if killedAt == nil && elapsed > timeout {
            timedOut = true
            killedAt = Date()
            kill(-pid, SIGKILL)  // the child's process group: the child and everything it started
            kill(pid, SIGKILL)  // and the child, had it moved to another group
        }
        if let k = killedAt, Date().timeIntervalSince(k) > 10 {
            throw HarnessError("\(executable.path) \(arguments) outlived its deadline and SIGKILL")
        }
        usleep(elapsed < 1 ? 2_000 : 10_000)
    }
    let seconds = Date().timeIntervalSince(start)

    // Decoded as <sys/wait.h>'s WIFEXITED / WEXITSTATUS / WTERMSIG.
    let signaled = raw & 0x7F != 0
    let status = signaled ? raw & 0x7F : (raw >> 8) & 0xFF

    func text(_ path: String) -> String {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
    return RunResult(
        executable: executable.lastPathComponent, arguments: arguments, status: status, signaled: signaled, timedOut: timedOut,
        stdout: text(outPath), stderr: text(errPath), seconds: seconds, maxRSSKiB: Int(usage.ru_maxrss))
}

/// A fresh temporary directory; `defer { dir.remove() }` (which also keeps it alive that long).
final class TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vmxemu-integ-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Write `bytes` to `NAME` inside the directory and return its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
