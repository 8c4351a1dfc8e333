// The High Precision Event Timer block at 0xFED00000: a 64-bit main counter at 14.31818 MHz and
// three comparators.
//
// Followed: IA-PC HPET (High Precision Event Timers) Specification 1.0a (October 2004), §2.3
// "Register Definition and Address Map" (§2.3.4 General Capabilities and ID, §2.3.5 General
// Configuration (ENABLE_CNF, LEG_RT_CNF), §2.3.6 General Interrupt Status, §2.3.7 Main Counter,
// §2.3.8 Timer N Configuration and Capabilities, §2.3.9 Timer N Comparator, §2.3.10 FSB route),
// §2.3.9.2.2 "Periodic Mode" (Tn_VAL_SET_CNF), §2.3.9.3 "Interrupt Mapping" / §2.4 "Legacy
// Replacement Option" (timer 0 → IRQ0, timer 1 → IRQ8), §2.2 "Timer Interrupts" (edge vs level:
// Tn_INT_STS is set only for level-triggered timers and cleared by writing 1).
//
// Like the PIT, the counter is computed from virtual time, and each enabled comparator schedules
// one event at its next match. Behaviour the spec leaves open, as chosen here (and as QEMU does):
// in periodic mode every comparator write sets the period, and with Tn_VAL_SET_CNF also the
// comparator; a period of 0 behaves as one-shot (the next match is a full counter wrap away) so
// a guest cannot make the timer fire without end. FSB (MSI) delivery is not offered (Tn_FSB_INT_DEL_CAP
// = 0). Reads and writes are 32- or 64-bit; other sizes read all-ones and are ignored.

public final class HPET {
    /// 14.31818 MHz, as the ICH's HPET: the period in femtoseconds.
    public static let periodFs: UInt64 = 69_841_279
    public static let frequency: UInt64 = 14_318_180
    public static let timers = 3
    /// Tn_INT_ROUTE_CAP: I/O APIC pins 20–23 (and 2 and 8 for the legacy-style routes).
    static let routeCap: UInt32 = 0x00F0_0104

    /// Where an interrupt goes: an ISA IRQ (legacy replacement) or an I/O APIC input.
    public enum Line: Equatable, Sendable { case isa(Int), gsi(Int) }

    final class Timer {
        var config: UInt64 = 0
        var comparator: UInt64 = ~0
        var period: UInt64 = 0
        var token: Int? = nil
        var asserted: Line? = nil
    }

    let clock: DeviceClock
    public var onIRQ: (Line, Bool) -> Void = { _, _ in }
    var enabled = false
    public private(set) var legacyReplacement = false
    var status: UInt64 = 0
    /// Counter value at `counterBase` virtual time (while enabled), or the frozen value.
    var counterAtBase: UInt64 = 0
    var counterBase: UInt64 = 0
    let t = (0..<HPET.timers).map { _ in Timer() }

    public init(clock: DeviceClock) { self.clock = clock }

    var capabilities: UInt64 {
        HPET.periodFs << 32 | 0x8086 << 16 | 1 << 15 | 1 << 13 | UInt64(HPET.timers - 1) << 8 | 0x01
    }

    public var counter: UInt64 {
        guard enabled else { return counterAtBase }
        return counterAtBase &+ mulDiv(clock.nanoseconds &- counterBase, HPET.frequency, 1_000_000_000)
    }

    // Config bits of a timer.
    static let levelCnf: UInt64 = 1 << 1, enableCnf: UInt64 = 1 << 2, periodicCnf: UInt64 = 1 << 3
    static let periodicCap: UInt64 = 1 << 4, size64Cap: UInt64 = 1 << 5, valSetCnf: UInt64 = 1 << 6
    static let mode32Cnf: UInt64 = 1 << 8

    func timerConfig(_ n: Int) -> UInt64 {
        t[n].config | HPET.periodicCap | HPET.size64Cap | UInt64(HPET.routeCap) << 32
    }

    func is32(_ n: Int) -> Bool { t[n].config & HPET.mode32Cnf != 0 }

    func line(_ n: Int) -> Line {
        if legacyReplacement && n < 2 { return .isa(n == 0 ? 0 : 8) }
        return .gsi(Int(t[n].config >> 9) & 0x1F)
    }

    // MARK: Matches

    func reschedule(_ n: Int) {
        let tm = t[n]
        if let tok = tm.token { clock.cancel(tok); tm.token = nil }
        guard enabled, tm.config & HPET.enableCnf != 0 else { return }
        let now = counter
        let delta: UInt64 = is32(n) ? UInt64(UInt32(truncatingIfNeeded: tm.comparator) &- UInt32(truncatingIfNeeded: now))
                                    : tm.comparator &- now
        let ticks = delta == 0 ? (is32(n) ? 1 << 32 : UInt64.max) : delta
        let wait = mulDiv(ticks, 1_000_000_000, HPET.frequency)
        let (at, overflow) = clock.nanoseconds.addingReportingOverflow(wait)
        guard wait != .max, !overflow, at != .max else { return }  // beyond the end of virtual time: never
        tm.token = clock.schedule(at: at + 1) { [weak self] in
            guard let self else { return }
            self.t[n].token = nil
            self.fire(n)
        }
    }

