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
        /// Stop before these VMX instructions execute in VMX root operation (`VMXState.breakBit`
        /// mask, and the mnemonics).
        case vmxInstruction(UInt16, [String])
    }
    public var number: Int
    public var kind: Kind
    /// For `exit` breakpoints: only exits whose MSR, port, vector or CR matches.
    public var filter = ExitFilter()
    public var hits = 0

    var kindDescription: String {
        switch kind {
        case .exit(let reasons) where reasons.isEmpty: return "VM exit (any reason)"
        case .exit(let reasons):
            return "VM exit " + reasons.sorted().map { r in VMXExitReason(rawValue: r).map { "\($0.name) (\(r))" } ?? "\(r)" }.joined(separator: ", ")
        case .entry: return "VM entry"
        case .entryFailure: return "VM-entry failure"
        case .vmfail: return "VMfail"
        case .vmxInstruction(_, let names): return "before " + names.joined(separator: ", ") + " (VMX root operation)"
        }
    }

    public var description: String { kindText + filter.description }
    var kindText: String {
        switch kind {
        case .exit(let reasons) where reasons.isEmpty: return "VM exit (any reason)"
        default: return kindDescription
        }
    }
}

/// What an exit breakpoint's `msr=`, `port=`, `vector=`, `cr=` ask (nil: any).
public struct ExitFilter: Equatable, Sendable {
    public var msr: UInt32?
    public var port: UInt16?
    public var vector: UInt8?
    public var cr: UInt8?
    public init() {}
    public var isEmpty: Bool { msr == nil && port == nil && vector == nil && cr == nil }
    /// The basic exit reasons that report the filtered value (Appendix C): RDMSR 31, WRMSR 32
    /// (ECX), I/O 30 (qualification bits 31:16), exception or NMI 0 (interruption-information
    /// bits 7:0), control-register access 28 (qualification bits 3:0).
    public var reasons: Set<UInt16> {
        var r = Set<UInt16>()
        if msr != nil { r.formUnion([31, 32]) }
        if port != nil { r.insert(30) }
        if vector != nil { r.insert(0) }
        if cr != nil { r.insert(28) }
        return r
    }
    /// Does an exit match? `ecx` is the guest's ECX at the exit (GPRs are not switched by exits).
    public func matches(reason: UInt16, qualification: UInt64, interruptionInfo: UInt32, ecx: UInt32) -> Bool {
        if let msr { guard reason == 31 || reason == 32, ecx == msr else { return false } }
        if let port { guard reason == 30, UInt16(truncatingIfNeeded: qualification >> 16) == port else { return false } }
        if let vector { guard reason == 0, interruptionInfo & 0x8000_0000 != 0, UInt8(truncatingIfNeeded: interruptionInfo) == vector else { return false } }
        if let cr { guard reason == 28, UInt8(qualification & 0xF) == cr else { return false } }
        return true
    }
    public var description: String {
        var p: [String] = []
        if let msr { p.append("msr=0x\(hex(msr))") }
        if let port { p.append("port=0x\(hex(port))") }
        if let vector { p.append("vector=\(vector)") }
        if let cr { p.append("cr=\(cr)") }
        return p.isEmpty ? "" : " if " + p.joined(separator: " ")
    }
}

/// One recorded VM exit (the exit-information fields as they were right after it).
public struct RecordedExit: Equatable, Sendable {
    /// Ordinal among the machine's VM exits and failed VM entries (1 = the first).
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
    /// Instructions retired when it happened (the machine's virtual time).
    public var instructions: UInt64

    /// One JSON object (`exits --save`, `--json`).
    public var json: JSONValue {
        .object([("number", .uint(number)), ("reason", .uint(UInt64(reason))), ("basic_reason", .uint(UInt64(reason & 0xFFFF))),
                 ("name", .string(VMXExitReason(rawValue: UInt16(reason & 0xFFFF)).map(\.name) ?? "?")),
                 ("entry_failure", .bool(reason & 0x8000_0000 != 0)), ("qualification", .uint(qualification)),
                 ("guest_rip", .uint(guestRIP)), ("instruction_length", .uint(UInt64(instructionLength))),
                 ("interruption_info", .uint(UInt64(interruptionInfo))), ("instruction_info", .uint(UInt64(instructionInfo))),
                 ("guest_linear", .uint(guestLinear)), ("guest_physical", .uint(guestPhysical)),
                 ("vmcs", .uint(vmcs)), ("instructions", .uint(instructions))])
    }
}

