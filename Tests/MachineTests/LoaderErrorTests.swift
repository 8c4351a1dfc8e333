// Bad images: one test per way an image can be refused, each asserting the exact error.

import Machine
import Testing
import X86

private func load(_ image: [UInt8], ram: PhysicalMemory = makeRAM(), modules: [BootModule] = []) -> LoadError? {
    loadError { () throws(LoadError) in try loadMultiboot(image: image, into: ram, commandLine: "", modules: modules) }
}

@Suite struct LoaderErrorTests {
    // MARK: Finding the header

    @Test func emptyImage() {
        #expect(load([]) == .emptyImage)
    }

    @Test func notELFAndNoMultibootHeader() {
        #expect(load(Array("#!/bin/sh\necho this is not a kernel\n".utf8)) == .notELFAndNoMultibootHeader)
        #expect(load([0x7F, 0x45]) == .notELFAndNoMultibootHeader)  // shorter than the ELF magic
    }

    @Test func elfWithoutMultibootHeader() {
        var img = standardELF32()
        img.segments[0].data = pattern(0x200, seed: 0x11)
        #expect(load(img.build().bytes) == .noMultibootHeader)
    }

    @Test func badChecksum() {
        var img = standardELF32()
        img.segments[0].data = multibootHeader(flags: 0x3, checksumError: 5) + pattern(0x100, seed: 1)
        let offset = UInt64(img.build().segmentOffsets[0])
        let expectedChecksum = (0 &- 0x1BAD_B002 &- UInt32(3)) &+ 5
        #expect(load(img.build().bytes) == .badChecksum(offset: offset, flags: 0x3, checksum: expectedChecksum))
    }

    @Test func unknownRequirementBitRefused() {
        // Bit 3 lies in the "must understand" range 0–15 and is undefined in 0.6.96.
        var img = standardELF32()
        img.segments[0].data = multibootHeader(flags: 0x0000_000B) + pattern(0x100, seed: 1)
        #expect(load(img.build().bytes) == .unsupportedRequirements(flags: 0xB))
    }

    @Test func notELFWithoutAddressFields() {
        let image = multibootHeader(flags: 0x3) + pattern(0x100, seed: 1)
        #expect(load(image) == .needsAddressFields)
    }

    // MARK: Truncation

    @Test func truncatedAddressFields() {
        // flags bit 16 set but the file ends right after the checksum.
        let image = multibootHeader(flags: 0x1_0000)
        #expect(load(image) == .truncated(.multibootHeader, needed: 32, fileSize: 12))
    }

    @Test func truncatedELFHeader() {
        var b = Bytes([0x7F, 0x45, 0x4C, 0x46, 1, 1, 1])
        b.put(multibootHeader(flags: 0), at: 16)
        #expect(load(b.data) == .truncated(.elfHeader, needed: 52, fileSize: 28))
    }

    @Test func truncatedProgramHeaderTable() {
        var img = standardELF32()
        img.phnumOverride = 2000  // 2000 × 32 bytes from offset 52: far past the end of the file
        let bytes = img.build().bytes
        #expect(load(bytes) == .truncated(.programHeaderTable, needed: 52 + 2000 * 32, fileSize: UInt64(bytes.count)))
    }

    @Test func programHeaderTableOffsetOutsideFile() {
        var b = Bytes(standardELF64().build().bytes)
        b.put64(0xFFFF_FFFF_FFFF_FFF0, at: 32)  // e_phoff
        #expect(load(b.data) == .truncated(.programHeaderTable, needed: .max, fileSize: UInt64(b.data.count)))
    }

    @Test func truncatedSegmentFileRange() {
        var img = standardELF32()
        img.segments[1].fileszOverride = 0x800
        img.segments[1].memsz = 0x1000
        let built = img.build()
        let needed = UInt64(built.segmentOffsets[1]) + 0x800
        #expect(needed > UInt64(built.bytes.count))
        #expect(load(built.bytes) == .truncated(.segment(1), needed: needed, fileSize: UInt64(built.bytes.count)))
    }

