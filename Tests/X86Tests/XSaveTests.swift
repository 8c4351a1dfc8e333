// XGETBV, XSETBV, XSAVE, XRSTOR, XSAVEOPT with the model's two state components, x87 and SSE
// (SDM Vol. 1 ch. 13; Vol. 2 "XSAVE", "XRSTOR", "XGETBV", "XSETBV"; CPUID leaf 0DH).

import Testing
@testable import X86

@Suite("XSAVE feature set")
struct XSaveTests {
    static let xgetbv: [UInt8] = [0x0F, 0x01, 0xD0], xsetbv: [UInt8] = [0x0F, 0x01, 0xD1]
    static let xsaveRSI: [UInt8] = [0x0F, 0xAE, 0x26], xrstorRSI: [UInt8] = [0x0F, 0xAE, 0x2E]

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
        #expect(CPUModel.cpuid(leaf: 0xD, subleaf: 1, cpu: m.cpu).0 == 1)   // XSAVEOPT only
    }

    @Test func xgetbvXsetbv() {
        let m = machine()
        m[.rcx] = 0
        m.runToHalt(Self.xgetbv)
        #expect(m[.rax] == 1 && m[.rdx] == 0)                          // XCR0 after reset: x87 only
        m[.rax] = 3; m[.rdx] = 0; m[.rcx] = 0
        m.runToHalt(Self.xsetbv + Self.xgetbv)
        #expect(m.cpu.xcr0 == 3 && m[.rax] == 3)
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
        m.w64(Layout.data + 512, 0); m.w64(Layout.data + 520, 1 << 63)   // compacted form: not supported
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.w64(Layout.data + 520, 0); m.w64(Layout.data + 512, 4)          // XSTATE_BV bit 2 ∉ XCR0
        #expect(run(Self.xrstorRSI, at: Layout.data) == 13)
        m.cpu.cr0 |= CR0.ts
        #expect(run(Self.xsaveRSI, at: Layout.data) == 7)                   // #NM
    }
}
