// The ACPI tables vmxemu builds at boot, as a PC's firmware would leave them in memory.
//
// Followed: ACPI Specification 6.4 (January 2021):
//   §5.2.5.3 "Root System Description Pointer (RSDP) Structure"
//   §5.2.6   "System Description Table Header"
//   §5.2.7   "Root System Description Table (RSDT)", §5.2.8 "Extended System Description Table (XSDT)"
//   §5.2.9   "Fixed ACPI Description Table (FADT)", §5.2.10 "Firmware ACPI Control Structure (FACS)"
//   §5.2.11.1 "Differentiated System Description Table (DSDT)"
//   §5.2.12  "Multiple APIC Description Table (MADT)" (§5.2.12.2 Processor Local APIC, §5.2.12.3 I/O
//            APIC, §5.2.12.5 Interrupt Source Override, §5.2.12.7 Local APIC NMI)
//   §5.2.3.2 "Generic Address Structure (GAS)"
//   §7.4.2   "\_Sx (System States)" and §20 "ACPI Machine Language (AML) Specification" for the DSDT
// and the IA-PC HPET (High Precision Event Timers) Specification 1.0a, §3.2.4 "The ACPI 2.0 HPET
// Description Table (HPET)".
//
// The tables are pure data: `ACPITables.build` lays them out from a `PlatformLayout` (where the
// devices are) at a base address and returns the bytes to copy into guest RAM, with the RSDP apart
// (it must sit on a 16-byte boundary in the BIOS area 0xE0000–0xFFFFF, §5.2.5.1 "Finding the RSDP
// on IA-PC Systems").

/// Where the platform's devices are: what the firmware tables describe.
public struct PlatformLayout: Sendable, Equatable {
    /// Local APIC IDs of the processors (one entry per CPU, in ACPI processor UID order).
    public var apicIDs: [UInt8] = [0]
    public var localAPICAddress: UInt32 = 0xFEE0_0000
    public var ioAPICID: UInt8 = 0
    public var ioAPICAddress: UInt32 = 0xFEC0_0000
    public var hpetAddress: UInt64 = 0xFED0_0000
    /// Comparators of the HPET (3 on an ICH-class chipset).
    public var hpetComparators: Int = 3
    /// The SCI's ISA IRQ (PIIX4: 9, level-triggered, active high).
    public var sciIRQ: UInt8 = 9
    /// PM1a event block (4 ports: PM1_STS, PM1_EN), PM1a control block (2 ports), PM timer (4 ports).
    public var pm1aEventPort: UInt16 = 0x600
    public var pm1aControlPort: UInt16 = 0x604
    public var pmTimerPort: UInt16 = 0x608
    /// GPE0 block (4 ports: 2 status, 2 enable).
    public var gpe0Port: UInt16 = 0x620
    /// The reset register (I/O port 0xCF9, value 0x06: a hard reset through the PCI reset control
    /// register, as ICH/PIIX-class chipsets and QEMU's q35 do).
    public var resetPort: UInt16 = 0xCF9
    public var resetValue: UInt8 = 0x06
    /// The RTC CMOS index of the century byte (0x32 on a PC).
    public var rtcCenturyIndex: UInt8 = 0x32
    /// SLP_TYP value of S5 in PM1_CNT (bits 12:10), which the DSDT's \_S5 package publishes.
    public var s5SleepType: UInt8 = 5

    public init() {}
}

/// One table's bytes and where it goes.
public struct FirmwareBlob: Sendable, Equatable {
    public var address: UInt64
    public var bytes: [UInt8]
    public var signature: String
}

/// The built tables: the RSDP (for the BIOS area) and the rest (contiguous from `base`).
public struct ACPITables: Sendable {
    public var rsdp: FirmwareBlob
    public var tables: [FirmwareBlob]
    /// The range the tables occupy from `base` (the e820 map marks it ACPI, type 3).
    public var tablesRange: Range<UInt64>

    /// OEM fields of every table header.
    static let oemID: [UInt8] = Array("VMXEMU".utf8)
    static let oemTableID: [UInt8] = Array("VMXEMUPC".utf8)
    static let creatorID: [UInt8] = Array("VMXE".utf8)

