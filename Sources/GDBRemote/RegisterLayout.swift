// The x86-64 register layout: ONE table from which the `g`/`G`/`p`/`P` encodings and target.xml
// are all derived.
//
//   regnum  feature                     registers
//   0–15    org.gnu.gdb.i386.core       rax rbx rcx rdx rsi rdi rbp rsp r8 … r15
//   16–23                               rip eflags cs ss ds es fs gs
//   24–39                               st0 … st7, fctrl fstat ftag fiseg fioff foseg fooff fop
//   40–56   org.gnu.gdb.i386.sse        xmm0 … xmm15, mxcsr
//   57–58   org.gnu.gdb.i386.segments   fs_base gs_base
//   59–75   org.vmxemu.system           cr0 cr2 cr3 cr4 cr8 efer k_gs_base gdtr/idtr dr0–3 dr6 dr7
//   76–82   org.vmxemu.vmx (read-only)  vmx_mode vmxon_ptr vmcs_ptr exit_reason exit_qual …
//
// The standard features use gdb's own register names and types (gdb checks the names to
// recognise the architecture). The same layout is sent in every CPU mode: gdb reads it once at
// connect and cannot follow a stub that changes it.
//
// `g` encoding: every register in regnum order, `bitsize/8` bytes little-endian, two hex digits a
// byte; an unavailable register is `xx` per byte (gdb shows `<unavailable>`).

/// One register of the layout.
public struct GDBRegister: Sendable, Equatable {
    public var name: String
    public var bitSize: Int
    /// A gdb predefined type (`int64`, `code_ptr`, `i387_ext`, …) or a type id defined by the feature.
    public var type: String
    public var feature: String
    public var regnum: Int
    public var group: String?
    /// Writes through `G`/`P` are refused (the VMX status registers).
    public var readOnly: Bool

    public var byteSize: Int { bitSize / 8 }
}

/// A flags type: gdb prints the set bits by name (`[ PE ET NE PG ]`).
public struct GDBFlagsType: Sendable {
    public var id: String
    public var size: Int
    public var fields: [(name: String, bit: Int)]
}

/// A feature: its name, the types it defines (as XML), and its registers.
public struct GDBFeature: Sendable {
    public var name: String
    public var flags: [GDBFlagsType]
    /// Extra type definitions (vectors/unions), as XML lines.
    public var extraTypes: [String]
}

public struct GDBRegisterLayout: Sendable {
    public let architecture: String
    public let features: [GDBFeature]
    public let registers: [GDBRegister]
    /// Byte offset of each register in the flat register file.
    public let offsets: [Int]
    public let totalBytes: Int
    private let byName: [String: Int]

    init(architecture: String, features: [GDBFeature], registers: [(feature: String, regs: [(String, Int, String, String?, Bool)])]) {
        self.architecture = architecture
        self.features = features
        var regs: [GDBRegister] = []
        for group in registers {
            for (name, bits, type, grp, ro) in group.regs {
                regs.append(GDBRegister(name: name, bitSize: bits, type: type, feature: group.feature,
                                        regnum: regs.count, group: grp, readOnly: ro))
            }
        }
        self.registers = regs
        var offs: [Int] = []
        var total = 0
        for r in regs {
            offs.append(total)
            total += r.byteSize
        }
        offsets = offs
        totalBytes = total
        var names: [String: Int] = [:]
        for r in regs { names[r.name] = r.regnum }
        byName = names
    }

    public var count: Int { registers.count }

    public func regnum(_ name: String) -> Int? { byName[name] }

    public func register(named name: String) -> GDBRegister? { byName[name].map { registers[$0] } }

    /// The length of a `g` reply in characters.
    public var gPacketLength: Int { totalBytes * 2 }
}

