// Unimplemented instructions stop the run with a report; self-modifying code is seen; port I/O
// reaches the PortIO device.

import Testing
@testable import X86

@Suite("Unimplemented instructions")
struct UnimplementedTests {
    /// docs/DESIGN.md, "Faults are values; stops are reports": an instruction the core does not implement stops the
    /// machine with its bytes, address and mode — never a crash, never a silent wrong result.
    /// RIP stays at the instruction and nothing else changes.
    ///
    /// - MOV DR7 with R/W0 = 10B (L0 set) while CR4.DE = 0: the meaning is undefined (SDM Vol. 3A
    ///   §17.2.4 "Debug Control Register (DR7)"), the core says so rather than pick one.
    /// - WRMSR IA32_APIC_BASE (1BH) setting EXTD (bit 10): x2APIC is not modelled.
    /// Registers: RAX, RCX, RDX as given.
    @Test(arguments: [
        ("mov dr7, rax with R/W0 = 10B and CR4.DE = 0", [UInt8]([0x0F, 0x23, 0xF8]), [UInt64]([0x0002_0001, 0, 0])),
        ("wrmsr IA32_APIC_BASE with x2APIC enable", [0x0F, 0x30], [0xFEE0_0C00, 0x1B, 0]),
    ])
    func stopsWithReport(_ name: String, _ code: [UInt8], _ raxRcxRdx: [UInt64]) {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = raxRcxRdx[0]; m[.rcx] = raxRcxRdx[1]; m[.rdx] = raxRcxRdx[2]
        let at = Layout.code + 0x40
        // Two instructions that do run first, so the stop happens mid-stream.
        m.load([0x48, 0xFF, 0xC3, 0x48, 0xFF, 0xC3] + code + [0xF4], at: at)
        m.rip = at
        m[.rbx] = 0
        let before = (0..<16).map { m.cpu.regs[$0] }
        let stop = m.cpu.run(budget: 10)
        guard case let .unimplemented(what, bytes, rip, mode) = stop else {
            Issue.record("\(name): expected .unimplemented, got \(stop)"); return
        }
        #expect(rip == at + 6, "\(name)")
        #expect(Array(bytes.prefix(code.count)) == code, "\(name): bytes \(bytes)")
        #expect(mode.contains("64-bit"), "\(name): mode \(mode)")
        #expect(!what.isEmpty)
        #expect(m.rip == at + 6)
        #expect(m[.rbx] == before[Reg.rbx] + 2)
        #expect((0..<16).allSatisfy { $0 == Reg.rbx || m.cpu.regs[$0] == before[$0] })
        #expect(stop.description.contains(hex(at + 6)))
    }

    /// In 32-bit protected mode the report names that mode (MOV DR7, EAX as above).
    @Test func reportNames32BitMode() {
        let m = TestMachine.protected32()
        m[.rax] = 0x0002_0001
        m.load([0x0F, 0x23, 0xF8])
        m.rip = Layout.code
        let stop = m.cpu.run(budget: 5)
        guard case let .unimplemented(_, bytes, rip, mode) = stop else {
            Issue.record("expected .unimplemented, got \(stop)"); return
        }
        #expect(rip == Layout.code && bytes.starts(with: [0x0F, 0x23, 0xF8]))
        #expect(mode.contains("protected mode") && mode.contains("32-bit"))
    }
}

@Suite("Self-modifying code")
struct SelfModifyingCodeTests {
    /// SDM Vol. 3A §11.6 "Self-Modifying Code": "A write to a memory location in a code segment
    /// that is currently cached in the processor causes the associated cache line (or lines) to
    /// be invalidated … If the write affects a prefetched instruction, the prefetch queue is
    /// invalidated." Each loop iteration runs MOV EAX, imm32 and then increments that immediate
    /// in memory; the next iteration must see the new immediate: EBX = 1 + 2 + 3 = 6 (a stale
    /// decode would give 3).
    ///     xor ebx,ebx / mov ecx,3 / L: mov eax,1 / add ebx,eax / inc byte [rip−12] (the imm) / loop L / hlt
    @Test func loopWithLOOP() {
        let m = TestMachine.long64(mib: 2)
        m.runToHalt([0x31, 0xDB, 0xB9, 0x03, 0x00, 0x00, 0x00,
                     0xB8, 0x01, 0x00, 0x00, 0x00,
                     0x01, 0xC3,
                     0xFE, 0x05, 0xF4, 0xFF, 0xFF, 0xFF,
                     0xE2, 0xF1])
        #expect(m[.rbx] == 6)
        #expect(m.r8(Layout.code + 8) == 4)
    }

    /// The same with DEC/JNZ, a backward conditional branch the core follows when it decodes a
    /// block (a trace through the loop body), so the modified instruction may already be decoded
    /// further along the same block.
    @Test func loopWithJNZ() {
        let m = TestMachine.long64(mib: 2)
        m.runToHalt([0x31, 0xDB, 0xB9, 0x03, 0x00, 0x00, 0x00,
                     0xB8, 0x01, 0x00, 0x00, 0x00,
                     0x01, 0xC3,
                     0xFE, 0x05, 0xF4, 0xFF, 0xFF, 0xFF,
                     0xFF, 0xC9, 0x75, 0xEF])
        // SDM Vol. 3A §11.6: "If the write affects a prefetched instruction, the prefetch queue is
        // invalidated" — a store into decoded code ends the block after the storing instruction.
        #expect(m[.rbx] == 6)
    }

