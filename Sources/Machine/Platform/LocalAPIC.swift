// The processor's local APIC: xAPIC registers in a 4 KiB MMIO page, the same registers as x2APIC MSRs,
// the local vector table with the APIC timer, interrupt acceptance and priorities, and IPIs.
//
// Followed: Intel SDM Vol. 3A ch. 10 "Advanced Programmable Interrupt Controller (APIC)" of the pinned
// edition (325462-077US, `SDM.edition`); each rule below names its section. The model is one
// Skylake-like processor's APIC: version 14H, seven LVT entries (CMCI, timer, thermal, performance,
// LINT0, LINT1, error), TSC-deadline timer, x2APIC and EOI-broadcast suppression (each optional).
//
// Wiring (done by the platform): `mmioRead`/`mmioWrite` for the page at `mmioBase` (xAPIC mode only),
// `readMSR`/`writeMSR` for IA32_APIC_BASE (1BH), IA32_TSC_DEADLINE (6E0H) and the x2APIC range
// 800H–8FFH (`handlesMSR`); `interruptPending`/`acknowledgeInterrupt` for the CPU's INTR and INTA
// cycle; `onOutputChange` tells the CPU to poll again; `onEOI` reaches the I/O APIC; LINT0 is the
// 8259's INT (`extINTPending`/`extINTVector` give its state and the INTA vector for ExtINT delivery).
//
// Time: the timer does not tick. It remembers when it was started (virtual nanoseconds of the
// `DeviceClock`) and computes the current count on demand; the next expiry is one event scheduled on
// the clock. The counting clock is `timerFrequency` Hz (the platform's bus/core crystal) divided by
// the divide configuration.

public final class LocalAPIC {
    // MARK: Configuration