extension GDBRegisterLayout {
    /// The vmxemu x86-64 layout.
    public static let x86_64: GDBRegisterLayout = {
        let core = "org.gnu.gdb.i386.core"
        let sse = "org.gnu.gdb.i386.sse"
        let segments = "org.gnu.gdb.i386.segments"
        let system = "org.vmxemu.system"
        let vmx = "org.vmxemu.vmx"

        var coreRegs: [(String, Int, String, String?, Bool)] = []
        for n in ["rax", "rbx", "rcx", "rdx", "rsi", "rdi"] { coreRegs.append((n, 64, "int64", nil, false)) }
        coreRegs.append(("rbp", 64, "data_ptr", nil, false))
        coreRegs.append(("rsp", 64, "data_ptr", nil, false))
        for i in 8...15 { coreRegs.append(("r\(i)", 64, "int64", nil, false)) }
        coreRegs.append(("rip", 64, "code_ptr", nil, false))
        coreRegs.append(("eflags", 32, "i386_eflags", nil, false))
        for n in ["cs", "ss", "ds", "es", "fs", "gs"] { coreRegs.append((n, 32, "int32", nil, false)) }
        for i in 0...7 { coreRegs.append(("st\(i)", 80, "i387_ext", nil, false)) }
        for n in ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] {
            coreRegs.append((n, 32, "int", "float", false))
        }

        var sseRegs: [(String, Int, String, String?, Bool)] = (0...15).map { ("xmm\($0)", 128, "vec128", nil, false) }
        sseRegs.append(("mxcsr", 32, "i386_mxcsr", "vector", false))

        let segRegs: [(String, Int, String, String?, Bool)] = [
            ("fs_base", 64, "int", nil, false), ("gs_base", 64, "int", nil, false),
        ]

        let sysRegs: [(String, Int, String, String?, Bool)] = [
            ("cr0", 64, "vmxemu_cr0", "system", false),
            ("cr2", 64, "data_ptr", "system", false),
            ("cr3", 64, "int64", "system", false),
            ("cr4", 64, "vmxemu_cr4", "system", false),
            ("cr8", 64, "int64", "system", false),
            ("efer", 64, "vmxemu_efer", "system", false),
            ("k_gs_base", 64, "int64", "system", false),
            ("gdtr_base", 64, "data_ptr", "system", false),
            ("gdtr_limit", 32, "int32", "system", false),
            ("idtr_base", 64, "data_ptr", "system", false),
            ("idtr_limit", 32, "int32", "system", false),
            ("dr0", 64, "int64", "system", false),
            ("dr1", 64, "int64", "system", false),
            ("dr2", 64, "int64", "system", false),
            ("dr3", 64, "int64", "system", false),
            ("dr6", 64, "int64", "system", false),
            ("dr7", 64, "int64", "system", false),
        ]

        // vmx_mode: 0 = outside VMX operation, 1 = VMX root, 2 = VMX non-root.
        let vmxRegs: [(String, Int, String, String?, Bool)] = [
            ("vmx_mode", 32, "uint32", "vmx", true),
            ("vmxon_ptr", 64, "int64", "vmx", true),
            ("vmcs_ptr", 64, "int64", "vmx", true),
            ("exit_reason", 32, "uint32", "vmx", true),
            ("exit_qual", 64, "int64", "vmx", true),
            ("guest_phys_addr", 64, "int64", "vmx", true),
            ("vm_instr_error", 32, "uint32", "vmx", true),
        ]

        let eflags = GDBFlagsType(id: "i386_eflags", size: 4, fields: [
            ("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9),
            ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19),
            ("VIP", 20), ("ID", 21),
        ])
        let mxcsr = GDBFlagsType(id: "i386_mxcsr", size: 4, fields: [
            ("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6), ("IM", 7),
            ("DM", 8), ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12), ("FZ", 15),
        ])
        // SDM Vol. 3A §2.5 "Control Registers" and §2.2.1 "Extended Feature Enable Register".
        let cr0 = GDBFlagsType(id: "vmxemu_cr0", size: 8, fields: [
            ("PE", 0), ("MP", 1), ("EM", 2), ("TS", 3), ("ET", 4), ("NE", 5), ("WP", 16), ("AM", 18),
            ("NW", 29), ("CD", 30), ("PG", 31),
        ])
        let cr4 = GDBFlagsType(id: "vmxemu_cr4", size: 8, fields: [
            ("VME", 0), ("PVI", 1), ("TSD", 2), ("DE", 3), ("PSE", 4), ("PAE", 5), ("MCE", 6),
            ("PGE", 7), ("PCE", 8), ("OSFXSR", 9), ("OSXMMEXCPT", 10), ("UMIP", 11), ("LA57", 12),
            ("VMXE", 13), ("SMXE", 14), ("FSGSBASE", 16), ("PCIDE", 17), ("OSXSAVE", 18),
            ("SMEP", 20), ("SMAP", 21), ("PKE", 22), ("CET", 23), ("PKS", 24),
        ])
        let efer = GDBFlagsType(id: "vmxemu_efer", size: 8, fields: [
            ("SCE", 0), ("LME", 8), ("LMA", 10), ("NXE", 11),
        ])

