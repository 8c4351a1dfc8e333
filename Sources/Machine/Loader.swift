// Multiboot v1 loader: what `qemu-system-x86_64 -kernel FILE -append ARGS -initrd MODS` does for a
// Multiboot kernel, done directly into guest RAM (no firmware runs in vmxemu).
//
// Rules are from the Multiboot Specification version 0.6.96; section names are cited where a rule
// is encoded. Behaviour that the specification leaves to the boot loader follows QEMU's
// hw/i386/multiboot.c unless noted.
//
// ## Where things go in guest RAM
//
//     0x0000_9000  memory map (e820-style entries)         ┐ the "boot information page",
//     0x0000_9500  Multiboot information structure (EBX)   ┘ 0x9000–0x9FFF (QEMU: same addresses)
//     kernel       wherever its program headers / address fields say
//     K = max(page-align(end of kernel incl. bss), 0xA000):
//     K            module list (16 bytes per module)
//                  strings: kernel command line, each module's string, boot loader name "vmxemu"
//     page-align   module 0 contents, then each further module on the next 4 KiB boundary
//
// This is QEMU's layout (it, too, puts the module list and strings right after the page-aligned
// kernel and the modules after those). When the kernel itself occupies any of 0x9000–0x9FFF (one
// linked at 0x8000, say), the boot information page moves to K instead, and the module list,
// strings and modules follow it one page later: the information never overlaps the kernel.
//
// The legacy VGA/BIOS hole 0xA0000–0xFFFFF is plain RAM in vmxemu (there is no VGA or ROM there),
// so kernel segments and modules may overlap it; the memory map still reports 0xF0000–0xFFFFF as
// reserved, as a PC's does.
//
// Loading is all-or-nothing: every check runs before the first byte is written, so a refused image
// leaves guest RAM untouched.

import X86

/// Fixed addresses of the boot information (see the file comment).
public enum MultibootLayout {
    /// The memory map (`mmap_addr`). QEMU: `ADDR_E820_MAP`.
    public static let memoryMapAddress: UInt64 = 0x9000
    /// The Multiboot information structure, passed in EBX. QEMU: `ADDR_MBI`.
    public static let infoAddress: UInt64 = 0x9500
    /// The page holding both, unless the kernel occupies it (then it follows the kernel).
    public static let bootInformationPage: Range<UInt64> = 0x9000..<0xA000
    /// Offset of the Multiboot information structure in the boot information page.
    public static let infoOffset: UInt64 = infoAddress - memoryMapAddress
    /// `boot_loader_name`.
    public static let bootLoaderName = "vmxemu"
    /// The value a Multiboot kernel finds in EAX (Multiboot Specification 0.6.96, "3.2 Machine state").
    public static let bootloaderMagic: UInt32 = 0x2BAD_B002
    /// The magic of the OS image's header ("3.1.2 The magic fields of Multiboot header").
    public static let headerMagic: UInt32 = 0x1BAD_B002
    /// The header must lie wholly in this many first bytes of the image ("3.1.1 The layout of Multiboot header").
    public static let headerSearchLimit = 8192
}

/// A boot module (`--module FILE[ ARGS]`, QEMU's `-initrd`).
public struct BootModule: Sendable, Hashable {
    /// The file's bytes.
    public var contents: [UInt8]
    /// The module's string as the kernel sees it, conventionally `"FILE ARGS"` exactly as given on
    /// the command line (QEMU passes the whole `-initrd` item, path included).
    public var commandLine: String

    public init(contents: [UInt8], commandLine: String) {
        self.contents = contents
        self.commandLine = commandLine
    }
}

/// A range of guest-physical memory the loader filled.
public struct LoadedRange: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Kernel bytes: an ELF `PT_LOAD` segment (its index), or the a.out-kludge image (nil).
        case kernel(segment: Int?)
        /// The boot information page (memory map + Multiboot information structure).
        case bootInformation
        /// Module list and strings (command lines, boot loader name).
        case bootStrings
        /// Boot module number `index`.
        case module(index: Int)
    }

    public var kind: Kind
    /// First byte.
    public var start: UInt64
    /// One past the last byte.
    public var end: UInt64
    /// Bytes copied from the file at `start`; the rest up to `end` was zeroed (bss).
    public var fileBytes: UInt64

    public init(kind: Kind, start: UInt64, end: UInt64, fileBytes: UInt64) {
        self.kind = kind
        self.start = start
        self.end = end
        self.fileBytes = fileBytes
    }

    public var description: String {
        let what: String
        switch kind {
        case .kernel(let i?): what = "kernel segment \(i)"
        case .kernel(nil): what = "kernel"
        case .bootInformation: what = "multiboot info"
        case .bootStrings: what = "module list + strings"
        case .module(let i): what = "module \(i)"
        }
        return "\(hex(start))–\(hex(end)) \(what)"
    }
}