    @Test func segmentFileOffsetOverflowsIsTruncatedNotACrash() {
        var img = standardELF64()
        img.segments[1].fileOffsetOverride = 0xFFFF_FFFF_FFFF_FFC0  // + 0x80 bytes wraps
        let bytes = img.build().bytes
        #expect(load(bytes) == .truncated(.segment(1), needed: .max, fileSize: UInt64(bytes.count)))
    }

    @Test func truncatedAoutImage() {
        // load_end_addr asks for 0x10000 bytes, the file has 0x400.
        let image = flatKludgeKernel(textSize: 0x400, loadEnd: 0x11_0000)
        #expect(load(image) == .truncated(.addressFieldsImage, needed: 0x1_0000, fileSize: 0x400))
    }

    // MARK: Address fields

    @Test func headerAddrBelowLoadAddr() {
        let e = load(flatKludgeKernel(loadAddr: 0x10_0000, headerAddr: 0xF_F000))
        guard case .invalidAddressFields(let why)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(why.contains("header_addr 0xff000 is below load_addr 0x100000"))
    }

    @Test func headerAddrImpliesLoadingBeforeTheFile() {
        // The header is at file offset 0, so header_addr must equal load_addr.
        let e = load(flatKludgeKernel(loadAddr: 0x10_0000, headerAddr: 0x10_0010))
        guard case .invalidAddressFields(let why)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(why.contains("exceeds the header's file offset 0x0"))
    }

    @Test func loadEndBelowLoadAddr() {
        let e = load(flatKludgeKernel(loadAddr: 0x10_0000, loadEnd: 0xF_0000))
        guard case .invalidAddressFields(let why)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(why.contains("load_end_addr 0xf0000 is below load_addr 0x100000"))
    }

    @Test func bssEndBelowLoadEnd() {
        let e = load(flatKludgeKernel(textSize: 0x400, loadAddr: 0x10_0000, bssEnd: 0x10_0200))
        guard case .invalidAddressFields(let why)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(why.contains("bss_end_addr 0x100200 is below the end of the loaded data 0x100400"))
    }

    // MARK: ELF structure

    @Test func unsupportedMachineELF32() {
        #expect(load(standardELF32(machine: 40).build().bytes) == .unsupportedMachine(.elf32, machine: 40))
    }

    @Test func unsupportedMachineELF64() {
        // An ELF64 file claiming i386 is as wrong as an ARM one.
        #expect(load(standardELF64(machine: 3).build().bytes) == .unsupportedMachine(.elf64, machine: 3))
    }

    @Test func bigEndianELF() {
        var img = standardELF32()
        img.bigEndian = true
        guard case .invalidELF(let why)? = load(img.build().bytes) else { Issue.record("not invalidELF"); return }
        #expect(why.contains("EI_DATA"))
    }

    @Test func unknownELFClass() {
        var img = standardELF32()
        img.elfClassByte = 7
        guard case .invalidELF(let why)? = load(img.build().bytes) else { Issue.record("not invalidELF"); return }
        #expect(why.contains("class 7"))
    }

    @Test func programHeaderEntrySizeTooSmall() {
        var img = standardELF64()
        img.phentsizeOverride = 32
        guard case .invalidELF(let why)? = load(img.build().bytes) else { Issue.record("not invalidELF"); return }
        #expect(why.contains("e_phentsize is 32"))
    }

    @Test func segmentFileSizeLargerThanMemorySize() {
        var img = standardELF32()
        img.segments[1].memsz = 0x40  // data is 0x80 bytes
        guard case .invalidELF(let why)? = load(img.build().bytes) else { Issue.record("not invalidELF"); return }
        #expect(why.contains("segment 1 has p_filesz 0x80 larger than p_memsz 0x40"))
    }

    @Test func noLoadableSegments() {
        var img = standardELF32()
        img.segments[0].type = 4  // PT_NOTE
        img.segments[1].type = 6  // PT_PHDR
        #expect(load(img.build().bytes) == .noLoadableSegments)
        img.phnumOverride = 0
        #expect(load(img.build().bytes) == .noLoadableSegments)
    }

    // MARK: Placement

