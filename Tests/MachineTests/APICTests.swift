// The local APIC and the I/O APIC, driven through their registers on a manual virtual clock.

import Testing
@testable import Machine

/// Timer input 100 MHz (10 ns per tick at divide-by-1); TSC 2 GHz.
private func makeAPIC(_ clock: ManualClock, id: UInt32 = 0, features: LocalAPIC.Features = .all) -> LocalAPIC {
    LocalAPIC(clock: clock, timerFrequency: 100_000_000, tscFrequency: 2_000_000_000, apicID: id, features: features)
}

/// The platform's wiring: I/O APIC messages to the local APIC, its EOI broadcasts back.
private func connect(_ io: IOAPIC, _ apic: LocalAPIC) {
    io.deliver = { [unowned apic] v, m, l, d, log in
        apic.receiveMessage(vector: v, deliveryMode: m, levelTriggered: l, destination: UInt32(d), logical: log)
    }
    apic.onEOI = { [unowned io] in io.eoi($0) }
}

private extension LocalAPIC {
    func r(_ offset: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: mmioRead(offset: offset, size: 4)) }
    func w(_ offset: UInt64, _ v: UInt32) { mmioWrite(offset: offset, size: 4, value: UInt64(v)) }
    /// SVR: software-enable with spurious vector `spurious`.
    func enable(spurious: UInt8 = 0xFF, extra: UInt32 = 0) { w(0xF0, 0x100 | UInt32(spurious) | extra) }
    /// The ESR after a write (the write latches the errors detected since the previous one).
    func latchedESR() -> UInt32 { w(0x280, 0); return r(0x280) }
    func eoi() { w(0xB0, 0) }
    func selfIPI(_ vector: UInt8) { w(0x300, 0x0004_0000 | UInt32(vector)) }
    func x2apicOn() -> Bool { writeMSR(0x1B, 0xFEE0_0000 | 0xC00 | (readMSR(0x1B)! & 0x100)) }
}

@Suite struct LocalAPICRegisterTests {
    @Test func everyOffsetReadsItsResetValue() {
        let apic = makeAPIC(ManualClock(), id: 3)
        let documented: [UInt64: UInt32] = [
            0x020: 0x0300_0000, 0x030: 0x0106_0014, 0x0E0: 0xFFFF_FFFF, 0x0F0: 0x0000_00FF,
            0x2F0: 0x0001_0000, 0x320: 0x0001_0000, 0x330: 0x0001_0000, 0x340: 0x0001_0000,
            0x350: 0x0001_0000, 0x360: 0x0001_0000, 0x370: 0x0001_0000,
        ]
        for offset in stride(from: UInt64(0), through: 0xFF0, by: 0x10) {
            #expect(apic.r(offset) == documented[offset] ?? 0, "offset \(hex(offset))")
        }
        // Reserved offsets were read: "Illegal Register Address" (ESR bit 7) is latched by the next
        // ESR write. Reading only defined registers sets nothing.
        #expect(apic.r(0x280) == 0)
        #expect(apic.latchedESR() == 0x80)
        _ = apic.r(0x3E0); _ = apic.r(0x0B0); _ = apic.r(0x0C0)
        #expect(apic.latchedESR() == 0)
        _ = apic.r(0x3F0)  // SELF IPI exists only in x2APIC mode
        #expect(apic.latchedESR() == 0x80)
        // The version without EOI-broadcast suppression.
        #expect(makeAPIC(ManualClock(), features: [.x2APIC]).r(0x30) == 0x0006_0014)
    }

    @Test func oddSizesAndMisalignedAccesses() {
        let apic = makeAPIC(ManualClock(), id: 0x12)
        var reports: [String] = []
        apic.onGuestError = { reports.append($0) }
        #expect(apic.mmioRead(offset: 0x023, size: 1) == 0x12)
        #expect(apic.mmioRead(offset: 0x032, size: 2) == 0x0106)
        #expect(apic.mmioRead(offset: 0x024, size: 4) == 0)  // bytes 4–15: undefined, read 0
        #expect(apic.mmioRead(offset: 0x030, size: 8) == 0)
        #expect(apic.mmioRead(offset: 0xFFF, size: 4) == 0)
        #expect(reports.count == 3)
        apic.mmioWrite(offset: 0x080, size: 1, value: 0x50)  // TPR: a byte write is ignored and reported
        apic.mmioWrite(offset: 0x084, size: 4, value: 0x50)
        #expect(apic.tpr == 0)
        #expect(reports.count == 5)
        apic.mmioWrite(offset: 0x080, size: 4, value: 0xFFFF_FF50)
        #expect(apic.r(0x80) == 0x50)  // TPR[31:8] reserved
    }

    @Test func readOnlyRegistersIgnoreWrites() {
        let apic = makeAPIC(ManualClock())
        apic.enable()
        apic.selfIPI(0x40)
        _ = apic.acknowledgeInterrupt()
        apic.selfIPI(0x61)
        let before = (0..<0x40).map { apic.r(UInt64($0) << 4) }
        apic.w(0x280, 0)  // latch (and so clear) the illegal-address errors of those reads
        for offset: UInt64 in [0x030, 0x090, 0x0A0, 0x0C0, 0x390] + (0..<24).map({ 0x100 + UInt64($0) * 0x10 }) {
            apic.w(offset, 0xFFFF_FFFF)
        }
        #expect(apic.latchedESR() == 0)  // read-only registers are not illegal addresses
        #expect((0..<0x40).map { apic.r(UInt64($0) << 4) } == before)
        #expect(apic.r(0x100 + 0x20) == 1)  // ISR2: vector 40H
        #expect(apic.r(0x200 + 0x30) == 2)  // IRR3: vector 61H
        // ID (bits 31:24), LDR (31:24) and DFR (31:28) are writable in xAPIC mode; DFR[27:0] read as ones.
        apic.w(0x20, 0xFFFF_FFFF); apic.w(0xD0, 0xFFFF_FFFF); apic.w(0xE0, 0x0000_0000)
        #expect(apic.r(0x20) == 0xFF00_0000 && apic.r(0xD0) == 0xFF00_0000 && apic.r(0xE0) == 0x0FFF_FFFF)
        // Divide configuration keeps bits 0, 1, 3; SVR keeps 0–9 and 12.
        apic.w(0x3E0, 0xFFFF_FFFF); apic.w(0xF0, 0xFFFF_FFFF)
        #expect(apic.r(0x3E0) == 0xB && apic.r(0xF0) == 0x13FF)
        // LVT writable bits: delivery status (12) and remote IRR (14) stay 0.
        apic.w(0x350, 0xFFFF_FFFF); apic.w(0x320, 0xFFFF_FFFF); apic.w(0x370, 0xFFFF_FFFF); apic.w(0x340, 0xFFFF_FFFF)
        #expect(apic.r(0x350) == 0x0001_A7FF && apic.r(0x320) == 0x0007_00FF)
        #expect(apic.r(0x370) == 0x0001_00FF && apic.r(0x340) == 0x0001_07FF)
    }
}