/// A module as placed in RAM: one entry of the module list the kernel sees.
public struct LoadedModule: Sendable, Hashable {
    /// `mod_start`.
    public var start: UInt32
    /// `mod_end` (exclusive: start + file size, as GRUB and QEMU set it).
    public var end: UInt32
    /// Address of the NUL-terminated module string (`string`).
    public var stringAddress: UInt32
    public var commandLine: String

    public init(start: UInt32, end: UInt32, stringAddress: UInt32, commandLine: String) {
        self.start = start
        self.end = end
        self.stringAddress = stringAddress
        self.commandLine = commandLine
    }
}

/// The result of loading: everything the run loop needs to start the kernel, and the debugger
/// needs to describe it.
///
/// Per "3.2 Machine state" the CPU must enter the kernel at `entry` in 32-bit protected mode with
/// paging off (CR0.PE=1, CR0.PG=0), flat 4 GiB code (CS, execute/read) and data segments (DS, ES,
/// FS, GS, SS), EFLAGS.VM=0 and IF=0, A20 enabled, EAX = `eax` and EBX = `ebx`. ESP is undefined;
/// the kernel sets up its own stack.
public struct BootImage: Sendable {
    public enum Method: Sendable, Hashable {
        /// `PT_LOAD` program headers of an ELF32 or ELF64 file.
        case elf(ELFClass)
        /// The header's address fields (flags bit 16, the "a.out kludge").
        case addressFields
    }

    public var method: Method
    /// The image is an ELF file of this class (also when loaded through the address fields), or nil.
    public var elfClass: ELFClass?
    /// File offset of the Multiboot header.
    public var headerOffset: Int
    /// The header's `flags`.
    public var headerFlags: UInt32
    /// Physical address of the first instruction (EIP).
    public var entry: UInt32
    /// Physical address of the Multiboot information structure (EBX).
    public var multibootInfoAddress: UInt32
    /// The `flags` word written into the Multiboot information structure.
    public var infoFlags: UInt32
    /// The image's functions and objects (empty for non-ELF images or stripped ones).
    public var symbols: SymbolTable
    /// Every range written, kernel first, in address order within each kind.
    public var ranges: [LoadedRange]
    public var modules: [LoadedModule]
    /// Non-fatal remarks for the user (e.g. a video mode was requested and ignored). One line each.
    public var warnings: [String]

    /// Initial EAX: the boot loader magic 0x2BADB002.
    public var eax: UInt32 { MultibootLayout.bootloaderMagic }
    /// Initial EBX: the Multiboot information structure.
    public var ebx: UInt32 { multibootInfoAddress }
    /// The kernel's own ranges (segments or the a.out image, bss included).
    public var kernelRanges: [LoadedRange] {
        ranges.filter { if case .kernel = $0.kind { true } else { false } }
    }
}

