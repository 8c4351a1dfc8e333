/// The one pinned edition of the Intel SDM that every VMX citation in this module refers to.
///
/// Section numbers follow this edition's numbering, which is also that of the project's seed
/// document (Vol. 3C: ch. 23 "Introduction to Virtual Machine Extensions", ch. 24 "Virtual Machine
/// Control Structures", ch. 25 "VMX Non-Root Operation", ch. 26 "VM Entries", ch. 27 "VM Exits",
/// ch. 30 "VMX Instruction Reference"; Appendix A "VMX Capability Reporting Facility",
/// Appendix B "Field Encoding in VMCS", Appendix C "VMX Basic Exit Reasons").
public enum SDM {
    public static let edition = "Intel® 64 and IA-32 Architectures Software Developer's Manual, Order Number 325462-077US (April 2022)"

    /// A section of the pinned edition: its number and its title, as printed.
    public struct Ref: Sendable, Hashable, CustomStringConvertible {
        public let section: String
        public let title: String
        public init(_ section: String, _ title: String) { self.section = section; self.title = title }
        public var description: String { "SDM §\(section) \"\(title)\"" }
    }
}
