/// Pure decoders of VMX values — the engine of the REPL's offline `decode` command and of the
/// exit/VMCS formatters. Each returns a `VMXDecoded`: a title, the SDM table it follows, and
/// printable (name, value, meaning) lines. No I/O, no machine state: values from a real-hardware
/// log decode the same as values from the emulator.

/// One decoded line: a bit field's name, its value as printed, and what that value means.
public struct VMXDecodedLine: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let value: String
    public let meaning: String
    public init(_ name: String, _ value: String, _ meaning: String) {
        self.name = name; self.value = value; self.meaning = meaning
    }
    public var description: String { meaning.isEmpty ? "\(name) = \(value)" : "\(name) = \(value)  \(meaning)" }
}

/// The result of a decoder.
public struct VMXDecoded: Sendable, CustomStringConvertible {
    public let title: String
    public let ref: SDM.Ref
    public let lines: [VMXDecodedLine]
    /// One-line summary (e.g. "valid, hardware exception, vector 14 (#PF), error code").
    public let summary: String

    /// The line with this field name, if any.
    public func line(_ name: String) -> VMXDecodedLine? { lines.first { $0.name == name } }

    /// Aligned text: a heading, then one line per field.
    public var text: String {
        let w = lines.map(\.name.count).max() ?? 0
        let v = lines.map(\.value.count).max() ?? 0
        var out = "\(title): \(summary)  [\(ref)]"
        for l in lines {
            let name = l.name + String(repeating: " ", count: w - l.name.count)
            let value = l.value + String(repeating: " ", count: v - l.value.count)
            out += "\n  \(name)  \(value)  \(l.meaning)"
        }
        return out
    }
    public var description: String { text }
}

public enum VMXDecode {
    // MARK: Helpers

    static func bits(_ v: UInt64, _ hi: Int, _ lo: Int) -> UInt64 { (v >> UInt64(lo)) & ((1 << UInt64(hi - lo + 1)) - 1) }
    static func bit(_ v: UInt64, _ b: Int) -> Bool { (v >> UInt64(b)) & 1 == 1 }
    static func h(_ v: UInt64) -> String { "0x" + hex(v) }
    static func yesNo(_ b: Bool) -> String { b ? "1" : "0" }

