// State the front doors keep per machine beyond what the CPU holds: the VMX breakpoints
// (`break exit|entry|entry-fail|vmfail`), the ring of recent VM exits, code breakpoints set
// from the REPL, and `set json`. One session per MachineController, shared by the REPL and
// gdb's `monitor`, so `monitor info breakpoints` lists what the REPL set and the other way round.

import Machine
import X86

/// One VMX breakpoint.
public struct VMXBreakpoint: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// Stop after VM exits with these basic reasons (empty: every reason).
        case exit(Set<UInt16>)
        /// Stop after a successful VM entry, before the first guest instruction.
        case entry
        /// Stop after a failed VM entry (VMfailValid 7/8 or exit 33/34 with bit 31 set).
        case entryFailure
        /// Stop after any VMX instruction fails (VMfailInvalid or VMfailValid).
        case vmfail
    }
    public var number: Int
    public var kind: Kind
    public var hits = 0

    public var description: String {
        switch kind {
        case .exit(let reasons) where reasons.isEmpty: return "VM exit (any reason)"
        case .exit(let reasons):
            return "VM exit " + reasons.sorted().map { r in VMXExitReason(rawValue: r).map { "\($0.name) (\(r))" } ?? "\(r)" }.joined(separator: ", ")
        case .entry: return "VM entry"
        case .entryFailure: return "VM-entry failure"
        case .vmfail: return "VMfail"
        }
    }
}

/// One recorded VM exit (the exit-information fields as they were right after it).
public struct RecordedExit: Equatable, Sendable {
    /// Ordinal: the CPU's exit counter after this exit (1 = the first exit of the run).
    public var number: UInt64
    public var reason: UInt32
    public var qualification: UInt64
    public var guestRIP: UInt64
    public var instructionLength: UInt32
    public var interruptionInfo: UInt32
    public var instructionInfo: UInt32
    public var guestLinear: UInt64
    public var guestPhysical: UInt64
    public var vmcs: UInt64
    public var instructions: UInt64
}

public final class DebugSession: @unchecked Sendable {
    private let lock = ConditionLock()
    private var _json = false
    private var _breakpoints: [VMXBreakpoint] = []
    private var _codeBreakpoints: [(number: Int, address: UInt64)] = []
    private var nextNumber = 1
    private var ring: [RecordedExit] = []
    /// How many exits the ring keeps.
    public static let ringCapacity = 256

    public init() {}

    public var json: Bool {
        get { lock.withLock { _json } }
        set { lock.withLock { _json = newValue } }
    }

    public var breakpoints: [VMXBreakpoint] { lock.withLock { _breakpoints } }
    public var codeBreakpoints: [(number: Int, address: UInt64)] { lock.withLock { _codeBreakpoints } }

    @discardableResult
    public func addBreakpoint(_ kind: VMXBreakpoint.Kind) -> Int {
        lock.withLock {
            let n = nextNumber
            nextNumber += 1
            _breakpoints.append(VMXBreakpoint(number: n, kind: kind))
            return n
        }
    }

    @discardableResult
    public func addCodeBreakpoint(_ address: UInt64) -> Int {
        lock.withLock {
            let n = nextNumber
            nextNumber += 1
            _codeBreakpoints.append((n, address))
            return n
        }
    }

    /// Removes breakpoint N (VMX or code); the code breakpoint's address, if it was one.
    public func remove(_ number: Int) -> (found: Bool, codeAddress: UInt64?) {
        lock.withLock {
            if let i = _breakpoints.firstIndex(where: { $0.number == number }) {
                _breakpoints.remove(at: i)
                return (true, nil)
            }
            if let i = _codeBreakpoints.firstIndex(where: { $0.number == number }) {
                return (true, _codeBreakpoints.remove(at: i).address)
            }
            return (false, nil)
        }
    }

    func hit(_ number: Int) { lock.withLock { if let i = _breakpoints.firstIndex(where: { $0.number == number }) { _breakpoints[i].hits += 1 } } }

    /// The VMX breakpoint a VMX event matches, if any.
    func matching(_ event: VMXEvent) -> VMXBreakpoint? {
        lock.withLock {
            _breakpoints.first { bp in
                switch (bp.kind, event) {
                case (.exit(let rs), .exit(let r, _)):
                    return r & 0x8000_0000 == 0 && (rs.isEmpty || rs.contains(UInt16(r & 0xFFFF)))
                case (.entryFailure, .exit(let r, _)): return r & 0x8000_0000 != 0
                case (.entryFailure, .vmfail(let e)): return e == 7 || e == 8
                case (.entry, .entry): return true
                case (.vmfail, .vmfail): return true
                default: return false
                }
            }
        }
    }

    /// The CPU's break flags as the session's breakpoints ask (gdb honours them too).
    func applyBreakFlags(_ cpu: CPU) {
        let bps = breakpoints
        var reasons = Set<UInt16>()
        var anyExit = false, allReasons = false
        for bp in bps {
            if case .exit(let rs) = bp.kind { anyExit = true; if rs.isEmpty { allReasons = true } else { reasons.formUnion(rs) } }
        }
        cpu.vmx.breakOnExit = anyExit
        cpu.vmx.breakExitReasons = allReasons ? [] : reasons
        cpu.vmx.breakOnEntry = bps.contains { $0.kind == .entry }
        cpu.vmx.breakOnEntryFailure = bps.contains { $0.kind == .entryFailure }
        cpu.vmx.breakOnVMFail = bps.contains { $0.kind == .vmfail }
    }

    // MARK: The exit ring

    public func record(_ e: RecordedExit) {
        lock.withLock {
            ring.append(e)
            if ring.count > Self.ringCapacity { ring.removeFirst(ring.count - Self.ringCapacity) }
        }
    }

    /// Recorded exits, oldest first.
    public var exits: [RecordedExit] { lock.withLock { ring } }

    // MARK: One session per machine

    private static let registryLock = ConditionLock()
    private struct Entry { weak var controller: MachineController?; let session: DebugSession }
    nonisolated(unsafe) private static var registry: [ObjectIdentifier: Entry] = [:]

    /// The session of a controller (created on first use, dropped with the controller).
    public static func of(_ controller: MachineController) -> DebugSession {
        registryLock.withLock {
            let key = ObjectIdentifier(controller)
            if let e = registry[key], e.controller === controller { return e.session }
            if registry.count > 64 { registry = registry.filter { $0.value.controller != nil } }
            let s = DebugSession()
            registry[key] = Entry(controller: controller, session: s)
            return s
        }
    }
}
