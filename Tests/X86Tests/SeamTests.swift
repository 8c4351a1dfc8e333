// The seams the platform devices plug into (docs/DESIGN.md, "Seams"): memory-mapped devices,
// interrupt sources polled at block boundaries, the event queue in virtual time, and the
// guest-physical → host-physical step of the page walk.

import Testing
@testable import X86

/// A device that records every access; reads return `0xD0000000 | offset`.
final class RecordingDevice: MMIODevice {
    struct Access: Equatable { var write: Bool, offset: UInt64, size: Int, value: UInt64 }
    var log: [Access] = []
    func mmioRead(offset: UInt64, size: Int) -> UInt64 {
        let v = (0xD000_0000 | offset) & (size == 8 ? ~0 : (1 << (8 * UInt64(size))) - 1)
        log.append(Access(write: false, offset: offset, size: size, value: v))
        return v
    }
    func mmioWrite(offset: UInt64, size: Int, value: UInt64) {
        log.append(Access(write: true, offset: offset, size: size, value: value))
    }
}

/// An interrupt controller holding a queue of vectors to deliver (0xFF: spurious).
final class TestController: InterruptController {
    var vectors: [UInt8] = []
    var acknowledged: [UInt8] = []
    var interruptPending: Bool { !vectors.isEmpty }
    func acknowledge() -> UInt8 {
        let v = vectors.isEmpty ? 0xFF : vectors.removeFirst()
        acknowledged.append(v)
        return v
    }
}

@Suite struct MMIOTests {
    // mov eax, [0x200010] · mov [0x200014], ebx · mov rcx, [0x200018] · hlt
    static let code: [UInt8] = [0x8B, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00,
                                0x89, 0x1C, 0x25, 0x14, 0x00, 0x20, 0x00,
                                0x48, 0x8B, 0x0C, 0x25, 0x18, 0x00, 0x20, 0x00]

    /// A device over a RAM page (as a relocated local APIC hides RAM, SDM Vol. 3A §10.4.5): every
    /// access reaches it, also the second time (its page never enters the TLB), the RAM under it
    /// is untouched, and after unmapping the RAM is seen again.
    @Test func deviceOverRAMSeesEveryAccess() {
        let m = TestMachine.long64()
        m.w64(0x200010, 0x1111_1111_1111_1111)
        m.w64(0x200018, 0x2222_2222_2222_2222)
        let dev = RecordingDevice()
        #expect(m.cpu.mapMMIO(dev, base: 0x200000, size: 0x1000))
        #expect(!m.cpu.mapMMIO(RecordingDevice(), base: 0x200800, size: 0x1000))     // overlaps
        m[.rbx] = 0xCAFE_F00D
        for round in 0..<2 {
            m.runToHalt(MMIOTests.code)
            #expect(m[.rax] == 0xD000_0010, "round \(round)")
            #expect(m[.rcx] == 0xD000_0018, "round \(round)")
        }
        let once: [RecordingDevice.Access] = [
            .init(write: false, offset: 0x10, size: 4, value: 0xD000_0010),
            .init(write: true, offset: 0x14, size: 4, value: 0xCAFE_F00D),
            .init(write: false, offset: 0x18, size: 8, value: 0xD000_0018)]
        #expect(dev.log == once + once)
        #expect(m.r64(0x200010) == 0x1111_1111_1111_1111)
        #expect(m.r32(0x200014) == 0x1111_1111)               // the write went to the device only
        // The debugger never reads device registers (side effects): the readable prefix stops there.
        #expect(m.cpu.debugRead(linear: 0x1FFFFE, count: 4).count == 2)
        m.cpu.unmapMMIO(dev)
        m.runToHalt(MMIOTests.code)
        #expect(m[.rax] == 0x1111_1111)
        #expect(m[.rcx] == 0x2222_2222_2222_2222)
        #expect(dev.log.count == 6)
    }

    /// An access that straddles the region's end: the device gets its bytes one by one, RAM the rest.
    @Test func accessStraddlingTheRegionIsSplit() {
        let m = TestMachine.long64()
        let dev = RecordingDevice()
        m.cpu.mapMMIO(dev, base: 0x200000, size: 0x12)
        m.w64(0x200010, 0x8877_6655_4433_2211)
        m.runToHalt([0x48, 0x8B, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00])   // mov rax, [0x200010]
        #expect(m[.rax] == 0x8877_6655_4433_1110)
        #expect(dev.log.map(\.offset) == [0x10, 0x11])
    }

