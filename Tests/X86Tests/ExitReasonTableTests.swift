// The basic-exit-reason table (SDM Vol. 3D Appendix C "VMX Basic Exit Reasons", Table C-1): one
// row per reason, every reason with its row, names unique (they are what scripts type).

import Testing
@testable import X86

@Suite struct ExitReasonTableTests {
    @Test func everyReasonHasExactlyOneRowInNumberOrder() {
        #expect(VMXExitReason.table.map(\.reason) == VMXExitReason.allCases)
        #expect(VMXExitReason.table.map(\.reason.rawValue) == VMXExitReason.table.map(\.reason.rawValue).sorted())
        let spellings = VMXExitReason.table.flatMap { [$0.name] + $0.aliases }
        #expect(Set(spellings).count == spellings.count)
        #expect(VMXExitReason.allCases.allSatisfy { !$0.name.hasPrefix("REASON_") })
    }

    @Test func rowsCarryNameAndTitle() {
        #expect(VMXExitReason.movDR.name == "DR_ACCESS")
        #expect(VMXExitReason.movDR.aliases == ["MOV_DR"])
        #expect(VMXExitReason.invalidGuestState.sdmName == "VM-entry failure due to invalid guest state")
        #expect(VMXExitReason.lookup("io") == .ioInstruction)
        #expect(VMXExitReason.lookup("0x1e") == .ioInstruction)
    }
}
