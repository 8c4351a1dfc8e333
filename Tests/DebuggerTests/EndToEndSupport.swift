// Processes for the gdb-in-the-loop tests: the built `vmxemu` binary serving a guest image, stock
// gdb (/usr/bin/gdb -nx -batch), and a raw protocol client.
import Foundation
import GDBRemote
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

enum E2E {
    static let gdb = "/usr/bin/gdb"
    /// The repository root (this file is Tests/DebuggerTests/EndToEndSupport.swift).
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func image(_ name: String) -> String { "\(repo)/GuestImages/build/\(name).elf" }
    static let helper = "\(repo)/gdb/vmxemu.gdb"

    /// The address of `name` in `image`'s symbol table (binutils `nm`), so tests follow the image
    /// when its code moves; 0 when not found.
    static func symbol(_ name: String, in image: String) -> UInt64 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nm")
        p.arguments = [image]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return 0 }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3 && f[2] == name, let v = UInt64(f[0], radix: 16) { return v }
        }
        return 0
    }
    /// `check_u64` in hello.elf, as gdb prints it ("0x101e90").
    static var checkU64: String { "0x" + String(symbol("check_u64", in: image("hello")), radix: 16) }
    static func checkU64(plus n: UInt64) -> String { "0x" + String(symbol("check_u64", in: image("hello")) + n, radix: 16) }

    /// `vmxemu` next to the test bundle, or the binary `VMXEMU_BIN` names (e.g. a release build
    /// for the benchmark); the `.vmxemu` oracle of TestSupport.
    static var vmxemu: String? { Oracle.vmxemuPath }

    /// What the gdb-in-the-loop suites need: a missing one fails them under
    /// VMXEMU_REQUIRE_ORACLES=1 and skips them (with the reason) otherwise.
    static let needs: [Oracle] = [.gdb, .vmxemu, .guestImage("hello"), .guestImage("bench-int"), .guestImage("ud2-triple")]
}

/// Collects a pipe's output on a background thread.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    let pipe = Pipe()

    init() {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let chunk = h.availableData
            guard let self else { return }
            if chunk.isEmpty {
                h.readabilityHandler = nil
                return
            }
            self.lock.withLock { self.data.append(chunk) }
        }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

    /// Waits until `text` contains `needle`.
    func wait(for needle: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            usleep(20_000)
        }
        return text.contains(needle)
    }
}

/// `vmxemu run IMAGE --gdb 127.0.0.1:0 [-S]`, the port read from its stderr line.
final class VMXEmuProcess {
    let process = Process()
    let stdout = OutputCollector()
    let stderr = OutputCollector()
    private(set) var port = 0

    init(image: String, waitForGDB: Bool = true, extra: [String] = []) throws {
        guard let exe = E2E.vmxemu else { throw POSIXError(.ENOENT) }
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["run", image, "--gdb", "127.0.0.1:0"] + (waitForGDB ? ["-S"] : []) + extra
        process.standardOutput = stdout.pipe
        process.standardError = stderr.pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let marker = "vmxemu: gdb server listening on 127.0.0.1:"
        guard stderr.wait(for: marker, timeout: 20),
              let line = stderr.text.split(separator: "\n").first(where: { $0.hasPrefix(marker) }),
              let p = Int(line.dropFirst(marker.count)) else {
            process.terminate()
            throw POSIXError(.ETIMEDOUT)
        }
        port = p
    }

    /// The exit status, or nil if it did not exit in time (it is then killed).
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

enum GDB {
    /// Runs `gdb -nx -batch [-x helper] [file] -ex …`; stdout+stderr. SIGKILL after `timeout`.
    /// gdb is started with posix_spawn and an empty signal mask: test-runner threads block
    /// SIGINT, a mask children inherit, and gdb must see the Ctrl-C a test sends it.
    static func run(_ commands: [String], file: String? = nil, helper: Bool = false, timeout: Double = 30,
                    quiet: Bool = false, whileRunning: ((pid_t) -> Void)? = nil) throws -> String {
        var args = [E2E.gdb, "-nx", "-batch"]
        if helper { args += ["-x", E2E.helper] }
        if let file { args.append(file) }
        args += ["-ex", "set pagination off", "-ex", "set confirm off"]
        args += commands.flatMap { ["-ex", $0] }
        let text = try spawnWithCleanSignals(args, timeout: timeout, whileRunning: whileRunning).output
        if !quiet { print("---- gdb transcript ----\n\(text)------------------------") }
        return text
    }
}

/// A raw gdb-protocol client (no gdb): for precise timing and for holding the one connection.
final class RawGDBClient {
    private(set) var fd: Int32
    private var decoder = PacketDecoder()
    private var pending: [PacketDecoder.Event] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { disconnect() }

    func disconnect() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    func sendRaw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ payload: String) { sendRaw(PacketEncoder.frame(payload)) }

    /// The next packet payload (acks skipped), or nil on timeout / EOF.
    func nextPacket() -> String? {
        while true {
            while pending.isEmpty {
                var buf = [UInt8](repeating: 0, count: 65536)
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return nil }
                pending += decoder.feed(buf[0..<n])
            }
            if case .packet(let p) = pending.removeFirst() { return String(decoding: p, as: UTF8.self) }
        }
    }

    func ask(_ payload: String) -> String? {
        send(payload)
        return nextPacket()
    }

    /// gdb's opening: features, no-ack mode, the halt reason.
    func handshake() -> String? {
        _ = ask("qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+")
        _ = ask("QStartNoAckMode")
        return ask("?")
    }
}

extension StringProtocol {
    func matches(_ pattern: String) -> Bool { range(of: pattern, options: .regularExpression) != nil }
}

extension String {

    /// The first capture group of `pattern`, if it matches.
    func capture(_ pattern: String) -> String? {
        guard let re = try? NSRegularExpression(pattern: pattern),
              let m = re.firstMatch(in: self, range: NSRange(startIndex..., in: self)), m.numberOfRanges > 1,
              let r = Range(m.range(at: 1), in: self) else { return nil }
        return String(self[r])
    }
}
