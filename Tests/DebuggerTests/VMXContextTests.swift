// gdb in the guest (issue 5 item 6; docs/DESIGN.md, "The gdb context model"): with real /usr/bin/gdb
// against `vmxemu run minivmm.elf --gdb`, the VMM is process 1 and the guest it launches is
// process 2; breakpoints are per context, and `continue` alternates between "Thread 2.1" (the
// guest, VMX non-root) and "Thread 1.1" (the VMM's exit handler), the flow docs/DESIGN.md describes.

import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, OracleTrait(oracles: E2E.needs + [.guestImage("minivmm")]))
struct VMXContextTests {
    static let image = E2E.image("minivmm")

    @Test func continueAlternatesBetweenGuestAndVMMThreads() throws {
        let vm = try VMXEmuProcess(image: Self.image)
        let out = try GDB.run([
            "set schedule-multiple on",
            "target extended-remote 127.0.0.1:\(vm.port)",
            "info os processes",
            "add-inferior",
            "inferior 2",
            "attach 2",
            "break guest_main",
            "inferior 1",
            "break handle_exit",
            "continue",
            "info threads",
            "continue",
            "p/x $exit_reason",
            "p/x exit_reason",
            "p $vmx_mode",
            "continue",
            "continue",
            "kill inferiors 1 2",
        ], file: Self.image, helper: true)
        // `info os processes` lists the VMM and a slot for the guest it has not launched yet.
        #expect(out.matches(#"1\s+vmxemu\s+VMM"#))
        #expect(out.matches(#"2\s+vmxemu\s+guest 1 \(not entered yet\)"#))
        // First stop: the guest's breakpoint, reported in the guest's thread.
        let guestStop = try #require(out.range(of: #"Thread 2\.1 "guest 1 vCPU0" hit Breakpoint 1(\.\d)?, guest_main"#, options: .regularExpression))
        // Then the VMM's exit handler, in the VMM's thread, after the guest stop.
        let vmmStop = try #require(out.range(of: #"Thread 1\.1 "VMM vCPU0" hit Breakpoint 2(\.\d)?, handle_exit"#, options: .regularExpression))
        #expect(guestStop.upperBound <= vmmStop.lowerBound)
        // The first exit after guest_main starts is the guest's first serial write: an I/O
        // instruction exit, basic reason 30 = 0x1e (SDM Appendix C), in the VMX register and
        // (once handle_exit stored it) … the VMM's own global is still the previous value here,
        // because the breakpoint is at handle_exit's first instruction.
        #expect(out.contains("$1 = 0x1e"))
        #expect(out.contains("$3 = 1"))          // VMX root while the VMM runs
        #expect(!out.contains("internal-error"))
        #expect(!out.contains("'g' packet reply is too long"))
        #expect(vm.waitForExit(timeout: 10) == 137)
    }

    /// gdb rule "a step stops in its own thread" (docs/DESIGN.md): a single step of the guest's thread across an instruction that causes a VM
    /// exit finishes when the guest runs again — reported in Thread 2.1, never in the VMM's
    /// thread (which would crash gdb 13 in `finish_step_over`). 300 `stepi` through guest_main's
    /// first kprintf cross several I/O exits (each character is an OUT the VMM emulates).
    @Test func stepiInTheGuestCrossesVMExitsInTheGuestThread() throws {
        let vm = try VMXEmuProcess(image: Self.image)
        // gdb's `while` needs a script file (a -ex line cannot hold the loop body).
        let loop = NSTemporaryDirectory() + "vmxemu-stepi-\(getpid()).gdb"
        try "set $i = 0\nwhile $i < 300\n  stepi\n  set $i = $i + 1\nend\n".write(toFile: loop, atomically: true, encoding: .utf8)
        defer { unlink(loop) }
        let out = try GDB.run([
            "set schedule-multiple on",
            "target extended-remote 127.0.0.1:\(vm.port)",
            "add-inferior",
            "inferior 2",
            "attach 2",
            "break guest_main",
            "continue",
            "source \(loop)",
            "info threads",
            "p/x $exit_reason",
            "inferior 1",
            "p/x exit_reason",
            "kill inferiors 1 2",
        ], file: Self.image, helper: true, quiet: true)
        #expect(out.matches(#"Thread 2\.1 "guest 1 vCPU0" hit Breakpoint 1(\.\d)?, guest_main"#))
        // Still in the guest's thread after the steps: `info threads` marks 2.1 current.
        #expect(out.matches(#"\*\s+2\.1\s+Thread 2\.1 "guest 1 vCPU0""#), "\(out)")
        // The last exit (VMX register of the guest context, and the VMM's own global) was an
        // I/O instruction: basic reason 30 = 0x1e (SDM Appendix C).
        #expect(out.contains("= 0x1e"), "\(out)")
        #expect(!out.contains("internal-error"))
        #expect(!out.contains("Thread 1.1 \"VMM vCPU0\" hit"))
        _ = vm.waitForExit(timeout: 10)
    }
}
