/// The instruction set as tables: one row per instruction form, and everything else derived
/// from the rows — the decoder's flat lookup tables (built once, indexed by opcode on the decode
/// path), the #UD of a form whose CPUID feature the modeled CPU (`CPUModel`) does not report,
/// the executor a form is handed to, and the debugger's mnemonics and operands. As Bochs's
/// ia_opcodes.def and QEMU's X86OpEntry rows do, one description feeds all of them.
///
/// Families described so far: the SSE/MMX forms of the 0F, 0F 38 and 0F 3A maps
/// (`SIMDTable`, ISA+SIMD.swift) and the VEX-encoded general-purpose forms (`VEXTable`,
/// ISA+VEX.swift). The other families are still decoded by the switch in Decoder.swift.

/// A CPUID feature an instruction form requires (SDM Vol. 2A "CPUID—CPU Identification",
/// Table 3-8 "Information Returned by CPUID Instruction"), or a VMX capability where the
/// instruction page names one instead.
public enum CPUFeature: UInt8, Sendable {
    case mmx, sse, sse2, sse3, ssse3, sse41, sse42, bmi1, bmi2
    case aes, pclmulqdq, sha, gfni, keyLocker, cetSS, movdiri, movdir64b, enqcmd, hreset
    /// INVEPT, INVVPID: #UD unless IA32_VMX_PROCBASED_CTLS2 allows "enable EPT" / "enable VPID"
    /// (SDM Vol. 3C §30.3 "VMX Instructions", INVEPT and INVVPID "Invalid-Opcode Exception").
    case ept, vpid

    /// Whether the modeled CPU (`CPUModel`) reports the feature.
    public var isModeled: Bool {
        switch self {
        case .mmx: return CPUModel.leaf1EDX & (1 << 23) != 0
        case .sse: return CPUModel.leaf1EDX & (1 << 25) != 0
        case .sse2: return CPUModel.leaf1EDX & (1 << 26) != 0
        case .sse3: return CPUModel.leaf1ECX & (1 << 0) != 0
        case .ssse3: return CPUModel.leaf1ECX & (1 << 9) != 0
        case .sse41: return CPUModel.leaf1ECX & (1 << 19) != 0
        case .sse42: return CPUModel.leaf1ECX & (1 << 20) != 0
        case .bmi1: return CPUModel.leaf7EBX & (1 << 3) != 0
        case .bmi2: return CPUModel.leaf7EBX & (1 << 8) != 0
        case .aes: return CPUModel.leaf1ECX & (1 << 25) != 0
        case .pclmulqdq: return CPUModel.leaf1ECX & (1 << 1) != 0
        case .sha: return CPUModel.leaf7EBX & (1 << 29) != 0
        case .gfni: return CPUModel.leaf7ECX & (1 << 8) != 0
        case .keyLocker: return CPUModel.leaf7ECX & (1 << 23) != 0
        case .cetSS: return CPUModel.leaf7ECX & (1 << 7) != 0
        case .movdiri: return CPUModel.leaf7ECX & (1 << 27) != 0
        case .movdir64b: return CPUModel.leaf7ECX & (1 << 28) != 0
        case .enqcmd: return CPUModel.leaf7ECX & (1 << 29) != 0
        case .hreset: return false          // CPUID.(EAX=7,ECX=1):EAX[22]; leaf 7 sub-leaf 1 is all zero
        case .ept, .vpid: return false      // the VMX model has no secondary "enable EPT"/"enable VPID"
        }
    }
}
