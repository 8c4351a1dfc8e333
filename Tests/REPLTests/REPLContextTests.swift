// vmcs list, never-written warnings, ctx/disas/xlate, break vmx and exit filters on the
// GuestImages. Expected values are SDM facts (opcodes of Vol. 2, VMCLEAR/VMPTRLD/VMLAUNCH
// semantics of §30.3, exit qualification layouts of §27.2.1) and the guests' known behaviour
// (their sources: minivmm VMCLEARs then VMPTRLDs one region, then VMWRITEs every field; its guest
// shares the VMM's identity-mapped page tables), never our own output played back.
import Debugger
import Foundation
import Machine
import REPL
import Testing
import TestSupport
import X86

@Suite(.serialized) struct ContextAndVMCSList {
    static func data(_ line: String, _ c: MachineController) throws -> [String: Any] {
        let r = Fixture.run(line + " --json", c)
        #expect(r.succeeded, "\(line): \(r.output)")
        return try #require(try Fixture.json(r)["data"] as? [String: Any])
    }
    static func u64(_ v: Any?) -> UInt64? { (v as? NSNumber)?.uint64Value }

    /// minivmm stopped before its first VMWRITE: VMCLEAR and VMPTRLD have run (minivmm.c), no
    /// field has been written since VMCLEAR.
    @Test(.requires(.guestImage("minivmm"))) func beforeTheFirstVMWRITE() throws {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break vmx VMWRITE", c).succeeded)
        let r = Fixture.run("c", c)
        #expect(r.output.contains("stopped before vmwrite"), "\(r.output)")
        // VMWRITE is NP 0F 79 /r (SDM Vol. 2, "VMWRITE"); RIP is at the instruction, not after it.
        let rip = try #require(c.lastStop?.rip)
        #expect(c.readMemory(address: rip, count: 2) == [0x0F, 0x79])
        // vmcs list: the one region, current, clear (VMCLEAR sets the launch state to clear), and
        // nothing written since VMCLEAR.
        var list = try Self.data("vmcs list", c)
        var regions = try #require(list["regions"] as? [[String: Any]])
        #expect(regions.count == 1)
        #expect(regions[0]["current"] as? Bool == true)
        #expect(regions[0]["launched"] as? Bool == false)
        #expect(Self.u64(regions[0]["fields_written"]) == 0)
        #expect(Self.u64(regions[0]["revision"]) == UInt64(VMXModel.revision))   // VMPTRLD checked it (§30.3)
        // vmcs check: every failing check's fields are flagged never written.
        let check = Fixture.run("vmcs check", c)
        #expect(check.output.contains("never written since VMCLEAR"))
        let failures = try #require(try Self.data("vmcs check", c)["failures"] as? [[String: Any]])
        #expect(!failures.isEmpty)
        for f in failures {
            let fields = f["fields"] as? [String] ?? [], never = f["never_written"] as? [String] ?? []
            #expect(Set(fields.filter { !(VMCSFields.lookup($0)?.isReadOnly ?? false) }) == Set(never), "\(f["id"] ?? "")")
        }
        // The pin-based controls' reserved default1 bits (Appendix A.3.1) are not set: that check
        // fails, and its field was never written.
        let pin = try #require(failures.first { ($0["fields"] as? [String])?.contains("PIN_BASED_VM_EXEC_CONTROL") ?? false })
        #expect((pin["never_written"] as? [String])?.contains("PIN_BASED_VM_EXEC_CONTROL") == true)
        // The `vmcs` listing marks them, and `vmcs get` says so.
        #expect(Fixture.run("vmcs get PIN_BASED_VM_EXEC_CONTROL", c).output.contains("never written since VMCLEAR"))
        #expect(Fixture.run("vmcs control", c).output.contains("[never written]"))
        // One step: the VMWRITE runs (the breakpoint stopped before it, once), one field written.
        #expect(Fixture.run("si", c).succeeded)
        #expect(c.lastStop?.rip == rip + 3)     // 0F 79 /r with a register operand: 3 bytes
        list = try Self.data("vmcs list", c)
        regions = try #require(list["regions"] as? [[String: Any]])
        #expect(Self.u64(regions[0]["fields_written"]) == 1)
        // The same text through gdb's monitor (the one command table).
        #expect(DebuggerCommands.execute("vmcs list", on: c).output == Fixture.run("vmcs list", c).output)
    }

