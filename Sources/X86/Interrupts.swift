/// External interrupts, NMIs and the deterministic event queue.
///
/// **Virtual time** is the number of instructions retired plus the time spent halted
/// (`virtualTime`): the same guest and the same inputs give the same interrupts at the same
/// instructions, run after run, on any host. Devices with timers (the APIC timer, the HPET, the
/// PIT) schedule their next event on the CPU's `EventQueue`; the run loop ends its slice of
/// instructions exactly at the earliest deadline (the slice is the budget it already counts down,
/// so the hot path pays nothing for it), fires the due events and goes on. A halted CPU skips
/// virtual time forward to the next event.
///
/// **Interrupt sources** are polled at block boundaries, and only when something is pending: a
/// device whose output changes calls `interruptRequested()` (or `raiseNMI()`), which sets the
/// events byte next to the stop-request byte; the run loop tests both with one 16-bit load per
/// block (`attention`). The poll then decides, in the order of SDM Vol. 3A §6.9 "Priority Among
/// Concurrent Exceptions and Interrupts" (traps of the previous instruction — the single-step and
/// data-breakpoint #DB — are taken before the boundary is reached; then NMI; then maskable
/// interrupts; then the next instruction's fetch):
///   - an NMI unless blocked by MOV SS/POP SS (§6.8.3 "Masking Exceptions and Interrupts When
///     Switching Stacks") or by an NMI handler not yet ended by IRET (§6.7.1 "Handling Multiple
///     NMIs");
///   - a maskable interrupt when RFLAGS.IF = 1 (§6.8.1 "Masking Maskable Hardware Interrupts")
///     and no STI or MOV SS shadow is in effect (the instruction after STI or MOV SS runs first,
///     Vol. 2B "STI": "external, maskable interrupts [are] enabled at the end of the next
///     instruction"); the controller is asked for the vector only then (the INTA cycle).
/// A pending but blocked event keeps the byte set; a shadow makes the next slice one
/// instruction long so the event is taken right after the shadowed instruction.
/// In VMX non-root operation the pin-based controls decide (SDM Vol. 3C §25.2 "Other Causes of VM
/// Exits"); those VM exits are not implemented yet, so an interrupt or NMI there stops the machine
/// with a report.

/// A controller that drives the CPU's INTR line: the local APIC (later), or an 8259 pair. Its
/// owner calls `CPU.interruptRequested()` whenever the output may have changed.
public protocol InterruptController: AnyObject {
    /// True while a maskable interrupt is pending that the controller would deliver now.
    var interruptPending: Bool { get }
    /// The CPU accepts the interrupt (the INTA cycle): the controller returns the vector and puts
    /// it in service. An INTA always yields a vector — the controller's spurious vector when the
    /// request went away in between (8259A: IR7; local APIC: the spurious-interrupt vector).
    func acknowledge() -> UInt8
}

/// Identifies a scheduled event (for `cancelEvent`); `seq` counts up from 0 in scheduling order.
public struct EventID: Hashable, Sendable {
    public let seq: UInt64
    public init(seq: UInt64) { self.seq = seq }
}

/// Events keyed by virtual time; ties run in the order they were scheduled. A sorted array: a
/// machine has a handful of timers, so insertion is a short move, and the earliest deadline is
/// the first element.
public struct EventQueue {
    public typealias Action = () -> Void
    struct Entry {
        var time: UInt64
        var seq: UInt64
        var action: Action
    }
    var entries: [Entry] = []
    var nextSeq: UInt64 = 0

    public init() {}

    /// The earliest deadline, or `UInt64.max` when the queue is empty.
    public var nextTime: UInt64 { entries.first?.time ?? .max }
    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// Run `action` when virtual time reaches `time` (at once, at the next boundary, if it has).
    public mutating func schedule(at time: UInt64, _ action: @escaping Action) -> EventID {
        let seq = nextSeq
        nextSeq &+= 1
        var i = entries.count
        while i > 0 && entries[i - 1].time > time { i -= 1 }
        entries.insert(Entry(time: time, seq: seq, action: action), at: i)
        return EventID(seq: seq)
    }

    /// Remove a scheduled event; false if it already ran or was cancelled.
    @discardableResult
    public mutating func cancel(_ id: EventID) -> Bool {
        guard let i = entries.firstIndex(where: { $0.seq == id.seq }) else { return false }
        entries.remove(at: i)
        return true
    }

    /// Remove and return the earliest event if it is due at `now`.
    public mutating func popDue(_ now: UInt64) -> Action? {
        guard let first = entries.first, first.time <= now else { return nil }
        entries.removeFirst()
        return first.action
    }
}

extension CPU {
    /// Virtual time: instructions retired plus time spent halted.
    public var virtualTime: UInt64 { instructions &+ idleTime }

    /// Schedule `action` at virtual time `time`. Safe to call from inside a run (an MMIO write
    /// that programs a timer): the running slice is cut at the next block boundary.
    @discardableResult
    public func schedule(at time: UInt64, _ action: @escaping () -> Void) -> EventID {
        let id = events.schedule(at: time, action)
        nextEventTime = events.nextTime
        eventsPending.pointee = 1
        return id
    }

