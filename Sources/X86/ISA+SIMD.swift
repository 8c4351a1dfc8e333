/// The SSE/MMX instruction forms of the 0F, 0F 38 and 0F 3A maps (see ISA.swift): one row per
/// (map, opcode, mandatory prefix) — the SDM's opcode maps (Vol. 2D Appendix A "Opcode Map",
/// Tables, one column per mandatory prefix) with each form's ModRM constraint,
/// immediate, CPUID feature, executing unit, operand kinds and mnemonic.
///
/// Everything else is derived from these rows at startup: the decoder's flat per-opcode tables
/// (`SIMDTable.map0F`, `map0F38`, `map0F3A`: a form whose feature the modeled CPU does not
/// report decodes to #UD with the instruction's length — each instruction page's "#UD If
/// CPUID.… = 0"), which executor runs a form (`Insn.simdUnit`: SSE, MMX or a general-purpose
/// form), and the debugger's mnemonic and operand text (`SIMDTable.form(_:)`).
/// The MnemonicOracleTests check every row's mnemonic against Zydis; DecoderOracleTests every
/// row's length and validity.

/// What ModRM.reg and ModRM.r/m of a SIMD form name (for the executors and `disas`).
public enum SIMDOperand: UInt8, Sendable {
    case none
    case xmm, mm
    /// A general-purpose register of 32 bits, 64 with REX.W.
    case gpr
    /// Always a 32-bit general-purpose register (MOVMSKPS, PMOVMSKB, PEXTRW, PINSRW …).
    case gpr32
    /// A byte register (CRC32 Gy, Eb).
    case gpr8
    /// A register of the operand size (CRC32 Gy, Ev).
    case gprOsz
}

/// Which executor runs a SIMD form.
public enum SIMDUnit: UInt8, Sendable {
    /// `executeSSE`: the SSE state checks (CR0.EM, CR4.OSFXSR, CR0.TS), XMM registers.
    case sse = 0
    /// `executeMMX`: an MMX register operand (or EMMS) — the x87 state checks and transition.
    case mmx = 1
    /// General-purpose forms in the SIMD maps (CRC32, MOVNTI): no SSE state checks.
    case gpr = 2
}

/// One instruction form of the SIMD maps.
public struct SIMDForm: Sendable {
    /// Which operand ModRM allows.
    public enum ModRM: UInt8, Sendable { case none, any, memory, register }

    /// 1 = 0F, 2 = 0F 38, 3 = 0F 3A.
    public let map: UInt8
    public let opcode: UInt8
    /// The mandatory prefix: 0 none, 1 66, 2 F3, 3 F2.
    public let column: UInt8
    public let modrm: ModRM
    /// An imm8 follows the ModRM operand.
    public let imm8: Bool
    public let feature: CPUFeature
    public let unit: SIMDUnit
    public let mnemonic: String
    /// The mnemonic with REX.W (MOVQ for MOVD, PEXTRQ, PINSRQ), and for a register operand
    /// (MOVHLPS for MOVLPS, MOVLHPS for MOVHPS); nil: the same.
    public let wideMnemonic: String?, registerMnemonic: String?
    public let reg: SIMDOperand, rm: SIMDOperand
    /// The r/m operand is the destination (stores): `disas` writes it first.
    public let rmFirst: Bool
    /// Size code of a memory operand `disas` names (0 byte … 3 qword, 4 the operand size);
    /// nil: not named.
    public let memorySize: UInt8?

    /// The key the executors dispatch on: column << 16 | map << 8 | opcode (`Insn.simdKey`).
    public var key: Int { Int(column) << 16 | Int(map) << 8 | Int(opcode) }
}

/// The groups of the SIMD maps selected by ModRM.reg: 0F 71–73 (Groups 12–14, SDM Vol. 2D
/// Table A-6 "Opcode Extensions for One- and Two-byte Opcodes by Group Number"): shifts of
/// an MMX (no prefix) or XMM (66) register by imm8.
public struct SIMDGroupMember: Sendable {
    public let opcode: UInt8
    public let column: UInt8
    public let modrmReg: UInt8
    public let mnemonic: String
}