    /// Above RAM, where a PC's devices sit (I/O APIC at 0xFEC00000), with paging off.
    @Test func deviceAboveRAMInProtectedMode() {
        let m = TestMachine.protected32()
        let dev = RecordingDevice()
        m.cpu.mapMMIO(dev, base: 0xFEC0_0000, size: 0x1000)
        // mov dword [0xFEC00000], 0x12 · mov eax, [0xFEC00010]
        m.runToHalt([0xC7, 0x05, 0x00, 0x00, 0xC0, 0xFE, 0x12, 0x00, 0x00, 0x00,
                     0xA1, 0x10, 0x00, 0xC0, 0xFE])
        #expect(dev.log == [.init(write: true, offset: 0, size: 4, value: 0x12),
                            .init(write: false, offset: 0x10, size: 4, value: 0xD000_0010)])
        #expect(m[.rax] == 0xD000_0010)
    }

    /// Executing from a device page is not modeled: the machine stops and says so.
    @Test func fetchFromDevicePageStops() {
        let m = TestMachine.long64()
        m.cpu.mapMMIO(RecordingDevice(), base: 0x200000, size: 0x1000)
        m.rip = 0x200000
        let s = m.cpu.run(budget: 10)
        guard case let .unimplemented(what, _, rip, _) = s else { Issue.record("stopped with \(s)"); return }
        #expect(what.contains("memory-mapped device"))
        #expect(rip == 0x200000)
    }
}

/// Guest-physical addresses moved by a test translation: GPA page `from` is host page `to`.
final class RemapTranslation: GuestPhysicalTranslation {
    var remap: [UInt64: UInt64] = [:]
    var faultPage: UInt64? = nil
    var log: [(UInt64, GuestPhysicalAccess)] = []
    func hostPhysical(_ gpa: UInt64, access: GuestPhysicalAccess, linear: UInt64, sideEffects: Bool, cpu: CPU) throws(Fault) -> UInt64 {
        if sideEffects { log.append((gpa, access)) }
        if gpa & ~0xFFF == faultPage { throw Fault(vector: 20) }       // as an EPT-violation #VE would
        if let to = remap[gpa & ~0xFFF] { return to | (gpa & 0xFFF) }
        return gpa
    }
}

@Suite struct GuestPhysicalStepTests {
    /// Every paging-structure entry the walk reads or updates, and the final address, go through
    /// the second step: the PT page (GPA 0x4000) lives at host 0xA000 with a different entry for
    /// linear 0x21000 (→ GPA 0x25000), and GPA 0x25000 is host 0x26000.
    @Test func walkAndFinalAddressAreTranslated() {
        let m = TestMachine.long64()
        m.mem.write(m.bytes(Layout.pt, 0x1000), at: 0xA000)
        m.w64(0xA000 + 0x21 * 8, 0x25000 | 7)
        m.w64(0x21000, 0xAAAA); m.w64(0x25000, 0xBBBB); m.w64(0x26000, 0xCCCC)
        let t = RemapTranslation()
        t.remap = [Layout.pt: 0xA000, 0x25000: 0x26000]
        m.cpu.secondLevel = t
        m.runToHalt([0x48, 0x8B, 0x04, 0x25, 0x00, 0x10, 0x02, 0x00])    // mov rax, [0x21000]
        #expect(m[.rax] == 0xCCCC)
        #expect(t.log.contains { $0.0 == Layout.pt + 0x21 * 8 && $0.1 == .pagingRead })
        #expect(t.log.contains { $0.0 == Layout.pt + 0x21 * 8 && $0.1 == .pagingWrite })   // the accessed flag
        #expect(t.log.contains { $0.0 == 0x25000 && $0.1 == .read })
        #expect(m.r64(0xA000 + 0x21 * 8) & 0x20 != 0)          // A set in the host page of the PT
        #expect(m.r64(Layout.pt + 0x21 * 8) & 0x20 == 0)       // not in the GPA-identical page
        // The debugger's translation takes the same two steps, without side effects.
        let logged = t.log.count
        #expect(m.cpu.debugTranslate(0x21008) == 0x26008)
        #expect(t.log.count == logged)
        // Removing the translation drops the cached combined translation.
        m.cpu.secondLevel = nil
        m.runToHalt([0x48, 0x8B, 0x04, 0x25, 0x00, 0x10, 0x02, 0x00])
        #expect(m[.rax] == 0xAAAA)
    }

    /// A fault raised by the second step is raised by the access (EPT: a VM exit or #VE).
    @Test func secondStepFaultIsRaised() {
        let m = TestMachine.long64()
        let t = RemapTranslation()
        t.faultPage = 0x21000
        m.cpu.secondLevel = t
        let s = m.run([0x48, 0x8B, 0x04, 0x25, 0x00, 0x10, 0x02, 0x00, 0xF4], steps: 10)
        m.expectException(s, vector: 20, rip: Layout.code)
    }
}

@Suite struct EventQueueTests {
    @Test func ordersByTimeThenScheduling() {
        var q = EventQueue()
        var order: [String] = []
        _ = q.schedule(at: 30) { order.append("c") }
        let b = q.schedule(at: 10) { order.append("a") }
        _ = q.schedule(at: 10) { order.append("a2") }
        _ = q.schedule(at: 20) { order.append("b") }
        #expect(q.nextTime == 10)
        let cancelled = q.cancel(b), again = q.cancel(b)
        #expect(cancelled && !again)
        let early = q.popDue(9)
        #expect(early == nil)
        while let a = q.popDue(25) { a() }
        #expect(order == ["a2", "b"])
        #expect(q.nextTime == 30)
        q.popDue(30)?()
        #expect(order == ["a2", "b", "c"])
        #expect(q.isEmpty && q.nextTime == .max)
    }

