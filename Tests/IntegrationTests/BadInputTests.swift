// Bad images and bad arguments: exit status 2 with exactly one line on stderr that names the
// problem, nothing on stdout, and never a crash (the harness records a signal exit or a hang).

import Foundation
import Testing
import TestSupport

/// The one stderr line of a refused run, after checking status 2, silent stdout and one line.
private func expectUsageError(_ r: RunResult, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    #expect(r.status == 2, "\(r)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, "stdout should be empty:\n\(r)", sourceLocation: sourceLocation)
    #expect(r.stderrLines.count == 1, "want exactly one line on stderr:\n\(r)", sourceLocation: sourceLocation)
    return r.stderrLines.first ?? ""
}

/// The first PT_LOAD segment of an ELF32/ELF64 little-endian file with file bytes: (offset, size).
func firstLoadedFileRange(_ elf: [UInt8]) -> (offset: Int, size: Int)? {
    func u(_ at: Int, _ n: Int) -> Int? {
        guard at >= 0, at + n <= elf.count else { return nil }
        return (0..<n).reduce(0) { $0 | Int(elf[at + $1]) << (8 * $1) }
    }
    guard elf.count >= 52, elf[0..<4] == [0x7F, 0x45, 0x4C, 0x46], elf[5] == 1 else { return nil }
    let is64 = elf[4] == 2
    guard let phoff = is64 ? u(0x20, 8) : u(0x1C, 4),
        let phentsize = is64 ? u(0x36, 2) : u(0x2A, 2),
        let phnum = is64 ? u(0x38, 2) : u(0x2C, 2)
    else { return nil }
    for i in 0..<phnum {
        let ph = phoff + i * phentsize
        guard let type = u(ph, 4),
            let offset = is64 ? u(ph + 8, 8) : u(ph + 4, 4),
            let size = is64 ? u(ph + 32, 8) : u(ph + 16, 4)
        else { return nil }
        if type == 1 && size > 0 { return (offset, size) }
    }
    return nil
}

@Suite struct BadImageTests {
    @Test func textFileIsNotAKernel() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("notes.txt", Array("#!/bin/sh\necho this is not a kernel\n".utf8))
        let line = expectUsageError(try vmxemu(["run", path]))
        #expect(line.contains(path), "the line should name the file: \(line)")
        #expect(line.contains("not an ELF") || line.contains("multiboot header"), "\(line)")
    }

    @Test func emptyFile() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("empty.elf", [])
        let line = expectUsageError(try vmxemu(["run", path]))
        #expect(line.contains(path), "the line should name the file: \(line)")
        #expect(line.contains("empty"), "\(line)")
    }

    @Test func missingFile() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = tmp.path("does-not-exist.elf")
        let line = expectUsageError(try vmxemu(["run", path]))
        #expect(line.contains(path), "the line should name the file: \(line)")
        #expect(line.contains("No such file"), "\(line)")
    }

    @Test func directoryIsNotAnImage() throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let line = expectUsageError(try vmxemu(["run", tmp.url.path]))
        #expect(line.contains(tmp.url.path), "the line should name the file: \(line)")
    }

    @Test(.requires(.imageTools))
    func truncatedHello() throws {
        let hello = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try GuestImages.path("hello"))))
        let load = try #require(firstLoadedFileRange(hello), "hello.elf has no PT_LOAD segment with file bytes")
        // Cut in the middle of the loaded bytes: the multiboot header (at the start of the first
        // segment) survives, so the loader gets past it and must notice the missing bytes.
        let cut = load.offset + load.size / 2
        try #require(cut < hello.count)
        let tmp = try TempDir()
        defer { tmp.remove() }
        let path = try tmp.file("hello-truncated.elf", Array(hello[..<cut]))
        let line = expectUsageError(try vmxemu(["run", path]))
        #expect(line.contains(path), "the line should name the file: \(line)")
        #expect(line.contains("truncated"), "\(line)")
    }
}

@Suite struct CommandLineTests {
    @Test(
        .requires(.imageTools),
        arguments: ["banana", "0", "1K", "12Q", "-5M", "99999G", ""])
    func nonsenseMemorySize(_ size: String) throws {
        // A good image, so the size is the only thing wrong. "--memory=-5M", or the parser would
        // take "-5M" for an option.
        let option = size.hasPrefix("-") ? ["--memory=\(size)"] : ["--memory", size]
        let line = expectUsageError(try vmxemu(["run", try GuestImages.path("hello")] + option))
        #expect(line.contains("--memory") && line.contains("'\(size)'"), "\(line)")
    }

    @Test func topLevelHelp() throws {
        let r = try vmxemu(["--help"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("0xF4"), "\(r)")
    }

    @Test func runHelp() throws {
        let r = try vmxemu(["run", "--help"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("0xF4"), "\(r)")
        // Help is wrapped to the terminal width: compare with whitespace runs folded to one space.
        let text = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("3 triple fault") && text.contains("124 --timeout"), "exit statuses documented:\n\(r)")
    }

    /// Run.swift documents "2 bad image or arguments": options the parser itself rejects end
    /// with 2 too (not ArgumentParser's EX_USAGE 64), with the parser's message on stderr.
    @Test(arguments: [["--no-such-option"], ["--timeout", "abc"], ["--max-instructions=-1"]])
    func parserRejectedArgumentsExitWithUsageStatus(_ extra: [String]) throws {
        let tmp = try TempDir()
        defer { tmp.remove() }
        let image = try tmp.file("unused.elf", [0])  // the parser fails before the image is read
        let r = try vmxemu(["run", image] + extra)
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(!r.stderr.isEmpty, "\(r)")
        #expect(r.status == 2, "\(r)")
    }
}