public enum SIMDTable {
    // MARK: The rows

    /// One column of an opcode row, as written in `rows`.
    struct Col {
        var modrm: SIMDForm.ModRM
        var name: String
        var reg: SIMDOperand = .xmm, rm: SIMDOperand = .xmm
        var rmFirst = false
        var feature: CPUFeature? = nil
        var wide: String? = nil, register: String? = nil
        var memorySize: UInt8? = nil
        var unit: SIMDUnit? = nil
    }
    /// ModRM any / memory only / register only / none.
    static func a(_ n: String, _ reg: SIMDOperand = .xmm, _ rm: SIMDOperand = .xmm, store: Bool = false, f: CPUFeature? = nil,
                  wide: String? = nil, register: String? = nil, size: UInt8? = nil) -> Col {
        Col(modrm: .any, name: n, reg: reg, rm: rm, rmFirst: store, feature: f, wide: wide, register: register, memorySize: size)
    }
    static func m(_ n: String, _ reg: SIMDOperand = .xmm, _ rm: SIMDOperand = .xmm, store: Bool = false, f: CPUFeature? = nil) -> Col {
        Col(modrm: .memory, name: n, reg: reg, rm: rm, rmFirst: store, feature: f)
    }
    static func r(_ n: String, _ reg: SIMDOperand = .xmm, _ rm: SIMDOperand = .xmm, f: CPUFeature? = nil) -> Col {
        Col(modrm: .register, name: n, reg: reg, rm: rm, feature: f)
    }
    static let blank: Col? = nil

