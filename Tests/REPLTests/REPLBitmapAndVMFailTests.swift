// Transcript tests for `msrbitmap`, `iobitmap`, `vmcs set` and `break vmfail`, checked against
// what the guests do (minivmm traps MSR 0x174 in its MSR bitmap and the COM1 port in its I/O
// bitmaps; vmx-errors' first observations fail VMXON) and the SDM.
import Debugger
import Foundation
import Testing
import TestSupport
import X86

@Suite(.serialized) struct REPLBitmapAndVMFailTests {
    /// minivmm at its first CPUID exit (see REPLCommandTests.stopped()).
    static func stopped() throws -> MachineController {
        let (c, _) = try Fixture.controller("minivmm")
        #expect(Fixture.run("break exit CPUID", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        return c
    }

    /// §24.6.9 "MSR-Bitmap Address" / §25.1.3: minivmm sets the read-low and write-low bits of
    /// MSR 174H (IA32_SYSENTER_CS) and nothing for IA32_EFER (C0000080H, the read-high and
    /// write-high bitmaps stay clear). §24.6.4 "I/O-Bitmap Addresses": bitmap A has the bit of
    /// port 3F8H (the guest prints through COM1), not the bit of port 80H.
    @Test(.requires(.guestImage("minivmm"))) func msrAndIOBitmapsAnswerForTheGuest() throws {
        let c = try Self.stopped()
        let sysenter = Fixture.run("msrbitmap 0x174", c)
        #expect(sysenter.succeeded && sysenter.output.contains("RDMSR exits, WRMSR exits"), "\(sysenter.output)")
        let efer = Fixture.run("msrbitmap 0xc0000080", c)
        #expect(efer.output.contains("RDMSR does not exit, WRMSR does not exit"), "\(efer.output)")
        #expect(Fixture.run("iobitmap 0x3f8", c).output.contains("port 0x3f8 exits"))
        #expect(Fixture.run("iobitmap 0x80", c).output.contains("port 0x80 does not exit"))
        // The answers agree with the bitmaps in guest memory: the MSR bitmap's read-low byte of
        // MSR 174H is at offset 174H / 8 = 2EH, bit 4.
        let bitmap = try #require(c.withStopped { m in m.cpu.vmcsRead(.msrBitmaps, at: m.cpu.vmx.currentVMCS) })
        let byte = try #require(c.readPhysical(address: bitmap + 0x2E, count: 1)?.first)
        #expect(byte & 0x10 == 0x10)
        #expect(Fixture.run("msrbitmap nonsense", c).status == .usage)
    }

    /// `vmcs set FIELD VALUE` writes the current VMCS (the next VMRESUME loads it): the field
    /// reads back, by `vmcs get` and in the VMCS region itself.
    @Test(.requires(.guestImage("minivmm"))) func vmcsSetWritesTheCurrentVMCS() throws {
        let c = try Self.stopped()
        let r = Fixture.run("vmcs set GUEST_RSP 0x1000", c)
        #expect(r.succeeded, "\(r.output)")
        #expect(Fixture.run("vmcs get GUEST_RSP", c).output.contains("GUEST_RSP = 0x0000000000001000"))
        #expect(c.withStopped { m in m.cpu.vmcsRead(.guestRSP, at: m.cpu.vmx.currentVMCS) } == 0x1000)
        // A read-only data field (exit information, §24.9): the debugger may write it, and says
        // that VMWRITE could not (VM-instruction error 13, §30.4).
        let ro = Fixture.run("vmcs set VM_EXIT_REASON 0", c)
        #expect(ro.output.contains("VMWRITE could not do this (error 13)"), "\(ro.output)")
    }

    /// `break vmfail` stops after any VMX instruction that fails. vmx-errors' first VMfail is a
    /// VMXON whose region is not 4-KByte aligned: VMfailInvalid (§30.3 "VMXON"), RFLAGS.CF = 1.
    @Test(.requires(.guestImage("vmx-errors"))) func breakVMFailStopsAtTheFirstFailingVMXInstruction() throws {
        let (c, _) = try Fixture.controller("vmx-errors")
        #expect(Fixture.run("break vmfail", c).succeeded)
        #expect(Fixture.run("c", c).succeeded)
        guard case .vmx(.vmfail(let error))? = c.lastStop?.reason else {
            Issue.record("not stopped at a VMfail: \(String(describing: c.lastStop))"); return
        }
        #expect(error == 0)                                                   // VMfailInvalid
        #expect(c.withStopped { $0.cpu.rflags & RFLAGS.cf } == RFLAGS.cf)
        #expect(c.withStopped { $0.cpu.vmx.on } == false)                     // VMXON did not enter VMX operation
    }
}
