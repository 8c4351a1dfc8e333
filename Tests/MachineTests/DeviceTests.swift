// The I/O-port devices: 16550 UART, debug-exit, the 0xE9 console (with --debugcon), unmapped ports.

import Foundation
import Machine
import Testing
import X86

private func makeBus(qemu: Bool = false, debugcon: ConsoleSink? = nil) -> (PortBus, MemorySink) {
    let sink = MemorySink()
    return (PortBus(console: sink, qemuExitStatus: qemu, debugcon: debugcon), sink)
}

@Suite struct UARTTests {
    @Test func lineStatusShowsTransmitterEmptyAndNoData() {
        let (bus, _) = makeBus()
        #expect(bus.portRead(0x3FD, size: 1) == 0x60)
    }

    @Test func transmittedBytesReachTheSinkUntouched() {
        let (bus, sink) = makeBus()
        let bytes: [UInt8] = Array("Hi\n".utf8) + [0x00, 0xFF, 0x1B, 0x80, 0x0D]
        for b in bytes { bus.portWrite(0x3F8, size: 1, value: UInt32(b)) }
        #expect(sink.bytes == bytes)
        #expect(bus.uart.transmitted == UInt64(bytes.count))
        #expect(bus.portRead(0x3FD, size: 1) == 0x60)  // still empty: infinitely fast transmitter
    }

    @Test func divisorLatchAccessSwitchesRegistersZeroAndOne() {
        let (bus, sink) = makeBus()
        bus.portWrite(0x3F9, size: 1, value: 0x05)  // IER
        bus.portWrite(0x3FB, size: 1, value: 0x83)  // DLAB + 8N1
        bus.portWrite(0x3F8, size: 1, value: 0x03)  // DLL: 38400 baud
        bus.portWrite(0x3F9, size: 1, value: 0x01)  // DLM
        #expect(bus.uart.divisor == 0x0103)
        #expect(bus.portRead(0x3F8, size: 1) == 0x03)
        #expect(bus.portRead(0x3F9, size: 1) == 0x01)
        #expect(sink.bytes.isEmpty)  // DLL write is not transmitted
        bus.portWrite(0x3FB, size: 1, value: 0x03)  // DLAB off
        #expect(bus.portRead(0x3FB, size: 1) == 0x03)
        #expect(bus.portRead(0x3F9, size: 1) == 0x05)  // IER kept through the DLAB window
        bus.portWrite(0x3F8, size: 1, value: 0x41)
        #expect(sink.bytes == [0x41])
        #expect(bus.uart.divisor == 0x0103)
    }

    @Test func interruptIdentificationReflectsFIFOs() {
        let (bus, _) = makeBus()
        #expect(bus.portRead(0x3FA, size: 1) == 0x01)
        bus.portWrite(0x3FA, size: 1, value: 0xC7)  // enable + clear FIFOs, 14-byte trigger
        #expect(bus.portRead(0x3FA, size: 1) == 0xC1)
        #expect(bus.uart.fcr == 0xC1)  // reset bits self-clear
        bus.portWrite(0x3FA, size: 1, value: 0x00)
        #expect(bus.portRead(0x3FA, size: 1) == 0x01)
    }

    @Test func modemAndScratchRegisters() {
        let (bus, _) = makeBus()
        #expect(bus.portRead(0x3FE, size: 1) == 0xB0)  // DCD | DSR | CTS
        bus.portWrite(0x3FC, size: 1, value: 0xFB)
        #expect(bus.portRead(0x3FC, size: 1) == 0x1B)  // bits 7:5 do not exist
        bus.portWrite(0x3FF, size: 1, value: 0x5A)
        #expect(bus.portRead(0x3FF, size: 1) == 0x5A)
        bus.portWrite(0x3FD, size: 1, value: 0x00)  // LSR writes are ignored
        #expect(bus.portRead(0x3FD, size: 1) == 0x60)
    }

    /// The OSDev-wiki style bring-up: init, loopback self-test, then normal operation.
    @Test func loopbackSelfTestThenNormalOutput() {
        let (bus, sink) = makeBus()
        let out: [(UInt16, UInt32)] = [
            (0x3F9, 0x00), (0x3FB, 0x80), (0x3F8, 0x03), (0x3F9, 0x00), (0x3FB, 0x03), (0x3FA, 0xC7), (0x3FC, 0x0B),
            (0x3FC, 0x1E),  // loopback, RTS, OUT1, OUT2
            (0x3F8, 0xAE),  // test byte
        ]
        for (p, v) in out { bus.portWrite(p, size: 1, value: v) }
        #expect(bus.portRead(0x3FD, size: 1) == 0x61)  // data ready
        #expect(bus.portRead(0x3FE, size: 1) == 0xD0)  // DCD←OUT2, RI←OUT1, CTS←RTS
        #expect(bus.portRead(0x3F8, size: 1) == 0xAE)
        #expect(bus.portRead(0x3FD, size: 1) == 0x60)
        #expect(sink.bytes.isEmpty)  // loopback bytes never leave the chip
        bus.portWrite(0x3FC, size: 1, value: 0x0F)
        bus.portWrite(0x3F8, size: 1, value: 0x4F)
        #expect(sink.bytes == [0x4F])
    }

