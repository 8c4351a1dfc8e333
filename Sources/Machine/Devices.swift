// The machine's I/O-port devices: a 16550 UART (COM1), QEMU's isa-debug-exit, and (with
// `--debugcon`) the Bochs/QEMU 0xE9 debug console, behind one `PortBus` that the CPU sees as its
// `PortIO`.
//
// None of these devices raises interrupts yet (there is no interrupt controller): guests poll.
// None of them prints anything of the emulator's own; stdout carries only guest bytes.

import X86

/// A device decoding a contiguous range of I/O ports.
public protocol PortDevice: AnyObject {
    /// Short name for listings ("16550 UART").
    var name: String { get }
    /// The ports it decodes.
    var ports: ClosedRange<UInt16> { get }
    /// False (the default): an 8-bit device. The bus splits an access of n bytes into n one-byte
    /// accesses at port, port+1, …, each going to whoever decodes that port, as an 8-bit ISA
    /// device behaves on a 16/32-bit bus. True: the device gets every access whole.
    var takesWideAccesses: Bool { get }
    /// `size` is 1 for 8-bit devices; 1, 2 or 4 for wide ones. The result is masked by the bus.
    func read(port: UInt16, size: Int) -> UInt32
    func write(port: UInt16, size: Int, value: UInt32)
}

extension PortDevice {
    public var takesWideAccesses: Bool { false }
}

/// All-ones for an access of `size` bytes (1, 2 or 4).
@inline(__always) func portMask(_ size: Int) -> UInt32 {
    size >= 4 ? 0xFFFF_FFFF : UInt32(1) << UInt32(8 * size) &- 1
}

/// The I/O-port address space: dispatches each IN/OUT to the device decoding the port.
///
/// Ports nobody decodes read all-ones for the access size and ignore writes (an ISA bus with
/// nothing answering floats high). Sizes other than 1, 2, 4 are clamped into 1…4.
///
/// Not thread-safe: use it from the thread that runs the CPU (the run loop checks `exitRequest`
/// and calls `flush()` there too).
public final class PortBus: PortIO {
    /// COM1 at 0x3F8–0x3FF.
    public let uart: UART16550
    /// QEMU's isa-debug-exit at 0xF4.
    public let debugExit: DebugExitPort
    /// The 0xE9 console port, when the machine has one (`--debugcon`); otherwise port 0xE9 is
    /// unmapped, as in QEMU without `-debugcon`.
    public let debugConsole: DebugConsolePort?
    /// Where the UART sends guest bytes.
    public let console: ConsoleSink
    public private(set) var devices: [PortDevice] = []

    /// - Parameters:
    ///   - console: the sink for COM1 output (stdout by default).
    ///   - qemuExitStatus: map a debug-exit write of v to exit status `(v << 1) | 1` as QEMU's
    ///     isa-debug-exit does, instead of v itself.
    ///   - debugcon: the sink for port 0xE9 (QEMU's `-debugcon`); nil leaves the port unmapped.
    ///     Off by default because guests commonly write each byte to both COM1 and 0xE9, which
    ///     would print everything twice on one console.
    public init(console: ConsoleSink = FileDescriptorSink.standardOutput(), qemuExitStatus: Bool = false,
                debugcon: ConsoleSink? = nil) {
        self.console = console
        uart = UART16550(base: 0x3F8, sink: console)
        debugExit = DebugExitPort(port: 0xF4, qemuExitStatus: qemuExitStatus)
        debugConsole = debugcon.map { DebugConsolePort(port: 0xE9, sink: $0) }
        attach(uart)
        attach(debugExit)
        if let debugConsole { attach(debugConsole) }
    }

    /// Adds a device. Returns false (and adds nothing) if its ports overlap an attached device's.
    @discardableResult
    public func attach(_ device: PortDevice) -> Bool {
        guard !devices.contains(where: { $0.ports.overlaps(device.ports) }) else { return false }
        devices.append(device)
        return true
    }

    /// The device decoding `port`, if any.
    public func device(at port: UInt16) -> PortDevice? {
        devices.first { $0.ports.contains(port) }
    }

    /// The pending stop request from the debug-exit port, if the guest wrote it.
    public var exitRequest: DebugExitRequest? { debugExit.request }

    /// `PortIO`: true once the guest has written the debug-exit port.
    public var stopRequested: Bool { debugExit.request != nil }

    /// Flushes buffered guest output; call when the machine stops.
    public func flush() { console.flush(); debugConsole?.sink.flush() }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let n = min(max(size, 1), 4)
        if let d = device(at: port), d.takesWideAccesses {
            return d.read(port: port, size: n) & portMask(n)
        }
        var value: UInt32 = 0
        for i in 0..<n {
            let p = port &+ UInt16(i)
            let byte: UInt32
            if let d = device(at: p), !d.takesWideAccesses { byte = d.read(port: p, size: 1) & 0xFF } else { byte = 0xFF }
            value |= byte << UInt32(8 * i)
        }
        return value
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let n = min(max(size, 1), 4)
        if let d = device(at: port), d.takesWideAccesses {
            d.write(port: port, size: n, value: value & portMask(n))
            return
        }
        for i in 0..<n {
            let p = port &+ UInt16(i)
            if let d = device(at: p), !d.takesWideAccesses {
                d.write(port: p, size: 1, value: (value >> UInt32(8 * i)) & 0xFF)
            }
        }
    }
}

