// The MC146818 real-time clock and its CMOS RAM, at ports 0x70 (index; bit 7 masks NMI) and 0x71.
//
// Followed: Motorola MC146818A Real-Time Clock Plus RAM datasheet: "Address Map" (time, alarm and
// calendar bytes 0–9, registers A–D, 114 bytes of user RAM), "Register A" (UIP, DV2–0, RS3–0 and
// the periodic-interrupt rate table), "Register B" (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE),
// "Register C" (IRQF, PF, AF, UF; cleared by a read), "Register D" (VRT), "Update Cycle" (UIP is
// set 244 µs before the update), "Alarm" (a "don't care" code of 11xxxxxx in an alarm byte).
// The CMOS bytes firmware leaves for the OS follow the IBM PC/AT BIOS convention (0x10 floppy types,
// 0x14 equipment, 0x15–0x18 and 0x30–0x31 memory sizes, 0x2E–0x2F checksum of 0x10–0x2D, 0x32
// century) and the SeaBIOS/QEMU extensions (0x34–0x35 RAM above 16 MiB and 0x5B–0x5D RAM above 4 GiB
// in 64 KiB units, 0x5F CPU count − 1).
//
// The time is computed, not stepped: seconds since 1970 = `base` + virtual time; a guest write of a
// time byte (with SET, as the datasheet requires, or without) moves `base`. Flags are evaluated when
// register C is read and by events scheduled only while an interrupt is enabled, so an idle RTC costs
// nothing. IRQ 8 is asserted while IRQF is set.

public final class RTC146818 {
    let clock: DeviceClock
    public var irq8: IRQLine = .none
    /// CMOS RAM (bytes 0x0E–0x7F; 0–0x0D are the clock's registers, computed).
    var ram = [UInt8](repeating: 0, count: 128)
    var index: UInt8 = 0
    public internal(set) var nmiMasked = false
    var regA: UInt8 = 0x26  // DV = 010 (32.768 kHz time base), RS = 0110 (1024 Hz)
    var regB: UInt8 = 0x02  // 24-hour, BCD
    var flags: UInt8 = 0  // register C's PF | AF | UF
    var alarm: (sec: UInt8, min: UInt8, hour: UInt8) = (0, 0, 0)
    /// Unix seconds at virtual time 0.
    var base: Int64
    /// Virtual time of the last evaluation of the flags (for PF and UF since then).
    var lastEval: UInt64 = 0
    var token: Int? = nil

    /// `base`: the date at power-on, in seconds since 1970-01-01 00:00 UTC.
    public init(clock: DeviceClock, base: Int64) {
        self.clock = clock
        self.base = base
        lastEval = clock.nanoseconds
    }

    /// Fill the firmware bytes: RAM sizes and CPU count, and the checksum.
    public func setFirmwareBytes(ramBytes: UInt64, cpus: Int) {
        ram[0x10] = 0  // no floppy drives
        ram[0x14] = 0x06  // equipment: math coprocessor, no floppy, display by BIOS (bits 5:4 = 00)
        ram[0x15] = 0x80; ram[0x16] = 0x02  // 640 KiB base memory
        let extKB = min(ramBytes > 1 << 20 ? (ramBytes - (1 << 20)) >> 10 : 0, 0xFFFF)
        ram[0x17] = UInt8(extKB & 0xFF); ram[0x18] = UInt8(extKB >> 8)
        ram[0x30] = ram[0x17]; ram[0x31] = ram[0x18]
        let below4G = min(ramBytes, 0xE000_0000)
        let above16M = below4G > 16 << 20 ? min((below4G - (16 << 20)) >> 16, 0xFFFF) : 0
        ram[0x34] = UInt8(above16M & 0xFF); ram[0x35] = UInt8(above16M >> 8)
        let above4G = ramBytes > 0xE000_0000 ? (ramBytes - 0xE000_0000) >> 16 : 0
        ram[0x5B] = UInt8(above4G & 0xFF); ram[0x5C] = UInt8((above4G >> 8) & 0xFF); ram[0x5D] = UInt8((above4G >> 16) & 0xFF)
        ram[0x5F] = UInt8(max(cpus, 1) - 1)
        let sum = ram[0x10...0x2D].reduce(UInt16(0)) { $0 &+ UInt16($1) }
        ram[0x2E] = UInt8(sum >> 8); ram[0x2F] = UInt8(sum & 0xFF)
    }

