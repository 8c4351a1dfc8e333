import X86

/// Mnemonics and operands of the x87 and SSE/MMX instructions for `disas` (Intel syntax).
///
/// The tables follow the SDM's opcode maps (Vol. 2D Appendix A "Opcode Map": Tables A-3…A-5 for
/// the two- and three-byte maps, one column per mandatory prefix; §A.5 "Escape Opcode
/// Instructions", Tables A-7…A-22 for the x87 escapes). `DecoderOracleTests` checks every
/// mnemonic against Zydis.
extension Disassembler {
    // MARK: x87

    /// Memory forms: mnemonic and operand size per escape (D8…DF) and ModRM.reg.
    static let x87Memory: [[(String, String?)]] = [
        [("fadd", "dword"), ("fmul", "dword"), ("fcom", "dword"), ("fcomp", "dword"),
         ("fsub", "dword"), ("fsubr", "dword"), ("fdiv", "dword"), ("fdivr", "dword")],
        [("fld", "dword"), ("", nil), ("fst", "dword"), ("fstp", "dword"),
         ("fldenv", nil), ("fldcw", "word"), ("fnstenv", nil), ("fnstcw", "word")],
        [("fiadd", "dword"), ("fimul", "dword"), ("ficom", "dword"), ("ficomp", "dword"),
         ("fisub", "dword"), ("fisubr", "dword"), ("fidiv", "dword"), ("fidivr", "dword")],
        [("fild", "dword"), ("fisttp", "dword"), ("fist", "dword"), ("fistp", "dword"),
         ("", nil), ("fld", "tbyte"), ("", nil), ("fstp", "tbyte")],
        [("fadd", "qword"), ("fmul", "qword"), ("fcom", "qword"), ("fcomp", "qword"),
         ("fsub", "qword"), ("fsubr", "qword"), ("fdiv", "qword"), ("fdivr", "qword")],
        [("fld", "qword"), ("fisttp", "qword"), ("fst", "qword"), ("fstp", "qword"),
         ("frstor", nil), ("", nil), ("fnsave", nil), ("fnstsw", "word")],
        [("fiadd", "word"), ("fimul", "word"), ("ficom", "word"), ("ficomp", "word"),
         ("fisub", "word"), ("fisubr", "word"), ("fidiv", "word"), ("fidivr", "word")],
        [("fild", "word"), ("fisttp", "word"), ("fist", "word"), ("fistp", "word"),
         ("fbld", "tbyte"), ("fild", "qword"), ("fbstp", "tbyte"), ("fistp", "qword")],
    ]

    /// D9 E0…FF: one mnemonic per ModRM byte (blank: undefined, decoded as #UD).
    static let x87D9Specials: [String] = [
        "fchs", "fabs", "", "", "ftst", "fxam", "", "",
        "fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz", "",
        "f2xm1", "fyl2x", "fptan", "fpatan", "fxtract", "fprem1", "fdecstp", "fincstp",
        "fprem", "fyl2xp1", "fsqrt", "fsincos", "frndint", "fscale", "fsin", "fcos",
    ]

    /// Register forms: mnemonic per escape and ModRM.reg, and how ST(i) is written
    /// (0: "st, st(i)"; 1: "st(i), st"; 2: "st(i)"). Cells handled by `x87Text` itself are "".
    static let x87Register: [[(String, Int)]] = [
        [("fadd", 0), ("fmul", 0), ("fcom", 2), ("fcomp", 2), ("fsub", 0), ("fsubr", 0), ("fdiv", 0), ("fdivr", 0)],
        [("fld", 2), ("fxch", 2), ("", 2), ("fstp1", 2), ("", 2), ("", 2), ("", 2), ("", 2)],
        [("fcmovb", 0), ("fcmove", 0), ("fcmovbe", 0), ("fcmovu", 0), ("", 2), ("", 2), ("", 2), ("", 2)],
        [("fcmovnb", 0), ("fcmovne", 0), ("fcmovnbe", 0), ("fcmovnu", 0), ("", 2), ("fucomi", 0), ("fcomi", 0), ("", 2)],
        [("fadd", 1), ("fmul", 1), ("fcom2", 2), ("fcomp3", 2), ("fsubr", 1), ("fsub", 1), ("fdivr", 1), ("fdiv", 1)],
        [("ffree", 2), ("fxch4", 2), ("fst", 2), ("fstp", 2), ("fucom", 2), ("fucomp", 2), ("", 2), ("", 2)],
        [("faddp", 1), ("fmulp", 1), ("fcomp5", 2), ("", 2), ("fsubrp", 1), ("fsubp", 1), ("fdivrp", 1), ("fdivp", 1)],
        [("ffreep", 2), ("fxch7", 2), ("fstp8", 2), ("fstp9", 2), ("", 2), ("fucomip", 0), ("fcomip", 0), ("", 2)],
    ]

