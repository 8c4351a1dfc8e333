// Hostile input never crashes, hangs, or exhausts the host: special files and oversized files as
// image, module or firmware; sizes and timeouts the host cannot honour; mutated and truncated
// images; the debug-exit port's 8-bit status; port 0xE9 off unless asked for; guest RAM reserved,
// not committed. Every run here takes seconds at most (the harness kills and reports a hang).

import Foundation
import Machine
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A 16-byte firmware ROM: the reset vector (its first byte, mapped at 0xFFFFFFF0) runs `code`
/// in real mode; the rest is HLT.
private func rom(_ code: [UInt8]) -> [UInt8] {
    precondition(code.count <= 16)
    return code + [UInt8](repeating: 0xF4, count: 16 - code.count)
}

/// mov ax, v; out 0xF4, ax
private func exitROM(_ v: UInt16) -> [UInt8] {
    rom([0xB8, UInt8(v & 0xFF), UInt8(v >> 8), 0xE7, 0xF4])
}

private func expectRefused(_ r: RunResult, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 2, "\(r)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, "\(r)", sourceLocation: sourceLocation)
    #expect(r.stderrLines.count == 1, "want one line on stderr:\n\(r)", sourceLocation: sourceLocation)
    for w in words { #expect(r.stderr.contains(w), "stderr should mention \(w.debugDescription):\n\(r)", sourceLocation: sourceLocation) }
    #expect(r.seconds < 10, "took \(r.seconds) s:\n\(r)", sourceLocation: sourceLocation)
}

@Suite struct SpecialFileTests {
    /// /dev/zero used to be read forever (gigabytes of RSS, then an allocation abort); a FIFO
    /// blocked forever; a directory: all refused at once, as image, module or firmware.
    @Test(.requires(.imageTools))
    func specialFilesAreRefusedAtOnce() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let fifo = tmp.path("fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        let hello = try GuestImages.path("hello")
        for (path, kind) in [("/dev/zero", "character device"), (fifo, "FIFO"), (tmp.url.path, "directory")] {
            expectRefused(try vmxemu(["run", path], timeout: 20), mentioning: [path, kind])
            expectRefused(try vmxemu(["run", "--bios", path], timeout: 20), mentioning: [path, kind])
            expectRefused(try vmxemu(["run", hello, "--module", "\(path) arg"], timeout: 20), mentioning: [path, kind])
        }
    }

    /// A 200 MB module used to be read whole before "does not fit": now its size refuses it.
    @Test(.requires(.imageTools))
    func oversizedModuleIsRefusedFromItsSize() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let big = tmp.path("big.mod")
        let fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        try #require(ftruncate(fd, 200_000_000) == 0)
        close(fd)
        let (r, peak) = try vmxemuPeakRSS(["run", try GuestImages.path("hello"), "-m", "128M", "--module", big], timeout: 20)
        expectRefused(r, mentioning: [big, "200000000 bytes", "guest RAM"])
        let kib = try #require(peak, "time(1) reported no peak RSS: \(r)")
        #expect(kib < 150 << 10, "peak RSS \(kib) KiB")
    }

    /// An image over the 1 GiB image limit is refused from its size (a sparse file: no disk cost).
    @Test func oversizedImageIsRefusedFromItsSize() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let big = tmp.path("big.elf")
        let fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        try #require(ftruncate(fd, off_t(HostFile.imageLimit) + 1) == 0)
        close(fd)
        expectRefused(try vmxemu(["run", big], timeout: 20), mentioning: [big, "image limit"])
    }
}

@Suite struct HostLimitTests {
    /// `-m` beyond what the host can back used to abort in the allocator (exit 134): now exit 2
    /// naming the limit.
    @Test(.requires(.imageTools),
          .enabled(if: HostMemory.guestRAMLimit < HostMemory.cap, "the host has more RAM than -m accepts"))
    func memoryBeyondTheHostIsRefused() throws {
        let limit = HostMemory.guestRAMLimit
        let ask = "\((limit >> 30) + 1)G"
        let r = try vmxemu(["run", try GuestImages.path("hello"), "-m", ask], timeout: 20)
        expectRefused(r, mentioning: ["--memory '\(ask)'", "limit of \(HostMemory.describe(limit))"])
    }