    // MARK: Time

    var nowNanos: UInt64 { clock.nanoseconds }
    var unixSeconds: Int64 { base &+ Int64(nowNanos / 1_000_000_000) }

    /// Days since 1970-01-01 → (year, month 1–12, day 1–31) (the proleptic Gregorian calendar).
    static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func days(year y0: Int64, month m: Int, day d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(m > 2 ? m - 3 : m + 9)
        let doy = (153 * mp + 2) / 5 + Int64(d) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    var binary: Bool { regB & 0x04 != 0 }
    var hour24: Bool { regB & 0x02 != 0 }
    func encode(_ v: Int) -> UInt8 { binary ? UInt8(v) : UInt8((v / 10) << 4 | v % 10) }
    func decode(_ b: UInt8) -> Int { binary ? Int(b) : Int(b >> 4) * 10 + Int(b & 0x0F) }

    func encodeHour(_ h: Int) -> UInt8 {
        if hour24 { return encode(h) }
        let h12 = h % 12 == 0 ? 12 : h % 12
        return encode(h12) | (h >= 12 ? 0x80 : 0)
    }
    func decodeHour(_ b: UInt8) -> Int {
        if hour24 { return decode(b) }
        let h = decode(b & 0x7F) % 12
        return b & 0x80 != 0 ? h + 12 : h
    }

    /// The clock bytes now: sec, min, hour, weekday (1 = Sunday), day, month, year, century.
    func fields() -> (sec: Int, min: Int, hour: Int, wday: Int, day: Int, month: Int, year: Int64) {
        let s = unixSeconds
        let days = s >= 0 ? s / 86400 : (s - 86399) / 86400
        let secs = Int(s - days * 86400)
        let (y, m, d) = RTC146818.civil(fromDays: days)
        let wday = Int(((days % 7) + 7 + 4) % 7) + 1  // 1970-01-01 was a Thursday
        return (secs % 60, secs / 60 % 60, secs / 3600, wday, d, m, y)
    }

    func readClockByte(_ i: UInt8) -> UInt8 {
        let f = fields()
        switch i {
        case 0x00: return encode(f.sec)
        case 0x01: return alarm.sec
        case 0x02: return encode(f.min)
        case 0x03: return alarm.min
        case 0x04: return encodeHour(f.hour)
        case 0x05: return alarm.hour
        case 0x06: return encode(f.wday)
        case 0x07: return encode(f.day)
        case 0x08: return encode(f.month)
        case 0x09: return encode(Int(f.year % 100))
        case 0x32: return encode(Int(f.year / 100))
        default: return 0
        }
    }

    /// A guest write of a time or date byte: the clock continues from the new value.
    func writeClockByte(_ i: UInt8, _ v: UInt8) {
        var f = fields()
        switch i {
        case 0x00: f.sec = min(decode(v), 59)
        case 0x02: f.min = min(decode(v), 59)
        case 0x04: f.hour = min(decodeHour(v), 23)
        case 0x06: return  // the weekday follows from the date
        case 0x07: f.day = max(1, min(decode(v), 31))
        case 0x08: f.month = max(1, min(decode(v), 12))
        case 0x09: f.year = f.year / 100 * 100 + Int64(min(decode(v), 99))
        case 0x32: f.year = Int64(min(decode(v), 99)) * 100 + f.year % 100
        default: return
        }
        let t = RTC146818.days(year: f.year, month: f.month, day: f.day) * 86400 + Int64(f.hour * 3600 + f.min * 60 + f.sec)
        base = t &- Int64(nowNanos / 1_000_000_000)
    }

    // MARK: Flags and interrupts

    /// Periodic interrupt period (ns) for RS3–0, nil for 0 (none) or a stopped divider.
    var periodNanos: UInt64? {
        let rs = regA & 0x0F
        guard rs != 0, regA & 0x70 == 0x20 else { return nil }
        let hz: UInt64 = rs <= 2 ? (rs == 1 ? 256 : 128) : 32768 >> (rs - 1)
        return 1_000_000_000 / hz
    }

    /// Update-in-progress: the 244 µs before each second's update (only while the clock runs).
    var uip: Bool {
        guard regB & 0x80 == 0, regA & 0x70 == 0x20 else { return false }
        return nowNanos % 1_000_000_000 >= 1_000_000_000 - 244_000
    }

    func alarmMatches() -> Bool {
        let f = fields()
        func ok(_ a: UInt8, _ v: Int) -> Bool { a & 0xC0 == 0xC0 || decode(a) == v }
        return ok(alarm.sec, f.sec) && ok(alarm.min, f.min) && (alarm.hour & 0xC0 == 0xC0 || decodeHour(alarm.hour) == f.hour)
    }

    /// Set PF/UF for the boundaries passed since the last evaluation; AF when the alarm matches.
    func evaluate() {
        let now = nowNanos
        if now / 1_000_000_000 != lastEval / 1_000_000_000, regB & 0x80 == 0 {
            flags |= 0x10  // UF: an update cycle ended
            if alarmMatches() { flags |= 0x20 }  // AF
        }
        if let p = periodNanos, now / p != lastEval / p { flags |= 0x40 }  // PF
        lastEval = now
        updateIRQ()
    }

    var irqf: Bool { flags & regB & 0x70 != 0 }

    func updateIRQ() {
        irq8.set(irqf)
        reschedule()
    }

    /// The next time a flag an enabled interrupt watches can be set.
    func reschedule() {
        if let t = token { clock.cancel(t); token = nil }
        let now = nowNanos
        var next = UInt64.max
        if regB & 0x40 != 0, let p = periodNanos { next = min(next, (now / p + 1) * p) }
        if regB & 0x30 != 0, regB & 0x80 == 0 { next = min(next, (now / 1_000_000_000 + 1) * 1_000_000_000) }
        guard next != .max, !irqf else { return }  // IRQ 8 stays asserted until C is read
        token = clock.schedule(at: next) { [weak self] in
            self?.token = nil
            self?.evaluate()
        }
    }

    // MARK: Ports

    func readData() -> UInt8 {
        let i = index & 0x7F
        switch i {
        case 0x0A: return (regA & 0x7F) | (uip ? 0x80 : 0)
        case 0x0B: return regB
        case 0x0C:
            evaluate()
            let v = (irqf ? 0x80 : 0) | flags
            flags = 0
            updateIRQ()
            return v
        case 0x0D: return 0x80  // VRT: the battery is good
        case 0x00...0x09, 0x32: return readClockByte(i)
        default: return ram[Int(i)]
        }
    }

    func writeData(_ v: UInt8) {
        let i = index & 0x7F
        switch i {
        case 0x01: alarm.sec = v
        case 0x03: alarm.min = v
        case 0x05: alarm.hour = v
        case 0x0A:
            evaluate()
            regA = v & 0x7F
            reschedule()
        case 0x0B:
            evaluate()
            // The clock is kept in seconds, so a change of DM or 24/12 just re-encodes the bytes.
            regB = v & 0x80 != 0 ? v & ~0x10 : v  // SET = 1 clears UIE ("Register B")
            updateIRQ()
        case 0x0C, 0x0D: break  // read-only
        case 0x00, 0x02, 0x04, 0x06...0x09, 0x32: writeClockByte(i, v)
        default: ram[Int(i)] = v
        }
    }

    /// For the debugger: the time as the guest reads it, registers A–D, pending flags.
    public var state: (time: String, regA: UInt8, regB: UInt8, flags: UInt8, nmiMasked: Bool) {
        let f = fields()
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return ("\(f.year)-\(two(f.month))-\(two(f.day)) \(two(f.hour)):\(two(f.min)):\(two(f.sec))", regA, regB, flags, nmiMasked)
    }

    public var portDevice: PortDevice {
        PortHandler("MC146818 RTC/CMOS", 0x70...0x71,
                    // The index register is write-only on a PC.
                    read: { [unowned self] port, _ in port == 0x71 ? UInt32(self.readData()) : 0xFF },
                    write: { [unowned self] port, _, value in
                        let v = UInt8(truncatingIfNeeded: value)
                        if port == 0x70 { self.index = v & 0x7F; self.nmiMasked = v & 0x80 != 0 } else { self.writeData(v) }
                    })
    }
}