@Suite struct LocalAPICInterruptTests {
    @Test func nestedPrioritiesAndEOIOrder() {
        let apic = makeAPIC(ManualClock())
        apic.enable()
        apic.selfIPI(0x40)
        #expect(apic.interruptPending)
        #expect(apic.acknowledgeInterrupt() == 0x40)
        #expect(apic.state.isr == [0x40] && apic.r(0xA0) == 0x40)  // PPR = the in-service class
        apic.selfIPI(0x45)
        #expect(!apic.interruptPending)  // same class as the one in service
        apic.selfIPI(0x51)
        #expect(apic.interruptPending)
        #expect(apic.acknowledgeInterrupt() == 0x51)
        #expect(apic.state.isr == [0x40, 0x51] && apic.r(0xA0) == 0x50)
        apic.eoi()  // ends 0x51, the highest in service
        #expect(apic.state.isr == [0x40])
        #expect(!apic.interruptPending)  // 0x45 still blocked by 0x40
        apic.eoi()
        #expect(apic.state.isr == [] && apic.interruptPending)
        #expect(apic.acknowledgeInterrupt() == 0x45)
        apic.eoi()
        apic.eoi()  // nothing in service: no effect
        #expect(apic.state.isr == [] && apic.state.irr == [] && !apic.interruptPending)
        // Two requests for one vector: one in service and one in the IRR; further ones collapse.
        apic.selfIPI(0x70); _ = apic.acknowledgeInterrupt(); apic.selfIPI(0x70); apic.selfIPI(0x70)
        #expect(apic.state.isr == [0x70] && apic.state.irr == [0x70])
    }

    @Test func taskPriorityAndCR8() {
        let apic = makeAPIC(ManualClock())
        apic.enable(spurious: 0x3F)
        apic.w(0x80, 0x5A)
        #expect(apic.cr8 == 5 && apic.r(0xA0) == 0x5A)
        apic.selfIPI(0x55)
        #expect(!apic.interruptPending)  // class 5 is not above PPR class 5
        #expect(apic.r(0x90) == 0x5A)  // APR: the TPR (its class ≥ the request's)
        apic.selfIPI(0x61)
        #expect(apic.interruptPending)
        #expect(apic.r(0x90) == 0x60)  // APR: the request's class
        apic.cr8 = 7  // MOV CR8: TPR[7:4] = 7, TPR[3:0] = 0
        #expect(apic.tpr == 0x70 && apic.r(0x80) == 0x70 && apic.r(0xA0) == 0x70)
        #expect(!apic.interruptPending)
        // The INTA finds the request masked by the raised TPR: the spurious vector, ISR untouched.
        #expect(apic.acknowledgeInterrupt() == 0x3F)
        #expect(apic.state.isr == [] && apic.state.irr == [0x55, 0x61])
        apic.tpr = 0
        #expect(apic.acknowledgeInterrupt() == 0x61)
        // PPR with TPR below the in-service class: the class, sub-class 0.
        apic.tpr = 0x23
        #expect(apic.r(0xA0) == 0x60)
    }

    @Test func levelEOIBroadcastAndSuppression() {
        let apic = makeAPIC(ManualClock())
        var eois: [UInt8] = []
        apic.onEOI = { eois.append($0) }
        apic.enable()
        apic.acceptInterrupt(vector: 0x30, levelTriggered: true)
        apic.acceptInterrupt(vector: 0x31, levelTriggered: false)
        #expect(apic.state.tmr == [0x30])
        #expect(apic.acknowledgeInterrupt() == 0x31); apic.eoi()
        #expect(apic.acknowledgeInterrupt() == 0x30); apic.eoi()
        #expect(eois == [0x30])  // only the level-triggered vector is broadcast
        apic.enable(extra: 0x1000)  // SVR bit 12: suppress EOI broadcasts
        apic.acceptInterrupt(vector: 0x30, levelTriggered: true)
        _ = apic.acknowledgeInterrupt(); apic.eoi()
        #expect(eois == [0x30])
        // Without the feature, SVR bit 12 is reserved and broadcasts continue.
        let plain = makeAPIC(ManualClock(), features: [.x2APIC, .tscDeadline])
        var plainEOIs = 0
        plain.onEOI = { _ in plainEOIs += 1 }
        plain.enable(extra: 0x1000)
        #expect(plain.r(0xF0) == 0x1FF)
        plain.acceptInterrupt(vector: 0x30, levelTriggered: true)
        _ = plain.acknowledgeInterrupt(); plain.eoi()
        #expect(plainEOIs == 1)
    }

