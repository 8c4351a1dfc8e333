// The platform's devices, driven through their ports on a manual virtual clock, and their wiring.

import Testing
@testable import Machine
import X86

/// A virtual clock the test advances by hand; due actions run in time order.
final class ManualClock: DeviceClock {
    var nanoseconds: UInt64 = 0
    var pending: [(at: UInt64, token: Int, action: () -> Void)] = []
    var nextToken = 0
    func schedule(at: UInt64, _ action: @escaping () -> Void) -> Int {
        nextToken += 1
        pending.append((at, nextToken, action))
        return nextToken
    }
    func cancel(_ token: Int) { pending.removeAll { $0.token == token } }
    /// Advance to `t`, running every action due on the way at its own time.
    func advance(to t: UInt64) {
        while let i = pending.indices.filter({ pending[$0].at <= t }).min(by: { pending[$0].at < pending[$1].at }) {
            let e = pending.remove(at: i)
            nanoseconds = max(nanoseconds, e.at)
            e.action()
        }
        nanoseconds = t
    }
}

private func out(_ devs: [PortDevice], _ port: UInt16, _ v: UInt8) {
    devs.first { $0.ports.contains(port) }!.write(port: port, size: 1, value: UInt32(v))
}
private func inb(_ devs: [PortDevice], _ port: UInt16) -> UInt8 {
    UInt8(truncatingIfNeeded: devs.first { $0.ports.contains(port) }!.read(port: port, size: 1))
}

/// Linux's init_8259A: ICW1 0x11, ICW2 base, ICW3 (master 0x04, slave 0x02), ICW4 0x01.
private func initPICs(_ d: [PortDevice], master: UInt8 = 0x30, slave: UInt8 = 0x38, autoEOI: Bool = false) {
    out(d, 0x20, 0x11); out(d, 0x21, master); out(d, 0x21, 0x04); out(d, 0x21, autoEOI ? 0x03 : 0x01)
    out(d, 0xA0, 0x11); out(d, 0xA1, slave); out(d, 0xA1, 0x02); out(d, 0xA1, autoEOI ? 0x03 : 0x01)
    out(d, 0x21, 0x00); out(d, 0xA1, 0x00)
}

@Suite struct PICTests {
    @Test func vectorsPriorityAndEOI() {
        let pic = PICPair(), d = pic.portDevices
        initPICs(d)
        #expect(!pic.interruptPending)
        pic.setIRQ(4, true); pic.setIRQ(1, true)
        #expect(pic.interruptPending)
        #expect(pic.acknowledge() == 0x31)  // IRQ1 has priority over IRQ4
        #expect(!pic.interruptPending)  // IRQ4 is blocked by IRQ1 in service
        out(d, 0x20, 0x0B)  // OCW3: read ISR
        #expect(inb(d, 0x20) == 0x02)
        out(d, 0x20, 0x20)  // non-specific EOI
        #expect(pic.acknowledge() == 0x34)
        out(d, 0x20, 0x0A)  // OCW3: read IRR
        #expect(inb(d, 0x20) == 0x00)  // edge requests cleared by INTA
    }

    @Test func slaveThroughTheCascade() {
        let pic = PICPair(), d = pic.portDevices
        initPICs(d)
        pic.setIRQ(12, true)
        #expect(pic.interruptPending)
        #expect(pic.acknowledge() == 0x3C)
        out(d, 0x20, 0x0B); out(d, 0xA0, 0x0B)
        #expect(inb(d, 0x20) == 0x04 && inb(d, 0xA0) == 0x10)  // IR2 on the master, IR4 on the slave
        pic.setIRQ(12, false); pic.setIRQ(12, true)
        #expect(!pic.interruptPending)  // still in service on the slave
        out(d, 0xA0, 0x20); out(d, 0x20, 0x20)
        #expect(pic.interruptPending && pic.acknowledge() == 0x3C)
    }

