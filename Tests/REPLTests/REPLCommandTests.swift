// The command table on the GuestImages: minivmm stopped at its first CPUID exit, bad-guest after
// its failed VM entry, offline decode. Expected values are SDM facts (Appendix C reason numbers,
// Table 27-3 layout, §25.1.2) and the guests' known behaviour (their sources), never our own
// output played back.
import Debugger
import Foundation
import GDBRemote
import Machine
import REPL
import Testing
import TestSupport
import X86

@Suite(.serialized) struct MinivmmAtCPUID {
    /// minivmm run to its first CPUID exit, through the REPL's own commands.
    static func stopped() throws -> MachineController {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        let r = Fixture.run("c", c)
        #expect(r.succeeded, "\(r.output)")
        return c
    }

    @Test(.requires(.guestImage("minivmm"))) func continueStopsAtTheCPUIDExit() throws {
        let c = try Self.stopped()
        guard case .vmx(.exit(let reason, let q))? = c.lastStop?.reason else {
            Issue.record("not stopped at a VM exit: \(String(describing: c.lastStop))"); return
        }
        #expect(reason == 10)          // Appendix C: CPUID is basic exit reason 10
        #expect(q == 0)                // CPUID does not use the exit qualification
        let exit = Fixture.run("exit", c)
        #expect(exit.output.contains("10 CPUID"))
        let j = try Fixture.json(Fixture.run("exit --json", c))
        let data = try #require(j["data"] as? [String: Any])
        #expect(data["basic_reason"] as? Int == 10)
        #expect(data["instruction_length"] as? Int == 2)       // CPUID is 0F A2
        let rip = try #require((data["guest_rip"] as? NSNumber)?.uint64Value)
        // The guest RIP saved at the exit is the CPUID instruction itself (§27.3.3: RIP of the
        // instruction that caused the exit) — its bytes are 0F A2, inside guest_main.
        #expect(c.readPhysical(address: rip, count: 2) == [0x0F, 0xA2])
        #expect(exit.output.contains("<guest_main+"))
        // The ring holds the exit too, and exit N finds it.
        let n = try #require(data["number"] as? Int)
        #expect(Fixture.run("exit \(n)", c).output.contains("10 CPUID"))
        #expect(Fixture.run("assert exit-reason == CPUID", c).status == .ok)
        #expect(Fixture.run("assert exit-reason == HLT", c).status == .failed)
    }

    @Test(.requires(.guestImage("minivmm"))) func vmcsGuestAndGet() throws {
        let c = try Self.stopped()
        let guest = Fixture.run("vmcs guest --json", c)
        let j = try Fixture.json(guest)
        let fields = try #require((j["data"] as? [String: Any])?["fields"] as? [[String: Any]])
        func value(_ name: String) -> UInt64? { (fields.first { $0["field"] as? String == name }?["value"] as? NSNumber)?.uint64Value }
        // A 64-bit guest (IA-32e mode guest): CR0.PE and CR0.PG are 1, CR4.PAE is 1 (§26.3.1.1).
        let cr0 = try #require(value("GUEST_CR0")), cr4 = try #require(value("GUEST_CR4"))
        #expect(cr0 & 0x8000_0001 == 0x8000_0001)
        #expect(cr4 & 0x20 != 0)
        #expect(value("GUEST_RFLAGS").map { $0 & 2 } == 2)    // reserved bit 1 is always 1
        #expect(value("VM_EXIT_REASON") == nil)               // exit information is not a guest group
        // get by SDM name (any case) and by encoding give the same field.
        let a = Fixture.run("vmcs get vm_exit_reason", c).output, b = Fixture.run("vmcs get 0x4402", c).output
        #expect(a == b && a.contains("= 0x0000000a"))
        #expect(Fixture.run("vmcs get NO_SUCH_FIELD", c).status == .usage)
        #expect(Fixture.run("vmcs check", c).output.contains("all checks pass"))   // it was entered successfully
        // why after a CPUID exit: unconditional (§25.1.2).
        #expect(Fixture.run("why", c).output.contains("25.1.2"))
    }