/// Why an image was refused. `description` is one line naming the problem.
public enum LoadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A part of the file that a header says is there but the file is too short for.
    public enum Part: Sendable, Hashable, CustomStringConvertible {
        /// The Multiboot header's address fields (offsets 12–31).
        case multibootHeader
        case elfHeader
        case programHeaderTable
        /// The file range `[p_offset, p_offset+p_filesz)` of program header `index`.
        case segment(Int)
        /// The text+data the address fields ask to load (from the header offset minus
        /// (header_addr − load_addr), load_end_addr − load_addr bytes).
        case addressFieldsImage

        public var description: String {
            switch self {
            case .multibootHeader: "the multiboot header's address fields"
            case .elfHeader: "the ELF header"
            case .programHeaderTable: "the program header table"
            case .segment(let i): "the file data of segment \(i)"
            case .addressFieldsImage: "the text+data that the multiboot address fields ask to load"
            }
        }
    }

    /// The file has no bytes at all.
    case emptyImage
    /// Not an ELF file and no Multiboot header either: not a kernel vmxemu can boot.
    case notELFAndNoMultibootHeader
    /// An ELF file without a Multiboot header in its first 8192 bytes.
    case noMultibootHeader
    /// The magic was found (at the first such offset) but no candidate's checksum was right.
    case badChecksum(offset: UInt64, flags: UInt32, checksum: UInt32)
    /// Requirement bits (0–15) the boot loader does not know are set.
    case unsupportedRequirements(flags: UInt32)
    /// Not ELF and flags bit 16 is clear: there is no way to know where to load it.
    case needsAddressFields
    /// The address fields (flags bit 16) contradict each other.
    case invalidAddressFields(String)
    /// A header claims more bytes than the file has.
    case truncated(Part, needed: UInt64, fileSize: UInt64)
    /// A structural ELF problem (class, byte order, entry sizes, p_filesz > p_memsz).
    case invalidELF(String)
    /// `e_machine` is not i386 (ELF32) or x86-64 (ELF64).
    case unsupportedMachine(ELFClass, machine: UInt16)
    /// No `PT_LOAD` segment with a non-zero size.
    case noLoadableSegments
    /// A segment (nil: the a.out-kludge image) would not lie wholly inside guest RAM.
    case segmentOutsideRAM(segment: Int?, start: UInt64, size: UInt64, ramSize: UInt64)
    /// The header found at `offset` is `size` bytes long (by its flags) and so runs past byte 8192.
    case headerPastSearchLimit(offset: UInt64, flags: UInt32, size: UInt64)
    /// The entry point (physical) is not inside any loaded segment.
    case entryOutsideSegments(entry: UInt64)
    /// The ELF64 entry point is not a 32-bit address (the kernel starts in 32-bit protected mode).
    case entryAbove4GiB(entry: UInt64)
    /// The module list and strings after the kernel do not fit in RAM below 4 GiB.
    case bootDataDoesNotFit(start: UInt64, size: UInt64, ramSize: UInt64)
    /// Module `index` does not fit in RAM below 4 GiB after the kernel and earlier modules.
    case moduleDoesNotFit(index: Int, commandLine: String, start: UInt64, size: UInt64, ramSize: UInt64)

    public var description: String {
        switch self {
        case .emptyImage:
            return "kernel image is empty (0 bytes)"
        case .notELFAndNoMultibootHeader:
            return "not a bootable kernel: not an ELF file and no multiboot header (magic 0x1badb002) in the first 8192 bytes"
        case .noMultibootHeader:
            return "ELF image has no multiboot header (magic 0x1badb002, 4-byte aligned) in its first 8192 bytes; vmxemu boots Multiboot v1 kernels"
        case let .badChecksum(offset, flags, checksum):
            let sum = MultibootLayout.headerMagic &+ flags &+ checksum
            return "multiboot header at file offset \(hex(offset)) has a bad checksum: magic + flags (\(hex(flags))) + checksum (\(hex(checksum))) = \(hex(sum)), must be 0"
        case let .unsupportedRequirements(flags):
            return "multiboot header requires features vmxemu does not know: flags \(hex(flags)) sets required bits \(hex(flags & 0xFFF8)) (only bits 0–2 are defined)"
        case .needsAddressFields:
            return "image is not ELF and its multiboot header lacks the address fields (flags bit 16), so there is no way to know where to load it"
        case let .invalidAddressFields(why):
            return "invalid multiboot address fields: \(why)"
        case let .truncated(part, needed, fileSize):
            let need = needed == .max ? "beyond 2^64" : "up to offset \(hex(needed))"
            return "truncated image: \(part) extends \(need) but the file has only \(hex(fileSize)) bytes"
        case let .invalidELF(why):
            return "invalid ELF: \(why)"
        case let .unsupportedMachine(cls, machine):
            let want = cls == .elf32 ? "i386 (3)" : "x86-64 (62)"
            return "unsupported machine: \(cls) image is for \(ELF.machineName(machine)) (e_machine \(machine)), expected \(want)"
        case .noLoadableSegments:
            return "ELF image has no loadable segment (no PT_LOAD program header with p_memsz > 0)"
        case let .segmentOutsideRAM(segment, start, size, ramSize):
            return "\(Self.segmentName(segment)) at \(hex(start)) (\(hex(size)) bytes) does not fit in guest RAM (\(hex(ramSize)) bytes, \(Self.humanSize(ramSize)))"
        case let .headerPastSearchLimit(offset, flags, size):
            return "multiboot header at file offset \(hex(offset)) is \(size) bytes long (flags \(hex(flags))) and runs past byte 8192; the header must lie wholly in the first 8192 bytes"
        case let .entryOutsideSegments(entry):
            return "entry point \(hex(entry)) is outside every loaded segment"
        case let .entryAbove4GiB(entry):
            return "entry point \(hex(entry)) is above 4 GiB; a multiboot kernel starts in 32-bit protected mode and needs a 32-bit entry"
        case let .bootDataDoesNotFit(start, size, ramSize):
            return "no room for the multiboot module list and strings at \(hex(start)) (\(hex(size)) bytes) in guest RAM (\(Self.humanSize(ramSize))) below 4 GiB"
        case let .moduleDoesNotFit(index, commandLine, start, size, ramSize):
            return "module \(index) \(commandLine.debugDescription) (\(hex(size)) bytes at \(hex(start))) does not fit in guest RAM (\(Self.humanSize(ramSize))) below 4 GiB"
        }
    }

    private static func segmentName(_ s: Int?) -> String { s.map { "segment \($0)" } ?? "kernel image" }

    static func humanSize(_ bytes: UInt64) -> String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// The Multiboot header as found in the image ("3.1.1 The layout of Multiboot header").
