// Hostile input costs the host little: special files are refused before reading, oversized
// files by their size, symbol tables are read in bounded space, guest RAM is reserved rather than
// committed, and a long REP string instruction cannot hold the run loop past its deadline.

import HostIO
import Foundation
import Machine
import Testing
import X86

#if canImport(Glibc)
import Glibc
#endif

@Suite struct HostFileTests {
    private func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "vmxemu-hostfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        return dir
    }

    @Test func devZeroIsRefusedWithoutReading() {
        #expect(throws: HostFileError.notRegularFile(kind: "a character device")) {
            try HostFile.read("/dev/zero", limit: 1 << 30, why: "x")
        }
    }

    /// Opening a FIFO for reading waits for a writer unless it is opened non-blocking.
    @Test func fifoIsRefusedWithoutBlocking() throws {
        let dir = tempDir()
        defer { rmdir(dir) }
        let fifo = dir + "/fifo"
        try #require(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let t0 = Date()
        #expect(throws: HostFileError.notRegularFile(kind: "a FIFO")) {
            try HostFile.read(fifo, limit: 1 << 30, why: "x")
        }
        #expect(Date().timeIntervalSince(t0) < 5)
    }

    @Test func directoryIsRefused() {
        #expect(throws: HostFileError.notRegularFile(kind: "a directory")) {
            try HostFile.read(NSTemporaryDirectory(), limit: 1 << 30, why: "x")
        }
    }

    /// A 200 MB file (sparse: no disk cost) is refused from its size, before a byte is read.
    @Test func oversizedFileIsRefusedFromItsSize() throws {
        let dir = tempDir()
        defer { rmdir(dir) }
        let path = dir + "/big"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { unlink(path) }
        try #require(ftruncate(fd, 200_000_000) == 0)
        close(fd)
        #expect(throws: HostFileError.tooLarge(size: 200_000_000, limit: 128 << 20, why: "guest RAM")) {
            try HostFile.read(path, limit: 128 << 20, why: "guest RAM")
        }
        let e = HostFileError.tooLarge(size: 200_000_000, limit: 128 << 20, why: "guest RAM")
        #expect(e.description == "the file has 200000000 bytes (190.7 MiB), more than guest RAM (128 MiB)")
    }

    @Test func regularFileIsReadWhole() throws {
        let dir = tempDir()
        defer { rmdir(dir) }
        let path = dir + "/f"
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        #expect(try HostFile.read(path, limit: 100_000, why: "x") == bytes)
        #expect(throws: HostFileError.tooLarge(size: 100_000, limit: 99_999, why: "x")) {
            try HostFile.read(path, limit: 99_999, why: "x")
        }
        #expect(throws: HostFileError.cannotOpen(reason: "No such file or directory")) {
            try HostFile.read(dir + "/missing", limit: 1, why: "x")
        }
    }

    @Test func sizesAreDescribedForMessages() {
        #expect(HostMemory.describe(24 << 30) == "24 GiB")
        #expect(HostMemory.describe(25_200_000_000) == "23.4 GiB")
        #expect(HostMemory.describe(512) == "512 bytes")
        #expect(HostMemory.guestRAMLimit <= HostMemory.cap)
    }
}

@Suite struct GuestRAMReservationTests {
    /// A size no host can map comes back as nil (a clean error for `-m`), never a crash.
    @Test func unmappableSizeIsNil() {
        #expect(PhysicalMemory(reserving: UInt64.max) == nil)
        #expect(PhysicalMemory(reserving: 1 << 62) == nil)
    }

    /// Reserved RAM reads as zero and is backed only where written.
    @Test func reservedRAMIsZeroAndWritable() throws {
        let ram = try #require(PhysicalMemory(reserving: 8 << 30))
        #expect(ram.size == 8 << 30)
        #expect(ram.read64(at: 0) == 0 && ram.read64(at: (8 << 30) - 8) == 0)
        ram.write64(0x1122_3344_5566_7788, at: (4 << 30) + 8)
        #expect(ram.read64(at: (4 << 30) + 8) == 0x1122_3344_5566_7788)
    }
}