    /// General-purpose registers by their 4-bit number in exit qualifications and instruction
    /// information (Tables 27-3, 27-4, 27-9 … 27-14).
    public static let gprNames = ["RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                  "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"]
    /// Segment registers by their 3-bit number (Tables 27-8 … 27-14).
    public static let segmentNames = ["ES", "CS", "SS", "DS", "FS", "GS"]
    static func segName(_ n: UInt64) -> String { n < 6 ? segmentNames[Int(n)] : "reserved" }

    /// Exception mnemonics by vector (SDM Vol. 3A §6.3.1 "External Interrupts", Table 6-1
    /// "Protected-Mode Exceptions and Interrupts").
    public static func exceptionName(_ vector: UInt8) -> String? {
        let names: [UInt8: String] = [0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM",
                                      8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF",
                                      17: "#AC", 18: "#MC", 19: "#XM", 20: "#VE", 21: "#CP"]
        return names[vector]
    }

    // MARK: Exit reason (§24.9.1)

    static let exitReasonRef = SDM.Ref("24.9.1", "Basic VM-Exit Information")

    /// The exit-reason field: basic reason (bits 15:0), bit 27 enclave mode, bit 28 pending MTF,
    /// bit 29 exit from VMX root operation, bit 31 VM-entry failure (SDM §24.9.1, Table
    /// "Format of Exit Reason").
    public static func exitReason(_ v: UInt32) -> VMXDecoded {
        let x = UInt64(v)
        let basic = UInt16(truncatingIfNeeded: v)
        let r = VMXExitReason(rawValue: basic)
        var lines = [VMXDecodedLine("basic exit reason", "\(basic)",
                                    r.map { "\($0.name): \($0.sdmName)" } ?? "unknown basic exit reason")]
        if bit(x, 27) { lines.append(.init("enclave mode", "1", "VM exit was incident to enclave mode")) }
        if bit(x, 28) { lines.append(.init("pending MTF", "1", "pending MTF VM exit")) }
        if bit(x, 29) { lines.append(.init("from VMX root", "1", "VM exit from VMX root operation (SMM VM exit)")) }
        lines.append(.init("entry failure", yesNo(bit(x, 31)), bit(x, 31) ? "VM-entry failure" : "true VM exit"))
        let undefinedBits = x & 0x47FF_0000      // bit 16 (always 0), bits 26:17 and 30 (not defined)
        if undefinedBits != 0 {
            lines.append(.init("undefined bits", h(undefinedBits), "bits 16, 26:17 and 30 are 0 on VM exits"))
        }
        var summary = r.map { "\($0.rawValue) \($0.name)" } ?? "\(basic) (unknown)"
        if bit(x, 31) { summary += ", VM-entry failure" }
        return VMXDecoded(title: "exit reason \(h(x))", ref: exitReasonRef, lines: lines, summary: summary)
    }

    // MARK: Exit qualification (§27.2.1)

    static let qualRef = SDM.Ref("27.2.1", "Basic VM-Exit Information")

    /// The exit qualification for an exit reason (SDM §27.2.1 and its tables; §26.8 for
    /// VM-entry failures). For exception exits pass the vector (from the VM-exit interruption
    /// information): #DB uses Table 27-1, #PF the faulting linear address.
    public static func exitQualification(_ q: UInt64, reason: VMXExitReason, vector: UInt8? = nil) -> VMXDecoded {
        var lines: [VMXDecodedLine] = []
        var summary = ""
        var ref = qualRef
        func debugExceptionLines() {
            // Table 27-1 "Exit Qualification for Debug Exceptions".
            for b in 0..<4 where bit(q, b) { lines.append(.init("B\(b)", "1", "breakpoint condition \(b) met")) }
            if bit(q, 13) { lines.append(.init("BD", "1", "debug-register access detected")) }
            if bit(q, 14) { lines.append(.init("BS", "1", "single step (or branch, with DEBUGCTL.BTF)")) }
            if bit(q, 16) { lines.append(.init("RTM", "1", "debug exception inside an RTM region")) }
        }
        switch reason {
        case .exceptionOrNMI:
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-1 \"Exit Qualification for Debug Exceptions\")")
            switch vector {
            case 1?:
                debugExceptionLines()
                summary = "#DB: " + (lines.map(\.name).joined(separator: " ").nonEmpty ?? "no condition bits")
            case 14?:
                lines.append(.init("linear address", h(q), "faulting linear address (what CR2 would receive)"))
                summary = "#PF at \(h(q))"
            case nil:
                lines.append(.init("if #PF", h(q), "faulting linear address"))
                debugExceptionLines()
                summary = "#PF address or #DB conditions (pass the vector to choose)"
            default:
                lines.append(.init("qualification", h(q), "not used for this exception"))
                summary = "not used"
            }
        case .crAccess:
            // Table 27-3 "Exit Qualification for Control-Register Accesses".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-3 \"Exit Qualification for Control-Register Accesses\")")
            let cr = bits(q, 3, 0), type = bits(q, 5, 4), reg = bits(q, 11, 8)
            let typeNames = ["MOV to CR", "MOV from CR", "CLTS", "LMSW"]
            lines.append(.init("control register", "\(cr)", "CR\(cr)"))
            lines.append(.init("access type", "\(type)", typeNames[Int(type)]))
            switch type {
            case 0:
                lines.append(.init("register", "\(reg)", gprNames[Int(reg)]))
                summary = "MOV CR\(cr), \(gprNames[Int(reg)])"
            case 1:
                lines.append(.init("register", "\(reg)", gprNames[Int(reg)]))
                summary = "MOV \(gprNames[Int(reg)]), CR\(cr)"
            case 2:
                summary = "CLTS"
            default:
                let mem = bit(q, 6)
                lines.append(.init("LMSW operand type", yesNo(mem), mem ? "memory" : "register"))
                lines.append(.init("LMSW source data", h(bits(q, 31, 16)), "the 16-bit LMSW operand"))
                summary = "LMSW \(h(bits(q, 31, 16))) (\(mem ? "memory" : "register") operand)"
            }
        case .movDR:
            // Table 27-4 "Exit Qualification for MOV DR".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-4 \"Exit Qualification for MOV DR\")")
            let dr = bits(q, 2, 0), from = bit(q, 4), reg = Int(bits(q, 11, 8))
            lines.append(.init("debug register", "\(dr)", "DR\(dr)"))
            lines.append(.init("direction", yesNo(from), from ? "MOV from DR" : "MOV to DR"))
            lines.append(.init("register", "\(reg)", gprNames[reg]))
            summary = from ? "MOV \(gprNames[reg]), DR\(dr)" : "MOV DR\(dr), \(gprNames[reg])"
        case .ioInstruction:
            // Table 27-5 "Exit Qualification for I/O Instructions".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-5 \"Exit Qualification for I/O Instructions\")")
            let size = bits(q, 2, 0), input = bit(q, 3), string = bit(q, 4), rep = bit(q, 5)
            let imm = bit(q, 6), port = bits(q, 31, 16)
            let sizeText: String = switch size { case 0: "1 byte"; case 1: "2 bytes"; case 3: "4 bytes"; default: "reserved" }
            lines.append(.init("size of access", "\(size)", sizeText))
            lines.append(.init("direction", yesNo(input), input ? "IN" : "OUT"))
            lines.append(.init("string instruction", yesNo(string), string ? "INS/OUTS" : "not string"))
            lines.append(.init("REP prefixed", yesNo(rep), rep ? "REP" : "no REP"))
            lines.append(.init("operand encoding", yesNo(imm), imm ? "immediate" : "DX"))
            lines.append(.init("port", h(port), ""))
            let mnemonic = (input ? "IN" : "OUT") + (string ? "S" : "")
            summary = "\(rep ? "REP " : "")\(mnemonic) port \(h(port)), \(sizeText)\(imm ? " (imm8 port)" : " (port in DX)")"
        case .taskSwitch:
            // Table 27-2 "Exit Qualification for Task Switches".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-2 \"Exit Qualification for Task Switches\")")
            let sel = bits(q, 15, 0), src = Int(bits(q, 31, 30))
            let sources = ["CALL instruction", "IRET instruction", "JMP instruction", "task gate in IDT"]
            lines.append(.init("TSS selector", h(sel), "selector of the task switched to"))
            lines.append(.init("source", "\(src)", sources[src]))
            summary = "task switch to \(h(sel)) by \(sources[src])"
        case .invlpg:
            lines.append(.init("linear address", h(q), "INVLPG operand"))
            summary = "INVLPG \(h(q))"
        case .invept, .invvpid, .invpcid, .gdtrIDTRAccess, .ldtrTRAccess, .vmclear, .vmptrld, .vmptrst,
             .vmread, .vmwrite, .vmxon, .xsaves, .xrstors, .loadiwkey:
            let disp = Int64(bitPattern: q)
            lines.append(.init("displacement", h(q), "displacement of the memory operand (0 for a register operand): \(disp)"))
            summary = "displacement \(disp)"
        case .sipi:
            lines.append(.init("SIPI vector", h(bits(q, 7, 0)), "start-up at \(h(bits(q, 7, 0) << 12))"))
            summary = "SIPI vector \(h(bits(q, 7, 0)))"
        case .apicAccess:
            // Table 27-6 "Exit Qualification for APIC-Access VM Exits from Linear Accesses and
            // Guest-Physical Accesses".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-6 \"Exit Qualification for APIC-Access VM Exits\")")
            let type = bits(q, 15, 12)
            let typeText: String = switch type {
            case 0: "linear access for a data read during instruction execution"
            case 1: "linear access for a data write during instruction execution"
            case 2: "linear access for an instruction fetch"
            case 3: "linear access (read or write) during event delivery"
            case 10: "guest-physical access during event delivery"
            case 15: "guest-physical access for an instruction fetch or during instruction execution"
            default: "reserved"
            }
            if type < 3 { lines.append(.init("page offset", h(bits(q, 11, 0)), "offset of the access within the APIC-access page")) }
            lines.append(.init("access type", "\(type)", typeText))
            if bit(q, 16) { lines.append(.init("asynchronous", "1", "access asynchronous to instruction execution")) }
            summary = typeText + (type < 3 ? " at offset \(h(bits(q, 11, 0)))" : "")
        case .eptViolation:
            // Table 27-7 "Exit Qualification for EPT Violations".
            ref = SDM.Ref("27.2.1", "Basic VM-Exit Information (Table 27-7 \"Exit Qualification for EPT Violations\")")
            let names: [(Int, String, String)] = [
                (0, "data read", "the access was a data read"),
                (1, "data write", "the access was a data write"),
                (2, "instruction fetch", "the access was an instruction fetch"),
                (3, "readable", "the guest-physical address was readable (AND of bit 0 of the EPT entries)"),
                (4, "writable", "the guest-physical address was writable (AND of bit 1)"),
                (5, "executable", "executable (AND of bit 2; supervisor-mode with mode-based execute control)"),
                (6, "user executable", "executable for user-mode linear addresses (AND of bit 10; mode-based execute control)"),
                (7, "linear address valid", "the guest-linear address field is valid"),
            ]
            var kinds: [String] = []
            for (b, n, m) in names {
                lines.append(.init(n, yesNo(bit(q, b)), m))
                if b < 3 && bit(q, b) { kinds.append(n) }
            }
            if bit(q, 7) {
                let translated = bit(q, 8)
                lines.append(.init("translated access", yesNo(translated), translated
                    ? "access to the guest-physical address that translates the linear address"
                    : "access to a guest paging-structure entry"))
                if translated {
                    lines.append(.init("user-mode linear", yesNo(bit(q, 9)), "(advanced VM-exit information) user-mode linear address"))
                    lines.append(.init("read/write page", yesNo(bit(q, 10)), "(advanced VM-exit information) the linear address maps a writable page"))
                    lines.append(.init("execute-disable", yesNo(bit(q, 11)), "(advanced VM-exit information) the linear address maps an execute-disable page"))
                }
            }
            lines.append(.init("NMI unblocking", yesNo(bit(q, 12)), "NMI unblocking due to IRET"))
            if bit(q, 13) { lines.append(.init("shadow-stack access", "1", "the access was a shadow-stack access")) }
            if bit(q, 14) { lines.append(.init("supervisor shadow stack", "1", "EPT supervisor-shadow-stack bit of the translation")) }
            let rest = q & ~UInt64(0x7FFF)
            if rest != 0 { lines.append(.init("other bits", h(rest), "not decoded in this SDM edition")) }
            let perms = [(3, "r"), (4, "w"), (5, "x")].map { bit(q, $0.0) ? $0.1 : "-" }.joined()
            summary = "\(kinds.isEmpty ? "no access bits" : kinds.joined(separator: "+")), EPT permissions \(perms)"
                + (bit(q, 7) ? (bit(q, 8) ? ", linear translation" : ", paging-structure access") : ", no linear address")
        case .invalidGuestState:
            ref = SDM.Ref("26.8", "VM-Entry Failures During or After Loading Guest State")
            let meaning: String = switch q {
            case 0: "default: a check on guest state failed (see `why`)"
            case 2: "failure loading the PDPTEs (§26.3.1.6)"
            case 3: "NMI injection while blocking by STI (implementation-specific)"
            case 4: "invalid VMCS link pointer (§26.3.1.5)"
            default: "not used"
            }
            lines.append(.init("qualification", "\(q)", meaning))
            summary = meaning
        case .msrLoading:
            ref = SDM.Ref("26.8", "VM-Entry Failures During or After Loading Guest State")
            lines.append(.init("MSR-load entry", "\(q)", "entry \(q) of the VM-entry MSR-load area failed (1 = first)"))
            summary = "VM-entry MSR-load entry \(q) failed"
        case .pmlFull, .sppEvent:
            lines.append(.init("NMI unblocking", yesNo(bit(q, 12)), "NMI unblocking due to IRET"))
            summary = bit(q, 12) ? "NMI unblocking due to IRET" : "no NMI unblocking"
        default:
            lines.append(.init("qualification", h(q), q == 0 ? "not used for this exit reason" : "not defined for this exit reason"))
            summary = "not used"
        }
        return VMXDecoded(title: "exit qualification \(h(q)) for \(reason.name)", ref: ref, lines: lines, summary: summary)
    }

