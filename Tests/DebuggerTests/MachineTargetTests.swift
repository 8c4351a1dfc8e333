// The adapter with an in-process Machine: registers, memory, breakpoints, watchpoints, single
// steps, interrupts, exits and fatal stops, monitor commands — and the packets a GDBSession
// makes of them.
import Debugger
import Foundation
import GDBRemote
import Machine
import Testing
import X86

@Suite struct MachineTargetTests {
    @Test func registersRoundTrip() throws {
        let m = makeMachine(code: I.nop)
        let t = MachineTarget(machine: m)
        var f = GDBRegisterFile()
        let gprNames = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + (8...15).map { "r\($0)" }
        for (i, n) in gprNames.enumerated() { f.set(n, 0x1111_0000_0000_0000 | UInt64(i + 1)) }
        f.set("rip", 0x1234)
        f.set("eflags", 0x246)
        f.set("cr2", 0xdead_b000)
        f.set("cr8", 3)
        f.set("fs_base", 0x7000_0000)
        f.set("gs_base", 0x8000_0000)
        f.set("k_gs_base", 0xffff_8000_0000_0000)
        f.set("dr0", 0x4000)
        f.set("dr7", 0x401)
        f.set("idtr_base", 0x600)
        f.set("idtr_limit", 0xFF)
        try t.writeRegisters(vmm, f)

        // gdb's order (rax rbx rcx rdx rsi rdi rbp rsp) is not the CPU's (rax rcx rdx rbx rsp rbp rsi rdi).
        #expect(m.cpu.regs[Reg.rbx] == 0x1111_0000_0000_0002)
        #expect(m.cpu.regs[Reg.rcx] == 0x1111_0000_0000_0003)
        #expect(m.cpu.regs[Reg.rsp] == 0x1111_0000_0000_0008)
        #expect(m.cpu.regs[15] == 0x1111_0000_0000_0010)
        #expect(m.cpu.rip == 0x1234)
        #expect(m.cpu.rflags == 0x246)
        #expect(m.cpu.cr2 == 0xdead_b000 && m.cpu.cr8 == 3)
        #expect(m.cpu.segs[Seg.fs].base == 0x7000_0000 && m.cpu.segs[Seg.gs].base == 0x8000_0000)
        #expect(m.cpu.msrs.kernelGSBase == 0xffff_8000_0000_0000)
        #expect(m.cpu.dr.0 == 0x4000 && m.cpu.dr7 == 0x401)
        #expect(m.cpu.idtrBase == 0x600 && m.cpu.idtrLimit == 0xFF)

        let back = try t.readRegisters(vmm)
        for (i, n) in gprNames.enumerated() { #expect(back.value(n) == 0x1111_0000_0000_0000 | UInt64(i + 1), "\(n)") }
        #expect(back.value("rip") == 0x1234)
        #expect(back.value("cr0") == CR0.pe | CR0.et | CR0.pg)
        #expect(back.value("cr3") == 0x10000)
        #expect(back.value("cs") == 0x08 && back.value("ds") == 0x10)
        #expect(back.value("gdtr_base") == 0x500 && back.value("gdtr_limit") == 0x1F)
        // x87 and SSE at reset (FCW 037FH, all tags empty, MXCSR 1F80H); VMX off, no current VMCS.
        #expect(back.value("st0") == 0 && back.value("fctrl") == 0x37F && back.value("ftag") == 0xFFFF)
        #expect(back.value("xmm0") == 0 && back.value("mxcsr") == 0x1F80)
        #expect(back.value("vmx_mode") == 0)
        #expect(back.value("vmcs_ptr") == ~0)
        #expect(back.value("exit_reason") == nil)
        // Every register of the layout is either a value or unavailable; the g packet has the full length.
        #expect(back.gPacket.count == GDBRegisterLayout.x86_64.gPacketLength)
    }

    @Test func registerWritesRefuseWhatDoesNotExistAndLoadSegments() throws {
        let m = makeMachine(code: I.nop)
        let t = MachineTarget(machine: m)
        // ST(i) is relative to TOP; ftag 11B marks empty registers.
        var x = GDBRegisterFile()
        x.set("fstat", 6 << 11)                           // TOP = 6
        x.set("ftag", 0xFFFF & ~(3 << 12))                // R6 not empty
        x[GDBRegisterLayout.x86_64.regnum("st0")!] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0x3F]   // 1.5
        try t.writeRegisters(vmm, x)
        #expect(m.cpu.x87.top == 6 && m.cpu.x87.emptyMask == 0xBF)
        #expect(m.cpu.x87.register(6).mantissa == 0xC000_0000_0000_0000 && m.cpu.x87.register(6).signExponent == 0x3FFF)
        #expect(try t.readRegisters(vmm).value("ftag") == 0xFFFF & ~(3 << 12))
        // XMM registers are written whole (128 bits); MXCSR reserved bits are refused.
        var xmm = GDBRegisterFile()
        xmm[GDBRegisterLayout.x86_64.regnum("xmm9")!] = (0..<16).map { UInt8($0 + 1) }
        try t.writeRegisters(vmm, xmm)
        #expect(m.cpu.xmm[18] == 0x0807_0605_0403_0201 && m.cpu.xmm[19] == 0x100F_0E0D_0C0B_0A09)
        #expect(try t.readRegisters(vmm)[GDBRegisterLayout.x86_64.regnum("xmm9")!] == (0..<16).map { UInt8($0 + 1) })
        var mx = GDBRegisterFile()
        mx.set("mxcsr", 0x1_0000)
        #expect(throws: GDBTargetError.self) { try t.writeRegisters(vmm, mx) }
        mx.set("mxcsr", 0x9FC0)
        try t.writeRegisters(vmm, mx)
        #expect(m.cpu.mxcsr == 0x9FC0)
        #expect(throws: GDBTargetError.self) { try t.writeRegisters(GDBThreadID(pid: 2, tid: 1), GDBRegisterFile()) }

        // A selector write loads the descriptor from the GDT, as MOV DS would.
        var ds = GDBRegisterFile()
        ds.set("ds", 0x18)
        try t.writeRegisters(vmm, ds)
        #expect(m.cpu.segs[Seg.ds].selector == 0x18)
        #expect(m.cpu.segs[Seg.ds].base == 0x2000)
        #expect(m.cpu.segs[Seg.ds].limit == 0xFFF)
        // Beyond the GDT limit: refused, nothing changed.
        var bad = GDBRegisterFile()
        bad.set("es", 0x40)
        bad.set("rax", 7)
        #expect(throws: GDBTargetError.self) { try t.writeRegisters(vmm, bad) }
        #expect(m.cpu.segs[Seg.es].selector == 0x10)
        #expect(m.cpu.regs[Reg.rax] == 0)
        // cs must name a code segment.
        var cs = GDBRegisterFile()
        cs.set("cs", 0x10)
        #expect(throws: GDBTargetError.self) { try t.writeRegisters(vmm, cs) }

        // Clearing CR0.PG changes the mode: 0x9000 (not mapped under paging) becomes readable.
        #expect(t.readMemory(pid: 1, address: 0x9000, count: 4).isEmpty)
        var cr0 = GDBRegisterFile()
        cr0.set("cr0", CR0.pe | CR0.et)
        try t.writeRegisters(vmm, cr0)
        #expect(t.readMemory(pid: 1, address: 0x9000, count: 4).count == 4)
        #expect(m.cpu.modeDescription.contains("paging off"))
    }