@Suite struct HostileSymbolTableTests {
    /// An ELF32 image with `count` FUNC symbols and one long name: every symbol's name offset
    /// is patched to `nameOffset(i)` inside that name.
    private func image(count: Int, longName: Int, nameOffset: (Int) -> UInt32) -> [UInt8] {
        var img = standardELF32()
        img.symbols = [TestSymbol(name: String(repeating: "n", count: longName), value: 0x10_0000, size: 4)]
            + (1..<count).map { TestSymbol(name: "s", value: 0x10_0000 + UInt64($0) * 4, size: 4) }
        var bytes = img.build().bytes
        // Section 2 is .symtab (ImageBuilder): its sh_offset at shoff + 2*40 + 16.
        let shoff = Int(bytes[32]) | Int(bytes[33]) << 8 | Int(bytes[34]) << 16 | Int(bytes[35]) << 24
        let sh = shoff + 2 * 40 + 16
        let symOff = Int(bytes[sh]) | Int(bytes[sh + 1]) << 8 | Int(bytes[sh + 2]) << 16 | Int(bytes[sh + 3]) << 24
        for i in 0..<count {
            let o = symOff + (i + 1) * 16, v = nameOffset(i)
            for b in 0..<4 { bytes[o + b] = UInt8(truncatingIfNeeded: v >> UInt32(8 * b)) }
        }
        return bytes
    }

    /// 600 symbols naming one 100 KB string used to cost 600 × 100 KB = 60 MB of names; now one
    /// interned name, cut at `maxNameLength`.
    @Test func symbolsNamingOneLongStringShareOneBoundedName() {
        let table = SymbolTable(elf: image(count: 600, longName: 100_000, nameOffset: { _ in 1 }))
        #expect(table.count == 600)
        #expect(table.symbols.allSatisfy { $0.name.utf8.count == SymbolTable.maxNameLength })
        #expect(!table.truncated)
    }

    /// Distinct offsets into one long string are distinct names: reading stops at
    /// `maxNameBytes` of them, and says so.
    @Test func distinctNamesStopAtTheNameByteBound() {
        let n = SymbolTable.maxNameBytes / SymbolTable.maxNameLength + 100
        let table = SymbolTable(elf: image(count: n, longName: n + 2 * SymbolTable.maxNameLength, nameOffset: { UInt32(1 + $0) }))
        #expect(table.truncated)
        #expect(table.count == SymbolTable.maxNameBytes / SymbolTable.maxNameLength)
    }
}

@Suite struct RunLoopDeadlineTests {
    /// A kernel at 0x100000 whose code, after the multiboot header, is `code`.
    private func machine(_ code: [UInt8]) throws -> Machine {
        let text = multibootHeader(flags: 0x3) + code
        let img = ELFImage(is64: false, entry: 0x10_000C, segments: [TestSegment(paddr: 0x10_0000, data: text)])
        let m = Machine(memoryBytes: 4 << 20, console: MemorySink())
        try m.boot(kernel: img.build().bytes)
        return m
    }

    /// mov esi, 0x200000; mov ecx, 0xFFFFFFFF; rep lodsb; jmp back: ~4·10⁹ iterations per REP.
    private let longRep: [UInt8] = [0xBE, 0x00, 0x00, 0x20, 0x00, 0xB9, 0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0xAC, 0xEB, 0xF2]

    /// REP iterations count toward a run's budget: `run(budget: 10)` runs at most `repSlice`
    /// of them (it used to run 10 slices of 4096).
    @Test func repIterationsCountTowardTheBudget() throws {
        let m = try machine(longRep)
        _ = m.cpu.run(budget: 2)  // the two MOVs and the first slice
        var before = m.cpu.regs[Reg.rcx] & 0xFFFF_FFFF
        for _ in 0..<5 {
            #expect(m.cpu.run(budget: 10) == .budget)
            let now = m.cpu.regs[Reg.rcx] & 0xFFFF_FFFF
            #expect(before - now <= UInt64(CPU.repSlice), "\(before - now) iterations in one run of budget 10")
            before = now
        }
        // A large budget is still bounded by the allowance limit.
        #expect(m.cpu.run(budget: 1 << 30) == .budget)
        #expect(before - (m.cpu.regs[Reg.rcx] & 0xFFFF_FFFF) <= CPU.repAllowanceLimit)
    }

    /// The guest sits in one long REP: `--timeout` stops it within 100 ms of the deadline (it
    /// took 22–66 s for a 2 s timeout when a REP slice counted as one instruction).
    @Test func timeoutStopsALongRepPromptly() throws {
        let m = try machine(longRep)
        let t0 = monotonicSeconds()
        let stop = m.run(timeout: 0.3)
        let dt = monotonicSeconds() - t0
        #expect(stop == .timeout(seconds: 0.3))
        #expect(dt < 0.4, "stopped after \(dt) s")
    }
}
