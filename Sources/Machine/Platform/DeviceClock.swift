// Time and interrupt wiring as the platform's devices see them.
//
// Devices never read the host's clock: they ask a `DeviceClock` for the machine's virtual time (in
// nanoseconds, derived from retired instructions, so two runs of one image see the same times at the
// same instructions) and schedule their next deadline on it. An interrupt line is a closure that
// sets a level; the controller behind it (8259 pair, I/O APIC) decides edge or level.

/// The machine's virtual clock, as devices use it.
public protocol DeviceClock: AnyObject {
    /// Virtual time now, in nanoseconds since power-on.
    var nanoseconds: UInt64 { get }
    /// Run `action` once virtual time reaches `at` (nanoseconds); returns a token for `cancel`.
    func schedule(at: UInt64, _ action: @escaping () -> Void) -> Int
    /// Forget a scheduled action (no effect if it ran already).
    func cancel(_ token: Int)
}

/// An interrupt request line: `set(true)` raises it, `set(false)` lowers it.
public struct IRQLine {
    let setLevel: (Bool) -> Void
    public init(_ setLevel: @escaping (Bool) -> Void) { self.setLevel = setLevel }
    public func set(_ level: Bool) { setLevel(level) }
    /// An edge: raise then lower (what an ISA device's edge-triggered pulse looks like to the PIC).
    public func pulse() { setLevel(true); setLevel(false) }
    /// A line connected to nothing.
    public static var none: IRQLine { IRQLine { _ in } }
}

/// `a * b / c` without overflow for the clock conversions (a·b fits in 128 bits).
@inline(__always) func mulDiv(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
    let (hi, lo) = a.multipliedFullWidth(by: b)
    guard hi < c else { return .max }
    return c.dividingFullWidth((hi, lo)).quotient
}

/// A platform device's ports: a name, a range and the two accesses, as closures onto the device
/// model (so each model stays a plain class with `read`/`write` methods and no adapter of its own).
final class PortHandler: PortDevice {
    let name: String
    let ports: ClosedRange<UInt16>
    let takesWideAccesses: Bool
    let onRead: (UInt16, Int) -> UInt32
    let onWrite: (UInt16, Int, UInt32) -> Void
    init(_ name: String, _ ports: ClosedRange<UInt16>, wide: Bool = false,
         read: @escaping (UInt16, Int) -> UInt32, write: @escaping (UInt16, Int, UInt32) -> Void) {
        self.name = name
        self.ports = ports
        takesWideAccesses = wide
        onRead = read
        onWrite = write
    }
    func read(port: UInt16, size: Int) -> UInt32 { onRead(port, size) }
    func write(port: UInt16, size: Int, value: UInt32) { onWrite(port, size, value) }
}