    @Test func segmentOutsideRAM() {
        var img = standardELF32()
        img.segments[1].paddr = 0x3F_F800  // 0x1000 bytes from here cross the end of 4 MiB
        #expect(load(img.build().bytes) == .segmentOutsideRAM(segment: 1, start: 0x3F_F800, size: 0x1000, ramSize: 4 << 20))
    }

    @Test func segmentAddressPlusSizeOverflowsIsOutsideRAM() {
        var img = standardELF64()
        img.segments[1].paddr = 0xFFFF_FFFF_FFFF_F000
        img.segments[1].memsz = 0x2000
        #expect(load(img.build().bytes) == .segmentOutsideRAM(segment: 1, start: 0xFFFF_FFFF_FFFF_F000, size: 0x2000, ramSize: 4 << 20))
    }

    @Test func aoutImageOutsideRAM() {
        let image = flatKludgeKernel(textSize: 0x400, bss: 0x1000, loadAddr: 0x80_0000)
        #expect(load(image) == .segmentOutsideRAM(segment: nil, start: 0x80_0000, size: 0x1400, ramSize: 4 << 20))
    }

    /// The header lies wholly in the first 8 KiB ("3.1.1 The layout of Multiboot header"): one
    /// at 8180 whose address fields (flags bit 16) run to byte 8212 is refused, as is one at 8176
    /// whose graphics fields (bit 2) run to 8224; a 12-byte header at 8180 still fits.
    @Test(arguments: [(8180, UInt32(0x1_0003), UInt64(32)), (8176, 0x4, 48), (8164, 0x1_0000, 32)])
    func headerRunningPastTheFirst8KiBIsRefused(offset: Int, flags: UInt32, size: UInt64) {
        var img = standardELF32()
        let segOffset = img.build().segmentOffsets[0]
        img.segments[0].data = pattern(offset - segOffset, seed: 9)
            + multibootHeader(flags: flags, fields: (0x10_0000, 0x10_0000, 0, 0, 0x10_0000)) + pattern(64, seed: 3)
        img.entry = 0x10_0000
        #expect(load(img.build().bytes) == .headerPastSearchLimit(offset: UInt64(offset), flags: flags, size: size))
    }

    @Test func segmentInTheLegacyHoleIsAllowed() throws {
        // 0xA0000–0xFFFFF is plain RAM in vmxemu: documented as allowed.
        var img = standardELF32(entry: 0xB_800C)
        img.segments[0].paddr = 0xB_8000
        _ = try loadMultiboot(image: img.build().bytes, into: makeRAM(), commandLine: "")
    }

    // MARK: Entry point

    @Test func entryOutsideSegmentsELF() {
        // 0x101000 lies in the gap between the text (to 0x100200) and data (from 0x102000).
        #expect(load(standardELF32(entry: 0x10_1000).build().bytes) == .entryOutsideSegments(entry: 0x10_1000))
    }

    @Test func entryOutsideSegmentsAout() {
        #expect(load(flatKludgeKernel(textSize: 0x400, bss: 0x800, entry: 0x10_0C00)) == .entryOutsideSegments(entry: 0x10_0C00))
        #expect(load(flatKludgeKernel(textSize: 0x400, bss: 0x800, entry: 0xF_FFFF)) == .entryOutsideSegments(entry: 0xF_FFFF))
    }

    @Test func elf64EntryAbove4GiB() {
        #expect(load(standardELF64(entry: 0x1_0010_000C).build().bytes) == .entryAbove4GiB(entry: 0x1_0010_000C))
    }

    // MARK: Boot data and modules