    // MARK: Interruption information (§24.8.3, §24.9.2, §24.9.3)

    /// Which interruption-information field a value comes from (bit 12 differs).
    public enum InterruptionField: String, Sendable, CaseIterable {
        case entry = "VM-entry interruption information"
        case exit = "VM-exit interruption information"
        case idtVectoring = "IDT-vectoring information"

        var ref: SDM.Ref {
            switch self {
            case .entry: return SDM.Ref("24.8.3", "VM-Entry Controls for Event Injection")
            case .exit: return SDM.Ref("24.9.2", "Information for VM Exits Due to Vectored Events")
            case .idtVectoring: return SDM.Ref("24.9.3", "Information for VM Exits That Occur During Event Delivery")
            }
        }
    }

    /// Interruption types (bits 10:8).
    public static let interruptionTypeNames = ["external interrupt", "reserved", "NMI", "hardware exception",
                                               "software interrupt", "privileged software exception",
                                               "software exception", "other event"]

    /// An interruption-information field: vector (7:0), type (10:8), error code valid (11),
    /// NMI unblocking due to IRET (12, exit information only), valid (31).
    public static func interruptionInfo(_ v: UInt32, field: InterruptionField = .exit) -> VMXDecoded {
        let x = UInt64(v)
        let vector = UInt8(bits(x, 7, 0)), type = Int(bits(x, 10, 8))
        let valid = bit(x, 31), ec = bit(x, 11)
        var vectorMeaning = ""
        if type == 3 || type == 2 || type == 5 || type == 6 { vectorMeaning = exceptionName(vector) ?? "" }
        if type == 7 { vectorMeaning = vector == 0 ? "pending MTF VM exit" : "reserved" }
        var lines = [VMXDecodedLine("valid", yesNo(valid), valid ? "valid" : "not valid (the other bits are ignored)"),
                     VMXDecodedLine("vector", h(UInt64(vector)), vectorMeaning),
                     VMXDecodedLine("type", "\(type)", interruptionTypeNames[type]),
                     VMXDecodedLine("error code valid", yesNo(ec), ec ? (field == .entry ? "deliver error code" : "error code valid") : "")]
        if field == .exit {
            lines.append(.init("NMI unblocking", yesNo(bit(x, 12)), bit(x, 12) ? "NMI unblocking due to IRET" : ""))
        }
        let reservedMask: UInt64 = field == .exit ? 0x7FFF_E000 : 0x7FFF_F000
        if x & reservedMask != 0 { lines.append(.init("reserved bits", h(x & reservedMask), "must be 0")) }
        var parts = [valid ? "valid" : "not valid", interruptionTypeNames[type], "vector \(h(UInt64(vector)))" + (vectorMeaning.isEmpty ? "" : " (\(vectorMeaning))")]
        if ec { parts.append("error code") }
        if field == .exit && bit(x, 12) { parts.append("NMI unblocking") }
        return VMXDecoded(title: "\(field.rawValue) \(h(x))", ref: field.ref, lines: lines, summary: parts.joined(separator: ", "))
    }

