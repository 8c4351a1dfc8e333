// The worked examples in GuestImages/ (REPL scripts *.vmxemu and gdb batch scripts *.gdb) run
// as a user would run them, and -x/-ex interleave in command-line order as gdb's do. What is
// checked: the scripts' own SDM/guest-source asserts hold (exit status 0) and the explanations
// name what the guests' sources say happened.
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct WorkedExamples {
    static let needs: [Oracle] = [.vmxemu, .guestImage("minivmm"), .guestImage("bad-guest")]
    static func script(_ path: String) -> String { "\(Fixture.repo)/GuestImages/\(path)" }

    @Test(OracleTrait(oracles: needs)) func minivmmExplore() throws {
        let r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "--batch", "--no-history", "-x", Self.script("minivmm/explore.vmxemu")])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("stopped before vmwrite"))
        #expect(r.stdout.contains("clear               0"))          // vmcs list before the first VMWRITE
        #expect(r.stdout.contains("10 CPUID"))
        #expect(r.stdout.contains("§25.1.2"))                         // why: CPUID exits unconditionally
        #expect(r.stdout.contains("cpuid"))                           // disas of the guest at GUEST_RIP
        #expect(!r.stdout.contains("assertion failed"))
    }

    @Test(OracleTrait(oracles: needs)) func badGuestWhy() throws {
        let r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("bad-guest"), "--batch", "--no-history", "-x", Self.script("bad-guest/why.vmxemu")])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        // The five planted mistakes of bad-guest.c, each with its SDM section.
        for (id, section) in [("guest.cs.ar.l-db", "26.3.1.2"), ("guest.cr4.pae-ia32e", "26.3.1.1"), ("guest.rflags.bit1", "26.3.1.4"),
                              ("guest.tr.ar.type", "26.3.1.2"), ("guest.link-pointer", "26.3.1.5")] {
            #expect(r.stdout.contains(id), "\(id)")
            #expect(r.stdout.contains("§\(section)"), "\(section)")
        }
    }

    /// A gdb batch script against `vmxemu run IMAGE --gdb 127.0.0.1:0 -S`.
    static func gdbScript(_ image: String, _ script: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixture.vmxemu!)
        p.arguments = ["run", Fixture.image(image), "--gdb", "127.0.0.1:0", "-S"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let marker = "vmxemu: gdb server listening on 127.0.0.1:"
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        func portLine() -> Substring? { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().first { $0.hasPrefix(marker) } }
        while portLine() == nil && Date() < deadline {
            let d = err.fileHandleForReading.availableData
            if d.isEmpty { break }
            text += String(decoding: d, as: UTF8.self)
        }
        guard let line = portLine(), let port = Int(line.dropFirst(marker.count)) else {
            Issue.record("no gdb port: \(text)"); return ""
        }
        let r = try Fixture.spawn("/usr/bin/gdb", ["-nx", "-batch", "-ex", "set pagination off", "-ex", "target remote 127.0.0.1:\(port)",
                                                   "-x", script, "-ex", "kill"])
        return r.stdout + r.stderr
    }

    @Test(OracleTrait(oracles: needs + [.gdb]))
    func gdbScriptsThroughMonitor() throws {
        let explore = try Self.gdbScript("minivmm", Self.script("minivmm/explore.gdb"))
        #expect(explore.contains("10 CPUID"), "\(explore)")
        #expect(explore.contains("cpuid"))
        #expect(explore.contains("assert: ok: exit-reason == CPUID"))
        #expect(!explore.contains("assertion failed"))
        let why = try Self.gdbScript("bad-guest", Self.script("bad-guest/why.gdb"))
        #expect(why.contains("5 failing checks"), "\(why)")
        #expect(why.contains("§26.3.1.5"))
        #expect(why.contains("assert: ok: VM_EXIT_REASON == 0x80000021"))
    }

    /// -x and -ex run in command-line order (gdb's rule), not all files first.
    @Test(.requires(.vmxemu, .guestImage("minivmm"))) func xAndExInterleave() throws {
        let dir = NSTemporaryDirectory() + "vmxemu-order-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "c\nassert exit-reason == CPUID\n".write(toFile: dir + "/run.vmxemu", atomically: true, encoding: .utf8)
        try "quit 9\n".write(toFile: dir + "/nine.vmxemu", atomically: true, encoding: .utf8)
        // The breakpoint (-ex) must be in place before the file's `c` runs.
        var r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "--batch", "--no-history",
                                                    "-ex", "break exit CPUID", "-x", dir + "/run.vmxemu", "-ex", "quit 4"])
        #expect(r.status == 4, "\(r.stdout)\(r.stderr)")
        // An -ex before a -x runs first.
        r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "--batch", "--no-history",
                                                "-ex", "quit 7", "-x", dir + "/nine.vmxemu"])
        #expect(r.status == 7)
    }
}