    @Test func memoryReturnsTheReadablePrefixAndWritesAllOrNothing() throws {
        let m = makeMachine(code: I.nop)
        m.memory.write([1, 2, 3, 4], at: 0x7FFC)
        m.memory.write([0xAA, 0xBB], at: 0x8000)
        let t = MachineTarget(machine: m)
        // 0x7FF0..0x7FFF is mapped, 0x8000 is not: the first 16 bytes come back.
        let prefix = t.readMemory(pid: 1, address: 0x7FF0, count: 0x20)
        #expect(prefix.count == 0x10)
        #expect(Array(prefix.suffix(4)) == [1, 2, 3, 4])
        #expect(t.readMemory(pid: 1, address: 0x8000, count: 4).isEmpty)
        // A write across the boundary is refused and changes nothing.
        #expect(throws: GDBTargetError.self) { try t.writeMemory(pid: 1, address: 0x7FFE, bytes: [9, 9, 9, 9]) }
        #expect(m.memory.read(at: 0x7FFC, count: 4) == [1, 2, 3, 4])
        try t.writeMemory(pid: 1, address: 0x7FFC, bytes: [5, 6])
        #expect(m.memory.read(at: 0x7FFC, count: 4) == [5, 6, 3, 4])

        // The tagged physical view reaches 0x8000 without paging; so does `monitor phys on`.
        #expect(t.readMemory(pid: 1, address: MachineController.physicalTag | 0x8000, count: 2) == [0xAA, 0xBB])
        #expect(t.monitor("phys on").succeeded)
        #expect(t.readMemory(pid: 1, address: 0x8000, count: 2) == [0xAA, 0xBB])
        try t.writeMemory(pid: 1, address: 0x8001, bytes: [0xCC])
        #expect(m.memory.read(at: 0x8001, count: 1) == [0xCC])
        #expect(t.monitor("phys off").succeeded)
        #expect(t.readMemory(pid: 1, address: 0x8000, count: 2).isEmpty)
        // QEMU's PhyMemMode path; physical reads stop at the end of RAM.
        #expect(t.readPhysicalMemory(address: m.memory.size - 2, count: 8).count == 2)
        #expect(t.readPhysicalMemory(address: m.memory.size + 0x1000, count: 8).isEmpty)
        #expect(throws: GDBTargetError.self) { try t.writePhysicalMemory(address: m.memory.size - 1, bytes: [1, 2]) }
    }

