// The Multiboot loader on good images: where bytes land, what the kernel is told.

import Machine
import Testing
import X86

@Suite struct LoaderTests {
    @Test func elf32SegmentsLandAtPhysicalAddressesAndBssIsZeroed() throws {
        let ram = makeRAM()
        // Dirty the bss so zeroing is observable.
        ram.write([UInt8](repeating: 0xAA, count: 0x1000), at: 0x10_2000)
        let built = standardELF32().build()
        let boot = try loadMultiboot(image: built.bytes, into: ram, commandLine: "")

        #expect(boot.method == .elf(.elf32))
        #expect(boot.elfClass == .elf32)
        #expect(boot.entry == 0x10_000C)
        #expect(boot.eax == 0x2BAD_B002)
        #expect(boot.ebx == 0x9500)
        #expect(boot.headerOffset == built.segmentOffsets[0])
        #expect(boot.headerFlags == 0x3)
        #expect(ram.read(at: 0x10_0000, count: kernelText.count) == kernelText)
        #expect(ram.read(at: 0x10_2000, count: kernelData.count) == kernelData)
        #expect(ram.read(at: 0x10_2080, count: 0xF80) == [UInt8](repeating: 0, count: 0xF80))
        #expect(boot.kernelRanges == [
            LoadedRange(kind: .kernel(segment: 0), start: 0x10_0000, end: 0x10_0200, fileBytes: 0x200),
            LoadedRange(kind: .kernel(segment: 1), start: 0x10_2000, end: 0x10_3000, fileBytes: 0x80),
        ])
        #expect(boot.warnings.isEmpty)
    }

    @Test func elf64LoadsThroughProgramHeadersWhenEntryFitsIn32Bits() throws {
        let ram = makeRAM()
        let boot = try loadMultiboot(image: standardELF64().build().bytes, into: ram, commandLine: "x")
        #expect(boot.method == .elf(.elf64))
        #expect(boot.entry == 0x10_000C)
        #expect(ram.read(at: 0x10_0000, count: kernelText.count) == kernelText)
        #expect(ram.read(at: 0x10_2000, count: kernelData.count) == kernelData)
        #expect(boot.symbols.address(of: "kmain") == 0x10_0020)
    }

    @Test func higherHalfEntryIsTranslatedToPhysicalThroughItsSegment() throws {
        // Linked at 0xFFFFFFFF80100000, loaded at 1 MiB: e_entry is virtual.
        let image = ELFImage(is64: true, entry: 0xFFFF_FFFF_8010_000C, segments: [
            TestSegment(paddr: 0x10_0000, vaddr: 0xFFFF_FFFF_8010_0000, data: kernelText),
        ]).build().bytes
        let ram = makeRAM()
        let boot = try loadMultiboot(image: image, into: ram, commandLine: "")
        #expect(boot.entry == 0x10_000C)
        #expect(ram.read(at: 0x10_0000, count: 16) == Array(kernelText[0..<16]))
    }

    @Test func flatAoutKludgeImageLoadsPerAddressFields() throws {
        let ram = makeRAM()
        ram.write([UInt8](repeating: 0xAA, count: 0x1000), at: 0x10_0400)
        let image = flatKludgeKernel(textSize: 0x400, bss: 0x800)
        let boot = try loadMultiboot(image: image, into: ram, commandLine: "")
        #expect(boot.method == .addressFields)
        #expect(boot.elfClass == nil)
        #expect(boot.entry == 0x10_0020)
        #expect(boot.symbols.isEmpty)
        #expect(ram.read(at: 0x10_0000, count: 0x400) == image)
        #expect(ram.read(at: 0x10_0400, count: 0x800) == [UInt8](repeating: 0, count: 0x800))
        // Past bss_end_addr nothing was touched.
        #expect(ram.read(at: 0x10_0C00, count: 4) == [0xAA, 0xAA, 0xAA, 0xAA])
        #expect(boot.kernelRanges == [LoadedRange(kind: .kernel(segment: nil), start: 0x10_0000, end: 0x10_0C00, fileBytes: 0x400)])
    }

    @Test func aoutKludgeWithHeaderAfterLoadAddressStartsLoadingBeforeTheHeader() throws {
        // 0x40 bytes of code, then the header at file offset 0x40 with header_addr = load_addr + 0x40.
        var b = Bytes(pattern(0x40, seed: 0x77))
        b.put(multibootHeader(flags: 0x1_0000, fields: (0x20_0040, 0x20_0000, 0x20_0100, 0, 0x20_0000)), at: 0x40)
        b.put(pattern(0xA0, seed: 0x99), at: 0x60)
        b.ensure(0x180)  // trailing bytes past load_end_addr are not loaded
        let ram = makeRAM()
        let boot = try loadMultiboot(image: b.data, into: ram, commandLine: "")
        #expect(boot.headerOffset == 0x40)
        #expect(boot.entry == 0x20_0000)
        #expect(ram.read(at: 0x20_0000, count: 0x100) == Array(b.data[0..<0x100]))
        #expect(ram.read(at: 0x20_0100, count: 0x80) == [UInt8](repeating: 0, count: 0x80))
    }

    @Test func aoutKludgeLoadEndZeroLoadsTheWholeFile() throws {
        let image = flatKludgeKernel(textSize: 0x300, bss: 0, loadEnd: 0)
        let ram = makeRAM()
        let boot = try loadMultiboot(image: image, into: ram, commandLine: "")
        #expect(boot.kernelRanges.first?.end == 0x10_0300)
        #expect(ram.read(at: 0x10_0000, count: 0x300) == image)
    }

    /// How GuestImages boot ELF64 kernels: an ELF64 file whose multiboot header carries address
    /// fields. The address fields decide the load; the ELF symbols are still read.
    @Test func elf64WithAoutKludgeLoadsPerAddressFieldsAndKeepsSymbols() throws {
        let text = multibootHeader(flags: 0x1_0003, fields: (0x20_0000, 0x20_0000, 0x20_0100, 0x20_1000, 0x20_0010))
            + pattern(0x100 - 32, seed: 0x21)
        let image = ELFImage(is64: true, entry: 0x20_0010, segments: [
            TestSegment(paddr: 0x20_0000, data: text, memsz: 0x1000),
        ], symbols: [
            TestSymbol(name: "start32", value: 0x20_0010, size: 0x30),
            TestSymbol(name: "long_mode_entry", value: 0xFFFF_FFFF_8000_1000, size: 0x80),
            TestSymbol(name: "gdt", value: 0x20_0080, size: 0x18, type: 1),
        ]).build().bytes
        let ram = makeRAM()
        ram.write([UInt8](repeating: 0xAA, count: 0xF00), at: 0x20_0100)
        let boot = try loadMultiboot(image: image, into: ram, commandLine: "")
        #expect(boot.method == .addressFields)
        #expect(boot.elfClass == .elf64)
        #expect(boot.entry == 0x20_0010)
        #expect(ram.read(at: 0x20_0000, count: 0x100) == text)
        #expect(ram.read(at: 0x20_0100, count: 0xF00) == [UInt8](repeating: 0, count: 0xF00))
        #expect(boot.symbols.count == 3)
        #expect(boot.symbols.symbolize(0x20_0014) == "start32+0x4")
        #expect(boot.symbols.symbolize(0xFFFF_FFFF_8000_1010) == "long_mode_entry+0x10")
        #expect(boot.symbols.symbol(named: "gdt")?.kind == .object)
    }

    /// A kernel occupying QEMU's boot information page (linked at 0x8000, 0x8000–0x91FF) loads:
    /// the information moves to the first page after the kernel and overlaps none of it.
    @Test func kernelLinkedAt0x8000GetsTheInformationAfterIt() throws {
        var img = standardELF32(entry: 0x800C)
        let text = kernelText + pattern(0x1000, seed: 2)
        img.segments = [TestSegment(paddr: 0x8000, data: text)]
        let ram = makeRAM()
        let boot = try loadMultiboot(image: img.build().bytes, into: ram, commandLine: "low kernel")
        #expect(ram.read(at: 0x8000, count: text.count) == text)  // nothing written over the kernel
        #expect(boot.ebx == 0xA500)
        let mbi = UInt64(boot.ebx)
        #expect(ram.read32(at: mbi + 48) == 0xA000)  // mmap_addr
        #expect(cString(ram, at: UInt64(ram.read32(at: mbi + 16))) == "low kernel")
        #expect(ram.read32(at: mbi + 16) >= 0xB000)
        let info = try #require(boot.ranges.first { $0.kind == .bootInformation })
        #expect(info.start == 0xA000 && info.end == 0xB000)
        for k in boot.kernelRanges { #expect(k.end <= info.start || k.start >= info.end) }
    }

    @Test func multibootInformationStructureFields() throws {
        let ram = makeRAM(32 << 20)
        let boot = try loadMultiboot(image: standardELF32().build().bytes, into: ram,
                                     commandLine: "console=ttyS0 loglevel=7")
        let mbi = UInt64(boot.ebx)
        #expect(mbi == MultibootLayout.infoAddress)
        // flags: mem (0), cmdline (2), mods (3), mmap (6), boot_loader_name (9); nothing else.
        #expect(ram.read32(at: mbi) == 0x24D)
        #expect(boot.infoFlags == 0x24D)
        #expect(ram.read32(at: mbi + 4) == 640)
        #expect(ram.read32(at: mbi + 8) == (32 * 1024 - 1024))
        #expect(ram.read32(at: mbi + 12) == 0)  // boot_device not provided
        #expect(cString(ram, at: UInt64(ram.read32(at: mbi + 16))) == "console=ttyS0 loglevel=7")
        #expect(ram.read32(at: mbi + 20) == 0)  // mods_count
        #expect(cString(ram, at: UInt64(ram.read32(at: mbi + 64))) == "vmxemu")
        // Strings live after the kernel (which ends at 0x103000), as in QEMU.
        #expect(ram.read32(at: mbi + 16) >= 0x10_3000)
        #expect(ram.read32(at: mbi + 28) == 0 && ram.read32(at: mbi + 40) == 0)  // syms: not provided
    }

    @Test func memoryMapDescribesAPCWithThisMuchRAM() throws {
        let ram = makeRAM(32 << 20)
        let boot = try loadMultiboot(image: standardELF32().build().bytes, into: ram, commandLine: "")
        let mbi = UInt64(boot.ebx)
        let length = ram.read32(at: mbi + 44)
        let addr = UInt64(ram.read32(at: mbi + 48))
        #expect(addr == 0x9000)
        #expect(length == 4 * 24)
        var entries: [(UInt64, UInt64, UInt32)] = []
        var p = addr
        // Walk it the way kernels do: next = this + size + 4.
        while p < addr + UInt64(length) {
            let size = ram.read32(at: p)
            #expect(size == 20)
            entries.append((ram.read64(at: p + 4), ram.read64(at: p + 12), ram.read32(at: p + 20)))
            p += UInt64(size) + 4
        }
        #expect(entries.count == 4)
        guard entries.count == 4 else { return }
        #expect(entries[0] == (0, 0x9_FC00, 1))
        #expect(entries[1] == (0x9_FC00, 0x400, 2))
        #expect(entries[2] == (0xF_0000, 0x1_0000, 2))
        #expect(entries[3] == (0x10_0000, (32 << 20) - 0x10_0000, 1))
    }

    @Test func modulesArePageAlignedAfterTheKernelWithTheirStrings() throws {
        let ram = makeRAM(8 << 20)
        let m0 = pattern(5000, seed: 1), m1 = pattern(3, seed: 2), m2: [UInt8] = []
        let mods = [
            BootModule(contents: m0, commandLine: "guest.elf arg=1 verbose"),
            BootModule(contents: m1, commandLine: "tiny.bin"),
            BootModule(contents: m2, commandLine: "empty"),
        ]
        let boot = try loadMultiboot(image: standardELF32().build().bytes, into: ram, commandLine: "k", modules: mods)
        let mbi = UInt64(boot.ebx)
        #expect(ram.read32(at: mbi + 20) == 3)
        let list = UInt64(ram.read32(at: mbi + 24))
        #expect(list == 0x10_3000)  // page-aligned end of the kernel's bss
        var previousEnd: UInt64 = list
        for (i, m) in mods.enumerated() {
            let e = list + UInt64(i) * 16
            let start = UInt64(ram.read32(at: e)), end = UInt64(ram.read32(at: e + 4))
            #expect(start % 4096 == 0, "module \(i) start \(start) not page aligned")
            #expect(start >= previousEnd)
            #expect(end - start == UInt64(m.contents.count))
            #expect(ram.read(at: start, count: m.contents.count) == m.contents)
            #expect(cString(ram, at: UInt64(ram.read32(at: e + 8))) == m.commandLine)
            #expect(ram.read32(at: e + 12) == 0)
            #expect(boot.modules[i] == LoadedModule(start: UInt32(start), end: UInt32(end),
                                                     stringAddress: ram.read32(at: e + 8), commandLine: m.commandLine))
            previousEnd = end
        }
        // The first module starts on the page after the module list and strings.
        #expect(boot.modules[0].start == 0x10_4000)
        #expect(boot.modules[1].start == 0x10_6000)  // 0x104000 + 5000 → next page
        #expect(cString(ram, at: UInt64(ram.read32(at: mbi + 16))) == "k")
        #expect(boot.ranges.contains(LoadedRange(kind: .module(index: 0), start: 0x10_4000, end: 0x10_4000 + 5000, fileBytes: 5000)))
    }

    @Test func lowKernelStillGetsBootDataAboveTheBootInformationPage() throws {
        // A kernel below 0x9000 must not have its strings placed on the MBI page.
        let image = flatKludgeKernel(textSize: 0x200, bss: 0, loadAddr: 0x2000, entry: 0x2000)
        let ram = makeRAM()
        let boot = try loadMultiboot(image: image, into: ram, commandLine: "low")
        let cmdline = ram.read32(at: UInt64(boot.ebx) + 16)
        #expect(cmdline >= 0xA000)
        #expect(cString(ram, at: UInt64(cmdline)) == "low")
    }

    @Test func headerRequirementBitsZeroToTwoAreAcceptedAndVideoWarns() throws {
        var built = standardELF32()
        built.segments[0].data = multibootHeader(flags: 0x7) + pattern(0x200 - 12, seed: 0x11)
        let boot = try loadMultiboot(image: built.build().bytes, into: makeRAM(), commandLine: "")
        #expect(boot.headerFlags == 0x7)
        #expect(boot.warnings.count == 1)
        #expect(boot.warnings.allSatisfy { !$0.contains("\n") })
    }

    @Test func headerIsFoundAtTheLastAlignedSlotOfTheFirst8KiB() throws {
        // ELF whose first segment starts with padding so the header sits at file offset 8180.
        var img = standardELF32()
        let segOffset = img.build().segmentOffsets[0]
        let pad = 8180 - segOffset
        img.segments[0].data = pattern(pad, seed: 9) + multibootHeader(flags: 0x3) + pattern(64, seed: 3)
        img.entry = 0x10_0000
        let boot = try loadMultiboot(image: img.build().bytes, into: makeRAM(), commandLine: "")
        #expect(boot.headerOffset == 8180)
    }

    @Test func headerPastTheFirst8KiBIsNotFound() {
        var img = standardELF32()
        let segOffset = img.build().segmentOffsets[0]
        img.segments[0].data = pattern(8184 - segOffset, seed: 9) + multibootHeader(flags: 0x3) + pattern(64, seed: 3)
        img.entry = 0x10_0000
        let image = img.build().bytes
        #expect(loadError { () throws(LoadError) in try loadMultiboot(image: image, into: makeRAM(), commandLine: "") } == .noMultibootHeader)
    }

    @Test func firstValidHeaderWinsOverAnEarlierBadOne() throws {
        var img = standardELF32()
        img.segments[0].data = multibootHeader(flags: 0x3, checksumError: 1) + multibootHeader(flags: 0x2) + pattern(0x100, seed: 4)
        let boot = try loadMultiboot(image: img.build().bytes, into: makeRAM(), commandLine: "")
        #expect(boot.headerFlags == 0x2)
        #expect(boot.headerOffset == img.build().segmentOffsets[0] + 12)
    }

    @Test func reloadingIntoTheSameRAMGivesTheSameResult() throws {
        let ram = makeRAM()
        let img = standardELF32().build().bytes
        let a = try loadMultiboot(image: img, into: ram, commandLine: "one two")
        let snapshot = ram.read(at: 0x9000, count: 0x1000)
        let b = try loadMultiboot(image: img, into: ram, commandLine: "one two")
        #expect(a.ranges == b.ranges && a.entry == b.entry)
        #expect(ram.read(at: 0x9000, count: 0x1000) == snapshot)
    }
}
