/// What can interrupt an instruction: a guest-visible exception, a software interrupt, or a
/// reason for the machine to stop (the details of a stop are in `CPU.stopCause`).
///
/// Faults are values (docs/DESIGN.md, "Faults are values; stops are reports"): handlers `throw` them with typed throws, the run loop
/// delivers exceptions through the IDT and returns stops to its caller.
public struct Fault: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        /// An exception; RIP is restored to the start of the instruction (faults) unless
        /// `trap` is set, in which case RIP stays after it (SDM Vol. 3A §6.5 "Exception Classifications").
        case exception
        /// INT n / INT3 / INTO: delivered with the DPL check of software interrupts.
        case software
        /// The machine stops; see `CPU.stopCause`.
        case stop
        /// A VM transition (VM entry, VM exit) already replaced the processor state: the run loop
        /// continues at the new RIP without delivering anything (a pending stop is honoured).
        case redirect
        /// An external interrupt or NMI (vector 2) taken at an instruction boundary: delivered
        /// with EXT = 1 in error codes, no DPL check, RIP after the last instruction (Interrupts.swift).
        case interrupt
    }
    public var kind: Kind
    public var vector: UInt8
    public var hasErrorCode: Bool
    public var errorCode: UInt32
    /// RIP stays after the instruction (traps, software interrupts).
    public var trap: Bool

    @inline(__always) public init(kind: Kind = .exception, vector: UInt8, errorCode: UInt32? = nil, trap: Bool = false) {
        self.kind = kind; self.vector = vector
        self.hasErrorCode = errorCode != nil; self.errorCode = errorCode ?? 0
        self.trap = trap
    }

    public static let stop = Fault(kind: .stop, vector: 0xFF)

    // Exception vectors (SDM Vol. 3A §6.3.1, Table 6-1 "Protected-Mode Exceptions and Interrupts").
    public static func DE() -> Fault { Fault(vector: 0) }
    public static func DB() -> Fault { Fault(vector: 1) }

    /// A #DB raised for debug conditions: `conditions` in DR6's layout — B0–B3 (bits 3:0), BD
    /// (13), BS (14), BT (15) (SDM Vol. 3A §17.2.3 "Debug Status Register (DR6)"). A #DB pushes
    /// no error code, so `errorCode` carries them (`hasErrorCode` stays false): delivery through
    /// the IDT merges them into DR6, a VM exit reports them as its qualification (Vol. 3C
    /// §27.2.1 "Basic VM-Exit Information", Table 27-1).
    public static func debug(_ conditions: UInt32, trap: Bool) -> Fault {
        var f = Fault(vector: 1, trap: trap)
        f.errorCode = conditions
        return f
    }

    /// Marks the #DB of INT1 (ICEBP, F1) among the conditions: a "privileged software exception"
    /// (Vol. 3C §24.8.3 "VM-Entry Controls for Event Injection", interruption type 5) that reports
    /// no condition in DR6.
    public static let int1Marker: UInt32 = 1 << 31
    public static func int1() -> Fault { debug(int1Marker, trap: true) }

    /// A #DB raised for debug conditions (not INT n with n = 1, which is a software interrupt).
    public var isDebugException: Bool { kind == .exception && vector == 1 }
    /// INT1 (ICEBP).
    public var isINT1: Bool { isDebugException && errorCode & Fault.int1Marker != 0 }
    /// The DR6-format conditions of a #DB (0 for any other event).
    public var debugConditions: UInt32 { isDebugException ? errorCode & 0xE00F : 0 }
    public static func UD() -> Fault { Fault(vector: 6) }
    public static func NM() -> Fault { Fault(vector: 7) }
    public static func TS(_ e: UInt32) -> Fault { Fault(vector: 10, errorCode: e) }
    public static func NP(_ e: UInt32) -> Fault { Fault(vector: 11, errorCode: e) }
    public static func SS(_ e: UInt32) -> Fault { Fault(vector: 12, errorCode: e) }
    public static func GP(_ e: UInt32) -> Fault { Fault(vector: 13, errorCode: e) }
    public static func PF(_ e: UInt32) -> Fault { Fault(vector: 14, errorCode: e) }
    public static func AC() -> Fault { Fault(vector: 17, errorCode: 0) }
    public static func MF() -> Fault { Fault(vector: 16) }
    public static func XM() -> Fault { Fault(vector: 19) }

    public static let mnemonics = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO",
                                   "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
                                   "#VE", "#CP"]

    public var name: String {
        kind == .stop ? "stop" : (Int(vector) < Fault.mnemonics.count ? Fault.mnemonics[Int(vector)] : "INT \(vector)")
    }

    public var description: String {
        if kind == .software { return "INT 0x\(String(vector, radix: 16))" }
        if kind == .interrupt { return vector == 2 ? "NMI" : "interrupt 0x\(String(vector, radix: 16))" }
        return hasErrorCode ? "\(name)(0x\(String(errorCode, radix: 16)))" : name
    }
}