    @Test func errorStatusRegister() {
        let apic = makeAPIC(ManualClock())
        apic.enable()
        apic.w(0x370, 0xEE)  // LVT error, unmasked
        apic.w(0x300, 0x0004_0005)  // self IPI with illegal vector 5
        #expect(apic.state.irr == [0xEE])  // the error interrupt; vector 5 was not sent
        #expect(apic.r(0x280) == 0)  // not visible before an ESR write
        #expect(apic.latchedESR() == 0x20)  // Send Illegal Vector
        #expect(apic.latchedESR() == 0)
        apic.acceptInterrupt(vector: 0x0F, levelTriggered: false)
        apic.acceptInterrupt(vector: 0x10, levelTriggered: false)  // 16 is legal
        #expect(apic.latchedESR() == 0x40)  // Received Illegal Vector
        #expect(apic.state.irr == [0x10, 0xEE])
        // One error interrupt until the ESR write rearms it.
        #expect(apic.acknowledgeInterrupt() == 0xEE); apic.eoi()
        #expect(apic.acknowledgeInterrupt() == 0x10); apic.eoi()
        apic.selfIPI(1); apic.selfIPI(2)
        #expect(apic.state.irr == [0xEE])
        _ = apic.acknowledgeInterrupt(); apic.eoi()
        apic.selfIPI(3)
        #expect(apic.state.irr == [])  // not rearmed yet
        apic.w(0x280, 0)
        apic.selfIPI(3)
        #expect(apic.state.irr == [0xEE])
        // An LVT entry with an illegal vector: the timer fires, nothing is delivered, ESR bit 6.
        let clock = ManualClock()
        let b = makeAPIC(clock)
        b.enable(); b.w(0x320, 0x08); b.w(0x3E0, 0xB); b.w(0x380, 10)
        clock.advance(to: 1_000)
        #expect(b.state.irr == [] && b.latchedESR() == 0x40)
    }

    @Test func interruptCommandRegister() {
        let apic = makeAPIC(ManualClock(), id: 2)
        var nmis = 0, inits = 0, sipis: [UInt8] = [], undefined: [String] = []
        apic.raiseNMI = { nmis += 1 }
        apic.onINIT = { inits += 1 }
        apic.onSIPI = { sipis.append($0) }
        apic.onGuestError = { undefined.append($0) }
        apic.enable()
        // Physical destination: own ID, another ID (nobody, no error), broadcast.
        apic.w(0x310, 0x0200_0000); apic.w(0x300, 0x0000_4041)
        #expect(apic.state.irr == [0x41])
        #expect(apic.r(0x300) == 0x0000_4041 && apic.r(0x310) == 0x0200_0000)  // delivery status 0
        apic.w(0x310, 0x0500_0000); apic.w(0x300, 0x0000_4042)
        apic.w(0x310, 0xFF00_0000); apic.w(0x300, 0x0000_4043)
        #expect(apic.state.irr == [0x41, 0x43] && apic.latchedESR() == 0)
        // Shorthands: all excluding self reaches nobody; all including self reaches us.
        apic.w(0x300, 0x000C_4044); apic.w(0x300, 0x0008_4045)
        #expect(apic.state.irr == [0x41, 0x43, 0x45])
        // Logical destination, flat model: LDR bit 1.
        apic.w(0xD0, 0x0200_0000)
        apic.w(0x310, 0x0200_0000); apic.w(0x300, 0x0000_4846)
        apic.w(0x310, 0x0100_0000); apic.w(0x300, 0x0000_4847)
        #expect(apic.state.irr == [0x41, 0x43, 0x45, 0x46])
        // Cluster model (DFR[31:28] = 0): cluster 3, member bit 2.
        apic.w(0xE0, 0x0FFF_FFFF); apic.w(0xD0, 0x3400_0000)
        apic.w(0x310, 0x2400_0000); apic.w(0x300, 0x0000_4848)  // wrong cluster
        apic.w(0x310, 0x3600_0000); apic.w(0x300, 0x0000_4849)
        #expect(apic.state.irr == [0x41, 0x43, 0x45, 0x46, 0x49])
        // NMI, INIT, start-up to this APIC by physical ID.
        apic.w(0x310, 0x0200_0000)
        apic.w(0x300, 0x0000_4400)
        apic.w(0x300, 0x0000_4500)
        apic.w(0x300, 0x0000_8500)  // INIT level de-assert: nothing
        apic.w(0x300, 0x0000_4699)
        #expect(nmis == 1 && inits == 1 && sipis == [0x99])
        // …and to another APIC: nothing.
        apic.w(0x310, 0x0700_0000); apic.w(0x300, 0x0000_4400)
        #expect(nmis == 1)
        // NMI with the self shorthand is undefined (SDM Table 10-3): reported, not delivered.
        apic.w(0x300, 0x0004_4400)
        #expect(nmis == 1 && undefined.count == 1)
        // Level-triggered with level 0 is ignored; with level 1 it is edge.
        apic.w(0x300, 0x0004_804A); apic.w(0x300, 0x0004_C04B)
        #expect(apic.state.irr == [0x41, 0x43, 0x45, 0x46, 0x49, 0x4B] && apic.state.tmr == [])
    }

    @Test func softwareDisableMasksLVTs() {
        let apic = makeAPIC(ManualClock())
        apic.enable()
        apic.selfIPI(0x50)
        apic.w(0x320, 0x20); apic.w(0x350, 0x700); apic.w(0x370, 0x21)
        #expect(apic.r(0x320) == 0x20)
        apic.w(0xF0, 0xFF)  // software-disable
        #expect([0x2F0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370].allSatisfy { apic.r($0) & 0x1_0000 != 0 })
        apic.w(0x320, 0x20)
        #expect(apic.r(0x320) == 0x1_0020)  // the mask cannot be cleared
        apic.selfIPI(0x52)
        apic.acceptInterrupt(vector: 0x51, levelTriggered: false)
        #expect(apic.state.irr == [0x50])  // fixed interrupts (a self-IPI too) are not accepted
        #expect(apic.acknowledgeInterrupt() == 0x50)  // what the IRR holds is still delivered
        apic.enable()
        #expect(apic.r(0x320) == 0x1_0020)  // re-enabling leaves the masks set
    }