    @Test func breakpointsStopBeforeTheInstructionAndNeverPatchMemory() throws {
        let code = I.nop + I.nop + I.nop + I.incEAX + I.incEAX + I.spin
        let m = makeMachine(code: code)
        let t = MachineTarget(machine: m)
        try t.insertSoftwareBreakpoint(pid: 1, address: 0x1003, kind: 1)
        try t.insertHardwareBreakpoint(pid: 1, address: 0x1004, kind: 1)
        #expect(m.memory.read(at: 0x1000, count: code.count) == code)   // nothing planted
        let e1 = try #require(t.run(.continue(signal: nil)))
        #expect(e1.reason == .softwareBreakpoint)
        #expect(t.reg("rip") == 0x1003)
        #expect(t.reg("rax") == 0)            // stopped before the instruction
        // Resuming leaves the breakpoint it stopped at, then stops at the hardware one.
        let e2 = try #require(t.run(.continue(signal: nil)))
        #expect(e2.reason == .hardwareBreakpoint)
        #expect(t.reg("rip") == 0x1004)
        #expect(t.reg("rax") == 1)
        try t.removeSoftwareBreakpoint(pid: 1, address: 0x1003, kind: 1)
        try t.removeHardwareBreakpoint(pid: 1, address: 0x1004, kind: 1)
        #expect(throws: GDBTargetError.self) { try t.removeSoftwareBreakpoint(pid: 1, address: 0x1003, kind: 1) }
        #expect(m.cpu.breakpoints.isEmpty)
        // Process 2 is the slot of the first guest (not entered yet): breakpoints may be set there
        // before the VMM launches it, and they stay out of the VMM's table. Process 3 does not exist.
        try t.insertSoftwareBreakpoint(pid: 2, address: 0x1000, kind: 1)
        #expect(m.cpu.breakpoints.isEmpty)
        try t.removeSoftwareBreakpoint(pid: 2, address: 0x1000, kind: 1)
        #expect(throws: GDBTargetError.self) { try t.insertSoftwareBreakpoint(pid: 3, address: 0x1000, kind: 1) }
    }

    @Test func writeWatchpointStopsAfterTheStoreWithItsAddress() throws {
        let code = I.movEAX(0x1234_5678) + I.movToMem(0x3000) + I.nop + I.spin
        let m = makeMachine(code: code)
        let t = MachineTarget(machine: m)
        try t.insertWatchpoint(pid: 1, type: .writeWatch, address: 0x3000, length: 4)
        let e = try #require(t.run(.continue(signal: nil)))
        #expect(e.reason == .watchpoint(.writeWatch, address: 0x3000))
        #expect(t.reg("rip") == 0x100A)       // the store (at 0x1005, 5 bytes) has completed
        #expect(m.memory.read32(at: 0x3000) == 0x1234_5678)
        try t.removeWatchpoint(pid: 1, type: .writeWatch, address: 0x3000, length: 4)

        // A read watchpoint fires on the load, an access watchpoint on either.
        let m2 = makeMachine(code: I.movFromMem(0x3000) + I.nop + I.spin)
        let t2 = MachineTarget(machine: m2)
        try t2.insertWatchpoint(pid: 1, type: .readWatch, address: 0x3002, length: 1)
        let r = try #require(t2.run(.continue(signal: nil)))
        #expect(r.reason == .watchpoint(.readWatch, address: 0x3002))
        #expect(t2.reg("rip") == 0x1005)
    }