    @Test func maskSpuriousAndLevel() {
        let pic = PICPair(), d = pic.portDevices
        initPICs(d)
        out(d, 0x21, 0xFF)
        pic.setIRQ(3, true)
        #expect(!pic.interruptPending)
        #expect(inb(d, 0x21) == 0xFF)
        out(d, 0x21, 0x00)
        #expect(pic.interruptPending)
        pic.setIRQ(3, false)  // edge request stays latched in IRR
        #expect(pic.interruptPending)
        // Level-triggered IRQ 10 (ELCR2 bit 2): the request goes away with the line: spurious IRQ 15.
        out(d, 0x4D1, 0x04)
        #expect(inb(d, 0x4D1) == 0x04)
        _ = pic.acknowledge(); out(d, 0x20, 0x20)
        pic.setIRQ(10, true)
        #expect(pic.interruptPending)
        pic.setIRQ(10, false)
        #expect(!pic.interruptPending)
        #expect(pic.acknowledge() == 0x37)  // nothing by INTA: the master's spurious IR7, no ISR bit
        out(d, 0x20, 0x0B)
        #expect(inb(d, 0x20) == 0x00)
        out(d, 0x4D0, 0xFF)
        #expect(inb(d, 0x4D0) == 0xF8)  // IRQ 0–2 are always edge
    }

    @Test func autoEOIRotationAndPoll() {
        let pic = PICPair(), d = pic.portDevices
        initPICs(d, autoEOI: true)
        pic.setIRQ(5, true)
        #expect(pic.acknowledge() == 0x35)
        out(d, 0x20, 0x0B)
        #expect(inb(d, 0x20) == 0)  // auto-EOI: nothing stays in service
        out(d, 0x20, 0xC5)  // OCW2 set priority: IR5 lowest, so IR6 is highest
        pic.setIRQ(6, true); pic.setIRQ(0, true)
        out(d, 0x20, 0x0C)  // OCW3 poll
        #expect(inb(d, 0x20) == 0x86)
    }
}

@Suite struct PITTests {
    @Test func mode2RateGeneratorRaisesIRQ0Periodically() {
        let clock = ManualClock()
        let pit = PIT8254(clock: clock), d = pit.portDevices
        var edges: [UInt64] = []
        var level = false
        pit.irq0 = IRQLine { l in if l && !level { edges.append(clock.nanoseconds) }; level = l }
        out(d, 0x43, 0x34)  // counter 0, LSB/MSB, mode 2
        out(d, 0x40, 0x9C); out(d, 0x40, 0x2E)  // 11932: 100 Hz (Linux's LATCH for HZ=100)
        clock.advance(to: 1_000_000_000)
        #expect(edges.count == 99 || edges.count == 100)
        // Each period is 11932 / 1.193182 MHz = 10.0001 ms.
        let periods = zip(edges, edges.dropFirst()).map { $1 - $0 }
        #expect(periods.allSatisfy { (10_000_000...10_000_200).contains($0) })
    }

    @Test func mode0OnCounter2ThroughPortB() {
        // Linux's pit_calibrate_tsc: GATE2 high, speaker off, counter 2 mode 0, count 0xFFFF… here
        // 11932 (10 ms); OUT2 (port 0x61 bit 5) goes high at terminal count.
        let clock = ManualClock()
        let pit = PIT8254(clock: clock), d = pit.portDevices
        out(d, 0x61, (inb(d, 0x61) & ~0x02) | 0x01)
        out(d, 0x43, 0xB0)
        out(d, 0x42, 0x9C); out(d, 0x42, 0x2E)
        #expect(inb(d, 0x61) & 0x20 == 0)
        clock.advance(to: 5_000_000)
        #expect(inb(d, 0x61) & 0x20 == 0)
        let lsb = inb(d, 0x42), msb = inb(d, 0x42)
        let count = Int(lsb) | Int(msb) << 8
        #expect(abs(count - (11932 - 5966)) <= 1)
        clock.advance(to: 10_000_200)
        #expect(inb(d, 0x61) & 0x20 != 0)
        // GATE2 low pauses mode 0: the count does not move.
        out(d, 0x43, 0xB0); out(d, 0x42, 0x00); out(d, 0x42, 0x10)
        out(d, 0x61, 0x00)
        let before = pit.state[2].count
        clock.advance(to: 20_000_000)
        #expect(pit.state[2].count == before)
    }