    @Test(.requires(.guestImage("minivmm"))) func monitorPrintsTheSameText() throws {
        let c = try Self.stopped()
        let target = MachineTarget(controller: c)
        for line in ["status", "exit", "exits 5", "exits stats", "vmcs guest", "vmcs get GUEST_RIP", "vmcs check", "why", "ctl",
                     "caps", "decode qual CR_ACCESS 0x4", "info breakpoints", "help vmcs", "x/4bx 0x100000", "regs", "vmcs --json"] {
            let viaMonitor = target.monitor(line)
            let viaREPL = Fixture.run(line, c)
            #expect(viaMonitor.output == viaREPL.output, "\(line)")
            #expect(viaMonitor.succeeded == viaREPL.succeeded, "\(line)")
        }
        // Run control belongs to gdb there.
        let m = target.monitor("c")
        #expect(!m.succeeded && m.output.contains("gdb"))
    }

    @Test(.requires(.guestImage("minivmm"))) func everyNonRunCommandHasAJSONForm() throws {
        let c = try Self.stopped()
        for line in ["status", "exit", "exits", "exits stats", "vmcs", "vmcs fields GUEST_R", "vmcs list", "vmcs check", "why", "ctl proc",
                     "caps", "decode ar 0xa09b", "info breakpoints", "help", "apropos exit", "x/2gx 0x100000", "regs", "bogus", "vmcs get"] {
            let j = try Fixture.json(Fixture.run(line + " --json", c))
            #expect(j["command"] is String && j["ok"] is Bool && j["output"] is String, "\(line)")
        }
        #expect(Fixture.run("set json on", c).succeeded)
        #expect((try Fixture.json(Fixture.run("status", c)))["command"] as? String == "status")
        #expect(Fixture.run("set json off", c).succeeded)
    }

    @Test(.requires(.guestImage("minivmm"))) func nextExitAndExpect() throws {
        let c = try Self.stopped()
        // minivmm's guest prints over COM1 with OUT: its next exits are I/O exits (reason 30).
        let r = Fixture.run("next-exit --json", c)
        let j = try Fixture.json(r)
        let ev = try #require((j["data"] as? [String: Any])?["event"] as? [String: Any])
        #expect(ev["kind"] as? String == "exit")
        #expect(Fixture.run("expect exit HLT_NEVER", c).status == .usage)
        // Continue to the end: the guest reports PASS by exiting with status 0 (port 0xF4).
        #expect(Fixture.run("delete", c).succeeded)
        let end = Fixture.run("c", c)
        #expect(end.output.contains("guest exited with status 0"), "\(end.output)")
        // The ring keeps the last 256 exits; the guest's console output (OUT to COM1) dominates them.
        let stats = Fixture.run("exits stats", c).output
        #expect(stats.contains("30 IO_INSTRUCTION"), "\(stats)")
    }
}

@Suite struct BadGuestWhy {
    @Test(.requires(.guestImage("bad-guest"))) func whyNamesEveryPlantedMistake() throws {
        let (c, _) = try Fixture.controller("bad-guest")
        #expect(Fixture.run("break entry-fail", c).succeeded)
        let stop = Fixture.run("c", c)
        #expect(stop.output.contains("VM-entry failure"), "\(stop.output)")
        let why = Fixture.run("why", c)
        // bad-guest plants: CR4.PAE clear with IA-32e mode guest (§26.3.1.1), CS L and D/B both 1
        // and TR type 3 in IA-32e mode (§26.3.1.2), RFLAGS bit 1 clear (§26.3.1.4), a VMCS link
        // pointer that is not ~0 (§26.3.1.5) — GuestImages/bad-guest.c.
        #expect(why.output.contains("exit reason 33"))
        for (section, word) in [("26.3.1.1", "PAE"), ("26.3.1.2", "CS"), ("26.3.1.2", "TR"), ("26.3.1.4", "RFLAGS"), ("26.3.1.5", "link pointer")] {
            #expect(why.output.split(separator: "\n").contains { $0.contains(section) && $0.contains(word) }, "\(section) \(word)")
        }
        let j = try Fixture.json(Fixture.run("why --json", c))
        let failures = try #require((j["data"] as? [String: Any])?["failures"] as? [[String: Any]])
        #expect(failures.count == 5)
        #expect(failures.allSatisfy { ($0["section"] as? String)?.hasPrefix("26.3.1") ?? false })
    }
}

@Suite struct OfflineDecode {
    static func offline(_ line: String) -> CommandResult {
        DebuggerCommands.execute(line, context: CommandContext(controller: nil, frontDoor: .offline))
    }