    @Test func lint0ExtINTAndPassThrough() {
        let apic = makeAPIC(ManualClock())
        var picPending = true
        apic.extINTPending = { picPending }
        apic.extINTVector = { picPending ? 0x20 : 0x27 }
        #expect(!apic.interruptPending)  // LINT0 masked after reset
        apic.enable()
        apic.w(0x350, 0x700)  // LINT0: ExtINT
        #expect(apic.interruptPending)
        apic.tpr = 0xF0  // ExtINT ignores the priorities
        #expect(apic.interruptPending && apic.acknowledgeInterrupt() == 0x20)
        #expect(apic.state.isr == [])
        picPending = false
        #expect(!apic.interruptPending)
        apic.w(0x350, 0x1_0700)
        picPending = true
        #expect(!apic.interruptPending)
        // Globally disabled: the 8259's INT is the CPU's INTR, LINT1 its NMI.
        var nmis = 0
        apic.raiseNMI = { nmis += 1 }
        #expect(apic.writeMSR(0x1B, 0xFEE0_0100))
        #expect(apic.mode == .disabled && apic.mmioBase == nil)
        #expect(apic.interruptPending && apic.acknowledgeInterrupt() == 0x20)
        apic.setLINT1(true); apic.setLINT1(false)
        #expect(nmis == 1)
    }

    @Test func lintPinsFixedLevelAndNMI() {
        let apic = makeAPIC(ManualClock())
        var nmis = 0
        apic.raiseNMI = { nmis += 1 }
        apic.enable()
        apic.w(0x360, 0x400)  // LINT1: NMI
        apic.setLINT1(true); apic.setLINT1(true); apic.setLINT1(false)
        #expect(nmis == 1)  // one rising edge
        apic.w(0x350, 0x8060)  // LINT0: fixed, level-triggered, active high, vector 60H
        apic.setLINT0(true)
        #expect(apic.state.irr == [0x60] && apic.state.tmr == [0x60])
        #expect(apic.r(0x350) & 0x4000 != 0)  // remote IRR
        #expect(apic.acknowledgeInterrupt() == 0x60)
        apic.setLINT0(true)
        #expect(apic.state.irr == [])  // held by remote IRR
        apic.eoi()
        #expect(apic.state.irr == [0x60])  // still asserted: accepted again after the EOI
        _ = apic.acknowledgeInterrupt()
        apic.setLINT0(false)
        apic.eoi()
        #expect(apic.state.irr == [] && apic.r(0x350) & 0x4000 == 0)
        // Active low, edge: the falling edge requests.
        apic.w(0x350, 0x2061)
        apic.setLINT0(true); apic.setLINT0(false)
        #expect(apic.state.irr == [0x61] && !apic.state.tmr.contains(0x61))
    }

    @Test func messagesFromTheIOAPICOrMSI() {
        let apic = makeAPIC(ManualClock(), id: 1)
        var nmis = 0, inits = 0, errors: [String] = []
        apic.raiseNMI = { nmis += 1 }
        apic.onINIT = { inits += 1 }
        apic.onGuestError = { errors.append($0) }
        var picVector: UInt8? = 0x28
        apic.extINTPending = { picVector != nil }
        apic.extINTVector = { defer { picVector = nil }; return picVector }
        // Software-disabled: fixed messages are refused; NMI and INIT still arrive (§10.4.7.2).
        #expect(!apic.receiveMessage(vector: 0x40, deliveryMode: 0, levelTriggered: false, destination: 1, logical: false))
        #expect(apic.receiveMessage(vector: 0, deliveryMode: 4, levelTriggered: false, destination: 1, logical: false))
        #expect(apic.receiveMessage(vector: 0, deliveryMode: 5, levelTriggered: false, destination: 0xFF, logical: false))
        #expect(nmis == 1 && inits == 1)
        apic.enable()
        #expect(apic.receiveMessage(vector: 0x40, deliveryMode: 1, levelTriggered: true, destination: 1, logical: false))
        #expect(!apic.receiveMessage(vector: 0x41, deliveryMode: 0, levelTriggered: false, destination: 2, logical: false))
        #expect(!apic.receiveMessage(vector: 0x0E, deliveryMode: 0, levelTriggered: false, destination: 1, logical: false))
        #expect(apic.state.irr == [0x40] && apic.state.tmr == [0x40] && apic.latchedESR() == 0x40)
        #expect(!apic.receiveMessage(vector: 0, deliveryMode: 2, levelTriggered: false, destination: 1, logical: false))
        #expect(errors.count == 1)  // SMI: reported, not delivered
        // ExtINT message (LINT0 masked): the next INTA goes to the 8259 and gets its vector.
        #expect(apic.receiveMessage(vector: 0, deliveryMode: 7, levelTriggered: false, destination: 1, logical: false))
        #expect(apic.interruptPending)
        #expect(apic.acknowledgeInterrupt() == 0x28)
        #expect(apic.acknowledgeInterrupt() == 0x40)  // then the APIC's own
        #expect(!apic.interruptPending)
    }

