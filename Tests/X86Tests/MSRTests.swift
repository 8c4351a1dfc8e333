// Model-specific registers that software expects of a Skylake-SP-class CPU (SDM Vol. 4 Table 2-2
// "IA-32 Architectural MSRs"): IA32_DEBUGCTL with its defined bits, IA32_MISC_ENABLE with its
// writable bits and their effects on CPUID and MONITOR, the machine-check global MSRs with zero
// banks, and the MTRRs' reserved-bit and memory-type checks. The accesses go through
// `CPU.readMSR`/`writeMSR`, the functions RDMSR and WRMSR call at CPL 0.

import Testing
@testable import X86

extension TestMachine {
    /// WRMSR's outcome: nil, or the fault it raised.
    func wrmsr(_ index: UInt32, _ v: UInt64) -> Fault? {
        do { try cpu.writeMSR(index, v); return nil } catch { return error }
    }
    func rdmsr(_ index: UInt32) -> UInt64? { try? cpu.readMSR(index) }
}

@Suite("MSRs: DEBUGCTL, MISC_ENABLE, machine check, MTRRs")
struct ArchitecturalMSRTests {
    /// IA32_DEBUGCTL (1D9H): LBR (0), BTF (1), TR (6), BTS (7), BTINT (8), BTS_OFF_OS (9),
    /// BTS_OFF_USR (10) are accepted and read back (Vol. 3B §17.4.1 "IA32_DEBUGCTL MSR"); bits
    /// 2–5, 11–15 (features the model does not report: PDCM/PMU freezes, SMM freeze, RTM) and
    /// 16–63 are #GP(0).
    @Test func debugCtlDefinedBits() {
        let m = TestMachine.long64()
        for v: UInt64 in [0x1, 0x2, 0x3, 0x1 | 0x100 | 0x600, 0x0] {
            #expect(m.wrmsr(MSR.debugCtl, v) == nil, "WRMSR IA32_DEBUGCTL 0x\(hex(v))")
            #expect(m.rdmsr(MSR.debugCtl) == v)
        }
        for v: UInt64 in [1 << 2, 1 << 5, 1 << 11, 1 << 14, 1 << 15, 1 << 16, 1 << 63] {
            #expect(m.wrmsr(MSR.debugCtl, v) == .GP(0), "WRMSR IA32_DEBUGCTL 0x\(hex(v))")
        }
    }

    /// The WRMSR instruction too: mov ecx, 1D9H (B9 D9 01 00 00); mov eax, 3 (B8 03 00 00 00);
    /// xor edx, edx (31 D2); wrmsr (0F 30); rdmsr (0F 32) → EAX = 3.
    @Test func debugCtlThroughWRMSR() {
        let m = TestMachine.long64()
        m.runToHalt([0xB9, 0xD9, 0x01, 0x00, 0x00, 0xB8, 0x03, 0x00, 0x00, 0x00, 0x31, 0xD2, 0x0F, 0x30,
                     0x31, 0xC0, 0x0F, 0x32])
        #expect(m[.rax] == 3)
    }

    /// IA32_MISC_ENABLE (1A0H): writing 400C50809H (fast strings, thermal control, EIST, MONITOR
    /// FSM, limit CPUID maxval, xTPR disable, XD disable; bit 11 is read-only) keeps every
    /// writable bit and leaves the read-only ones (7, 11, 12) as they were; a reserved bit (1) is
    /// #GP(0). The read-only reset bits: BTS unavailable (11), PEBS unavailable (12).
    @Test func miscEnableWritableBits() {
        let m = TestMachine.long64()
        m.cpu.efer &= ~EFER.nxe       // XD bit disable needs NXE clear (see below)
        let orig = m.rdmsr(MSR.miscEnable) ?? 0
        #expect(orig & 0x1880 == 0x1800)
        let v: UInt64 = (0x4_00C5_0809 & ~0x1880) | (orig & 0x1880)
        #expect(m.wrmsr(MSR.miscEnable, v) == nil)
        #expect(m.rdmsr(MSR.miscEnable) == v, "IA32_MISC_ENABLE = 0x\(hex(m.rdmsr(MSR.miscEnable) ?? 0))")
        #expect(m.wrmsr(MSR.miscEnable, v | 0x2) == .GP(0))
    }

