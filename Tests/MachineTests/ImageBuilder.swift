// A tiny builder of kernel images for the loader tests: ELF32/ELF64 files with program headers,
// section headers and a symbol table, flat a.out-kludge images, and Multiboot headers.
// Everything is written by hand from the System V ABI layouts, so the tests do not depend on a
// toolchain.

import Machine
import X86

/// Little-endian byte buffer with put-at-offset helpers that grow the buffer as needed.
struct Bytes {
    var data: [UInt8] = []

    init(_ data: [UInt8] = []) { self.data = data }

    mutating func ensure(_ n: Int) { if data.count < n { data += [UInt8](repeating: 0, count: n - data.count) } }
    mutating func put8(_ v: UInt8, at o: Int) { ensure(o + 1); data[o] = v }
    mutating func put16(_ v: UInt16, at o: Int) { for i in 0..<2 { put8(UInt8(truncatingIfNeeded: v >> (8 * i)), at: o + i) } }
    mutating func put32(_ v: UInt32, at o: Int) { for i in 0..<4 { put8(UInt8(truncatingIfNeeded: v >> (8 * i)), at: o + i) } }
    mutating func put64(_ v: UInt64, at o: Int) { for i in 0..<8 { put8(UInt8(truncatingIfNeeded: v >> (8 * i)), at: o + i) } }
    mutating func put(_ bytes: [UInt8], at o: Int) { ensure(o + bytes.count); data.replaceSubrange(o..<o + bytes.count, with: bytes) }
}

/// A Multiboot v1 header (Multiboot Specification 0.6.96, "3.1.1 The layout of Multiboot header").
/// `fields` are header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr (written only if given).
func multibootHeader(flags: UInt32, fields: (UInt32, UInt32, UInt32, UInt32, UInt32)? = nil,
                     checksumError: UInt32 = 0) -> [UInt8] {
    var b = Bytes()
    b.put32(0x1BAD_B002, at: 0)
    b.put32(flags, at: 4)
    b.put32((0 &- 0x1BAD_B002 &- flags) &+ checksumError, at: 8)
    if let f = fields {
        b.put32(f.0, at: 12); b.put32(f.1, at: 16); b.put32(f.2, at: 20); b.put32(f.3, at: 24); b.put32(f.4, at: 28)
    }
    return b.data
}

/// A deterministic byte pattern so copied data can be recognised.
func pattern(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) | 1 } }

struct TestSegment {
    var type: UInt32 = 1  // PT_LOAD
    var paddr: UInt64
    var vaddr: UInt64? = nil  // nil: same as paddr
    var data: [UInt8]
    var memsz: UInt64? = nil  // nil: data.count
    /// Overrides for building broken files.
    var fileOffsetOverride: UInt64? = nil
    var fileszOverride: UInt64? = nil
}

struct TestSymbol {
    var name: String
    var value: UInt64
    var size: UInt64
    var type: UInt8 = 2  // STT_FUNC
    var bind: UInt8 = 1  // STB_GLOBAL
    var shndx: UInt16 = 1
}

/// An ELF image description; `build()` lays it out as
/// ehdr | phdrs | segment data (16-byte aligned) | .symtab | .strtab | .shstrtab | section headers.
struct ELFImage {
    var is64: Bool
    var machine: UInt16? = nil
    var entry: UInt64
    var segments: [TestSegment]
    var symbols: [TestSymbol] = []
    var bigEndian = false
    var elfClassByte: UInt8? = nil
    var phentsizeOverride: UInt16? = nil
    var phnumOverride: UInt16? = nil

    struct Built {
        var bytes: [UInt8]
        var segmentOffsets: [Int]
        var phoff: Int
        var shoff: Int
    }