    @Test func latchAndReadBack() {
        let clock = ManualClock()
        let pit = PIT8254(clock: clock), d = pit.portDevices
        out(d, 0x43, 0x34); out(d, 0x40, 0x00); out(d, 0x40, 0x00)  // mode 2, count 65536
        clock.advance(to: 1_000_000)  // 1193 clocks
        out(d, 0x43, 0x00)  // latch counter 0
        clock.advance(to: 2_000_000)
        let v = Int(inb(d, 0x40)) | Int(inb(d, 0x40)) << 8
        #expect(abs(v - (65536 - 1193)) <= 1)
        out(d, 0x43, 0xE2)  // read-back: latch status and count of counter 0
        let status = inb(d, 0x40)
        #expect(status & 0x3F == 0x34)
        #expect(status & 0x80 != 0)  // OUT high in mode 2 except the last clock
        let w = Int(inb(d, 0x40)) | Int(inb(d, 0x40)) << 8
        #expect(abs(w - (65536 - 2386)) <= 1)
    }

    @Test func bcdAndMode3Square() {
        let clock = ManualClock()
        let pit = PIT8254(clock: clock), d = pit.portDevices
        out(d, 0x43, 0x31)  // counter 0, LSB/MSB, mode 0, BCD
        out(d, 0x40, 0x00); out(d, 0x40, 0x10)  // 1000 (BCD)
        clock.advance(to: 100_000)  // ≈119 clocks → 881
        #expect(pit.state[0].count == 0x0881 || pit.state[0].count == 0x0880)
        var edges = 0
        var level = false
        pit.irq0 = IRQLine { l in if l && !level { edges += 1 }; level = l }
        out(d, 0x43, 0x36); out(d, 0x40, 0x00); out(d, 0x40, 0x00)  // mode 3, 65536: 18.2 Hz
        clock.advance(to: 1_100_000)
        clock.advance(to: 1_100_000 + 1_000_000_000)
        #expect(edges == 18 || edges == 19)
    }
}

@Suite struct RTCTests {
    // 2026-12-07 23:59:58 UTC, a Monday.
    static let base: Int64 = 1_796_687_998

    func read(_ d: PortDevice, _ i: UInt8) -> UInt8 {
        d.write(port: 0x70, size: 1, value: UInt32(i))
        return UInt8(truncatingIfNeeded: d.read(port: 0x71, size: 1))
    }
    func write(_ d: PortDevice, _ i: UInt8, _ v: UInt8) {
        d.write(port: 0x70, size: 1, value: UInt32(i))
        d.write(port: 0x71, size: 1, value: UInt32(v))
    }

    @Test func timeInBCDAndBinaryAndItRuns() {
        let clock = ManualClock()
        let rtc = RTC146818(clock: clock, base: Self.base), d = rtc.portDevice
        #expect([0, 2, 4, 6, 7, 8, 9, 0x32].map { read(d, $0) } == [0x58, 0x59, 0x23, 0x02, 0x07, 0x12, 0x26, 0x20])
        clock.advance(to: 2_500_000_000)  // past midnight: 2026-12-08 00:00:00
        #expect([0, 2, 4, 7, 8].map { read(d, $0) } == [0x00, 0x00, 0x00, 0x08, 0x12])
        write(d, 0x0B, 0x06)  // binary, 24-hour
        #expect(read(d, 7) == 8 && read(d, 9) == 26)
        write(d, 0x0B, 0x04)  // binary, 12-hour: midnight is 12 AM
        #expect(read(d, 4) == 12)
        #expect(read(d, 0x0D) == 0x80)
    }

    @Test func setTheClock() {
        let clock = ManualClock()
        let rtc = RTC146818(clock: clock, base: Self.base), d = rtc.portDevice
        write(d, 0x0B, 0x82)  // SET, BCD, 24-hour
        write(d, 0x09, 0x99); write(d, 0x08, 0x02); write(d, 0x07, 0x28); write(d, 0x04, 0x23); write(d, 0x02, 0x59); write(d, 0x00, 0x59)
        write(d, 0x32, 0x19)
        write(d, 0x0B, 0x02)
        clock.advance(to: 1_000_000_000)
        #expect([0, 2, 4, 7, 8, 9, 0x32].map { read(d, $0) } == [0x00, 0x00, 0x00, 0x01, 0x03, 0x99, 0x19])  // 1999-03-01
        #expect(rtc.state.time == "1999-03-01 00:00:00")
    }