    /// Optional capabilities (what CPUID would advertise for this APIC).
    public struct Features: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// x2APIC mode (CPUID.01H:ECX[21]; §10.12.1 "Detecting and Enabling x2APIC Mode").
        public static let x2APIC = Features(rawValue: 1)
        /// The TSC-deadline timer mode (CPUID.01H:ECX[24]; §10.5.4.1 "TSC-Deadline Mode").
        public static let tscDeadline = Features(rawValue: 2)
        /// EOI-broadcast suppression: version bit 24 (§10.4.8 "Local APIC Version Register") and SVR
        /// bit 12 (§10.8.5 "Signaling Interrupt Servicing Completion"); software then ends level-triggered
        /// interrupts at the I/O APIC's EOI register ("directed EOI").
        public static let directedEOI = Features(rawValue: 4)
        public static let all: Features = [.x2APIC, .tscDeadline, .directedEOI]
    }

    public let features: Features
    /// The initial APIC ID (CPUID.01H:EBX[31:24], CPUID.0BH:EDX): the ID after reset and the x2APIC ID.
    public let initialID: UInt32
    /// IA32_APIC_BASE.BSP after reset.
    public let isBSP: Bool
    /// The timer's input clock before the divider, Hz.
    public let timerFrequency: UInt64
    /// The time-stamp counter's rate, Hz: converts TSC deadlines to virtual nanoseconds.
    public let tscFrequency: UInt64
    /// MAXPHYADDR: IA32_APIC_BASE bits from here to 63 are reserved (§10.4.4 "Local APIC Status and Location").
    public let physicalAddressBits: Int
    let clock: DeviceClock

    // MARK: Connections (set by the platform)

    /// `interruptPending` may have changed.
    public var onOutputChange: () -> Void = {}
    /// An EOI for a level-triggered vector, broadcast to the I/O APIC(s) (§10.8.5 "Signaling Interrupt Servicing
    /// Completion").
    public var onEOI: (UInt8) -> Void = { _ in }
    /// An NMI for this processor (LVT entry or IPI with NMI delivery mode).
    public var raiseNMI: () -> Void = {}
    /// An INIT for this processor. The platform resets the CPU (unless INIT is blocked, as in VMX root operation)
    /// and then calls `initReset()` on this APIC (§10.4.7.3 "Local APIC State After an INIT Reset ('Wait-for-SIPI'
    /// State)").
    public var onINIT: () -> Void = {}
    /// A start-up IPI with its vector for this processor.
    public var onSIPI: (UInt8) -> Void = { _ in }
    /// ExtINT: the external (8259) controller has an interrupt for INTA.
    public var extINTPending: () -> Bool = { false }
    /// ExtINT: the INTA cycle routed to the external controller; its vector (nil: none at all).
    public var extINTVector: () -> UInt8? = { nil }
    /// The guest did something whose effect the SDM leaves undefined or that this model does not
    /// implement (SMI delivery, sub-dword or misaligned register writes, undefined ICR combinations).
    /// The model ignores the access; the platform reports the message (and may stop the machine).
    public var onGuestError: (String) -> Void = { _ in }
    /// The time-stamp counter now (defaults to virtual time at `tscFrequency`).
    public var tsc: () -> UInt64

    // MARK: Registers

    var apicBase: UInt64
    /// xAPIC ID register bits 31:24 (§10.4.6 "Local APIC ID"; writable in xAPIC mode).
    var xapicID: UInt8
    var taskPriority: UInt8 = 0
    var ldr: UInt32 = 0
    var dfr: UInt32 = 0xFFFF_FFFF
    var svr: UInt32 = 0xFF
    var irr = VectorSet(), isr = VectorSet(), tmr = VectorSet()
    /// The ESR as software reads it, errors detected since the last ESR write, and whether a new
    /// error raises the error interrupt (§10.5.3 "Error Handling").
    var esr: UInt32 = 0
    var newErrors: UInt32 = 0
    var errorInterruptArmed = true
    var icr: UInt64 = 0
    var lvt: [UInt32] = Array(repeating: LocalAPIC.lvtMasked, count: LVT.count)
    var initialCount: UInt32 = 0
    var divideConfiguration: UInt32 = 0
    var tscDeadline: UInt64 = 0
    /// The count was `countAtStart` at virtual time `countStart`; it runs while `counting`.
    var counting = false
    var countStart: UInt64 = 0
    var countAtStart: UInt64 = 0
    var timerToken: Int? = nil
    var timerEventAt: UInt64? = nil
    var lint0Level = false, lint1Level = false
    /// An ExtINT message (I/O APIC or IPI) waits for its INTA.
    var extINTMessage = false

    static let lvtMasked: UInt32 = 1 << 16

    public init(clock: DeviceClock, timerFrequency: UInt64, tscFrequency: UInt64, apicID: UInt32 = 0, bsp: Bool = true,
                features: Features = .all, physicalAddressBits: Int = 39) {
        self.clock = clock
        self.timerFrequency = max(timerFrequency, 1)
        self.tscFrequency = max(tscFrequency, 1)
        self.initialID = apicID
        self.isBSP = bsp
        self.features = features
        self.physicalAddressBits = min(max(physicalAddressBits, 32), 52)
        self.xapicID = UInt8(truncatingIfNeeded: apicID)
        self.apicBase = LocalAPIC.defaultBase | LocalAPIC.baseEN | (bsp ? LocalAPIC.baseBSP : 0)
        let f = max(tscFrequency, 1)
        self.tsc = { [unowned clock] in mulDiv(clock.nanoseconds, f, 1_000_000_000) }
    }

    // MARK: IA32_APIC_BASE (§10.4.4 "Local APIC Status and Location")

    static let defaultBase: UInt64 = 0xFEE0_0000
    static let baseBSP: UInt64 = 1 << 8, baseEXTD: UInt64 = 1 << 10, baseEN: UInt64 = 1 << 11

    /// The APIC's mode from IA32_APIC_BASE EN and EXTD (§10.12.5 "x2APIC State Transitions").
    public enum Mode: String, Sendable { case disabled, xAPIC, x2APIC }
    public var mode: Mode {
        apicBase & LocalAPIC.baseEN == 0 ? .disabled : (apicBase & LocalAPIC.baseEXTD != 0 ? .x2APIC : .xAPIC)
    }

    /// Where the xAPIC register page is, when the APIC answers MMIO there (xAPIC mode); nil when
    /// globally disabled or in x2APIC mode (§10.12.1.2 "x2APIC Register Address Space": the MMIO
    /// interface is not available then).
    public var mmioBase: UInt64? { mode == .xAPIC ? apicBase & baseAddressMask : nil }

    var baseAddressMask: UInt64 { ((1 << UInt64(physicalAddressBits)) - 1) & ~0xFFF }

    /// WRMSR IA32_APIC_BASE. Reserved bits (0–7, 9, MAXPHYADDR–63; EXTD without x2APIC support) and the
    /// invalid transitions of §10.12.5 "x2APIC State Transitions" (to EN = 0 with EXTD = 1; x2APIC →
    /// xAPIC; disabled → x2APIC) give #GP (false). BSP is read-only. The base moves the xAPIC page
    /// (§10.4.5 "Relocating the Local APIC Registers"): the platform maps `mmioBase`.
    func writeAPICBase(_ v: UInt64) -> Bool {
        var reserved: UInt64 = 0xFF | (1 << 9) | ~((1 << UInt64(physicalAddressBits)) - 1)
        if !features.contains(.x2APIC) { reserved |= LocalAPIC.baseEXTD }
        guard v & reserved == 0 else { return false }
        let old = mode
        let en = v & LocalAPIC.baseEN != 0, extd = v & LocalAPIC.baseEXTD != 0
        let new: Mode
        switch (en, extd) {
        case (false, true): return false  // the invalid state
        case (false, false): new = .disabled
        case (true, false): new = .xAPIC
        case (true, true): new = .x2APIC
        }
        if old == .x2APIC && new == .xAPIC { return false }
        if old == .disabled && new == .x2APIC { return false }
        apicBase = (v & ~LocalAPIC.baseBSP) | (apicBase & LocalAPIC.baseBSP)
        if new != old {
            switch new {
            case .disabled:
                // §10.4.3 "Enabling or Disabling the Local APIC": globally disabled, the processor acts as one
                // without an on-chip APIC and the APIC may lose its state; this model returns it to the power-up
                // state (§10.4.7.1 "Local APIC State After Power-Up or Reset"). The LINT0/LINT1 pins are then INTR
                // and NMI.
                resetRegisters(keepID: false)
            case .x2APIC:
                // §10.12.5.1 "x2APIC States": entering x2APIC mode from xAPIC mode keeps register state
                // except the ID (becomes the x2APIC ID), the LDR (derived, §10.12.10.2 "Deriving Logical
                // x2APIC ID from the Local x2APIC ID") and the ICR's high half.
                icr &= 0xFFFF_FFFF
            case .xAPIC:
                break
            }
        }
        onOutputChange()
        return true
    }

    // MARK: Reset (§10.4.7.1 "Local APIC State After Power-Up or Reset",
    // §10.4.7.3 "Local APIC State After an INIT Reset ('Wait-for-SIPI' State)")

    func resetRegisters(keepID: Bool) {
        if !keepID { xapicID = UInt8(truncatingIfNeeded: initialID) }
        taskPriority = 0
        ldr = 0
        dfr = 0xFFFF_FFFF
        svr = 0xFF
        irr = VectorSet(); isr = VectorSet(); tmr = VectorSet()
        esr = 0; newErrors = 0; errorInterruptArmed = true
        icr = 0
        for i in 0..<LVT.count { lvt[i] = LocalAPIC.lvtMasked }
        initialCount = 0
        divideConfiguration = 0
        tscDeadline = 0
        counting = false
        extINTMessage = false
        cancelTimerEvent()
    }

    /// Power-on or RESET: IA32_APIC_BASE back to FEE00000H with EN (and BSP), registers as in §10.4.7.1
    /// "Local APIC State After Power-Up or Reset" (IRR, ISR, TMR, ICR, LDR, TPR, timer registers 0;
    /// DFR all ones; every LVT entry masked; SVR 000000FFH).
    public func reset() {
        apicBase = LocalAPIC.defaultBase | LocalAPIC.baseEN | (isBSP ? LocalAPIC.baseBSP : 0)
        resetRegisters(keepID: false)
        onOutputChange()
    }

    /// INIT: as power-up except that the APIC ID is kept (§10.4.7.3 "Local APIC State After an INIT
    /// Reset ('Wait-for-SIPI' State)"); IA32_APIC_BASE is not changed.
    public func initReset() {
        resetRegisters(keepID: true)
        onOutputChange()
    }

    // MARK: IDs and destinations

    /// The ID this APIC answers to: the 8-bit xAPIC ID, or the 32-bit x2APIC ID (= initial APIC ID).
    var currentID: UInt32 { mode == .x2APIC ? initialID : UInt32(xapicID) }

    /// LDR in x2APIC mode: cluster ID (x2APIC ID[19:4]) in bits 31:16, 1 << x2APIC ID[3:0] in 15:0
    /// (§10.12.10.2 "Deriving Logical x2APIC ID from the Local x2APIC ID").
    var x2apicLDR: UInt32 { ((initialID >> 4) & 0xFFFF) << 16 | (1 << (initialID & 0xF)) }

    /// Whether a destination in physical or logical destination mode selects this APIC (§10.6.2.1
    /// "Physical Destination Mode", §10.6.2.2 "Logical Destination Mode" with the flat and cluster
    /// models of the DFR; §10.12.10 "Determining IPI Destination in x2APIC Mode").
    func matchesDestination(_ dest: UInt32, logical: Bool) -> Bool {
        if mode == .x2APIC {
            if dest == 0xFFFF_FFFF { return true }
            if !logical { return dest == initialID }
            let ldr = x2apicLDR
            return dest >> 16 == ldr >> 16 && dest & ldr & 0xFFFF != 0
        }
        let d = UInt8(truncatingIfNeeded: dest)
        if d == 0xFF { return true }
        if !logical { return d == xapicID }
        let logicalID = UInt8(truncatingIfNeeded: ldr >> 24)
        if dfr >> 28 == 0xF { return d & logicalID != 0 }  // flat model
        return d >> 4 == logicalID >> 4 && d & logicalID & 0xF != 0  // cluster model (DFR[31:28] = 0)
    }

    // MARK: Priorities (§10.8.3.1 "Task and Processor Priorities")

    /// TPR (bits 7:4 task-priority class, 3:0 sub-class).
    public var tpr: UInt8 {
        get { taskPriority }
        set { taskPriority = newValue; onOutputChange() }
    }

    /// CR8 as MOV CR8 sees it: CR8[3:0] = TPR[7:4]; writes clear TPR[3:0] (§10.8.6.1 "Interaction of Task
    /// Priorities between CR8 and APIC").
    public var cr8: UInt64 {
        get { UInt64(taskPriority >> 4) }
        set { tpr = UInt8(newValue & 0xF) << 4 }
    }

    /// PPR: the TPR when its class is at least that of the highest in-service vector, else that
    /// vector's class with sub-class 0.
    var ppr: UInt8 {
        let isrv = UInt8(isr.highest ?? 0)
        return taskPriority >> 4 >= isrv >> 4 ? taskPriority : isrv & 0xF0
    }

    /// APR (§10.6.2.4 "Lowest Priority Delivery Mode", Figure 10-15 "Arbitration Priority Register
    /// (APR)"): the TPR when its class is at least the highest requested and above the highest
    /// in-service class, else the largest of the three classes with sub-class 0.
    var apr: UInt8 {
        let irrv = UInt8(irr.highest ?? 0), isrv = UInt8(isr.highest ?? 0)
        if taskPriority >> 4 >= irrv >> 4 && taskPriority >> 4 > isrv >> 4 { return taskPriority }
        return max(taskPriority & 0xF0, irrv & 0xF0, isrv & 0xF0)
    }

    var softwareEnabled: Bool { svr & 0x100 != 0 }
    var eoiBroadcastSuppressed: Bool { features.contains(.directedEOI) && svr & 0x1000 != 0 }

    // MARK: Accepting interrupts

    /// A fixed interrupt for this APIC (I/O APIC, MSI, IPI, local sources): into the IRR, with its TMR bit
    /// set for level-triggered and cleared for edge-triggered (§10.8.4 "Interrupt Acceptance for Fixed
    /// Interrupts"; a vector already in the IRR collapses into it). Vectors 0–15 are not accepted and
    /// set "Received Illegal Vector" (§10.5.2 "Valid Interrupt Vectors", §10.5.3 "Error Handling"). A software-disabled
    /// APIC (SVR bit 8 = 0) does not accept fixed interrupts (the choice KVM makes; §10.4.7.2 "Local APIC
    /// State After It Has Been Software Disabled" keeps only what the IRR and ISR already hold).
    public func acceptInterrupt(vector: UInt8, levelTriggered: Bool) {
        guard mode != .disabled else { return }
        guard vector >= 16 else { signalError(LocalAPIC.esrReceiveIllegalVector); return }
        guard softwareEnabled else { return }
        irr.insert(vector)
        if levelTriggered { tmr.insert(vector) } else { tmr.remove(vector) }
        onOutputChange()
    }

    /// An interrupt message from the I/O APIC or an MSI: delivered when the destination selects this APIC
    /// (§10.6.2 "Determining IPI Destination"; in x2APIC mode the destination is 32 bits, so the platform
    /// widens an 8-bit broadcast FFH from the I/O APIC to FFFFFFFFH).
    /// Returns whether this APIC accepted it (the I/O APIC sets remote IRR only then). Delivery modes:
    /// 0 fixed, 1 lowest priority (one processor: this one), 2 SMI, 4 NMI, 5 INIT, 7 ExtINT.
    @discardableResult
    public func receiveMessage(vector: UInt8, deliveryMode: UInt8, levelTriggered: Bool, destination: UInt32,
                               logical: Bool) -> Bool {
        guard mode != .disabled, matchesDestination(destination, logical: logical) else { return false }
        switch deliveryMode & 7 {
        case 0, 1:
            guard vector >= 16 else { signalError(LocalAPIC.esrReceiveIllegalVector); return false }
            guard softwareEnabled else { return false }
            acceptInterrupt(vector: vector, levelTriggered: levelTriggered)
        case 4: raiseNMI()
        case 5: onINIT()
        case 7:
            extINTMessage = true
            onOutputChange()
        case 2:
            onGuestError("local APIC: SMI delivery (SMM is not implemented)")
            return false
        default:
            onGuestError("local APIC: interrupt message with reserved delivery mode \(deliveryMode & 7)")
            return false
        }
        return true
    }

    /// ExtINT delivery is active: LINT0 unmasked with delivery mode ExtINT (§10.5.1 "Local Vector Table"),
    /// or an ExtINT message; a globally disabled APIC passes LINT0 through as INTR.
    var extINTRouted: Bool {
        if mode == .disabled { return true }
        let l = lvt[LVT.lint0.rawValue]
        return extINTMessage || (l & LocalAPIC.lvtMasked == 0 && (l >> 8) & 7 == 7)
    }

    /// The highest requested vector whose priority class is above the PPR's class (§10.8.4 "Interrupt Acceptance for
    /// Fixed Interrupts"), if any.
    var deliverableVector: UInt8? {
        guard mode != .disabled, let v = irr.highest else { return nil }
        return UInt8(v) >> 4 > ppr >> 4 ? UInt8(v) : nil
    }

    /// INTR: an interrupt the CPU would take now (when RFLAGS.IF allows). ExtINT goes straight to the
    /// processor core, bypassing the IRR and the priorities (§10.8.1 "Interrupt Handling with the
    /// Pentium 4 and Intel Xeon Processors"); it is checked first.
    public var interruptPending: Bool {
        if extINTRouted && extINTPending() { return true }
        return deliverableVector != nil
    }

    /// The INTA cycle: the ExtINT vector from the 8259, else the highest deliverable IRR vector moves to
    /// the ISR. If the request is gone by now (the TPR was raised, or the 8259's request went away),
    /// the spurious-interrupt vector (SVR[7:0]) is returned without touching the ISR (§10.9 "Spurious
    /// Interrupt"). Nil only when the APIC is globally disabled and the 8259 gives nothing.
    public func acknowledgeInterrupt() -> UInt8? {
        if extINTRouted && extINTPending() {
            extINTMessage = false
            let v = extINTVector()
            onOutputChange()
            return v
        }
        if mode == .disabled { return extINTVector() }
        guard let v = deliverableVector else { return UInt8(truncatingIfNeeded: svr) }
        irr.remove(v)
        isr.insert(v)
        onOutputChange()
        return v
    }

    /// EOI (§10.8.5 "Signaling Interrupt Servicing Completion"): clears the highest ISR bit; for a level-triggered
    /// vector (TMR bit set) the EOI is broadcast to the I/O APICs unless SVR bit 12 suppresses it. A LINT0/LINT1
    /// entry with that vector has its remote IRR cleared (§10.5.1 "Local Vector Table"), and a level still asserted
    /// on the pin is accepted again.
    func endOfInterrupt() {
        guard let v = isr.highest.map({ UInt8($0) }) else { return }
        isr.remove(v)
        if tmr.contains(v) && !eoiBroadcastSuppressed { onEOI(v) }
        for pin in [LVT.lint0, LVT.lint1] {
            let i = pin.rawValue
            if lvt[i] & LocalAPIC.lvtRemoteIRR != 0 && UInt8(truncatingIfNeeded: lvt[i]) == v {
                lvt[i] &= ~LocalAPIC.lvtRemoteIRR
                evaluateLINT(pin)
            }
        }
        onOutputChange()
    }

    // MARK: Local vector table (§10.5.1 "Local Vector Table", Figure 10-8)

    /// LVT entries in the order of their x2APIC/xAPIC registers' index (CMCI is at 2F0H, the others at
    /// 320H–370H).
    public enum LVT: Int, CaseIterable, Sendable {
        case cmci = 0, timer, thermal, performance, lint0, lint1, error
        static let count = 7
        var registerIndex: Int { self == .cmci ? 0x2F : 0x31 + rawValue }
        var name: String {
            ["LVT CMCI", "LVT Timer", "LVT Thermal Sensor", "LVT Performance Monitoring Counters", "LVT LINT0",
             "LVT LINT1", "LVT Error"][rawValue]
        }
    }

    static let lvtDeliveryStatus: UInt32 = 1 << 12, lvtRemoteIRR: UInt32 = 1 << 14

    /// The writable bits of each entry: vector 7:0; delivery mode 10:8 (CMCI, thermal, performance,
    /// LINT0/1); pin polarity 13 and trigger mode 15 (LINT0/1); mask 16; timer mode 18:17 (bit 18 only
    /// with TSC-deadline support). Delivery status (12) and remote IRR (14) are read-only.
    func lvtWritable(_ e: LVT) -> UInt32 {
        switch e {
        case .timer: return features.contains(.tscDeadline) ? 0x0007_00FF : 0x0003_00FF
        case .cmci, .thermal, .performance: return 0x0001_07FF
        case .lint0, .lint1: return 0x0001_A7FF
        case .error: return 0x0001_00FF
        }
    }

    func writeLVT(_ e: LVT, _ value: UInt32) {
        let i = e.rawValue
        let old = lvt[i]
        // The count goes on from its present value under the new mode (§10.5.4 "APIC Timer": changing the mode does
        // not restart the timer).
        if e == .timer { rebaseCount() }
        var v = value & lvtWritable(e) | old & LocalAPIC.lvtRemoteIRR
        // §10.4.7.2 "Local APIC State After It Has Been Software Disabled": while software-disabled, every mask bit
        // stays set.
        if !softwareEnabled { v |= LocalAPIC.lvtMasked }
        if e == .lint0 || e == .lint1 {
            // Remote IRR has a meaning only for fixed, level-triggered entries.
            if v & 0x8000 == 0 || (v >> 8) & 7 != 0 { v &= ~LocalAPIC.lvtRemoteIRR }
        }
        lvt[i] = v
        switch e {
        case .timer:
            let oldMode = (old >> 17) & 3, newMode = (v >> 17) & 3
            if newMode == 3 {  // reserved (§10.5.1 "Local Vector Table")
                onGuestError("local APIC: LVT timer mode 11b is reserved; treated as one-shot")
            }
            if (oldMode == 2) != (newMode == 2) {
                // §10.5.4.1 "TSC-Deadline Mode": a transition between TSC-deadline mode and the other modes disarms
                // the timer.
                counting = false
                initialCount = 0
                tscDeadline = 0
            }
            rescheduleTimer()
        case .lint0, .lint1:
            evaluateLINT(e)
        default:
            break
        }
        onOutputChange()
    }

    /// Signals a fixed-delivery LVT entry (timer, error): a masked entry's interrupt is dropped; an illegal vector
    /// is not delivered and sets "Received Illegal Vector" (§10.5.2 "Valid Interrupt Vectors", §10.5.3 "Error
    /// Handling").
    func signalFixed(_ e: LVT) {
        let entry = lvt[e.rawValue]
        guard entry & LocalAPIC.lvtMasked == 0 else { return }
        let vector = UInt8(truncatingIfNeeded: entry)
        guard vector >= 16 else { signalError(LocalAPIC.esrReceiveIllegalVector); return }
        irr.insert(vector)
        // The timer and error interrupts are always edge (§10.5.1 "Local Vector Table", trigger mode).
        tmr.remove(vector)
        onOutputChange()
    }

    /// The LINT0 input pin (the 8259's INT on a PC).
    public func setLINT0(_ level: Bool) { setLINT(.lint0, level) }
    /// The LINT1 input pin (NMI on a PC).
    public func setLINT1(_ level: Bool) { setLINT(.lint1, level) }

    func setLINT(_ pin: LVT, _ level: Bool) {
        let old = pin == .lint0 ? lint0Level : lint1Level
        if pin == .lint0 { lint0Level = level } else { lint1Level = level }
        if mode == .disabled {
            // Globally disabled: the pins are the processor's INTR and NMI, as on a processor without
            // an on-chip APIC (§10.4.3 "Enabling or Disabling the Local APIC").
            if pin == .lint1 && level && !old { raiseNMI() }
            onOutputChange()
            return
        }
        let entry = lvt[pin.rawValue]
        let activeLow = entry & (1 << 13) != 0
        let wasActive = old != activeLow, isActive = level != activeLow
        let levelTriggered = entry & 0x8000 != 0
        if levelTriggered && (entry >> 8) & 7 == 0 {
            evaluateLINT(pin)
        } else if isActive && !wasActive {
            signalLINT(pin)
        }
        onOutputChange()
    }

    /// A LINT pin's LVT entry fires: fixed (edge, or level with remote IRR), NMI, INIT, SMI (not modeled),
    /// ExtINT (handled by `extINTRouted`, the vector comes from the 8259).
    func signalLINT(_ pin: LVT) {
        let i = pin.rawValue, entry = lvt[i]
        guard entry & LocalAPIC.lvtMasked == 0 else { return }
        switch (entry >> 8) & 7 {
        case 0:
            let vector = UInt8(truncatingIfNeeded: entry)
            guard vector >= 16 else { signalError(LocalAPIC.esrReceiveIllegalVector); return }
            let level = entry & 0x8000 != 0
            if level { lvt[i] |= LocalAPIC.lvtRemoteIRR }
            irr.insert(vector)
            if level { tmr.insert(vector) } else { tmr.remove(vector) }
        case 4: raiseNMI()
        case 5: onINIT()
        case 7: break
        case 2: onGuestError("local APIC: \(pin.name) delivers an SMI (SMM is not implemented)")
        default: onGuestError("local APIC: \(pin.name) has reserved delivery mode \((entry >> 8) & 7)")
        }
    }

    /// A fixed, level-triggered LINT entry: accepted while the pin is active and remote IRR is clear.
    func evaluateLINT(_ pin: LVT) {
        let entry = lvt[pin.rawValue]
        guard entry & 0x8000 != 0, (entry >> 8) & 7 == 0, entry & LocalAPIC.lvtRemoteIRR == 0 else { return }
        let level = pin == .lint0 ? lint0Level : lint1Level
        if level != (entry & (1 << 13) != 0) { signalLINT(pin) }
    }

    // MARK: Errors (§10.5.3 "Error Handling", Figure 10-9 "Error Status Register (ESR)")

    static let esrSendIllegalVector: UInt32 = 1 << 5, esrReceiveIllegalVector: UInt32 = 1 << 6
    static let esrIllegalRegisterAddress: UInt32 = 1 << 7

    /// An error is recorded for the next ESR write and raises the LVT error interrupt once until software
    /// rearms it by writing the ESR.
    func signalError(_ bit: UInt32) {
        newErrors |= bit
        guard errorInterruptArmed else { return }
        errorInterruptArmed = false
        signalFixed(.error)
    }

    /// An ESR write latches the errors detected since the previous write into the readable ESR, clears
    /// them, and rearms the error interrupt.
    func writeESR() {
        esr = newErrors
        newErrors = 0
        errorInterruptArmed = true
    }

    // MARK: Interrupt Command Register (§10.6.1 "Interrupt Command Register (ICR)")

    /// The ICR's writable bits: vector, delivery mode, destination mode, level, trigger mode, destination
    /// shorthand, destination (xAPIC: bits 63:56; x2APIC: 63:32). Delivery status (bit 12) reads 0: an
    /// IPI is sent by the time the write completes.
    static let icrLowWritable: UInt64 = 0x000C_CFFF

    func sendIPI(_ command: UInt64) {
        let vector = UInt8(truncatingIfNeeded: command)
        let deliveryMode = UInt8((command >> 8) & 7)
        let logical = command & (1 << 11) != 0
        let levelAssert = command & (1 << 14) != 0
        let levelTriggered = command & (1 << 15) != 0
        let shorthand = (command >> 18) & 3
        let destination = mode == .x2APIC ? UInt32(command >> 32) : UInt32(command >> 56)
        // INIT level de-assert (INIT, level 0, trigger level) only resynchronizes arbitration IDs; it is not
        // supported on Pentium 4 and later processors and does nothing here (§10.6.1 "Interrupt Command Register
        // (ICR)").
        if deliveryMode == 5 && !levelAssert && levelTriggered { return }
        // Table 10-3 "Valid Combinations for the Pentium 4 and Intel Xeon Processors' Local xAPIC
        // Interrupt Command Register": a level-triggered IPI is treated as edge when the level flag is 1
        // and ignored otherwise.
        if levelTriggered && !levelAssert { return }
        if (deliveryMode == 0 || deliveryMode == 1) && vector < 16 {
            signalError(LocalAPIC.esrSendIllegalVector)  // §10.5.3 "Error Handling": "Send Illegal Vector"
            return
        }
        if deliveryMode == 3 || deliveryMode == 7 {
            onGuestError("local APIC: ICR \(hex(command)) has reserved delivery mode \(deliveryMode)")
            return
        }
        let toSelf: Bool
        switch shorthand {
        case 0: toSelf = matchesDestination(destination, logical: logical)
        case 1, 2:
            // Self and all-including-self are valid only with fixed delivery (Table 10-3; the others are
            // undefined).
            guard deliveryMode == 0 else {
                onGuestError("local APIC: ICR \(hex(command)): delivery mode \(deliveryMode) with shorthand " +
                             (shorthand == 1 ? "self" : "all including self") + " is undefined (SDM Table 10-3)")
                return
            }
            toSelf = true
        default: toSelf = false  // all excluding self: there is no other processor
        }
        // A destination that selects no APIC is sent to nobody; P4 and later report no error for it
        // (the "Send Accept Error" bit is for the P6/Pentium APIC bus, §10.5.3 "Error Handling").
        guard toSelf else { return }
        switch deliveryMode {
        case 0, 1: acceptInterrupt(vector: vector, levelTriggered: false)  // an IPI is edge (Table 10-3)
        case 2: onGuestError("local APIC: SMI IPI to self (SMM is not implemented)")
        case 4: raiseNMI()
        case 5: onINIT()
        case 6: onSIPI(vector)
        default: break
        }
    }

    // MARK: Timer (§10.5.4 "APIC Timer")

    public enum TimerMode: String, Sendable { case oneShot, periodic, tscDeadline }
    var timerMode: TimerMode {
        switch (lvt[LVT.timer.rawValue] >> 17) & 3 {
        case 1: return .periodic
        case 2: return .tscDeadline
        default: return .oneShot
        }
    }

    /// The divide configuration register (bits 0, 1, 3): 000 ÷2, 001 ÷4, 010 ÷8, 011 ÷16, 100 ÷32,
    /// 101 ÷64, 110 ÷128, 111 ÷1 (Figure 10-10 "Divide Configuration Register"). Every value is legal.
    var divisor: UInt64 {
        let d = (divideConfiguration & 3) | (divideConfiguration >> 1) & 4
        return d == 7 ? 1 : 2 << UInt64(d)
    }

    /// Timer ticks counted since `countStart` (at most one per divided clock).
    func ticksSinceStart() -> UInt64 {
        mulDiv(clock.nanoseconds &- countStart, timerFrequency, 1_000_000_000 * divisor)
    }

    /// Virtual nanoseconds after `countStart` at which `ticks` ticks have elapsed (rounded up).
    func nanosForTicks(_ ticks: UInt64) -> UInt64 {
        let d = 1_000_000_000 * divisor
        let (hi, lo) = ticks.multipliedFullWidth(by: d)
        guard hi < timerFrequency else { return .max }
        let (q, r) = timerFrequency.dividingFullWidth((hi, lo))
        return r == 0 ? q : saturatingAdd(q, 1)
    }

    /// The current-count register: counts down from the initial count; one-shot stops at 0, periodic
    /// reloads the initial count as it reaches 0; reads 0 in TSC-deadline mode.
    var currentCount: UInt32 {
        guard counting, timerMode != .tscDeadline else { return 0 }
        let t = ticksSinceStart()
        if t < countAtStart { return UInt32(truncatingIfNeeded: countAtStart - t) }
        guard timerMode == .periodic, initialCount != 0 else { return 0 }
        let n = UInt64(initialCount)
        return UInt32(truncatingIfNeeded: n - (t - countAtStart) % n)
    }

    /// Rebase the count at `now` (before the divider or mode changes), so counting continues from the
    /// same value at the new rate.
    func rebaseCount() {
        guard counting, timerMode != .tscDeadline else { return }
        let c = UInt64(currentCount)
        countStart = clock.nanoseconds
        countAtStart = c
        if c == 0 { counting = false }
    }

    /// A write to the initial-count register (re)starts the count; 0 stops the timer; ignored in
    /// TSC-deadline mode.
    func writeInitialCount(_ v: UInt32) {
        guard timerMode != .tscDeadline else { return }
        initialCount = v
        counting = v != 0
        countStart = clock.nanoseconds
        countAtStart = UInt64(v)
        rescheduleTimer()
    }

    func cancelTimerEvent() {
        if let t = timerToken { clock.cancel(t) }
        timerToken = nil
        timerEventAt = nil
    }

    func scheduleTimerEvent(at t: UInt64) {
        timerEventAt = t
        timerToken = clock.schedule(at: t) { [weak self] in
            guard let self else { return }
            self.timerToken = nil
            self.timerEventAt = nil
            self.timerExpired()
        }
    }

    /// The next expiry as one clock event. A masked one-shot or periodic timer schedules nothing (its
    /// interrupts would be dropped; the count is computed on demand); a TSC deadline is always
    /// scheduled because reaching it clears IA32_TSC_DEADLINE.
    func rescheduleTimer() {
        cancelTimerEvent()
        guard mode != .disabled else { return }
        let masked = lvt[LVT.timer.rawValue] & LocalAPIC.lvtMasked != 0
        switch timerMode {
        case .tscDeadline:
            guard tscDeadline != 0 else { return }
            let now = tsc()
            if now >= tscDeadline {
                tscDeadline = 0
                signalFixed(.timer)
                return
            }
            let delta = mulDiv(tscDeadline - now, 1_000_000_000, tscFrequency)
            scheduleTimerEvent(at: saturatingAdd(clock.nanoseconds, max(delta, 1)))
        case .oneShot, .periodic:
            guard counting, !masked else { return }
            let t = ticksSinceStart()
            var next = countAtStart
            if t >= next {
                guard timerMode == .periodic, initialCount != 0 else { counting = false; return }
                let n = UInt64(initialCount)
                // Saturating: a far deadline (UInt64.max, a time that never comes) must not wrap into the past.
                next = checkedMul((t - countAtStart) / n + 1, n).map { saturatingAdd(countAtStart, $0) } ?? .max
            }
            scheduleTimerEvent(at: saturatingAdd(countStart, nanosForTicks(next)))
        }
    }

    func timerExpired() {
        switch timerMode {
        case .tscDeadline:
            guard tscDeadline != 0 else { return }
            if tsc() < tscDeadline { rescheduleTimer(); return }
            tscDeadline = 0
            signalFixed(.timer)
        case .oneShot:
            counting = false
            signalFixed(.timer)
        case .periodic:
            signalFixed(.timer)
            rescheduleTimer()
        }
    }

    /// IA32_TSC_DEADLINE (§10.5.4.1 "TSC-Deadline Mode"): a non-zero write arms the timer, 0 disarms it;
    /// the interrupt comes when the TSC reaches the value, which then reads 0. Outside TSC-deadline mode
    /// the MSR reads 0 and writes are ignored.
    func writeTSCDeadline(_ v: UInt64) {
        guard timerMode == .tscDeadline else { return }
        tscDeadline = v
        rescheduleTimer()
    }

    // MARK: The register file (§10.4.1 "The Local APIC Block Diagram", Table 10-1 "Local APIC Register
    // Address Map"; §10.12.1.2 "x2APIC Register Address Space" Table 10-6 "Local APIC Register Address Map Supported
    // by x2APIC")

    enum Access: Sendable { case none, readOnly, writeOnly, readWrite }

    struct Register: Sendable {
        let name: String
        let xAPIC: Access
        let x2APIC: Access
    }

    /// Indexed by offset >> 4 (= x2APIC MSR − 800H).
    static let registers: [Register?] = {
        var r = [Register?](repeating: nil, count: 64)
        r[0x02] = Register(name: "ID", xAPIC: .readWrite, x2APIC: .readOnly)
        r[0x03] = Register(name: "Version", xAPIC: .readOnly, x2APIC: .readOnly)
        r[0x08] = Register(name: "TPR", xAPIC: .readWrite, x2APIC: .readWrite)
        r[0x09] = Register(name: "APR", xAPIC: .readOnly, x2APIC: .none)
        r[0x0A] = Register(name: "PPR", xAPIC: .readOnly, x2APIC: .readOnly)
        r[0x0B] = Register(name: "EOI", xAPIC: .writeOnly, x2APIC: .writeOnly)
        r[0x0C] = Register(name: "RRD", xAPIC: .readOnly, x2APIC: .none)
        r[0x0D] = Register(name: "LDR", xAPIC: .readWrite, x2APIC: .readOnly)
        r[0x0E] = Register(name: "DFR", xAPIC: .readWrite, x2APIC: .none)
        r[0x0F] = Register(name: "SVR", xAPIC: .readWrite, x2APIC: .readWrite)
        for i in 0..<8 {
            r[0x10 + i] = Register(name: "ISR\(i)", xAPIC: .readOnly, x2APIC: .readOnly)
            r[0x18 + i] = Register(name: "TMR\(i)", xAPIC: .readOnly, x2APIC: .readOnly)
            r[0x20 + i] = Register(name: "IRR\(i)", xAPIC: .readOnly, x2APIC: .readOnly)
        }
        r[0x28] = Register(name: "ESR", xAPIC: .readWrite, x2APIC: .readWrite)
        for e in LVT.allCases { r[e.registerIndex] = Register(name: e.name, xAPIC: .readWrite, x2APIC: .readWrite) }
        r[0x30] = Register(name: "ICR", xAPIC: .readWrite, x2APIC: .readWrite)
        r[0x31] = Register(name: "ICR high", xAPIC: .readWrite, x2APIC: .none)
        r[0x38] = Register(name: "Initial Count", xAPIC: .readWrite, x2APIC: .readWrite)
        r[0x39] = Register(name: "Current Count", xAPIC: .readOnly, x2APIC: .readOnly)
        r[0x3E] = Register(name: "Divide Configuration", xAPIC: .readWrite, x2APIC: .readWrite)
        r[0x3F] = Register(name: "SELF IPI", xAPIC: .none, x2APIC: .writeOnly)
        return r
    }()

    /// The register's name at an xAPIC offset (for messages and the debugger), or nil if reserved.
    public static func registerName(offset: UInt64) -> String? {
        offset < 0x400 ? registers[Int(offset >> 4)]?.name : nil
    }

    /// Version register (§10.4.8 "Local APIC Version Register"): version 14H, Max LVT Entry 6 (seven
    /// entries), bit 24 when EOI-broadcast suppression is supported.
    public var version: UInt32 { 0x0006_0014 | (features.contains(.directedEOI) ? 1 << 24 : 0) }

    /// A 32-bit register's value (ICR: the low half; index 0x31: the high half).
    func readRegister(_ index: Int) -> UInt32 {
        switch index {
        case 0x02: return mode == .x2APIC ? initialID : UInt32(xapicID) << 24
        case 0x03: return version
        case 0x08: return UInt32(taskPriority)
        case 0x09: return UInt32(apr)
        case 0x0A: return UInt32(ppr)
        case 0x0D: return mode == .x2APIC ? x2apicLDR : ldr
        case 0x0E: return dfr
        case 0x0F: return svr
        case 0x10...0x17: return isr.word(index - 0x10)
        case 0x18...0x1F: return tmr.word(index - 0x18)
        case 0x20...0x27: return irr.word(index - 0x20)
        case 0x28: return esr
        case 0x30: return UInt32(truncatingIfNeeded: icr)
        case 0x31: return UInt32(truncatingIfNeeded: icr >> 32)
        case 0x2F, 0x32...0x37: return lvt[index == 0x2F ? 0 : index - 0x31]
        case 0x38: return initialCount
        case 0x39: return currentCount
        case 0x3E: return divideConfiguration
        default: return 0  // EOI, RRD, SELF IPI read as 0 where readable at all
        }
    }

    /// A write to a writable register (already checked against the table).
    func writeRegister(_ index: Int, _ value: UInt32) {
        switch index {
        case 0x02: xapicID = UInt8(value >> 24)
        case 0x08: tpr = UInt8(truncatingIfNeeded: value)
        case 0x0B: endOfInterrupt()
        case 0x0D: ldr = value & 0xFF00_0000
        case 0x0E: dfr = value | 0x0FFF_FFFF
        case 0x0F: writeSVR(value)
        case 0x28: writeESR()
        case 0x30:
            icr = icr & 0xFFFF_FFFF_0000_0000 | UInt64(value) & LocalAPIC.icrLowWritable
            sendIPI(icr)
            onOutputChange()
        case 0x31: icr = icr & 0xFFFF_FFFF | UInt64(value & 0xFF00_0000) << 32
        case 0x2F, 0x32...0x37: writeLVT(LVT(rawValue: index == 0x2F ? 0 : index - 0x31)!, value)
        case 0x38: writeInitialCount(value)
        case 0x3E:
            rebaseCount()
            divideConfiguration = value & 0xB
            rescheduleTimer()
        case 0x3F: selfIPI(UInt8(truncatingIfNeeded: value))
        default: break
        }
    }

    /// SVR (§10.9 "Spurious Interrupt", Figure 10-23 "Spurious-Interrupt Vector Register (SVR)"): spurious vector
    /// 7:0, APIC software enable 8, focus processor checking 9, EOI-broadcast suppression 12 (when supported).
    /// Software-disabling sets every LVT mask bit (§10.4.7.2 "Local APIC State After It Has Been Software
    /// Disabled").
    func writeSVR(_ value: UInt32) {
        svr = value & (features.contains(.directedEOI) ? 0x13FF : 0x3FF)
        if !softwareEnabled {
            for i in 0..<LVT.count { lvt[i] |= LocalAPIC.lvtMasked }
            rescheduleTimer()
        }
        onOutputChange()
    }

    /// SELF IPI (x2APIC MSR 83FH, §10.12.11 "SELF IPI Register"): a fixed, edge-triggered IPI to this
    /// APIC.
    func selfIPI(_ vector: UInt8) {
        guard vector >= 16 else { signalError(LocalAPIC.esrSendIllegalVector); return }
        acceptInterrupt(vector: vector, levelTriggered: false)
    }

    // MARK: xAPIC MMIO

    /// A read of the xAPIC page. Registers are 32 bits at 16-byte-aligned offsets (§10.4.1 "The Local APIC Block
    /// Diagram": "All 32-bit registers should be accessed using 128-bit aligned 32-bit loads or stores"). Accesses
    /// to bytes 0–3 of a register of 1, 2 or 4 bytes return those bytes; bytes 4–15 read as 0 (the SDM calls such
    /// accesses undefined; they are also reported through `onGuestError`). A reserved offset reads 0 and sets
    /// "Illegal Register Address" (ESR bit 7). Write-only EOI reads 0.
    public func mmioRead(offset: UInt64, size: Int) -> UInt64 {
        guard mode == .xAPIC, offset < 0x1000 else { return 0 }
        let index = Int(offset >> 4), byte = Int(offset & 0xF)
        guard size == 1 || size == 2 || size == 4, byte + size <= 4 else {
            onGuestError("local APIC: \(size)-byte read at offset \(hex(offset)) outside a register's low 32 bits")
            return 0
        }
        guard index < 64, let reg = LocalAPIC.registers[index], reg.xAPIC != .none else {
            signalError(LocalAPIC.esrIllegalRegisterAddress)
            return 0
        }
        let v = UInt64(readRegister(index)) >> (8 * UInt64(byte))
        return size == 4 ? v : v & ((1 << (8 * UInt64(size))) - 1)
    }

    /// A write to the xAPIC page. Only aligned 32-bit writes at a register's offset take effect; other writes are
    /// ignored and reported (undefined, §10.4.1 "The Local APIC Block Diagram"). Writes to read-only registers are
    /// ignored; to reserved offsets they are ignored and set "Illegal Register Address" (§10.5.3 "Error Handling").
    public func mmioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard mode == .xAPIC, offset < 0x1000 else { return }
        guard size == 4, offset & 0xF == 0 else {
            onGuestError("local APIC: \(size)-byte write at offset \(hex(offset)) ignored "
                         + "(only aligned 32-bit writes are defined)")
            return
        }
        let index = Int(offset >> 4)
        guard index < 64, let reg = LocalAPIC.registers[index], reg.xAPIC != .none else {
            signalError(LocalAPIC.esrIllegalRegisterAddress)
            return
        }
        guard reg.xAPIC != .readOnly else { return }
        writeRegister(index, UInt32(truncatingIfNeeded: value))
    }

    // MARK: MSRs

    public static let msrAPICBase: UInt32 = 0x1B, msrTSCDeadline: UInt32 = 0x6E0

    /// The MSRs this device answers: IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range 800H–8FFH.
    public static func handlesMSR(_ index: UInt32) -> Bool {
        index == msrAPICBase || index == msrTSCDeadline || (0x800...0x8FF).contains(index)
    }

    /// RDMSR; nil means #GP(0). x2APIC registers (§10.12.1.2 "x2APIC Register Address Space", Table 10-6): #GP when
    /// not in x2APIC mode, for reserved or absent registers (APR, RRD, DFR, ICR high among them) and for write-only
    /// EOI and SELF IPI. The ICR reads as one 64-bit register.
    public func readMSR(_ index: UInt32) -> UInt64? {
        switch index {
        case LocalAPIC.msrAPICBase: return apicBase
        case LocalAPIC.msrTSCDeadline:
            guard features.contains(.tscDeadline) else { return nil }
            return timerMode == .tscDeadline ? tscDeadline : 0
        case 0x800...0x8FF:
            guard mode == .x2APIC else { return nil }
            let i = Int(index - 0x800)
            guard i < 64, let reg = LocalAPIC.registers[i], reg.x2APIC == .readOnly || reg.x2APIC == .readWrite else {
                return nil
            }
            return i == 0x30 ? icr : UInt64(readRegister(i))
        default: return nil
        }
    }

    /// The bits software may set in an x2APIC register; a 1 elsewhere is a reserved bit and WRMSR gives
    /// #GP (§10.12.1.3 "Reserved Bit Checking"). Read-only bits of LVT entries (delivery status, remote
    /// IRR) are ignored rather than faulted, so a read-modify-write works.
    func x2apicWritable(_ index: Int) -> UInt64 {
        switch index {
        case 0x08: return 0xFF
        case 0x0B, 0x28: return 0  // EOI and ESR: only 0 may be written
        case 0x0F: return features.contains(.directedEOI) ? 0x13FF : 0x3FF
        case 0x30: return 0xFFFF_FFFF_0000_0000 | LocalAPIC.icrLowWritable | 1 << 12
        case 0x2F, 0x32...0x37:
            let e = LVT(rawValue: index == 0x2F ? 0 : index - 0x31)!
            return UInt64(lvtWritable(e) | LocalAPIC.lvtDeliveryStatus | LocalAPIC.lvtRemoteIRR)
        case 0x38: return 0xFFFF_FFFF
        case 0x3E: return 0xB
        case 0x3F: return 0xFF
        default: return 0
        }
    }

    /// WRMSR; false means #GP(0) (see `readMSR`; also read-only registers and reserved bits).
    public func writeMSR(_ index: UInt32, _ value: UInt64) -> Bool {
        switch index {
        case LocalAPIC.msrAPICBase: return writeAPICBase(value)
        case LocalAPIC.msrTSCDeadline:
            guard features.contains(.tscDeadline) else { return false }
            writeTSCDeadline(value)
            return true
        case 0x800...0x8FF:
            guard mode == .x2APIC else { return false }
            let i = Int(index - 0x800)
            guard i < 64, let reg = LocalAPIC.registers[i], reg.x2APIC == .writeOnly || reg.x2APIC == .readWrite,
                  value & ~x2apicWritable(i) == 0 else { return false }
            if i == 0x30 {
                // §10.12.9 "ICR Operation in x2APIC Mode": one 64-bit write sends the IPI.
                icr = value & ~(1 << 12)
                sendIPI(icr)
                onOutputChange()
            } else {
                writeRegister(i, UInt32(truncatingIfNeeded: value))
            }
            return true
        default: return false
        }
    }

    // MARK: Debugger

    /// A snapshot for the debugger.
    public struct State: Sendable, Equatable {
        public var mode: Mode
        public var apicBase: UInt64
        public var id: UInt32, version: UInt32
        public var tpr: UInt8, apr: UInt8, ppr: UInt8
        public var ldr: UInt32, dfr: UInt32, svr: UInt32, esr: UInt32
        /// Errors detected since the last ESR write (what the next ESR write latches).
        public var pendingErrors: UInt32
        public var icr: UInt64
        /// LVT entries in `LVT` order (CMCI, timer, thermal, performance, LINT0, LINT1, error).
        public var lvt: [UInt32]
        public var irr: [UInt8], isr: [UInt8], tmr: [UInt8]
        public var timerMode: TimerMode
        public var initialCount: UInt32, currentCount: UInt32, divisor: UInt64
        public var tscDeadline: UInt64
        /// Virtual time (ns) of the next timer event, if one is scheduled.
        public var nextTimerEvent: UInt64?
        public var interruptPending: Bool
    }

    public var state: State {
        State(mode: mode, apicBase: apicBase, id: currentID, version: version, tpr: taskPriority, apr: apr, ppr: ppr,
              ldr: mode == .x2APIC ? x2apicLDR : ldr, dfr: dfr, svr: svr, esr: esr, pendingErrors: newErrors, icr: icr,
              lvt: lvt, irr: irr.vectors, isr: isr.vectors, tmr: tmr.vectors, timerMode: timerMode,
              initialCount: initialCount, currentCount: currentCount, divisor: divisor, tscDeadline: tscDeadline,
              nextTimerEvent: timerEventAt, interruptPending: interruptPending)
    }
}

