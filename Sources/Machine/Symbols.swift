// The kernel's symbol table, kept so the debugger, the exit trace and error reports can say
// `vmm_handle_exit+0x1c` instead of `0x10231c`.

/// One function or data object from the image's ELF `.symtab`.
public struct Symbol: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case function, object }
    public enum Binding: Sendable, Hashable { case local, global, weak }

    public var name: String
    /// `st_value`: the symbol's (link-time, i.e. virtual) address.
    public var address: UInt64
    /// `st_size`; 0 for assembly labels declared without `.size`.
    public var size: UInt64
    public var kind: Kind
    public var binding: Binding

    public init(name: String, address: UInt64, size: UInt64, kind: Kind, binding: Binding = .global) {
        self.name = name
        self.address = address
        self.size = size
        self.kind = kind
        self.binding = binding
    }

    /// One past the last byte (saturating, so a bogus size cannot wrap).
    public var end: UInt64 { saturatingAdd(address, size) }

    public var description: String { "\(name) @ \(hex(address)) size \(hex(size))" }
}

/// Functions and objects of a kernel image, searchable by name and by address.
///
/// Built from every `SHT_SYMTAB` section of an ELF32 or ELF64 file (System V ABI, "Symbol
/// Table"): `STT_FUNC` and `STT_OBJECT` symbols that are defined (`st_shndx != SHN_UNDEF`) and
/// have a name. Reading is best-effort: the symbol table is a debugging aid, not needed to boot,
/// so a malformed or missing section header table gives an empty or partial table, never an error.
///
/// Reading is bounded whatever the image says: names are interned (symbols naming the same
/// string-table offset share one `String`, so N symbols naming one long string cost one copy, not
/// N), a name is at most `maxNameLength` bytes (a longer one is cut there), and reading stops after
/// `maxSymbols` symbols or `maxNameBytes` bytes of distinct names (`truncated` is then true).
public struct SymbolTable: Sendable {
    /// The most symbols read from an image (a Linux vmlinux has about 10⁵).
    public static let maxSymbols = 1 << 20
    /// The longest name kept, in bytes; longer names are cut.
    public static let maxNameLength = 1024
    /// The most bytes of distinct names read from an image.
    public static let maxNameBytes = 32 << 20

    /// Sorted by address; among equal addresses, by name.
    public let symbols: [Symbol]
    /// `prefixMaxLast[i]` = the highest last byte covered by a sized symbol among `symbols[0...i]`
    /// (nil if none is sized): lets `lookup` stop scanning backwards as soon as no earlier symbol
    /// can still contain the address. Inclusive, so a symbol ending at 2^64 needs no overflow.
    private let prefixMaxLast: [UInt64?]
    private let byName: [String: Int]
    /// Reading the image stopped at `maxSymbols` or `maxNameBytes`: some symbols are missing.
    public private(set) var truncated = false

    public static let empty = SymbolTable([])

    public init(_ symbols: [Symbol]) {
        let sorted = symbols.sorted { ($0.address, $0.name) < ($1.address, $1.name) }
        self.symbols = sorted
        var maxLast: UInt64? = nil
        prefixMaxLast = sorted.map { s in
            if s.size > 0 {
                let last = s.address + min(s.size - 1, UInt64.max - s.address)
                maxLast = max(maxLast ?? 0, last)
            }
            return maxLast
        }
        var names: [String: Int] = [:]
        for (i, s) in sorted.enumerated() {
            // On duplicate names (file-local statics), a global or weak definition wins over a
            // local one; otherwise the lowest address wins.
            if let j = names[s.name], !(sorted[j].binding == .local && s.binding != .local) { continue }
            names[s.name] = i
        }
        byName = names
    }

    public var count: Int { symbols.count }
    public var isEmpty: Bool { symbols.isEmpty }

    /// The symbol called `name` (a global one if several share the name).
    public func symbol(named name: String) -> Symbol? {
        byName[name].map { symbols[$0] }
    }

    /// The address of `name`, for `break name`-style commands.
    public func address(of name: String) -> UInt64? { symbol(named: name)?.address }