    @Test func initAndPowerOnReset() {
        let clock = ManualClock()
        let apic = makeAPIC(clock, id: 4)
        apic.enable()
        apic.w(0x20, 0x0500_0000); apic.w(0x80, 0x20); apic.w(0xD0, 0x0100_0000); apic.w(0x350, 0x700)
        apic.w(0x320, 0x2_0030); apic.w(0x380, 100)
        apic.selfIPI(0x50)
        #expect(apic.writeMSR(0x1B, 0xFEF0_0800))
        apic.initReset()
        #expect(apic.r(0x20) == 0x0500_0000)  // INIT keeps the APIC ID
        #expect(apic.r(0x80) == 0 && apic.r(0xD0) == 0 && apic.r(0xF0) == 0xFF && apic.r(0x350) == 0x1_0000)
        #expect(apic.state.irr == [] && apic.r(0x380) == 0 && apic.state.nextTimerEvent == nil)
        #expect(apic.readMSR(0x1B) == 0xFEF0_0900)  // IA32_APIC_BASE is not changed by INIT
        apic.reset()
        #expect(apic.r(0x20) == 0x0400_0000 && apic.readMSR(0x1B) == 0xFEE0_0900)
        // An application processor's APIC: BSP clear, and read-only.
        let ap = LocalAPIC(clock: clock, timerFrequency: 1, tscFrequency: 1, apicID: 1, bsp: false)
        #expect(ap.readMSR(0x1B) == 0xFEE0_0800)
        #expect(ap.writeMSR(0x1B, 0xFEE0_0900) && ap.readMSR(0x1B) == 0xFEE0_0800)
        ap.reset()
        #expect(ap.readMSR(0x1B) == 0xFEE0_0800)
    }
}

@Suite struct LocalAPICTimerTests {
    /// Records the virtual times at which the timer's vector is requested, acknowledging and ending
    /// each one so the next can be seen.
    private func record(_ apic: LocalAPIC, _ clock: ManualClock) -> () -> [UInt64] {
        final class Box { var times: [UInt64] = [] }
        let box = Box()
        apic.onOutputChange = { [unowned apic] in
            if apic.state.irr.contains(0x30) {
                box.times.append(clock.nanoseconds)
                _ = apic.acknowledgeInterrupt()
                apic.w(0xB0, 0)
            }
        }
        return { box.times }
    }

    @Test func oneShotCountsDownOnce() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        apic.enable()
        let times = record(apic, clock)
        apic.w(0x3E0, 0xB)  // divide by 1: 10 ns a tick
        apic.w(0x320, 0x30)  // one-shot
        clock.advance(to: 1_000)
        apic.w(0x380, 1000)
        clock.advance(to: 6_000)
        #expect(apic.r(0x390) == 500)
        #expect(apic.r(0x380) == 1000)
        clock.advance(to: 10_999)
        #expect(times().isEmpty)
        clock.advance(to: 11_000)
        #expect(times() == [11_000])
        clock.advance(to: 100_000)
        #expect(times() == [11_000] && apic.r(0x390) == 0 && apic.state.nextTimerEvent == nil)
    }

    @Test func periodicPeriodAndStop() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        apic.enable()
        let times = record(apic, clock)
        apic.w(0x3E0, 0x0)  // divide by 2: 20 ns a tick
        apic.w(0x320, 0x2_0030)  // periodic
        apic.w(0x380, 1000)  // 20 µs
        clock.advance(to: 1_000_000)
        #expect(times().count == 50)
        #expect(zip(times(), times().dropFirst()).allSatisfy { $1 - $0 == 20_000 })
        #expect(times().first == 20_000)
        clock.advance(to: 1_005_000)
        #expect(apic.r(0x390) == 750)
        apic.w(0x380, 0)  // initial count 0 stops the timer
        clock.advance(to: 2_000_000)
        #expect(times().count == 50 && apic.r(0x390) == 0 && apic.state.nextTimerEvent == nil)
    }

    @Test func everyDivideValue() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        let expected: [UInt32: UInt64] = [0x0: 2, 0x1: 4, 0x2: 8, 0x3: 16, 0x8: 32, 0x9: 64, 0xA: 128, 0xB: 1]
        for (config, divisor) in expected {
            apic.w(0x3E0, config)
            #expect(apic.state.divisor == divisor)
            apic.w(0x380, 100_000)
            clock.advance(to: clock.nanoseconds + 10 * divisor * 1000)  // 1000 ticks
            #expect(apic.r(0x390) == 99_000, "divide configuration \(config)")
        }
    }

    @Test func maskedTimerCountsButDoesNotInterrupt() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        apic.enable()
        let times = record(apic, clock)
        apic.w(0x3E0, 0xB)
        apic.w(0x320, 0x3_0030)  // periodic, masked
        apic.w(0x380, 100)  // 1 µs
        clock.advance(to: 10_500)
        #expect(times().isEmpty && apic.r(0x390) == 50)
        #expect(apic.state.nextTimerEvent == nil)
        apic.w(0x320, 0x2_0030)  // unmask: the count goes on
        clock.advance(to: 12_000)
        #expect(times() == [11_000, 12_000])
    }

    @Test func tscDeadline() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        apic.enable()
        let times = record(apic, clock)
        #expect(apic.readMSR(0x6E0) == 0)
        #expect(apic.writeMSR(0x6E0, 5000))  // one-shot mode: ignored
        #expect(apic.readMSR(0x6E0) == 0)
        apic.w(0x380, 1000)
        apic.w(0x320, 0x4_0030)  // TSC-deadline: the count stops
        #expect(apic.r(0x380) == 0 && apic.r(0x390) == 0)
        apic.w(0x380, 1000)
        #expect(apic.r(0x380) == 0)  // initial-count writes are ignored
        clock.advance(to: 1_000)  // TSC 2000
        #expect(apic.writeMSR(0x6E0, 22_000))  // 10 µs ahead
        #expect(apic.readMSR(0x6E0) == 22_000)
        clock.advance(to: 10_999)
        #expect(times().isEmpty)
        clock.advance(to: 11_000)
        #expect(times() == [11_000])
        #expect(apic.readMSR(0x6E0) == 0)  // disarmed and cleared
        // A deadline in the past fires at once; 0 disarms.
        #expect(apic.writeMSR(0x6E0, 1))
        #expect(times() == [11_000, 11_000] && apic.readMSR(0x6E0) == 0)
        #expect(apic.writeMSR(0x6E0, 100_000)); #expect(apic.writeMSR(0x6E0, 0))
        clock.advance(to: 100_000)
        #expect(times().count == 2)
        // Leaving TSC-deadline mode disarms the timer.
        #expect(apic.writeMSR(0x6E0, 300_000))
        apic.w(0x320, 0x30)
        clock.advance(to: 200_000)
        #expect(times().count == 2 && apic.readMSR(0x6E0) == 0)
        // Without the feature, the MSR is #GP and the timer-mode bit 18 is reserved.
        let old = makeAPIC(ManualClock(), features: [])
        #expect(old.readMSR(0x6E0) == nil && !old.writeMSR(0x6E0, 1))
        old.w(0x320, 0x4_0030)
        #expect(old.r(0x320) == 0x1_0030)
    }

    @Test func switchingOneShotToPeriodicKeepsTheCount() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        apic.enable()
        let times = record(apic, clock)
        apic.w(0x3E0, 0xB)
        apic.w(0x320, 0x30)
        apic.w(0x380, 1000)  // 10 µs
        clock.advance(to: 5_000)
        apic.w(0x320, 0x2_0030)  // periodic from here: the running count is not restarted
        #expect(apic.r(0x390) == 500)
        clock.advance(to: 30_000)
        #expect(times() == [10_000, 20_000, 30_000])
        // A divide change mid-count: the count goes on at the new rate.
        clock.advance(to: 35_000)
        apic.w(0x3E0, 0x0)  // ÷2: 20 ns a tick; 500 ticks left = 10 µs
        #expect(apic.r(0x390) == 500)
        clock.advance(to: 45_000)
        #expect(times() == [10_000, 20_000, 30_000, 45_000])
    }

    @Test func farDeadlinesDoNotWrapIntoThePast() {
        // A slow TSC (1 kHz) and timer clock (1 Hz): the largest deadline and count are beyond 2⁶⁴ ns.
        let clock = ManualClock()
        let apic = LocalAPIC(clock: clock, timerFrequency: 1, tscFrequency: 1000)
        apic.enable()
        let times = record(apic, clock)
        apic.w(0x320, 0x4_0030)
        clock.advance(to: 5_000_000)
        #expect(apic.writeMSR(0x6E0, .max))
        #expect(apic.state.nextTimerEvent == .max)
        clock.advance(to: 1_000_000_000)
        #expect(times().isEmpty && apic.readMSR(0x6E0) == .max)
        apic.w(0x320, 0x2_0030); apic.w(0x3E0, 0xA); apic.w(0x380, 0xFFFF_FFFF)  // ÷128, periodic
        #expect(apic.state.nextTimerEvent == .max)
        clock.advance(to: 2_000_000_000)
        #expect(times().isEmpty && apic.r(0x390) == 0xFFFF_FFFF)
    }
}