public struct MultibootHeader: Sendable, Hashable {
    /// File offset of `magic`.
    public var offset: UInt64
    public var flags: UInt32
    /// Offsets 12–28, present when flags bit 16 is set ("3.1.3 The address fields of Multiboot header").
    public var headerAddr: UInt32 = 0
    public var loadAddr: UInt32 = 0
    public var loadEndAddr: UInt32 = 0
    public var bssEndAddr: UInt32 = 0
    public var entryAddr: UInt32 = 0

    /// Flags bit 16: the address fields are valid and override the executable's own headers.
    public var hasAddressFields: Bool { flags & 0x1_0000 != 0 }

    /// Finds the header: the first 4-byte aligned offset in the first 8192 bytes holding the magic
    /// 0x1BADB002 where magic + flags + checksum = 0 mod 2^32 ("3.1.2 The magic fields of
    /// Multiboot header"). Reads the address fields when flags bit 16 is set.
    public static func find(in image: [UInt8]) throws(LoadError) -> MultibootHeader {
        let v = ByteView(bytes: image)
        guard !image.isEmpty else { throw .emptyImage }
        let limit = UInt64(min(image.count, MultibootLayout.headerSearchLimit))
        var firstBad: LoadError?
        var i: UInt64 = 0
        while i + 12 <= limit {
            defer { i += 4 }
            guard v.u32(i) == MultibootLayout.headerMagic, let flags = v.u32(i + 4), let sum = v.u32(i + 8)
            else { continue }
            guard MultibootLayout.headerMagic &+ flags &+ sum == 0 else {
                if firstBad == nil { firstBad = .badChecksum(offset: i, flags: flags, checksum: sum) }
                continue
            }
            var h = MultibootHeader(offset: i, flags: flags)
            // The header must be contained completely within the first 8192 bytes ("3.1.1 The
            // layout of Multiboot header"): 12 bytes, 32 with the address fields (flags bit 16),
            // 48 with the graphics fields (bit 2), which come after the address fields' slots.
            let size: UInt64 = flags & 0x4 != 0 ? 48 : (h.hasAddressFields ? 32 : 12)
            guard i + size <= UInt64(MultibootLayout.headerSearchLimit) else {
                throw .headerPastSearchLimit(offset: i, flags: flags, size: size)
            }
            if h.hasAddressFields {
                guard let a = v.u32(i + 12), let l = v.u32(i + 16), let le = v.u32(i + 20),
                      let b = v.u32(i + 24), let e = v.u32(i + 28) else {
                    throw .truncated(.multibootHeader, needed: i + 32, fileSize: v.count)
                }
                (h.headerAddr, h.loadAddr, h.loadEndAddr, h.bssEndAddr, h.entryAddr) = (a, l, le, b, e)
            }
            return h
        }
        if let firstBad { throw firstBad }
        throw ELF.isELF(image) ? .noMultibootHeader : .notELFAndNoMultibootHeader
    }
}

