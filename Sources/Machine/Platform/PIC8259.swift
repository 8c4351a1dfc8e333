// The PC's two cascaded 8259A programmable interrupt controllers and the ELCR.
//
// Followed: Intel 8259A Programmable Interrupt Controller datasheet (order 231468-003, Dec. 1988):
// "Interrupt Sequence" (INTA cycles, IRR → ISR), "Initialization Command Words" (ICW1–ICW4),
// "Operation Command Words" (OCW1 mask, OCW2 EOI/rotation, OCW3 read register/poll/special mask),
// "Fully Nested Mode", "Automatic Rotation", "Special Mask Mode", "Poll Command", "Cascading",
// "Edge and Level Triggered Modes" (a spurious IR7 when the request is gone by INTA).
// The ELCR (edge/level control registers at 0x4D0/0x4D1) is the PIIX/ICH chipsets' (Intel 82371AB
// PIIX4 datasheet §12.7.1 "ELCR1—Edge/Level Control Register"): a 1 bit makes that IRQ level-
// sensitive regardless of ICW1.LTIM; IRQ 0, 1, 2, 8 and 13 are always edge.
//
// The master's IR2 is the slave's INT output (ISA IRQ 8–15 on the slave, 0–7 on the master). The
// master's INT goes to the CPU's INTR (or the local APIC's LINT0 as ExtINT, when the platform has
// one); `onOutputChange` tells whoever listens that it may have changed.

/// One 8259A.
final class PIC8259Chip {
    var irr: UInt8 = 0, isr: UInt8 = 0, imr: UInt8 = 0
    /// Input levels, for edge detection.
    var lines: UInt8 = 0
    /// 1 = level-sensitive (ELCR), or all when ICW1.LTIM.
    var elcr: UInt8 = 0
    var ltim = false
    var vectorBase: UInt8 = 0
    var autoEOI = false
    var rotateOnAutoEOI = false
    var specialMask = false
    var readISR = false
    var pollNext = false
    /// The IR with the lowest priority (7 after ICW1; OCW2 rotation moves it).
    var lowest: UInt8 = 7
    /// Which ICW the next odd-port write is (0 = none: OCW1).
    var icwStep = 0
    var needICW4 = false
    var single = false
    /// ICW3 as written (master: which IRs have slaves; slave: its ID).
    var icw3: UInt8 = 0
    let isMaster: Bool

    init(master: Bool) { isMaster = master }

    func levelSensitive(_ irq: Int) -> Bool { ltim || elcr & (1 << irq) != 0 }

    /// The input `irq` (0–7) changed to `level`.
    func setLine(_ irq: Int, _ level: Bool) {
        let bit = UInt8(1) << irq
        if level {
            if levelSensitive(irq) || lines & bit == 0 { irr |= bit }  // level, or a rising edge
            lines |= bit
        } else {
            lines &= ~bit
            if levelSensitive(irq) { irr &= ~bit }  // a level request ends with its input
        }
    }

    /// Priority rank of `ir` (0 = highest).
    @inline(__always) func rank(_ ir: Int) -> Int { (ir - Int(lowest) - 1 + 16) & 7 }

    /// The highest-priority bit of `mask`, by rank; nil if none.
    func highest(_ mask: UInt8) -> Int? {
        var best: Int? = nil
        for ir in 0..<8 where mask & (1 << ir) != 0 {
            if best == nil || rank(ir) < rank(best!) { best = ir }
        }
        return best
    }

    /// The IR this chip would signal on INT now ("Fully Nested Mode"; in special mask mode the
    /// in-service bits that are masked do not inhibit lower ones).
    func pendingIR() -> Int? {
        guard let req = highest(irr & ~imr) else { return nil }
        let inService = specialMask ? isr & ~imr : isr
        // On the master, an in-service slave input does not block further slave requests when the
        // slave is in special fully nested mode; we model plain fully nested mode (what PCs use).
        if let cur = highest(inService), rank(cur) <= rank(req) { return nil }
        return req
    }

    /// The INTA sequence for `ir` (from `pendingIR`): IRR → ISR (or not, with auto-EOI).
    func acknowledge(_ ir: Int) {
        let bit = UInt8(1) << ir
        if !levelSensitive(ir) { irr &= ~bit }
        if autoEOI {
            if rotateOnAutoEOI { lowest = UInt8(ir) }
        } else {
            isr |= bit
        }
    }

    func writeCommand(_ v: UInt8) {
        if v & 0x10 != 0 {  // ICW1
            ltim = v & 0x08 != 0
            single = v & 0x02 != 0
            needICW4 = v & 0x01 != 0
            imr = 0; isr = 0; irr = 0
            lowest = 7
            specialMask = false
            readISR = false
            autoEOI = false
            rotateOnAutoEOI = false
            icwStep = 2
            // "the edge sense circuit is reset": only rising edges after ICW1 make requests.
            return
        }
        if v & 0x08 != 0 {  // OCW3
            if v & 0x04 != 0 { pollNext = true }
            if v & 0x02 != 0 { readISR = v & 0x01 != 0 }
            if v & 0x40 != 0 { specialMask = v & 0x20 != 0 }
            return
        }
        // OCW2: R SL EOI, L2–L0.
        let level = Int(v & 7)
        switch v >> 5 {
        case 0b001:  // non-specific EOI: the highest in-service bit
            if let ir = highest(isr) { isr &= ~(1 << ir) }
        case 0b011:  // specific EOI
            isr &= ~(1 << level)
        case 0b101:  // rotate on non-specific EOI
            if let ir = highest(isr) { isr &= ~(1 << ir); lowest = UInt8(ir) }
        case 0b111:  // rotate on specific EOI
            isr &= ~(1 << level); lowest = UInt8(level)
        case 0b110:  // set priority
            lowest = UInt8(level)
        case 0b100: rotateOnAutoEOI = true
        case 0b000: rotateOnAutoEOI = false
        default: break  // 010: no operation
        }
    }