        // The 128-bit vector views gdb expects for xmm registers (the same union as gdb's own).
        let vectorTypes = [
            #"<vector id="v8bf16" type="bfloat16" count="8"/>"#,
            #"<vector id="v8h" type="ieee_half" count="8"/>"#,
            #"<vector id="v4f" type="ieee_single" count="4"/>"#,
            #"<vector id="v2d" type="ieee_double" count="2"/>"#,
            #"<vector id="v16i8" type="int8" count="16"/>"#,
            #"<vector id="v8i16" type="int16" count="8"/>"#,
            #"<vector id="v4i32" type="int32" count="4"/>"#,
            #"<vector id="v2i64" type="int64" count="2"/>"#,
            #"<union id="vec128">"#,
            #"  <field name="v8_bfloat16" type="v8bf16"/>"#,
            #"  <field name="v8_half" type="v8h"/>"#,
            #"  <field name="v4_float" type="v4f"/>"#,
            #"  <field name="v2_double" type="v2d"/>"#,
            #"  <field name="v16_int8" type="v16i8"/>"#,
            #"  <field name="v8_int16" type="v8i16"/>"#,
            #"  <field name="v4_int32" type="v4i32"/>"#,
            #"  <field name="v2_int64" type="v2i64"/>"#,
            #"  <field name="uint128" type="uint128"/>"#,
            #"</union>"#,
        ]

        return GDBRegisterLayout(
            architecture: "i386:x86-64",
            features: [
                GDBFeature(name: core, flags: [eflags], extraTypes: []),
                GDBFeature(name: sse, flags: [mxcsr], extraTypes: vectorTypes),
                GDBFeature(name: segments, flags: [], extraTypes: []),
                GDBFeature(name: system, flags: [cr0, cr4, efer], extraTypes: []),
                GDBFeature(name: vmx, flags: [], extraTypes: []),
            ],
            registers: [
                (core, coreRegs), (sse, sseRegs), (segments, segRegs), (system, sysRegs), (vmx, vmxRegs),
            ])
    }()
}

// MARK: - target.xml

extension GDBRegisterLayout {
    /// The target description gdb fetches with `qXfer:features:read:target.xml`: every feature
    /// inline, every register with an explicit `regnum`.
    public var targetXML: String {
        var x = #"<?xml version="1.0"?>"# + "\n"
        x += #"<!DOCTYPE target SYSTEM "gdb-target.dtd">"# + "\n"
        x += "<target version=\"1.0\">\n"
        x += "  <architecture>\(architecture)</architecture>\n"
        x += "  <osabi>none</osabi>\n"
        for f in features {
            x += "  <feature name=\"\(f.name)\">\n"
            for t in f.extraTypes { x += "    \(t)\n" }
            for fl in f.flags {
                x += "    <flags id=\"\(fl.id)\" size=\"\(fl.size)\">\n"
                for field in fl.fields {
                    x += "      <field name=\"\(field.name)\" start=\"\(field.bit)\" end=\"\(field.bit)\"/>\n"
                }
                x += "    </flags>\n"
            }
            for r in registers where r.feature == f.name {
                x += "    <reg name=\"\(r.name)\" bitsize=\"\(r.bitSize)\" type=\"\(r.type)\" regnum=\"\(r.regnum)\""
                if let g = r.group { x += " group=\"\(g)\"" }
                if r.readOnly { x += " save-restore=\"no\"" }
                x += "/>\n"
            }
            x += "  </feature>\n"
        }
        x += "</target>\n"
        return x
    }
}