    /// Guest RAM is reserved, not committed: `hello` in an 8 GiB machine starts at once and costs
    /// what it touches (it used to cost the whole -m: 160 MiB at 128M, 8 GiB at 8G).
    @Test(.requires(.imageTools),
          .enabled(if: HostMemory.guestRAMLimit >= 8 << 30, "the host has less than 8 GiB of RAM"))
    func ramIsCommittedOnlyWhereTheGuestTouchesIt() throws {
        let (r, peak) = try vmxemuPeakRSS(["run", try GuestImages.path("hello"), "-m", "8G", "-q"], timeout: 60)
        #expect(r.status == 0, "\(r)")
        let kib = try #require(peak, "time(1) reported no peak RSS: \(r)")
        #expect(kib < 100 << 10, "peak RSS \(kib) KiB for an 8 GiB guest")
        #expect(r.seconds < 20, "\(r)")
    }

    /// A guest sitting in long REP string instructions (mov cx, 0xFFFF; rep lodsb; jmp back, in
    /// real mode from a ROM): `--timeout` stops it promptly. It used to overshoot by seconds to
    /// minutes, a 4096-iteration REP slice counting as one instruction of the run loop's chunk.
    @Test func timeoutStopsALongRepPromptly() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rep.rom", rom([0xB9, 0xFF, 0xFF, 0xF3, 0xAC, 0xEB, 0xF9]))
        let r = try vmxemu(["run", "--bios", path, "--timeout", "0.5"], timeout: 30)
        #expect(r.status == 124, "\(r)")
        // "vmxemu: stopped after --timeout 0.5s (N instructions in 0.507s (…"
        let ran = r.stderr.split(separator: "\n").first?.split(separator: " in ").last?.split(separator: "s").first
        let seconds = try #require(ran.flatMap { Double($0) }, "\(r)")
        #expect(seconds < 0.5 + 0.25, "stopped \(seconds - 0.5) s after the deadline")
    }

    /// --timeout must be a finite number of seconds in (0, 1000000].
    @Test(arguments: ["nan", "inf", "1e308", "0", "-1", "1000001"])
    func nonsenseTimeoutIsRefused(_ t: String) throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", exitROM(0))
        let r = try vmxemu(["run", "--bios", path, "--timeout=\(t)"], timeout: 20)
        expectRefused(r, mentioning: ["--timeout"])
    }
}

@Suite struct ExitPortTests {
    /// The status is the low 8 bits of the value written; a warning names what was dropped. 0x100
    /// used to exit 0 while saying "status 256"; 0x103 exited 3 silently, reading as a triple fault.
    @Test(arguments: [(UInt16(0x100), Int32(0)), (0x103, 3)])
    func highBitsAreDroppedWithAWarning(value: UInt16, status: Int32) throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", exitROM(value))
        let r = try vmxemu(["run", "--bios", path, "--timeout", "20"], timeout: 30)
        #expect(r.status == status, "\(r)")
        #expect(r.stderr.contains("warning") && r.stderr.contains("\(value)") && r.stderr.contains("low 8 bits"), "\(r)")
        #expect(!r.stderr.contains("status \(value)"), "\(r)")
    }

    @Test func statusThatFitsHasNoWarning() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", exitROM(0xFF))
        let r = try vmxemu(["run", "--bios", path, "--timeout", "20"], timeout: 30)
        #expect(r.status == 0xFF, "\(r)")
        #expect(!r.stderr.contains("warning"), "\(r)")
    }

    /// --qemu-exit-status: (v << 1) | 1, then the low 8 bits, as QEMU's own process exit.
    @Test func qemuMappingKeepsTheLowEightBits() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", exitROM(0x80))
        let r = try vmxemu(["run", "--bios", path, "--qemu-exit-status", "--timeout", "20"], timeout: 30)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("warning"), "\(r)")
    }
}

@Suite struct DebugconTests {
    /// mov al, 'A'; out 0xE9, al; mov dx, 0x3F8; out dx, al; mov al, 0; out 0xF4, al — a guest
    /// that writes each byte to both COM1 and 0xE9.
    private let both = rom([0xB0, 0x41, 0xE6, 0xE9, 0xBA, 0xF8, 0x03, 0xEE, 0xB0, 0x00, 0xE6, 0xF4])

