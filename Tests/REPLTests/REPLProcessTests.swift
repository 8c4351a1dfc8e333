// The vmxemu binary: scripted sessions and their exit statuses, a piped stdin (no prompt, no
// echo), and the interactive REPL through a pseudo-terminal (util-linux `script`): prompt,
// tab completion, Ctrl-C at the prompt and while the guest runs, history recall and the file.
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct REPLProcess {

    @Test(.requires(.vmxemu, .guestImage("minivmm"), .guestImage("ud2-triple"))) func batchScriptsAndStatuses() throws {
        let exe = Fixture.vmxemu!, img = Fixture.image("minivmm")
        let ok = try Fixture.spawn(exe, ["run", img, "-q", "--batch", "-ex", "break exit CPUID", "-ex", "c", "-ex", "exit", "-ex", "assert exit-reason == CPUID"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("10 CPUID"))
        let failing = try Fixture.spawn(exe, ["run", img, "-q", "--batch", "-ex", "assert rip == 0", "-ex", "status"])
        #expect(failing.status == 1)
        #expect(!failing.stdout.contains("state:"))          // the script stopped at the failing assert
        #expect(try Fixture.spawn(exe, ["run", img, "-q", "--batch", "-ex", "frobnicate"]).status == 2)
        #expect(try Fixture.spawn(exe, ["run", img, "-q", "--batch", "-ex", "quit 9"]).status == 9)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("repl-x-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = dir.appendingPathComponent("cpuid.vmx")
        try "# stop at the first CPUID exit and check it\nbreak exit CPUID\nc\nassert exit-reason == CPUID\nassert VM_EXIT_INSTRUCTION_LEN == 2\n".write(to: script, atomically: true, encoding: .utf8)
        let x = try Fixture.spawn(exe, ["run", img, "-q", "-x", script.path, "--batch"])
        #expect(x.status == 0, "\(x.stdout)\(x.stderr)")
        #expect(try Fixture.spawn(exe, ["run", Fixture.image("ud2-triple"), "-q", "--batch", "-ex", "c"]).status == 3)
        // decode with no image at all.
        let d = try Fixture.spawn(exe, ["decode", "qual", "CR_ACCESS", "0x4"])
        #expect(d.status == 0 && d.stdout.contains("CR4"))
        #expect(try Fixture.spawn(exe, ["decode", "nonsense", "1"]).status == 2)
    }

    @Test(.requires(.vmxemu, .guestImage("minivmm"))) func pipedStdinIsAScriptWithoutPrompt() throws {
        let r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "-q", "--repl", "--no-history"],
                                  stdin: "decode vmerr 8\nassert 2 > 1\nquit 4\nstatus\n")
        #expect(r.status == 4)
        #expect(!r.stdout.contains("(vmx)"))
        #expect(!r.stdout.contains("decode vmerr 8"))     // no echo of the commands
        #expect(r.stdout.contains("invalid host-state field"))   // Table 30-1, error 8
        #expect(!r.stdout.contains("state:"))
    }

    @Test(.requires(.vmxemu, .guestImage("minivmm"), .guestImage("bench-int"), .program("/usr/bin/script", package: "bsdutils")))
    func interactiveThroughAPseudoTerminal() throws {
        let exe = Fixture.vmxemu!
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("repl-state-\(getpid())").path
        try? FileManager.default.removeItem(atPath: state)
        // Keys with pauses: completion of GUEST_RI<TAB>, a line dropped by Ctrl-C, history recall
        // (up arrow), then quit 5.
        // `exec`: script(1) runs the line with $SHELL -c, /bin/sh when SHELL is unset (as on CI);
        // dash stays as the parent in the pty's foreground group and dies of the Ctrl-C (130).
        // The first pause is long: keys that arrive before readline owns the terminal are read
        // as a cooked line (no completion), and the test machine may be busy.
        let keys = "sleep 4; printf 'vmcs get GUEST_RI\\t\\n'; sleep 1; printf 'help vmc\\003'; sleep 0.5; "
            + "printf 'decode vmerr 7\\n'; sleep 0.5; printf '\\033[A\\n'; sleep 0.5; "
            + "printf 'quit 5\\n'; sleep 1"
        let cmd = "(\(keys)) | TERM=xterm XDG_STATE_HOME=\(state) timeout -s KILL 45 script -qfec 'exec \(exe) run \(Fixture.image("bench-int")) --repl' /dev/null"
        let r = try Fixture.spawn("/bin/sh", ["-c", cmd], timeout: 60)
        let out = r.stdout
        #expect(r.status == 5, "\(out)\(r.stderr)")
        #expect(out.contains("(vmx) "))
        #expect(out.contains("vmcs get GUEST_RIP"))                     // completed by TAB
        #expect(!out.contains("the current VMCS decoded by SDM group"))  // the Ctrl-C'd `help vmc` never ran
        #expect(out.components(separatedBy: "VM entry with invalid control field(s)  [").count == 3)   // ran twice: typed, then recalled
        let history = (try? String(contentsOfFile: state + "/vmxemu/history", encoding: .utf8)) ?? ""
        #expect(history.contains("decode vmerr 7") && history.contains("quit 5"))
    }

    /// Ctrl-C while `c` runs bench-int (≈198 M instructions): the run stops with "interrupted",
    /// the prompt comes back and serves the next command. The shell is spawned with a clean
    /// signal mask (see `Fixture.shellWithCleanSignals`).
    @Test(.requires(.vmxemu, .guestImage("minivmm"), .guestImage("bench-int"), .program("/usr/bin/script", package: "bsdutils")))
    func ctrlCWhileTheGuestRuns() throws {
        let keys = "sleep 4; printf 'c\\n'; sleep 1; printf '\\003'; sleep 1; printf 'status\\n'; sleep 0.5; printf 'quit 6\\n'; sleep 1"
        let cmd = "(\(keys)) | TERM=xterm timeout -s KILL 45 script -qfec 'exec \(Fixture.vmxemu!) run \(Fixture.image("bench-int")) --repl --no-history' /dev/null"
        let r = try Fixture.shellWithCleanSignals(cmd, timeout: 60)
        #expect(r.status == 6, "\(r.stdout)")
        #expect(r.stdout.contains("interrupted at"))
        #expect(r.stdout.contains("state:         stopped"))
        #expect(!r.stdout.contains("bench-int: done"))      // stopped long before its 198 M instructions
    }
}