// MARK: - 16550 UART

/// A National Semiconductor 16550A UART, transmit side, as polling drivers use it.
///
/// Register map (offset from `base`; DLAB = LCR bit 7):
///
/// | off | read                    | write                    |
/// |-----|-------------------------|--------------------------|
/// | 0   | RBR (DLAB=0) / DLL      | THR (DLAB=0) / DLL       |
/// | 1   | IER (DLAB=0) / DLM      | IER (DLAB=0) / DLM       |
/// | 2   | IIR                     | FCR                      |
/// | 3   | LCR                     | LCR                      |
/// | 4   | MCR                     | MCR                      |
/// | 5   | LSR                     | (ignored)                |
/// | 6   | MSR                     | (ignored)                |
/// | 7   | SCR                     | SCR                      |
///
/// - A THR write sends the byte to the sink at once: the transmitter is infinitely fast, so LSR
///   always shows THRE and TEMT (0x60). There is no input: DR (bit 0) stays clear.
/// - IIR reads 0x01 (no interrupt pending), with bits 7:6 set when FCR enabled the FIFOs (0xC1).
/// - MSR reads 0xB0 (DCD, DSR, CTS: a connected terminal), as QEMU reports with a chardev attached.
/// - Loopback (MCR bit 4) is modelled, because the common OSDev-style init sends a test byte in
///   loopback and reads it back: in loopback, THR bytes go to the receiver instead of the sink
///   (LSR.DR set, RBR returns them; 1 byte deep, 16 with FIFOs, overrun sets LSR.OE), and MSR
///   bits 7:4 mirror MCR bits OUT2, OUT1, DTR, RTS.
public final class UART16550: PortDevice {
    public let name = "16550 UART"
    public let base: UInt16
    public let sink: ConsoleSink
    public var ports: ClosedRange<UInt16> { base...(base &+ 7) }

    /// Interrupt enable (bits 3:0).
    public private(set) var ier: UInt8 = 0
    /// Line control; bit 7 is DLAB.
    public private(set) var lcr: UInt8 = 0
    /// Modem control (bits 4:0).
    public private(set) var mcr: UInt8 = 0
    /// FIFO control as last written (bits 1–2 are self-clearing and not kept).
    public private(set) var fcr: UInt8 = 0
    /// Scratch.
    public private(set) var scr: UInt8 = 0
    /// Baud divisor (DLM:DLL). Undefined at reset on real parts; 0 here, as in QEMU.
    public private(set) var divisor: UInt16 = 0
    /// Bytes transmitted to the sink so far.
    public private(set) var transmitted: UInt64 = 0

    private var receive: [UInt8] = []
    private var overrun = false

    public init(base: UInt16 = 0x3F8, sink: ConsoleSink) {
        self.base = base
        self.sink = sink
    }

    var dlab: Bool { lcr & 0x80 != 0 }
    var loopback: Bool { mcr & 0x10 != 0 }
    var fifoEnabled: Bool { fcr & 0x01 != 0 }

    /// Line status: THRE | TEMT always; DR when a loopback byte waits; OE after an overrun.
    public var lsr: UInt8 { 0x60 | (overrun ? 0x02 : 0) | (receive.isEmpty ? 0 : 0x01) }

    public var iir: UInt8 { 0x01 | (fifoEnabled ? 0xC0 : 0) }

    public var msr: UInt8 {
        guard loopback else { return 0xB0 }
        // CTS ← RTS (bit 1), DSR ← DTR (bit 0), RI ← OUT1 (bit 2), DCD ← OUT2 (bit 3).
        let m = mcr
        return (m & 0x02) << 3 | (m & 0x01) << 5 | (m & 0x04) << 4 | (m & 0x08) << 4
    }

    public func read(port: UInt16, size: Int) -> UInt32 {
        switch port &- base {
        case 0:
            if dlab { return UInt32(divisor & 0xFF) }
            return receive.isEmpty ? 0 : UInt32(receive.removeFirst())
        case 1: return UInt32(dlab ? UInt8(divisor >> 8) : ier)
        case 2: return UInt32(iir)
        case 3: return UInt32(lcr)
        case 4: return UInt32(mcr)
        case 5:
            let v = lsr
            overrun = false  // OE clears on read
            return UInt32(v)
        case 6: return UInt32(msr)
        case 7: return UInt32(scr)
        default: return 0xFF
        }
    }

