// The VM-exit MSR-store and MSR-load lists, and a VMX abort when loading host MSRs fails
// (SDM Vol. 3C §27.4 "Saving MSRs", §27.6 "Loading MSRs", §27.7 "VMX Aborts"; the list format is
// §24.7.2 Table 24-12: index 31:0, reserved 63:32, data 127:64).

import Testing
@testable import X86

@Suite("VMX: VM-exit MSR lists and VMX abort")
struct VMXMSRListTests {
    /// The guest runs CPUID (0F A2, unconditional exit). On the exit the CPU stores the guest's
    /// IA32_KERNEL_GS_BASE (C0000102H) into the store list, then loads the host's value from the
    /// load list: the guest value is in memory, the host value in the MSR.
    @Test func exitStoresGuestMSRsThenLoadsHostMSRs() {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0xA2])
        m.cpu.msrs.kernelGSBase = 0x1111_2222
        let store = VX.msrList, load = VX.msrList + 0x100
        m.w32(store, 0xC000_0102); m.w32(store + 4, 0); m.w64(store + 8, 0)
        m.w32(load, 0xC000_0102); m.w32(load + 4, 0); m.w64(load + 8, 0x3333_4444)
        m.vw(.exitMSRStoreAddress, store); m.vw(.exitMSRStoreCount, 1)
        m.vw(.exitMSRLoadAddress, load); m.vw(.exitMSRLoadCount, 1)
        m.expectExit(m.launch(), reason: 10, length: 2, guestRIP: VX.guestCode)
        #expect(m.r64(store + 8) == 0x1111_2222)
        #expect(m.cpu.msrs.kernelGSBase == 0x3333_4444)
    }

    /// A host MSR-load entry naming an x2APIC MSR (index bits 31:8 = 000008H) cannot be loaded:
    /// VMX abort indicator 4 ("error loading host MSRs"); a store-list entry with reserved bits
    /// set cannot be saved: indicator 1 ("failure in saving guest MSRs"). The indicator is written
    /// at byte 4 of the VMCS region and the logical processor shuts down — the machine stops.
    @Test(arguments: [(VMCSFieldID.exitMSRLoadAddress, VMCSFieldID.exitMSRLoadCount, UInt32(0x800), UInt32(0), UInt32(4)),
                      (VMCSFieldID.exitMSRStoreAddress, VMCSFieldID.exitMSRStoreCount, UInt32(0xC000_0102), UInt32(1), UInt32(1))])
    func failedMSRListIsAVMXAbort(_ address: VMCSFieldID, _ count: VMCSFieldID, _ index: UInt32, _ reserved: UInt32, _ indicator: UInt32) {
        let m = TestMachine.long64()
        m.setupGuest([0x0F, 0xA2])
        m.w32(VX.msrList, index); m.w32(VX.msrList + 4, reserved); m.w64(VX.msrList + 8, 0)
        m.vw(address, VX.msrList); m.vw(count, 1)
        let stop = m.launch()
        guard case .vmx(.abort(let got, _)) = stop else {
            Issue.record("expected a VMX abort, stopped with \(stop)")
            return
        }
        #expect(got == indicator)
        #expect(m.r32(VX.vmcs + 4) == indicator)
        #expect(!m.cpu.vmx.nonRoot)
    }
}