    @Test func decodeWithoutAMachine() throws {
        // Table 27-3: bits 3:0 CR number, 5:4 access type (0 = MOV to CR), 11:8 register.
        let q = Self.offline("decode qual CR_ACCESS 0x4")
        #expect(q.succeeded && q.output.contains("CR4") && q.output.contains("MOV to CR") && q.output.contains("RAX"))
        // Reason and value in either order; 0x304: MOV to CR4 from RBX (bits 11:8 = 3).
        #expect(Self.offline("decode qual 0x304 CR_ACCESS").output.contains("RBX"))
        // §24.9.2: valid, type 3 hardware exception, vector 14 (#PF), error code valid.
        let i = Self.offline("decode intinfo 0x80000b0e").output
        #expect(i.contains("#PF") && i.contains("hardware exception") && i.contains("error code"))
        // Exit reason 0x80000021: basic reason 33, bit 31 = VM-entry failure.
        let e = Self.offline("decode exit-reason 0x80000021").output
        #expect(e.contains("33") && e.contains("VM-entry failure"))
        // Table 30-1: error 7 is "VM entry with invalid control field(s)".
        #expect(Self.offline("decode vmerr 7").output.contains("invalid control field"))
        // 0x681e is GUEST_RIP (Appendix B.4.3), natural width.
        #expect(Self.offline("decode field 0x681e").output.contains("GUEST_RIP"))
        #expect(Self.offline("decode").status == .usage)
        #expect(Self.offline("decode qual 0x4").status == .usage)
        #expect(Self.offline("vmcs guest").status != .ok)
        #expect(Self.offline("status").status == .usage)
        #expect(Self.offline("caps IA32_VMX_BASIC").output.contains("0x480"))
    }

    @Test func helpAproposAbbreviation() {
        let h = Self.offline("help")
        for c in DebuggerCommands.table { #expect(h.output.contains(c.synopsis)) }
        #expect(Self.offline("help vmcs").output.contains("vmcs get GUEST_RIP"))
        #expect(Self.offline("apropos qualification").output.contains("decode"))
        #expect(Self.offline("dec vmerr 8").output.contains("host-state"))     // unique prefix
        let amb = Self.offline("s")
        #expect(amb.status == .usage && amb.output.contains("ambiguous"))
        #expect(Self.offline("nosuchcommand").status == .usage)
    }

    @Test func completionComesFromTheTable() {
        #expect(REPLCompletion.candidates(line: "vmcs get GUEST_RI") == ["GUEST_RIP"])
        #expect(Set(REPLCompletion.candidates(line: "vmcs get guest_r")).isSuperset(of: ["GUEST_RIP", "GUEST_RSP", "GUEST_RFLAGS"]))
        #expect(REPLCompletion.candidates(line: "break exit CPU") == ["CPUID"])
        #expect(REPLCompletion.candidates(line: "next-") == ["next-exit", "next-entry"])
        #expect(REPLCompletion.candidates(line: "caps IA32_VMX_BAS") == ["IA32_VMX_BASIC"])
        #expect(REPLCompletion.candidates(line: "decode qual EPT_V") == ["EPT_VIOLATION"])
    }
}

@Suite struct ScriptStatuses {
    static func status(_ image: String, _ lines: [String]) throws -> (Int32?, String) {
        let (c, _) = try Fixture.controller(image)
        defer { c.shutdown() }
        var out = ""
        let repl = REPL(controller: c, options: REPLOptions(), write: { out += $0 })
        return (repl.runScript(lines, name: "test"), out)
    }

    @Test(.requires(.guestImage("minivmm"))) func exitStatuses() throws {
        #expect(try Self.status("minivmm", ["status", "assert 1 == 1"]).0 == nil)
        #expect(try Self.status("minivmm", ["assert 1 == 2", "status"]).0 == 1)
        #expect(try Self.status("minivmm", ["vmcs get GUEST_RIP"]).0 == 1)     // no VMXON yet: a failing command
        #expect(try Self.status("minivmm", ["frobnicate"]).0 == 2)
        #expect(try Self.status("minivmm", ["quit 7", "status"]).0 == 7)
        // The guest's first act is printing its greeting over COM1: the first exit is I/O (30).
        #expect(try Self.status("minivmm", ["expect exit IO_INSTRUCTION"]).0 == nil)
        #expect(try Self.status("minivmm", ["expect exit CPUID"]).0 == 1)
    }

    @Test(.requires(.guestImage("ud2-triple"))) func tripleFaultIsStatus3() throws {
        let (s, out) = try Self.status("ud2-triple", ["c", "status"])
        #expect(s == 3, "\(out)")
        #expect(out.contains("triple fault"))
    }
}