    public func write(port: UInt16, size: Int, value: UInt32) {
        let b = UInt8(truncatingIfNeeded: value)
        switch port &- base {
        case 0:
            if dlab { divisor = divisor & 0xFF00 | UInt16(b) }
            else if loopback { loopBack(b) }
            else { sink.write(b); transmitted &+= 1 }
        case 1:
            if dlab { divisor = divisor & 0x00FF | UInt16(b) << 8 } else { ier = b & 0x0F }
        case 2:
            if b & 0x02 != 0 { receive.removeAll() }  // clear receive FIFO
            fcr = b & 0xC9  // enable, DMA mode, trigger level; reset bits self-clear
        case 3: lcr = b
        case 4: mcr = b & 0x1F
        case 7: scr = b
        default: break  // LSR, MSR: writes ignored
        }
    }

    private func loopBack(_ b: UInt8) {
        if receive.count >= (fifoEnabled ? 16 : 1) {
            overrun = true
            if !fifoEnabled { receive[0] = b }  // the holding register is overwritten
            return
        }
        receive.append(b)
    }
}

// MARK: - Debug exit

/// A stop request from the guest, via the debug-exit port.
///
/// A process exit status has 8 bits (POSIX `exit`: "only the least significant 8 bits … shall be
/// available" to the parent), so the status is the low 8 bits of what the guest asked for, as
/// with QEMU's isa-debug-exit (whose `exit((v << 1) | 1)` the host truncates the same way);
/// `truncated` says the guest asked for more, and `vmxemu run` warns then.
public struct DebugExitRequest: Sendable, Hashable {
    /// The value written, masked to the access size.
    public var value: UInt32
    /// Access size in bytes.
    public var size: Int
    /// What the guest asked to exit with: `value`, or `(value << 1) | 1` in QEMU mode.
    public var requested: UInt64
    /// Set when the platform, not a port-0xF4 write, ended the run (ACPI S5 power-off, a reset the
    /// machine does not perform yet, an unsupported sleep state): what happened, for messages.
    public var cause: String? = nil

    public init(value: UInt32, size: Int, requested: UInt64, cause: String? = nil) {
        self.value = value
        self.size = size
        self.requested = requested
        self.cause = cause
    }

    /// The exit status the process ends with: the low 8 bits of `requested`.
    public var status: Int32 { Int32(requested & 0xFF) }
    /// `requested` does not fit an exit status: `status` is not what the guest asked for.
    public var truncated: Bool { requested > 0xFF }
}

/// QEMU's `isa-debug-exit` (`-device isa-debug-exit,iobase=0xf4,iosize=4`): a write stops the
/// machine. Accepts writes of any size at its port; reads return all-ones.
public final class DebugExitPort: PortDevice {
    public let name = "debug exit"
    public let port: UInt16
    public var ports: ClosedRange<UInt16> { port...port }
    public var takesWideAccesses: Bool { true }
    /// Use QEMU's status mapping `(v << 1) | 1`.
    public var qemuExitStatus: Bool
    /// Set by the first write; later writes before `clear()` are ignored.
    public private(set) var request: DebugExitRequest?

    /// The platform ends the run with `status` (ACPI power-off: 0, as QEMU exits when its guest
    /// powers off); `cause` says why in vmxemu's messages.
    public func platformExit(status: UInt8, cause: String) {
        guard request == nil else { return }
        request = DebugExitRequest(value: UInt32(status), size: 0, requested: UInt64(status), cause: cause)
    }

    public init(port: UInt16 = 0xF4, qemuExitStatus: Bool = false) {
        self.port = port
        self.qemuExitStatus = qemuExitStatus
    }

    /// Forgets the request (e.g. when the machine is reset or resumed by the debugger).
    public func clear() { request = nil }

    public func read(port: UInt16, size: Int) -> UInt32 { 0xFFFF_FFFF }

    public func write(port: UInt16, size: Int, value: UInt32) {
        guard request == nil else { return }
        let v = value & portMask(size)
        request = DebugExitRequest(value: v, size: size, requested: qemuExitStatus ? UInt64(v) << 1 | 1 : UInt64(v))
    }
}

// MARK: - 0xE9 console

/// The Bochs/QEMU "port E9 hack" console (QEMU's `-debugcon`): bytes written to port 0xE9 go to
/// its own sink; reading it returns 0xE9 so a guest can detect it. 8-bit: a wider write sends only its low
/// byte here (the others go to ports 0xEA… , which nobody decodes).
public final class DebugConsolePort: PortDevice {
    public let name = "0xE9 console"
    public let port: UInt16
    public let sink: ConsoleSink
    public var ports: ClosedRange<UInt16> { port...port }

    public init(port: UInt16 = 0xE9, sink: ConsoleSink) {
        self.port = port
        self.sink = sink
    }

    public func read(port: UInt16, size: Int) -> UInt32 { 0xE9 }
    public func write(port: UInt16, size: Int, value: UInt32) { sink.write(UInt8(truncatingIfNeeded: value)) }
}