@Suite struct LocalAPICx2APICTests {
    @Test func enablingAndModeTransitions() {
        let apic = makeAPIC(ManualClock(), id: 0x23)
        #expect(apic.readMSR(0x1B) == 0xFEE0_0900)
        #expect(apic.mmioBase == 0xFEE0_0000)
        #expect(apic.readMSR(0x802) == nil)  // x2APIC registers: #GP in xAPIC mode
        #expect(!apic.writeMSR(0x808, 0))
        #expect(!apic.writeMSR(0x1B, 0xFEE0_0000 | 0x400))  // EN = 0, EXTD = 1: invalid
        #expect(!apic.writeMSR(0x1B, 0xFEE0_0B00))  // bit 9 reserved
        #expect(!apic.writeMSR(0x1B, 0x80_FEE0_0900))  // above MAXPHYADDR (39)
        apic.w(0x80, 0x40)
        #expect(apic.x2apicOn())
        #expect(apic.mode == .x2APIC && apic.mmioBase == nil)
        #expect(apic.readMSR(0x808) == 0x40)  // state kept across xAPIC → x2APIC
        #expect(apic.readMSR(0x802) == 0x23)
        #expect(apic.readMSR(0x80D) == 0x0002_0008)  // cluster 2, bit 3
        #expect(apic.readMSR(0x803) == 0x0106_0014)
        #expect(!apic.writeMSR(0x1B, 0xFEE0_0900))  // x2APIC → xAPIC: #GP
        #expect(apic.writeMSR(0x1B, 0xFEE0_0100))  // → disabled
        #expect(apic.mode == .disabled)
        #expect(!apic.writeMSR(0x1B, 0xFEE0_0D00))  // disabled → x2APIC: #GP
        #expect(apic.writeMSR(0x1B, 0xFED0_0800))  // → xAPIC at a new base; BSP bit is read-only
        #expect(apic.readMSR(0x1B) == 0xFED0_0900 && apic.mmioBase == 0xFED0_0000)
        #expect(apic.r(0x80) == 0 && apic.r(0xF0) == 0xFF)  // disabling reset the registers
        // Without x2APIC support EXTD is reserved.
        #expect(!makeAPIC(ManualClock(), features: []).writeMSR(0x1B, 0xFEE0_0D00))
    }

