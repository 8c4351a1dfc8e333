// The Intel MultiProcessor Specification table, for kernels that look for it instead of ACPI.
//
// Followed: MultiProcessor Specification, Version 1.4 (May 1997), ch. 4 "MP Configuration Table":
//   §4.1 "MP Floating Pointer Structure", §4.2 "MP Configuration Table Header",
//   §4.3.1 "Processor Entries", §4.3.2 "Bus Entries", §4.3.3 "I/O APIC Entries",
//   §4.3.4 "I/O Interrupt Assignment Entries", §4.3.5 "Local Interrupt Assignment Entries".
// Virtual-wire mode (IMCRP = 0): the 8259s reach the BSP's LINT0 as ExtINT, NMI is on LINT1.

public enum MPTable {
    /// Local APIC version the processor entries report (integrated APIC: 0x14, as the LAPIC model).
    static let localAPICVersion: UInt8 = 0x14
    /// I/O APIC version (82093AA-compatible with 24 entries: 0x20 in the version register's low byte).
    static let ioAPICVersion: UInt8 = 0x20

    /// The floating pointer (16 bytes, at `pointerAddress`, a 16-byte boundary in the BIOS area) and
    /// the configuration table (at `tableAddress`).
    public static func build(_ l: PlatformLayout, pointerAddress: UInt64, tableAddress: UInt64,
                             cpuSignature: UInt32, cpuFeatures: UInt32) -> [FirmwareBlob] {
        var entries: [UInt8] = []
        var count = 0
        for (i, id) in l.apicIDs.enumerated() {
            let flags: UInt8 = i == 0 ? 0x03 : 0x01  // EN, and BP for the bootstrap processor
            entries += [0, id, localAPICVersion, flags] + le32(cpuSignature) + le32(cpuFeatures) + [UInt8](repeating: 0, count: 8)
            count += 1
        }
        let isaBus: UInt8 = 0
        entries += [1, isaBus] + Array("ISA   ".utf8)
        count += 1
        entries += [2, l.ioAPICID, ioAPICVersion, 0x01] + le32(l.ioAPICAddress)
        count += 1
        // ISA IRQs: IRQ0 on pin 2 (the PIT), IRQ n on pin n otherwise; the SCI level, active high.
        for irq in UInt8(0)..<16 where irq != 2 {
            let pin: UInt8 = irq == 0 ? 2 : irq
            let flags: UInt16 = irq == l.sciIRQ ? 0x000D : 0x0000  // PO = 01 (high), EL = 11 (level)
            entries += [3, 0] + le16(flags) + [isaBus, irq, l.ioAPICID, pin]
            count += 1
        }
        // Local interrupts: ExtINT on LINT0, NMI on LINT1, for every local APIC (0xFF).
        entries += [4, 3] + le16(0) + [isaBus, 0, 0xFF, 0]
        entries += [4, 1] + le16(0) + [isaBus, 0, 0xFF, 1]
        count += 2

        var header = Array("PCMP".utf8)
        header += le16(UInt16(44 + entries.count))
        header.append(4)  // specification revision 1.4
        header.append(0)  // checksum, below
        header += Array("VMXEMU  ".utf8)  // OEM ID, 8 bytes
        header += Array("VMXEMU PC   ".utf8)  // product ID, 12 bytes
        header += le32(0) + le16(0)  // OEM table pointer and size
        header += le16(UInt16(count))
        header += le32(l.localAPICAddress)
        header += le16(0) + [0, 0]  // extended table length and checksum, reserved
        var table = header + entries
        table[7] = checksumByte(table)

        var pointer = Array("_MP_".utf8)
        pointer += le32(UInt32(truncatingIfNeeded: tableAddress))
        pointer += [1, 4, 0]  // length in 16-byte paragraphs, revision 1.4, checksum (below)
        pointer += [0, 0, 0, 0, 0]  // feature bytes: configuration table present, IMCRP = 0
        pointer[10] = checksumByte(pointer)
        return [FirmwareBlob(address: pointerAddress, bytes: pointer, signature: "_MP_"),
                FirmwareBlob(address: tableAddress, bytes: table, signature: "PCMP")]
    }
}