    // MARK: Segment access rights (Table 24-2)

    static let arRef = SDM.Ref("24.4.1", "Guest Register State (Table 24-2 \"Format of Access Rights\")")

    /// The name of a descriptor type (SDM Vol. 3A §3.4.5.1 "Code- and Data-Segment Descriptor
    /// Types", Table 3-1; §3.5 "System Descriptor Types", Table 3-2 — IA-32e names after "/").
    public static func segmentTypeName(type: UInt8, s: Bool) -> String {
        let t = type & 0xF
        if s {
            let accessed = t & 1 != 0 ? ", accessed" : ""
            if t & 8 == 0 {
                return "data, " + (t & 2 != 0 ? "read/write" : "read-only") + (t & 4 != 0 ? ", expand-down" : "") + accessed
            }
            return "code, " + (t & 2 != 0 ? "execute/read" : "execute-only") + (t & 4 != 0 ? ", conforming" : "") + accessed
        }
        let sys = ["reserved", "16-bit TSS (available)", "LDT", "16-bit TSS (busy)", "16-bit call gate", "task gate",
                   "16-bit interrupt gate", "16-bit trap gate", "reserved", "32-bit/64-bit TSS (available)", "reserved",
                   "32-bit/64-bit TSS (busy)", "32-bit/64-bit call gate", "reserved", "32-bit/64-bit interrupt gate",
                   "32-bit/64-bit trap gate"]
        return sys[Int(t)]
    }

