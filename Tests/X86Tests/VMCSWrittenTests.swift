// Which VMCS fields software wrote since VMCLEAR (the debugger's "never written" warnings): a
// bitmap in our VMCS region format (VMCSLayout.writtenBitmapOffset), set by VMWRITE, cleared
// by VMCLEAR. Fields the CPU itself writes (VM-exit information, guest state on exits) do not
// count: the question is what the VMM forgot.

import Testing
@testable import X86

@Suite("VMCS: fields written since VMCLEAR")
struct VMCSWrittenTests {
    @Test func vmwriteMarksAndVmclearClears() {
        let m = TestMachine.long64()
        m.vmxonWithVMCS()
        #expect(!m.cpu.vmcsWritten(.guestRIP, at: VX.vmcs))
        // vmwrite rcx, rax with RCX = 681EH (guest RIP): VMsucceed, the field is marked.
        m[.rcx] = UInt64(VMCSFieldID.guestRIP.rawValue); m[.rax] = 0x1234
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget && m.arith == 0)
        #expect(m.cpu.vmcsWritten(.guestRIP, at: VX.vmcs))
        #expect(!m.cpu.vmcsWritten(.guestRSP, at: VX.vmcs))
        // The high half of a 64-bit field (2807H: guest IA32_EFER, high) marks that field.
        m[.rcx] = UInt64(VMCSFieldID.guestEFER.rawValue | 1); m[.rax] = 0
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget && m.arith == 0)
        #expect(m.cpu.vmcsWritten(.guestEFER, at: VX.vmcs))
        // A failed VMWRITE (read-only field, VMfailValid(13)) marks nothing.
        m[.rcx] = UInt64(VMCSFieldID.exitReason.rawValue)
        #expect(m.run(VOp.vmwriteRCX_RAX, steps: 1) == .budget)
        #expect(!m.cpu.vmcsWritten(.exitReason, at: VX.vmcs))
        // VMCLEAR forgets everything; the data itself stays (our format writes it through).
        #expect(m.vmxInsn(VOp.vmclear, pointer: VX.vmcs) == .budget && m.arith == 0)
        #expect(!m.cpu.vmcsWritten(.guestRIP, at: VX.vmcs) && !m.cpu.vmcsWritten(.guestEFER, at: VX.vmcs))
        #expect(m.cpu.vmcsRead(.guestRIP, at: VX.vmcs) == 0x1234)
    }

    /// Every field has a bit inside the 64-byte bitmap, which lies inside the 4-KiB region and
    /// after the last field's storage.
    @Test func bitmapFitsTheRegion() {
        #expect(VMCSFields.all.count <= 512)
        let lastField = VMCSFieldID.allCases.map { VMCSLayout.location($0.rawValue) }.map { $0.offset + $0.size }.max() ?? 0
        #expect(lastField <= VMCSLayout.writtenBitmapOffset)
        #expect(VMCSLayout.writtenBitmapOffset + 64 <= 4096)
    }
}
