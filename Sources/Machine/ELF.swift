// ELF reading for the loader: just enough of the System V ABI's ELF format (file header, program
// headers, section headers, symbol tables) to load a kernel and name its functions.
//
// Everything here reads an untrusted file. Every offset and size taken from the file goes through
// `ByteView`, whose accessors return nil instead of trapping, and all arithmetic on file values
// uses `checkedAdd`/`checkedMul` (nil on overflow). Nothing in this file can crash on any input.

/// A bounds-checked, little-endian view of an image file.
///
/// Offsets are `UInt64` so that a 64-bit field from the file can be used directly without a
/// narrowing conversion that could trap.
struct ByteView {
    let bytes: [UInt8]

    var count: UInt64 { UInt64(bytes.count) }

    /// True when `[offset, offset+length)` lies wholly inside the file.
    func contains(_ offset: UInt64, _ length: UInt64) -> Bool {
        offset <= count && length <= count - offset
    }

    func u8(_ offset: UInt64) -> UInt8? {
        guard contains(offset, 1) else { return nil }
        return bytes[Int(offset)]
    }

    func u16(_ offset: UInt64) -> UInt16? {
        guard contains(offset, 2) else { return nil }
        let i = Int(offset)
        return UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
    }

    func u32(_ offset: UInt64) -> UInt32? {
        guard contains(offset, 4) else { return nil }
        let i = Int(offset)
        return UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16
            | UInt32(bytes[i + 3]) << 24
    }

    func u64(_ offset: UInt64) -> UInt64? {
        guard let lo = u32(offset), let hi = u32(offset &+ 4), offset <= UInt64.max - 4 else { return nil }
        return UInt64(lo) | UInt64(hi) << 32
    }

    /// A native-width ELF word: 4 bytes for ELFCLASS32, 8 for ELFCLASS64.
    func word(_ offset: UInt64, _ elfClass: ELFClass) -> UInt64? {
        switch elfClass {
        case .elf32: u32(offset).map(UInt64.init)
        case .elf64: u64(offset)
        }
    }
}

/// `a + b`, or nil if it overflows.
@inline(__always) func checkedAdd(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
}

/// `a * b`, or nil if it overflows.
@inline(__always) func checkedMul(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : r
}

/// `a + b`, clamped to `UInt64.max` (for values only used in messages or comparisons).
@inline(__always) func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? .max : r
}

/// Rounds up to the next 4 KiB boundary, or nil if that overflows.
@inline(__always) func pageAlignUp(_ a: UInt64) -> UInt64? {
    checkedAdd(a, 0xFFF).map { $0 & ~0xFFF }
}

/// "0x1f" — the one hex spelling used in every message.
@inline(__always) func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

/// ELF file class (`e_ident[EI_CLASS]`).
public enum ELFClass: Sendable, Hashable, CustomStringConvertible {
    case elf32
    case elf64

    public var description: String { self == .elf32 ? "ELF32" : "ELF64" }
}

/// The ELF constants this loader uses (System V ABI, "ELF Header", "Program Header", "Sections",
/// "Symbol Table").
enum ELF {
    static let emI386: UInt16 = 3
    static let emX86_64: UInt16 = 62
    static let ptLoad: UInt32 = 1
    static let shtSymtab: UInt32 = 2
    static let stbLocal: UInt8 = 0, stbGlobal: UInt8 = 1, stbWeak: UInt8 = 2
    static let sttObject: UInt8 = 1, sttFunc: UInt8 = 2
    static let shnUndef: UInt16 = 0

    /// Starts with the ELF magic "\x7fELF".
    static func isELF(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46
    }

    /// A readable name for `e_machine`, for error messages.
    static func machineName(_ m: UInt16) -> String {
        switch m {
        case 0: "none"
        case 2: "SPARC"
        case 3: "i386"
        case 8: "MIPS"
        case 20: "PowerPC"
        case 21: "PowerPC64"
        case 40: "ARM"
        case 50: "IA-64"
        case 62: "x86-64"
        case 183: "AArch64"
        case 243: "RISC-V"
        default: "machine \(m)"
        }
    }
}

/// The fields of the ELF file header the loader needs.
struct ELFHeader {
    var elfClass: ELFClass
    var machine: UInt16
    var entry: UInt64
    var phoff: UInt64
    var shoff: UInt64
    var phentsize: UInt16
    var phnum: UInt16
    var shentsize: UInt16
    var shnum: UInt16

