/// The VEX-encoded general-purpose instructions (BMI1, BMI2): one row per form — VEX map,
/// opcode, VEX.pp, ModRM.reg where a group selects, CPUID feature, handler (`BMIForm`, run by
/// `executeBitManipulation`), operand layout and mnemonic (SDM Vol. 2A §2.5.1 "Exceptions Type
/// 13", Table 2-28 "Exception Definition (VEX-Encoded GPR Instructions)"; Vol. 2D Appendix A,
/// Table A-4; each instruction's own page). The decoder's flat lookup tables, the #UD of a form
/// whose feature the modeled CPU does not report, and `disas` are derived from these rows.
/// Every other VEX encoding is AVX, which the modeled CPU does not have (#UD with its length).

/// The BMI1/BMI2 instructions (`Op.bmi`, `Insn.bmiForm`): the handler of a `VEXTable` row.
public enum BMIForm: UInt8, Sendable, CaseIterable {
    case andn, blsr, blsmsk, blsi, bzhi, pdep, pext, mulx, bextr, shlx, sarx, shrx, rorx
}

/// One VEX-encoded general-purpose instruction form.
public struct VEXForm: Sendable {
    /// The operands in Intel order (Gy = ModRM.reg, Vy = VEX.vvvv, Ey = ModRM.r/m).
    public enum Layout: UInt8, Sendable {
        case gVE     // Gy, Vy, Ey (ANDN, PDEP, PEXT, MULX)
        case vE      // Vy, Ey (BLSR, BLSMSK, BLSI)
        case gEV     // Gy, Ey, Vy (BEXTR, BZHI, SARX, SHLX, SHRX)
        case gEImm8  // Gy, Ey, imm8 (RORX)
    }
    /// 2 = 0F 38, 3 = 0F 3A.
    public let map: UInt8
    public let opcode: UInt8
    /// VEX.pp: 0 none, 1 66, 2 F3, 3 F2.
    public let pp: UInt8
    /// ModRM.reg of a group member (VEX.0F38 F3: Group 17), else nil.
    public let modrmReg: UInt8?
    public let form: BMIForm
    public let feature: CPUFeature
    public let layout: Layout
    /// "VEX.vvvv is reserved and must be 1111b, otherwise instructions will #UD" (RORX).
    public let vvvvReserved: Bool
    public var mnemonic: String { "\(form)" }
}

public enum VEXTable {
    /// All forms (VEX.L = 0; VEX.W selects 64-bit operands in 64-bit mode).
    public static let forms: [VEXForm] = {
        func row(_ map: UInt8, _ opc: UInt8, _ pp: UInt8, _ form: BMIForm, _ f: CPUFeature, _ layout: VEXForm.Layout,
                 reg: UInt8? = nil, vvvvReserved: Bool = false) -> VEXForm {
            VEXForm(map: map, opcode: opc, pp: pp, modrmReg: reg, form: form, feature: f, layout: layout, vvvvReserved: vvvvReserved)
        }
        return [
            row(2, 0xF2, 0, .andn, .bmi1, .gVE),
            row(2, 0xF3, 0, .blsr, .bmi1, .vE, reg: 1),
            row(2, 0xF3, 0, .blsmsk, .bmi1, .vE, reg: 2),
            row(2, 0xF3, 0, .blsi, .bmi1, .vE, reg: 3),
            row(2, 0xF5, 0, .bzhi, .bmi2, .gEV),
            row(2, 0xF5, 3, .pdep, .bmi2, .gVE),
            row(2, 0xF5, 2, .pext, .bmi2, .gVE),
            row(2, 0xF6, 3, .mulx, .bmi2, .gVE),
            row(2, 0xF7, 0, .bextr, .bmi1, .gEV),
            row(2, 0xF7, 1, .shlx, .bmi2, .gEV),
            row(2, 0xF7, 2, .sarx, .bmi2, .gEV),
            row(2, 0xF7, 3, .shrx, .bmi2, .gEV),
            row(3, 0xF0, 3, .rorx, .bmi2, .gEImm8, vvvvReserved: true),
        ]
    }()

    // MARK: Derived: the decoder's tables

    /// Per `((map - 2) * 256 + opcode) * 4 + pp`: 0 no form; `row + 1` (< 0x80); or
    /// 0x80 | group for a ModRM.reg group (`groupRows`).
    @usableFromInline static let slots: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 2 * 256 * 4)
        var groups = 0
        for (k, f) in forms.enumerated() {
            let s = (Int(f.map - 2) * 256 + Int(f.opcode)) * 4 + Int(f.pp)
            if f.modrmReg == nil { t[s] = UInt8(k + 1) }
            else if t[s] == 0 { t[s] = 0x80 | UInt8(groups); groups += 1 }
        }
        return t
    }()
    /// Per `group * 8 + ModRM.reg`: `row + 1`, or 0 (#UD).
    @usableFromInline static let groupRows: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 8 * 8)
        for (k, f) in forms.enumerated() {
            guard let reg = f.modrmReg else { continue }
            let s = slots[(Int(f.map - 2) * 256 + Int(f.opcode)) * 4 + Int(f.pp)]
            t[Int(s & 0x7F) * 8 + Int(reg)] = UInt8(k + 1)
        }
        return t
    }()
    /// Per row: the `BMIForm`, and the flags `hasImm8`, `vvvvReserved`, `unsupported` (the
    /// feature is not modeled: #UD after the whole instruction).
    @usableFromInline static let rowForm: [UInt8] = forms.map { $0.form.rawValue }
    @usableFromInline static let hasImm8: UInt8 = 1, vvvvReserved: UInt8 = 2, unsupported: UInt8 = 4
    @usableFromInline static let rowFlags: [UInt8] = forms.map {
        ($0.layout == .gEImm8 ? hasImm8 : 0) | ($0.vvvvReserved ? vvvvReserved : 0) | ($0.feature.isModeled ? 0 : unsupported)
    }

    // MARK: Derived: lookup by handler (the debugger)

    static let byForm: [Int] = {
        var t = [Int](repeating: 0, count: BMIForm.allCases.count)
        for (k, f) in forms.enumerated() { t[Int(f.form.rawValue)] = k }
        return t
    }()

    /// The row of `Insn.bmiForm`.
    public static func form(_ raw: UInt8) -> VEXForm? {
        guard let f = BMIForm(rawValue: raw) else { return nil }
        return forms[byForm[Int(f.rawValue)]]
    }
}