    @Test func updateInProgressWindow() {
        let clock = ManualClock()
        let rtc = RTC146818(clock: clock, base: Self.base), d = rtc.portDevice
        clock.advance(to: 999_755_000)
        #expect(read(d, 0x0A) & 0x80 == 0)
        clock.advance(to: 999_757_000)
        #expect(read(d, 0x0A) & 0x80 != 0)
        clock.advance(to: 1_000_000_001)
        #expect(read(d, 0x0A) & 0x80 == 0)
    }

    @Test func periodicAndUpdateInterrupts() {
        let clock = ManualClock()
        let rtc = RTC146818(clock: clock, base: Self.base), d = rtc.portDevice
        var irqs = 0, level = false
        rtc.irq8 = IRQLine { l in if l && !level { irqs += 1 }; level = l }
        write(d, 0x0A, 0x2F)  // RS = 15: 2 Hz
        write(d, 0x0B, 0x42)  // PIE
        for step in 1...10 {
            clock.advance(to: UInt64(step) * 250_000_000)
            if level { #expect(read(d, 0x0C) & 0xC0 == 0xC0) }  // IRQF | PF, and the read clears it
        }
        #expect(irqs == 5)
        #expect(!level)
        // UIE: one per second; without reading C the line stays up.
        write(d, 0x0B, 0x12)
        _ = read(d, 0x0C)
        irqs = 0
        clock.advance(to: 4_000_000_000)
        #expect(irqs == 1 && level)
        #expect(read(d, 0x0C) & 0x90 == 0x90)
        #expect(!level)
    }

    @Test func cmosMemoryBytes() {
        let clock = ManualClock()
        let rtc = RTC146818(clock: clock, base: Self.base), d = rtc.portDevice
        rtc.setFirmwareBytes(ramBytes: 512 << 20, cpus: 1)
        #expect(read(d, 0x15) == 0x80 && read(d, 0x16) == 0x02)
        #expect(UInt16(read(d, 0x17)) | UInt16(read(d, 0x18)) << 8 == 0xFFFF)  // 511 MiB caps at 0xFFFF KiB
        #expect(UInt16(read(d, 0x34)) | UInt16(read(d, 0x35)) << 8 == (512 - 16) * 16)
        let sum = (0x10...0x2D).reduce(UInt16(0)) { $0 + UInt16(read(d, UInt8($1))) }
        #expect(UInt16(read(d, 0x2E)) << 8 | UInt16(read(d, 0x2F)) == sum)
        write(d, 0x40, 0xA5)
        #expect(read(d, 0x40) == 0xA5)
        d.write(port: 0x70, size: 1, value: 0x8F)  // NMI masked
        #expect(rtc.nmiMasked)
    }
}

@Suite struct HPETTests {
    @Test func capabilitiesAndCounter() {
        let clock = ManualClock()
        let h = HPET(clock: clock)
        let cap = h.mmioRead(offset: 0, size: 8)
        #expect(cap & 0xFF == 1 && (cap >> 8) & 0x1F == 2 && cap & (1 << 13) != 0 && cap & (1 << 15) != 0)
        #expect(cap >> 32 == 69_841_279 && (cap >> 16) & 0xFFFF == 0x8086)
        #expect(h.mmioRead(offset: 4, size: 4) == 69_841_279)  // the high half alone
        clock.advance(to: 1_000_000)
        #expect(h.mmioRead(offset: 0xF0, size: 8) == 0)  // halted
        h.mmioWrite(offset: 0xF0, size: 8, value: 1000)
        h.mmioWrite(offset: 0x10, size: 4, value: 1)
        clock.advance(to: 2_000_000)  // 1 ms = 14318 ticks
        #expect(h.mmioRead(offset: 0xF0, size: 8) == 1000 + 14318)
        h.mmioWrite(offset: 0xF0, size: 8, value: 0)  // ignored while running
        #expect(h.mmioRead(offset: 0xF0, size: 4) == 1000 + 14318)
        #expect(h.mmioRead(offset: 0xF2, size: 4) == ~0 & 0xFFFF_FFFF)  // misaligned: all-ones
        for off in stride(from: UInt64(0), to: 0x400, by: 4) { _ = h.mmioRead(offset: off, size: 4) }
    }