    /// A store into the very next instruction (already fetched and decoded as part of the same
    /// block): mov byte [rip+1], 7 (C6 05 01 00 00 00 07) rewrites the immediate of the following
    /// mov eax,1 — which must then load 7.
    @Test func storeIntoNextInstruction() {
        let m = TestMachine.long64(mib: 2)
        m.runToHalt([0xC6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x07,
                     0xB8, 0x01, 0x00, 0x00, 0x00])
        #expect(m[.rax] == 7)
    }

    /// Code rewritten through a different linear address (an alias of the same physical page)
    /// is noticed too: the check is by physical address.
    @Test func storeThroughAliasMapping() {
        let m = TestMachine.long64(mib: 4)
        m.w64(Layout.pd + 2 * 8, 0x0 | 0x87)       // linear 4 MiB + x → physical x
        m.cpu.flushDecodedBlocks()
        // f: mov eax, 1; ret — on the next page (so no block of the caller contains it).
        // Main: call f; add ebx,eax; mov byte [rsi], 9; call f; add ebx,eax; hlt.
        let f = Layout.code + 0x1000
        m.load([0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3], at: f)
        m[.rsi] = 0x40_0000 + f + 1
        m[.rbx] = 0
        // call f (E8 rel32); add ebx,eax; mov byte [rsi],9 (C6 06 09); call f; add ebx,eax
        let call1: [UInt8] = [0xE8] + le(Int32(f) - Int32(Layout.code + 5))
        let call2: [UInt8] = [0xE8] + le(Int32(f) - Int32(Layout.code + 15))
        m.runToHalt(call1 + [0x01, 0xC3, 0xC6, 0x06, 0x09] + call2 + [0x01, 0xC3])
        #expect(m[.rbx] == 1 + 9)
    }

    /// The debugger path (CPU.debugWrite) also invalidates decoded code.
    @Test func debugWriteInvalidates() {
        let m = TestMachine.long64(mib: 2)
        m.load([0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4])
        m.rip = Layout.code
        _ = m.cpu.run(budget: 10)
        #expect(m[.rax] == 1)
        #expect(m.cpu.debugWrite(linear: Layout.code + 1, bytes: [0x05]) == 1)
        m.rip = Layout.code
        _ = m.cpu.run(budget: 10)
        #expect(m[.rax] == 5)
    }
}

@Suite("Port I/O")
struct PortIOTests {
    /// OUT/IN reach the PortIO device with the right port, size and value (SDM Vol. 2 "OUT",
    /// "IN"); at CPL 0 no permission check applies.
    @Test func outAndIn() {
        let m = TestMachine.long64(mib: 2)
        m[.rax] = 0x1234_5678_9ABC_DEF0; m[.rdx] = 0x3F8
        // out dx,al (EE); out 0x80,eax (E7 80); out dx,ax (66 EF)
        #expect(m.run([0xEE, 0xE7, 0x80, 0x66, 0xEF], steps: 3) == .budget)
        #expect(m.io.writes == [.init(port: 0x3F8, size: 1, value: 0xF0),
                                .init(port: 0x80, size: 4, value: 0x9ABC_DEF0),
                                .init(port: 0x3F8, size: 2, value: 0xDEF0)])
        // in al,dx (EC): AL only; in eax,0x60 (E5 60): zero-extends into RAX.
        m.io.readValue = 0xAABB_CCDD
        #expect(m.run([0xEC], steps: 1) == .budget)
        #expect(m[.rax] == 0x1234_5678_9ABC_DEDD)
        #expect(m.run([0xE5, 0x60], steps: 1) == .budget)
        #expect(m[.rax] == 0xAABB_CCDD)
        #expect(m.io.reads.map(\.port) == [0x3F8, 0x60])
    }

    /// REP OUTSB writes each byte in order.
    @Test func repOutsb() {
        let m = TestMachine.long64(mib: 2)
        m.mem.write(Array("hi!".utf8), at: Layout.data)
        m[.rsi] = Layout.data; m[.rcx] = 3; m[.rdx] = 0xE9
        #expect(m.run([0xF3, 0x6E], steps: 1) == .budget)
        #expect(m.io.writes.map(\.value) == [0x68, 0x69, 0x21])
        #expect(m[.rsi] == Layout.data + 3 && m[.rcx] == 0)
    }

    /// A device asking to stop (the debug-exit port) ends the run after the OUT completes.
    @Test func deviceRequestStops() {
        let m = TestMachine.long64(mib: 2)
        m.io.stopPort = 0xF4
        m[.rax] = 0x31
        // out 0xf4,al (E6 F4); nop
        let stop = m.run([0xE6, 0xF4, 0x90], steps: 5)
        #expect(stop == .deviceRequest)
        #expect(m.rip == Layout.code + 2)
    }

    /// At CPL 3 with IOPL 0, and no I/O permission bitmap in the TSS (its base beyond the
    /// limit): #GP(0) (SDM Vol. 1 §19.5.2 "I/O Permission Bit Map").
    @Test func ioPermissionAtCPL3() {
        let m = TestMachine.long64(mib: 2)
        m.enterUser64()
        m[.rdx] = 0x3F8
        let stop = m.run([0xEE], at: Layout.userCode, steps: 1)
        #expect(m.vector(stop) == 13)
        #expect(m.frame64(errorCode: true).error == 0)
        #expect(m.io.writes.isEmpty)
        // With IOPL 3 the same OUT is allowed.
        m.enterUser64()
        m.cpu.rflags = 0x2 | RFLAGS.iopl
        #expect(m.run([0xEE], at: Layout.userCode, steps: 1) == .budget)
        #expect(m.io.writes.count == 1)
    }
}
