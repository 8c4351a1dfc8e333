// The ways a PC guest resets itself, and PCI configuration mechanism #1 with the two bridges a
// kernel's PCI scan expects.
//
// Followed:
// - PCI Local Bus Specification 3.0, §3.2.2.3.2 "Software Generation of Configuration Transactions"
//   (CONFIG_ADDRESS at 0xCF8, only 32-bit accesses; CONFIG_DATA at 0xCFC–0xCFF; enable bit 31, bus
//   23:16, device 15:11, function 10:8, register 7:2) and §6.1 "Configuration Space Organization"
//   (a function that does not exist reads all-ones, vendor ID FFFFh).
// - Intel 82441FX PMC (440FX) and 82371SB PIIX3 datasheets: the host bridge 8086:1237 and the ISA
//   bridge 8086:7000 (a multi-function device; its PIRQ route control registers 60h–63h reset to
//   80h, "routing disabled").
// - Intel I/O Controller Hub datasheets, "RST_CNT—Reset Control Register" (I/O CF9h, byte access:
//   SYS_RST bit 1, RST_CPU bit 2 — the reset happens on its 0 → 1 transition, FULL_RST bit 3) and
//   "PORT92—Fast A20 and Init Register" (INIT_NOW bit 0 on a 0 → 1 transition, ALT_A20_GATE bit 1).
// - IBM PC/AT 8042 keyboard controller as Linux's i8042 driver and firmware use it: status port
//   0x64 (OBF bit 0, IBF bit 1, system flag bit 2, command/data bit 3, AUX OBF bit 5), commands
//   0x20/0x60 (read/write the command byte), 0xAA (self test → 55h), 0xAB/0xA9 (interface tests →
//   00h), 0xA7/0xA8/0xAD/0xAE (disable/enable ports), 0xD0/0xD1 (output port: bit 0 = 0 resets,
//   bit 1 = A20), 0xD2/0xD3 (loop a byte back as keyboard/aux data), 0xFE (pulse the reset line).
//   No keyboard or mouse is attached: bytes written to them are answered by nothing.

/// What asks for a reset, and how hard.
public enum ResetSource: String, Sendable {
    case resetControl = "port 0xCF9 (RST_CNT)"
    case port92 = "port 0x92 (INIT_NOW)"
    case keyboardController = "8042 (reset line pulse)"
    case acpiResetRegister = "the FADT reset register"
}

/// RST_CNT (0xCF9) and System Control Port A (0x92).
public final class ResetControl {
    public var onReset: (ResetSource) -> Void = { _ in }
    /// The A20 gate as port 0x92 and the 8042 set it (A20 masking itself is not modeled: the
    /// CPU always sees A20 enabled, as a machine whose firmware enabled it).
    public internal(set) var a20 = true
    var rstCnt: UInt8 = 0
    var port92: UInt8 = 0x02

    public init() {}

    func writeRstCnt(_ v: UInt8) {
        let before = rstCnt
        rstCnt = v & 0x0E
        if before & 0x04 == 0 && v & 0x04 != 0 {
            rstCnt &= ~0x04
            onReset(.resetControl)
        }
    }

    func writePort92(_ v: UInt8) {
        let before = port92
        port92 = v & 0x03
        a20 = v & 0x02 != 0
        if before & 0x01 == 0 && v & 0x01 != 0 {
            port92 &= ~0x01
            onReset(.port92)
        }
    }

    public var portDevice: PortDevice {
        PortHandler("system control port A", 0x92...0x92,
                    read: { [unowned self] _, _ in UInt32(self.port92) },
                    write: { [unowned self] _, _, v in self.writePort92(UInt8(truncatingIfNeeded: v)) })
    }
}


/// A minimal 8042: enough for firmware-style A20/reset use and Linux's i8042 probe.
public final class KeyboardController: PortDevice {
    public let name = "8042 keyboard controller"
    public let ports: ClosedRange<UInt16> = 0x60...0x64
    unowned let reset: ResetControl
    public var irq1: IRQLine = .none
    public var irq12: IRQLine = .none
    /// Command byte: bit 0 keyboard IRQ, bit 1 aux IRQ, bit 2 system flag, bit 4 kbd disabled,
    /// bit 5 aux disabled, bit 6 translation.
    var commandByte: UInt8 = 0x45
    var output: [(byte: UInt8, aux: Bool)] = []
    /// The command whose data byte the next write to 0x60 is.
    var pending: UInt8? = nil
    var outputPort: UInt8 = 0x03

    public init(reset: ResetControl) { self.reset = reset }

    var status: UInt8 {
        var s: UInt8 = 0x10 | (commandByte & 0x04)  // keyboard not inhibited, system flag
        if let first = output.first { s |= 0x01 | (first.aux ? 0x20 : 0) }
        if pending != nil { s |= 0x08 }
        return s
    }

    func push(_ byte: UInt8, aux: Bool = false) {
        output.append((byte, aux))
        if output.count == 1 { signal() }
    }

    func signal() {
        guard let first = output.first else { return }
        if first.aux { if commandByte & 0x02 != 0 { irq12.pulse() } } else if commandByte & 0x01 != 0 { irq1.pulse() }
    }