    /// All forms. `op(map, opcodes, feature, imm8, none, 66, F3, F2)`: a column's own feature
    /// overrides the row's.
    public static let forms: [SIMDForm] = {
        var t: [SIMDForm] = []
        func op(_ map: UInt8, _ opcodes: ClosedRange<UInt8>, _ feature: CPUFeature, imm8: Bool = false, _ cols: Col?...) {
            for opc in opcodes {
                for (k, c) in cols.enumerated() {
                    guard let c else { continue }
                    let f = c.feature ?? feature
                    let unit: SIMDUnit = c.unit ?? (c.reg == .mm || c.rm == .mm ? .mmx : .sse)
                    t.append(SIMDForm(map: map, opcode: opc, column: UInt8(k), modrm: c.modrm, imm8: imm8, feature: f, unit: unit,
                                      mnemonic: c.name, wideMnemonic: c.wide, registerMnemonic: c.register,
                                      reg: c.reg, rm: c.rm, rmFirst: c.rmFirst, memorySize: c.memorySize))
                }
            }
        }
        /// MMX (no prefix) and SSE2 (66) forms of one integer operation.
        func mmxSSE2(_ map: UInt8, _ opc: UInt8, _ name: String, mmx: CPUFeature = .mmx, xmm: CPUFeature = .sse2) {
            op(map, opc...opc, xmm, a(name, .mm, .mm, f: mmx), a(name, .xmm, .xmm, f: xmm))
        }

        // Two-byte map 0F (Table A-3).
        op(1, 0x10...0x10, .sse, a("movups"), a("movupd", f: .sse2), a("movss"), a("movsd", f: .sse2))
        op(1, 0x11...0x11, .sse, a("movups", store: true), a("movupd", store: true, f: .sse2), a("movss", store: true), a("movsd", store: true, f: .sse2))
        op(1, 0x12...0x12, .sse, a("movlps", register: "movhlps"), m("movlpd", f: .sse2), a("movsldup", f: .sse3), a("movddup", f: .sse3))
        op(1, 0x13...0x13, .sse, m("movlps", store: true), m("movlpd", store: true, f: .sse2))
        op(1, 0x14...0x14, .sse, a("unpcklps"), a("unpcklpd", f: .sse2))
        op(1, 0x15...0x15, .sse, a("unpckhps"), a("unpckhpd", f: .sse2))
        op(1, 0x16...0x16, .sse, a("movhps", register: "movlhps"), m("movhpd", f: .sse2), a("movshdup", f: .sse3))
        op(1, 0x17...0x17, .sse, m("movhps", store: true), m("movhpd", store: true, f: .sse2))
        op(1, 0x28...0x28, .sse, a("movaps"), a("movapd", f: .sse2))
        op(1, 0x29...0x29, .sse, a("movaps", store: true), a("movapd", store: true, f: .sse2))
        op(1, 0x2A...0x2A, .sse, a("cvtpi2ps", .xmm, .mm), a("cvtpi2pd", .xmm, .mm, f: .sse2), a("cvtsi2ss", .xmm, .gpr), a("cvtsi2sd", .xmm, .gpr, f: .sse2))
        op(1, 0x2B...0x2B, .sse, m("movntps", store: true), m("movntpd", store: true, f: .sse2))
        op(1, 0x2C...0x2C, .sse, a("cvttps2pi", .mm), a("cvttpd2pi", .mm, .xmm, f: .sse2), a("cvttss2si", .gpr), a("cvttsd2si", .gpr, .xmm, f: .sse2))
        op(1, 0x2D...0x2D, .sse, a("cvtps2pi", .mm), a("cvtpd2pi", .mm, .xmm, f: .sse2), a("cvtss2si", .gpr), a("cvtsd2si", .gpr, .xmm, f: .sse2))
        op(1, 0x2E...0x2E, .sse, a("ucomiss"), a("ucomisd", f: .sse2))
        op(1, 0x2F...0x2F, .sse, a("comiss"), a("comisd", f: .sse2))
        op(1, 0x50...0x50, .sse, r("movmskps", .gpr32), r("movmskpd", .gpr32, .xmm, f: .sse2))
        for (opc, name) in [(0x51, "sqrt"), (0x58, "add"), (0x59, "mul"), (0x5C, "sub"), (0x5D, "min"), (0x5E, "div"), (0x5F, "max")] as [(UInt8, String)] {
            op(1, opc...opc, .sse, a(name + "ps"), a(name + "pd", f: .sse2), a(name + "ss"), a(name + "sd", f: .sse2))
        }
        op(1, 0x52...0x52, .sse, a("rsqrtps"), blank, a("rsqrtss"))
        op(1, 0x53...0x53, .sse, a("rcpps"), blank, a("rcpss"))
        op(1, 0x54...0x54, .sse, a("andps"), a("andpd", f: .sse2))
        op(1, 0x55...0x55, .sse, a("andnps"), a("andnpd", f: .sse2))
        op(1, 0x56...0x56, .sse, a("orps"), a("orpd", f: .sse2))
        op(1, 0x57...0x57, .sse, a("xorps"), a("xorpd", f: .sse2))
        op(1, 0x5A...0x5A, .sse2, a("cvtps2pd"), a("cvtpd2ps"), a("cvtss2sd"), a("cvtsd2ss"))
        op(1, 0x5B...0x5B, .sse2, a("cvtdq2ps"), a("cvtps2dq"), a("cvttps2dq"))
        let mmxRows: [(UInt8, String)] = [
            (0x60, "punpcklbw"), (0x61, "punpcklwd"), (0x62, "punpckldq"), (0x63, "packsswb"), (0x64, "pcmpgtb"),
            (0x65, "pcmpgtw"), (0x66, "pcmpgtd"), (0x67, "packuswb"), (0x68, "punpckhbw"), (0x69, "punpckhwd"),
            (0x6A, "punpckhdq"), (0x6B, "packssdw"), (0x74, "pcmpeqb"), (0x75, "pcmpeqw"), (0x76, "pcmpeqd"),
            (0xD1, "psrlw"), (0xD2, "psrld"), (0xD3, "psrlq"), (0xD5, "pmullw"),
            (0xD8, "psubusb"), (0xD9, "psubusw"), (0xDB, "pand"), (0xDC, "paddusb"), (0xDD, "paddusw"),
            (0xDF, "pandn"), (0xE1, "psraw"), (0xE2, "psrad"), (0xE5, "pmulhw"), (0xE8, "psubsb"), (0xE9, "psubsw"),
            (0xEB, "por"), (0xEC, "paddsb"), (0xED, "paddsw"), (0xEF, "pxor"), (0xF1, "psllw"), (0xF2, "pslld"),
            (0xF3, "psllq"), (0xF5, "pmaddwd"), (0xF8, "psubb"), (0xF9, "psubw"), (0xFA, "psubd"), (0xFC, "paddb"),
            (0xFD, "paddw"), (0xFE, "paddd"),
        ]
        for (opc, name) in mmxRows { mmxSSE2(1, opc, name) }
        // The SSE integer additions on MMX registers (SDM Vol. 1 §10.4.4 "SSE 64-Bit SIMD Integer
        // Instructions") and the SSE2 ones (§11.4.2 "SSE2 64-Bit and 128-Bit SIMD Integer Instructions").
        for (opc, name) in [(0xDA, "pminub"), (0xDE, "pmaxub"), (0xE0, "pavgb"), (0xE3, "pavgw"), (0xE4, "pmulhuw"),
                            (0xEA, "pminsw"), (0xEE, "pmaxsw"), (0xF6, "psadbw")] as [(UInt8, String)] {
            mmxSSE2(1, opc, name, mmx: .sse)
        }
        for (opc, name) in [(0xD4, "paddq"), (0xF4, "pmuludq"), (0xFB, "psubq")] as [(UInt8, String)] { mmxSSE2(1, opc, name, mmx: .sse2) }
        op(1, 0x6C...0x6C, .sse2, blank, a("punpcklqdq"))
        op(1, 0x6D...0x6D, .sse2, blank, a("punpckhqdq"))
        op(1, 0x6E...0x6E, .sse2, a("movd", .mm, .gpr, f: .mmx, wide: "movq"), a("movd", .xmm, .gpr, wide: "movq"))
        op(1, 0x6F...0x6F, .sse2, a("movq", .mm, .mm, f: .mmx), a("movdqa"), a("movdqu"))
        op(1, 0x70...0x70, .sse2, imm8: true, a("pshufw", .mm, .mm, f: .sse), a("pshufd"), a("pshufhw"), a("pshuflw"))
        // Groups 12–14: the member is ModRM.reg (`groupMembers`).
        op(1, 0x71...0x73, .sse2, imm8: true, r("", .none, .mm, f: .mmx), r("", .none, .xmm))
        op(1, 0x77...0x77, .mmx, Col(modrm: .none, name: "emms", reg: .none, rm: .none, unit: .mmx))
        op(1, 0x7C...0x7C, .sse3, blank, a("haddpd"), blank, a("haddps"))
        op(1, 0x7D...0x7D, .sse3, blank, a("hsubpd"), blank, a("hsubps"))
        op(1, 0x7E...0x7E, .sse2, a("movd", .mm, .gpr, store: true, f: .mmx, wide: "movq"), a("movd", .xmm, .gpr, store: true, wide: "movq"), a("movq"))
        op(1, 0x7F...0x7F, .sse2, a("movq", .mm, .mm, store: true, f: .mmx), a("movdqa", store: true), a("movdqu", store: true))
        op(1, 0xC2...0xC2, .sse, imm8: true, a("cmpps"), a("cmppd", f: .sse2), a("cmpss"), a("cmpsd", f: .sse2))
        op(1, 0xC3...0xC3, .sse2, Col(modrm: .memory, name: "movnti", reg: .gpr, rm: .gpr, rmFirst: true, unit: .gpr))
        op(1, 0xC4...0xC4, .sse2, imm8: true, a("pinsrw", .mm, .gpr32, f: .sse, size: 1), a("pinsrw", .xmm, .gpr32, size: 1))
        op(1, 0xC5...0xC5, .sse2, imm8: true, r("pextrw", .gpr32, .mm, f: .sse), r("pextrw", .gpr32, .xmm))
        op(1, 0xC6...0xC6, .sse, imm8: true, a("shufps"), a("shufpd", f: .sse2))
        op(1, 0xD0...0xD0, .sse3, blank, a("addsubpd"), blank, a("addsubps"))
        op(1, 0xD6...0xD6, .sse2, blank, a("movq", store: true), r("movq2dq", .xmm, .mm), r("movdq2q", .mm, .xmm))
        op(1, 0xD7...0xD7, .sse2, r("pmovmskb", .gpr32, .mm, f: .sse), r("pmovmskb", .gpr32, .xmm))
        op(1, 0xE6...0xE6, .sse2, blank, a("cvttpd2dq"), a("cvtdq2pd"), a("cvtpd2dq"))
        op(1, 0xE7...0xE7, .sse2, m("movntq", .mm, .mm, store: true, f: .sse), m("movntdq", store: true))
        op(1, 0xF0...0xF0, .sse3, blank, blank, blank, m("lddqu"))
        op(1, 0xF7...0xF7, .sse2, r("maskmovq", .mm, .mm, f: .sse), r("maskmovdqu"))

        // Three-byte map 0F 38 (Table A-4).
        for (opc, name) in [(0x00, "pshufb"), (0x01, "phaddw"), (0x02, "phaddd"), (0x03, "phaddsw"), (0x04, "pmaddubsw"),
                            (0x05, "phsubw"), (0x06, "phsubd"), (0x07, "phsubsw"), (0x08, "psignb"), (0x09, "psignw"),
                            (0x0A, "psignd"), (0x0B, "pmulhrsw"), (0x1C, "pabsb"), (0x1D, "pabsw"), (0x1E, "pabsd")] as [(UInt8, String)] {
            mmxSSE2(2, opc, name, mmx: .ssse3, xmm: .ssse3)
        }
        for (opc, name) in [(0x10, "pblendvb"), (0x14, "blendvps"), (0x15, "blendvpd"), (0x17, "ptest"), (0x20, "pmovsxbw"),
                            (0x21, "pmovsxbd"), (0x22, "pmovsxbq"), (0x23, "pmovsxwd"), (0x24, "pmovsxwq"), (0x25, "pmovsxdq"),
                            (0x28, "pmuldq"), (0x29, "pcmpeqq"), (0x2B, "packusdw"), (0x30, "pmovzxbw"), (0x31, "pmovzxbd"),
                            (0x32, "pmovzxbq"), (0x33, "pmovzxwd"), (0x34, "pmovzxwq"), (0x35, "pmovzxdq"), (0x38, "pminsb"),
                            (0x39, "pminsd"), (0x3A, "pminuw"), (0x3B, "pminud"), (0x3C, "pmaxsb"), (0x3D, "pmaxsd"),
                            (0x3E, "pmaxuw"), (0x3F, "pmaxud"), (0x40, "pmulld"), (0x41, "phminposuw")] as [(UInt8, String)] {
            op(2, opc...opc, .sse41, blank, a(name))
        }
        op(2, 0x2A...0x2A, .sse41, blank, m("movntdqa"))
        op(2, 0x37...0x37, .sse42, blank, a("pcmpgtq"))
        op(2, 0x80...0x80, .ept, blank, m("invept", .gpr))
        op(2, 0x81...0x81, .vpid, blank, m("invvpid", .gpr))
        op(2, 0xC8...0xC8, .sha, a("sha1nexte"))
        op(2, 0xC9...0xC9, .sha, a("sha1msg1"))
        op(2, 0xCA...0xCA, .sha, a("sha1msg2"))
        op(2, 0xCB...0xCB, .sha, a("sha256rnds2"))
        op(2, 0xCC...0xCC, .sha, a("sha256msg1"))
        op(2, 0xCD...0xCD, .sha, a("sha256msg2"))
        op(2, 0xCF...0xCF, .gfni, blank, a("gf2p8mulb"))
        op(2, 0xD8...0xD8, .keyLocker, blank, blank, a("aesencwide128kl"))
        op(2, 0xDB...0xDB, .aes, blank, a("aesimc"))
        op(2, 0xDC...0xDC, .aes, blank, a("aesenc"), a("aesenc128kl", f: .keyLocker))
        op(2, 0xDD...0xDD, .aes, blank, a("aesenclast"), a("aesdec128kl", f: .keyLocker))
        op(2, 0xDE...0xDE, .aes, blank, a("aesdec"), a("aesenc256kl", f: .keyLocker))
        op(2, 0xDF...0xDF, .aes, blank, a("aesdeclast"), a("aesdec256kl", f: .keyLocker))
        // F0/F1 without F2 are MOVBE (decoded apart); F2: CRC32 Gy, Eb / Gy, Ev.
        op(2, 0xF0...0xF0, .sse42, blank, blank, blank, Col(modrm: .any, name: "crc32", reg: .gpr, rm: .gpr8, memorySize: 0, unit: .gpr))
        op(2, 0xF1...0xF1, .sse42, blank, blank, blank, Col(modrm: .any, name: "crc32", reg: .gpr, rm: .gprOsz, memorySize: 4, unit: .gpr))
        op(2, 0xF5...0xF5, .cetSS, blank, m("wruss", .gpr, .gpr, store: true))
        // 66 and F3 0F 38 F6 are ADCX and ADOX (decoded apart).
        op(2, 0xF6...0xF6, .cetSS, m("wrss", .gpr, .gpr, store: true))
        op(2, 0xF8...0xF8, .movdir64b, blank, m("movdir64b", .gpr), m("enqcmds", .gpr, .xmm, f: .enqcmd), m("enqcmd", .gpr, .xmm, f: .enqcmd))
        op(2, 0xF9...0xF9, .movdiri, m("movdiri", .gpr, .gpr, store: true))
        op(2, 0xFA...0xFA, .keyLocker, blank, blank, r("encodekey128", .gpr32, .gpr32))
        op(2, 0xFB...0xFB, .keyLocker, blank, blank, r("encodekey256", .gpr32, .gpr32))

        // Three-byte map 0F 3A (Table A-5): every form takes an imm8.
        for (opc, name) in [(0x08, "roundps"), (0x09, "roundpd"), (0x0A, "roundss"), (0x0B, "roundsd"), (0x0C, "blendps"),
                            (0x0D, "blendpd"), (0x0E, "pblendw"), (0x21, "insertps"), (0x40, "dpps"), (0x41, "dppd"),
                            (0x42, "mpsadbw")] as [(UInt8, String)] {
            op(3, opc...opc, .sse41, imm8: true, blank, a(name))
        }
        op(3, 0x0F...0x0F, .ssse3, imm8: true, a("palignr", .mm, .mm), a("palignr"))
        op(3, 0x14...0x14, .sse41, imm8: true, blank, a("pextrb", .xmm, .gpr32, store: true))
        op(3, 0x15...0x15, .sse41, imm8: true, blank, a("pextrw", .xmm, .gpr32, store: true))
        op(3, 0x16...0x16, .sse41, imm8: true, blank, a("pextrd", .xmm, .gpr, store: true, wide: "pextrq"))
        op(3, 0x17...0x17, .sse41, imm8: true, blank, a("extractps", .xmm, .gpr32, store: true))
        op(3, 0x20...0x20, .sse41, imm8: true, blank, a("pinsrb", .xmm, .gpr32))
        op(3, 0x22...0x22, .sse41, imm8: true, blank, a("pinsrd", .xmm, .gpr, wide: "pinsrq"))
        op(3, 0x44...0x44, .pclmulqdq, imm8: true, blank, a("pclmulqdq"))
        for (opc, name) in [(0x60, "pcmpestrm"), (0x61, "pcmpestri"), (0x62, "pcmpistrm"), (0x63, "pcmpistri")] as [(UInt8, String)] {
            op(3, opc...opc, .sse42, imm8: true, blank, a(name))
        }
        op(3, 0xCC...0xCC, .sha, imm8: true, a("sha1rnds4"))
        op(3, 0xCE...0xCE, .gfni, imm8: true, blank, a("gf2p8affineqb"))
        op(3, 0xCF...0xCF, .gfni, imm8: true, blank, a("gf2p8affineinvqb"))
        op(3, 0xDF...0xDF, .aes, imm8: true, blank, a("aeskeygenassist"))
        op(3, 0xF0...0xF0, .hreset, imm8: true, blank, blank, a("hreset", .none, .none))
        return t
    }()