/// One piece of kernel to copy: `file` bytes of the image to `address`, then zeros up to `memSize`.
private struct KernelPiece {
    var segment: Int?
    var address: UInt64
    var fileOffset: UInt64
    var fileSize: UInt64
    var memSize: UInt64
    var end: UInt64 { address + memSize }  // checked to lie inside RAM before a piece is made
}

/// Loads a Multiboot v1 kernel into `ram` and builds the Multiboot information for it, as
/// `qemu-system-x86_64 -kernel image -append commandLine -initrd modules` would.
///
/// - If the header's flags bit 16 is set, the image is loaded per its address fields exactly as QEMU
///   does ("3.1.3 The address fields of Multiboot header"), whatever its format; this is how
///   ELF64 kernels boot (QEMU refuses ELF64 otherwise).
/// - Otherwise the image must be ELF32 (i386) or ELF64 (x86-64): every `PT_LOAD` segment is copied
///   to `p_paddr` and `p_memsz - p_filesz` bytes after it are zeroed. The entry is `e_entry`,
///   translated to a physical address through the segment whose `[p_vaddr, p_vaddr+p_memsz)`
///   holds it when `p_vaddr != p_paddr` (as QEMU and GRUB do), and must fit in 32 bits.
/// - Requirement bits 0 (page-aligned modules) and 1 (memory information) of the header are always
///   met; bit 2 (video mode) is ignored with a warning; any other bit of 0–15 refuses the image
///   ("3.1.2 The magic fields of Multiboot header": a boot loader that cannot meet a requirement
///   must fail).
/// - `commandLine` becomes `cmdline` as is; QEMU prefixes the kernel path, callers that want that
///   pass it in.
///
/// Nothing is written to `ram` unless the whole image is accepted.
public func loadMultiboot(
    image: [UInt8], into ram: PhysicalMemory, commandLine: String, modules: [BootModule] = []
) throws(LoadError) -> BootImage {
    let v = ByteView(bytes: image)
    let header = try MultibootHeader.find(in: image)
    let isELF = ELF.isELF(image)

    let unknown = header.flags & 0xFFF8
    guard unknown == 0 else { throw .unsupportedRequirements(flags: header.flags) }
    var warnings: [String] = []
    if header.flags & 0x4 != 0 {
        warnings.append("the kernel asks for a video mode (multiboot flags bit 2); vmxemu has no display and passes no video information")
    }

    // 1. Plan the kernel.
    let pieces: [KernelPiece]
    let entry: UInt32
    let method: BootImage.Method
    if header.hasAddressFields {
        (pieces, entry) = try planAddressFields(header, v, ram)
        method = .addressFields
    } else if isELF {
        let h = try ELFHeader.parse(v)
        (pieces, entry) = try planELF(h, v, ram)
        method = .elf(h.elfClass)
    } else {
        throw .needsAddressFields
    }

    // 2. Plan the boot information: QEMU's page 0x9000–0x9FFF, or, when the kernel occupies any
    // of it, the first page after the kernel. Everything the MBI points at must be addressable
    // with 32 bits, and in RAM.
    let ramSize = ram.size
    let limit = min(ramSize, 0x1_0000_0000)
    let kernelEnd = pieces.map(\.end).max() ?? 0
    var dataStart = max(pageAlignUp(kernelEnd) ?? .max, MultibootLayout.bootInformationPage.upperBound)
    let low = MultibootLayout.bootInformationPage
    let infoPage: UInt64
    if pieces.contains(where: { $0.address < low.upperBound && $0.end > low.lowerBound }) {
        infoPage = dataStart
        guard let next = checkedAdd(infoPage, 0x1000), next <= limit else {
            throw .bootDataDoesNotFit(start: infoPage, size: 0x1000, ramSize: ramSize)
        }
        dataStart = next
    } else {
        infoPage = low.lowerBound
        guard ram.contains(infoPage, count: 0x1000) else {
            throw .bootDataDoesNotFit(start: infoPage, size: 0x1000, ramSize: ramSize)
        }
    }
    let cmdlineBytes = Array(commandLine.utf8) + [0]
    let moduleStrings = modules.map { Array($0.commandLine.utf8) + [0] }
    let loaderBytes = Array(MultibootLayout.bootLoaderName.utf8) + [0]
    let stringsSize = UInt64(cmdlineBytes.count + loaderBytes.count) + moduleStrings.reduce(0) { $0 + UInt64($1.count) }
    let dataSize = UInt64(modules.count) * 16 + stringsSize
    guard let dataEnd = checkedAdd(dataStart, dataSize), dataEnd <= limit else {
        throw .bootDataDoesNotFit(start: dataStart, size: dataSize, ramSize: ramSize)
    }
    // Modules: each on a 4 KiB boundary (header flags bit 0 asks for it; we always do it).
    var moduleStarts: [UInt64] = []
    var cursor = pageAlignUp(dataEnd) ?? .max
    for (i, m) in modules.enumerated() {
        let size = UInt64(m.contents.count)
        guard let end = checkedAdd(cursor, size), end <= limit, end <= UInt64(UInt32.max) else {
            throw .moduleDoesNotFit(index: i, commandLine: m.commandLine, start: cursor, size: size, ramSize: ramSize)
        }
        moduleStarts.append(cursor)
        cursor = pageAlignUp(end) ?? .max
    }

    // 3. Write. Every range below was checked to lie in RAM, so the writes cannot fail.
    var ranges: [LoadedRange] = []
    image.withUnsafeBytes { file in
        for p in pieces {
            let from = Int(p.fileOffset), to = Int(p.fileOffset + p.fileSize)
            ram.write(UnsafeRawBufferPointer(rebasing: file[from..<to]), at: p.address)
            ram.zero(at: p.address + p.fileSize, count: p.memSize - p.fileSize)
            ranges.append(LoadedRange(kind: .kernel(segment: p.segment), start: p.address, end: p.end, fileBytes: p.fileSize))
        }
    }

    // Module list and strings.
    var strAddr = dataStart + UInt64(modules.count) * 16
    func putString(_ bytes: [UInt8]) -> UInt32 {
        let at = strAddr
        ram.write(bytes, at: at)
        strAddr += UInt64(bytes.count)
        return UInt32(at)
    }
    let cmdlineAddr = putString(cmdlineBytes)
    var loaded: [LoadedModule] = []
    for (i, m) in modules.enumerated() {
        let s = putString(moduleStrings[i])
        let start = moduleStarts[i], end = start + UInt64(m.contents.count)
        ram.write(m.contents, at: start)
        // Module list entry ("3.3 Boot information format"): mod_start, mod_end, string, reserved (0).
        let e = dataStart + UInt64(i) * 16
        ram.write32(UInt32(start), at: e)
        ram.write32(UInt32(end), at: e + 4)
        ram.write32(s, at: e + 8)
        ram.write32(0, at: e + 12)
        loaded.append(LoadedModule(start: UInt32(start), end: UInt32(end), stringAddress: s, commandLine: m.commandLine))
    }
    let loaderAddr = putString(loaderBytes)
    ranges.append(LoadedRange(kind: .bootInformation, start: infoPage, end: infoPage + 0x1000, fileBytes: 0))
    ranges.append(LoadedRange(kind: .bootStrings, start: dataStart, end: dataEnd, fileBytes: 0))
    for (i, m) in loaded.enumerated() {
        ranges.append(LoadedRange(kind: .module(index: i), start: UInt64(m.start), end: UInt64(m.end),
                                  fileBytes: UInt64(m.end - m.start)))
    }

    let infoFlags = writeBootInformation(
        into: ram, page: infoPage, cmdline: cmdlineAddr, modsAddr: UInt32(dataStart), modsCount: UInt32(modules.count),
        bootLoaderName: loaderAddr)

    return BootImage(
        method: method,
        elfClass: isELF ? (try? ELFHeader.parse(v))?.elfClass : nil,
        headerOffset: Int(header.offset),
        headerFlags: header.flags,
        entry: entry,
        multibootInfoAddress: UInt32(infoPage + MultibootLayout.infoOffset),
        infoFlags: infoFlags,
        symbols: isELF ? SymbolTable(elf: image) : .empty,
        ranges: ranges,
        modules: loaded,
        warnings: warnings)
}