    /// Lays the tables out from `base` (each table 16-byte aligned, the FACS 64-byte aligned) and the
    /// RSDP at `rsdpAddress` (a 16-byte boundary in 0xE0000–0xFFFFF).
    public static func build(_ layout: PlatformLayout, base: UInt64, rsdpAddress: UInt64) -> ACPITables {
        var placed: [FirmwareBlob] = []
        var cursor = base
        func place(_ signature: String, _ bytes: [UInt8], align: UInt64 = 16) -> UInt64 {
            cursor = (cursor + align - 1) & ~(align - 1)
            let at = cursor
            placed.append(FirmwareBlob(address: at, bytes: bytes, signature: signature))
            cursor += UInt64(bytes.count)
            return at
        }
        let facs = place("FACS", facsTable(), align: 64)
        let dsdt = place("DSDT", dsdtTable(layout))
        let fadt = place("FACP", fadtTable(layout, facs: facs, dsdt: dsdt))
        let madt = place("APIC", madtTable(layout))
        let hpet = place("HPET", hpetTable(layout))
        let pointers = [fadt, madt, hpet]
        let rsdt = place("RSDT", sdt("RSDT", revision: 1, body: pointers.flatMap { le32(UInt32(truncatingIfNeeded: $0)) }))
        let xsdt = place("XSDT", sdt("XSDT", revision: 1, body: pointers.flatMap { le64($0) }))
        let rsdp = FirmwareBlob(address: rsdpAddress, bytes: rsdpStructure(rsdt: rsdt, xsdt: xsdt), signature: "RSD PTR ")
        return ACPITables(rsdp: rsdp, tables: placed, tablesRange: base..<cursor)
    }

    // MARK: - The tables

    /// §5.2.5.3: 36 bytes; the checksum covers the first 20 (ACPI 1.0's structure), the extended
    /// checksum all 36.
    static func rsdpStructure(rsdt: UInt64, xsdt: UInt64) -> [UInt8] {
        var b = Array("RSD PTR ".utf8)
        b.append(0)  // checksum, below
        b += oemID
        b.append(2)  // revision: ACPI 2.0 and later
        b += le32(UInt32(truncatingIfNeeded: rsdt))
        b += le32(36)
        b += le64(xsdt)
        b.append(0)  // extended checksum, below
        b += [0, 0, 0]
        b[8] = checksumByte(b[0..<20])
        b[32] = checksumByte(b[0..<36])
        return b
    }

    /// §5.2.6: the 36-byte header, then `body`; length and checksum filled in.
    static func sdt(_ signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var b = Array(signature.utf8)
        b += le32(UInt32(36 + body.count))
        b.append(revision)
        b.append(0)  // checksum, below
        b += oemID
        b += oemTableID
        b += le32(1)  // OEM revision
        b += creatorID
        b += le32(1)  // creator revision
        b += body
        b[9] = checksumByte(b[...])
        return b
    }

    /// §5.2.10: 64 bytes, no checksum; hardware signature 0, no waking vector, version 2.
    static func facsTable() -> [UInt8] {
        var b = Array("FACS".utf8)
        b += le32(64)
        b += le32(0)  // hardware signature
        b += le32(0)  // firmware waking vector
        b += le32(0)  // global lock
        b += le32(0)  // flags
        b += le64(0)  // X firmware waking vector
        b.append(2)  // version
        b += [UInt8](repeating: 0, count: 64 - b.count)
        return b
    }

    /// §5.2.3.2: space ID, register bit width, bit offset, access size, address.
    static func gas(space: UInt8, bitWidth: UInt8, accessSize: UInt8, address: UInt64) -> [UInt8] {
        [space, bitWidth, 0, accessSize] + le64(address)
    }
    static let systemIO: UInt8 = 1
    static let systemMemory: UInt8 = 0