    @Test func moduleDoesNotFitInRAM() {
        let ram = makeRAM(2 << 20)
        let mod = BootModule(contents: [UInt8](repeating: 7, count: 1 << 20), commandLine: "big.img")
        // Kernel ends at 0x103000; strings page 0x103000; module would start at 0x104000 and end past 2 MiB.
        #expect(load(standardELF32().build().bytes, ram: ram, modules: [mod])
            == .moduleDoesNotFit(index: 0, commandLine: "big.img", start: 0x10_4000, size: 1 << 20, ramSize: 2 << 20))
    }

    @Test func secondModuleDoesNotFitInRAM() {
        let ram = makeRAM(2 << 20)
        let small = BootModule(contents: [1, 2, 3], commandLine: "a")
        let big = BootModule(contents: [UInt8](repeating: 7, count: 0xFC000), commandLine: "b")
        #expect(load(standardELF32().build().bytes, ram: ram, modules: [small, big])
            == .moduleDoesNotFit(index: 1, commandLine: "b", start: 0x10_5000, size: 0xFC000, ramSize: 2 << 20))
    }

    @Test func refusedImageLeavesRAMUntouched() {
        let ram = makeRAM(2 << 20)
        let mod = BootModule(contents: [UInt8](repeating: 7, count: 2 << 20), commandLine: "huge")
        #expect(load(standardELF32().build().bytes, ram: ram, modules: [mod]) != nil)
        // Neither the kernel (planned fine) nor the boot information was written.
        #expect(ram.read(at: 0x10_0000, count: 0x200) == [UInt8](repeating: 0, count: 0x200))
        #expect(ram.read(at: 0x9000, count: 0x1000) == [UInt8](repeating: 0, count: 0x1000))
    }

    @Test func bootDataDoesNotFitAfterAKernelFillingRAM() {
        // The kernel's bss runs to the very end of 2 MiB: no room for the strings.
        let ram = makeRAM(2 << 20)
        let image = flatKludgeKernel(textSize: 0x400, loadAddr: 0x10_0000, bssEnd: 0x20_0000)
        #expect(load(image, ram: ram) == .bootDataDoesNotFit(start: 0x20_0000, size: 1 + 7, ramSize: 2 << 20))
    }

    @Test func ramTooSmallForTheBootInformationPage() {
        let ram = makeRAM(0x8000)
        let image = flatKludgeKernel(textSize: 0x400, bss: 0, loadAddr: 0x1000, entry: 0x1000)
        #expect(load(image, ram: ram) == .bootDataDoesNotFit(start: 0x9000, size: 0x1000, ramSize: 0x8000))
    }

    // MARK: Messages

    @Test func everyErrorDescriptionIsOneNonEmptyLine() {
        let all: [LoadError] = [
            .emptyImage, .notELFAndNoMultibootHeader, .noMultibootHeader,
            .badChecksum(offset: 4, flags: 3, checksum: 1), .unsupportedRequirements(flags: 0xFFFF),
            .needsAddressFields, .invalidAddressFields("x"),
            .truncated(.multibootHeader, needed: 32, fileSize: 12), .truncated(.elfHeader, needed: 64, fileSize: 20),
            .truncated(.programHeaderTable, needed: .max, fileSize: 100), .truncated(.segment(3), needed: 9, fileSize: 8),
            .truncated(.addressFieldsImage, needed: 9, fileSize: 8),
            .invalidELF("y"), .unsupportedMachine(.elf32, machine: 40), .unsupportedMachine(.elf64, machine: 9999),
            .noLoadableSegments,
            .segmentOutsideRAM(segment: 2, start: 1, size: 2, ramSize: 3), .segmentOutsideRAM(segment: nil, start: 1, size: 2, ramSize: 4 << 30),
            .headerPastSearchLimit(offset: 8180, flags: 0x1_0000, size: 32),
            .entryOutsideSegments(entry: 5), .entryAbove4GiB(entry: 1 << 40),
            .bootDataDoesNotFit(start: 1, size: 2, ramSize: 3),
            .moduleDoesNotFit(index: 0, commandLine: "evil\nname\r\twith controls", start: 1, size: 2, ramSize: 3),
        ]
        for e in all {
            let d = e.description
            #expect(!d.isEmpty)
            #expect(!d.contains { $0.isNewline }, "multi-line: \(d)")
        }
        #expect(LoadError.segmentOutsideRAM(segment: 2, start: 0x200000, size: 0x1000, ramSize: 1 << 20).description
            == "segment 2 at 0x200000 (0x1000 bytes) does not fit in guest RAM (0x100000 bytes, 1 MiB)")
        #expect(LoadError.unsupportedMachine(.elf32, machine: 40).description.contains("ARM"))
    }
}
