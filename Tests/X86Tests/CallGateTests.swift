// Far CALL/JMP through call gates and the far RET back (SDM Vol. 2A "CALL" and "JMP" Operation,
// "RET" RETURN-TO-OUTER-PRIVILEGE-LEVEL; Vol. 3A §5.8.5 "Stack Switching", Figure 5-13, and
// §5.8.3.1 "IA-32e Mode Call Gates"). Task gates and TSSs (task switches): TaskSwitchTests.swift.

import Testing
@testable import X86

@Suite("Call gates")
struct CallGateTests {
    static let gateSel: UInt16 = 0x48

    /// An 8-byte legacy call gate (type 4 or C) at `gateSel`.
    func gate32(_ m: TestMachine, offset: UInt32, selector: UInt16, dpl: UInt8, params: UInt8, type: UInt8 = 0xC) {
        let lo = UInt64(offset & 0xFFFF) | UInt64(selector) << 16 | UInt64(params & 0x1F) << 32
            | UInt64(type) << 40 | UInt64(dpl) << 45 | 1 << 47 | UInt64(offset >> 16) << 48
        m.w64(Layout.gdt + UInt64(Self.gateSel), lo)
    }

    @Test func call32ToInnerLevelCopiesParametersAndReturns() {
        let m = TestMachine.protected32()
        let target = Layout.code + 0x100
        gate32(m, offset: UInt32(target), selector: Sel.code32, dpl: 3, params: 2)
        m.enterUser32()
        m.w32(Layout.userStack - 8, 0x1111_1111)      // param 0 (at ESP)
        m.w32(Layout.userStack - 4, 0x2222_2222)      // param 1
        m[.rsp] = Layout.userStack - 8
        m.load([0xCA, 0x08, 0x00], at: target)       // retf 8
        // call far 0x4B:0 (the offset is ignored: the gate supplies it)
        m.run([0x9A, 0, 0, 0, 0, UInt8(Self.gateSel | 3), 0x00, 0xF4], at: Layout.userCode, steps: 1)
        #expect(m.cpu.cpl == 0 && m.rip == target)
        #expect(m.cpu.segs[Seg.cs].selector == Sel.code32 && m.cpu.segs[Seg.ss].selector == Sel.data)
        let esp = Layout.rsp0Stack - 24
        #expect(m[.rsp] & 0xFFFF_FFFF == esp)
        #expect(UInt64(m.r32(esp)) == Layout.userCode + 7)              // EIP
        #expect(m.r32(esp + 4) == UInt32(Sel.userCode32 | 3))            // CS
        #expect(m.r32(esp + 8) == 0x1111_1111 && m.r32(esp + 12) == 0x2222_2222)   // parameters, same order
        #expect(UInt64(m.r32(esp + 16)) == Layout.userStack - 8)        // ESP
        #expect(m.r32(esp + 20) == UInt32(Sel.userData | 3))             // SS
        // RETF 8: back to CPL 3, the parameters popped from the caller's stack too.
        m.run(1)
        #expect(m.cpu.cpl == 3 && m.rip == Layout.userCode + 7)
        #expect(m[.rsp] & 0xFFFF_FFFF == Layout.userStack)
        #expect(m.cpu.segs[Seg.ss].selector == Sel.userData | 3)
    }

    @Test func gateChecks() {
        let m = TestMachine.protected32()
        gate32(m, offset: UInt32(Layout.code + 0x100), selector: Sel.code32, dpl: 0, params: 0)
        m.enterUser32()
        // Gate DPL 0 < CPL 3: #GP(gate selector).
        let stop = m.run([0x9A, 0, 0, 0, 0, UInt8(Self.gateSel | 3), 0x00], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.r32(m[.rsp] & 0xFFFF_FFFF) == UInt32(Self.gateSel))
        // A JMP through a gate to a more privileged nonconforming segment: #GP(code selector).
        let n = TestMachine.protected32()
        gate32(n, offset: UInt32(Layout.code + 0x100), selector: Sel.code32, dpl: 3, params: 0)
        n.enterUser32()
        let s2 = n.run([0xEA, 0, 0, 0, 0, UInt8(Self.gateSel | 3), 0x00], at: Layout.userCode, steps: 1)
        #expect(n.vector(s2) == 13)
        #expect(n.r32(n[.rsp] & 0xFFFF_FFFF) == UInt32(Sel.code32))
    }

    @Test func jmpAndSamePrivilegeCall() {
        let m = TestMachine.protected32()
        let target = Layout.code + 0x100
        gate32(m, offset: UInt32(target), selector: Sel.code32, dpl: 0, params: 3)
        m[.rsp] = Layout.stack
        m.run([0x9A, 0, 0, 0, 0, UInt8(Self.gateSel), 0x00], at: Layout.code, steps: 1)   // CPL 0 → 0: no stack switch
        #expect(m.rip == target && m[.rsp] == Layout.stack - 8)
        #expect(UInt64(m.r32(Layout.stack - 8)) == Layout.code + 7 && m.r32(Layout.stack - 4) == UInt32(Sel.code32))
        m.run([0xEA, 0, 0, 0, 0, UInt8(Self.gateSel), 0x00], at: Layout.code, steps: 1)   // JMP: nothing pushed
        #expect(m.rip == target && m[.rsp] == Layout.stack - 8)
    }

    @Test func call64ThroughA16ByteGate() {
        let m = TestMachine.long64()
        let target = Layout.code + 0x200
        // 64-bit call gate (type C, DPL 3) in two GDT slots.
        let lo = (target & 0xFFFF) | UInt64(Sel.code64) << 16 | UInt64(0xC) << 40 | UInt64(3) << 45 | 1 << 47
            | ((target >> 16) & 0xFFFF) << 48
        m.w64(Layout.gdt + UInt64(Self.gateSel), lo)
        m.w64(Layout.gdt + UInt64(Self.gateSel) + 8, target >> 32)
        m.enterUser64()
        let ptr = Layout.userStack + 0x100
        m.w64(ptr, 0); m.w16(ptr + 8, Self.gateSel | 3)
        m.load([0x48, 0xCB], at: target)                                  // retfq
        // call far qword [ptr] (REX.W FF /3, m16:64)
        m.run([0x48, 0xFF, 0x1C, 0x25] + le(UInt32(ptr)) + [0xF4], at: Layout.userCode, steps: 1)
        #expect(m.cpu.cpl == 0 && m.rip == target)
        #expect(m.cpu.segs[Seg.ss].selector == 0)                         // null SS, RPL = new CPL
        let rsp = Layout.rsp0Stack - 32
        #expect(m[.rsp] == rsp)
        #expect(m.r64(rsp) == Layout.userCode + 8 && m.r64(rsp + 8) == UInt64(Sel.userCode64 | 3))
        #expect(m.r64(rsp + 16) == Layout.userStack && m.r64(rsp + 24) == UInt64(Sel.userData | 3))
        m.run(1)
        #expect(m.cpu.cpl == 3 && m.rip == Layout.userCode + 8 && m[.rsp] == Layout.userStack)
        // A 16-bit/32-bit gate type in IA-32e mode: #GP(selector).
        m.w64(Layout.gdt + UInt64(Self.gateSel), (lo & ~(UInt64(0xF) << 40)) | UInt64(4) << 40)
        m.enterUser64()
        #expect(m.vector(m.run([0x48, 0xFF, 0x1C, 0x25] + le(UInt32(ptr)), at: Layout.userCode, steps: 1)) == 13)
    }
}
