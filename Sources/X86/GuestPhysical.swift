/// The guest-physical → host-physical step of address translation.
///
/// Every physical address the page walk produces — each paging-structure entry it reads or
/// updates, and the final address of the access — is a guest-physical address, turned into the
/// host-physical address that indexes `PhysicalMemory` by `hostPhysical`. Today nothing is
/// installed and the step is the identity. EPT plugs in here (SDM Vol. 3C ch. 28 "VMX Support for
/// Address Translation", §28.2 "The Extended Page Table Mechanism (EPT)": "guest-physical
/// addresses are translated by traversing a set of EPT paging structures", including "the
/// guest-physical addresses used to access the guest's paging structures"): its translation
/// throws the VM exit of an EPT violation or misconfiguration (a `Fault.redirect`) and the
/// software TLB caches the combined linear → host-physical result, so the hot path never sees
/// the second step. (Still identity-mapped when EPT comes: the PAE PDPTEs loaded with CR3,
/// §4.4.1, and the VMCS-referenced addresses, which EPT does not translate.)

/// What the access through a guest-physical address is for.
public enum GuestPhysicalAccess: UInt8, Sendable {
    case read, write, fetch
    /// A read of a paging-structure entry during the walk.
    case pagingRead
    /// The accessed/dirty update of a paging-structure entry (a write, SDM Vol. 3A §4.8).
    case pagingWrite
}

/// A second level of translation (EPT, later).
public protocol GuestPhysicalTranslation: AnyObject {
    /// The host-physical address of `gpa` for `access`, or the fault the translation raises.
    /// `linear` is the linear address being translated (EPT reports it in the exit qualification
    /// and the guest-linear-address field, §27.2.1). `sideEffects` is false for the debugger's
    /// walks: no accessed/dirty updates, no VM exits recorded.
    func hostPhysical(_ gpa: UInt64, access: GuestPhysicalAccess, linear: UInt64, sideEffects: Bool, cpu: CPU) throws(Fault) -> UInt64
}

extension CPU {
    /// The second step: identity unless a translation is installed.
    @inline(__always) func hostPhysical(_ gpa: UInt64, _ access: GuestPhysicalAccess, linear: UInt64, sideEffects: Bool = true) throws(Fault) -> UInt64 {
        guard let t = secondLevel else { return gpa }
        return try t.hostPhysical(gpa, access: access, linear: linear, sideEffects: sideEffects, cpu: self)
    }
}