    @Test func singleStepExecutesExactlyOneInstruction() throws {
        let code = I.nop + I.movEAX(5) + I.addEAXEBX + I.incEAX + I.spin
        let m = makeMachine(code: code)
        m.cpu.regs[Reg.rbx] = 10
        let t = MachineTarget(machine: m)
        // A breakpoint where the step starts does not stop it (gdb steps off its breakpoints).
        try t.insertSoftwareBreakpoint(pid: 1, address: 0x1000, kind: 1)
        var rips: [UInt64] = []
        var retired: [UInt64] = []
        for _ in 0..<4 {
            let e = try #require(t.run(.step(signal: nil)))
            #expect(e.reason == .signal(GDBStopReason.sigtrap))
            rips.append(t.reg("rip") ?? 0)
            retired.append(m.cpu.instructions)
        }
        #expect(rips == [0x1001, 0x1006, 0x1008, 0x1009])   // lengths 1, 5, 2, 1
        #expect(retired == [1, 2, 3, 4])
        #expect(t.reg("rax") == 16)
        // A step at the spin loop stays there, one instruction later.
        let e = try #require(t.run(.step(signal: nil)))
        #expect(e.reason == .signal(GDBStopReason.sigtrap))
        #expect(t.reg("rip") == 0x1009 && m.cpu.instructions == 5)
    }

    @Test func interruptStopsASpinningGuestWithinMilliseconds() throws {
        let m = makeMachine(code: I.spin)
        let t = MachineTarget(machine: m)
        let stops = Stops()
        t.resume(request(.continue(signal: nil)), stops: stops.sink())
        usleep(100_000)
        // While it runs, the machine refuses to be inspected or changed.
        #expect(throws: GDBTargetError.self) { try t.readRegisters(vmm) }
        #expect(t.readMemory(pid: 1, address: 0x1000, count: 2).isEmpty)
        #expect(throws: GDBTargetError.self) { try t.insertSoftwareBreakpoint(pid: 1, address: 0x1000, kind: 1) }
        #expect(!t.monitor("regs").succeeded)
        #expect(t.monitor("status").output.contains("running"))
        let before = m.cpu.instructions   // racy read: only used as a lower bound below
        let start = monotonicNow()
        t.interrupt()
        let e = try #require(stops.next(timeout: 5))
        let latency = monotonicNow() - start
        print("interrupt latency: \(String(format: "%.2f", latency * 1000)) ms")
        #expect(e.reason == .signal(GDBStopReason.sigint))
        #expect(latency < 0.1)
        #expect(t.reg("rip") == 0x1000)
        #expect(m.cpu.instructions >= before)
        #expect(m.cpu.instructions > 1000)
        // A late interrupt (the machine is stopped) does not leak into the next run.
        t.interrupt()
        let s = try #require(t.run(.step(signal: nil)))
        #expect(s.reason == .signal(GDBStopReason.sigtrap))
    }

    @Test func guestExitIsReportedAsProcessExit() throws {
        let m = makeMachine(code: I.movEAX(42) + I.outF4 + I.spin)
        let log = HookLog()
        let t = MachineTarget(machine: m, hooks: log.hooks)
        let e = try #require(t.run(.continue(signal: nil)))
        #expect(e.reason == .exited(code: 42))
        #expect(log.snapshot.exits == [42])
    }

