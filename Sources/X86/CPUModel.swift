/// The one description of the modeled CPU (docs/DESIGN.md, "Capability MSRs describe one coherent CPU").
///
/// A Skylake-SP-class Intel Xeon signature (family 6, model 0x55, stepping 4), reporting
/// **only the features this core implements** — nothing is advertised that the core would
/// ignore. VMX capabilities are in `VMXModel`.
public enum CPUModel {
    public static let vendor = "GenuineIntel"
    public static let brand = "vmxemu virtual CPU (Skylake-SP class)"
    /// CPUID.1:EAX — family 6, model 0x55, stepping 4 (SDM Vol. 2 "CPUID", Figure 3-6).
    public static let signature: UInt32 = 0x0005_0654
    public static let maxBasicLeaf: UInt32 = 0xD
    public static let maxExtendedLeaf: UInt32 = 0x8000_0008

    /// CPUID.1:ECX feature bits.
    public static let leaf1ECX: UInt32 = (1 << 3) /* MONITOR */ | (1 << 5) /* VMX */ | (1 << 13) /* CX16 */ | (1 << 22) /* MOVBE */ | (1 << 23) /* POPCNT */
        | (1 << 17) /* PCID */ | (1 << 26) /* XSAVE */ | (1 << 30) /* RDRAND */
        | (1 << 0) /* SSE3 */ | (1 << 9) /* SSSE3 */ | (1 << 19) /* SSE4.1 */ | (1 << 20) /* SSE4.2 */
    /// CPUID.1:EDX feature bits.
    public static let leaf1EDX: UInt32 = (1 << 0) /* FPU */ | (1 << 24) /* FXSR */ | (1 << 2) /* DE */ | (1 << 3) /* PSE */ | (1 << 4) /* TSC */ | (1 << 11) /* SEP */
        | (1 << 5) /* MSR */ | (1 << 6) /* PAE */ | (1 << 7) /* MCE */ | (1 << 8) /* CX8 */ | (1 << 14) /* MCA: IA32_MCG_CAP, 0 banks */
        | (1 << 12) /* MTRR */ | (1 << 13) /* PGE */ | (1 << 15) /* CMOV */ | (1 << 16) /* PAT */
        | (1 << 17) /* PSE-36 */ | (1 << 19) /* CLFSH */ | (1 << 23) /* MMX */ | (1 << 25) /* SSE */ | (1 << 26) /* SSE2 */
    /// CPUID.(EAX=7,ECX=0):EBX — FSGSBASE, BMI1, BMI2, INVPCID, RDSEED, ADX, CLFLUSHOPT (66 0F AE /7:
    /// executed as CLFLUSH, there being no cache).
    public static let leaf7EBX: UInt32 = (1 << 0) | (1 << 3) | (1 << 8) | (1 << 10) | (1 << 18) | (1 << 19) | (1 << 23)
    /// CPUID.(EAX=7,ECX=0):ECX — RDPID.
    public static let leaf7ECX: UInt32 = 1 << 22
    /// CPUID.80000001H:ECX — LAHF/SAHF in 64-bit mode, LZCNT.
    public static let ext1ECX: UInt32 = (1 << 0) | (1 << 5)
    /// CPUID.80000001H:EDX — SYSCALL, NX, 1-GByte pages, RDTSCP, Intel 64.
    public static let ext1EDX: UInt32 = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29)

    /// XCR0 bits the model supports (x87, SSE) and the size of its XSAVE area.
    public static let xcr0Supported: UInt64 = 0x3
    public static let xsaveAreaSize: UInt32 = 576

    static func chars(_ s: String, _ k: Int) -> UInt32 {
        let b = Array(s.utf8)
        var v: UInt32 = 0
        for j in 0..<4 { let idx = k * 4 + j; v |= UInt32(idx < b.count ? b[idx] : 0) << (8 * UInt32(j)) }
        return v
    }

    /// CPUID for `leaf`/`subleaf` (SDM Vol. 2 "CPUID—CPU Identification").
    public static func cpuid(leaf: UInt32, subleaf: UInt32, cpu: CPU?) -> (UInt32, UInt32, UInt32, UInt32) {
        var leaf = leaf
        // IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2): "Limit CPUID Maxval" (bit 22) makes leaf 0
        // report 2; ENABLE MONITOR FSM (bit 18) = 0 clears CPUID.01H:ECX.MONITOR; XD bit disable
        // (bit 34) clears CPUID.80000001H:EDX.NX.
        let misc = cpu?.msrs.miscEnable ?? MSRFile().miscEnable
        let maxBasic = misc & (1 << 22) != 0 ? 2 : maxBasicLeaf
        // Leaves above the maximum return the highest basic leaf's data (Intel behaviour).
        if leaf >= 0x8000_0000 { if leaf > maxExtendedLeaf { leaf = maxBasic } }
        else if leaf > maxBasic { leaf = maxBasic }
        switch leaf {
        case 0: return (maxBasic, chars(vendor, 0), chars(vendor, 2), chars(vendor, 1))
        case 1:
            // EBX: CLFLUSH line size 8×8 bytes, one logical processor, initial APIC ID 0.
            // ECX.OSXSAVE (bit 27) mirrors CR4.OSXSAVE.
            let osxsave: UInt32 = (cpu?.cr4 ?? 0) & CR4.osxsave != 0 ? 1 << 27 : 0
            let monitor: UInt32 = misc & (1 << 18) != 0 ? 0 : 1 << 3
            // With a local APIC (a machine with a platform): EDX.APIC (9), ECX.x2APIC (21) and
            // ECX.TSC-Deadline (24); the initial APIC ID in EBX[31:24] is 0 (one CPU).
            let apic = cpu?.platform?.hasLocalAPIC == true
            return (signature, (8 << 8) | (1 << 16),
                    (leaf1ECX & ~monitor) | osxsave | (apic ? 1 << 21 | 1 << 24 : 0),
                    leaf1EDX | (apic ? 1 << 9 : 0))
        case 5:
            // MONITOR/MWAIT leaf: 64-byte monitor line; ECX bit 0 = extensions enumerated, bit 1 =
            // interrupts break MWAIT even when masked; no C-state sub-states (SDM Vol. 2 "CPUID", leaf 05H).
            return (64, 64, 0x3, 0)
        case 7: return subleaf == 0 ? (0, leaf7EBX, leaf7ECX, 0) : (0, 0, 0, 0)
        case 0xD:
            // XSAVE (SDM Vol. 1 §13.2 "Enumeration of CPU Support for XSAVE Instructions and
            // XSAVE-Supported Features"): components 0 (x87) and 1 (SSE), both in the 512-byte
            // legacy region, + the 64-byte header = 576 bytes. Sub-leaf 1: EAX = XSAVEOPT (0),
            // XSAVEC (1), XGETBV with ECX = 1 (2), XSAVES/XRSTORS (3); EBX = the compacted size
            // for XCR0 | IA32_XSS (576: both components live in the legacy region); ECX/EDX = no
            // supervisor components (IA32_XSS stays 0).
            switch subleaf {
            case 0: return (UInt32(xcr0Supported), xsaveAreaSize, xsaveAreaSize, 0)
            case 1: return (0xF, xsaveAreaSize, 0, 0)
            default: return (0, 0, 0, 0)
            }
        case 0x8000_0000: return (maxExtendedLeaf, 0, 0, 0)
        case 0x8000_0001: return (0, 0, ext1ECX, misc & (1 << 34) != 0 ? ext1EDX & ~(1 << 20) : ext1EDX)
        case 0x8000_0002, 0x8000_0003, 0x8000_0004:
            let k = Int(leaf - 0x8000_0002) * 4
            let padded = brand
            return (chars(padded, k), chars(padded, k + 1), chars(padded, k + 2), chars(padded, k + 3))
        case 0x8000_0006: return (0, 0, 0x0100_6040, 0)   // 1 MiB L2, 64-byte lines
        case 0x8000_0008: return (UInt32((48 << 8) | maxPhysAddrBits), 0, 0, 0)
        default: return (0, 0, 0, 0)
        }
    }
}