    @Test func loopbackOverrunSetsOverrunErrorUntilLSRIsRead() {
        let (bus, _) = makeBus()
        bus.portWrite(0x3FC, size: 1, value: 0x10)
        bus.portWrite(0x3F8, size: 1, value: 1)
        bus.portWrite(0x3F8, size: 1, value: 2)  // no FIFO: overwrites, overrun
        #expect(bus.portRead(0x3FD, size: 1) == 0x63)
        #expect(bus.portRead(0x3FD, size: 1) == 0x61)
        #expect(bus.portRead(0x3F8, size: 1) == 2)
    }

    @Test func wideAccessIsSplitIntoBytes() {
        let (bus, sink) = makeBus()
        bus.portWrite(0x3FC, size: 1, value: 0x03)
        // 16-bit read at MCR: MCR in the low byte, LSR in the high byte.
        #expect(bus.portRead(0x3FC, size: 2) == 0x6003)
        // 16-bit write at THR: low byte transmitted, high byte goes to IER.
        bus.portWrite(0x3F8, size: 2, value: 0x0241)
        #expect(sink.bytes == [0x41])
        #expect(bus.portRead(0x3F9, size: 1) == 0x02)
        // Straddling the end of the UART: SCR, then unmapped 0x400.
        bus.portWrite(0x3FF, size: 1, value: 0x12)
        #expect(bus.portRead(0x3FF, size: 2) == 0xFF12)
    }
}

@Suite struct DebugPortTests {
    @Test func debugExitRequestsStopWithTheValueWritten() {
        let (bus, _) = makeBus()
        #expect(!bus.stopRequested && bus.exitRequest == nil)
        bus.portWrite(0xF4, size: 1, value: 0x31)
        #expect(bus.stopRequested)
        #expect(bus.exitRequest == DebugExitRequest(value: 0x31, size: 1, requested: 0x31))
        #expect(bus.exitRequest?.status == 0x31 && bus.exitRequest?.truncated == false)
        bus.portWrite(0xF4, size: 1, value: 0x99)  // first request wins until cleared
        #expect(bus.exitRequest?.value == 0x31)
        bus.debugExit.clear()
        #expect(!bus.stopRequested)
        bus.portWrite(0xF4, size: 4, value: 0x1234_5678)
        #expect(bus.exitRequest == DebugExitRequest(value: 0x1234_5678, size: 4, requested: 0x1234_5678))
        bus.debugExit.clear()
        bus.portWrite(0xF4, size: 2, value: 0xABCD_0005)  // masked to the access size
        #expect(bus.exitRequest == DebugExitRequest(value: 5, size: 2, requested: 5))
    }

    /// An exit status has 8 bits: the status is the low 8 bits of what the guest wrote, and the
    /// request says when bits were dropped (0x100 must not pass for success silently, nor 0x103
    /// for a triple fault).
    @Test func exitStatusIsTheLowEightBitsAndSaysWhenBitsWereDropped() {
        let (bus, _) = makeBus()
        for (v, status, truncated) in [(UInt32(0xFF), Int32(0xFF), false), (0x100, 0, true), (0x103, 3, true), (0x1234_5678, 0x78, true)] {
            bus.debugExit.clear()
            bus.portWrite(0xF4, size: 4, value: v)
            #expect(bus.exitRequest?.status == status, "value \(v)")
            #expect(bus.exitRequest?.truncated == truncated, "value \(v)")
            #expect(bus.exitRequest?.requested == UInt64(v))
        }
    }

    @Test func qemuExitStatusMapping() {
        let (bus, _) = makeBus(qemu: true)
        bus.portWrite(0xF4, size: 4, value: 0x10)
        #expect(bus.exitRequest == DebugExitRequest(value: 0x10, size: 4, requested: 0x21))
        #expect(bus.exitRequest?.status == 0x21)
        bus.debugExit.clear()
        bus.portWrite(0xF4, size: 1, value: 0)
        #expect(bus.exitRequest?.status == 1)
        bus.debugExit.clear()
        bus.portWrite(0xF4, size: 1, value: 0x7F)  // (0x7F << 1) | 1 = 0xFF: still fits
        #expect(bus.exitRequest?.status == 0xFF && bus.exitRequest?.truncated == false)
        bus.debugExit.clear()
        bus.portWrite(0xF4, size: 4, value: 0xFFFF_FFFF)  // (v << 1) | 1 = 0x1_FFFF_FFFF: low 8 bits, as QEMU's host exit
        #expect(bus.exitRequest?.requested == 0x1_FFFF_FFFF)
        #expect(bus.exitRequest?.status == 0xFF && bus.exitRequest?.truncated == true)
    }