    /// break vmx VMLAUNCH stops before the entry: no entry yet, RIP at 0F 01 C2.
    @Test(.requires(.guestImage("minivmm"))) func breakBeforeVMLAUNCH() throws {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break vmx VMLAUNCH", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        let rip = try #require(c.lastStop?.rip)
        #expect(c.readMemory(address: rip, count: 3) == [0x0F, 0x01, 0xC2])     // VMLAUNCH (SDM Vol. 2)
        #expect(c.withStopped { $0.cpu.vmx.entries } == 0)
        #expect(c.withStopped { $0.cpu.vmx.nonRoot } == false)
        #expect(Fixture.run("disas rip 1", c).output.contains("vmlaunch"))
        #expect(Fixture.run("info breakpoints", c).output.contains("hit 1 time"))
        // Stepping runs it: the guest's first instruction is at GUEST_RIP (§26.6 "Loading Guest State").
        let guestRIP = try #require(Self.u64(try Self.data("vmcs get GUEST_RIP", c)["value"]))
        #expect(Fixture.run("si", c).succeeded)
        #expect(c.withStopped { $0.cpu.vmx.nonRoot } == true)
        #expect(c.withStopped { $0.cpu.rip } == guestRIP)
    }

    /// At minivmm's CPUID exit: the guest context from the VMCS, the VMM on the CPU.
    @Test(.requires(.guestImage("minivmm"))) func contextsAtTheCPUIDExit() throws {
        let c = try MinivmmAtCPUID.stopped()
        let guestRIP = try #require(Self.u64(try Self.data("vmcs get GUEST_RIP", c)["value"]))
        let hostRIP = try #require(Self.u64(try Self.data("vmcs get HOST_RIP", c)["value"]))
        // After a VM exit the CPU runs the VMM at HOST_RIP (§27.5.3 "Loading Host RIP, RSP, …").
        let ctx = try Self.data("ctx", c)
        #expect(ctx["on_cpu"] as? Bool == true)
        #expect(ctx["selected"] as? Int == MachineController.vmmContext)
        var dis = try #require(try Self.data("disas", c)["instructions"] as? [[String: Any]])
        #expect(Self.u64(dis.first?["address"]) == hostRIP)
        // ctx guest: the guest's registers and code from its VMCS guest-state area.
        #expect(try Self.data("ctx guest", c)["on_cpu"] as? Bool == false)
        let regs = try #require(try Self.data("regs", c)["registers"] as? [String: Any])
        #expect(Self.u64(regs["rip"]) == guestRIP)
        dis = try #require(try Self.data("disas rip 2", c)["instructions"] as? [[String: Any]])
        #expect(Self.u64(dis.first?["address"]) == guestRIP)
        #expect(dis.first?["bytes"] as? String == "0f a2")      // CPUID is 0F A2 (SDM Vol. 2)
        #expect(dis.first?["text"] as? String == "cpuid")
        // Its page walk: minivmm's guest shares the VMM's identity map.
        let x = try Self.data("xlate rip", c)
        #expect(Self.u64(x["linear"]) == guestRIP)
        #expect(Self.u64(x["physical"]) == guestRIP)
        // x reads the guest's address space too.
        #expect(Fixture.run("x/2bx rip", c).output.contains("0x0f  0xa2") || Fixture.run("x/2bx \(guestRIP)", c).output.contains("0x0f  0xa2"))
        // vmcs list: the region is launched (VMLAUNCH succeeded) and belongs to guest context 2.
        let regions = try #require(try Self.data("vmcs list", c)["regions"] as? [[String: Any]])
        #expect(regions.count == 1)
        #expect(regions.first?["launched"] as? Bool == true)
        #expect(regions.first?["context"] as? Int == 2)
        // Back to the VMM, and to following the CPU; the same text through monitor.
        #expect(try Self.data("ctx root", c)["on_cpu"] as? Bool == true)
        #expect(try Self.data("ctx cpu", c)["follows_cpu"] as? Bool == true)
        #expect(DebuggerCommands.execute("disas rip 3", on: c).output == Fixture.run("disas rip 3", c).output)
        #expect(Fixture.run("ctx guest 99", c).status == .usage)
    }