    /// §5.2.9, revision 6 (276 bytes): a hardware-reduced = 0 PC with the PM1a blocks, the PM timer
    /// (32-bit, flag TMR_VAL_EXT), GPE0, the reset register, and the century index.
    static func fadtTable(_ l: PlatformLayout, facs: UInt64, dsdt: UInt64) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 276 - 36)
        func put(_ bytes: [UInt8], at offset: Int) {  // offsets as the spec's table gives them (from 0)
            for (i, v) in bytes.enumerated() { f[offset - 36 + i] = v }
        }
        put(le32(UInt32(truncatingIfNeeded: facs)), at: 36)  // FIRMWARE_CTRL
        put(le32(UInt32(truncatingIfNeeded: dsdt)), at: 40)  // DSDT
        put([0], at: 45)  // Preferred_PM_Profile: unspecified
        put(le16(UInt16(l.sciIRQ)), at: 46)  // SCI_INT
        put(le32(0), at: 48)  // SMI_CMD: 0 = ACPI mode is always on (no SMM hand-over)
        put(le32(UInt32(l.pm1aEventPort)), at: 56)  // PM1a_EVT_BLK
        put(le32(UInt32(l.pm1aControlPort)), at: 64)  // PM1a_CNT_BLK
        put(le32(UInt32(l.pmTimerPort)), at: 76)  // PM_TMR_BLK
        put(le32(UInt32(l.gpe0Port)), at: 80)  // GPE0_BLK
        put([4, 2, 0, 4, 4, 0], at: 88)  // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN, GPE0_BLK_LEN, GPE1_BLK_LEN
        put(le16(101), at: 96)  // P_LVL2_LAT > 100: C2 not supported
        put(le16(1001), at: 98)  // P_LVL3_LAT > 1000: C3 not supported
        put([l.rtcCenturyIndex], at: 108)  // CENTURY
        // IAPC_BOOT_ARCH: LEGACY_DEVICES (bit 0) and 8042 (bit 1): the ISA devices are there.
        put(le16(0x0003), at: 109)
        // Flags: WBINVD (0), PROC_C1 (2), SLP_BUTTON (5: no sleep button), RTC_S4 (7),
        // TMR_VAL_EXT (8: 32-bit PM timer), RESET_REG_SUP (10).
        put(le32(1 << 0 | 1 << 2 | 1 << 5 | 1 << 7 | 1 << 8 | 1 << 10), at: 112)
        put(gas(space: systemIO, bitWidth: 8, accessSize: 1, address: UInt64(l.resetPort)), at: 116)  // RESET_REG
        put([l.resetValue], at: 128)  // RESET_VALUE
        put([4], at: 131)  // FADT minor version: 6.4
        put(le64(facs), at: 132)  // X_FIRMWARE_CTRL
        put(le64(dsdt), at: 140)  // X_DSDT
        put(gas(space: systemIO, bitWidth: 32, accessSize: 2, address: UInt64(l.pm1aEventPort)), at: 148)
        put(gas(space: systemIO, bitWidth: 16, accessSize: 2, address: UInt64(l.pm1aControlPort)), at: 172)
        put(gas(space: systemIO, bitWidth: 32, accessSize: 3, address: UInt64(l.pmTimerPort)), at: 208)
        put(gas(space: systemIO, bitWidth: 32, accessSize: 1, address: UInt64(l.gpe0Port)), at: 220)
        return sdt("FACP", revision: 6, body: f)
    }

    /// §5.2.11.1 with one object, `Name (\_S5, Package () { SLP_TYPa, SLP_TYPb, 0, 0 })` (§7.4.2):
    /// what a guest's `poweroff` needs. AML (§20.2): NameOp, NameString, PackageOp, PkgLength,
    /// NumElements, BytePrefix values.
    static func dsdtTable(_ l: PlatformLayout) -> [UInt8] {
        let elements: [UInt8] = [0x0A, l.s5SleepType, 0x0A, l.s5SleepType, 0x00, 0x00]  // BytePrefix v ×2, ZeroOp ×2
        let package: [UInt8] = [0x12, UInt8(2 + elements.count), 0x04] + elements  // PkgLength counts itself
        let aml: [UInt8] = [0x08] + Array("_S5_".utf8) + package
        return sdt("DSDT", revision: 2, body: aml)
    }

    /// §5.2.12: the local APIC address, PCAT_COMPAT (8259s present), then one Processor Local APIC
    /// per CPU, the I/O APIC (GSI base 0), the ISA overrides a PC has — IRQ0 → GSI2 (the PIT on
    /// pin 2), the SCI level-triggered active-high — and LINT1 as NMI on every processor.
    static func madtTable(_ l: PlatformLayout) -> [UInt8] {
        var b = le32(l.localAPICAddress) + le32(1)
        for (uid, id) in l.apicIDs.enumerated() {
            b += [0, 8, UInt8(truncatingIfNeeded: uid), id] + le32(1)  // type 0, enabled
        }
        b += [1, 12, l.ioAPICID, 0] + le32(l.ioAPICAddress) + le32(0)  // type 1
        b += [2, 10, 0, 0] + le32(2) + le16(0)  // type 2: ISA IRQ0 → GSI2, bus-conforming polarity/trigger
        // type 2: the SCI, flags polarity active high (01b) and trigger level (11b << 2).
        b += [2, 10, 0, l.sciIRQ] + le32(UInt32(l.sciIRQ)) + le16(0x000D)
        b += [4, 6, 0xFF] + le16(0) + [1]  // type 4: all processors, LINT1
        return sdt("APIC", revision: 4, body: b)
    }

    /// HPET spec §3.2.4: the event timer block ID mirrors the capability register's low 32 bits
    /// (revision 1, comparators − 1 in 12:8, 64-bit counter bit 13, legacy replacement bit 15,
    /// vendor 8086H in 31:16), the base address as a GAS, HPET number 0, the minimum tick, no page
    /// protection.
    static func hpetTable(_ l: PlatformLayout) -> [UInt8] {
        let id: UInt32 = 0x8086_0000 | 1 << 15 | 1 << 13 | UInt32(l.hpetComparators - 1) << 8 | 0x01
        var b = le32(id)
        b += gas(space: systemMemory, bitWidth: 64, accessSize: 0, address: l.hpetAddress)
        b.append(0)  // HPET number
        b += le16(0x0080)  // main counter minimum clock tick in periodic mode
        b.append(0)  // page protection and OEM attributes
        return sdt("HPET", revision: 1, body: b)
    }
}

// MARK: - Little-endian bytes and checksums (shared by the firmware tables)

@inline(__always) func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
@inline(__always) func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
@inline(__always) func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// The byte that makes `bytes` (with this byte in place of a zero) sum to 0 modulo 256.
func checksumByte<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
    0 &- bytes.reduce(0, &+)
}
