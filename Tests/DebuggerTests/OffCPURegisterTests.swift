// gdb writing the registers of a context that is off the CPU: a guest's go to its VMCS
// guest-state fields, the VMM's to the host-state fields; a register the VMCS does not hold is
// refused with a message naming it (not a bare E16).
import Debugger
import Foundation
import GDBRemote
import Machine
import Testing
import X86

@Suite struct OffCPURegisterWrites {
    static let image = E2E.image("minivmm")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: image))) func writesGoToTheVMCS() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.image)))
        let m = Machine(memoryBytes: 128 << 20, console: NullSink())
        try m.boot(kernel: bytes)
        let c = MachineController(machine: m)
        defer { c.shutdown() }
        let repl = CommandContext(controller: c, frontDoor: .repl)
        #expect(DebuggerCommands.execute("break exit CPUID", context: repl).succeeded)
        #expect(DebuggerCommands.execute("c", context: repl).succeeded)
        #expect(DebuggerCommands.execute("delete", context: repl).succeeded)
        let t = MachineTarget(controller: c)
        let guest = GDBThreadID(pid: 2, tid: 1)
        #expect(c.currentContext == 1 && c.vmcs(ofContext: 2) != nil)
        let vmcs = try #require(c.vmcs(ofContext: 2))

        // The guest is off the CPU: rip, rsp, cr3 land in its guest-state area.
        var f = GDBRegisterFile()
        f.set("rip", 0x10_2345); f.set("rsp", 0x11_8000); f.set("cr3", 0x20_1000)
        try t.writeRegisters(guest, f)
        #expect(c.withStopped { $0.cpu.vmcsRead(.guestRIP, at: vmcs) } == 0x10_2345)
        #expect(c.withStopped { $0.cpu.vmcsRead(.guestRSP, at: vmcs) } == 0x11_8000)
        #expect(c.withStopped { $0.cpu.vmcsRead(.guestCR3, at: vmcs) } == 0x20_1000)
        #expect(c.withStopped { $0.cpu.vmcsWritten(.guestCR3, at: vmcs) } == true)
        #expect(try t.readRegisters(guest).value("rip") == 0x10_2345)
        // A whole-file write (gdb's G) of what was read back changes nothing and is accepted.
        try t.writeRegisters(guest, try t.readRegisters(guest))

        // rax is not in the VMCS: an explicit refusal, and nothing of the file is written.
        var bad = GDBRegisterFile()
        bad.set("rip", 0x10_0000); bad.set("rax", 1)
        do {
            try t.writeRegisters(guest, bad)
            Issue.record("writing rax of an off-CPU guest succeeded")
        } catch {
            #expect(error.message?.contains("rax") == true)
            #expect(error.message?.contains("VMCS") == true)
        }
        #expect(c.withStopped { $0.cpu.vmcsRead(.guestRIP, at: vmcs) } == 0x10_2345)
    }
}