    /// break exit port=0x3f8: the first I/O exit minivmm's guest makes is its kprintf's OUT to
    /// COM1 (I/O bitmap traps COM1, minivmm.c); the qualification carries the port in bits 31:16.
    @Test(.requires(.guestImage("minivmm"))) func exitFilters() throws {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break exit port=0x3f8", c).output.contains("IO_INSTRUCTION"))
        #expect(Fixture.run("c", c).succeeded)
        guard case .vmx(.exit(let reason, let q))? = c.lastStop?.reason else { Issue.record("no exit"); return }
        #expect(reason == 30)                       // Appendix C: I/O instruction
        #expect((q >> 16) & 0xFFFF == 0x3F8)        // Table 27-5: port number in bits 31:16
        // Filters that cannot match their reasons, and bad values, are usage errors.
        #expect(Fixture.run("break exit CPUID msr=0x10", c).status == .usage)
        #expect(Fixture.run("break exit cr=5", c).status == .usage)
        #expect(Fixture.run("break exit port=0x10000", c).status == .usage)
        #expect(Fixture.run("break vmx NOP", c).status == .usage)
    }

    /// bad-guest writes every field it plants (bad-guest.c): `why` names its five mistakes and
    /// warns about no field.
    @Test(.requires(.guestImage("bad-guest"))) func badGuestFieldsWereWritten() throws {
        let (c, _) = try Fixture.controller("bad-guest")
        #expect(Fixture.run("break entry-fail", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        let why = Fixture.run("why", c)
        #expect(!why.output.contains("never written"))
        let failures = try #require(try Self.data("why", c)["failures"] as? [[String: Any]])
        #expect(failures.count >= 5)
        #expect(failures.allSatisfy { ($0["never_written"] as? [String])?.isEmpty == true })
    }

    /// Control bits by name: completion from VMXModel.controlWords, `ctl WORD BIT` on minivmm,
    /// which sets "HLT exiting" (minivmm.c); Table 25-6: HLT exiting is bit 7 of the primary
    /// processor-based controls.
    @Test(.requires(.guestImage("minivmm"))) func controlBits() throws {
        #expect(REPLCompletion.candidates(line: "ctl proc hlt").contains("hlt-exiting"))
        #expect(REPLCompletion.candidates(line: "ctl proc2 enable-e").contains("enable-ept"))
        #expect(REPLCompletion.candidates(line: "ctl pin nmi").contains("nmi-exiting"))
        let c = try MinivmmAtCPUID.stopped()
        let d = try Self.data("ctl proc hlt-exiting", c)
        #expect(d["bit"] as? Int == 7)
        #expect(Self.u64(d["value"]) == 1)
        // Bit 1 of the pin-based controls is default1 (Appendix A.3.1): must be 1.
        let r = try Self.data("ctl pin 1", c)
        #expect(r["must_be_one"] as? Bool == true)
        #expect(Self.u64(r["value"]) == 1)
        #expect(Fixture.run("ctl proc no-such-bit", c).status == .usage)
        #expect(DebuggerCommands.execute("ctl proc hlt-exiting", on: c).output == Fixture.run("ctl proc hlt-exiting", c).output)
    }

    /// disas with no machine state at all: the formatter on SDM encodings.
    @Test func formatterOnKnownEncodings() {
        func t(_ b: [UInt8], _ bits: Int = 64) -> String { Disassembler.format(b, at: 0x1000, bits: bits).text }
        #expect(t([0x0F, 0xA2]) == "cpuid")
        #expect(t([0x0F, 0x01, 0xC2]) == "vmlaunch")
        #expect(t([0x0F, 0x01, 0xC3]) == "vmresume")
        #expect(t([0x0F, 0x01, 0xC1]) == "vmcall")
        #expect(t([0x0F, 0x78, 0xC6]) == "vmread rsi, rax")       // VMREAD r/m64, r64: ModRM C6 = rm rsi, reg rax
        #expect(t([0x48, 0x89, 0xE5]) == "mov rbp, rsp")
        #expect(t([0xEB, 0xFE]) == "jmp 0x1000")                 // jmp $ (rel8 -2)
        #expect(t([0xE8, 0x00, 0x00, 0x00, 0x00]) == "call 0x1005")
        #expect(t([0x0F, 0x22, 0xD8]) == "mov cr3, rax")
        #expect(t([0xEE]) == "out dx, al")
        #expect(t([0xB8, 0x01, 0x00, 0x00, 0x00], 32) == "mov eax, 0x1")
        #expect(t([0x0F, 0x0B]).hasPrefix("(bad)"))               // UD2 decodes to #UD
        #expect(Disassembler.format([0x0F, 0xA2], at: 0, bits: 64).length == 2)
    }
}