    @Test func legacyPeriodicTimer0AsLinuxProgramsIt() {
        let clock = ManualClock()
        let h = HPET(clock: clock)
        var irq0 = 0
        h.onIRQ = { line, level in if line == .isa(0) && level { irq0 += 1 } }
        h.mmioWrite(offset: 0x10, size: 4, value: 3)  // enable, legacy replacement
        // hpet_set_periodic: ENABLE | PERIODIC | SETVAL | 32BIT, then cmp = now + delta, then delta.
        let delta: UInt64 = 14318 * 4  // 4 ms (HZ = 250)
        h.mmioWrite(offset: 0x100, size: 4, value: 0x4 | 0x8 | 0x40 | 0x100)
        h.mmioWrite(offset: 0x108, size: 4, value: h.mmioRead(offset: 0xF0, size: 4) + delta)
        h.mmioWrite(offset: 0x108, size: 4, value: delta)
        clock.advance(to: 1_000_000_000)
        #expect(irq0 == 249 || irq0 == 250)
        #expect(h.mmioRead(offset: 0x100, size: 4) & 0x40 == 0)  // VAL_SET clears itself
    }

    @Test func oneShotLevelInterruptStatus() {
        let clock = ManualClock()
        let h = HPET(clock: clock)
        var level = [Int: Bool]()
        h.onIRQ = { line, l in if case .gsi(let p) = line { level[p] = l } }
        h.mmioWrite(offset: 0x10, size: 4, value: 1)
        h.mmioWrite(offset: 0x120, size: 8, value: 0x2 | 0x4 | 20 << 9)  // timer 1: level, enabled, pin 20
        #expect((h.mmioRead(offset: 0x120, size: 8) >> 9) & 0x1F == 20)
        h.mmioWrite(offset: 0x128, size: 8, value: 14318)  // 1 ms
        clock.advance(to: 999_000)
        #expect(level[20] != true)
        clock.advance(to: 1_001_000)
        #expect(level[20] == true && h.mmioRead(offset: 0x20, size: 4) == 0x2)
        h.mmioWrite(offset: 0x20, size: 4, value: 0x2)
        #expect(level[20] == false && h.mmioRead(offset: 0x20, size: 4) == 0)
        // A route the capability does not offer is not taken.
        h.mmioWrite(offset: 0x140, size: 8, value: 5 << 9)
        #expect((h.mmioRead(offset: 0x140, size: 8) >> 9) & 0x1F == 0)
    }

    @Test func periodZeroDoesNotStorm() {
        let clock = ManualClock()
        let h = HPET(clock: clock)
        var fired = 0
        h.onIRQ = { _, l in if l { fired += 1 } }
        h.mmioWrite(offset: 0x10, size: 4, value: 1)
        h.mmioWrite(offset: 0x100, size: 4, value: 0x4 | 0x8 | 0x40 | 0x100 | 2 << 9)
        h.mmioWrite(offset: 0x108, size: 4, value: 100)
        h.mmioWrite(offset: 0x108, size: 4, value: 0)  // period 0
        clock.advance(to: 10_000_000)
        #expect(fired == 1)
    }
}

@Suite struct ACPIPMTests {
    @Test func timerCountsAt3_58MHzAndS5PowersOff() {
        let clock = ManualClock()
        let pm = ACPIPM(clock: clock, layout: PlatformLayout()), d = pm.portDevices
        clock.advance(to: 1_000_000_000)
        let t = d[0].read(port: 0x608, size: 4)
        #expect(t == 3_579_545)
        #expect(d[0].read(port: 0x604, size: 2) & 1 == 1)  // SCI_EN: always in ACPI mode
        var off = false, other: UInt8? = nil
        pm.onPowerOff = { off = true }
        pm.onUnsupportedSleep = { other = $0 }
        d[0].write(port: 0x604, size: 2, value: 3 << 10 | 0x2000)  // S3: not offered
        #expect(!off && other == 3)
        d[0].write(port: 0x604, size: 2, value: 5 << 10 | 0x2000)  // SLP_TYP = \_S5's 5, SLP_EN
        #expect(off)
        #expect(d[0].read(port: 0x604, size: 2) & 0x2000 == 0)
    }

