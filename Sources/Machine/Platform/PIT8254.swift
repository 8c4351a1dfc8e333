// The 8254 programmable interval timer (three counters clocked at 1.193182 MHz) and port 0x61.
//
// Followed: Intel 8254 Programmable Interval Timer datasheet (order 231164-005): "Control Word
// Format", "Write Operations", "Read Operations" (simple read, Counter Latch Command, Read-Back
// Command, status byte), "Mode Definitions" (modes 0–5: OUT and counting per mode, GATE effects),
// BCD counting. Port 0x61 is the PC/AT's system control port B as the Intel I/O Controller Hub
// datasheets give it ("NMI_SC—NMI Status and Control Register", I/O 61h: bit 0 timer counter 2
// enable (GATE2), bit 1 speaker data enable, bit 4 refresh cycle toggle, bit 5 timer counter 2 OUT).
//
// Counters are not stepped: each remembers when it started counting (virtual nanoseconds of the
// `DeviceClock`) and computes its count and OUT from the elapsed input clocks on demand. Counter 0's
// OUT is ISA IRQ 0: the PIT schedules an event at each transition of it and sets the IRQ line.
// Counters 0 and 1 have GATE tied high; counter 2's GATE is port 0x61 bit 0 (Linux calibrates the
// TSC with counter 2 in mode 0, reading OUT2 through port 0x61).

public final class PIT8254 {
    /// The input clock, Hz.
    public static let frequency: UInt64 = 1_193_182

    final class Counter {
        var mode = 0
        var bcd = false
        /// 1 LSB only, 2 MSB only, 3 LSB then MSB.
        var access = 3
        /// The initial count as written (0 means the maximum: 65536, or 10000 in BCD).
        var initial: UInt32 = 0
        /// A count is loaded and counting has started (modes 1 and 5: triggered by GATE).
        var counting = false
        /// Virtual time counting started (ns), and clocks counted before a GATE pause.
        var start: UInt64 = 0
        var pausedClocks: UInt64 = 0
        var gate = true
        var paused = false
        /// OUT before a count is loaded (mode 0: low after the control word; others: high).
        var idleOut = true
        /// Write state: waiting for the MSB of an LSB-then-MSB count.
        var writeMSBNext = false
        var pendingLSB: UInt8 = 0
        /// Read state: next byte is the MSB (LSB-then-MSB access).
        var readMSBNext = false
        /// A latched count (Counter Latch Command or read-back): its bytes still to read.
        var latched: [UInt8] = []
        var latchedStatus: UInt8? = nil
        var nullCount = true
        /// The IRQ event for counter 0.
        var token: Int? = nil

        /// The initial count as a number of clocks (a BCD count is written as four decimal digits).
        var period: UInt64 {
            if initial == 0 { return bcd ? 10000 : 65536 }
            guard bcd else { return UInt64(initial) }
            var v: UInt64 = 0
            for i in (0..<4).reversed() { v = v * 10 + min(UInt64(initial >> (4 * UInt32(i))) & 0xF, 9) }
            return v == 0 ? 10000 : v
        }
    }

    let counters = [Counter(), Counter(), Counter()]
    let clock: DeviceClock
    /// ISA IRQ 0 (the PIC's IR0 and the I/O APIC's pin 2).
    public var irq0: IRQLine = .none
    var speakerEnable = false
    var nmiControl: UInt8 = 0

    public init(clock: DeviceClock) {
        self.clock = clock
    }

    // MARK: Time

    func clocks(_ c: Counter) -> UInt64 {
        guard c.counting else { return 0 }
        if c.paused { return c.pausedClocks }
        let now = clock.nanoseconds
        return c.pausedClocks &+ mulDiv(now &- c.start, PIT8254.frequency, 1_000_000_000)
    }

    /// Nanoseconds after which `clocks` input clocks have certainly elapsed (one past the floor, so
    /// the clock count computed back from that time is at least `clocks`).
    func nanos(_ clocks: UInt64) -> UInt64 {
        mulDiv(clocks, 1_000_000_000, PIT8254.frequency) &+ 1
    }

