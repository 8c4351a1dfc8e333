// A gdb that connects while the machine runs free stops it without the server's event loop ever
// waiting for the CPU: the packets wait for the stop, the loop goes on serving.
import Debugger
import Foundation
import GDBRemote
import Machine
import Testing
import X86

/// An I/O port whose write blocks until the test opens the gate: the CPU thread is held inside
/// an OUT instruction, where no interrupt request can stop it.
final class GatePort: PortDevice, @unchecked Sendable {
    let name = "test gate"
    let ports: ClosedRange<UInt16> = 0x80...0x80
    let entered = DispatchSemaphore(value: 0)
    let gate = DispatchSemaphore(value: 0)
    func read(port: UInt16, size: Int) -> UInt32 { 0xFF }
    func write(port: UInt16, size: Int, value: UInt32) {
        entered.signal()
        gate.wait()
    }
}

@Suite struct ConnectWhileRunningTests {
    @Test func connectingGDBNeverBlocksTheEventLoop() throws {
        let m = makeMachine(code: [0xE6, 0x80] + I.spin)          // out 0x80, al; jmp $
        let port = GatePort()
        #expect(m.bus.attach(port))
        let target = MachineTarget(machine: m)
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let p = try server.startBlocking()
        target.startFreeRun()
        #expect(port.entered.wait(timeout: .now() + 10) == .success)
        // The CPU is stuck in the OUT. A gdb connects and asks.
        let gdb = try RawGDBClient(port: p)
        gdb.send("qSupported:multiprocess+")
        usleep(100_000)
        // The loop still serves at once (before: it waited up to 5 s for the CPU to stop): a
        // second gdb is told at once that one is connected.
        let start = Date()
        let second = try RawGDBClient(port: p)
        let refusal = second.ask("qSupported:multiprocess+")
        let waited = Date().timeIntervalSince(start)
        #expect(refusal?.hasPrefix("E.another gdb is already connected") == true, "\(refusal ?? "nil")")
        #expect(waited < 1, "the event loop was blocked for \(waited) s")
        // Open the gate: the CPU finishes the OUT, sees the stop request, and the packets that
        // waited are answered; gdb finds the machine stopped after the OUT.
        port.gate.signal()
        #expect(gdb.nextPacket()?.hasPrefix("PacketSize=") == true)
        let stop = gdb.ask("?")
        #expect(stop?.hasPrefix("T05thread:p1.1;") == true, "\(stop ?? "nil")")
        #expect(target.controller.lastStop?.reason == .interrupted)
        #expect(target.controller.withStopped { $0.cpu.rip } == 0x1002)
        #expect(gdb.ask("vKill;1") == "OK")
        try server.shutdownBlocking()
        target.controller.shutdown()
    }
}