/// The memory map the kernel is given: a PC's, cut to the RAM size.
///
/// 0–0x9FBFF usable, 0x9FC00–0x9FFFF reserved (EBDA), 0xF0000–0xFFFFF reserved (BIOS ROM),
/// 1 MiB–end of RAM usable. Entries are `(base, length, type)`; type 1 = available RAM, 2 = reserved.
public func multibootMemoryMap(ramSize: UInt64) -> [(base: UInt64, length: UInt64, type: UInt32)] {
    var map: [(base: UInt64, length: UInt64, type: UInt32)] = []
    map.append((0, min(ramSize, 0x9_FC00), 1))
    map.append((0x9_FC00, 0x400, 2))
    map.append((0xF_0000, 0x1_0000, 2))
    if ramSize > 0x10_0000 { map.append((0x10_0000, ramSize - 0x10_0000, 1)) }
    return map
}

/// Writes the memory map at `page` (0x9000) and the Multiboot information structure at
/// `page + 0x500` (0x9500) ("3.3 Boot information format"). Returns the MBI `flags` written.
///
/// Provided, and flagged: bit 0 mem_lower/mem_upper, bit 2 cmdline, bit 3 mods, bit 6 mmap,
/// bit 9 boot_loader_name. Not provided (flag clear, field 0): boot_device (bit 1), symbols
/// (bits 4/5), drives, config table, APM, VBE, framebuffer.
private func writeBootInformation(
    into ram: PhysicalMemory, page: UInt64, cmdline: UInt32, modsAddr: UInt32, modsCount: UInt32, bootLoaderName: UInt32
) -> UInt32 {
    ram.zero(at: page, count: 0x1000)

    // Memory map: each entry is `size` (20, not counting itself), base_addr, length, type; mmap_addr
    // points at the first `size` field and mmap_length counts whole entries including `size`.
    var at = page
    for e in multibootMemoryMap(ramSize: ram.size) {
        ram.write32(20, at: at)
        ram.write64(e.base, at: at + 4)
        ram.write64(e.length, at: at + 12)
        ram.write32(e.type, at: at + 20)
        at += 24
    }
    let mmapLength = UInt32(at - page)

    // mem_lower: KiB from 0 (at most 640); mem_upper: KiB from 1 MiB to the first hole — RAM is
    // contiguous in vmxemu, so to the end of RAM (clamped to 32 bits).
    let memLower = UInt32(min(640, ram.size / 1024))
    let memUpper = UInt32(min(ram.size > 0x10_0000 ? (ram.size - 0x10_0000) / 1024 : 0, UInt64(UInt32.max)))
    let flags: UInt32 = 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9

    let mbi = page + MultibootLayout.infoOffset
    ram.write32(flags, at: mbi + 0)
    ram.write32(memLower, at: mbi + 4)
    ram.write32(memUpper, at: mbi + 8)
    ram.write32(cmdline, at: mbi + 16)
    ram.write32(modsCount, at: mbi + 20)
    ram.write32(modsAddr, at: mbi + 24)
    ram.write32(mmapLength, at: mbi + 44)
    ram.write32(UInt32(page), at: mbi + 48)
    ram.write32(bootLoaderName, at: mbi + 64)
    return flags
}

