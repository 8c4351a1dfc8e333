// The I/O APIC: 24 interrupt input pins, each routed by a redirection-table entry to a local APIC.
//
// Followed: Intel 82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC) datasheet (order
// 290566-001), §3 "Register Description": the indirect access through IOREGSEL (offset 00H) and IOWIN
// (offset 10H), §3.2.1 "IOAPICID—IOAPIC Identification Register", §3.2.2 "IOAPICVER—IOAPIC Version
// Register", §3.2.3 "IOAPICARB—IOAPIC Arbitration Register", §3.2.4 "IOREDTBL[23:0]—I/O Redirection
// Table Registers" (vector, delivery mode, destination mode, delivery status, polarity, remote IRR,
// trigger mode, mask, destination). As the I/O APIC of the Intel ICH south bridges it reports version
// 20H and has their EOI register at offset 40H (ICH datasheets, "EOI Register": a write of a vector
// clears remote IRR of the level entries with that vector, as a local APIC's EOI message does).
//
// A pin is a level from the device (`setPin`); the entry's polarity says which level is active. An
// edge-triggered entry sends a message on each inactive → active transition; a level-triggered entry
// sends while the pin is active and remote IRR is clear, sets remote IRR when a local APIC accepts, and
// sends again after the EOI if the pin is still active. Messages leave through `deliver`.

public final class IOAPIC {
    public static let pinCount = 24
    /// IOAPICVER: maximum redirection entry 17H (24 entries) in bits 23:16, version 20H in bits 7:0.
    public static let version: UInt32 = 0x0017_0020

    /// An interrupt message to the local APIC(s): vector, delivery mode (0 fixed, 1 lowest priority,
    /// 2 SMI, 4 NMI, 5 INIT, 7 ExtINT), trigger mode (level), destination (bits 63:56 of the entry) and
    /// destination mode (logical). Returns whether a local APIC accepted it.
    public var deliver: (_ vector: UInt8, _ deliveryMode: UInt8, _ level: Bool, _ destination: UInt8, _ logical: Bool) -> Bool
        = { _, _, _, _, _ in false }
    /// Accesses whose effect the datasheet leaves undefined (sub-dword or misaligned IOWIN writes) are
    /// ignored and reported here.
    public var onGuestError: (String) -> Void = { _ in }

    var id: UInt32 = 0
    var regsel: UInt32 = 0
    /// The redirection table: bits as in §3.2.4; reset value masked (bit 16), everything else 0.
    var redirection = [UInt64](repeating: IOAPIC.mask, count: IOAPIC.pinCount)
    /// The input levels as the devices drive them (before polarity).
    var pins = [Bool](repeating: false, count: IOAPIC.pinCount)

    static let mask: UInt64 = 1 << 16, remoteIRR: UInt64 = 1 << 14, levelTrigger: UInt64 = 1 << 15
    static let activeLow: UInt64 = 1 << 13
    /// Writable bits of an entry: vector, delivery mode, destination mode, polarity, trigger mode, mask,
    /// destination. Delivery status (12) and remote IRR (14) are read-only.
    static let writable: UInt64 = 0xFF00_0000_0001_AFFF

    public init() {}

    /// Power-on: ID 0, every entry masked.
    public func reset() {
        id = 0; regsel = 0
        for i in 0..<IOAPIC.pinCount { redirection[i] = IOAPIC.mask }
    }

    // MARK: Pins

    func active(_ pin: Int) -> Bool { pins[pin] != (redirection[pin] & IOAPIC.activeLow != 0) }

    /// Input `pin` (0–23) driven to `level`. Out-of-range pins are ignored.
    public func setPin(_ pin: Int, _ level: Bool) {
        guard (0..<IOAPIC.pinCount).contains(pin) else { return }
        let wasActive = active(pin)
        pins[pin] = level
        let e = redirection[pin]
        if e & IOAPIC.levelTrigger != 0 {
            service(pin)
        } else if active(pin) && !wasActive && e & IOAPIC.mask == 0 {
            // §3.2.4 mask bit: an edge on a masked pin is ignored, not held.
            send(pin)
        }
    }

    /// A level-triggered entry sends when its pin is active, it is unmasked and remote IRR is clear.
    func service(_ pin: Int) {
        let e = redirection[pin]
        guard e & IOAPIC.levelTrigger != 0, e & IOAPIC.mask == 0, e & IOAPIC.remoteIRR == 0, active(pin) else { return }
        send(pin)
    }

    func send(_ pin: Int) {
        let e = redirection[pin]
        let level = e & IOAPIC.levelTrigger != 0
        let accepted = deliver(UInt8(truncatingIfNeeded: e), UInt8((e >> 8) & 7), level, UInt8(e >> 56), e & (1 << 11) != 0)
        // §3.2.4 remote IRR: set when a local APIC accepts the level interrupt.
        if level && accepted { redirection[pin] |= IOAPIC.remoteIRR }
    }