    @Test func tripleFaultIsASegvStopThatStaysInspectable() throws {
        // IDT limit 0: #UD → #GP → #DF → shutdown.
        let m = makeMachine(code: I.nop + I.ud2)
        let log = HookLog()
        let t = MachineTarget(machine: m, hooks: log.hooks)
        let e = try #require(t.run(.continue(signal: nil)))
        #expect(e.reason == .signal(MachineTarget.sigsegv))
        #expect(e.console?.contains("triple fault") == true)
        #expect(log.snapshot.lines.contains { $0.contains("triple fault") })
        let rip = t.reg("rip")
        let n = m.cpu.instructions
        #expect(rip != nil)
        #expect(t.readMemory(pid: 1, address: 0x1000, count: 3) == [0x90, 0x0F, 0x0B])
        // Shutdown: resuming reports the same stop and runs nothing.
        let again = try #require(t.run(.continue(signal: nil)))
        #expect(again.reason == .signal(MachineTarget.sigsegv))
        #expect(t.reg("rip") == rip && m.cpu.instructions == n)
        #expect(t.monitor("status").output.contains("triple fault"))
    }

    @Test func unwakeableHaltIsReportedAndStaysHalted() throws {
        let m = makeMachine(code: I.cli + I.hlt + I.nop + I.spin)
        let t = MachineTarget(machine: m)
        let e = try #require(t.run(.continue(signal: nil)))
        #expect(e.reason == .signal(GDBStopReason.sigtrap))
        #expect(e.console?.contains("HLT") == true)
        let n = m.cpu.instructions
        let again = try #require(t.run(.step(signal: nil)))
        #expect(again.console?.contains("HLT") == true)
        #expect(m.cpu.instructions == n)
        // Moving RIP on (the debugger's choice) leaves the halt.
        var f = GDBRegisterFile()
        f.set("rip", 0x1000)
        try t.writeRegisters(vmm, f)
        let step = try #require(t.run(.step(signal: nil)))
        #expect(step.console == nil)
        #expect(t.reg("rip") == 0x1001)
    }

    @Test func unimplementedInstructionIsSIGILL() throws {
        // VMXON (F3 0F C7 /6): VMX is not implemented yet.
        let m = makeMachine(code: [0xF3, 0x0F, 0xC7, 0x30] + I.spin)
        let t = MachineTarget(machine: m)
        let e = try #require(t.run(.continue(signal: nil)))
        // Either the core reports it unimplemented (SIGILL) or raises #UD, which with no IDT
        // ends in a triple fault (SIGSEGV); never a silent continue.
        #expect(e.reason == .signal(MachineTarget.sigill) || e.reason == .signal(MachineTarget.sigsegv))
        #expect(e.console != nil)
    }

