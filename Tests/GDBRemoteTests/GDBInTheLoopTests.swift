// Stock gdb (/usr/bin/gdb -nx -batch) against the real server and a fake target.
// Skipped loudly (with the reason printed) when gdb is not installed.
import Foundation
import Testing
import TestSupport
@testable import GDBRemote

enum GDBRunner {
    static let path = "/usr/bin/gdb"

    /// Runs gdb with `-ex` commands; returns stdout+stderr. Killed after `timeout` seconds.
    /// Runs gdb with `-ex` commands; returns stdout+stderr. Killed (SIGKILL: gdb ignores
    /// SIGTERM while it waits for a target) after `timeout` seconds.
    static func run(_ commands: [String], timeout: TimeInterval = 60) throws -> String {
        try launch(["-nx", "-batch"] + commands.flatMap { ["-ex", $0] }, script: nil, timeout: timeout)
    }

    /// Runs gdb reading commands from stdin, pausing after each: unlike `-batch -ex`, gdb's
    /// event loop runs between commands, so asynchronous stops (after `interrupt`) are handled.
    static func runScript(_ steps: [(String, pause: Double)], timeout: TimeInterval = 60) throws -> String {
        try launch(["-nx", "-q"], script: steps, timeout: timeout)
    }

    private static func launch(_ arguments: [String], script: [(String, pause: Double)]?, timeout: TimeInterval) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        let input = Pipe()
        p.standardInput = script == nil ? FileHandle.nullDevice : input
        try p.run()
        let pid = p.processIdentifier
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        if let script {
            let writer = input.fileHandleForWriting
            Thread.detachNewThread {
                for (command, pause) in script {
                    writer.write(Data((command + "\n").utf8))
                    usleep(useconds_t(pause * 1_000_000))
                }
                writer.write(Data("quit\n".utf8))
                try? writer.close()
            }
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Writes the smallest ELF64 x86-64 executable gdb accepts (a header, no sections) and
/// returns its path.
func writeMinimalELF(_ name: String) throws -> String {
    func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    var h: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
    h += le(2, 2) + le(0x3e, 2) + le(1, 4)  // ET_EXEC, EM_X86_64, EV_CURRENT
    h += le(0x1000, 8) + le(0, 8) + le(0, 8)  // entry, phoff, shoff
    h += le(0, 4) + le(64, 2) + le(56, 2) + le(0, 2) + le(64, 2) + le(0, 2) + le(0, 2)
    let path = NSTemporaryDirectory() + "\(name)-\(getpid()).elf"
    try Data(h).write(to: URL(fileURLWithPath: path))
    return path
}

/// A fake target whose resume behaves like a tiny CPU: a step advances rip by one, a continue
/// runs to the first software breakpoint gdb inserted.
func steppingTarget() -> FakeTarget {
    let t = FakeTarget()
    t.onResume = { [weak t] request, sink in
        guard let t else { return }
        if let stepping = request.actions.first(where: { $0.kind.isStep })?.thread?.concrete ?? request.onlyThread {
            let rip = t.reg(stepping, "rip") ?? 0
            var f = GDBRegisterFile()
            f.set("rip", rip + 1)
            try? t.writeRegisters(stepping, f)
            sink.report(GDBStopEvent(thread: stepping, reason: .signal(5)))
            return
        }
        // A write watchpoint: the "store" changes the watched bytes, then reports after it.
        let w: [UInt64]? = t.lock.withLock { t.watch.first { $0[1] == UInt64(GDBBreakpointType.writeWatch.rawValue) } }
        if let w {
            let pid = Int(w[0])
            let old = t.readMemory(pid: pid, address: w[2], count: 1)
            try? t.writeMemory(pid: pid, address: w[2], bytes: [(old.first ?? 0) &+ 1])
            sink.report(GDBStopEvent(thread: GDBThreadID(pid: pid, tid: 1), reason: .watchpoint(.writeWatch, address: w[2])))
            return
        }
        if let hw = t.lock.withLock({ t.hardware.first }), t.reg(GDBThreadID(pid: Int(hw[0]), tid: 1), "rip") != hw[1] {
            let thread = GDBThreadID(pid: Int(hw[0]), tid: 1)
            var f = GDBRegisterFile()
            f.set("rip", hw[1])
            try? t.writeRegisters(thread, f)
            sink.report(GDBStopEvent(thread: thread, reason: .hardwareBreakpoint))
            return
        }
        // Run to the breakpoint hit least often (ties: the guest first), in an attached process.
        let bp: [UInt64]? = t.lock.withLock {
            let candidates = t.software.filter { request.attachedProcesses.contains(Int($0[0])) }
            return candidates.min { a, b in
                let ha = t.hits[a[0..<2].map { $0 }, default: 0], hb = t.hits[b[0..<2].map { $0 }, default: 0]
                return ha != hb ? ha < hb : (a[0] != b[0] ? a[0] > b[0] : a[1] < b[1])
            }.map { bp in
                t.hits[[bp[0], bp[1]], default: 0] += 1
                return bp
            }
        }
        if let bp {
            let thread = GDBThreadID(pid: Int(bp[0]), tid: 1)
            var f = GDBRegisterFile()
            f.set("rip", bp[1])
            try? t.writeRegisters(thread, f)
            sink.report(GDBStopEvent(thread: thread, reason: .softwareBreakpoint))
        } else if t.lock.withLock({ t.runUntilInterrupted }) {
            t.lock.withLock { t.runningFreely = true }
            return  // runs until gdb interrupts (onInterrupt reports SIGINT)
        } else {
            sink.report(GDBStopEvent(thread: p11, reason: .signal(5), console: "nothing to run"))
        }
    }
    return t
}

/// Where gdb is not installed: a failure under VMXEMU_REQUIRE_ORACLES=1, else a skip with the
/// reason — never a pass (TestSupport/Oracle.swift).
@Suite(.serialized, .requires(.gdb))
struct GDBInTheLoopTests {
    @Test func stockGDBReadsRegistersMemoryAndRunsMonitor() async throws {
        let target = steppingTarget()
        let elf = try writeMinimalELF("vmxemu-vmm")
        defer { try? FileManager.default.removeItem(atPath: elf) }
        target.execFiles[1] = elf
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try await server.start()
        let output = try GDBRunner.run([
            "set pagination off", "set confirm off",
            "target remote 127.0.0.1:\(port)",
            "info inferiors",
            "info registers rip",
            "x/4xb 0x1000",
            "info registers cr0",
            "info registers efer",
            "info registers cr4",
            "info registers eflags",
            "p/x $vmx_mode",
            "p $exit_reason",
            "monitor help",
            "stepi",
            "info registers rip",
            "break *0x1234",
            "continue",
            "info registers rip",
            "info threads",
            "set $rax = 0x1122",
            "p/x $rax",
            "set {char}0x1000 = 0x7f",
            "x/1xb 0x1000",
            "detach",
        ])
        try await server.shutdown()
        print("---- gdb transcript ----\n\(output)\n------------------------")
        #expect(output.contains("0x0000000000001100 in ?? ()"))
        // The exec file came over vFile (qXfer:exec-file:read names it, host I/O reads it).
        #expect(!output.contains("does not support file transfer"))
        #expect(output.contains("target:\(elf)"))
        #expect(!output.contains("'g' packet reply is too long"))
        #expect(output.range(of: #"rip\s+0x1100\s+0x1100"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"0x1000:\s+0x00\s+0x01\s+0x02\s+0x03"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"cr0\s+0x80000031\s+\[ PE ET NE PG \]"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"efer\s+0xd01\s+\[ SCE LME LMA NXE \]"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"cr4\s+0x2020\s+\[ PAE VMXE \]"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"eflags\s+0x246\s+\[ (IF ZF PF|PF ZF IF) \]"#, options: .regularExpression) != nil)
        #expect(output.contains("$1 = 0x1"))
        #expect(output.contains("<unavailable>"))
        #expect(output.contains("vmxemu monitor commands:"))
        #expect(output.range(of: #"rip\s+0x1101\s+0x1101"#, options: .regularExpression) != nil)
        #expect(output.contains("Breakpoint 1, 0x0000000000001234 in ?? ()"))
        #expect(output.range(of: #"rip\s+0x1234\s+0x1234"#, options: .regularExpression) != nil)
        #expect(output.contains("VMM vCPU0") && output.contains("VMM vCPU1"))
        #expect(output.contains("= 0x1122"))
        #expect(output.range(of: #"0x1000:\s+0x7f"#, options: .regularExpression) != nil)
        #expect(target.reg(p11, "rax") == 0x1122)
        #expect(target.detached == [1])
        #expect(target.software.isEmpty)
    }

    /// The multi-context flow of docs/DESIGN.md ("The gdb context model"): the VMM attached at connect, a guest attached on
    /// demand as inferior 2, breakpoints in each address space, stops reported in the right one.
    @Test func extendedRemoteGuestAndVMMBreakpoints() async throws {
        let target = steppingTarget()
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try await server.start()
        let output = try GDBRunner.run([
            "set pagination off", "set confirm off",
            "set schedule-multiple on",
            "target extended-remote 127.0.0.1:\(port)",
            "info os processes",
            "add-inferior",
            "inferior 2",
            "attach 2",
            "info registers rip",
            "x/2xb 0x4000",
            "break *0x4010",
            "inferior 1",
            "break *0x1234",
            "continue",
            "info registers rip",
            "continue",
            "info registers rip",
            "info inferiors",
        ])
        try await server.shutdown()
        print("---- gdb transcript ----\n\(output)\n------------------------")
        #expect(output.range(of: #"1\s+vmxemu\s+VMM"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"2\s+vmxemu\s+guest 1"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"0x4000:\s+0x90\s+0x90"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"rip\s+0x1200\s+0x1200"#, options: .regularExpression) != nil)
        #expect(output.contains("Thread 2.1 \"guest 1 vCPU0\" hit Breakpoint 1, 0x0000000000004010"))
        #expect(output.range(of: #"rip\s+0x4010\s+0x4010"#, options: .regularExpression) != nil)
        #expect(output.contains("Thread 1.1 \"VMM vCPU0\" hit Breakpoint 2, 0x0000000000001234"))
        #expect(output.range(of: #"rip\s+0x1234\s+0x1234"#, options: .regularExpression) != nil)
        #expect(!output.contains("internal-error"))
        #expect(!output.contains("'g' packet reply is too long"))
        #expect(target.attachedPids == [2])
    }

    /// Watchpoints (reported after the store, with the address), hardware breakpoints, and
    /// Ctrl-C (`interrupt` → 0x03 → target.interrupt()) with real gdb.
    @Test func watchpointHardwareBreakpointAndInterrupt() async throws {
        let target = steppingTarget()
        target.onInterrupt = { sink in
            Thread.detachNewThread { sink?.report(GDBStopEvent(thread: p11, reason: .signal(GDBStopReason.sigint))) }
        }
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try await server.start()
        let output = try GDBRunner.runScript([
            ("set pagination off", 0), ("set confirm off", 0),
            ("target remote 127.0.0.1:\(port)", 0.5),
            ("watch *(unsigned char *)0x2000", 0),
            ("continue", 0.3),
            ("delete", 0),
            ("hbreak *0x1500", 0),
            ("continue", 0.3),
            ("info registers rip", 0),
            ("delete", 0),
            ("continue &", 0.5),
            ("interrupt", 0.5),
            ("info registers rip", 0.2),
        ])
        try await server.shutdown()
        print("---- gdb transcript ----\n\(output)\n------------------------")
        #expect(output.contains("Hardware watchpoint 1: *(unsigned char *)0x2000"))
        #expect(output.contains("Old value = 0 '\\000'"))
        #expect(output.contains("New value = 1 '\\001'"))
        #expect(output.contains("Hardware assisted breakpoint 2 at 0x1500"))
        #expect(output.contains("hit Breakpoint 2, 0x0000000000001500"))
        #expect(output.range(of: #"rip\s+0x1500\s+0x1500"#, options: .regularExpression) != nil)
        #expect(output.contains("received signal SIGINT, Interrupt."))
        #expect(output.contains("received signal SIGINT, Interrupt.\n0x0000000000001500 in ?? ()"))
        #expect(target.interrupts == 1)
    }

    /// A second gdb while one is connected is told why it cannot attach.
    @Test func secondGDBIsToldWhy() async throws {
        let server = GDBServer(target: FakeTarget(), port: 0, log: { _ in })
        let port = try await server.start()
        let first = try RawClient(port: port)
        #expect(first.ask("qAttached") == "1")
        let output = try GDBRunner.run(["target remote 127.0.0.1:\(port)", "info registers rip"], timeout: 30)
        print("---- gdb transcript ----\n\(output)\n------------------------")
        #expect(output.contains("another gdb is already connected"))
        #expect(first.ask("qAttached") == "1")  // the first connection is unaffected
        try await server.shutdown()
    }
}