    /// The symbol that covers `address` and the offset into it.
    ///
    /// A sized symbol covers `[address, address+size)` (clipped at 2^64); when several do (nested or aliased),
    /// the one starting closest below `address` wins. When none does, a size-0 symbol (an
    /// assembly label) at the closest address below `address` is used, so code after `_start:`
    /// still gets a name. Otherwise nil.
    public func lookup(_ address: UInt64) -> (symbol: Symbol, offset: UInt64)? {
        // Binary search: `hi` = number of symbols with address <= `address`.
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].address <= address { lo = mid + 1 } else { hi = mid }
        }
        guard hi > 0 else { return nil }
        var j = hi - 1
        while true {
            let s = symbols[j]
            if address - s.address < s.size { return (s, address - s.address) }  // address >= s.address
            guard j > 0, let m = prefixMaxLast[j - 1], m >= address else { break }
            j -= 1
        }
        // No sized symbol contains it: fall back to a label at the nearest lower address.
        let nearest = symbols[hi - 1].address
        var k = hi - 1
        while true {
            let s = symbols[k]
            guard s.address == nearest else { break }
            if s.size == 0 { return (s, address - s.address) }
            if k == 0 { break }
            k -= 1
        }
        return nil
    }

    /// `"name+0x12"` (or `"name"` at offset 0) for `address`; nil when no symbol covers it.
    public func symbolize(_ address: UInt64) -> String? {
        guard let (s, off) = lookup(address) else { return nil }
        return off == 0 ? s.name : "\(s.name)+\(hex(off))"
    }

    /// Reads the symbol tables of an ELF image. Returns `.empty` for non-ELF input or when the
    /// section header table is absent or malformed; skips individual malformed symbols.
    public init(elf bytes: [UInt8]) {
        let (symbols, truncated) = Self.readSymbols(ByteView(bytes: bytes))
        self.init(symbols)
        self.truncated = truncated
    }

    private static func readSymbols(_ v: ByteView) -> ([Symbol], truncated: Bool) {
        guard ELF.isELF(v.bytes), let h = try? ELFHeader.parse(v) else { return ([], false) }
        let c = h.elfClass
        let shentMin: UInt64 = c == .elf32 ? 40 : 64
        let shentsize = UInt64(h.shentsize)
        guard h.shoff != 0, h.shnum > 0, shentsize >= shentMin,
              v.contains(h.shoff, shentsize * UInt64(h.shnum)) else { return ([], false) }

        // Section header fields (System V ABI, "Sections"): sh_type @4, then for ELF32
        // sh_offset @16, sh_size @20, sh_link @24, sh_entsize @36; for ELF64 sh_offset @24,
        // sh_size @32, sh_link @40, sh_entsize @56.
        struct Section { var type: UInt32; var offset: UInt64; var size: UInt64; var link: UInt32; var entsize: UInt64 }
        func section(_ i: UInt64) -> Section? {
            guard i < UInt64(h.shnum) else { return nil }
            let o = h.shoff + i * shentsize  // inside the file: checked above
            switch c {
            case .elf32:
                guard let t = v.u32(o + 4), let off = v.u32(o + 16), let sz = v.u32(o + 20),
                      let link = v.u32(o + 24), let es = v.u32(o + 36) else { return nil }
                return Section(type: t, offset: UInt64(off), size: UInt64(sz), link: link, entsize: UInt64(es))
            case .elf64:
                guard let t = v.u32(o + 4), let off = v.u64(o + 24), let sz = v.u64(o + 32),
                      let link = v.u32(o + 40), let es = v.u64(o + 56) else { return nil }
                return Section(type: t, offset: off, size: sz, link: link, entsize: es)
            }
        }

        let symMin: UInt64 = c == .elf32 ? 16 : 24
        var out: [Symbol] = []
        // Interned names: file offset of the name → the one String for it.
        var names: [UInt64: String] = [:]
        var nameBytes = 0
        for i in 0..<UInt64(h.shnum) {
            guard let symtab = section(i), symtab.type == ELF.shtSymtab,
                  v.contains(symtab.offset, symtab.size),
                  let strtab = section(UInt64(symtab.link)), v.contains(strtab.offset, strtab.size)
            else { continue }
            let entsize = max(symtab.entsize, symMin)
            let n = symtab.size / entsize
            // Entry 0 is the reserved null symbol.
            var k: UInt64 = 1
            while k < n {
                defer { k += 1 }
                let o = symtab.offset + k * entsize  // < offset + size: inside the file
                let nameOff: UInt32?, info: UInt8?, shndx: UInt16?, value: UInt64?, size: UInt64?
                switch c {
                case .elf32:
                    nameOff = v.u32(o); value = v.u32(o + 4).map(UInt64.init); size = v.u32(o + 8).map(UInt64.init)
                    info = v.u8(o + 12); shndx = v.u16(o + 14)
                case .elf64:
                    nameOff = v.u32(o); info = v.u8(o + 4); shndx = v.u16(o + 6)
                    value = v.u64(o + 8); size = v.u64(o + 16)
                }
                guard let nameOff, let info, let shndx, let value, let size,
                      shndx != ELF.shnUndef else { continue }
                let kind: Symbol.Kind
                switch info & 0xF {
                case ELF.sttFunc: kind = .function
                case ELF.sttObject: kind = .object
                default: continue
                }
                let binding: Symbol.Binding
                switch info >> 4 {
                case ELF.stbLocal: binding = .local
                case ELF.stbGlobal: binding = .global
                case ELF.stbWeak: binding = .weak
                default: continue
                }
                guard UInt64(nameOff) < strtab.size else { continue }
                let key = strtab.offset + UInt64(nameOff)
                let name: String
                if let known = names[key] {
                    name = known
                } else {
                    guard let s = cString(v, start: strtab.offset, length: strtab.size, at: UInt64(nameOff)) else { continue }
                    nameBytes += s.utf8.count
                    if nameBytes > maxNameBytes { return (out, true) }
                    names[key] = s
                    name = s
                }
                guard !name.isEmpty else { continue }
                if out.count == maxSymbols { return (out, true) }
                out.append(Symbol(name: name, address: value, size: size, kind: kind, binding: binding))
            }
        }
        return (out, false)
    }

    /// The NUL-terminated string at `at` inside the string table `[start, start+length)`, cut at
    /// `maxNameLength` bytes; nil if it is not terminated inside the table (and shorter than the
    /// cap). Scans at most `maxNameLength` + 1 bytes.
    private static func cString(_ v: ByteView, start: UInt64, length: UInt64, at: UInt64) -> String? {
        guard at < length else { return nil }
        let from = Int(start + at), to = Int(start + length)  // inside the file: checked by caller
        let scanEnd = min(to, from + maxNameLength + 1)
        guard let nul = v.bytes[from..<scanEnd].firstIndex(of: 0) else {
            // Longer than the cap: keep its first bytes (where it ends is not looked for, so a
            // name costs at most the cap to read).
            guard scanEnd - from > maxNameLength else { return nil }
            return String(decoding: v.bytes[from..<(from + maxNameLength)], as: UTF8.self)
        }
        return String(decoding: v.bytes[from..<nul], as: UTF8.self)
    }
}
