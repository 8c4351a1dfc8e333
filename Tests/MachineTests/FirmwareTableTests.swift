// The ACPI and MP tables: structure checked here field by field, and every ACPI table disassembled by
// ACPICA's iasl (an oracle nobody on the team wrote: acpica-tools), which validates lengths, checksums
// and the AML.

import Foundation
import Testing
@testable import Machine

private let base: UInt64 = 0x000E_1000
private let rsdpAt: UInt64 = 0x000E_0000

private func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
private func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
private func u64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }
private func sum(_ b: some Collection<UInt8>) -> UInt8 { b.reduce(0, &+) }

@Suite struct FirmwareTableTests {
    let acpi = ACPITables.build(PlatformLayout(), base: base, rsdpAddress: rsdpAt)

    func table(_ sig: String) throws -> FirmwareBlob {
        try #require(acpi.tables.first { $0.signature == sig })
    }

    @Test func rsdpChecksumsAndPointers() throws {
        let r = acpi.rsdp.bytes
        #expect(r.count == 36)
        #expect(Array(r[0..<8]) == Array("RSD PTR ".utf8))
        #expect(sum(r[0..<20]) == 0)
        #expect(sum(r) == 0)
        #expect(r[15] == 2)
        let rsdt = try table("RSDT").address, xsdt = try table("XSDT").address
        #expect(UInt64(u32(r, 16)) == rsdt)
        #expect(u64(r, 24) == xsdt)
        #expect(acpi.rsdp.address % 16 == 0)
    }

    @Test func everyTableHasItsLengthAndAZeroChecksum() throws {
        for t in acpi.tables where t.signature != "FACS" {
            #expect(Int(u32(t.bytes, 4)) == t.bytes.count, "\(t.signature) length")
            #expect(sum(t.bytes) == 0, "\(t.signature) checksum")
            #expect(String(decoding: t.bytes[0..<4], as: UTF8.self) == t.signature)
        }
        let facs = try table("FACS")
        #expect(facs.bytes.count == 64 && facs.address % 64 == 0)
        // Tables do not overlap and lie in the range reported for the e820 map.
        let sorted = acpi.tables.sorted { $0.address < $1.address }
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.address + UInt64(a.bytes.count) <= b.address) }
        #expect(acpi.tablesRange.lowerBound == base)
        #expect(sorted.last.map { $0.address + UInt64($0.bytes.count) } == acpi.tablesRange.upperBound)
    }

    @Test func rsdtAndXsdtListFadtMadtHpet() throws {
        let want = try ["FACP", "APIC", "HPET"].map { try table($0).address }
        let x = try table("XSDT").bytes
        #expect((0..<3).map { u64(x, 36 + 8 * $0) } == want)
        let r = try table("RSDT").bytes
        #expect((0..<3).map { UInt64(u32(r, 36 + 4 * $0)) } == want)
    }

    @Test func fadtFields() throws {
        let f = try table("FACP").bytes
        let l = PlatformLayout()
        #expect(f.count == 276 && f[8] == 6)
        let facs = try table("FACS").address, dsdt = try table("DSDT").address
        #expect(UInt64(u32(f, 36)) == facs)
        #expect(u64(f, 140) == dsdt)  // X_DSDT
        #expect(u16(f, 46) == 9)  // SCI_INT
        #expect(u32(f, 76) == UInt32(l.pmTimerPort) && f[91] == 4)
        #expect(u32(f, 64) == UInt32(l.pm1aControlPort) && f[89] == 2)
        #expect(u32(f, 112) & (1 << 8) != 0)  // TMR_VAL_EXT: 32-bit timer
        #expect(u64(f, 116 + 4) == 0xCF9 && f[116] == 1 && f[128] == 6)  // RESET_REG, RESET_VALUE
        #expect(f[108] == 0x32)  // CENTURY
    }

    @Test func madtEntries() throws {
        var l = PlatformLayout()
        l.apicIDs = [0, 1]
        let m = ACPITables.madtTable(l)
        #expect(u32(m, 36) == 0xFEE0_0000 && u32(m, 40) == 1)
        var types: [UInt8] = []
        var o = 44
        while o < m.count {
            types.append(m[o])
            if m[o] == 1 { #expect(u32(m, o + 4) == 0xFEC0_0000 && u32(m, o + 8) == 0) }
            if m[o] == 2 && m[o + 3] == 0 { #expect(u32(m, o + 4) == 2) }  // IRQ0 → GSI2
            o += Int(m[o + 1])
        }
        #expect(o == m.count)
        #expect(types == [0, 0, 1, 2, 2, 4])
    }

    @Test func dsdtPublishesS5() throws {
        let d = try table("DSDT").bytes
        let aml = Array(d[36...])
        #expect(aml == [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 5, 0x0A, 5, 0x00, 0x00])
    }

    @Test func mpTableChecksumsAndEntries() throws {
        let blobs = MPTable.build(PlatformLayout(), pointerAddress: 0xF5A00, tableAddress: 0xF5A10,
                                  cpuSignature: 0x50654, cpuFeatures: 0x0780_0000)
        let p = blobs[0].bytes, t = blobs[1].bytes
        #expect(p.count == 16 && sum(p) == 0 && u32(p, 4) == 0xF5A10)
        #expect(Array(t[0..<4]) == Array("PCMP".utf8) && Int(u16(t, 4)) == t.count && sum(t) == 0)
        // 1 processor + 1 bus + 1 I/O APIC + 15 I/O interrupts + 2 local interrupts.
        #expect(u16(t, 34) == 20)
        #expect(t[44] == 0 && t[47] == 0x03)  // the processor entry: enabled, bootstrap
    }

    /// iasl -d disassembles each table; it reports checksum and length problems and unknown AML.
    @Test func iaslDisassemblesEveryTable() throws {
        guard let iasl = ["/usr/bin/iasl", "/usr/local/bin/iasl"].first(where: FileManager.default.isExecutableFile) else {
            Issue.record("iasl (package acpica-tools) is missing: run scripts/setup.sh")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vmxemu-acpi-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for t in acpi.tables {  // iasl does not take a bare RSDP; rsdpChecksumsAndPointers checks it
            let name = t.signature.lowercased()
            let file = dir.appendingPathComponent("\(name).dat")
            try Data(t.bytes).write(to: file)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: iasl)
            p.arguments = ["-d", file.path]
            p.currentDirectoryURL = dir
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "iasl -d \(name): \(text)")
            let dsl = (try? String(contentsOf: dir.appendingPathComponent("\(name).dsl"), encoding: .utf8)) ?? ""
            #expect(!dsl.isEmpty, "iasl wrote no disassembly for \(name)")
            #expect(!dsl.contains("Incorrect checksum") && !dsl.contains("Invalid"), "\(name): \(dsl)")
            if name == "facp" { #expect(dsl.contains("PM Timer Block Address : 00000608")) }
            if name == "dsdt" { #expect(dsl.contains("Name (_S5, Package (0x04)")) }
            if name == "apic" { #expect(dsl.contains("Interrupt Source Override")) }
        }
    }
}