    /// OUT after `t` clocks of counting.
    func out(_ c: Counter, at t: UInt64) -> Bool {
        guard c.counting else { return c.idleOut }
        let n = c.period
        switch c.mode {
        case 0: return t >= n
        case 1: return t >= n
        case 2, 6:
            if c.paused { return true }
            return t % max(n, 2) != max(n, 2) - 1
        case 3, 7:
            if c.paused { return true }
            let m = max(n, 2)
            return t % m < (m + 1) / 2
        case 4, 5: return t != n
        default: return true
        }
    }

    /// The clock count (> t) of OUT's next transition, or nil.
    func nextTransition(_ c: Counter, after t: UInt64) -> UInt64? {
        guard c.counting, !c.paused else { return nil }
        let n = c.period
        switch c.mode {
        case 0, 1: return t < n ? n : nil
        case 2, 6:
            let m = max(n, 2), phase = t % m
            return phase < m - 1 ? t + (m - 1 - phase) : t + 1
        case 3, 7:
            let m = max(n, 2), phase = t % m, high = (m + 1) / 2
            return phase < high ? t + (high - phase) : t + (m - phase)
        case 4, 5:
            if t < n { return n }
            if t == n { return n + 1 }
            return nil
        default: return nil
        }
    }

    /// The count now (what a read returns), in the counter's binary or BCD form.
    func count(_ c: Counter) -> UInt16 {
        guard c.counting else { return UInt16(truncatingIfNeeded: c.initial) }
        let t = clocks(c), n = c.period
        let modulus: UInt64 = c.bcd ? 10000 : 65536
        var v: UInt64
        switch c.mode {
        case 2, 6:
            let m = max(n, 2)
            v = m - t % m
        case 3, 7:
            let m = max(n, 2) & ~1, half = max(m / 2, 1)
            v = m - 2 * (t % m % half)
        default:
            v = (n + modulus - t % modulus) % modulus
        }
        if c.bcd {
            var b: UInt16 = 0
            var x = v % 10000
            for i in 0..<4 { b |= UInt16(x % 10) << (4 * i); x /= 10 }
            return b
        }
        return UInt16(truncatingIfNeeded: v)
    }

    // MARK: Counter 0 → IRQ 0

    func reschedule() {
        let c = counters[0]
        if let t = c.token { clock.cancel(t); c.token = nil }
        irq0.set(out(c, at: clocks(c)))
        guard let next = nextTransition(c, after: clocks(c)) else { return }
        let at = c.start &+ nanos(next &- c.pausedClocks)
        c.token = clock.schedule(at: at) { [weak self] in
            guard let self else { return }
            self.counters[0].token = nil
            self.reschedule()
        }
    }

    // MARK: Registers

    func loadCount(_ i: Int, _ value: UInt32) {
        let c = counters[i]
        c.initial = value
        c.nullCount = false
        // Modes 1 and 5 wait for a GATE rising edge; the others start counting now (when GATE is high).
        if c.mode == 1 || c.mode == 5 {
            if !c.counting { c.idleOut = true }
        } else {
            c.counting = true
            c.start = clock.nanoseconds
            c.pausedClocks = 0
            c.paused = !c.gate
        }
        if i == 0 { reschedule() }
    }

    func writeCounter(_ i: Int, _ v: UInt8) {
        let c = counters[i]
        switch c.access {
        case 1: loadCount(i, UInt32(v))
        case 2: loadCount(i, UInt32(v) << 8)
        default:
            if c.writeMSBNext {
                c.writeMSBNext = false
                loadCount(i, UInt32(c.pendingLSB) | UInt32(v) << 8)
            } else {
                c.pendingLSB = v
                c.writeMSBNext = true
                // Mode 0: writing the first byte of a new count stops the count (OUT stays low).
                if c.mode == 0 && c.counting {
                    c.pausedClocks = clocks(c); c.paused = true
                    if i == 0 { reschedule() }
                }
            }
        }
    }