    public func read(port: UInt16, size: Int) -> UInt32 {
        switch port {
        case 0x64: return UInt32(status)
        case 0x60:
            guard !output.isEmpty else { return 0 }
            let b = output.removeFirst().byte
            signal()
            return UInt32(b)
        default: return 0xFF
        }
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        if port == 0x64 { command(v); return }
        guard port == 0x60 else { return }
        switch pending {
        case 0x60: commandByte = v
        case 0xD1:
            outputPort = v
            reset.a20 = v & 0x02 != 0
            if v & 0x01 == 0 { reset.onReset(.keyboardController) }
        case 0xD2: push(v)
        case 0xD3: push(v, aux: true)
        case 0xD4: break  // to the mouse: nothing is attached
        default: break  // to the keyboard: nothing is attached (no ACK comes back)
        }
        pending = nil
    }

    func command(_ c: UInt8) {
        switch c {
        case 0x20: push(commandByte)
        case 0x60, 0xD1, 0xD2, 0xD3, 0xD4: pending = c
        case 0xA7: commandByte |= 0x20
        case 0xA8: commandByte &= ~0x20
        case 0xA9, 0xAB: push(0x00)
        case 0xAA: push(0x55); commandByte |= 0x04
        case 0xAD: commandByte |= 0x10
        case 0xAE: commandByte &= ~0x10
        case 0xD0: push(outputPort)
        case 0xF0...0xFF: if c & 0x01 == 0 { reset.onReset(.keyboardController) }  // pulse output bit 0
        default: break
        }
    }
}

/// PCI configuration mechanism #1 at 0xCF8–0xCFF, with RST_CNT at 0xCF9 for byte accesses.
public final class PCIHost: PortDevice {
    public let name = "PCI configuration mechanism #1"
    public let ports: ClosedRange<UInt16> = 0xCF8...0xCFF
    public var takesWideAccesses: Bool { true }
    unowned let reset: ResetControl
    var address: UInt32 = 0

    /// A function's 256-byte configuration header and which bytes the guest may write.
    final class Function {
        var space = [UInt8](repeating: 0, count: 256)
        var writable = [UInt8](repeating: 0, count: 256)
        init(vendor: UInt16, device: UInt16, classCode: UInt32, revision: UInt8, headerType: UInt8,
             subsystem: (UInt16, UInt16) = (0x1AF4, 0x1100)) {
            func put16(_ o: Int, _ v: UInt16) { space[o] = UInt8(v & 0xFF); space[o + 1] = UInt8(v >> 8) }
            put16(0, vendor); put16(2, device)
            put16(4, 0x0007)  // command: I/O, memory, bus master
            put16(6, 0x0200)  // status: medium DEVSEL timing
            space[8] = revision
            space[9] = UInt8(classCode & 0xFF); space[10] = UInt8((classCode >> 8) & 0xFF); space[11] = UInt8(classCode >> 16)
            space[14] = headerType
            put16(0x2C, subsystem.0); put16(0x2E, subsystem.1)
            writable[4] = 0x47; writable[5] = 0x01  // command bits a bridge implements
            writable[0x0D] = 0xFF  // latency timer
        }
    }
    /// (bus 0, device, function) → function.
    let functions: [Int: Function]

    public init(reset: ResetControl) {
        self.reset = reset
        let host = Function(vendor: 0x8086, device: 0x1237, classCode: 0x06_00_00, revision: 0x02, headerType: 0x00)
        let isa = Function(vendor: 0x8086, device: 0x7000, classCode: 0x06_01_00, revision: 0x00, headerType: 0x80)
        for r in 0x60...0x63 { isa.space[r] = 0x80; isa.writable[r] = 0x8F }  // PIRQ route control
        functions = [0 << 3 | 0: host, 1 << 3 | 0: isa]
    }

    func function(_ a: UInt32) -> Function? {
        guard a & 0x8000_0000 != 0, (a >> 16) & 0xFF == 0 else { return nil }
        return functions[Int((a >> 8) & 0xFF)]
    }

    public func read(port: UInt16, size: Int) -> UInt32 {
        if port == 0xCF8 && size == 4 { return address }
        if port == 0xCF9 && size == 1 { return UInt32(reset.rstCnt) }
        guard port >= 0xCFC else { return 0xFFFF_FFFF }
        guard let f = function(address) else { return 0xFFFF_FFFF }
        let base = Int(address & 0xFC) + Int(port - 0xCFC)
        var v: UInt32 = 0
        for i in 0..<min(size, 4) where base + i < 256 { v |= UInt32(f.space[base + i]) << (8 * UInt32(i)) }
        return v
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        if port == 0xCF8 && size == 4 { address = value & 0x80FF_FFFC; return }
        if port == 0xCF9 && size == 1 { reset.writeRstCnt(UInt8(truncatingIfNeeded: value)); return }
        guard port >= 0xCFC, let f = function(address) else { return }
        let base = Int(address & 0xFC) + Int(port - 0xCFC)
        for i in 0..<min(size, 4) where base + i < 256 {
            let b = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))
            let w = f.writable[base + i]
            f.space[base + i] = f.space[base + i] & ~w | b & w
        }
    }

    /// For the debugger: bus:device.function, vendor:device, class.
    public var listing: [(bdf: String, id: String, classCode: UInt32)] {
        functions.keys.sorted().map { k in
            let f = functions[k]!
            func hex4(_ v: UInt16) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 4 - s.count) + s }
            let vendor = UInt16(f.space[0]) | UInt16(f.space[1]) << 8, device = UInt16(f.space[2]) | UInt16(f.space[3]) << 8
            return ("00:\(k >> 3 < 10 ? "0" : "")\(k >> 3).\(k & 7)", "\(hex4(vendor)):\(hex4(device))",
                    UInt32(f.space[11]) << 16 | UInt32(f.space[10]) << 8 | UInt32(f.space[9]))
        }
    }
}
