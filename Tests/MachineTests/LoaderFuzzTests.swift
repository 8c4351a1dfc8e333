// Bounded fuzzing of the loader: mutated images must load or be refused with a LoadError —
// never crash — and whatever loads must satisfy the loader's promises.

import TestSupport
import Machine
import Testing
import X86


@Suite struct LoaderFuzzTests {
    /// Values that tend to break size and offset arithmetic.
    static let interesting: [UInt64] = [
        0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0xFFF, 0x1000, 0x8000, 0x9000, 0x9500, 0xA000, 0xFFFF,
        0x10_0000, 0x10_000C, 0x20_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF0, 0xFFFF_FFFF,
        0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_F000, .max,
    ]

    static func mutate(_ base: [UInt8], _ rng: inout SplitMix64, hotRange: Range<Int>) -> [UInt8] {
        var b = base
        let rounds = Int.random(in: 1...4, using: &rng)
        for _ in 0..<rounds {
            guard !b.isEmpty else { return b }
            // Mostly hit the headers, where every field matters; sometimes anywhere.
            let anywhere = Int.random(in: 0..<4, using: &rng) == 0
            let range = anywhere || hotRange.upperBound > b.count ? 0..<b.count : hotRange
            let at = Int.random(in: range, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0:  // flip a bit
                b[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1:  // random byte
                b[at] = UInt8.random(in: 0...255, using: &rng)
            case 2, 3:  // an interesting value as a 4- or 8-byte field at an aligned offset
                let v = interesting.randomElement(using: &rng)! &+ UInt64.random(in: 0...2, using: &rng) &- 1
                let width = Bool.random(using: &rng) ? 4 : 8
                let o = at & ~(width - 1)
                for i in 0..<width where o + i < b.count { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            case 4:  // a 2-byte field (phnum, phentsize, shnum, machine …)
                let v = UInt16(truncatingIfNeeded: interesting.randomElement(using: &rng)!)
                let o = at & ~1
                if o + 1 < b.count { b[o] = UInt8(v & 0xFF); b[o + 1] = UInt8(v >> 8) }
            case 5:  // truncate
                b.removeLast(Int.random(in: 0...(b.count - at), using: &rng))
            default:  // append garbage
                b += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
        }
        return b
    }

    @Test func twentyThousandMutationsLoadOrFailCleanly() {
        let elf32 = standardELF32().build()
        let aout64Text = multibootHeader(flags: 0x1_0003, fields: (0x10_0000, 0x10_0000, 0x10_0100, 0x10_1000, 0x10_0010))
            + pattern(0x100 - 32, seed: 0x21)
        let elf64 = ELFImage(is64: true, entry: 0x10_0010, segments: [
            TestSegment(paddr: 0x10_0000, data: aout64Text, memsz: 0x1000),
        ], symbols: standardSymbols).build()
        let flat = flatKludgeKernel(textSize: 0x300)
        // (image, the range holding its headers: ELF header, program headers, multiboot header)
        let bases: [([UInt8], Range<Int>)] = [
            (elf32.bytes, 0..<(elf32.segmentOffsets[0] + 32)),
            (elf64.bytes, 0..<(elf64.segmentOffsets[0] + 32)),
            (flat, 0..<32),
            // Section headers and symbol tables too, for the symbol reader.
            (elf32.bytes, (elf32.segmentOffsets[1] + kernelData.count)..<elf32.bytes.count),
        ]
        let ram = makeRAM(2 << 20)
        let module = BootModule(contents: pattern(100, seed: 8), commandLine: "mod arg")
        var rng = SplitMix64(state: 0x5EED_CAFE)
        var loaded = 0, refused = 0
        var kinds = Set<String>()
        for i in 0..<20_000 {
            let (base, hot) = bases[i % bases.count]
            let image = Self.mutate(base, &rng, hotRange: hot)
            do {
                let boot = try loadMultiboot(image: image, into: ram, commandLine: "fuzz", modules: [module])
                loaded += 1
                // Promises of a successful load.
                let kernel = boot.kernelRanges
                #expect(!kernel.isEmpty)
                #expect(kernel.contains { UInt64(boot.entry) >= $0.start && UInt64(boot.entry) < $0.end },
                        "entry \(boot.entry) outside the kernel")
                #expect(boot.ranges.allSatisfy { $0.start <= $0.end && $0.end <= ram.size })
                // The boot information page (QEMU's 0x9000, or after the kernel) overlaps no kernel byte.
                let info = boot.ranges.first { $0.kind == .bootInformation }
                #expect(kernel.allSatisfy { k in info.map { k.end <= $0.start || k.start >= $0.end } ?? false || k.start == k.end })
                #expect(UInt64(boot.ebx) == (info?.start ?? 0) + 0x500)
                #expect(ram.read(at: UInt64(boot.modules[0].start), count: 100) == module.contents)
                // Symbol lookups on whatever was read must not trap either.
                for s in boot.symbols.symbols.prefix(4) { _ = boot.symbols.symbolize(s.address &+ 1) }
            } catch {
                refused += 1
                let d = error.description
                #expect(!d.isEmpty && !d.contains { $0.isNewline })
                kinds.insert(Mirror(reflecting: error).children.first?.label ?? d)
            }
        }
        #expect(loaded + refused == 20_000)
        // The mutations must exercise both outcomes and many distinct refusals.
        #expect(loaded > 1_000)
        #expect(refused > 1_000)
        #expect(kinds.count >= 8, "refusal kinds seen: \(kinds.sorted())")
    }

    @Test func symbolReaderNeverTrapsOnMutatedSectionData() {
        let base = standardELF64().build()
        var rng = SplitMix64(state: 42)
        var nonEmpty = 0
        for _ in 0..<5_000 {
            let image = Self.mutate(base.bytes, &rng, hotRange: base.shoff - 0x100..<base.bytes.count)
            let table = SymbolTable(elf: image)
            if !table.isEmpty { nonEmpty += 1 }
            for s in table.symbols.prefix(8) {
                #expect(table.lookup(s.address) != nil)
                _ = table.symbolize(s.end)
            }
        }
        #expect(nonEmpty > 500)
    }
}
