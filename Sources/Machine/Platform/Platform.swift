// The PC around the CPU: interrupt controllers, timers, RTC, ACPI fixed hardware, reset paths, PCI
// configuration space, fw_cfg, and the firmware tables — wired together and to the CPU.
//
//   ISA IRQ n ──► 8259 pair (IRn) ──INT──► LAPIC LINT0 (ExtINT) ─┐
//            └──► I/O APIC pin (IRQ0 → pin 2, else pin n) ──────► LAPIC ──► CPU INTR (poll)
//   PIT counter 0 ─► IRQ0     RTC ─► IRQ8     ACPI SCI ─► IRQ9 (level)     8042 ─► IRQ1/IRQ12
//   HPET: legacy replacement takes IRQ0 and IRQ8 from the PIT and RTC, else I/O APIC pins 20–23
//   LAPIC EOI of a level vector ─► I/O APIC EOI
//
// Virtual time is the CPU's (`CPU.virtualTime`: instructions retired plus time spent halted); the
// devices see it as nanoseconds (one instruction is one nanosecond) and the TSC ticks once per
// virtual nanosecond (a nominal 1 GHz). Everything here runs on the CPU's thread, from port and MMIO
// accesses and from the CPU's event queue; nothing reads the host's clock, so two runs of one image
// take their interrupts at the same instructions.
//
// The state firmware would leave (SeaBIOS and other PC BIOSes do the same): the local APIC software-
// enabled with LINT0 as ExtINT and LINT1 as NMI (virtual-wire mode, MultiProcessor Specification 1.4
// §3.6.2.2 "Virtual Wire Mode"), the 8259s' vectors at 08h/70h with every IRQ masked, the ACPI tables,
// the MP table, and the CMOS memory-size bytes.

import X86

/// `DeviceClock` on the CPU's event queue: a token is the event's sequence number.
final class CPUClock: DeviceClock {
    unowned let cpu: CPU
    init(cpu: CPU) { self.cpu = cpu }
    var nanoseconds: UInt64 { cpu.virtualTime }
    func schedule(at: UInt64, _ action: @escaping () -> Void) -> Int {
        Int(truncatingIfNeeded: cpu.schedule(at: at, action).seq)
    }
    func cancel(_ token: Int) { cpu.cancelEvent(EventID(seq: UInt64(truncatingIfNeeded: token))) }
}

/// What a guest asked of the platform that ends or restarts the run.
public enum PlatformRequest: Equatable, Sendable {
    /// ACPI S5 (PM1a_CNT SLP_EN with \_S5's SLP_TYP).
    case powerOff
    case reset(ResetSource)
    /// A sleep state the platform does not offer (S1–S4).
    case unsupportedSleep(UInt8)
}

extension LocalAPIC: MMIODevice {}
extension IOAPIC: MMIODevice {}
extension HPET: MMIODevice {}

/// The CPU's INTR: the local APIC, or the 8259 pair directly when the APIC is globally disabled
/// (SDM Vol. 3A §10.4.3 "Enabling or Disabling the Local APIC": LINT0 is then the INTR pin).
final class INTRSource: InterruptController {
    unowned let lapic: LocalAPIC
    unowned let pic: PICPair
    init(lapic: LocalAPIC, pic: PICPair) { self.lapic = lapic; self.pic = pic }
    var interruptPending: Bool { lapic.mode == .disabled ? pic.interruptPending : lapic.interruptPending }
    func acknowledge() -> UInt8 {
        if lapic.mode == .disabled { return pic.acknowledge() }
        // nil: nothing deliverable any more — the spurious-interrupt vector (SDM Vol. 3A §10.9).
        return lapic.acknowledgeInterrupt() ?? 0xFF
    }
}

public final class Platform: CPUPlatform {
    public static let tscFrequency: UInt64 = 1_000_000_000
    /// The local APIC timer's input (a 25 MHz crystal, as Skylake-SP's core crystal clock).
    public static let apicTimerFrequency: UInt64 = 25_000_000
    /// The RTC's date at power-on unless `--rtc` says otherwise: fixed, so runs are reproducible.
    public static let defaultRTCBase: Int64 = 1_767_225_600  // 2026-01-01 00:00:00 UTC

    public let layout: PlatformLayout
    unowned let cpu: CPU
    let clock: CPUClock
    public let pic = PICPair()
    public let pit: PIT8254
    public let rtc: RTC146818
    public let hpet: HPET
    public let pm: ACPIPM
    public let resetControl = ResetControl()
    public let keyboardController: KeyboardController
    public let pci: PCIHost
    public let fwCfg: FwCfg
    public let lapic: LocalAPIC
    public let ioapic = IOAPIC()
    let intr: INTRSource
    /// What the guest last asked of the platform (power-off, reset, a sleep state). The run itself
    /// ends through the debug-exit request, which carries the cause for the messages.
    public private(set) var request: PlatformRequest? = nil