/// Why `CPU.run` returned.
public enum StopCause: Equatable, Sendable, CustomStringConvertible {
    /// The instruction budget given to `run` was used up (not an error: the caller decides).
    case budget
    /// `interruptFlag` was set by another thread.
    case interrupted
    /// A device asked for the run to end (e.g. the debug-exit port).
    case deviceRequest
    /// HLT with nothing that could ever wake the CPU (IF=0, or no interrupt source).
    case halted(rip: UInt64, interruptsEnabled: Bool)
    /// A fault while delivering a double fault (SDM Vol. 3A §6.15, "Interrupt 8—Double Fault
    /// Exception (#DF)": the processor enters shutdown). `chain` lists the exceptions that led there.
    case tripleFault(chain: [Fault], rip: UInt64)
    /// An instruction (or a form of one) the core does not implement.
    case unimplemented(what: String, bytes: [UInt8], rip: UInt64, mode: String)
    /// A breakpoint from the debugger's table was reached (before executing the instruction).
    case breakpoint(rip: UInt64)
    /// A single step completed.
    case stepped
    /// An instruction accessed a watched range; it has completed. `address` is the watched address.
    case watchpoint(kind: Watchpoint.Kind, address: UInt64)
    /// A VMX event the debugger asked to stop at, or a VMX abort (which shuts the processor down).
    case vmx(VMXEvent)

    public var description: String {
        switch self {
        case .budget: return "instruction budget exhausted"
        case .interrupted: return "interrupted"
        case .deviceRequest: return "device requested stop"
        case let .halted(rip, ie):
            return ie ? "HLT at 0x\(hex(rip)) with interrupts enabled but no interrupt source in this machine"
                      : "HLT at 0x\(hex(rip)) with interrupts disabled: the CPU can never wake"
        case let .tripleFault(chain, rip):
            return "triple fault at rip=0x\(hex(rip)): " + chain.map(\.description).joined(separator: " → ") + " → shutdown"
        case let .unimplemented(what, bytes, rip, mode):
            return "unimplemented instruction \(what) at rip=0x\(hex(rip)) [bytes \(bytes.map { hex($0, 2) }.joined(separator: " "))] in \(mode)"
        case let .breakpoint(rip): return "breakpoint at 0x\(hex(rip))"
        case .stepped: return "single step done"
        case let .watchpoint(kind, address): return "\(kind) watchpoint at 0x\(hex(address))"
        case let .vmx(e): return e.description
        }
    }
}

@inline(never) public func hex<T: BinaryInteger>(_ v: T, _ width: Int = 0) -> String {
    let s = String(v, radix: 16)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// A debugger watchpoint: a linear range and the accesses that trigger it.
public struct Watchpoint: Equatable, Hashable, Sendable {
    public enum Kind: String, Sendable, Hashable { case write, read, access }
    public var address: UInt64
    public var length: UInt64
    public var kind: Kind
    public init(address: UInt64, length: UInt64, kind: Kind) {
        self.address = address; self.length = max(1, length); self.kind = kind
    }
    /// Does an access of `n` bytes at `lin` (a write when `write`) trigger it?
    @inlinable public func hit(_ lin: UInt64, _ n: UInt64, write: Bool) -> Bool {
        let overlaps = lin < address &+ length && address < lin &+ n
        switch kind {
        case .write: return overlaps && write
        case .read: return overlaps && !write
        case .access: return overlaps
        }
    }
    /// Does it lie on the 4 KiB linear page `page`?
    @inlinable public func touches(page: UInt64) -> Bool {
        (address & ~0xFFF) <= page && page <= ((address &+ length &- 1) & ~0xFFF)
    }
}

/// VMX events that stop the run (SDM Vol. 3C ch. 26 "VM Entries", ch. 27 "VM Exits").
public enum VMXEvent: Equatable, Sendable, CustomStringConvertible {
    /// A VM entry completed (the guest is about to run).
    case entry
    /// A VM exit (or a failed VM entry, bit 31 of `reason` set) with its exit qualification.
    case exit(reason: UInt32, qualification: UInt64)
    /// A VMX instruction failed with VMfailValid(error) (0: VMfailInvalid).
    case vmfail(error: UInt32)
    /// VMX abort (SDM §27.7 "VMX Aborts"): the processor is in the shutdown state.
    case abort(indicator: UInt32, detail: String)

    public var description: String {
        switch self {
        case .entry: return "VM entry"
        case let .exit(r, q):
            let name = VMXExitReason(rawValue: UInt16(r & 0xFFFF)).map { $0.name } ?? "reason \(r & 0xFFFF)"
            return (r & 0x8000_0000 != 0 ? "VM-entry failure: exit reason " : "VM exit: ") + "\(r & 0xFFFF) \(name), qualification 0x\(hex(q))"
        case let .vmfail(e): return e == 0 ? "VMfailInvalid" : "VMfailValid(\(e))"
        case let .abort(i, d): return "VMX abort (indicator \(i)): \(d) — processor shut down"
        }
    }
}