/// 256 bits, one per vector (the IRR, ISR and TMR).
struct VectorSet: Equatable {
    var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (a: VectorSet, b: VectorSet) -> Bool { a.w == b.w }

    subscript(i: Int) -> UInt64 {
        get {
            switch i {
            case 0: return w.0
            case 1: return w.1
            case 2: return w.2
            default: return w.3
            }
        }
        set {
            switch i {
            case 0: w.0 = newValue
            case 1: w.1 = newValue
            case 2: w.2 = newValue
            default: w.3 = newValue
            }
        }
    }

    func contains(_ v: UInt8) -> Bool { self[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
    mutating func insert(_ v: UInt8) { self[Int(v >> 6)] |= 1 << UInt64(v & 63) }
    mutating func remove(_ v: UInt8) { self[Int(v >> 6)] &= ~(1 << UInt64(v & 63)) }

    /// The highest vector present.
    var highest: Int? {
        for i in (0..<4).reversed() where self[i] != 0 { return i * 64 + 63 - self[i].leadingZeroBitCount }
        return nil
    }

    /// Bits 32i+31 … 32i (the register at offset 10H·i of ISR/TMR/IRR).
    func word(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: self[i >> 1] >> (UInt64(i & 1) * 32)) }

    var vectors: [UInt8] { (0...255).filter { contains(UInt8($0)) }.map { UInt8($0) } }
}