    public init(cpu: CPU, bus: PortBus, ramBytes: UInt64, rtcBase: Int64 = Platform.defaultRTCBase,
                layout: PlatformLayout = PlatformLayout()) {
        self.cpu = cpu
        self.layout = layout
        clock = CPUClock(cpu: cpu)
        pit = PIT8254(clock: clock)
        rtc = RTC146818(clock: clock, base: rtcBase)
        hpet = HPET(clock: clock)
        pm = ACPIPM(clock: clock, layout: layout)
        keyboardController = KeyboardController(reset: resetControl)
        pci = PCIHost(reset: resetControl)
        fwCfg = FwCfg(ramBytes: ramBytes, cpus: layout.apicIDs.count)
        lapic = LocalAPIC(clock: clock, timerFrequency: Platform.apicTimerFrequency, tscFrequency: Platform.tscFrequency,
                          physicalAddressBits: Int(maxPhysAddrBits))
        intr = INTRSource(lapic: lapic, pic: pic)
        wire(bus)
        for d in pic.portDevices + pit.portDevices + pm.portDevices
            + [rtc.portDevice, resetControl.portDevice, keyboardController, pci, fwCfg] as [PortDevice] {
            bus.attach(d)
        }
        rtc.setFirmwareBytes(ramBytes: ramBytes, cpus: layout.apicIDs.count)
        cpu.interruptController = intr
        cpu.platform = self
        mapAPIC()
        cpu.mapMMIO(ioapic, base: UInt64(layout.ioAPICAddress), size: 0x1000)
        cpu.mapMMIO(hpet, base: layout.hpetAddress, size: 0x400)
    }

    func wire(_ bus: PortBus) {
        let cpu = self.cpu
        pic.onOutputChange = { [unowned self] in
            self.lapic.setLINT0(self.pic.interruptPending)
            cpu.interruptRequested()
        }
        pit.irq0 = IRQLine { [unowned self] level in
            if !self.hpet.legacyReplacement { self.setISA(0, level) }
        }
        rtc.irq8 = IRQLine { [unowned self] level in
            if !self.hpet.legacyReplacement { self.setISA(8, level) }
        }
        pm.sci = IRQLine { [unowned self] level in self.setISA(Int(self.layout.sciIRQ), level) }
        // What ends the run goes through the debug-exit request, so `run`, the REPL and gdb all see
        // the guest's exit: power-off is status 0 (QEMU exits 0 when its guest powers off); a reset
        // stops the machine too (it does not reboot yet — QEMU's -no-reboot behaviour), status 0;
        // a sleep state the platform does not offer is status 4, the "not implemented" status.
        pm.onPowerOff = { [unowned self] in
            self.request = .powerOff
            bus.debugExit.platformExit(status: 0, cause: "the guest powered off (ACPI S5)")
        }
        pm.onUnsupportedSleep = { [unowned self] t in
            self.request = .unsupportedSleep(t)
            bus.debugExit.platformExit(status: 4, cause: "the guest entered ACPI sleep type \(t) (only S5, power-off, is offered)")
        }
        resetControl.onReset = { [unowned self] source in
            self.request = .reset(source)
            bus.debugExit.platformExit(status: 0, cause: "the guest reset the machine through \(source.rawValue); vmxemu does not reboot yet, so the run ends (as QEMU's -no-reboot)")
        }
        keyboardController.irq1 = IRQLine { [unowned self] in self.setISA(1, $0) }
        keyboardController.irq12 = IRQLine { [unowned self] in self.setISA(12, $0) }
        hpet.onIRQ = { [unowned self] line, level in
            switch line {
            case .isa(let n): self.setISA(n, level)
            case .gsi(let pin): self.ioapic.setPin(pin, level)
            }
        }
        ioapic.deliver = { [unowned self] vector, mode, level, destination, logical in
            // An 8-bit broadcast destination means all APICs in x2APIC mode too (SDM Vol. 3A §10.12.9
            // "ICR Operation in x2APIC Mode" on xAPIC-format broadcast).
            let dest: UInt32 = self.lapic.mode == .x2APIC && destination == 0xFF ? 0xFFFF_FFFF : UInt32(destination)
            return self.lapic.receiveMessage(vector: vector, deliveryMode: mode, levelTriggered: level,
                                             destination: dest, logical: logical)
        }
        lapic.onEOI = { [unowned self] vector in self.ioapic.eoi(vector) }
        lapic.onOutputChange = { cpu.interruptRequested() }
        lapic.raiseNMI = { cpu.raiseNMI() }
        lapic.extINTPending = { [unowned self] in self.pic.interruptPending }
        lapic.extINTVector = { [unowned self] in self.pic.acknowledge() }
        lapic.tsc = { cpu.tsc }
    }