    func writeData(_ v: UInt8) {
        switch icwStep {
        case 2:
            vectorBase = v & 0xF8
            icwStep = single ? (needICW4 ? 4 : 0) : 3
        case 3:
            icw3 = v
            icwStep = needICW4 ? 4 : 0
        case 4:
            autoEOI = v & 0x02 != 0
            icwStep = 0
        default:
            imr = v  // OCW1
        }
    }
}

/// The master/slave pair with the ELCR: ISA IRQ 0–15 in, one INT out.
public final class PICPair {
    let master = PIC8259Chip(master: true)
    let slave = PIC8259Chip(master: false)
    /// Called when the INT output may have changed (the platform polls `interruptPending` then).
    public var onOutputChange: () -> Void = {}

    public init() {
        // A PC's ELCR resets to all-edge.
    }

    /// ISA IRQ `irq` (0–15) to `level`.
    public func setIRQ(_ irq: Int, _ level: Bool) {
        guard (0..<16).contains(irq) else { return }
        if irq < 8 { master.setLine(irq, level) } else { slave.setLine(irq - 8, level); cascade() }
        onOutputChange()
    }

    /// The slave's INT drives the master's IR2. It is modeled as a level that the master's IRR
    /// follows (the slave holds INT up while it has a request the master has not taken), so a
    /// second slave request after an auto-EOI INTA is not lost to edge detection.
    func cascade() {
        if slave.pendingIR() != nil { master.irr |= 0x04 } else { master.irr &= ~0x04 }
    }

    /// INT: the master would interrupt the CPU now.
    public var interruptPending: Bool { master.pendingIR() != nil }

    /// The two INTA cycles: the vector, with the ISR bits set. A request that went away before the
    /// INTA gives the spurious IR7 of the chip concerned (datasheet: "Edge and Level Triggered
    /// Modes"), without setting an ISR bit.
    public func acknowledge() -> UInt8 {
        guard let ir = master.pendingIR() else { return master.vectorBase | 7 }
        master.acknowledge(ir)
        if ir == 2 && !master.single {
            guard let sir = slave.pendingIR() else {
                cascade()
                return slave.vectorBase | 7
            }
            slave.acknowledge(sir)
            cascade()
            return slave.vectorBase | UInt8(sir)
        }
        return master.vectorBase | UInt8(ir)
    }

    /// The poll command (OCW3 P = 1): the next read of the command port returns 1000_0LLL with
    /// the highest request (acknowledged as by INTA), or 0 when there is none.
    func poll(_ chip: PIC8259Chip) -> UInt8 {
        chip.pollNext = false
        guard let ir = chip.pendingIR() else { return 0 }
        chip.acknowledge(ir)
        if chip === slave { cascade() }
        return 0x80 | UInt8(ir)
    }

    func read(_ chip: PIC8259Chip, odd: Bool) -> UInt8 {
        if chip.pollNext { return poll(chip) }
        if odd { return chip.imr }
        return chip.readISR ? chip.isr : chip.irr
    }

    func write(_ chip: PIC8259Chip, odd: Bool, _ v: UInt8) {
        if odd { chip.writeData(v) } else { chip.writeCommand(v) }
        if chip === slave { cascade() }
        onOutputChange()
    }

    /// For the debugger: IRR, ISR, IMR of master and slave, vector bases, ELCR.
    public struct State: Equatable, Sendable {
        public var irr: (UInt8, UInt8), isr: (UInt8, UInt8), imr: (UInt8, UInt8)
        public var vectorBase: (UInt8, UInt8), elcr: (UInt8, UInt8)
        public static func == (a: State, b: State) -> Bool {
            a.irr == b.irr && a.isr == b.isr && a.imr == b.imr && a.vectorBase == b.vectorBase && a.elcr == b.elcr
        }
    }
    public var state: State {
        State(irr: (master.irr, slave.irr), isr: (master.isr, slave.isr), imr: (master.imr, slave.imr),
              vectorBase: (master.vectorBase, slave.vectorBase), elcr: (master.elcr, slave.elcr))
    }

    /// The port devices: master 0x20–0x21, slave 0xA0–0xA1, ELCR 0x4D0–0x4D1.
    public var portDevices: [PortDevice] {
        func chipPorts(_ chip: PIC8259Chip, _ base: UInt16, _ name: String) -> PortDevice {
            PortHandler(name, base...base + 1,
                        read: { [unowned self] port, _ in UInt32(self.read(chip, odd: port & 1 != 0)) },
                        write: { [unowned self] port, _, v in self.write(chip, odd: port & 1 != 0, UInt8(truncatingIfNeeded: v)) })
        }
        // ELCR1 (0x4D0, IRQ 0–7; bits 0–2 read-only 0) and ELCR2 (0x4D1, IRQ 8–15; bits 0 and 5 read-only 0).
        let elcr = PortHandler("ELCR", 0x4D0...0x4D1,
            read: { [unowned self] port, _ in UInt32(port == 0x4D0 ? self.master.elcr : self.slave.elcr) },
            write: { [unowned self] port, _, value in
                let v = UInt8(truncatingIfNeeded: value)
                if port == 0x4D0 { self.master.elcr = v & 0xF8 } else { self.slave.elcr = v & 0xDE }
                self.onOutputChange()
            })
        return [chipPorts(master, 0x20, "8259A master"), chipPorts(slave, 0xA0, "8259A slave"), elcr]
    }
}