    /// Guest segment access rights: type (3:0), S (4), DPL (6:5), P (7), AVL (12), L (13),
    /// D/B (14), G (15), unusable (16); bits 11:8 and 31:17 reserved.
    public static func accessRights(_ v: UInt32) -> VMXDecoded {
        let x = UInt64(v)
        let type = UInt8(bits(x, 3, 0)), s = bit(x, 4), dpl = bits(x, 6, 5)
        let unusable = bit(x, 16)
        let typeName = segmentTypeName(type: type, s: s)
        var lines = [VMXDecodedLine("type", h(UInt64(type)), typeName),
                     VMXDecodedLine("S", yesNo(s), s ? "code or data" : "system"),
                     VMXDecodedLine("DPL", "\(dpl)", ""),
                     VMXDecodedLine("P", yesNo(bit(x, 7)), bit(x, 7) ? "present" : "not present"),
                     VMXDecodedLine("AVL", yesNo(bit(x, 12)), ""),
                     VMXDecodedLine("L", yesNo(bit(x, 13)), bit(x, 13) ? "64-bit code (CS only)" : ""),
                     VMXDecodedLine("D/B", yesNo(bit(x, 14)), bit(x, 13) && s && type & 8 != 0 ? (bit(x, 14) ? "must be 0 when L = 1" : "")
                                       : (bit(x, 14) ? "32-bit default operation size / big" : "16-bit default")),
                     VMXDecodedLine("G", yesNo(bit(x, 15)), bit(x, 15) ? "4-KByte limit granularity" : "byte granularity"),
                     VMXDecodedLine("unusable", yesNo(unusable), unusable ? "segment unusable (other bits mostly ignored)" : "usable")]
        let reserved = x & 0xFFFE_0F00
        if reserved != 0 { lines.append(.init("reserved bits", h(reserved), "bits 11:8 and 31:17 must be 0")) }
        var summary: String
        if unusable {
            summary = "unusable"
        } else {
            summary = typeName + ", DPL \(dpl)" + (bit(x, 7) ? ", present" : ", not present")
            if s && type & 8 != 0 {
                summary += bit(x, 13) ? ", 64-bit" : (bit(x, 14) ? ", 32-bit" : ", 16-bit")
            } else if s {
                summary += bit(x, 14) ? ", big" : ""
            }
            if bit(x, 15) { summary += ", 4K granular" }
        }
        return VMXDecoded(title: "access rights \(h(x))", ref: arRef, lines: lines, summary: summary)
    }