    static func x87Text(_ i: Insn, address: UInt64) -> String {
        let esc = Int(i.imm2 & 7), sub = Int(i.sub & 7), r = Int(i.rm & 7)
        if i.mem {
            let (name, size) = x87Memory[esc][sub]
            return name + " " + mem(i, address: address, size: size)
        }
        switch (esc, sub) {
        case (1, 2): return "fnop"                                     // D9 D0 (D1…D7 undefined)
        case (1, 4...7): return x87D9Specials[(sub - 4) * 8 + r]
        case (2, 5): return "fucompp"                                  // DA E9
        case (3, 4): return ["feni8087_nop", "fdisi8087_nop", "fnclex", "fninit", "fsetpm287_nop"][min(r, 4)]
        case (6, 3): return "fcompp"                                   // DE D9
        case (7, 4): return "fnstsw ax"                                // DF E0
        default:
            let (name, form) = x87Register[esc][sub]
            switch form {
            case 0: return "\(name) st, st(\(r))"
            case 1: return "\(name) st(\(r)), st"
            default: return "\(name) st(\(r))"
            }
        }
    }

    // MARK: SSE, SSE2–SSE4.2 and MMX

    /// key = map << 8 | opcode (map 1 = 0F, 2 = 0F 38, 3 = 0F 3A) → the mnemonic per mandatory-
    /// prefix column (none, 66, F3, F2); "" = not an instruction in that column.
    static let simdNames: [Int: [String]] = {
        var t: [Int: [String]] = [:]
        func row(_ map: Int, _ opc: Int, _ names: String...) { t[map << 8 | opc] = names + Array(repeating: "", count: 4 - names.count) }
        // Two-byte map 0F (Table A-3).
        row(1, 0x10, "movups", "movupd", "movss", "movsd"); row(1, 0x11, "movups", "movupd", "movss", "movsd")
        row(1, 0x12, "movlps", "movlpd", "movsldup", "movddup"); row(1, 0x13, "movlps", "movlpd")
        row(1, 0x14, "unpcklps", "unpcklpd"); row(1, 0x15, "unpckhps", "unpckhpd")
        row(1, 0x16, "movhps", "movhpd", "movshdup"); row(1, 0x17, "movhps", "movhpd")
        row(1, 0x28, "movaps", "movapd"); row(1, 0x29, "movaps", "movapd")
        row(1, 0x2A, "cvtpi2ps", "cvtpi2pd", "cvtsi2ss", "cvtsi2sd"); row(1, 0x2B, "movntps", "movntpd")
        row(1, 0x2C, "cvttps2pi", "cvttpd2pi", "cvttss2si", "cvttsd2si")
        row(1, 0x2D, "cvtps2pi", "cvtpd2pi", "cvtss2si", "cvtsd2si")
        row(1, 0x2E, "ucomiss", "ucomisd"); row(1, 0x2F, "comiss", "comisd")
        row(1, 0x50, "movmskps", "movmskpd"); row(1, 0x51, "sqrtps", "sqrtpd", "sqrtss", "sqrtsd")
        row(1, 0x52, "rsqrtps", "", "rsqrtss"); row(1, 0x53, "rcpps", "", "rcpss")
        row(1, 0x54, "andps", "andpd"); row(1, 0x55, "andnps", "andnpd"); row(1, 0x56, "orps", "orpd"); row(1, 0x57, "xorps", "xorpd")
        for (opc, op) in [(0x58, "add"), (0x59, "mul"), (0x5C, "sub"), (0x5D, "min"), (0x5E, "div"), (0x5F, "max")] {
            row(1, opc, op + "ps", op + "pd", op + "ss", op + "sd")
        }
        row(1, 0x5A, "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss"); row(1, 0x5B, "cvtdq2ps", "cvtps2dq", "cvttps2dq")
        let mmxAndSSE2: [(Int, String)] = [
            (0x60, "punpcklbw"), (0x61, "punpcklwd"), (0x62, "punpckldq"), (0x63, "packsswb"), (0x64, "pcmpgtb"),
            (0x65, "pcmpgtw"), (0x66, "pcmpgtd"), (0x67, "packuswb"), (0x68, "punpckhbw"), (0x69, "punpckhwd"),
            (0x6A, "punpckhdq"), (0x6B, "packssdw"), (0x74, "pcmpeqb"), (0x75, "pcmpeqw"), (0x76, "pcmpeqd"),
            (0xD1, "psrlw"), (0xD2, "psrld"), (0xD3, "psrlq"), (0xD4, "paddq"), (0xD5, "pmullw"), (0xD7, "pmovmskb"),
            (0xD8, "psubusb"), (0xD9, "psubusw"), (0xDA, "pminub"), (0xDB, "pand"), (0xDC, "paddusb"), (0xDD, "paddusw"),
            (0xDE, "pmaxub"), (0xDF, "pandn"), (0xE0, "pavgb"), (0xE1, "psraw"), (0xE2, "psrad"), (0xE3, "pavgw"),
            (0xE4, "pmulhuw"), (0xE5, "pmulhw"), (0xE8, "psubsb"), (0xE9, "psubsw"), (0xEA, "pminsw"), (0xEB, "por"),
            (0xEC, "paddsb"), (0xED, "paddsw"), (0xEE, "pmaxsw"), (0xEF, "pxor"), (0xF1, "psllw"), (0xF2, "pslld"),
            (0xF3, "psllq"), (0xF4, "pmuludq"), (0xF5, "pmaddwd"), (0xF6, "psadbw"), (0xF8, "psubb"), (0xF9, "psubw"),
            (0xFA, "psubd"), (0xFB, "psubq"), (0xFC, "paddb"), (0xFD, "paddw"), (0xFE, "paddd"),
            (0xC4, "pinsrw"), (0xC5, "pextrw"),
        ]
        for (opc, name) in mmxAndSSE2 { row(1, opc, name, name) }
        row(1, 0x6C, "", "punpcklqdq"); row(1, 0x6D, "", "punpckhqdq")
        row(1, 0x6E, "movd", "movd"); row(1, 0x7E, "movd", "movd", "movq")
        row(1, 0x6F, "movq", "movdqa", "movdqu"); row(1, 0x7F, "movq", "movdqa", "movdqu")
        row(1, 0x70, "pshufw", "pshufd", "pshufhw", "pshuflw"); row(1, 0x77, "emms")
        row(1, 0x7C, "", "haddpd", "", "haddps"); row(1, 0x7D, "", "hsubpd", "", "hsubps")
        row(1, 0xC2, "cmpps", "cmppd", "cmpss", "cmpsd"); row(1, 0xC3, "movnti"); row(1, 0xC6, "shufps", "shufpd")
        row(1, 0xD0, "", "addsubpd", "", "addsubps"); row(1, 0xD6, "", "movq", "movq2dq", "movdq2q")
        row(1, 0xE6, "", "cvttpd2dq", "cvtdq2pd", "cvtpd2dq"); row(1, 0xE7, "movntq", "movntdq")
        row(1, 0xF0, "", "", "", "lddqu"); row(1, 0xF7, "maskmovq", "maskmovdqu")
        // Three-byte map 0F 38 (Table A-4).
        let ssse3: [(Int, String)] = [
            (0x00, "pshufb"), (0x01, "phaddw"), (0x02, "phaddd"), (0x03, "phaddsw"), (0x04, "pmaddubsw"), (0x05, "phsubw"),
            (0x06, "phsubd"), (0x07, "phsubsw"), (0x08, "psignb"), (0x09, "psignw"), (0x0A, "psignd"), (0x0B, "pmulhrsw"),
            (0x1C, "pabsb"), (0x1D, "pabsw"), (0x1E, "pabsd"),
        ]
        for (opc, name) in ssse3 { row(2, opc, name, name) }
        let sse41: [(Int, String)] = [
            (0x10, "pblendvb"), (0x14, "blendvps"), (0x15, "blendvpd"), (0x17, "ptest"), (0x20, "pmovsxbw"), (0x21, "pmovsxbd"),
            (0x22, "pmovsxbq"), (0x23, "pmovsxwd"), (0x24, "pmovsxwq"), (0x25, "pmovsxdq"), (0x28, "pmuldq"), (0x29, "pcmpeqq"),
            (0x2A, "movntdqa"), (0x2B, "packusdw"), (0x30, "pmovzxbw"), (0x31, "pmovzxbd"), (0x32, "pmovzxbq"),
            (0x33, "pmovzxwd"), (0x34, "pmovzxwq"), (0x35, "pmovzxdq"), (0x37, "pcmpgtq"), (0x38, "pminsb"), (0x39, "pminsd"),
            (0x3A, "pminuw"), (0x3B, "pminud"), (0x3C, "pmaxsb"), (0x3D, "pmaxsd"), (0x3E, "pmaxuw"), (0x3F, "pmaxud"),
            (0x40, "pmulld"), (0x41, "phminposuw"),
        ]
        for (opc, name) in sse41 { row(2, opc, "", name) }
        row(2, 0xF0, "", "", "", "crc32"); row(2, 0xF1, "", "", "", "crc32")
        // Three-byte map 0F 3A (Table A-5).
        row(3, 0x0F, "palignr", "palignr")
        let sse41i: [(Int, String)] = [
            (0x08, "roundps"), (0x09, "roundpd"), (0x0A, "roundss"), (0x0B, "roundsd"), (0x0C, "blendps"), (0x0D, "blendpd"),
            (0x0E, "pblendw"), (0x14, "pextrb"), (0x15, "pextrw"), (0x16, "pextrd"), (0x17, "extractps"), (0x20, "pinsrb"),
            (0x21, "insertps"), (0x22, "pinsrd"), (0x40, "dpps"), (0x41, "dppd"), (0x42, "mpsadbw"), (0x60, "pcmpestrm"),
            (0x61, "pcmpestri"), (0x62, "pcmpistrm"), (0x63, "pcmpistri"),
        ]
        for (opc, name) in sse41i { row(3, opc, "", name) }
        return t
    }()