    @Test func portE9IsOffByDefault() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", both)
        let r = try vmxemu(["run", "--bios", path, "-q"], timeout: 30)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "A", "every byte printed once: \(r)")
        let f = try vmxemu(["run", "--bios", path, "-q", "--serial", "file:" + tmp.path("com1")], timeout: 30)
        #expect(f.stdout.isEmpty, "\(f)")
        #expect(FileManager.default.contents(atPath: tmp.path("com1")) == Data("A".utf8))
    }

    @Test func debugconSendsPortE9WhereAsked() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("rom.bin", both)
        let r = try vmxemu(["run", "--bios", path, "-q", "--debugcon", "stdio"], timeout: 30)
        #expect(r.status == 0 && r.stdout == "AA", "\(r)")
        let f = try vmxemu(["run", "--bios", path, "-q", "--debugcon", "file:" + tmp.path("e9")], timeout: 30)
        #expect(f.status == 0 && f.stdout == "A", "\(f)")
        #expect(FileManager.default.contents(atPath: tmp.path("e9")) == Data("A".utf8))
        expectRefused(try vmxemu(["run", "--bios", path, "--debugcon", "tcp:1"], timeout: 30), mentioning: ["--debugcon"])
    }
}

/// The image fuzz CI runs: hello.elf with seeded mutations of its ELF and multiboot headers and
/// truncations at every structure boundary. Each run must end — a clear refusal (exit 2, one
/// "vmxemu:" line) or a run bounded by --max-instructions — never a crash or a hang.
@Suite struct ImageFuzzTests {
    @Test(.requires(.imageTools))
    func mutatedAndTruncatedImagesEndCleanly() throws {
        let hello = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try GuestImages.path("hello"))))
        let load = try #require(firstLoadedFileRange(hello))
        let magic: [UInt8] = [0x02, 0xB0, 0xAD, 0x1B]
        let slots = stride(from: 0, to: min(hello.count, 8192) - 3, by: 4)
        let mb = try #require(slots.first { (at: Int) -> Bool in Array(hello[at..<(at + 4)]) == magic })
        var cases: [(String, [UInt8])] = []
        // Truncations: inside the ELF header, the program headers, the multiboot header, the segment.
        for cut in [1, 4, 16, 51, 63, 100, mb + 6, mb + 20, load.offset + 1, load.offset + load.size - 1] where cut < hello.count {
            cases.append(("cut at \(cut)", Array(hello[..<cut])))
        }
        // Seeded mutations of bytes in the ELF header, program headers and multiboot header.
        var rng: UInt64 = 0x5EED_1234
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let hot = Array(0..<0x80) + Array(mb..<(mb + 32))
        for i in 0..<30 {
            var img = hello
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = hot[Int(next() % UInt64(hot.count))]
                img[at] = UInt8(truncatingIfNeeded: next())
            }
            // Keep some mutated headers checksum-valid, so the address fields get exercised.
            if i % 3 == 0, mb + 12 <= img.count {
                var flags: UInt32 = 0x1_0000
                for b in 0..<4 { flags |= UInt32(img[mb + 4 + b]) << UInt32(8 * b) }
                let sum: UInt32 = 0 &- 0x1BAD_B002 &- flags
                for b in 0..<4 {
                    img[mb + 4 + b] = UInt8(truncatingIfNeeded: flags >> UInt32(8 * b))
                    img[mb + 8 + b] = UInt8(truncatingIfNeeded: sum >> UInt32(8 * b))
                }
            }
            cases.append(("mutation \(i)", img))
        }
        let tmp = try TempDir()
        defer { tmp.remove() }
        let t0 = Date()
        for (name, bytes) in cases {
            let path = try tmp.file("fuzz.elf", bytes)
            let r = try vmxemu(["run", path, "-m", "16M", "--max-instructions", "200000", "--serial", "none"], timeout: 20)
            if r.status == 2 {
                #expect(r.stderrLines.first?.hasPrefix("vmxemu: ") == true, "\(name): \(r)")
            }
            #expect(!r.timedOut && !r.signaled, "\(name): \(r)")
        }
        #expect(Date().timeIntervalSince(t0) < 120)
    }
}