    // MARK: VM-instruction error (§30.4)

    public static func instructionError(_ v: UInt32) -> VMXDecoded {
        let e = VMInstructionError(rawValue: v)
        let text = e?.sdmText ?? (v == 0 ? "no error recorded" : "unknown VM-instruction error number")
        return VMXDecoded(title: "VM-instruction error \(v)", ref: SDM.Ref("30.4", "VM Instruction Error Numbers (Table 30-1)"),
                          lines: [VMXDecodedLine("error number", "\(v)", text)], summary: text)
    }

    // MARK: Field encoding (§24.11.2, Appendix B)

    /// A VMCS component encoding: access type (0), index (9:1), type (11:10), width (14:13);
    /// bits 12 and 31:15 reserved; then the field it names, if any, and whether it exists on
    /// the modeled CPU.
    public static func fieldEncoding(_ v: UInt32) -> VMXDecoded {
        let x = UInt64(v)
        let high = bit(x, 0), width = VMCSWidth(rawValue: Int(bits(x, 14, 13)))!, kind = VMCSKind(rawValue: Int(bits(x, 11, 10)))!
        var lines = [VMXDecodedLine("access type", yesNo(high), high ? "high (bits 63:32 of a 64-bit field)" : "full"),
                     VMXDecodedLine("index", "\(bits(x, 9, 1))", ""),
                     VMXDecodedLine("type", "\(kind.rawValue)", kind.name),
                     VMXDecodedLine("width", "\(width.rawValue)", width.name)]
        if x & 0xFFFF_9000 != 0 { lines.append(.init("reserved bits", h(x & 0xFFFF_9000), "bits 12 and 31:15 must be 0")) }
        let summary: String
        if let r = VMCSFields.byEncoding(v) {
            let f = r.field, hi = r.high
            let exists = VMCSFields.exists(f)
            lines.append(.init("field", f.name + (hi ? " (high)" : ""), f.sdmName))
            lines.append(.init("group", f.group.name, f.group.title))
            lines.append(.init("exists", yesNo(exists), exists ? "on the modeled CPU"
                               : "not on the modeled CPU (needs \(f.existsIf!.rawValue)): VMREAD/VMWRITE fail with error 12"))
            summary = "\(f.name)\(hi ? " (high)" : ""), \(width.name) \(kind.name)" + (exists ? "" : ", does not exist here")
        } else {
            lines.append(.init("field", "none", "no VMCS field has this encoding: VMREAD/VMWRITE fail with error 12"))
            summary = "unsupported VMCS component (\(width.name) \(kind.name), index \(bits(x, 9, 1)))"
        }
        return VMXDecoded(title: "field encoding \(h(x))",
                          ref: SDM.Ref("24.11.2", "VMREAD, VMWRITE, and Encodings of VMCS Fields"), lines: lines, summary: summary)
    }

    // MARK: Control words (§24.6–§24.8, Appendix A)

    /// A control word by a short name: `pin`, `proc` (`proc1`, `primary`), `proc2` (`secondary`),
    /// `exit`, `entry`, or its VMCS field name (`PIN_BASED_VM_EXEC_CONTROL`, …).
    public static func controlWord(named text: String) -> VMXControlWord? {
        let t = vmxTrim(text).lowercased()
        switch t {
        case "pin", "pinbased", "pin-based": return VMXModel.pinBased
        case "proc", "proc1", "primary", "cpu": return VMXModel.procBased
        case "proc2", "secondary", "cpu2": return VMXModel.procBased2
        case "exit": return VMXModel.exitControls
        case "entry": return VMXModel.entryControls
        default:
            guard let f = VMCSFields.lookup(t) else { return nil }
            return VMXModel.controlWords.first { $0.field == f.id }
        }
    }