    /// An EOI for `vector` (a local APIC's EOI broadcast, or the EOI register): remote IRR of every
    /// level-triggered entry with that vector clears, and a pin still active sends again.
    public func eoi(_ vector: UInt8) {
        for pin in 0..<IOAPIC.pinCount {
            let e = redirection[pin]
            guard UInt8(truncatingIfNeeded: e) == vector, e & IOAPIC.remoteIRR != 0 else { continue }
            redirection[pin] &= ~IOAPIC.remoteIRR
            service(pin)
        }
    }

    // MARK: Registers

    /// The register selected by IOREGSEL, as IOWIN reads it. Indices that select no register (03H–0FH,
    /// 40H–FFH) read as FFFFFFFFH (the datasheet leaves them undefined; this is what KVM returns).
    func readSelected() -> UInt32 {
        switch regsel {
        case 0x00: return id
        case 0x01: return IOAPIC.version
        case 0x02: return id  // IOAPICARB: the arbitration ID is loaded from the ID (§3.2.3)
        case 0x10..<0x40:
            let e = redirection[Int(regsel - 0x10) >> 1]
            return UInt32(truncatingIfNeeded: regsel & 1 == 0 ? e : e >> 32)
        default: return 0xFFFF_FFFF
        }
    }

    func writeSelected(_ v: UInt32) {
        switch regsel {
        case 0x00: id = v & 0x0F00_0000  // §3.2.1: bits 27:24 are the ID
        case 0x10..<0x40:
            let pin = Int(regsel - 0x10) >> 1
            let old = redirection[pin]
            let half: UInt64 = regsel & 1 == 0 ? 0x0000_0000_FFFF_FFFF : 0xFFFF_FFFF_0000_0000
            let shifted = regsel & 1 == 0 ? UInt64(v) : UInt64(v) << 32
            var e = old & ~(half & IOAPIC.writable) | shifted & half & IOAPIC.writable
            // Remote IRR has no meaning for edge-triggered entries; switching to edge clears it.
            if e & IOAPIC.levelTrigger == 0 { e &= ~IOAPIC.remoteIRR }
            redirection[pin] = e
            // A level-triggered pin that is active now (unmasked, or switched to level) sends.
            service(pin)
        default: break  // IOAPICVER, IOAPICARB and unused indices are read-only
        }
    }

    /// MMIO read: IOREGSEL (00H; bits 7:0 select a register, 31:8 read 0) and IOWIN (10H); 1-, 2- and
    /// 4-byte reads within the low dword of either return those bytes. Everything else reads 0
    /// (the EOI register at 40H is write-only).
    public func mmioRead(offset: UInt64, size: Int) -> UInt64 {
        let byte = offset & 0xF
        guard size == 1 || size == 2 || size == 4, byte + UInt64(size) <= 4 else { return 0 }
        let v: UInt32
        switch offset & ~0xF {
        case 0x00: v = regsel
        case 0x10: v = readSelected()
        default: return 0
        }
        let s = UInt64(v) >> (8 * byte)
        return size == 4 ? s : s & ((1 << (8 * UInt64(size))) - 1)
    }

    /// MMIO write: IOREGSEL takes the low byte of any write at 00H; IOWIN takes aligned 32-bit writes;
    /// the EOI register (40H) takes the vector in bits 7:0. Other writes are ignored (and reported when
    /// they were sub-dword IOWIN writes).
    public func mmioWrite(offset: UInt64, size: Int, value: UInt64) {
        switch offset {
        case 0x00: regsel = UInt32(value & 0xFF)
        case 0x10 where size == 4: writeSelected(UInt32(truncatingIfNeeded: value))
        case 0x40: eoi(UInt8(truncatingIfNeeded: value))
        case 0x10...0x13:
            onGuestError("I/O APIC: \(size)-byte IOWIN write at offset \(hex(offset)) ignored (IOWIN is written as a dword)")
        default: break
        }
    }

    // MARK: Debugger

    public struct Entry: Sendable, Equatable {
        public var raw: UInt64
        public var pinLevel: Bool
        public var vector: UInt8 { UInt8(truncatingIfNeeded: raw) }
        public var deliveryMode: UInt8 { UInt8((raw >> 8) & 7) }
        public var logical: Bool { raw & (1 << 11) != 0 }
        public var activeLow: Bool { raw & IOAPIC.activeLow != 0 }
        public var remoteIRR: Bool { raw & IOAPIC.remoteIRR != 0 }
        public var levelTriggered: Bool { raw & IOAPIC.levelTrigger != 0 }
        public var masked: Bool { raw & IOAPIC.mask != 0 }
        public var destination: UInt8 { UInt8(raw >> 56) }
    }

    public struct State: Sendable, Equatable {
        public var id: UInt8
        public var version: UInt32
        public var ioregsel: UInt8
        public var entries: [Entry]
    }

    public var state: State {
        State(id: UInt8(id >> 24), version: IOAPIC.version, ioregsel: UInt8(regsel),
              entries: (0..<IOAPIC.pinCount).map { Entry(raw: redirection[$0], pinLevel: pins[$0]) })
    }
}
