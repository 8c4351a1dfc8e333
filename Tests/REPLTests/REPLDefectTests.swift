// Defects a new user hit in the REPL, gdb's `monitor` and script runs; each test failed before
// its fix.
import Debugger
import Foundation
import Machine
import REPL
import Testing
import TestSupport
import X86

@Suite struct REPLDefects {
    static func offline(_ line: String) -> CommandResult {
        DebuggerCommands.execute(line, context: CommandContext(controller: nil, frontDoor: .offline))
    }

    /// `break guest_main` then `c`: the REPL's code breakpoint stops in the guest's context too.
    @Test(.requires(.guestImage("minivmm"))) func codeBreakpointOnGuestCodeStops() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        let target = try #require(c.machine.symbols.address(of: "guest_main"))
        #expect(Fixture.run("break guest_main", c).succeeded)
        let r = Fixture.run("c", c)
        #expect(r.succeeded, "\(r.output)")
        #expect(c.lastStop?.reason == .breakpoint(address: target, hardware: false), "\(r.output)")
        #expect(c.withStopped { $0.cpu.vmx.nonRoot } == true)
        #expect((c.withStopped { $0.bus.exitRequest } ?? nil) == nil)
        // Deleted, it no longer stops: the guest runs to its end.
        #expect(Fixture.run("delete", c).succeeded)
        _ = Fixture.run("c", c)
        #expect(c.withStopped { $0.bus.exitRequest?.status } == 0)
    }

    /// A script run that ends normally exits with the guest's status, unless a command decides.
    @Test(.requires(.guestImage("hello"))) func scriptEndsWithTheGuestsStatus() throws {
        func run(_ commands: [String]) throws -> Int32 {
            let (c, _) = try Fixture.controller("hello")
            defer { c.shutdown() }
            // At the entry (32-bit protected mode, paging off): mov al, 1; out 0xf4, al; hlt.
            let rip = try #require(c.withStopped { $0.cpu.rip })
            #expect(c.writePhysical(address: rip, bytes: [0xB0, 0x01, 0xE6, 0xF4, 0xF4]) == .ok)
            var options = REPLOptions()
            options.commands = commands
            options.batch = true
            options.history = false
            return REPL(controller: c, options: options, write: { _ in }).run()
        }
        #expect(try run(["c"]) == 1)
        #expect(try run(["c", "status"]) == 1)
        #expect(try run(["c", "quit 0"]) == 0)
        #expect(try run(["status"]) == 0)      // the guest has not exited
    }

    /// `decode qual 34 2`: two bare numbers are refused; a reason is a name or reason=N.
    @Test func decodeQualificationArgumentsAreUnambiguous() {
        let both = Self.offline("decode qual 34 2")
        #expect(both.status == .usage)
        #expect(both.output.contains("reason="))
        let insinfo = Self.offline("decode insinfo 0x12345678 31")
        #expect(insinfo.status == .usage)
        let a = Self.offline("decode qual CR_ACCESS 0x4"), b = Self.offline("decode qual 0x4 CR_ACCESS")
        let n1 = Self.offline("decode qual reason=28 0x4"), n2 = Self.offline("decode qual 0x4 reason=28")
        #expect(a.succeeded && a.output.contains("CR4"))
        #expect(b.output == a.output && n1.output == a.output && n2.output == a.output)
    }

    /// `source DIRECTORY` is an error, not a silent success.
    @Test func sourceOfADirectoryFails() {
        let dir = FileManager.default.temporaryDirectory.path
        let r = DebuggerCommands.execute("source \(dir)", context: CommandContext(controller: nil, frontDoor: .repl))
        #expect(r.status == .failed)
        #expect(r.output.contains("directory"))
    }

    /// Exits are recorded while gdb (not the REPL) runs the machine, with their instruction
    /// counts; `exits --save` writes JSON lines from the REPL and is refused from `monitor`.
    @Test(.requires(.guestImage("minivmm"))) func exitsAreRecordedWhoeverRunsTheMachine() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        // As gdb's `continue` does: a plain resume, no exit breakpoints.
        let done = DispatchSemaphore(value: 0)
        #expect(c.resume(.continue) { _ in done.signal() })
        #expect(done.wait(timeout: .now() + 60) == .success)
        _ = c.waitUntilStopped(timeout: 5)
        #expect(c.withStopped { $0.bus.exitRequest?.status } == 0)
        let monitor = CommandContext(controller: c, frontDoor: .monitor)
        let exits = DebugSession.of(c).exits
        let cpuExits = c.withStopped { $0.cpu.vmx.exits } ?? 0
        #expect(cpuExits > 10)
        #expect(UInt64(exits.count) == min(cpuExits, UInt64(DebugSession.ringCapacity)))
        #expect(zip(exits, exits.dropFirst()).allSatisfy { $0.number + 1 == $1.number && $0.instructions <= $1.instructions })
        #expect(exits.allSatisfy { $0.instructions > 0 })
        let listing = DebuggerCommands.execute("exits 3", context: monitor)
        #expect(listing.succeeded && listing.output.contains("instructions") && listing.output.contains(String(exits.last!.instructions)))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exits-\(getpid()).jsonl").path
        defer { unlink(path) }
        #expect(DebuggerCommands.execute("exits --save \(path)", context: monitor).status == .usage)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(Fixture.run("exits --save \(path)", c).succeeded)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == exits.count)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect((first["instructions"] as? NSNumber)?.uint64Value == exits[0].instructions)
        #expect((first["number"] as? NSNumber)?.uint64Value == exits[0].number)
    }

    /// A failed VM entry gets its own number in the ring (it used to repeat the last exit's).
    @Test(.requires(.guestImage("vmx-errors"))) func failedEntriesGetTheirOwnNumbers() throws {
        let (c, _) = try Fixture.controller("vmx-errors")
        defer { c.shutdown() }
        _ = Fixture.run("c", c)
        let ring = DebugSession.of(c).exits
        let failed = ring.filter { $0.reason & 0x8000_0000 != 0 }
        #expect(failed.count >= 2)
        #expect(Set(ring.map(\.number)).count == ring.count)
        #expect(zip(ring, ring.dropFirst()).allSatisfy { $0.number + 1 == $1.number })
        #expect(failed.allSatisfy { $0.number >= 1 })
    }

    /// `help` fits 100 columns (both doors, every `help CMD`); unknown commands get a suggestion.
    @Test func helpFitsAndSuggests() {
        let monitor = CommandContext(controller: nil, frontDoor: .monitor)
        var texts = [Self.offline("help").output, DebuggerCommands.execute("help", context: monitor).output]
        texts += DebuggerCommands.table.map { Self.offline("help \($0.name)").output }
        for t in texts {
            for line in t.split(separator: "\n") where line.count > 100 {
                Issue.record("help line of \(line.count) columns: \(line)")
            }
        }
        let r = Self.offline("vmsc guest")
        #expect(r.status == .usage)
        #expect(r.output.contains("did you mean 'vmcs'"))
        #expect(!Self.offline("zzzzzzzz").output.contains("did you mean"))
    }

    /// Names where numbers are accepted: MSR names, VMCS field names (also guest-rip).
    @Test(.requires(.guestImage("minivmm"))) func namesWhereNumbers() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        let msr = Fixture.run("msrbitmap IA32_SYSENTER_CS", c)
        #expect(msr.succeeded && msr.output.contains("0x174"), "\(msr.output)")
        #expect(Fixture.run("msrbitmap ia32_efer", c).output.contains("0xc0000080"))
        #expect(Self.offline("decode field GUEST_RIP").output == Self.offline("decode field 0x681e").output)
        #expect(Self.offline("decode field GUEST_RIP").succeeded)
        let byName = Fixture.run("disas GUEST_RIP 1", c), rip = Fixture.run("vmcs get GUEST_RIP", c)
        #expect(byName.succeeded, "\(byName.output)")
        let ripValue = c.withStopped { $0.cpu.vmcsRead(.guestRIP, at: $0.cpu.vmx.currentVMCS) } ?? 0
        #expect(byName.output.contains(String(ripValue, radix: 16)))
        #expect(Fixture.run("vmcs get guest-rip", c).output == rip.output)
    }

    /// After VMXOFF: "VMX operation left", not "no VMXON yet".
    @Test(.requires(.guestImage("minivmm"))) func vmxOperationLeft() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        _ = Fixture.run("c", c)
        #expect(c.withStopped { $0.bus.exitRequest?.status } == 0)
        #expect(Fixture.run("status", c).output.contains("VMX operation left"))
        let why = Fixture.run("why", c)
        #expect(why.output.contains("VMX operation left") && !why.output.contains("no VMXON yet"))
    }

    /// A field set with `vmcs set` is not reported as never written.
    @Test(.requires(.guestImage("minivmm"))) func vmcsSetCountsAsWritten() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        let field = try #require(c.withStopped { m in
            VMCSFields.all.first { VMCSFields.exists($0) && !$0.isReadOnly && !m.cpu.vmcsWritten($0.id, at: m.cpu.vmx.currentVMCS) }
        } ?? nil)
        #expect(Fixture.run("vmcs get \(field.name)", c).output.contains("never written"))
        let old = c.withStopped { $0.cpu.vmcsRead(field.id, at: $0.cpu.vmx.currentVMCS) } ?? 0
        #expect(Fixture.run("vmcs set \(field.name) 0x\(String(old, radix: 16))", c).succeeded)
        #expect(!Fixture.run("vmcs get \(field.name)", c).output.contains("never written"))
        #expect(!Fixture.run("vmcs", c).output.contains("\(field.name) ") || !Fixture.run("vmcs", c).output.split(separator: "\n")
            .contains { $0.contains(field.name + " ") && $0.contains("[never written]") })
    }

    /// The instruction-information field is decoded only for exits that define it: an OUT
    /// (not OUTS) exit has none.
    @Test(.requires(.guestImage("minivmm"))) func instructionInfoOnlyWhereDefined() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        // The guest's first exit is its greeting over COM1: OUT DX, AL (I/O, not a string instruction).
        #expect(Fixture.run("expect exit IO_INSTRUCTION", c).succeeded)
        let q = c.withStopped { $0.cpu.vmcsRead(.exitQualification, at: $0.cpu.vmx.currentVMCS) } ?? 0
        #expect(q & 0x10 == 0)
        let exit = Fixture.run("exit", c)
        #expect(exit.succeeded)
        #expect(!exit.output.contains("instruction information"), "\(exit.output)")
        let ring = Fixture.run("exit \(DebugSession.of(c).exits.last!.number)", c)
        #expect(!ring.output.contains("instruction information"), "\(ring.output)")
    }

    /// A VMX abort: `why` explains the abort itself (indicator, MSR-load entry, why it
    /// failed); `status` and `exit` say the same.
    @Test(.requires(.guestImage("minivmm"))) func vmxAbortIsExplained() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        #expect(Fixture.run("next-entry", c).succeeded)
        // A VM-exit MSR-load list whose second entry names an x2APIC MSR (0x808).
        let list: UInt64 = 0x7F0000
        _ = c.withStopped { m in
            _ = m.memory.write((0..<32).map { _ in UInt8(0) }, at: list)
            _ = m.memory.write32(0xC000_0102, at: list)       // IA32_KERNEL_GS_BASE: loads fine
            _ = m.memory.write32(0x808, at: list + 16)
            m.cpu.vmcsWrite(.exitMSRLoadAddress, list, at: m.cpu.vmx.currentVMCS)
            m.cpu.vmcsWrite(.exitMSRLoadCount, 2, at: m.cpu.vmx.currentVMCS)
        }
        let run = Fixture.run("c", c)
        #expect(run.status == .guestFatal, "\(run.output)")
        let why = Fixture.run("why", c)
        #expect(why.succeeded)
        for piece in ["VMX abort", "indicator 4", "loading host MSRs", "entry 2", "0x808", "x2APIC", "27.7"] {
            #expect(why.output.contains(piece), "why lacks '\(piece)': \(why.output)")
        }
        #expect(Fixture.run("status", c).output.contains("VMX abort (indicator 4)"))
        #expect(Fixture.run("exit", c).output.contains("VMX abort (indicator 4"))
    }

    /// VMX breakpoints outlive a gdb session: `monitor status` lists them and the next gdb to
    /// connect is told (vmxemu's log).
    @Test(.requires(.guestImage("minivmm"))) func vmxBreakpointsAreListedAndAnnounced() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        let monitor = CommandContext(controller: c, frontDoor: .monitor)
        #expect(DebuggerCommands.execute("break exit CPUID", context: monitor).succeeded)
        let status = DebuggerCommands.execute("status", context: monitor).output
        #expect(status.contains("VMX breaks:    1: VM exit CPUID"), "\(status)")
        final class Log: @unchecked Sendable { var lines: [String] = [] }
        let log = Log()
        let t = MachineTarget(controller: c, hooks: MachineTargetHooks(log: { log.lines.append($0) }))
        _ = t.initiallyAttached()
        #expect(log.lines.contains { $0.contains("still set") && $0.contains("1: VM exit CPUID") }, "\(log.lines)")
    }

    /// Guest-controlled bitmap addresses near the top of the address space: an answer, not an
    /// arithmetic-overflow trap (issue 12's reproduction, through both doors).
    @Test(.requires(.guestImage("minivmm"))) func bitmapAddressesWrap() throws {
        let (c, _) = try Fixture.controller("minivmm")
        defer { c.shutdown() }
        #expect(Fixture.run("next-entry", c).succeeded)
        #expect(Fixture.run("vmcs set MSR_BITMAP 0xffffffffffffffff", c).succeeded)
        #expect(Fixture.run("vmcs set IO_BITMAP_A 0xffffffffffffffff", c).succeeded)
        for ctx in [Fixture.repl(c), CommandContext(controller: c, frontDoor: .monitor)] {
            let m = DebuggerCommands.execute("msrbitmap 0x174", context: ctx)
            #expect(m.succeeded && m.output.contains("MSR 0x174") && m.output.contains("not a valid bitmap address"), "\(m.output)")
            let io = DebuggerCommands.execute("iobitmap 0x7fff", context: ctx)
            #expect(io.succeeded && io.output.contains("port 0x7fff") && io.output.contains("not a valid bitmap address"), "\(io.output)")
        }
    }
}

@Suite(.serialized) struct REPLDefectProcess {

    /// `run --json`: stdout is JSON lines only (one per result), the guest's serial on stderr.
    @Test(.requires(.vmxemu, .guestImage("minivmm"))) func jsonScriptRun() throws {
        let r = try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "-q", "--batch", "--json",
                                                    "-ex", "status", "-ex", "break exit CPUID", "-ex", "c", "-ex", "exits 2"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 4, "\(r.stdout)")
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj?["command"] != nil, "\(line)")
        }
        #expect(r.stderr.contains("minivmm:"))      // the guest's serial output
        #expect(!r.stdout.contains("minivmm:"))
        // --version names the release and the SDM edition.
        let v = try Fixture.spawn(Fixture.vmxemu!, ["--version"])
        #expect(v.status == 0 && v.stdout.hasPrefix("vmxemu ") && v.stdout.contains("325462-077US"), "\(v.stdout)\(v.stderr)")
        // --json without a script is refused.
        #expect(try Fixture.spawn(Fixture.vmxemu!, ["run", Fixture.image("minivmm"), "-q", "--json"]).status == 2)
    }
}
