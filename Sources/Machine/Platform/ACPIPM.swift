// The ACPI fixed hardware the FADT points at: the PM1a event and control blocks, the PM timer and
// an empty GPE0 block, at the ports of `PlatformLayout` (0x600–0x60B, 0x620–0x623).
//
// Followed: ACPI Specification 6.4, §4.8.3.1 "PM1 Event Grouping" (PM1_STS: TMR_STS bit 0,
// GBL_STS 5, PWRBTN_STS 8, SLPBTN_STS 9, RTC_STS 10, WAK_STS 15 — write 1 to clear; PM1_EN:
// TMR_EN 0, GBL_EN 5, PWRBTN_EN 8, SLPBTN_EN 9, RTC_EN 10), §4.8.3.2 "PM1 Control Grouping" (SCI_EN
// bit 0, SLP_TYPx bits 12:10, SLP_EN bit 13 write-only), §4.8.3.3 "Power Management Timer (PM_TMR)"
// (3.579545 MHz, 32 bits with TMR_VAL_EXT; TMR_STS set when bit 31 changes), §4.8.3.5 "General-
// Purpose Event Registers", §7.4.2 "\_Sx (System States)" (S5 = soft off).
//
// The FADT's SMI_CMD is 0, so the platform is always in ACPI mode: SCI_EN reads 1. The SCI is
// ISA IRQ 9, level, asserted while an enabled status bit is set. Writing SLP_EN with the SLP_TYP of
// \_S5 calls `onPowerOff` (the run ends with status 0, as QEMU exits when its guest powers off);
// another sleep type is reported through `onUnsupportedSleep` (the platform stops with a report).

public final class ACPIPM {
    public static let timerFrequency: UInt64 = 3_579_545
    let clock: DeviceClock
    let layout: PlatformLayout
    public var sci: IRQLine = .none
    public var onPowerOff: () -> Void = {}
    public var onUnsupportedSleep: (UInt8) -> Void = { _ in }
    var status: UInt16 = 0
    var enable: UInt16 = 0
    var control: UInt16 = 0x0001  // SCI_EN
    var gpeEnable: UInt16 = 0
    /// Timer value last seen (for TMR_STS: bit 31 changed since).
    var lastTimer: UInt32 = 0
    var token: Int? = nil

    public init(clock: DeviceClock, layout: PlatformLayout) {
        self.clock = clock
        self.layout = layout
    }

    public var timer: UInt32 {
        UInt32(truncatingIfNeeded: mulDiv(clock.nanoseconds, ACPIPM.timerFrequency, 1_000_000_000))
    }

    /// TMR_STS: bit 31 of the timer has changed since it was last looked at.
    func updateTimerStatus() {
        let now = timer
        // (Bit 31 toggles every 600 s; two toggles between looks would be missed: with TMR_EN an
        // event is scheduled at each toggle, so only a guest that never enables it can miss one.)
        if (now ^ lastTimer) & 0x8000_0000 != 0 { status |= 1 }
        lastTimer = now
    }

    func updateSCI() {
        sci.set(status & enable & 0x0721 != 0)
        if let t = token { clock.cancel(t); token = nil }
        guard enable & 1 != 0, status & 1 == 0 else { return }
        // The next change of bit 31: at the next multiple of 2^31 ticks.
        let ticks = (UInt64(timer) | 0x7FFF_FFFF) &+ 1 &- UInt64(timer)
        token = clock.schedule(at: clock.nanoseconds &+ mulDiv(ticks, 1_000_000_000, ACPIPM.timerFrequency) &+ 1) { [weak self] in
            guard let self else { return }
            self.token = nil
            self.updateTimerStatus()
            self.updateSCI()
        }
    }

    /// A power-button press (the REPL's `system_powerdown`, later): PWRBTN_STS.
    public func pressPowerButton() {
        status |= 1 << 8
        updateSCI()
    }

    func read(_ port: UInt16, _ size: Int) -> UInt32 {
        let off = port &- layout.pm1aEventPort
        switch off {
        case 0: updateTimerStatus(); return UInt32(status)  // PM1_STS
        case 2: return UInt32(enable)
        case 4: return UInt32(control)
        case 8: return timer
        default:
            if port == layout.gpe0Port { return 0 }  // no GPE sources
            if port == layout.gpe0Port + 2 { return UInt32(gpeEnable) }
            return 0xFFFF_FFFF
        }
    }

    func write(_ port: UInt16, _ size: Int, _ value: UInt32) {
        let off = port &- layout.pm1aEventPort
        switch off {
        case 0:
            updateTimerStatus()
            status &= ~UInt16(truncatingIfNeeded: value)
            updateSCI()
        case 2:
            enable = UInt16(truncatingIfNeeded: value) & 0x0721
            updateSCI()
        case 4:
            let v = UInt16(truncatingIfNeeded: value)
            control = (v & ~0x2000) | 0x0001  // SLP_EN reads 0; SCI_EN stays 1
            if v & 0x2000 != 0 {
                let type = UInt8((v >> 10) & 7)
                if type == layout.s5SleepType { onPowerOff() } else { onUnsupportedSleep(type) }
            }
        default:
            if port == layout.gpe0Port + 2 { gpeEnable = UInt16(truncatingIfNeeded: value) }
        }
    }

    public var state: (status: UInt16, enable: UInt16, control: UInt16, timer: UInt32) {
        (status, enable, control, timer)
    }

    /// The PM1a event block + control block + timer (one range), and GPE0.
    public var portDevices: [PortDevice] {
        [PortHandler("ACPI PM1/PM timer", layout.pm1aEventPort...layout.pmTimerPort + 3, wide: true,
                     read: { [unowned self] p, n in self.portRead(p, n) }, write: { [unowned self] p, n, v in self.portWrite(p, n, v) }),
         PortHandler("ACPI GPE0", layout.gpe0Port...layout.gpe0Port + 3, wide: true,
                     read: { [unowned self] p, n in self.portRead(p, n) }, write: { [unowned self] p, n, v in self.portWrite(p, n, v) })]
    }
}

extension ACPIPM {
    /// A port access of any width: registers are 16 bits (32 for the timer).
    func portRead(_ port: UInt16, _ size: Int) -> UInt32 {
        // Registers are 16 bits (32 for the timer); a byte access reads its part of the register.
        let reg = port & ~1 == layout.pmTimerPort + 2 ? layout.pmTimerPort : (port & ~1)
        let shift = UInt32(port &- reg) * 8
        return read(reg, size) >> shift
    }
    func portWrite(_ port: UInt16, _ size: Int, _ value: UInt32) {
        let reg = port & ~1
        let shift = UInt32(port &- reg) * 8
        if shift == 0 { write(reg, size, value) } else {
            // A byte write to the high half of a 16-bit register: merge with its current value.
            let cur = read(reg, 2)
            let merged = cur & 0x00FF | (value & 0xFF) << 8
            if reg == layout.pm1aEventPort { write(reg, 2, value << 8) } else { write(reg, 2, merged) }
        }
    }
}