    func build() -> Built {
        var b = Bytes()
        let ehsize = is64 ? 64 : 52
        let phentsize = is64 ? 56 : 32
        let shentsize = is64 ? 64 : 40
        let phoff = ehsize
        var cursor = (phoff + phentsize * segments.count + 15) & ~15
        var offsets: [Int] = []
        for s in segments {
            offsets.append(cursor)
            b.put(s.data, at: cursor)
            cursor = (cursor + s.data.count + 15) & ~15
        }
        // Symbol and string tables.
        var strtab: [UInt8] = [0]
        var symtab = Bytes()
        let symsize = is64 ? 24 : 16
        for (i, s) in symbols.enumerated() {
            let nameOff = UInt32(strtab.count)
            strtab += Array(s.name.utf8) + [0]
            let o = (i + 1) * symsize  // entry 0 is the null symbol
            symtab.put32(nameOff, at: o)
            let info = s.bind << 4 | s.type
            if is64 {
                symtab.put8(info, at: o + 4); symtab.put16(s.shndx, at: o + 6)
                symtab.put64(s.value, at: o + 8); symtab.put64(s.size, at: o + 16)
            } else {
                symtab.put32(UInt32(truncatingIfNeeded: s.value), at: o + 4)
                symtab.put32(UInt32(truncatingIfNeeded: s.size), at: o + 8)
                symtab.put8(info, at: o + 12); symtab.put16(s.shndx, at: o + 14)
            }
        }
        symtab.ensure((symbols.count + 1) * symsize)
        let symOff = cursor
        b.put(symtab.data, at: symOff)
        cursor = (cursor + symtab.data.count + 15) & ~15
        let strOff = cursor
        b.put(strtab, at: strOff)
        cursor = (cursor + strtab.count + 15) & ~15
        let shstr: [UInt8] = Array("\0.text\0.symtab\0.strtab\0.shstrtab\0".utf8)
        let shstrOff = cursor
        b.put(shstr, at: shstrOff)
        cursor = (cursor + shstr.count + 15) & ~15
        let shoff = cursor

        // Section headers: 0 null, 1 .text (first segment), 2 .symtab, 3 .strtab, 4 .shstrtab.
        func section(_ i: Int, name: UInt32, type: UInt32, offset: Int, size: Int, link: UInt32, entsize: Int, addr: UInt64 = 0) {
            let o = shoff + i * shentsize
            b.put32(name, at: o); b.put32(type, at: o + 4)
            if is64 {
                b.put64(addr, at: o + 16); b.put64(UInt64(offset), at: o + 24); b.put64(UInt64(size), at: o + 32)
                b.put32(link, at: o + 40); b.put64(UInt64(entsize), at: o + 56)
            } else {
                b.put32(UInt32(truncatingIfNeeded: addr), at: o + 12); b.put32(UInt32(offset), at: o + 16)
                b.put32(UInt32(size), at: o + 20); b.put32(link, at: o + 24); b.put32(UInt32(entsize), at: o + 36)
            }
        }
        b.ensure(shoff + 5 * shentsize)
        if let s0 = segments.first, let o0 = offsets.first {
            section(1, name: 1, type: 1, offset: o0, size: s0.data.count, link: 0, entsize: 0, addr: s0.vaddr ?? s0.paddr)
        }
        section(2, name: 7, type: 2, offset: symOff, size: symtab.data.count, link: 3, entsize: symsize)
        section(3, name: 15, type: 3, offset: strOff, size: strtab.count, link: 0, entsize: 0)
        section(4, name: 23, type: 3, offset: shstrOff, size: shstr.count, link: 0, entsize: 0)

        // ELF header.
        b.put([0x7F, 0x45, 0x4C, 0x46], at: 0)
        b.put8(elfClassByte ?? (is64 ? 2 : 1), at: 4)
        b.put8(bigEndian ? 2 : 1, at: 5)
        b.put8(1, at: 6)
        b.put16(2, at: 16)  // ET_EXEC
        b.put16(machine ?? (is64 ? 62 : 3), at: 18)
        b.put32(1, at: 20)
        if is64 {
            b.put64(entry, at: 24); b.put64(UInt64(phoff), at: 32); b.put64(UInt64(shoff), at: 40)
            b.put16(64, at: 52)
            b.put16(phentsizeOverride ?? UInt16(phentsize), at: 54); b.put16(phnumOverride ?? UInt16(segments.count), at: 56)
            b.put16(UInt16(shentsize), at: 58); b.put16(5, at: 60); b.put16(4, at: 62)
        } else {
            b.put32(UInt32(truncatingIfNeeded: entry), at: 24); b.put32(UInt32(phoff), at: 28); b.put32(UInt32(shoff), at: 32)
            b.put16(52, at: 40)
            b.put16(phentsizeOverride ?? UInt16(phentsize), at: 42); b.put16(phnumOverride ?? UInt16(segments.count), at: 44)
            b.put16(UInt16(shentsize), at: 46); b.put16(5, at: 48); b.put16(4, at: 50)
        }
        // Program headers.
        for (i, s) in segments.enumerated() {
            let o = phoff + i * phentsize
            let off = s.fileOffsetOverride ?? UInt64(offsets[i])
            let filesz = s.fileszOverride ?? UInt64(s.data.count)
            let memsz = s.memsz ?? UInt64(s.data.count)
            let vaddr = s.vaddr ?? s.paddr
            b.put32(s.type, at: o)
            if is64 {
                b.put32(7, at: o + 4)  // p_flags RWX
                b.put64(off, at: o + 8); b.put64(vaddr, at: o + 16); b.put64(s.paddr, at: o + 24)
                b.put64(filesz, at: o + 32); b.put64(memsz, at: o + 40); b.put64(0x1000, at: o + 48)
            } else {
                b.put32(UInt32(truncatingIfNeeded: off), at: o + 4)
                b.put32(UInt32(truncatingIfNeeded: vaddr), at: o + 8)
                b.put32(UInt32(truncatingIfNeeded: s.paddr), at: o + 12)
                b.put32(UInt32(truncatingIfNeeded: filesz), at: o + 16)
                b.put32(UInt32(truncatingIfNeeded: memsz), at: o + 20)
                b.put32(7, at: o + 24); b.put32(0x1000, at: o + 28)
            }
        }
        return Built(bytes: b.data, segmentOffsets: offsets, phoff: phoff, shoff: shoff)
    }
}

