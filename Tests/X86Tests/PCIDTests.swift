// PCID and INVPCID (SDM Vol. 3A §4.10.1 "Process-Context Identifiers (PCIDs)", §4.10.4.1;
// Vol. 2B "MOV—Move to/from Control Registers", "INVPCID").

import Testing
@testable import X86

@Suite("PCID and INVPCID")
struct PCIDTests {
    static let movCR4RAX: [UInt8] = [0x0F, 0x22, 0xE0], movCR3RAX: [UInt8] = [0x0F, 0x22, 0xD8]
    static let invpcidRAXRSI: [UInt8] = [0x66, 0x0F, 0x38, 0x82, 0x06]

    @Test func advertised() {
        let (_, _, c1, _) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: nil)
        let (_, b7, _, _) = CPUModel.cpuid(leaf: 7, subleaf: 0, cpu: nil)
        #expect(c1 & (1 << 17) != 0 && b7 & (1 << 10) != 0)
    }

    @Test func pcidInCR3AndTheNoFlushBit() {
        let m = TestMachine.long64()
        let cr3 = m.cpu.cr3
        m[.rax] = m.cpu.cr4 | CR4.pcide
        m[.rbx] = cr3 | 5 | 1 << 63
        m.runToHalt(Self.movCR4RAX + [0x48, 0x89, 0xD8] + Self.movCR3RAX)   // mov cr4, rax; mov rax, rbx; mov cr3, rax
        #expect(m.cpu.cr4 & CR4.pcide != 0)
        #expect(m.cpu.cr3 == cr3 | 5)                     // bit 63 is a hint, not stored
        // Translation still uses CR3[51:12]: the code after the loads ran, and a read works.
        m.w64(Layout.data, 0x1122_3344)
        m.runToHalt([0x48, 0x8B, 0x04, 0x25] + le(UInt32(Layout.data)))
        #expect(m[.rax] == 0x1122_3344)
    }

    @Test func settingPCIDERequiresLongModeAndPCIDZero() {
        let m = TestMachine.long64()
        m.cpu.cr3 |= 3
        m[.rax] = m.cpu.cr4 | CR4.pcide
        m.load(Self.movCR4RAX + [0xF4]); m.rip = Layout.code
        m.expectException(m.cpu.run(budget: 10), vector: 13, error: 0, rip: Layout.code)
        let p = TestMachine.protected32()
        p[.rax] = p.cpu.cr4 | CR4.pcide
        p.load(Self.movCR4RAX + [0xF4]); p.rip = Layout.code
        #expect(p.vector(p.cpu.run(budget: 10)) == 13)
        #expect(p.cpu.cr4 & CR4.pcide == 0)
    }

    @Test func invpcidChecks() {
        let m = TestMachine.long64()
        m[.rsi] = Layout.data
        func run(type: UInt64, pcid: UInt64, addr: UInt64) -> StopCause {
            m[.rax] = type
            m.w64(Layout.data, pcid); m.w64(Layout.data + 8, addr)
            m.load(Self.invpcidRAXRSI + [0xF4]); m.rip = Layout.code
            return m.cpu.run(budget: 10)
        }
        #expect(run(type: 2, pcid: 0, addr: 0) == .halted(rip: Layout.code + 5, interruptsEnabled: false))
        #expect(run(type: 0, pcid: 0, addr: 0x1000) == .halted(rip: Layout.code + 5, interruptsEnabled: false))
        #expect(m.vector(run(type: 4, pcid: 0, addr: 0)) == 13)                       // type > 3
        #expect(m.vector(run(type: 0, pcid: 0, addr: 0x8000_0000_0000_0000)) == 13)   // non-canonical
        #expect(m.vector(run(type: 1, pcid: 0x1000, addr: 0)) == 13)                  // PCID bits 63:12
        #expect(m.vector(run(type: 1, pcid: 7, addr: 0)) == 13)                       // PCIDE = 0, PCID ≠ 0
    }
}
