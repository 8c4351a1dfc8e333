// A benchmark, not a timed test: gdb-stub speed of vmxemu beside QEMU's stub, on the same image
// in the same run (QEMU where qemu-system-x86_64 is installed).
//
//   VMXEMU_GDB_BENCH=1 swift test --filter StubBenchmark     (release: add -c release)
//
//   single steps/s   raw `s` packets, each answered by a stop reply (hello.elf from its entry)
//   16 MiB read      gdb's `dump binary memory` of physical 0–16 MiB (paging is off at entry)
//   m packets/MiB    counted with `set debug remote 1` while gdb dumps 1 MiB
import Foundation
import GDBRemote
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

private let benchEnabled = ProcessInfo.processInfo.environment["VMXEMU_GDB_BENCH"] == "1"

@Suite(.serialized, .enabled(if: benchEnabled, "a benchmark: set VMXEMU_GDB_BENCH=1 to run it"),
       OracleTrait(oracles: benchEnabled ? E2E.needs : []))
struct StubBenchmark {
    static let qemu = "/usr/bin/qemu-system-x86_64"

    /// One stub under test: how to start it, and its port.
    final class Stub {
        let name: String
        let process = Process()
        let port: Int

        init(vmxemu image: String) throws {
            name = "vmxemu"
            let vm = try VMXEmuProcess(image: image, extra: ["-q"])
            port = vm.port
            keep = vm
        }

        init(qemu image: String) throws {
            name = "QEMU 7.2 (TCG)"
            port = freePort()
            process.executableURL = URL(fileURLWithPath: StubBenchmark.qemu)
            process.arguments = ["-kernel", image, "-S", "-gdb", "tcp:127.0.0.1:\(port)", "-display", "none",
                                 "-serial", "null", "-monitor", "none", "-no-reboot", "-m", "128",
                                 "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait until it accepts connections.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let c = try? RawGDBClient(port: port) { c.disconnect(); break }
                usleep(50_000)
            }
            usleep(100_000)
        }

        private var keep: VMXEmuProcess?

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
    }

    @Test func stepsPerSecondAndLargeReads() throws {
        let image = E2E.image("hello")
        var rows: [(String, Double, Double, Int)] = []
        let steps = 20_000
        var stubs: [() throws -> Stub] = [{ try Stub(vmxemu: image) }]
        if FileManager.default.isExecutableFile(atPath: Self.qemu) {
            stubs.append { try Stub(qemu: image) }
        } else {
            print("QEMU not installed (apt-get install qemu-system-x86): vmxemu only")
        }
        for make in stubs {
            // Single steps.
            let s1 = try make()
            let c = try RawGDBClient(port: s1.port)
            _ = c.handshake()
            let t0 = Date()
            var ok = 0
            for _ in 0..<steps where c.ask("s")?.hasPrefix("T05") == true { ok += 1 }
            let stepRate = Double(ok) / Date().timeIntervalSince(t0)
            #expect(ok == steps)
            c.disconnect()

            // 16 MiB with gdb, then 1 MiB counting m packets.
            let s2 = try make()
            let dump = NSTemporaryDirectory() + "vmxemu-bench-\(getpid()).bin"
            defer { unlink(dump) }
            let t1 = Date()
            let out = try GDB.run(["target remote 127.0.0.1:\(s2.port)", "dump binary memory \(dump) 0 0x1000000"],
                                  helper: true, timeout: 120)
            let readTime = Date().timeIntervalSince(t1)
            let size = (try? FileManager.default.attributesOfItem(atPath: dump)[.size] as? Int) ?? 0
            #expect(size == 16 << 20, "\(out)")
            let s3 = try make()
            let counted = try GDB.run(["target remote 127.0.0.1:\(s3.port)", "set debug remote 1",
                                       "dump binary memory \(dump) 0 0x100000", "set debug remote 0"],
                                      helper: true, timeout: 120, quiet: true)
            let mPackets = counted.components(separatedBy: "Sending packet: $m").count - 1
            rows.append((s1.name, stepRate, readTime, mPackets))
        }
        var table = "| stub | single steps/s (raw `s`) | 16 MiB `dump binary memory` | `m` packets per MiB |\n|---|---|---|---|\n"
        for (name, rate, time, packets) in rows {
            table += "| \(name) | \(Int(rate)) | \(String(format: "%.2f", time)) s | \(packets) |\n"
        }
        print("gdb stub benchmark (hello.elf, this machine):\n" + table)
        // The figures go to a file too (README: "Speed"), with how they were made.
        let note = "Measured by `VMXEMU_GDB_BENCH=1 VMXEMU_BIN=.build/release/vmxemu swift test --filter StubBenchmark` "
            + "(vmxemu release build; \(steps) raw `s` packets; `dump binary memory` of 16 MiB; `m` packets counted over 1 MiB).\n\n"
        try? (note + table).write(toFile: "\(E2E.repo)/Benchmarks/gdb-stub.md", atomically: true, encoding: .utf8)
        #expect(rows.first.map { $0.3 <= 34 } == true)
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}