    @Test func msrAccessAndGeneralProtection() {
        let apic = makeAPIC(ManualClock(), id: 1)
        #expect(apic.x2apicOn())
        #expect(apic.writeMSR(0x80F, 0x1FF))
        // Absent in x2APIC mode: APR, RRD, DFR, ICR high, reserved indices; write-only EOI and SELF IPI.
        for msr: UInt32 in [0x800, 0x801, 0x809, 0x80C, 0x80E, 0x831, 0x80B, 0x83F, 0x83A, 0x840, 0x8FF] {
            #expect(apic.readMSR(msr) == nil, "RDMSR \(hex(msr))")
        }
        // Read-only registers and reserved bits.
        for (msr, v): (UInt32, UInt64) in [(0x802, 0), (0x803, 0), (0x80A, 0), (0x80D, 0), (0x810, 0), (0x820, 0),
                                           (0x839, 0), (0x808, 0x100), (0x808, 1 << 32), (0x80B, 1), (0x828, 1),
                                           (0x83E, 4), (0x83F, 0x100), (0x80F, 0x400), (0x832, 0x80000),
                                           (0x830, 1 << 13), (0x830, 1 << 20), (0x838, 1 << 32)] {
            #expect(!apic.writeMSR(msr, v), "WRMSR \(hex(msr)) \(hex(v))")
        }
        #expect(apic.readMSR(0x808) == 0 && apic.readMSR(0x83E) == 0 && apic.readMSR(0x80F) == 0x1FF)
        // SELF IPI, EOI, ESR, TPR through MSRs.
        #expect(apic.writeMSR(0x83F, 0x80))
        #expect(apic.readMSR(0x820 + 4) == 1)
        #expect(apic.acknowledgeInterrupt() == 0x80)
        #expect(apic.readMSR(0x810 + 4) == 1)
        #expect(apic.writeMSR(0x80B, 0))
        #expect(apic.readMSR(0x810 + 4) == 0)
        #expect(apic.writeMSR(0x83F, 0x0F))  // illegal vector: Send Illegal Vector
        #expect(apic.writeMSR(0x828, 0) && apic.readMSR(0x828) == 0x20)
        #expect(apic.writeMSR(0x808, 0x30) && apic.tpr == 0x30 && apic.readMSR(0x80A) == 0x30)
        // The ICR is one 64-bit register with a 32-bit destination.
        #expect(apic.writeMSR(0x830, 0x0000_0001_0000_0090))
        #expect(apic.readMSR(0x830) == 0x0000_0001_0000_0090)
        #expect(apic.state.irr == [0x90])
        #expect(apic.writeMSR(0x830, 0x0000_0100_0000_0091))  // x2APIC ID 100H: nobody
        #expect(apic.writeMSR(0x830, 0xFFFF_FFFF_0000_0092))  // broadcast
        #expect(apic.writeMSR(0x830, 0x0000_0002_0000_0893))  // logical: cluster 0, bit 1 (ID 1)
        #expect(apic.writeMSR(0x830, 0x0001_0002_0000_0894))  // logical: cluster 1: nobody
        #expect(apic.state.irr == [0x90, 0x92, 0x93])
        // LVT through MSRs: read-modify-write with read-only bits is accepted.
        #expect(apic.writeMSR(0x835, 0x8060))
        apic.setLINT0(true)
        let lint0 = apic.readMSR(0x835)!
        #expect(lint0 & 0x4000 != 0)
        #expect(apic.writeMSR(0x835, lint0 | 0x1_0000))
        #expect(apic.readMSR(0x835) == lint0 | 0x1_0000)
        // Timer through MSRs.
        #expect(apic.writeMSR(0x83E, 0xB) && apic.writeMSR(0x838, 1234))
        #expect(apic.readMSR(0x838) == 1234 && apic.readMSR(0x839) == 1234)
        // MMIO is not the APIC's in x2APIC mode.
        apic.w(0x80, 0x70)
        #expect(apic.tpr == 0x30 && apic.r(0x80) == 0)
        #expect(!LocalAPIC.handlesMSR(0x10) && LocalAPIC.handlesMSR(0x1B) && LocalAPIC.handlesMSR(0x6E0) && LocalAPIC.handlesMSR(0x8FF))
    }

    @Test func everyX2APICMSRAnswersOrFaults() {
        let apic = makeAPIC(ManualClock(), id: 7)
        #expect(apic.x2apicOn())
        let readable = (0x800...0x8FF).filter { apic.readMSR(UInt32($0)) != nil }.map { $0 - 0x800 }
        #expect(readable == [0x02, 0x03, 0x08, 0x0A, 0x0D, 0x0F] + Array(0x10...0x28) + [0x2F, 0x30]
                + Array(0x32...0x39) + [0x3E])
        // Writing 0 is accepted exactly by the writable registers (and EOI, ESR, SELF IPI).
        let writable = (0x800...0x8FF).filter { apic.writeMSR(UInt32($0), 0) }.map { $0 - 0x800 }
        #expect(writable == [0x08, 0x0B, 0x0F, 0x28, 0x2F, 0x30] + Array(0x32...0x38) + [0x3E, 0x3F])
        // The ICR and SELF IPI writes of vector 0 above were illegal sends.
        #expect(apic.writeMSR(0x828, 0) && apic.readMSR(0x828) == 0x20)
    }

    @Test func directedEOIThroughTheIOAPICRegister() {
        let apic = makeAPIC(ManualClock())
        let io = IOAPIC()
        connect(io, apic)
        #expect(apic.r(0x30) & 0x0100_0000 != 0)
        apic.enable(extra: 0x1000)  // suppress EOI broadcasts
        io.mmioWrite(offset: 0, size: 4, value: 0x10 + 2 * 10)
        io.mmioWrite(offset: 0x10, size: 4, value: 0x8033)
        io.setPin(10, true)
        #expect(apic.acknowledgeInterrupt() == 0x33)
        apic.eoi()
        #expect(apic.state.irr == [] && io.state.entries[10].remoteIRR)  // the EOI did not reach the I/O APIC
        io.mmioWrite(offset: 0x40, size: 4, value: 0x33)  // directed EOI
        #expect(apic.state.irr == [0x33])
    }
}

@Suite struct IOAPICTests {
    private func sel(_ io: IOAPIC, _ reg: UInt32) { io.mmioWrite(offset: 0, size: 4, value: UInt64(reg)) }
    private func read(_ io: IOAPIC, _ reg: UInt32) -> UInt32 { sel(io, reg); return UInt32(io.mmioRead(offset: 0x10, size: 4)) }
    private func write(_ io: IOAPIC, _ reg: UInt32, _ v: UInt32) { sel(io, reg); io.mmioWrite(offset: 0x10, size: 4, value: UInt64(v)) }