    /// Groups 12–14 (0F 71–73): the members by opcode, prefix column and ModRM.reg.
    public static let groupMembers: [SIMDGroupMember] = {
        var t: [SIMDGroupMember] = []
        for (opc, members) in [(0x71, [(2, "psrlw"), (4, "psraw"), (6, "psllw")]),
                               (0x72, [(2, "psrld"), (4, "psrad"), (6, "pslld")]),
                               (0x73, [(2, "psrlq"), (6, "psllq")])] as [(UInt8, [(UInt8, String)])] {
            for col in 0...1 as ClosedRange<UInt8> {
                for (reg, name) in members { t.append(SIMDGroupMember(opcode: opc, column: col, modrmReg: reg, mnemonic: name)) }
            }
        }
        // PSRLDQ, PSLLDQ: XMM only (66).
        t.append(SIMDGroupMember(opcode: 0x73, column: 1, modrmReg: 3, mnemonic: "psrldq"))
        t.append(SIMDGroupMember(opcode: 0x73, column: 1, modrmReg: 7, mnemonic: "pslldq"))
        return t
    }()

    // MARK: Derived: the decoder's tables

    /// A decode entry: bit 7 defined; bits 1:0 `SIMDForm.ModRM`; bit 2 imm8; bit 3 the feature is
    /// not modeled (#UD after the whole instruction); bits 5:4 `SIMDUnit`.
    @usableFromInline static let defined: UInt8 = 0x80, hasImm8: UInt8 = 4, unsupported: UInt8 = 8