    /// An event fires exactly at its virtual time, in the middle of a block, and the budget is
    /// still counted exactly.
    @Test func eventFiresAtItsInstruction() {
        let m = TestMachine.long64()
        m.load([UInt8](repeating: 0x90, count: 40) + [0xF4])
        var seen: [UInt64] = []
        m.cpu.schedule(at: 7) { seen.append(m.cpu.instructions) }
        m.cpu.schedule(at: 23) { seen.append(m.cpu.instructions) }
        m.rip = Layout.code
        #expect(m.cpu.run(budget: 30) == .budget)
        #expect(seen == [7, 23])
        #expect(m.cpu.instructions == 30)
        #expect(m.rip == Layout.code + 30)
    }
}

@Suite struct InterruptTests {
    /// IF = 1: a pending interrupt is taken at the first boundary, through the IDT, with the
    /// controller acknowledged once.
    @Test func pendingInterruptIsDelivered() {
        let m = TestMachine.long64()
        let ctl = TestController()
        ctl.vectors = [0x40]
        m.cpu.interruptController = ctl
        m.cpu.rflags |= RFLAGS.if
        m.cpu.interruptRequested()
        let s = m.run([0x90, 0x90, 0xF4], steps: 10)
        m.expectException(s, vector: 0x40, rip: Layout.code)
        #expect(ctl.acknowledged == [0x40])
        #expect(m.frame64(errorCode: false).rflags & RFLAGS.if != 0)
    }

    /// Two interrupts pending: the second is taken as soon as the first handler's IRETQ sets IF
    /// again, at the same boundary (the controller does not signal a change in between).
    @Test func secondPendingInterruptAfterIRET() {
        let m = TestMachine.long64()
        let ctl = TestController()
        ctl.vectors = [0x40, 0x41]
        m.cpu.interruptController = ctl
        m.load([0x48, 0xCF], at: m.handlerAddress(0x40))            // iretq
        m.cpu.rflags |= RFLAGS.if
        m.cpu.interruptRequested()
        let s = m.run([0x90, 0x90, 0xF4], steps: 10)
        m.expectException(s, vector: 0x41, rip: Layout.code)
        #expect(ctl.acknowledged == [0x40, 0x41])
    }

    /// IF = 0 holds the interrupt; STI enables it only after the next instruction (Vol. 2B "STI").
    @Test func stiShadowDelaysByOneInstruction() {
        let m = TestMachine.long64()
        let ctl = TestController()
        ctl.vectors = [0x41]
        m.cpu.interruptController = ctl
        m.cpu.interruptRequested()
        // mov eax, 1 · sti · mov ebx, 2 · mov ecx, 3 · hlt
        let code: [UInt8] = [0xB8, 1, 0, 0, 0, 0xFB, 0xBB, 2, 0, 0, 0, 0xB9, 3, 0, 0, 0, 0xF4]
        let s = m.run(code, steps: 20)
        m.expectException(s, vector: 0x41, rip: Layout.code + 11)
        #expect(m[.rax] == 1 && m[.rbx] == 2 && m[.rcx] == 0)
    }

    /// An NMI raised (by a timer event) right after MOV SS waits one instruction (§6.8.3), and
    /// is taken before a pending maskable interrupt (§6.9); NMIs are then blocked until IRET.
    @Test func nmiAfterMovSSAndBeforeINTR() {
        let m = TestMachine.long64()
        let ctl = TestController()
        m.cpu.interruptController = ctl
        m.cpu.rflags |= RFLAGS.if
        m[.rax] = UInt64(Sel.data)
        m.cpu.schedule(at: 1) { m.cpu.raiseNMI(); ctl.vectors = [0x42]; m.cpu.interruptRequested() }
        // mov ss, ax · nop · nop · hlt
        let s = m.run([0x8E, 0xD0, 0x90, 0x90, 0xF4], steps: 20)
        m.expectException(s, vector: 2, rip: Layout.code + 3)
        #expect(ctl.acknowledged.isEmpty)
        #expect(m.cpu.nmiBlocked)
        // A second NMI while blocked is held; the pending INTR waits for IF (cleared by the gate).
        m.cpu.raiseNMI()
        #expect(m.run([0x90, 0xF4], at: 0x11000, steps: 10) == .halted(rip: 0x11001, interruptsEnabled: false))
        #expect(m.cpu.nmiPending)
    }

    /// HLT with interrupts enabled waits in virtual time for the next event, whose interrupt
    /// wakes it; the frame's RIP is the instruction after HLT.
    @Test func haltSkipsToTheNextEvent() {
        let m = TestMachine.long64()
        let ctl = TestController()
        m.cpu.interruptController = ctl
        m.cpu.schedule(at: 1000) { ctl.vectors = [0x43]; m.cpu.interruptRequested() }
        let s = m.run([0xFB, 0xF4, 0x90, 0xF4], steps: 20)      // sti · hlt · nop · hlt
        m.expectException(s, vector: 0x43, rip: Layout.code + 2)
        #expect(m.cpu.instructions == 3)                       // sti, hlt, the handler's hlt
        #expect(m.cpu.virtualTime == 1001)
    }
}
