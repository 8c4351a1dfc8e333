// XGETBV, XSETBV, XSAVE, XRSTOR, XSAVEOPT, XSAVEC, XSAVES, XRSTORS with the model's two state
// components, x87 and SSE (SDM Vol. 1 ch. 13; Vol. 2 "XSAVE", "XRSTOR", "XSAVEC", "XSAVES",
// "XRSTORS", "XGETBV", "XSETBV"; CPUID leaf 0DH).

import Testing
@testable import X86

@Suite("XSAVE feature set")
struct XSaveTests {
    static let xgetbv: [UInt8] = [0x0F, 0x01, 0xD0], xsetbv: [UInt8] = [0x0F, 0x01, 0xD1]
    static let xsaveRSI: [UInt8] = [0x0F, 0xAE, 0x26], xrstorRSI: [UInt8] = [0x0F, 0xAE, 0x2E]
    static let xsavecRSI: [UInt8] = [0x0F, 0xC7, 0x26], xsavesRSI: [UInt8] = [0x0F, 0xC7, 0x2E]
    static let xrstorsRSI: [UInt8] = [0x0F, 0xC7, 0x1E]

    func machine() -> TestMachine {
        let m = TestMachine.long64()
        m.cpu.cr4 |= CR4.osxsave | CR4.osfxsr
        return m
    }