    /// The writable bits act: limit CPUID maxval (22) makes CPUID.0:EAX = 2; XD bit disable (34)
    /// clears CPUID.80000001H:EDX.NX (bit 20) and makes EFER.NXE reserved; ENABLE MONITOR FSM (18)
    /// = 0 clears CPUID.01H:ECX.MONITOR (bit 3) and makes MONITOR (0F 01 C8) #UD.
    @Test func miscEnableEffects() {
        let m = TestMachine.long64()
        m.cpu.efer &= ~EFER.nxe
        let base = (m.rdmsr(MSR.miscEnable) ?? 0) & ~(UInt64(1) << 18)
        #expect(m.wrmsr(MSR.miscEnable, base | 1 << 22 | 1 << 34) == nil)
        #expect(CPUModel.cpuid(leaf: 0, subleaf: 0, cpu: m.cpu).0 == 2)
        #expect(CPUModel.cpuid(leaf: 0x8000_0001, subleaf: 0, cpu: m.cpu).3 & (1 << 20) == 0)
        #expect(CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: m.cpu).2 & (1 << 3) == 0)
        #expect(m.wrmsr(MSR.efer, m.cpu.efer | EFER.nxe) == .GP(0))
        m[.rax] = Layout.data; m[.rcx] = 0; m[.rdx] = 0
        m.expectException(m.run([0x0F, 0x01, 0xC8, 0xF4], steps: 5), vector: 6, rip: Layout.code)
    }

    /// Machine check with zero banks (Vol. 3B §15.3.1 "Machine-Check Global Control MSRs"):
    /// CPUID.01H:EDX.MCA (bit 14) is set; IA32_MCG_CAP (179H) reads 0 (count 0, no MCG_CTL_P) and
    /// is read-only; IA32_MCG_STATUS (17AH) reads and writes its three flags; IA32_MCG_CTL (17BH)
    /// and IA32_MC0_CTL (400H) do not exist (#GP(0)).
    @Test func machineCheckMSRs() {
        let m = TestMachine.long64()
        #expect(CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: m.cpu).3 & (1 << 14) != 0)
        #expect(m.rdmsr(MSR.mcgCap) == 0)
        #expect(m.wrmsr(MSR.mcgCap, 0) == .GP(0))
        #expect(m.rdmsr(MSR.mcgStatus) == 0)
        #expect(m.wrmsr(MSR.mcgStatus, 0) == nil)
        #expect(m.wrmsr(MSR.mcgStatus, 1 << 3) == .GP(0))
        #expect(m.rdmsr(MSR.mcgCtl) == nil && m.wrmsr(MSR.mcgCtl, 0) == .GP(0))
        #expect(m.rdmsr(0x400) == nil && m.wrmsr(0x400, 0) == .GP(0))
    }

    /// MTRRs (SDM Vol. 3A §12.11.2 "Setting Memory Ranges with MTRRs"): an undefined memory type
    /// (2, 3, 7) or a reserved bit is #GP(0) — PHYSBASE bits 11:8 and above MAXPHYADDR (46),
    /// PHYSMASK bits 10:0, fixed-range fields, the default type; valid values are kept.
    @Test func mtrrChecks() {
        let m = TestMachine.long64()
        #expect(m.wrmsr(0x200, 0x8000_0006) == nil && m.rdmsr(0x200) == 0x8000_0006)          // PHYSBASE0 WB
        #expect(m.wrmsr(0x201, 0x3FFF_F800_0800) == nil)                                      // PHYSMASK0, V
        #expect(m.wrmsr(0x200, 0x8000_0002) == .GP(0))
        #expect(m.wrmsr(0x200, 0x8000_0106) == .GP(0))
        #expect(m.wrmsr(0x200, UInt64(1) << 46 | 6) == .GP(0))
        #expect(m.wrmsr(0x201, 0x800 | 1) == .GP(0))
        #expect(m.wrmsr(0x250, 0x0606_0606_0606_0606) == nil)
        #expect(m.wrmsr(0x250, 0x0606_0606_0606_0607) == .GP(0))
        #expect(m.wrmsr(MSR.mtrrDefType, 0xC03) == .GP(0))
        #expect(m.wrmsr(MSR.mtrrDefType, 0xC06) == nil)
    }
}