    /// ISA IRQ `n` to `level`: the 8259 input and the I/O APIC pin (IRQ0 is pin 2, MADT override).
    public func setISA(_ n: Int, _ level: Bool) {
        guard (0..<16).contains(n) else { return }
        pic.setIRQ(n, level)
        ioapic.setPin(n == 0 ? 2 : n, level)
    }

    /// The xAPIC page at IA32_APIC_BASE while the APIC is in xAPIC mode (SDM Vol. 3A §10.4.5
    /// "Relocating the Local APIC Registers").
    func mapAPIC() {
        cpu.unmapMMIO(lapic)
        if let base = lapic.mmioBase, !cpu.mapMMIO(lapic, base: base, size: 0x1000) {
            lapic.onGuestError("IA32_APIC_BASE 0x\(String(base, radix: 16)) overlaps another device: the APIC page is not mapped")
        }
    }

    // MARK: CPUPlatform

    public var hasLocalAPIC: Bool { true }

    static func isAPICMSR(_ index: UInt32) -> Bool {
        index == 0x1B || index == 0x6E0 || (0x800...0x8FF).contains(index)
    }

    public func platformReadMSR(_ index: UInt32) -> UInt64?? {
        guard Platform.isAPICMSR(index) else { return nil }
        return .some(lapic.readMSR(index))
    }

    public func platformWriteMSR(_ index: UInt32, _ value: UInt64) -> Bool? {
        guard Platform.isAPICMSR(index) else { return nil }
        let ok = lapic.writeMSR(index, value)
        if index == 0x1B { mapAPIC(); cpu.interruptRequested() }
        return ok
    }

    public var cr8: UInt64 {
        get { lapic.cr8 }
        set { lapic.cr8 = newValue }
    }

    // MARK: Firmware state

    /// Where the firmware tables go: ACPI tables in 0xE0000–0xEFFFF, the RSDP and the MP table in the
    /// BIOS area at 0xF0000 (both inside the 16-byte-aligned ranges an OS searches: ACPI 6.4 §5.2.5.1,
    /// MP spec §4 "the first kilobyte of the EBDA or 0xF0000–0xFFFFF").
    public static let acpiTablesBase: UInt64 = 0xE_0000
    public static let rsdpAddress: UInt64 = 0xF_0000
    public static let mpPointerAddress: UInt64 = 0xF_0040
    public static let mpTableAddress: UInt64 = 0xF_0100

    /// Write the firmware tables into RAM and program what firmware leaves programmed. Call after
    /// loading a kernel (it writes below 1 MiB, which a kernel image may not use).
    public func installFirmwareState(memory: PhysicalMemory, e820: [(base: UInt64, length: UInt64, type: UInt32)]) {
        let t = ACPITables.build(layout, base: Platform.acpiTablesBase, rsdpAddress: Platform.rsdpAddress)
        for b in t.tables + [t.rsdp] { _ = memory.write(b.bytes, at: b.address) }
        let edx = CPUModel.cpuid(leaf: 1, subleaf: 0, cpu: cpu).3
        for b in MPTable.build(layout, pointerAddress: Platform.mpPointerAddress, tableAddress: Platform.mpTableAddress,
                               cpuSignature: CPUModel.signature, cpuFeatures: edx) {
            _ = memory.write(b.bytes, at: b.address)
        }
        fwCfg.setE820(e820)
        fwCfg.addFile("etc/acpi/rsdp", t.rsdp.bytes)
        fwCfg.addFile("etc/acpi/tables", t.tables.flatMap { $0.bytes })
        // Virtual-wire mode: APIC software-enabled (SVR = 1FFH), LINT0 ExtINT, LINT1 NMI.
        lapic.mmioWrite(offset: 0xF0, size: 4, value: 0x1FF)
        lapic.mmioWrite(offset: 0x350, size: 4, value: 0x700)
        lapic.mmioWrite(offset: 0x360, size: 4, value: 0x400)
        // The 8259s as a PC BIOS leaves them: vectors 08h and 70h, cascade on IR2, all masked.
        let picPorts = pic.portDevices
        for (port, v) in [(UInt16(0x20), UInt8(0x11)), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x21, 0xFF),
                          (0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01), (0xA1, 0xFF)] {
            picPorts.first { $0.ports.contains(port) }!.write(port: port, size: 1, value: UInt32(v))
        }
    }
}