    @Test func registers() {
        let io = IOAPIC()
        #expect(read(io, 0x01) == 0x0017_0020)
        #expect(read(io, 0x00) == 0)
        write(io, 0x00, 0xFFFF_FFFF)
        #expect(read(io, 0x00) == 0x0F00_0000 && read(io, 0x02) == 0x0F00_0000)
        write(io, 0x01, 0); write(io, 0x02, 0)
        #expect(read(io, 0x01) == 0x0017_0020 && read(io, 0x02) == 0x0F00_0000)
        for pin in 0..<24 {
            #expect(read(io, 0x10 + 2 * UInt32(pin)) == 0x0001_0000 && read(io, 0x11 + 2 * UInt32(pin)) == 0)
        }
        // Unused indices read all ones; writes to them change nothing.
        for reg: UInt32 in [0x03, 0x0F, 0x40, 0xFF] {
            write(io, reg, 0)
            #expect(read(io, reg) == 0xFFFF_FFFF)
        }
        #expect(io.state.entries.allSatisfy { $0.raw == 0x1_0000 })
        // IOREGSEL keeps bits 7:0.
        sel(io, 0x1234)
        #expect(io.mmioRead(offset: 0, size: 4) == 0x34)
        // Writable bits: delivery status (12) and remote IRR (14) and bits 55:17 read 0.
        write(io, 0x12, 0xFFFF_FFFF); write(io, 0x13, 0xFFFF_FFFF)
        #expect(read(io, 0x12) == 0x0001_AFFF && read(io, 0x13) == 0xFF00_0000)
        #expect(io.state.entries[1].destination == 0xFF && io.state.entries[1].levelTriggered)
        // Byte reads of IOWIN; other offsets read 0.
        sel(io, 0x01)
        #expect(io.mmioRead(offset: 0x12, size: 1) == 0x17 && io.mmioRead(offset: 0x20, size: 4) == 0)
        var reports = 0
        io.onGuestError = { _ in reports += 1 }
        sel(io, 0x12); io.mmioWrite(offset: 0x10, size: 1, value: 0)
        #expect(read(io, 0x12) == 0x0001_AFFF && reports == 1)
    }

    @Test func edgeAndLevelDelivery() {
        let io = IOAPIC()
        var sent: [(UInt8, UInt8, Bool, UInt8, Bool)] = []
        var accept = true
        io.deliver = { v, m, l, d, log in sent.append((v, m, l, d, log)); return accept }
        write(io, 0x14, 0x30); write(io, 0x15, 0x0100_0000)  // pin 2: edge, vector 30H, to APIC 1
        io.setPin(2, true); io.setPin(2, true)
        #expect(sent.count == 1 && sent[0] == (0x30, 0, false, 1, false))
        io.setPin(2, false); io.setPin(2, true)
        #expect(sent.count == 2)
        // A masked edge is lost, not held.
        write(io, 0x14, 0x1_0030); io.setPin(2, false); io.setPin(2, true); write(io, 0x14, 0x30)
        #expect(sent.count == 2)
        // Level, active low, logical, lowest priority: sends while the pin is low and remote IRR clear.
        write(io, 0x22, 0xA931)  // pin 9
        #expect(sent.count == 3 && sent[2] == (0x31, 1, true, 0, true))  // the pin is low (idle): active
        #expect(io.state.entries[9].remoteIRR)
        io.setPin(9, false)
        #expect(sent.count == 3)
        io.eoi(0x32)  // another vector: nothing
        #expect(sent.count == 3 && io.state.entries[9].remoteIRR)
        io.eoi(0x31)
        #expect(sent.count == 4)  // still active: sent again
        io.setPin(9, true)
        io.eoi(0x31)
        #expect(sent.count == 4 && !io.state.entries[9].remoteIRR)
        // Not accepted by any APIC: remote IRR stays clear, so the EOI register has nothing to clear.
        accept = false
        io.setPin(9, false)
        #expect(sent.count == 5 && !io.state.entries[9].remoteIRR)
        accept = true
        // The EOI register at 40H.
        write(io, 0x22, 0x1_A931); write(io, 0x22, 0xA931)  // unmasking an active level pin sends
        #expect(sent.count == 6 && io.state.entries[9].remoteIRR)
        io.mmioWrite(offset: 0x40, size: 4, value: 0x31)
        #expect(sent.count == 7)
    }

    @Test func maskedLevelHolds() {
        let io = IOAPIC()
        var sent = 0
        io.deliver = { _, _, _, _, _ in sent += 1; return true }
        write(io, 0x10 + 2 * 11, 0x1_8041)  // pin 11: level, masked
        io.setPin(11, true)
        #expect(sent == 0)
        write(io, 0x10 + 2 * 11, 0x8041)
        #expect(sent == 1)
        io.setPin(11, false)
        write(io, 0x10 + 2 * 11, 0x1_8041); io.eoi(0x41); write(io, 0x10 + 2 * 11, 0x8041)
        #expect(sent == 1)
        io.setPin(30, true); io.setPin(-1, true)  // pins that do not exist
        #expect(sent == 1)
    }

    @Test func levelInterruptThroughTheLocalAPIC() {
        let clock = ManualClock()
        let apic = makeAPIC(clock)
        let io = IOAPIC()
        connect(io, apic)
        apic.enable()
        write(io, 0x10 + 2 * 4, 0x8024)  // pin 4 (COM1): level, vector 24H, APIC 0
        io.setPin(4, true)
        #expect(apic.state.irr == [0x24] && apic.state.tmr == [0x24])
        #expect(apic.acknowledgeInterrupt() == 0x24)
        apic.eoi()  // the EOI reaches the I/O APIC; the line is still up, so it comes again
        #expect(apic.state.irr == [0x24])
        _ = apic.acknowledgeInterrupt()
        io.setPin(4, false)
        apic.eoi()
        #expect(apic.state.irr == [] && !io.state.entries[4].remoteIRR)
        // Destination another APIC: not accepted, remote IRR stays clear.
        write(io, 0x11 + 2 * 4, 0x0500_0000)
        io.setPin(4, true)
        #expect(apic.state.irr == [] && !io.state.entries[4].remoteIRR)
    }
}