/// Checks that a kernel piece lies in RAM.
private func checkPlacement(segment: Int?, start: UInt64, size: UInt64, _ ram: PhysicalMemory) throws(LoadError) {
    guard ram.contains(start, count: size) else {
        throw .segmentOutsideRAM(segment: segment, start: start, size: size, ramSize: ram.size)
    }
}

/// Plans loading through the header's address fields, QEMU's way ("3.1.3 The address fields of
/// Multiboot header"):
/// the file is read from offset `header.offset - (header_addr - load_addr)`, `load_end_addr -
/// load_addr` bytes (to the end of the file if load_end_addr is 0), to `load_addr`; then zeros up to
/// `bss_end_addr` (none if 0). The entry is `entry_addr` and must lie in the loaded range.
private func planAddressFields(
    _ h: MultibootHeader, _ v: ByteView, _ ram: PhysicalMemory
) throws(LoadError) -> ([KernelPiece], UInt32) {
    guard h.headerAddr >= h.loadAddr else {
        throw .invalidAddressFields("header_addr \(hex(h.headerAddr)) is below load_addr \(hex(h.loadAddr))")
    }
    let delta = UInt64(h.headerAddr - h.loadAddr)
    guard delta <= h.offset else {
        throw .invalidAddressFields("header_addr - load_addr = \(hex(delta)) exceeds the header's file offset \(hex(h.offset)), so loading would start before the file")
    }
    let textOffset = h.offset - delta
    let loadSize: UInt64
    if h.loadEndAddr != 0 {
        guard h.loadEndAddr >= h.loadAddr else {
            throw .invalidAddressFields("load_end_addr \(hex(h.loadEndAddr)) is below load_addr \(hex(h.loadAddr))")
        }
        loadSize = UInt64(h.loadEndAddr - h.loadAddr)
    } else {
        loadSize = v.count - textOffset  // textOffset ≤ header offset < file size
    }
    guard v.contains(textOffset, loadSize) else {
        throw .truncated(.addressFieldsImage, needed: textOffset + loadSize, fileSize: v.count)
    }
    let loadEnd = UInt64(h.loadAddr) + loadSize
    guard loadEnd <= 0x1_0000_0000 else {
        throw .invalidAddressFields("load_addr \(hex(h.loadAddr)) + \(hex(loadSize)) bytes of file runs past 4 GiB")
    }
    var memSize = loadSize
    if h.bssEndAddr != 0 {
        guard UInt64(h.bssEndAddr) >= loadEnd else {
            throw .invalidAddressFields("bss_end_addr \(hex(h.bssEndAddr)) is below the end of the loaded data \(hex(loadEnd))")
        }
        memSize = UInt64(h.bssEndAddr) - UInt64(h.loadAddr)
    }
    try checkPlacement(segment: nil, start: UInt64(h.loadAddr), size: memSize, ram)
    let entry = UInt64(h.entryAddr)
    guard entry >= UInt64(h.loadAddr), entry < UInt64(h.loadAddr) + memSize else {
        throw .entryOutsideSegments(entry: entry)
    }
    let piece = KernelPiece(segment: nil, address: UInt64(h.loadAddr), fileOffset: textOffset,
                            fileSize: loadSize, memSize: memSize)
    return ([piece], h.entryAddr)
}