// MARK: - Register values and the g/G encoding

/// The values of every register of a layout for one thread; any register may be unavailable.
public struct GDBRegisterFile: Sendable, Equatable {
    public let layout: GDBRegisterLayout
    /// Flat little-endian storage, `layout.totalBytes` long.
    public private(set) var bytes: [UInt8]
    public private(set) var available: [Bool]

    /// A file with every register unavailable.
    public init(layout: GDBRegisterLayout = .x86_64) {
        self.layout = layout
        bytes = [UInt8](repeating: 0, count: layout.totalBytes)
        available = [Bool](repeating: false, count: layout.count)
    }

    public static func == (a: GDBRegisterFile, b: GDBRegisterFile) -> Bool {
        a.layout.count == b.layout.count && a.available == b.available
            && zip(0..<a.layout.count, a.available).allSatisfy { n, avail in !avail || a[n] == b[n] }
    }

    /// The little-endian bytes of register `regnum`, or nil when unavailable / out of range.
    public subscript(regnum: Int) -> [UInt8]? {
        get {
            guard regnum >= 0, regnum < layout.count, available[regnum] else { return nil }
            let o = layout.offsets[regnum]
            return Array(bytes[o..<o + layout.registers[regnum].byteSize])
        }
        set {
            guard regnum >= 0, regnum < layout.count else { return }
            let size = layout.registers[regnum].byteSize
            guard let v = newValue else {
                available[regnum] = false
                return
            }
            let o = layout.offsets[regnum]
            for i in 0..<size { bytes[o + i] = i < v.count ? v[i] : 0 }
            available[regnum] = true
        }
    }

    /// The register as an integer (its low 8 bytes), or nil when unavailable or unknown.
    public func value(_ name: String) -> UInt64? {
        guard let n = layout.regnum(name), let b = self[n] else { return nil }
        return Hex.uint64(littleEndian: b)
    }

    /// Sets a register (≤ 64 bits of value, zero-extended) by name; unknown names are ignored
    /// and reported by the return value.
    @discardableResult
    public mutating func set(_ name: String, _ value: UInt64) -> Bool {
        guard let n = layout.regnum(name) else { return false }
        self[n] = Hex.littleEndian(value, count: layout.registers[n].byteSize)
        return true
    }

    public mutating func markUnavailable(_ name: String) {
        if let n = layout.regnum(name) { self[n] = nil }
    }

    /// Hex text of one register: its bytes, or `xx` per byte when unavailable.
    public func hex(_ regnum: Int) -> String {
        guard regnum >= 0, regnum < layout.count else { return "" }
        if let b = self[regnum] { return Hex.encode(b) }
        return String(repeating: "x", count: layout.registers[regnum].byteSize * 2)
    }

    /// The `g` reply.
    public var gPacket: String {
        var out = ""
        out.reserveCapacity(layout.gPacketLength)
        for n in 0..<layout.count { out += hex(n) }
        return out
    }

    /// Decodes a `G` payload (the full layout; `xx` bytes leave that register unavailable).
    /// Returns nil for a wrong length or bad hex.
    public static func decode(gPacket hex: [UInt8], layout: GDBRegisterLayout = .x86_64) -> GDBRegisterFile? {
        guard hex.count == layout.gPacketLength else { return nil }
        var file = GDBRegisterFile(layout: layout)
        for r in layout.registers {
            let start = layout.offsets[r.regnum] * 2
            guard let v = decodeRegister(hex[start..<start + r.byteSize * 2]) else { return nil }
            file[r.regnum] = v.available ? v.bytes : nil
        }
        return file
    }

    /// Decodes one register's hex (`p`/`P` value): bytes, or unavailable for all-`x`.
    static func decodeRegister(_ hex: ArraySlice<UInt8>) -> (available: Bool, bytes: [UInt8])? {
        if !hex.isEmpty, hex.allSatisfy({ $0 == UInt8(ascii: "x") }) { return (false, []) }
        guard let b = Hex.decode(hex) else { return nil }
        return (true, b)
    }
}