    func fire(_ n: Int) {
        let tm = t[n]
        if tm.config & HPET.periodicCnf != 0 && tm.period != 0 {
            // Periodic: the comparator advances by the period past the counter (§2.3.9.2.2).
            // One division, not a loop, however far the counter has run past it.
            let now = counter, p = tm.period
            if is32(n) {
                let d = UInt32(truncatingIfNeeded: now) &- UInt32(truncatingIfNeeded: tm.comparator)
                if Int32(bitPattern: d) >= 0 {
                    let step = UInt32(truncatingIfNeeded: (UInt64(d) / p + 1) &* p)
                    tm.comparator = UInt64(UInt32(truncatingIfNeeded: tm.comparator) &+ step)
                }
            } else {
                let d = now &- tm.comparator
                if Int64(bitPattern: d) >= 0 { tm.comparator &+= (d / p + 1) &* p }
            }
        }
        let ln = line(n)
        if tm.config & HPET.levelCnf != 0 {
            status |= 1 << UInt64(n)
            tm.asserted = ln
            onIRQ(ln, true)
        } else {
            onIRQ(ln, true)
            onIRQ(ln, false)
        }
        reschedule(n)
    }

    func deassert(_ n: Int) {
        if let ln = t[n].asserted { onIRQ(ln, false); t[n].asserted = nil }
    }

    // MARK: Registers

    public func mmioRead(offset: UInt64, size: Int) -> UInt64 {
        guard size == 4 || size == 8, offset & UInt64(size - 1) == 0 else { return size >= 8 ? ~0 : (1 << (8 * UInt64(size))) - 1 }
        let reg = offset & ~7, shift = (offset & 4) * 8
        let v: UInt64
        switch reg {
        case 0x000: v = capabilities
        case 0x010: v = (enabled ? 1 : 0) | (legacyReplacement ? 2 : 0)
        case 0x020: v = status
        case 0x0F0: v = counter
        case 0x100..<0x100 + 0x20 * UInt64(HPET.timers):
            let n = Int((reg - 0x100) / 0x20)
            switch reg & 0x1F {
            case 0x00: v = timerConfig(n)
            case 0x08: v = is32(n) ? t[n].comparator & 0xFFFF_FFFF : t[n].comparator
            default: v = 0  // FSB route: not offered
            }
        default: v = 0
        }
        return size == 8 ? v : (v >> shift) & 0xFFFF_FFFF
    }

    public func mmioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard size == 4 || size == 8, offset & UInt64(size - 1) == 0 else { return }
        let reg = offset & ~7, shift = (offset & 4) * 8
        let mask: UInt64 = size == 8 ? ~0 : 0xFFFF_FFFF << shift
        let bits = size == 8 ? value : (value & 0xFFFF_FFFF) << shift
        func merged(_ old: UInt64) -> UInt64 { old & ~mask | bits & mask }
        switch reg {
        case 0x010:
            let v = merged((enabled ? 1 : 0) | (legacyReplacement ? 2 : 0))
            let wasEnabled = enabled
            let c = counter
            enabled = v & 1 != 0
            if enabled != wasEnabled { counterAtBase = c; counterBase = clock.nanoseconds }
            let legacy = v & 2 != 0
            if legacy != legacyReplacement { for n in 0..<2 { deassert(n) } }
            legacyReplacement = legacy
            for n in 0..<HPET.timers { reschedule(n) }
        case 0x020:
            let clear = bits & mask & 0x7
            for n in 0..<HPET.timers where clear & (1 << UInt64(n)) != 0 { deassert(n) }
            status &= ~clear
        case 0x0F0:
            guard !enabled else { return }  // software writes the counter only while it is halted
            counterAtBase = merged(counterAtBase)
        case 0x100..<0x100 + 0x20 * UInt64(HPET.timers):
            let n = Int((reg - 0x100) / 0x20)
            let tm = t[n]
            switch reg & 0x1F {
            case 0x00:
                // Writable: INT_TYPE, INT_ENB, TYPE, VAL_SET, 32MODE, INT_ROUTE (only to offered pins).
                let writable: UInt64 = 0x2 | 0x4 | 0x8 | 0x40 | 0x100 | 0x3E00
                var v = merged(tm.config) & writable
                let route = UInt32((v >> 9) & 0x1F)
                if HPET.routeCap & (1 << route) == 0 { v = v & ~0x3E00 | tm.config & 0x3E00 }
                if v & HPET.levelCnf == 0 || (v ^ tm.config) & 0x3E00 != 0 { deassert(n) }
                tm.config = v
                if is32(n) { tm.comparator &= 0xFFFF_FFFF; tm.period &= 0xFFFF_FFFF }
            case 0x08:
                let v = is32(n) ? merged(tm.comparator) & 0xFFFF_FFFF : merged(tm.comparator)
                if tm.config & HPET.periodicCnf == 0 || tm.config & HPET.valSetCnf != 0 { tm.comparator = v }
                if tm.config & HPET.periodicCnf != 0 { tm.period = is32(n) ? merged(tm.period) & 0xFFFF_FFFF : merged(tm.period) }
                tm.config &= ~HPET.valSetCnf
            default: break
            }
            reschedule(n)
        default: break
        }
    }

    /// For the debugger.
    public struct TimerState: Sendable, Equatable {
        public var config: UInt64, comparator: UInt64, period: UInt64, line: Line
    }
    public var state: (enabled: Bool, legacy: Bool, counter: UInt64, status: UInt64, timers: [TimerState]) {
        (enabled, legacyReplacement, counter, status,
         (0..<HPET.timers).map { TimerState(config: timerConfig($0), comparator: t[$0].comparator, period: t[$0].period, line: line($0)) })
    }
}