    /// A control word's value bit by bit: every set bit by name, and the bits that break the
    /// word's rules — a default1 bit that is 0 (allowed only when the TRUE_ capability MSR says
    /// so), a reserved bit that is 1, a named bit the modeled CPU does not support. With `all`,
    /// every named bit is listed, set or not.
    public static func control(_ word: VMXControlWord, _ v: UInt32, all: Bool = false) -> VMXDecoded {
        var lines: [VMXDecodedLine] = []
        var setNames: [String] = []
        var problems = 0
        let allowed1 = word.default1 | word.supported
        for b in 0..<32 {
            let m: UInt32 = 1 << UInt32(b)
            let isSet = v & m != 0
            let name = word.bitName(b)
            let d1 = word.default1 & m != 0
            var notes: [String] = []
            if d1 && name != nil { notes.append("default1") }
            if isSet, let n = name { setNames.append(n) }
            if isSet && name == nil && !d1 { notes.append("must be 0"); problems += 1 }
            if !isSet && d1 {
                if word.trueMayBeZero & m != 0 { notes.append("0 allowed by the TRUE_ capability MSR") } else {
                    notes.append("must be 1"); problems += 1
                }
            }
            if isSet && name != nil && allowed1 & m == 0 { notes.append("not supported by the modeled CPU"); problems += 1 }
            let show = isSet || (d1 && !isSet) || (all && name != nil)
            guard show else { continue }
            lines.append(.init("bit \(b)", yesNo(isSet), ([name ?? (d1 ? "reserved (default1)" : "reserved")] + notes).joined(separator: "; ")))
        }
        var summary = setNames.isEmpty ? "no named control set" : setNames.joined(separator: ", ")
        if problems > 0 { summary += " — \(problems) bit\(problems == 1 ? "" : "s") break\(problems == 1 ? "s" : "") the rules" }
        return VMXDecoded(title: "\(word.name) \(h(UInt64(v)))", ref: word.ref, lines: lines, summary: summary)
    }

    // MARK: VM-exit instruction information (§27.2.5, Tables 27-8 … 27-14)

    /// The VM-exit instruction-information field, laid out by the instruction that exited.
    /// Nil for exit reasons that do not use the field.
    public static func instructionInfo(_ v: UInt32, reason: VMXExitReason) -> VMXDecoded? {
        let x = UInt64(v)
        var lines: [VMXDecodedLine] = []
        let table: String
        let scaling = bits(x, 1, 0), addrSize = bits(x, 9, 7), seg = bits(x, 17, 15)
        let index = Int(bits(x, 21, 18)), indexInvalid = bit(x, 22), base = Int(bits(x, 26, 23)), baseInvalid = bit(x, 27)
        let addrSizeName: String = switch addrSize { case 0: "16-bit"; case 1: "32-bit"; case 2: "64-bit"; default: "reserved" }
        var summaryPrefix = ""

        func memoryLines() {
            lines.append(.init("scaling", "\(scaling)", "×\(1 << scaling)"))
            lines.append(.init("address size", "\(addrSize)", addrSizeName))
            lines.append(.init("segment", "\(seg)", segName(seg)))
            lines.append(.init("index register", indexInvalid ? "invalid" : "\(index)", indexInvalid ? "no index" : gprNames[index]))
            lines.append(.init("base register", baseInvalid ? "invalid" : "\(base)", baseInvalid ? "no base" : gprNames[base]))
        }
        func memoryOperandText() -> String {
            var parts: [String] = []
            if !baseInvalid { parts.append(gprNames[base]) }
            if !indexInvalid { parts.append(gprNames[index] + (scaling > 0 ? "*\(1 << scaling)" : "")) }
            return "\(segName(seg)):[" + (parts.isEmpty ? "disp" : parts.joined(separator: "+") + "+disp") + "] (\(addrSizeName) address)"
        }

        switch reason {
        case .ioInstruction:
            table = "Table 27-8 \"Format of the VM-Exit Instruction-Information Field as Used for INS and OUTS\""
            lines.append(.init("address size", "\(addrSize)", addrSizeName))
            lines.append(.init("segment", "\(seg)", segName(seg) + " (OUTS only; INS always uses ES)"))
            summaryPrefix = "INS/OUTS: \(addrSizeName) address, segment \(segName(seg))"
        case .invept, .invpcid, .invvpid:
            table = "Table 27-9 \"Format of the VM-Exit Instruction-Information Field as Used for INVEPT, INVPCID, and INVVPID\""
            memoryLines()
            let reg2 = Int(bits(x, 31, 28))
            lines.append(.init("reg2", "\(reg2)", "\(gprNames[reg2]) (the type operand)"))
            summaryPrefix = "\(reason.name) \(gprNames[reg2]), \(memoryOperandText())"
        case .gdtrIDTRAccess:
            table = "Table 27-10 \"Format of the VM-Exit Instruction-Information Field as Used for LIDT, LGDT, SIDT, or SGDT\""
            memoryLines()
            lines.append(.init("operand size", yesNo(bit(x, 11)), bit(x, 11) ? "32-bit" : "16-bit"))
            let id = Int(bits(x, 29, 28)), names = ["SGDT", "SIDT", "LGDT", "LIDT"]
            lines.append(.init("instruction", "\(id)", names[id]))
            summaryPrefix = "\(names[id]) \(memoryOperandText())"
        case .ldtrTRAccess, .vmread, .vmwrite:
            let isDesc = reason == .ldtrTRAccess
            table = isDesc ? "Table 27-11 \"Format of the VM-Exit Instruction-Information Field as Used for LLDT, LTR, SLDT, and STR\""
                           : "Table 27-14 \"Format of the VM-Exit Instruction-Information Field as Used for VMREAD and VMWRITE\""
            let reg1 = Int(bits(x, 6, 3)), isReg = bit(x, 10)
            lines.append(.init("mem/reg", yesNo(isReg), isReg ? "register operand" : "memory operand"))
            if isReg {
                lines.append(.init("reg1", "\(reg1)", gprNames[reg1]))
            } else {
                memoryLines()
            }
            let op1 = isReg ? gprNames[reg1] : memoryOperandText()
            if isDesc {
                let id = Int(bits(x, 29, 28)), names = ["SLDT", "STR", "LLDT", "LTR"]
                lines.append(.init("instruction", "\(id)", names[id]))
                summaryPrefix = "\(names[id]) \(op1)"
            } else {
                let reg2 = Int(bits(x, 31, 28))
                lines.append(.init("reg2", "\(reg2)", "\(gprNames[reg2]) (the field encoding)"))
                // VMREAD r/m64, r64 (reg2 = encoding); VMWRITE r64, r/m64 (reg2 = encoding).
                summaryPrefix = reason == .vmread ? "VMREAD \(op1), \(gprNames[reg2])" : "VMWRITE \(gprNames[reg2]), \(op1)"
            }
        case .rdrand, .rdseed, .tpause, .umwait:
            table = "Table 27-12 \"Format of the VM-Exit Instruction-Information Field as Used for RDRAND, RDSEED, TPAUSE, and UMWAIT\""
            let reg = Int(bits(x, 6, 3)), size = bits(x, 12, 11)
            let sizeName: String = switch size { case 0: "16-bit"; case 1: "32-bit"; case 2: "64-bit"; default: "reserved" }
            lines.append(.init("operand register", "\(reg)", gprNames[reg]))
            lines.append(.init("operand size", "\(size)", sizeName))
            summaryPrefix = "\(reason.name) \(gprNames[reg]) (\(sizeName))"
        case .vmclear, .vmptrld, .vmptrst, .vmxon, .xrstors, .xsaves:
            table = "Table 27-13 \"Format of the VM-Exit Instruction-Information Field as Used for VMCLEAR, VMPTRLD, VMPTRST, VMXON, XRSTORS, and XSAVES\""
            memoryLines()
            summaryPrefix = "\(reason.name) \(memoryOperandText())"
        default:
            return nil
        }
        return VMXDecoded(title: "VM-exit instruction information \(h(x)) for \(reason.name)",
                          ref: SDM.Ref("27.2.5", "Information for VM Exits Due to Instruction Execution (\(table))"),
                          lines: lines, summary: summaryPrefix)
    }

