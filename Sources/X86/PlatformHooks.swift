/// What the machine around the CPU answers for it: the local APIC's MSRs (IA32_APIC_BASE, the
/// x2APIC range, IA32_TSC_DEADLINE) and CR8, which is the APIC's TPR[7:4] (SDM Vol. 3A §10.4.4
/// "Local APIC Status and Location", §10.12.1.2 "x2APIC Register Address Space", §10.5.4.1
/// "TSC-Deadline Mode", §10.8.6.1 "Interaction of Task Priorities between CR8 and APIC").
///
/// A CPU without a platform (unit tests, the KVM differential machine) has no local APIC: CPUID
/// says so, IA32_APIC_BASE is a plain register and CR8 is stored in the CPU. None of this is on the
/// hot path.
public protocol CPUPlatform: AnyObject {
    /// CPUID.1:EDX.APIC, ECX.x2APIC and ECX.TSC-Deadline are reported.
    var hasLocalAPIC: Bool { get }
    /// The platform's MSRs: nil when `index` is not one of them; `.some(nil)` when the read #GPs.
    func platformReadMSR(_ index: UInt32) -> UInt64??
    /// nil when `index` is not a platform MSR; false when the write #GPs.
    func platformWriteMSR(_ index: UInt32, _ value: UInt64) -> Bool?
    /// CR8 as the APIC sees it (TPR[7:4]).
    var cr8: UInt64 { get set }
}