    @Test func cpuidEnumeration() {
        let m = machine()
        let (_, _, c1, _) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: m.cpu)
        #expect(c1 & (1 << 26) != 0 && c1 & (1 << 27) != 0)     // XSAVE, OSXSAVE (CR4 mirror)
        let (_, _, c1off, _) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: TestMachine.long64().cpu)
        #expect(c1off & (1 << 27) == 0)
        let (a, b, c, d) = CPUModel.cpuid(leaf: 0xD, subleaf: 0, cpu: m.cpu)
        #expect(a == 3 && b == 576 && c == 576 && d == 0)
        // Sub-leaf 1: XSAVEOPT, XSAVEC, XGETBV ECX = 1, XSAVES; compacted size 576; IA32_XSS bits none.
        let (a1, b1, c1x, d1) = CPUModel.cpuid(leaf: 0xD, subleaf: 1, cpu: m.cpu)
        #expect(a1 == 0xF && b1 == 576 && c1x == 0 && d1 == 0)
    }

    @Test func xgetbvXsetbv() {
        let m = machine()
        m[.rcx] = 0
        m.runToHalt(Self.xgetbv)
        #expect(m[.rax] == 1 && m[.rdx] == 0)                          // XCR0 after reset: x87 only
        m[.rax] = 3; m[.rdx] = 0; m[.rcx] = 0
        m.runToHalt(Self.xsetbv + Self.xgetbv)
        #expect(m.cpu.xcr0 == 3 && m[.rax] == 3)
        m[.rcx] = 1; m[.rax] = 0; m[.rdx] = 0                           // XGETBV ECX = 1: XCR0 AND XINUSE
        m.runToHalt(Self.xgetbv)
        #expect(m[.rax] == 3 && m[.rdx] == 0)
        m[.rcx] = 2
        m.load(Self.xgetbv + [0xF4]); m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 5)) == 13)                   // no XCR2
        for (eax, ecx) in [(UInt64(2), UInt64(0)), (7, 0), (3, 1)] {     // bit 0 clear, AVX, XCR1
            m[.rax] = eax; m[.rdx] = 0; m[.rcx] = ecx
            m.load(Self.xsetbv + [0xF4]); m.rip = Layout.code
            #expect(m.vector(m.cpu.run(budget: 5)) == 13, "EAX=\(eax) ECX=\(ecx)")
        }
        // Without CR4.OSXSAVE: #UD.
        let n = TestMachine.long64()
        n.load(Self.xgetbv + [0xF4]); n.rip = Layout.code
        #expect(n.vector(n.cpu.run(budget: 5)) == 6)
    }

    @Test func saveAndRestoreRoundTrip() {
        let m = machine()
        m.cpu.xcr0 = 3
        let area = Layout.data + 0x400          // 64-byte aligned
        for k in 0..<32 { m.cpu.xmm[k] = 0x1111_0000_0000_0000 &* UInt64(k + 1) }
        m.cpu.mxcsr = 0x9FC0
        m.cpu.x87.fcw = 0x027F
        m.cpu.x87.top = 7; m.cpu.x87.emptyMask = 0x7F
        m.cpu.x87.setRegister(7, mantissa: 0xC000_0000_0000_0000, signExponent: 0x3FFF)   // ST(0) = 1.5
        m.w64(area + 512, 0x8000_0000_0000_0004)   // XSTATE_BV: bits outside RFBM are kept
        m[.rsi] = area; m[.rax] = 3; m[.rdx] = 0
        m.runToHalt(Self.xsaveRSI)
        #expect(m.r16(area) == 0x027F && m.r64(area + 32) == 0xC000_0000_0000_0000)
        #expect(m.r32(area + 24) == 0x9FC0 && m.r32(area + 28) == 0xFFFF)
        #expect(m.r64(area + 160) == 0x1111_0000_0000_0000 && m.r64(area + 160 + 15 * 16 + 8) == 0x1111_0000_0000_0000 &* 32)
        #expect(m.r64(area + 512) == 0x8000_0000_0000_0007)
        // Scramble, then XRSTOR brings everything back.
        for k in 0..<32 { m.cpu.xmm[k] = 0 }
        m.cpu.mxcsr = 0x1F80; m.cpu.x87 = X87State()
        m.w64(area + 512, 3)
        m.runToHalt(Self.xrstorRSI)
        #expect(m.cpu.xmm[31] == 0x1111_0000_0000_0000 &* 32 && m.cpu.mxcsr == 0x9FC0)
        #expect(m.cpu.x87.fcw == 0x027F && m.cpu.x87.register(7).mantissa == 0xC000_0000_0000_0000 && m.cpu.x87.emptyMask == 0x7F)
        // XSTATE_BV = 0: both components go to their initial configuration; MXCSR still loads.
        m.w64(area + 512, 0)
        m.w32(area + 24, 0x1F80 | 0x6000)          // RC = toward zero
        m.runToHalt(Self.xrstorRSI)
        #expect(m.cpu.xmm[31] == 0 && m.cpu.mxcsr == 0x7F80)
        #expect(m.cpu.x87.fcw == 0x037F && m.cpu.x87.emptyMask == 0xFF)
    }

    @Test func faults() {
        let m = machine()
        m.cpu.xcr0 = 3
        m[.rax] = 3; m[.rdx] = 0
        func run(_ code: [UInt8], at area: UInt64) -> Int? {
            m[.rsi] = area
            m.load(code + [0xF4]); m.rip = Layout.code
            return m.vector(m.cpu.run(budget: 5))
        }
        #expect(run(Self.xsaveRSI, at: Layout.data + 0x410) == 13)        // not 64-byte aligned
        m.w64(Layout.data + 512, 0); m.w64(Layout.data + 520, 1 << 63 | 4)   // compacted: XCOMP_BV bit 2 ∉ XCR0
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.w64(Layout.data + 512, 2); m.w64(Layout.data + 520, 1 << 63 | 1)   // XSTATE_BV ⊄ XCOMP_BV
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.w64(Layout.data + 512, 1); m.w64(Layout.data + 560, 1)              // header byte 48 ≠ 0
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.w64(Layout.data + 560, 0)
        #expect(run(Self.xrstorRSI, at: Layout.data) == nil)                  // now a valid compacted area
        m.w64(Layout.data + 520, 0); m.w64(Layout.data + 512, 4)          // XSTATE_BV bit 2 ∉ XCR0
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.cpu.cr0 |= CR0.ts
        #expect(run(Self.xsaveRSI, at: Layout.data) == 7)                   // #NM
    }

    /// XSAVEC writes the compacted header — XSTATE_BV = RFBM AND XINUSE, XCOMP_BV = 2⁶³ | RFBM —
    /// and leaves header bytes 63:16 alone (SDM Vol. 1 §13.10); the compacted XRSTOR then loads the
    /// state, and with XSTATE_BV[1] = 0 sets MXCSR to 1F80H instead of loading it (§13.8.2).
    @Test func xsavecAndCompactedRestore() {
        let m = machine()
        m.cpu.xcr0 = 3
        let area = Layout.data + 0x400
        for k in 0..<32 { m.cpu.xmm[k] = 0x2222_0000_0000_0000 | UInt64(k) }
        m.cpu.mxcsr = 0x9FC0
        m.cpu.x87.fcw = 0x027F
        m.w64(area + 512, 0xFFFF); m.w64(area + 520, 0xFFFF); m.w64(area + 560, 0x5A5A)
        m[.rsi] = area; m[.rax] = 2; m[.rdx] = 0            // RFBM = SSE only
        m.runToHalt(Self.xsavecRSI)
        #expect(m.r64(area + 512) == 2 && m.r64(area + 520) == 0x8000_0000_0000_0002)
        #expect(m.r64(area + 560) == 0x5A5A, "bytes 63:16 untouched")
        #expect(m.r32(area + 24) == 0x9FC0 && m.r64(area + 160 + 16 * 5) == 0x2222_0000_0000_000A)   // XMM5[63:0] = xmm[10]
        #expect(m.r16(area) != 0x027F, "x87 not in RFBM: not saved")
        m.w64(area + 560, 0)
        // Restore (RFBM = 3): SSE from the area; x87 not in XSTATE_BV → initial configuration.
        for k in 0..<32 { m.cpu.xmm[k] = 0 }
        m.cpu.mxcsr = 0x1F80
        m[.rax] = 3
        m.runToHalt(Self.xrstorRSI)
        #expect(m.cpu.xmm[10] == 0x2222_0000_0000_000A && m.cpu.mxcsr == 0x9FC0)
        #expect(m.cpu.x87.fcw == 0x037F && m.cpu.x87.emptyMask == 0xFF)
        // XSTATE_BV = 0: SSE to its initial configuration and MXCSR = 1F80H (the area's 9FC0H ignored).
        m.w64(area + 512, 0)
        m.runToHalt(Self.xrstorRSI)
        #expect(m.cpu.xmm[10] == 0 && m.cpu.mxcsr == 0x1F80)
    }

    /// XSAVES/XRSTORS: CPL 0 only, XRSTORS only from the compacted format; IA32_XSS (MSR DA0H)
    /// reads 0 and refuses any bit (no supervisor components) (SDM Vol. 1 §13.11, §13.12; Vol. 2C
    /// "XSAVES", "XRSTORS").
    @Test func xsavesAndXrstors() {
        let m = machine()
        m.cpu.xcr0 = 3
        let area = Layout.data + 0x400
        m.cpu.mxcsr = 0x3F80
        m[.rsi] = area; m[.rax] = 3; m[.rdx] = 0
        m.runToHalt(Self.xsavesRSI)
        #expect(m.r64(area + 512) == 3 && m.r64(area + 520) == 0x8000_0000_0000_0003 && m.r32(area + 24) == 0x3F80)
        m.cpu.mxcsr = 0x1F80
        m.runToHalt(Self.xrstorsRSI)
        #expect(m.cpu.mxcsr == 0x3F80)
        m.w64(area + 520, 0)                                            // standard format: #GP for XRSTORS
        m.load(Self.xrstorsRSI + [0xF4]); m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 5)) == 13)
        // IA32_XSS: RDMSR 0, WRMSR of bit 8 #GP.
        m[.rcx] = 0xDA0
        m.runToHalt([0x0F, 0x32])
        #expect(m[.rax] == 0 && m[.rdx] == 0)
        m[.rax] = 0x100
        m.load([0x0F, 0x30, 0xF4]); m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 5)) == 13)
        // CPL 3: #GP(0) for XSAVES; XSAVEC is fine.
        m[.rax] = 3
        m.cpu.cpl = 3
        m.load(Self.xsavesRSI + [0xF4]); m.rip = Layout.code
        #expect(m.vector(m.cpu.run(budget: 5)) == 13)
    }
}