    @Test func portE9WithDebugconWritesToItsSinkAndReadsBackE9() {
        let e9 = MemorySink()
        let (bus, sink) = makeBus(debugcon: e9)
        bus.portWrite(0x3F8, size: 1, value: UInt32(UInt8(ascii: "a")))
        bus.portWrite(0xE9, size: 1, value: UInt32(UInt8(ascii: "b")))
        bus.portWrite(0x3F8, size: 1, value: UInt32(UInt8(ascii: "c")))
        bus.portWrite(0xE9, size: 1, value: 0)
        #expect(sink.bytes == [0x61, 0x63])
        #expect(e9.bytes == [0x62, 0x00])
        #expect(bus.portRead(0xE9, size: 1) == 0xE9)
        #expect(bus.portRead(0xE9, size: 2) == 0xFFE9)  // 0xEA is unmapped
        bus.portWrite(0xE9, size: 2, value: 0x4443)  // only the low byte goes to 0xE9
        #expect(e9.bytes.last == 0x43 && e9.bytes.count == 3)
    }

    /// Without --debugcon, as QEMU without -debugcon, port 0xE9 is not there: a guest that writes
    /// each byte to both COM1 and 0xE9 prints it once.
    @Test func portE9IsUnmappedByDefault() {
        let (bus, sink) = makeBus()
        for b in Array("hi\n".utf8) {
            bus.portWrite(0x3F8, size: 1, value: UInt32(b))
            bus.portWrite(0xE9, size: 1, value: UInt32(b))
        }
        #expect(sink.text == "hi\n")
        #expect(bus.portRead(0xE9, size: 1) == 0xFF)
        #expect(bus.device(at: 0xE9) == nil)
    }

    @Test(arguments: [UInt16(0x80), 0x60, 0x3F0, 0x400, 0xCF8, 0xFFFF, 0x0])
    func unmappedPortsReadAllOnesPerSizeAndIgnoreWrites(port: UInt16) {
        let (bus, sink) = makeBus()
        #expect(bus.portRead(port, size: 1) == 0xFF)
        #expect(bus.portRead(port, size: 2) == 0xFFFF)
        #expect(bus.portRead(port, size: 4) == 0xFFFF_FFFF)
        for size in [1, 2, 4] { bus.portWrite(port, size: size, value: 0x1234_5678) }
        #expect(sink.bytes.isEmpty)
        #expect(!bus.stopRequested)
    }

    @Test func debugExitReadsAllOnes() {
        let (bus, _) = makeBus()
        #expect(bus.portRead(0xF4, size: 1) == 0xFF)
        #expect(bus.portRead(0xF4, size: 4) == 0xFFFF_FFFF)
    }

    @Test func overlappingDevicesAreRefused() {
        let (bus, sink) = makeBus()
        #expect(!bus.attach(UART16550(base: 0x3FC, sink: sink)))
        #expect(bus.attach(UART16550(base: 0x2F8, sink: sink)))
        #expect(bus.device(at: 0x2FD)?.name == "16550 UART")
        #expect(bus.portRead(0x2FD, size: 1) == 0x60)
    }

    @Test func flushReachesTheSink() {
        let (bus, sink) = makeBus()
        bus.flush()
        #expect(sink.flushCount == 1)
    }
}

@Suite struct ConsoleSinkTests {
    private func temporaryPath() -> String {
        NSTemporaryDirectory() + "vmxemu-sink-\(UInt64.random(in: 0...UInt64.max)).bin"
    }

    @Test func fileSinkFlushesAtNewlineAndOnFlush() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let sink = try FileDescriptorSink(path: path)
        for b in Array("line\n".utf8) { sink.write(b) }
        #expect(FileManager.default.contents(atPath: path) == Data("line\n".utf8))
        for b in [UInt8(0x00), 0xFF, 0x41] { sink.write(b) }
        #expect(FileManager.default.contents(atPath: path) == Data("line\n".utf8))  // buffered
        sink.flush()
        #expect(FileManager.default.contents(atPath: path) == Data("line\n".utf8) + Data([0x00, 0xFF, 0x41]))
    }

    @Test func serialTargetParsing() throws {
        #expect(try SerialTarget(parsing: "stdio") == .stdio)
        #expect(try SerialTarget(parsing: "none") == .none)
        #expect(try SerialTarget(parsing: "file:/tmp/out.txt") == .file(path: "/tmp/out.txt"))
        #expect(throws: SinkError.badSpec("tcp:1234")) { try SerialTarget(parsing: "tcp:1234") }
        #expect(throws: SinkError.badSpec("file:")) { try SerialTarget(parsing: "file:") }
    }

    @Test func unopenableFileIsAnError() {
        #expect(throws: SinkError.self) { try FileDescriptorSink(path: "/nonexistent-dir/x/y") }
    }

    @Test func serialFileTargetReceivesUARTOutput() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        let sink = try SerialTarget(parsing: "file:" + path).makeSink()
        let bus = PortBus(console: sink)
        for b in Array("ok\n".utf8) { bus.portWrite(0x3F8, size: 1, value: UInt32(b)) }
        bus.portWrite(0x3F8, size: 1, value: 0x21)
        bus.flush()
        #expect(FileManager.default.contents(atPath: path) == Data("ok\n!".utf8))
    }
}