    @discardableResult
    public func cancelEvent(_ id: EventID) -> Bool {
        let removed = events.cancel(id)
        nextEventTime = events.nextTime
        return removed
    }

    /// An interrupt controller's output changed: poll it at the next block boundary.
    public func interruptRequested() { eventsPending.pointee = 1 }

    /// Raise NMI (edge-triggered: one NMI is remembered while another is blocked, §6.7.1).
    public func raiseNMI() {
        nmiPending = true
        eventsPending.pointee = 1
    }

    /// The stop-request byte or the events byte is set: one load of both.
    @inline(__always) var attention: Bool {
        UnsafeRawPointer(interruptFlag).loadUnaligned(as: UInt16.self) != 0
    }

    /// Fire every event due at the current virtual time, in order.
    func fireDueEvents() {
        while nextEventTime <= virtualTime, let action = events.popDue(virtualTime) {
            nextEventTime = events.nextTime
            action()
        }
        nextEventTime = events.nextTime
    }

    /// Could anything ever wake a HLT? (An event will come, or a source exists that may raise an
    /// interrupt the CPU would take.)
    var canWake: Bool {
        !events.isEmpty || nmiPending || (interruptController != nil && flagsRest & RFLAGS.if != 0)
    }

    /// What the boundary check decided.
    enum InterruptPoll {
        case none            // nothing pending: the events byte can be cleared
        case delivered       // an NMI or interrupt was delivered (RIP is at its handler)
        case blocked         // something is pending but blocked (IF = 0, NMI blocking)
        case shadow          // blocked by an STI/MOV SS shadow that ends after one instruction
        case stop(StopCause)
    }

    /// Take a pending NMI or maskable interrupt at this instruction boundary, if allowed.
    func pollInterrupts() -> InterruptPoll {
        let movSS = vmx.ssShadowRip == rip
        let sti = vmx.stiShadowRip == rip
        var blocked = false
        if nmiPending {
            if movSS { return .shadow }
            if !nmiBlocked {
                if vmx.nonRoot { return .stop(unimplementedEvent("an NMI in VMX non-root operation (the VM exit or guest delivery of SDM Vol. 3C §25.2, §26.6 is not implemented)")) }
                nmiPending = false
                nmiBlocked = true
                return deliverEvent(Fault(kind: .interrupt, vector: 2, trap: true))
            }
            blocked = true
        }
        if let ctl = interruptController, ctl.interruptPending {
            if flagsRest & RFLAGS.if == 0 && !vmx.nonRoot { return .blocked }
            if movSS || sti { return .shadow }
            if vmx.nonRoot { return .stop(unimplementedEvent("an external interrupt in VMX non-root operation (the VM exit or guest delivery of SDM Vol. 3C §25.2, §26.6 is not implemented)")) }
            return deliverEvent(Fault(kind: .interrupt, vector: ctl.acknowledge(), trap: true))
        }
        return blocked ? .blocked : .none
    }

    private func deliverEvent(_ f: Fault) -> InterruptPoll {
        halted = false
        haltWaitingAt = nil
        currentRip = rip
        if let stop = deliver(f) { return .stop(stop) }
        return .delivered
    }

    private func unimplementedEvent(_ what: String) -> StopCause {
        currentRip = rip
        return .unimplemented(what: what, bytes: currentInstructionBytes(), rip: rip, mode: modeDescription)
    }

    /// The slow path of a block boundary where the events byte is set or the slice ended:
    /// fire due events, take interrupts, wake or idle a halted CPU, and cut the next slice
    /// (`remaining` instructions now, `beyond` after the next event). Returns a stop, if any.
    func serviceEvents(_ remaining: inout UInt64, _ beyond: inout UInt64) -> StopCause? {
        let budget = remaining &+ beyond
        while true {
            eventsPending.pointee = 0
            fireDueEvents()
            var shadow = false
            switch pollInterrupts() {
            case .stop(let s): return s
            case .blocked: eventsPending.pointee = 1
            case .shadow: eventsPending.pointee = 1; shadow = true
            case .delivered:
                // More may be pending behind the one taken (a controller's output stays asserted
                // without a new change): look again at the next boundary.
                if nmiPending || interruptController?.interruptPending == true { eventsPending.pointee = 1 }
            case .none: break
            }
            if let at = haltWaitingAt {
                // HLT (SDM Vol. 2A "HLT"): the CPU resumes on an interrupt or NMI; the next one can
                // only come from the next event, so virtual time skips to it. Only a stop request
                // ends a halt whose events never wake it (IF = 0 and no NMI), as on hardware.
                if interruptFlag.pointee != 0 { interruptFlag.pointee = 0; return .interrupted }
                guard canWake, nextEventTime != .max else {
                    haltWaitingAt = nil
                    return .halted(rip: at, interruptsEnabled: flagsRest & RFLAGS.if != 0)
                }
                if nextEventTime > virtualTime { idleTime &+= nextEventTime - virtualTime }
                continue
            }
            if shadow && budget > 0 {
                remaining = 1; beyond = budget - 1
                return nil
            }
            let now = virtualTime
            if nextEventTime <= now { continue }        // an action scheduled something due already
            let d = nextEventTime - now
            if d < budget { remaining = d; beyond = budget - d } else { remaining = budget; beyond = 0 }
            return nil
        }
    }
}