public final class DebugSession: @unchecked Sendable {
    private let lock = ConditionLock()
    private var _json = false
    private var _context: Int?
    private var _breakpoints: [VMXBreakpoint] = []
    private var _codeBreakpoints: [(number: Int, address: UInt64)] = []
    private var nextNumber = 1
    private var ring: [RecordedExit] = []
    /// VM exits and failed entries recorded so far (the number of the latest).
    private var transitions: UInt64 = 0
    /// How many exits the ring keeps.
    public static let ringCapacity = 256

    public init() {}

    public var json: Bool {
        get { lock.withLock { _json } }
        set { lock.withLock { _json = newValue } }
    }

    /// The context `ctx` selected (gdb pid: 1 = VMM, then guests); nil: whichever is on the CPU.
    public var context: Int? {
        get { lock.withLock { _context } }
        set { lock.withLock { _context = newValue } }
    }

    public var breakpoints: [VMXBreakpoint] { lock.withLock { _breakpoints } }
    public var codeBreakpoints: [(number: Int, address: UInt64)] { lock.withLock { _codeBreakpoints } }

    @discardableResult
    public func addBreakpoint(_ kind: VMXBreakpoint.Kind, filter: ExitFilter = ExitFilter()) -> Int {
        lock.withLock {
            let n = nextNumber
            nextNumber += 1
            _breakpoints.append(VMXBreakpoint(number: n, kind: kind, filter: filter))
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
    /// `facts`: the exit's interruption information and the guest's ECX (for filters).
    func matching(_ event: VMXEvent, facts: (interruptionInfo: UInt32, ecx: UInt32) = (0, 0)) -> VMXBreakpoint? {
        lock.withLock {
            _breakpoints.first { bp in
                switch (bp.kind, event) {
                case (.exit(let rs), .exit(let r, let q)):
                    return r & 0x8000_0000 == 0 && (rs.isEmpty || rs.contains(UInt16(r & 0xFFFF)))
                        && bp.filter.matches(reason: UInt16(r & 0xFFFF), qualification: q, interruptionInfo: facts.interruptionInfo, ecx: facts.ecx)
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
        cpu.vmx.breakBeforeVMX = bps.reduce(UInt16(0)) { if case .vmxInstruction(let m, _) = $1.kind { return $0 | m }; return $0 }
    }

    // MARK: The exit ring

    public func record(_ e: RecordedExit) {
        lock.withLock {
            ring.append(e)
            if ring.count > Self.ringCapacity { ring.removeFirst(ring.count - Self.ringCapacity) }
        }
    }

    /// Records the VM exit or failed VM entry the CPU has just performed (called on the CPU
    /// thread by the controller's transition hook, before the CPU counts the exit). Each gets
    /// its own number: exits and failed entries in the order they happened, from 1.
    func recordTransition(_ cpu: CPU) {
        let vmcs = cpu.vmx.currentVMCS
        guard vmcs != VMXState.invalidPointer else { return }
        func f(_ id: VMCSFieldID) -> UInt64 { cpu.vmcsRead(id, at: vmcs) }
        let reason = UInt32(truncatingIfNeeded: f(.exitReason))
        // A failed entry records only the exit reason and qualification (SDM §26.8 "VM-Entry
        // Failures During or After Loading Guest State"): the other exit-information fields
        // are stale, so they are not taken.
        let failed = reason & 0x8000_0000 != 0
        lock.withLock {
            transitions &+= 1
            ring.append(RecordedExit(number: transitions, reason: reason, qualification: f(.exitQualification),
                                     guestRIP: failed ? 0 : f(.guestRIP),
                                     instructionLength: failed ? 0 : UInt32(truncatingIfNeeded: f(.exitInstructionLength)),
                                     interruptionInfo: failed ? 0 : UInt32(truncatingIfNeeded: f(.exitInterruptionInfo)),
                                     instructionInfo: failed ? 0 : UInt32(truncatingIfNeeded: f(.exitInstructionInfo)),
                                     guestLinear: failed ? 0 : f(.guestLinearAddress), guestPhysical: failed ? 0 : f(.guestPhysicalAddress),
                                     vmcs: vmcs, instructions: cpu.instructions))
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