    func latchCount(_ c: Counter) {
        guard c.latched.isEmpty else { return }  // a second latch before the first is read is ignored
        let v = count(c)
        switch c.access {
        case 1: c.latched = [UInt8(v & 0xFF)]
        case 2: c.latched = [UInt8(v >> 8)]
        default: c.latched = c.readMSBNext ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]
        }
    }

    func status(_ c: Counter) -> UInt8 {
        (out(c, at: clocks(c)) ? 0x80 : 0) | (c.nullCount ? 0x40 : 0) | UInt8(c.access << 4) | UInt8(c.mode << 1) | (c.bcd ? 1 : 0)
    }

    func readCounter(_ i: Int) -> UInt8 {
        let c = counters[i]
        if let s = c.latchedStatus { c.latchedStatus = nil; return s }
        if !c.latched.isEmpty { return c.latched.removeFirst() }
        let v = count(c)
        switch c.access {
        case 1: return UInt8(v & 0xFF)
        case 2: return UInt8(v >> 8)
        default:
            defer { c.readMSBNext.toggle() }
            return c.readMSBNext ? UInt8(v >> 8) : UInt8(v & 0xFF)
        }
    }

    func writeControl(_ v: UInt8) {
        let sc = Int(v >> 6), rw = Int(v >> 4) & 3
        if sc == 3 {  // read-back: bit 5 = 0 latch count, bit 4 = 0 latch status, bits 3–1 counters
            for i in 0..<3 where v & (2 << i) != 0 {
                let c = counters[i]
                if v & 0x10 == 0 && c.latchedStatus == nil { c.latchedStatus = status(c) }
                if v & 0x20 == 0 { latchCount(c) }
            }
            return
        }
        let c = counters[sc]
        if rw == 0 { latchCount(c); return }
        c.access = rw
        c.mode = Int(v >> 1) & 7
        c.bcd = v & 1 != 0
        c.counting = false
        c.paused = false
        c.pausedClocks = 0
        c.nullCount = true
        c.writeMSBNext = false
        c.readMSBNext = false
        c.latched = []
        c.latchedStatus = nil
        c.idleOut = c.mode != 0
        if sc == 0 { reschedule() }
    }

    /// Counter 2's GATE (port 0x61 bit 0).
    func setGate2(_ level: Bool) {
        let c = counters[2]
        guard level != c.gate else { return }
        c.gate = level
        guard c.counting || c.mode == 1 || c.mode == 5 else { return }
        if level {
            switch c.mode {
            case 0, 4:  // resume
                if c.paused { c.start = clock.nanoseconds; c.paused = false }
            default:  // 1, 5 trigger; 2, 3 reload
                guard c.initial != 0 || !c.nullCount else { return }
                c.counting = true
                c.start = clock.nanoseconds
                c.pausedClocks = 0
                c.paused = false
            }
        } else if c.counting && !c.paused && c.mode != 1 && c.mode != 5 {
            c.pausedClocks = clocks(c)
            c.paused = true
        }
    }

    /// Port 0x61 as read: GATE2, speaker enable, NMI enables (bits 2–3 as written), the refresh
    /// toggle (every 15.085 µs, from virtual time), OUT2.
    func readPortB() -> UInt8 {
        let c = counters[2]
        let refresh: UInt8 = (clock.nanoseconds / 15_085) & 1 == 1 ? 0x10 : 0
        return (c.gate ? 1 : 0) | (speakerEnable ? 2 : 0) | (nmiControl & 0x0C) | refresh | (out(c, at: clocks(c)) ? 0x20 : 0)
    }

    func writePortB(_ v: UInt8) {
        speakerEnable = v & 2 != 0
        nmiControl = v & 0x0C
        setGate2(v & 1 != 0)
    }

    /// For the debugger.
    public struct CounterState: Sendable, Equatable {
        public var mode: Int, bcd: Bool, initial: UInt32, count: UInt16, out: Bool, gate: Bool, counting: Bool
    }
    public var state: [CounterState] {
        counters.map { c in
            CounterState(mode: c.mode, bcd: c.bcd, initial: c.initial, count: count(c), out: out(c, at: clocks(c)),
                         gate: c.gate, counting: c.counting)
        }
    }

    public var portDevices: [PortDevice] {
        [PortHandler("8254 PIT", 0x40...0x43,
                     // The control word is write-only.
                     read: { [unowned self] port, _ in port == 0x43 ? 0xFF : UInt32(self.readCounter(Int(port - 0x40))) },
                     write: { [unowned self] port, _, value in
                         let v = UInt8(truncatingIfNeeded: value)
                         if port == 0x43 { self.writeControl(v) } else { self.writeCounter(Int(port - 0x40), v) }
                     }),
         PortHandler("system control port B", 0x61...0x61,
                     read: { [unowned self] _, _ in UInt32(self.readPortB()) },
                     write: { [unowned self] _, _, v in self.writePortB(UInt8(truncatingIfNeeded: v)) })]
    }
}


