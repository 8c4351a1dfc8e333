import X86

/// Mnemonics and operands of the x87 and SSE/MMX instructions for `disas` (Intel syntax).
///
/// The x87 tables follow the SDM's escape maps (Vol. 2D Appendix A §A.5 "Escape Opcode
/// Instructions", Tables A-7…A-22); the SSE/MMX text comes from the decoder's own rows
/// (`SIMDTable` in the X86 module: mnemonic, operand kinds, order, immediate).
/// `MnemonicOracleTests` checks every mnemonic against Zydis.
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
        let esc = i.x87Escape & 7, sub = Int(i.modrmReg & 7), r = Int(i.rm & 7)
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

    /// The text of an `Op.sse` instruction from its `SIMDTable` row.
    static func simdText(_ i: Insn, address: UInt64) -> String {
        let key = i.simdKey
        let col = UInt8(truncatingIfNeeded: key >> 16), map = (key >> 8) & 0xFF, opc = UInt8(truncatingIfNeeded: key)
        let wide = i.osz == 3
        let imm8 = "0x" + hex(UInt8(truncatingIfNeeded: i.imm))
        func x(_ n: UInt8, _ k: SIMDOperand) -> String {
            switch k {
            case .xmm: return "xmm\(n)"
            case .mm: return "mm\(n & 7)"
            case .gpr: return reg(n, wide ? 3 : 2)
            case .gpr32: return reg(n, 2)
            case .gpr8: return reg(n, 0)
            case .gprOsz: return reg(n, i.osz)
            case .none: return ""
            }
        }
        // LDMXCSR/STMXCSR: Group 15 (0F AE /2, /3), not a row of the SIMD maps.
        if key == 0x001AE { return (i.modrmReg == 2 ? "ldmxcsr " : "stmxcsr ") + mem(i, address: address, size: "dword") }
        guard let f = SIMDTable.form(key) else {
            // Not a row (cannot happen for a decoded form): the raw opcode, so nothing is hidden.
            let mp = ["", "66 ", "f3 ", "f2 "][Int(col & 3)]
            let m = ["", "0f ", "0f 38 ", "0f 3a "][map & 3]
            return "sse[\(mp)\(m)\(hex(opc))] xmm\(i.reg), " + (i.mem ? mem(i, address: address, size: nil) : "xmm\(i.rm)")
        }
        if map == 1 && (0x71...0x73).contains(opc) {
            // Groups 12–14: the member is ModRM.reg.
            let name = SIMDTable.groupMember(opcode: opc, column: col, modrmReg: i.modrmReg)?.mnemonic ?? "(bad)"
            return "\(name) \(x(i.rm, f.rm)), \(imm8)"
        }
        var name = f.mnemonic
        if wide, let w = f.wideMnemonic { name = w }
        if !i.mem, let r = f.registerMnemonic { name = r }
        let size = f.memorySize.map { sizeName($0 == 4 ? i.osz : $0) }
        let rm = i.mem ? mem(i, address: address, size: size) : x(i.rm, f.rm)
        var operands = (f.rmFirst ? [rm, x(i.reg, f.reg)] : [x(i.reg, f.reg), rm]).filter { !$0.isEmpty }
        if f.imm8 { operands.append(imm8) }
        return operands.isEmpty ? name : name + " " + operands.joined(separator: ", ")
    }
}