    @Test func monitorCommandsComeFromOneTable() throws {
        let m = makeMachine(code: I.nop + I.spin)
        let t = MachineTarget(machine: m)
        let help = t.monitor("help")
        for c in DebuggerCommands.table { #expect(help.output.contains(c.synopsis)) }
        // One table (the REPL's too): names are unique; the gdb-era commands and the VMX ones are in it.
        let names = DebuggerCommands.table.map(\.name)
        #expect(Set(names).count == names.count)
        for n in ["help", "status", "regs", "phys", "translate", "vmcs", "why", "exit", "caps", "decode"] { #expect(names.contains(n), "\(n)") }
        let status = t.monitor("status").output
        #expect(status.contains("rip:           0x1000"))
        #expect(status.contains("32-bit code") && status.contains("32-bit paging"))
        #expect(status.contains("0 retired"))
        let regs = t.monitor("regs").output
        #expect(regs.contains("[ PE ET PG ]"))
        #expect(regs.contains("gdtr        base 0x0000000000000500  limit 0x001f"))
        let ok = t.monitor("translate 0x1234").output
        #expect(ok.contains("PDE[0]") && ok.contains("@ 0x10000"))
        #expect(ok.contains("PTE[1]") && ok.contains("@ 0x11004"))
        #expect(ok.contains("→ physical 0x1234"))
        let missing = t.monitor("translate 0x8000").output
        #expect(missing.contains("PTE[8]") && missing.contains("not present"))
        #expect(missing.contains("→ not present at the PTE"))
        #expect(t.monitor("translate rip").output.contains("→ physical 0x1000"))
        #expect(!t.monitor("translate").succeeded)
        #expect(!t.monitor("translate nonsense").succeeded)
        #expect(!t.monitor("frobnicate").succeeded)
        #expect(!t.monitor("phys maybe").succeeded)
        #expect(t.monitor("help translate").output.contains("page walk"))
    }

    /// The adapter behind a GDBSession: the T replies gdb gets (thread, reason, expedited
    /// rbp/rsp/rip), and `W` on exit.
    @Test func sessionStopRepliesCarryReasonThreadAndRegisters() throws {
        let code = I.nop + I.movEAX(7) + I.movToMem(0x3000) + I.nop + I.outF4
        let m = makeMachine(code: code)
        let t = MachineTarget(machine: m)
        let queue = SessionStops()
        let session = GDBSession(target: t, log: { _ in }, stopDelivery: { g, e in queue.add(g, e) })
        _ = session.connect()
        var decoder = PacketDecoder()
        func decode(_ bytes: [UInt8]) -> [String] {
            decoder.feed(bytes).compactMap {
                if case .packet(let p) = $0 { return String(decoding: p, as: UTF8.self) }
                return nil
            }
        }
        func send(_ payload: String) -> [String] { decode(session.receive(PacketEncoder.frame(payload)).bytes) }
        /// Resumes and returns what gdb receives once the CPU thread reported the stop.
        func resume(_ payload: String) throws -> [String] {
            #expect(send(payload).isEmpty)   // nothing until the stop
            let (g, e) = try #require(queue.next())
            return decode(session.handleStop(generation: g, event: e).bytes)
        }
        _ = send("qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+")
        _ = send("QStartNoAckMode")
        #expect(send("Hgp1.1") == ["OK"])
        let g = send("g")
        #expect(g.first?.count == GDBRegisterLayout.x86_64.gPacketLength)
        #expect(send("p10") == ["0010000000000000"])   // rip = 0x1000
        #expect(send("m1000,3") == ["90b807"])
        #expect(send("m7ffe,4") == ["0000"])            // the readable prefix
        #expect(send("m8000,4") == ["E0e"])             // nothing readable
        #expect(send("m8000000000001000,1") == ["90"])   // tagged physical
        #expect(send("qRcmd," + Hex.encode(Array("status".utf8))).last == "OK")
        // QEMU's physical-memory mode: 0x8000 is not mapped linearly but exists physically.
        m.memory.write([0x5A], at: 0x8000)
        #expect(send("Qqemu.PhyMemMode:1") == ["OK"])
        #expect(send("m8000,1") == ["5a"])
        #expect(send("Qqemu.PhyMemMode:0") == ["OK"])
        #expect(send("m8000,1") == ["E0e"])

        #expect(send("Z0,1001,1") == ["OK"])
        #expect(send("Z1,100c,1") == ["OK"])
        #expect(send("Z2,3000,4") == ["OK"])
        let sw = try resume("vCont;c")
        #expect(sw.count == 1)
        #expect(sw.first?.hasPrefix("T05thread:p1.1;swbreak:;") == true)
        // Expedited: rbp (06), rsp (07), rip (10) — rip = 0x1001.
        #expect(sw.first?.contains("07:0070000000000000;") == true)
        #expect(sw.first?.contains("10:0110000000000000;") == true)
        #expect(send("z0,1001,1") == ["OK"])
        let step = try resume("vCont;s:p1.1")
        #expect(step.first?.hasPrefix("T05thread:p1.1;") == true)
        #expect(step.first?.contains("10:0610000000000000;") == true)   // mov eax, imm32: 5 bytes
        let watch = try resume("vCont;c")
        #expect(watch.first?.hasPrefix("T05thread:p1.1;watch:3000;") == true)
        #expect(watch.first?.contains("10:0b10000000000000;") == true)   // after the store
        let hw = try resume("vCont;c")
        #expect(hw.first?.hasPrefix("T05thread:p1.1;hwbreak:;") == true)
        #expect(hw.first?.contains("10:0c10000000000000;") == true)
        let exit = try resume("vCont;c")
        #expect(exit == ["W07;process:1"])
    }
}

/// Stop reports with their generation, for driving a GDBSession by hand.
final class SessionStops: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [(UInt64, GDBStopEvent)] = []
    func add(_ g: UInt64, _ e: GDBStopEvent) { lock.withLock { items.append((g, e)); lock.broadcast() } }
    func next(timeout: Double = 10) -> (UInt64, GDBStopEvent)? {
        lock.withLock {
            let deadline = monotonicNow() + timeout
            while items.isEmpty {
                if !lock.wait(until: deadline) && monotonicNow() >= deadline { return nil }
            }
            return items.removeFirst()
        }
    }
}
