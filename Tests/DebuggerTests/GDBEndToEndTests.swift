// Stock gdb against the real `vmxemu run IMAGE --gdb 127.0.0.1:0 -S` on the GuestImages built
// with -g: source lines, backtraces, system registers, memory, stepping, watchpoints, hardware
// breakpoints, Ctrl-C, detach/re-attach, the one-gdb rule, kill and the guest's exit.
// Where gdb, the vmxemu binary or the images are missing: a failure under VMXEMU_REQUIRE_ORACLES=1
// (CI), else a skip with the reason (TestSupport/Oracle.swift).
import Foundation
import GDBRemote
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, OracleTrait(oracles: E2E.needs))
struct GDBEndToEndTests {
    /// `target remote`, `break` at a C function, `continue` with the source line, `bt`,
    /// `info registers` with the decoded system registers, `x/8gx $rsp`, register writes,
    /// `monitor`, the physical view, `kill`. gdb finds the symbols itself (exec-file + vFile).
    @Test func breakContinueBacktraceRegistersMemoryAndKill() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "break check_u64",
            "continue",
            "bt",
            "info registers",
            "x/8gx $rsp",
            "p/x $rsp",
            "p $cr0",
            "set $rax = 5",
            "p $rax",
            "monitor status",
            "monitor translate check_u64",
            "x/4xb check_u64",
            "x/4xb 0x8000000000000000 + \(E2E.checkU64)",
            "monitor phys on",
            "x/4xb \(E2E.checkU64)",
            "monitor phys off",
            "info threads",
            "kill",
        ])
        let status = vm.waitForExit(timeout: 10)
        // Symbols and source lines through qXfer:exec-file + vFile (no file given to gdb).
        #expect(out.contains("Reading symbols from target:"))
        #expect(out.matches(#"Breakpoint 1 at 0x[0-9a-f]+: file lib/guest.c, line \d+\."#))
        #expect(out.matches(#"Breakpoint 1, check_u64 \(name=.*multiboot-magic.*\) at lib/guest.c:\d+"#))
        #expect(out.contains("if (got == want) {"))
        #expect(out.matches(#"#0  check_u64 \("#))
        #expect(out.matches(#"#1  0x[0-9a-f]+ in kmain \(.*\) at hello/hello.c:\d+"#))
        // System registers, decoded.
        #expect(out.matches(#"cr0\s+0x80000011\s+\[ PE ET PG \]"#))
        #expect(out.matches(#"cr3\s+0x[0-9a-f]+\s+\d+"#))
        #expect(out.matches(#"cr4\s+0x20\s+\[ PAE \]"#))
        #expect(out.matches(#"efer\s+0x500\s+\[ LME LMA \]"#))
        #expect(out.matches(#"fs_base\s+0x0\s+0"#))
        #expect(out.matches(#"rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <check_u64>"#))
        #expect(out.matches(#"vmx_mode\s+0x0\s+0"#))
        #expect(out.contains("<unavailable>"))
        #expect(!out.contains("'g' packet reply is too long"))
        // x/8gx $rsp: four lines of two quadwords, starting at rsp; the first is the return address.
        let rsp = try #require(out.capture(#"\$\d+ = (0x[0-9a-f]+)\n"#))
        #expect(out.matches(#"\#(rsp):\s+0x0000000000[0-9a-f]{6}\s+0x[0-9a-f]{16}"#))
        let rows = out.split(separator: "\n").filter { $0.matches(#"^0x[0-9a-f]+:\s+0x[0-9a-f]{16}\s+0x[0-9a-f]{16}$"#) }
        #expect(rows.count >= 4)
        #expect(out.matches(#"\$\d+ = \[ PE ET PG \]"#))
        #expect(out.matches(#"\$\d+ = 5\n"#))
        // monitor: status and the page walk.
        #expect(out.contains("state:         stopped — breakpoint at \(E2E.checkU64) <check_u64>"))
        #expect(out.contains("mode:          IA-32e 64-bit mode, 64-bit code, CPL0, 4-level paging"))
        #expect(out.matches(#"PML4E\[0\]\s+@ 0x[0-9a-f]+\s+= 0x[0-9a-f]+\s+P RW"#))
        #expect(out.contains("→ physical \(E2E.checkU64)"))
        // The same bytes linear, tagged physical, and with the physical view on.
        let bytes = out.split(separator: "\n").filter { $0.matches(#"^0x[0-9a-f]+( <check_u64>)?:(\s+0x[0-9a-f]{2}){4}$"#) }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        #expect(bytes.count == 3)
        #expect(Set(bytes).count == 1)
        #expect(out.contains("physical view on"))
        #expect(out.contains("Thread 1.1 \"VMM vCPU0\""))
        #expect(out.contains("[Inferior 1 (process 1) killed]"))
        #expect(status == 137)
    }

    /// `stepi` moves RIP by exactly one instruction, as long as gdb's own disassembly says.
    @Test func stepiMovesOneInstructionAtATime() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        var commands = ["target remote 127.0.0.1:\(vm.port)", "break check_u64", "continue"]
        for _ in 0..<8 { commands += ["x/2i $pc", "stepi"] }
        commands += ["x/2i $pc", "kill"]
        let out = try GDB.run(commands, file: E2E.image("hello"), helper: true)
        _ = vm.waitForExit(timeout: 10)
        // Each x/2i: "=> ADDR <sym>:\tINSN" then "   NEXT <sym>:\tINSN".
        let lines = out.split(separator: "\n").map(String.init)
        var listings: [(pc: UInt64, insn: String, next: UInt64)] = []
        for (i, l) in lines.enumerated() where l.hasPrefix("=> 0x") && i + 1 < lines.count {
            guard let pc = l.capture(#"^=> 0x([0-9a-f]+)"#).flatMap({ UInt64($0, radix: 16) }),
                  let next = lines[i + 1].capture(#"^\s+0x([0-9a-f]+)"#).flatMap({ UInt64($0, radix: 16) }) else { continue }
            let insn = l.split(separator: "\t", maxSplits: 1).last.map(String.init) ?? ""
            listings.append((pc, insn, next))
        }
        #expect(listings.count == 9)
        var straight = 0
        for k in 0..<max(0, listings.count - 1) {
            let (pc, insn, next) = listings[k]
            let after = listings[k + 1].pc
            let mnemonic = insn.split(separator: " ").first.map(String.init) ?? ""
            if mnemonic.hasPrefix("j") || mnemonic.hasPrefix("call") || mnemonic.hasPrefix("ret") {
                // A branch goes to the next instruction or to its target; never further.
                let target = insn.capture(#"0x([0-9a-f]+)"#).flatMap { UInt64($0, radix: 16) }
                #expect(after == next || after == target, "\(insn) at 0x\(String(pc, radix: 16)) went to 0x\(String(after, radix: 16))")
            } else {
                #expect(after == next, "\(insn) at 0x\(String(pc, radix: 16)): stepi went to 0x\(String(after, radix: 16)), not 0x\(String(next, radix: 16))")
                straight += 1
            }
        }
        #expect(straight >= 5)
    }

    /// `watch` on a global stops right after the store, with the old and new values.
    @Test func watchOnAGlobalStopsRightAfterTheStore() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "break kmain",
            "continue",
            "delete",
            "watch checks_passed",
            "continue",
            "disassemble",
            "continue",
            "p checks_passed",
            "kill",
        ], file: E2E.image("hello"), helper: true)
        _ = vm.waitForExit(timeout: 10)
        #expect(out.contains("Hardware watchpoint 2: checks_passed"))
        #expect(out.contains("Old value = 0\nNew value = 1"))
        #expect(out.contains("Old value = 1\nNew value = 2"))
        #expect(out.contains("$1 = 2"))
        // In the disassembly, the current instruction (=>) is the one after the increment.
        let lines = out.split(separator: "\n").map(String.init)
        let store = try #require(lines.firstIndex { $0.contains("<checks_passed>") && $0.contains("add") })
        #expect(store + 1 < lines.count && lines[store + 1].hasPrefix("=> "))
    }

    /// `hbreak`, and two breakpoints on adjacent instructions reported as themselves (gdb rule
    /// "advertise swbreak/hwbreak": with swbreak+/hwbreak+ gdb does not rewind the PC).
    @Test func hardwareAndAdjacentBreakpoints() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "hbreak check_u64",
            "break *(check_u64 + 4)",
            "continue",
            "info registers rip",
            "continue",
            "info registers rip",
            "continue",
            "kill",
        ], file: E2E.image("hello"), helper: true)
        _ = vm.waitForExit(timeout: 10)
        #expect(out.matches("Hardware assisted breakpoint 1 at \(E2E.checkU64): file lib/guest.c, line \\d+\\."))
        #expect(out.matches(#"Breakpoint 1, check_u64 \("#))
        #expect(out.matches("rip\\s+\(E2E.checkU64)\\s+\(E2E.checkU64) <check_u64>"))
        #expect(out.matches("Breakpoint 2, 0x0000000000\(E2E.checkU64(plus: 4).dropFirst(2)) in check_u64 \\("))
        #expect(out.matches("rip\\s+\(E2E.checkU64(plus: 4))\\s+\(E2E.checkU64(plus: 4)) <check_u64\\+4>"))
        // The third continue: the next call, back at the hardware breakpoint.
        #expect(out.components(separatedBy: "Breakpoint 1, check_u64").count == 3)
        #expect(!out.contains("internal-error"))
    }

    /// Ctrl-C: SIGINT to gdb while the guest spins (bench-int) stops it; gdb shows where.
    @Test func ctrlCInterruptsASpinningGuest() throws {
        let vm = try VMXEmuProcess(image: E2E.image("bench-int"))
        var guestWasRunning = false
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "continue",
            "info registers rip",
            "bt 1",
            "kill",
        ], file: E2E.image("bench-int"), helper: true, timeout: 40) { gdb in
            guestWasRunning = vm.stdout.wait(for: "bench-int: start", timeout: 20)
            usleep(300_000)
            kill(gdb, SIGINT)
        }
        let status = vm.waitForExit(timeout: 10)
        #expect(guestWasRunning)
        #expect(out.contains("Program received signal SIGINT, Interrupt."))
        #expect(out.matches(#"rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <int_loop\+\d+>"#))
        #expect(out.matches(#"#0  .*int_loop \(n=.*\) at bench/bench-int.c:\d+"#))
        #expect(!vm.stdout.text.contains("bench-int: done"))
        #expect(status == 137)
    }

    /// A raw 0x03 stops the spinning guest within milliseconds (T02 with the thread).
    @Test func rawInterruptLatency() throws {
        let vm = try VMXEmuProcess(image: E2E.image("bench-int"))
        let c = try RawGDBClient(port: vm.port)
        #expect(c.handshake()?.hasPrefix("T05thread:p1.1;") == true)
        c.send("vCont;c")
        #expect(vm.stdout.wait(for: "bench-int: start", timeout: 20))
        usleep(200_000)
        let start = Date()
        c.sendRaw([0x03])
        let reply = c.nextPacket()
        let ms = Date().timeIntervalSince(start) * 1000
        print("Ctrl-C (0x03) → stop reply: \(String(format: "%.1f", ms)) ms")
        #expect(reply?.hasPrefix("T02thread:p1.1;") == true)
        #expect(ms < 200)
        #expect(c.ask("vKill;1") == "OK")
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// Without -S the guest runs at once; a gdb that connects later stops it where it is.
    @Test func gdbAttachesToARunningMachine() throws {
        let vm = try VMXEmuProcess(image: E2E.image("bench-int"), waitForGDB: false)
        #expect(vm.stdout.wait(for: "bench-int: start", timeout: 20))
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "info registers rip",
            "monitor status",
            "kill",
        ], file: E2E.image("bench-int"), helper: true)
        #expect(out.matches(#"rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <int_loop\+\d+>"#))
        #expect(out.contains("state:         stopped — interrupted at"))
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// One gdb at a time: a second is refused while one is attached; after `detach` the next
    /// gdb finds the machine exactly where the first left it.
    @Test func secondGDBIsRefusedThenDetachAndReattachSeeTheSameState() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        // A client holds the connection: gdb is told why it cannot connect.
        let holder = try RawGDBClient(port: vm.port)
        #expect(holder.handshake() != nil)
        let refused = try GDB.run(["target remote 127.0.0.1:\(vm.port)", "info registers rip"], timeout: 20)
        #expect(refused.contains("another gdb is already connected"))
        #expect(holder.ask("qAttached") == "1")   // unaffected
        holder.disconnect()
        usleep(200_000)

        let first = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "break check_u64",
            "continue",
            "continue",
            "p/x $pc",
            "p/x $rsp",
            "p/x $rdi",
            "detach",
        ], file: E2E.image("hello"), helper: true)
        #expect(first.contains("[Inferior 1 (process 1) detached]"))
        let second = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "p/x $pc",
            "p/x $rsp",
            "p/x $rdi",
            "bt 1",
            "kill",
        ], file: E2E.image("hello"), helper: true)
        func values(_ s: String) -> [String] {
            s.split(separator: "\n").compactMap { String($0).capture(#"^\$\d+ = (0x[0-9a-f]+)$"#) }
        }
        #expect(values(first).count == 3)
        #expect(values(first) == values(second))
        #expect(values(second).first == E2E.checkU64)
        #expect(second.matches(#"#0  check_u64 \(name=.*data-section-0"#))
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// The guest's exit (port 0xF4) is the process exit gdb sees; vmxemu exits with its status.
    @Test func guestExitEndsTheSession() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        let out = try GDB.run(["target remote 127.0.0.1:\(vm.port)", "continue"], file: E2E.image("hello"), helper: true)
        #expect(out.contains("[Inferior 1 (process 1) exited normally]"))
        #expect(vm.waitForExit(timeout: 10) == 0)
        #expect(vm.stdout.text.contains("hello: all 105 checks passed"))
        #expect(vm.stderr.text.contains("vmxemu: guest exited with status 0"))
    }

    /// A triple fault stops the machine as SIGSEGV with the cause on the console; gdb can
    /// still inspect everything.
    @Test func tripleFaultStopsInspectably() throws {
        let vm = try VMXEmuProcess(image: E2E.image("ud2-triple"))
        let out = try GDB.run([
            "target remote 127.0.0.1:\(vm.port)",
            "continue",
            "x/i $pc",
            "info registers idtr_limit",
            "monitor status",
            "continue",
            "kill",
        ], file: E2E.image("ud2-triple"), helper: true)
        #expect(out.contains("vmxemu: triple fault at rip="))
        #expect(out.contains("Program received signal SIGSEGV, Segmentation fault."))
        #expect(out.matches(#"=> 0x[0-9a-f]+ <[^>]+>:\s+ud2"#))
        #expect(out.matches(#"idtr_limit\s+0x0\s+0"#))
        #expect(out.contains("state:         stopped — triple fault"))
        // Shut down: continuing reports the same stop instead of running on.
        #expect(out.components(separatedBy: "Program received signal SIGSEGV").count == 3)
        #expect(vm.stderr.text.contains("vmxemu: stopped: triple fault"))
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// `target extended-remote`: `info os processes` lists the VMM context; `detach` then
    /// `attach 1` (vAttach, then qC naming its thread — gdb rule "qC after attach") gives the registers back.
    @Test func extendedRemoteListsAndAttachesTheVMMContext() throws {
        let vm = try VMXEmuProcess(image: E2E.image("hello"))
        let out = try GDB.run([
            "target extended-remote 127.0.0.1:\(vm.port)",
            "info os processes",
            "break check_u64",
            "continue",
            "detach",
            "attach 1",
            "info registers rip",
            "info threads",
            "kill",
        ], file: E2E.image("hello"), helper: true)
        #expect(out.matches(#"1\s+vmxemu\s+VMM"#))
        // After the detach, `attach 1` shows the same frame again.
        let detached = try #require(out.range(of: "[Inferior 1 (process 1) detached]"))
        #expect(String(out[detached.upperBound...]).matches(#"check_u64 \(name=name@entry=0x[0-9a-f]+ "multiboot-magic""#))
        #expect(out.matches("rip\\s+\(E2E.checkU64)\\s+\(E2E.checkU64) <check_u64>"))
        #expect(out.contains("Thread 1.1 \"VMM vCPU0\""))
        #expect(!out.contains("'g' packet reply is too long"))
        #expect(!out.contains("internal-error"))
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// The guest's own INT3 (and every exception it handles) is the guest's business: under gdb,
    /// fault-tests raises and catches #DE #BP #UD #GP #PF and exits 0 with no stop in gdb
    /// (gdb rule "swbreak only where inserted": a guest int3 is never reported as a gdb breakpoint).
    @Test func guestHandledExceptionsDoNotStopGDB() throws {
        let image = E2E.image("fault-tests")
        try Oracle.require(.guestImage("fault-tests"))
        let vm = try VMXEmuProcess(image: image)
        let out = try GDB.run(["target remote 127.0.0.1:\(vm.port)", "continue"], file: image, helper: true)
        #expect(out.contains("[Inferior 1 (process 1) exited normally]"))
        #expect(!out.contains("SIGTRAP"))
        #expect(vm.waitForExit(timeout: 10) == 0)
        #expect(vm.stdout.text.contains("fault-tests: all"))
    }
}