// MARK: - Standard test kernels

/// Code of the standard kernel: multiboot header (flags 0x3) then a recognisable pattern.
let kernelText: [UInt8] = multibootHeader(flags: 0x3) + pattern(0x200 - 12, seed: 0x11)
/// Initialised data of the standard kernel, followed by 0xF80 bytes of bss.
let kernelData: [UInt8] = pattern(0x80, seed: 0x55)

let standardSymbols: [TestSymbol] = [
    TestSymbol(name: "_start", value: 0x10_000C, size: 0x14),
    TestSymbol(name: "kmain", value: 0x10_0020, size: 0x40),
    TestSymbol(name: "helper", value: 0x10_0060, size: 0x10, bind: 0),  // STB_LOCAL
    TestSymbol(name: "spin", value: 0x10_0100, size: 0),  // an assembly label without .size
    TestSymbol(name: "counter", value: 0x10_2000, size: 4, type: 1),  // STT_OBJECT
    TestSymbol(name: "stack_top", value: 0x10_2F00, size: 0, type: 0),  // STT_NOTYPE: not kept
    TestSymbol(name: "extern_fn", value: 0, size: 0, shndx: 0),  // undefined: not kept
    TestSymbol(name: "text.section", value: 0x10_0000, size: 0, type: 3),  // STT_SECTION: not kept
]

/// ELF32 i386 kernel: text at 0x100000 (0x200 bytes), data at 0x102000 (0x80 bytes + bss to
/// 0x103000), entry 0x10000C.
func standardELF32(entry: UInt64 = 0x10_000C, machine: UInt16? = nil) -> ELFImage {
    ELFImage(is64: false, machine: machine, entry: entry, segments: [
        TestSegment(paddr: 0x10_0000, data: kernelText),
        TestSegment(paddr: 0x10_2000, data: kernelData, memsz: 0x1000),
    ], symbols: standardSymbols)
}

/// The same kernel as ELF64 x86-64, loaded through its program headers (flags 0x3).
func standardELF64(entry: UInt64 = 0x10_000C, machine: UInt16? = nil) -> ELFImage {
    ELFImage(is64: true, machine: machine, entry: entry, segments: [
        TestSegment(paddr: 0x10_0000, data: kernelText),
        TestSegment(paddr: 0x10_2000, data: kernelData, memsz: 0x1000),
    ], symbols: standardSymbols)
}

/// A flat (non-ELF) a.out-kludge kernel: header at file offset 0 and load address 0x100000,
/// `textSize` bytes loaded, bss to 0x100000 + textSize + bss, entry 0x100020.
func flatKludgeKernel(textSize: Int = 0x400, bss: UInt32 = 0x800, loadAddr: UInt32 = 0x10_0000,
                      headerAddr: UInt32? = nil, loadEnd: UInt32? = nil, bssEnd: UInt32? = nil,
                      entry: UInt32? = nil, flags: UInt32 = 0x1_0003) -> [UInt8] {
    let end = loadAddr + UInt32(textSize)
    let hdr = multibootHeader(flags: flags, fields: (
        headerAddr ?? loadAddr, loadAddr, loadEnd ?? end, bssEnd ?? (bss == 0 ? 0 : end + bss), entry ?? (loadAddr + 0x20)))
    return hdr + pattern(textSize - hdr.count, seed: 0x33)
}

/// Makes `size` bytes of RAM (zeroed).
func makeRAM(_ size: UInt64 = 4 << 20) -> PhysicalMemory { PhysicalMemory(size: size) }

/// Reads a NUL-terminated string from guest RAM (at most 4 KiB).
func cString(_ ram: PhysicalMemory, at address: UInt64) -> String {
    var out: [UInt8] = []
    var a = address
    while out.count < 4096 {
        let b = ram.read(at: a, count: 1)[0]
        if b == 0 { break }
        out.append(b)
        a += 1
    }
    return String(decoding: out, as: UTF8.self)
}

/// Runs `body` and returns the `LoadError` it throws, or nil if it succeeded.
func loadError(_ body: () throws(LoadError) -> BootImage) -> LoadError? {
    do { _ = try body(); return nil } catch { return error }
}