/// Plans loading the `PT_LOAD` segments of an ELF32 (i386) or ELF64 (x86-64) image at their
/// physical addresses.
private func planELF(_ h: ELFHeader, _ v: ByteView, _ ram: PhysicalMemory) throws(LoadError) -> ([KernelPiece], UInt32) {
    let want = h.elfClass == .elf32 ? ELF.emI386 : ELF.emX86_64
    guard h.machine == want else { throw .unsupportedMachine(h.elfClass, machine: h.machine) }
    let phdrs = h.phnum == 0 ? [] : try ProgramHeader.table(v, h)

    var pieces: [KernelPiece] = []
    var loads: [ProgramHeader] = []
    for p in phdrs where p.type == ELF.ptLoad {
        guard p.filesz <= p.memsz else {
            throw .invalidELF("segment \(p.index) has p_filesz \(hex(p.filesz)) larger than p_memsz \(hex(p.memsz))")
        }
        guard p.memsz > 0 else { continue }
        guard v.contains(p.offset, p.filesz) else {
            throw .truncated(.segment(p.index), needed: saturatingAdd(p.offset, p.filesz), fileSize: v.count)
        }
        try checkPlacement(segment: p.index, start: p.paddr, size: p.memsz, ram)
        pieces.append(KernelPiece(segment: p.index, address: p.paddr, fileOffset: p.offset,
                                  fileSize: p.filesz, memSize: p.memsz))
        loads.append(p)
    }
    guard !pieces.isEmpty else { throw .noLoadableSegments }

    // e_entry is a virtual address; where a segment is linked at a different physical address,
    // translate through it (QEMU's load_elf and GRUB do the same).
    var entry = h.entry
    if let s = loads.first(where: { $0.vaddr != $0.paddr && h.entry >= $0.vaddr && h.entry - $0.vaddr < $0.memsz }) {
        entry = h.entry - s.vaddr + s.paddr  // < paddr + memsz, which is inside RAM: no overflow
    }
    guard entry <= UInt64(UInt32.max) else { throw .entryAbove4GiB(entry: h.entry) }
    guard pieces.contains(where: { entry >= $0.address && entry < $0.end }) else {
        throw .entryOutsideSegments(entry: entry)
    }
    return (pieces, UInt32(entry))
}