    // MARK: Dispatch for `decode WHAT VALUE`

    /// The kinds `decode` understands, for help and completion.
    public static let kinds = ["exit-reason", "qual", "intinfo", "idtinfo", "entryinfo", "ar", "vmerr", "field", "ctl", "insinfo"]

    /// `decode WHAT VALUE [REASON|WORD]`: nil when WHAT is unknown or the extra argument it
    /// needs is missing or wrong (`qual` and `insinfo` need an exit reason, `ctl` a control word).
    public static func decode(_ what: String, _ value: UInt64, extra: String? = nil) -> VMXDecoded? {
        let v32 = UInt32(truncatingIfNeeded: value)
        switch what.lowercased() {
        case "exit-reason", "reason": return exitReason(v32)
        case "qual", "qualification":
            guard let e = extra, let r = VMXExitReason.lookup(e) else { return nil }
            return exitQualification(value, reason: r)
        case "intinfo", "exitinfo": return interruptionInfo(v32, field: .exit)
        case "idtinfo": return interruptionInfo(v32, field: .idtVectoring)
        case "entryinfo": return interruptionInfo(v32, field: .entry)
        case "ar", "access-rights": return accessRights(v32)
        case "vmerr", "error": return instructionError(v32)
        case "field", "encoding": return fieldEncoding(v32)
        case "ctl", "control":
            guard let e = extra, let w = controlWord(named: e) else { return nil }
            return control(w, v32)
        case "insinfo", "instruction-info":
            guard let e = extra, let r = VMXExitReason.lookup(e) else { return nil }
            return instructionInfo(v32, reason: r)
        default: return nil
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