    @Test func powerButtonRaisesSCIUntilCleared() {
        let clock = ManualClock()
        let pm = ACPIPM(clock: clock, layout: PlatformLayout()), d = pm.portDevices
        var sci = false
        pm.sci = IRQLine { sci = $0 }
        pm.pressPowerButton()
        #expect(!sci)  // not enabled
        d[0].write(port: 0x602, size: 2, value: 0x0100)
        #expect(sci)
        #expect(d[0].read(port: 0x600, size: 2) & 0x0100 != 0)
        d[0].write(port: 0x600, size: 2, value: 0x0100)  // write 1 to clear
        #expect(!sci)
        #expect(d[1].read(port: 0x620, size: 2) == 0)  // GPE0: no sources
    }
}

@Suite struct ResetAndPCITests {
    @Test func resetPaths() {
        let r = ResetControl()
        var resets: [ResetSource] = []
        r.onReset = { resets.append($0) }
        let pci = PCIHost(reset: r), kbc = KeyboardController(reset: r)
        pci.write(port: 0xCF9, size: 1, value: 0x02)
        #expect(resets.isEmpty)
        pci.write(port: 0xCF9, size: 1, value: 0x06)  // Linux's reboot=pci, and the FADT reset value
        r.portDevice.write(port: 0x92, size: 1, value: 0x03)
        kbc.write(port: 0x64, size: 1, value: 0xFE)
        #expect(resets == [.resetControl, .port92, .keyboardController])
        r.portDevice.write(port: 0x92, size: 1, value: 0x00)
        #expect(!r.a20 && r.portDevice.read(port: 0x92, size: 1) == 0)
    }

    @Test func keyboardControllerAnswersLinuxsProbe() {
        let r = ResetControl(), k = KeyboardController(reset: r)
        #expect(k.read(port: 0x64, size: 1) != 0xFF)
        k.write(port: 0x64, size: 1, value: 0x20)  // read CTR
        #expect(k.read(port: 0x64, size: 1) & 1 == 1)
        let ctr = UInt8(k.read(port: 0x60, size: 1))
        #expect(ctr == 0x45)
        k.write(port: 0x64, size: 1, value: 0x60); k.write(port: 0x60, size: 1, value: 0x47)
        k.write(port: 0x64, size: 1, value: 0x20)
        #expect(k.read(port: 0x60, size: 1) == 0x47)
        k.write(port: 0x64, size: 1, value: 0xAA)
        #expect(k.read(port: 0x60, size: 1) == 0x55)
        var irq12 = 0
        k.irq12 = IRQLine { if $0 { irq12 += 1 } }
        k.write(port: 0x64, size: 1, value: 0xD3); k.write(port: 0x60, size: 1, value: 0x5A)  // aux loopback
        #expect(k.read(port: 0x64, size: 1) & 0x21 == 0x21 && irq12 == 1)
        #expect(k.read(port: 0x60, size: 1) == 0x5A)
        #expect(k.read(port: 0x64, size: 1) & 1 == 0)
    }

    @Test func configurationMechanism1() {
        let pci = PCIHost(reset: ResetControl())
        func cfg(_ dev: UInt32, _ fn: UInt32, _ reg: UInt32) -> UInt32 {
            pci.write(port: 0xCF8, size: 4, value: 0x8000_0000 | dev << 11 | fn << 8 | reg)
            return pci.read(port: 0xCFC, size: 4)
        }
        #expect(cfg(0, 0, 0) == 0x1237_8086)
        #expect(cfg(1, 0, 0) == 0x7000_8086)
        #expect(cfg(1, 0, 8) >> 8 == 0x060100)
        #expect(cfg(1, 0, 0x0C) >> 16 & 0xFF == 0x80)  // multi-function
        #expect(cfg(2, 0, 0) == 0xFFFF_FFFF && cfg(1, 1, 0) == 0xFFFF_FFFF)
        #expect(pci.read(port: 0xCF8, size: 4) == 0x8000_0900)
        pci.write(port: 0xCF8, size: 4, value: 0x8000_0800)
        #expect(pci.read(port: 0xCFE, size: 2) == 0x7000)  // word at offset 2
        pci.write(port: 0xCF8, size: 4, value: 0x8000_0860)
        pci.write(port: 0xCFC, size: 1, value: 0x0B)  // PIRQA → IRQ 11
        #expect(pci.read(port: 0xCFC, size: 4) == 0x8080_800B)
        pci.write(port: 0xCF8, size: 4, value: 0x8000_0800)
        pci.write(port: 0xCFC, size: 4, value: 0)  // IDs are read-only
        #expect(pci.read(port: 0xCFC, size: 4) == 0x7000_8086)
        pci.write(port: 0xCF8, size: 4, value: 0x0000_0800)  // enable bit clear: nothing answers
        #expect(pci.read(port: 0xCFC, size: 4) == 0xFFFF_FFFF)
    }
}

@Suite struct FwCfgTests {
    func item(_ f: FwCfg, _ key: UInt16, _ n: Int) -> [UInt8] {
        f.write(port: 0x510, size: 2, value: UInt32(key))
        return (0..<n).map { _ in UInt8(f.read(port: 0x511, size: 1)) }
    }