    /// Operand kinds of a SIMD form: what ModRM.reg and ModRM.r/m name.
    enum SIMDOperand { case xmm, mm, gpr }

    static func simdText(_ i: Insn, address: UInt64) -> String {
        let key = Int(truncatingIfNeeded: i.imm2 & 0x3FFFF)
        let col = key >> 16, map = (key >> 8) & 0xFF, opc = key & 0xFF
        let wide = i.osz == 3
        let imm8 = "0x" + hex(UInt8(truncatingIfNeeded: i.imm))
        func x(_ n: UInt8, _ k: SIMDOperand) -> String {
            switch k {
            case .xmm: return "xmm\(n)"
            case .mm: return "mm\(n & 7)"
            case .gpr: return reg(n, wide ? 3 : 2)
            }
        }
        func rmText(_ k: SIMDOperand, size: String? = nil) -> String { i.mem ? mem(i, address: address, size: size) : x(i.rm, k) }

        // Forms outside the table: groups selected by ModRM.reg, and the 0F AE /2 /3 pair.
        if map == 1 && (opc == 0x71 || opc == 0x72 || opc == 0x73) {
            let names: [Int: [Int: String]] = [0x71: [2: "psrlw", 4: "psraw", 6: "psllw"], 0x72: [2: "psrld", 4: "psrad", 6: "pslld"],
                                               0x73: [2: "psrlq", 3: "psrldq", 6: "psllq", 7: "pslldq"]]
            let name = names[opc]?[Int(i.sub)] ?? "(bad)"
            return "\(name) \(x(i.rm, col == 1 ? .xmm : .mm)), \(imm8)"
        }
        if key == 0x001AE { return (i.sub == 2 ? "ldmxcsr " : "stmxcsr ") + mem(i, address: address, size: "dword") }
        guard let names = simdNames[map << 8 | opc], !names[col].isEmpty else {
            // Not tabled: the raw opcode, so nothing is hidden.
            let mp = ["", "66 ", "f3 ", "f2 "][col]
            let m = ["", "0f ", "0f 38 ", "0f 3a "][map & 3]
            return "sse[\(mp)\(m)\(hex(UInt8(opc)))] xmm\(i.reg), " + rmText(.xmm)
        }
        var name = names[col]
        // MMX-register forms: no mandatory prefix on the MMX/SSSE3 integer rows (and a few SSE ones).
        let mmx = col == 0 && ((map == 1 && ((0x60...0x7F).contains(opc) || (0xD0...0xFF).contains(opc) || opc == 0xC4 || opc == 0xC5))
                               || (map == 2 && opc <= 0x1E) || (map == 3 && opc == 0x0F))
        let v: SIMDOperand = mmx ? .mm : .xmm
        if wide && ["pextrd", "pinsrd"].contains(name) { name = name.dropLast() + "q" }
        if map == 1 && (opc == 0x6E || opc == 0x7E) && col <= 1 && wide { name = "movq" }
        if map == 1 && !i.mem && opc == 0x12 && col == 0 { name = "movhlps" }
        if map == 1 && !i.mem && opc == 0x16 && col == 0 { name = "movlhps" }
        let hasImm = (map == 3) || (map == 1 && [0x70, 0xC2, 0xC4, 0xC5, 0xC6].contains(opc))
        let tail = hasImm ? ", " + imm8 : ""
        switch (map, opc) {
        case (1, 0x11), (1, 0x13), (1, 0x17), (1, 0x29), (1, 0x2B), (1, 0x7F), (1, 0xE7):   // stores: r/m, reg
            return "\(name) " + rmText(v) + ", " + x(i.reg, v)
        case (1, 0xD6) where col == 1:                                                     // movq xmm/m64, xmm
            return "\(name) " + rmText(.xmm) + ", " + x(i.reg, .xmm)
        case (1, 0xD6):                                                                    // movq2dq / movdq2q
            return "\(name) \(x(i.reg, col == 2 ? .xmm : .mm)), \(x(i.rm, col == 2 ? .mm : .xmm))"
        case (1, 0xC3):                                                                    // movnti m, r
            return "\(name) " + rmText(.gpr) + ", " + x(i.reg, .gpr)
        case (1, 0x6E):                                                                    // movd/q mm/xmm, r/m
            return "\(name) \(x(i.reg, v)), " + rmText(.gpr)
        case (1, 0x7E) where col <= 1:                                                     // movd/q r/m, mm/xmm
            return "\(name) " + rmText(.gpr) + ", " + x(i.reg, v)
        case (1, 0x2A) where col >= 2:                                                     // cvtsi2ss/sd xmm, r/m
            return "\(name) \(x(i.reg, .xmm)), " + rmText(.gpr)
        case (1, 0x2A):                                                                    // cvtpi2ps/pd xmm, mm/m64
            return "\(name) \(x(i.reg, .xmm)), " + rmText(.mm)
        case (1, 0x2C), (1, 0x2D):                                                         // cvt… to GPR or to mm
            return "\(name) \(x(i.reg, col >= 2 ? .gpr : .mm)), " + rmText(.xmm)
        case (1, 0x50), (1, 0xD7), (1, 0xC5):                                              // GPR ← mask / word
            return "\(name) \(reg(i.reg, 2)), " + rmText(v) + tail
        case (1, 0xC4):                                                                    // pinsrw mm/xmm, r32/m16
            return "\(name) \(x(i.reg, v)), " + (i.mem ? mem(i, address: address, size: "word") : reg(i.rm, 2)) + tail
        case (2, 0xF0), (2, 0xF1):                                                         // crc32 r, r/m
            let s = opc == 0xF0 ? UInt8(0) : i.osz
            return "\(name) \(reg(i.reg, wide ? 3 : 2)), " + (i.mem ? mem(i, address: address, size: sizeName(s)) : reg(i.rm, s))
        case (3, 0x14), (3, 0x15), (3, 0x16), (3, 0x17):                                   // pextr…/extractps r/m, xmm, imm8
            return "\(name) " + (i.mem ? mem(i, address: address, size: nil) : reg(i.rm, wide && opc == 0x16 ? 3 : 2))
                + ", \(x(i.reg, .xmm))" + tail
        case (3, 0x20), (3, 0x22):                                                         // pinsrb/d/q xmm, r/m, imm8
            return "\(name) \(x(i.reg, .xmm)), " + (i.mem ? mem(i, address: address, size: nil) : reg(i.rm, wide && opc == 0x22 ? 3 : 2)) + tail
        default:
            return "\(name) \(x(i.reg, v)), " + rmText(v) + tail
        }
    }
}