    static func decodeTable(_ map: UInt8) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: 256 * 4)
        for f in forms where f.map == map {
            var e = defined | f.modrm.rawValue | f.unit.rawValue << 4
            if f.imm8 { e |= hasImm8 }
            if !f.feature.isModeled { e |= unsupported }
            t[Int(f.opcode) * 4 + Int(f.column)] = e
        }
        return t
    }
    /// Indexed by `opcode * 4 + column`.
    @usableFromInline static let map0F = decodeTable(1), map0F38 = decodeTable(2), map0F3A = decodeTable(3)

    /// Groups 12–14: bit ModRM.reg set = a member, per `(opcode - 0x71) * 4 + column`.
    @usableFromInline static let groupMemberMask: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 3 * 4)
        for g in groupMembers { t[Int(g.opcode - 0x71) * 4 + Int(g.column)] |= 1 << g.modrmReg }
        return t
    }()

    // MARK: Derived: lookup by key (the debugger)

    static let index: [Int: Int] = {
        var t: [Int: Int] = [:]
        for (k, f) in forms.enumerated() { t[f.key] = k }
        return t
    }()

    /// The form of `Insn.simdKey` (nil: not a row — LDMXCSR/STMXCSR of Group 15).
    public static func form(_ key: Int) -> SIMDForm? { index[key].map { forms[$0] } }

    /// The member of Groups 12–14 for opcode, column and ModRM.reg.
    public static func groupMember(opcode: UInt8, column: UInt8, modrmReg: UInt8) -> SIMDGroupMember? {
        groupMembers.first { $0.opcode == opcode && $0.column == column && $0.modrmReg == modrmReg }
    }
}