    @Test func signatureRamCpusAndFileDirectory() {
        let f = FwCfg(ramBytes: 512 << 20, cpus: 1)
        #expect(item(f, 0x00, 4) == Array("QEMU".utf8))
        #expect(item(f, 0x01, 4) == [1, 0, 0, 0])  // traditional interface, no DMA
        #expect(item(f, 0x03, 8) == [0, 0, 0, 0x20, 0, 0, 0, 0])
        #expect(item(f, 0x05, 2) == [1, 0])
        #expect(item(f, 0x05, 4) == [1, 0, 0, 0])  // past the end reads 0
        f.setE820([(0, 0x9FC00, 1), (0x100000, 0x1FF0_0000, 1)])
        let dir = item(f, 0x19, 4 + 64)
        #expect(dir[0..<4] == [0, 0, 0, 1])
        #expect(dir[4..<8] == [0, 0, 0, 40])  // two 20-byte entries
        #expect(dir[8..<10] == [0, 0x20])
        #expect(String(decoding: dir[12..<20], as: UTF8.self) == "etc/e820")
        let e820 = item(f, 0x20, 40)
        #expect(e820[20..<28] == [0, 0, 0x10, 0, 0, 0, 0, 0] && e820[36] == 1)
        #expect(item(f, 0x7777, 2) == [0, 0])  // an item that does not exist reads 0
    }
}

@Suite struct PlatformWiringTests {
    @Test func poweroffAndResetEndTheRunThroughTheExitRequest() {
        let m = Machine(memoryBytes: 4 << 20, console: MemorySinkForPlatform())
        #expect(m.bus.exitRequest == nil)
        m.bus.portWrite(0x604, size: 2, value: 5 << 10 | 0x2000)  // PM1a_CNT: SLP_TYP = \_S5's, SLP_EN
        #expect(m.bus.stopRequested)
        #expect(m.bus.exitRequest?.status == 0)
        #expect(m.bus.exitRequest?.cause?.contains("ACPI S5") == true)
        #expect(m.platform.request == .powerOff)
        let r = Machine(memoryBytes: 4 << 20, console: MemorySinkForPlatform())
        r.bus.portWrite(0xCF9, size: 1, value: 0x06)
        #expect(r.platform.request == .reset(.resetControl))
        #expect(r.bus.exitRequest?.cause?.contains("does not reboot yet") == true)
    }

    @Test func cpuidAndMSRsSeeTheLocalAPIC() throws {
        let m = Machine(memoryBytes: 4 << 20, console: MemorySinkForPlatform())
        let (_, _, ecx, edx) = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: m.cpu)
        #expect(edx & (1 << 9) != 0 && ecx & (1 << 21) != 0 && ecx & (1 << 24) != 0)
        #expect(try m.cpu.readMSR(0x1B) == 0xFEE0_0900)
        try m.cpu.writeMSR(0x1B, 0xFEE0_0D00)  // x2APIC mode
        #expect(try m.cpu.readMSR(0x802) == 0)  // x2APIC ID
        #expect(throws: Fault.self) { try m.cpu.readMSR(0x8FF) }  // reserved: #GP
    }
}

/// Guest output nobody reads.
final class MemorySinkForPlatform: ConsoleSink {
    func write(_ byte: UInt8) {}
    func flush() {}
}