    /// Size of the file header for the class.
    static func size(_ c: ELFClass) -> UInt64 { c == .elf32 ? 52 : 64 }

    /// Parses the file header. The caller has already checked the `\x7fELF` magic.
    /// Refuses classes other than 32/64 and big-endian files; checks the header fits the file.
    static func parse(_ v: ByteView) throws(LoadError) -> ELFHeader {
        guard let cls = v.u8(4), let data = v.u8(5) else {
            throw .truncated(.elfHeader, needed: 16, fileSize: v.count)
        }
        let elfClass: ELFClass
        switch cls {
        case 1: elfClass = .elf32
        case 2: elfClass = .elf64
        default: throw .invalidELF("unknown ELF class \(cls) in e_ident[EI_CLASS] (expected 1 or 2)")
        }
        guard data == 1 else {
            throw .invalidELF("e_ident[EI_DATA] is \(data), not 1 (little-endian); x86 images are little-endian")
        }
        let size = ELFHeader.size(elfClass)
        guard v.contains(0, size) else { throw .truncated(.elfHeader, needed: size, fileSize: v.count) }
        // Offsets within the header (System V ABI, "ELF Header"). All reads are inside `size`.
        let w: UInt64 = elfClass == .elf32 ? 4 : 8
        let entryOff: UInt64 = 24
        let phoffOff = entryOff + w
        let shoffOff = phoffOff + w
        let flagsOff = shoffOff + w
        let ehsizeOff = flagsOff + 4
        return ELFHeader(
            elfClass: elfClass,
            machine: v.u16(18) ?? 0,
            entry: v.word(entryOff, elfClass) ?? 0,
            phoff: v.word(phoffOff, elfClass) ?? 0,
            shoff: v.word(shoffOff, elfClass) ?? 0,
            phentsize: v.u16(ehsizeOff + 2) ?? 0,
            phnum: v.u16(ehsizeOff + 4) ?? 0,
            shentsize: v.u16(ehsizeOff + 6) ?? 0,
            shnum: v.u16(ehsizeOff + 8) ?? 0)
    }
}

/// One program header (System V ABI, "Program Header").
struct ProgramHeader {
    var index: Int
    var type: UInt32
    var offset: UInt64
    var vaddr: UInt64
    var paddr: UInt64
    var filesz: UInt64
    var memsz: UInt64

    /// Minimum `e_phentsize` for the class.
    static func size(_ c: ELFClass) -> UInt64 { c == .elf32 ? 32 : 56 }

    /// Reads the program header table. Throws `.truncated(.programHeaderTable)` if any part of it
    /// lies outside the file.
    static func table(_ v: ByteView, _ h: ELFHeader) throws(LoadError) -> [ProgramHeader] {
        let entsize = UInt64(h.phentsize)
        guard entsize >= size(h.elfClass) else {
            throw .invalidELF("e_phentsize is \(entsize), smaller than a \(h.elfClass) program header (\(size(h.elfClass)) bytes)")
        }
        let tableSize = entsize * UInt64(h.phnum)  // ≤ 65535², no overflow
        guard v.contains(h.phoff, tableSize) else {
            throw .truncated(.programHeaderTable, needed: saturatingAdd(h.phoff, tableSize), fileSize: v.count)
        }
        var out: [ProgramHeader] = []
        out.reserveCapacity(Int(h.phnum))
        for i in 0..<UInt64(h.phnum) {
            let o = h.phoff + i * entsize  // inside the file, checked above
            var p = ProgramHeader(index: Int(i), type: v.u32(o) ?? 0, offset: 0, vaddr: 0, paddr: 0, filesz: 0, memsz: 0)
            switch h.elfClass {
            case .elf32:
                p.offset = UInt64(v.u32(o + 4) ?? 0)
                p.vaddr = UInt64(v.u32(o + 8) ?? 0)
                p.paddr = UInt64(v.u32(o + 12) ?? 0)
                p.filesz = UInt64(v.u32(o + 16) ?? 0)
                p.memsz = UInt64(v.u32(o + 20) ?? 0)
            case .elf64:
                p.offset = v.u64(o + 8) ?? 0
                p.vaddr = v.u64(o + 16) ?? 0
                p.paddr = v.u64(o + 24) ?? 0
                p.filesz = v.u64(o + 32) ?? 0
                p.memsz = v.u64(o + 40) ?? 0
            }
            out.append(p)
        }
        return out
    }
}
