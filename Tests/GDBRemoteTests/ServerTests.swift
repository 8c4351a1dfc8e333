// The NIO transport over real loopback TCP with a raw socket client.
import Foundation
import Testing
@testable import GDBRemote
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client speaking the wire protocol, with a receive timeout.
final class RawClient {
    private(set) var fd: Int32
    var decoder = PacketDecoder()
    var pending: [PacketDecoder.Event] = []
    private(set) var closedByPeer = false

    init(port: Int, receiveTimeout: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var tv = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }  // deinit closes fd
    }

    deinit { disconnect() }

    /// Closes the socket once (a double close could hit a descriptor NIO reused meanwhile).
    func disconnect() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    func sendRaw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ payload: String) { sendRaw(PacketEncoder.frame(payload)) }

    /// The next decoder event, or nil on timeout / EOF.
    func nextEvent() -> PacketDecoder.Event? {
        while pending.isEmpty {
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { closedByPeer = true }
            if n <= 0 { return nil }
            pending += decoder.feed(buf[0..<n])
        }
        return pending.removeFirst()
    }

    /// The next packet payload (skipping acks), or nil.
    func nextPacket() -> String? {
        while let e = nextEvent() {
            if case .packet(let p) = e { return String(decoding: p, as: UTF8.self) }
        }
        return nil
    }

    func ask(_ payload: String) -> String? {
        send(payload)
        return nextPacket()
    }

    /// True once the server has closed the connection (reads EOF).
    func waitForEOF() -> Bool {
        while nextEvent() != nil {}
        return closedByPeer
    }
}

@Suite(.serialized) struct ServerTests {
    @Test func loopbackSessionSecondConnectionRefusedAndReconnect() async throws {
        let target = FakeTarget()
        let logs = LogLines()
        let server = GDBServer(target: target, port: 0, log: { logs.append($0) })
        let port = try await server.start()
        #expect(port > 0)

        let a = try RawClient(port: port)
        a.sendRaw([UInt8(ascii: "+")])
        let features = try #require(a.ask("qSupported:multiprocess+;swbreak+;hwbreak+"))
        #expect(features.hasPrefix("PacketSize=20000;"))
        #expect(features.contains("swbreak+"))
        #expect(a.ask("?") == "T05thread:p1.1;" + expedited(p11))
        #expect(try await server.isGDBConnected())

        // A second gdb is told why and disconnected; the first is unaffected.
        let b = try RawClient(port: port)
        b.send("qSupported:multiprocess+")
        let refusal = b.nextPacket()
        #expect(refusal?.hasPrefix("E.another gdb is already connected") == true)
        #expect(b.waitForEOF())
        #expect(a.ask("qC") == "QCp1.1")

        // Asynchronous stop: the target reports from its own thread after a delay.
        target.onResume = { request, sink in
            usleep(50_000)
            sink.report(GDBStopEvent(thread: request.onlyThread ?? p12, reason: .signal(5)))
        }
        #expect(a.ask("vCont;c") == "T05thread:p1.2;" + expedited(p12))

        // Interrupt while running: 0x03 reaches target.interrupt(), which reports SIGINT.
        target.onResume = nil
        target.onInterrupt = { sink in
            Thread.detachNewThread { sink?.report(GDBStopEvent(thread: p11, reason: .signal(2))) }
        }
        a.send("vCont;c")
        usleep(50_000)
        a.sendRaw([0x03])
        #expect(a.nextPacket() == "T02thread:p1.1;" + expedited(p11))
        #expect(target.interrupts == 1)

        // Abrupt disconnect, then the next gdb is accepted with a fresh connection state.
        _ = a.ask("Z0,1100,1")
        #expect(target.software.count == 1)
        a.disconnect()  // abrupt: no detach
        var waited = 0
        while try await server.isGDBConnected(), waited < 100 {
            try await Task.sleep(nanoseconds: 20_000_000)
            waited += 1
        }
        #expect(try await !server.isGDBConnected())
        #expect(target.software.isEmpty)  // left-over breakpoint removed

        let c = try RawClient(port: port)
        let ack = c.ask("qAttached")
        #expect(ack == "1")
        #expect(c.ask("QStartNoAckMode") == "OK")
        #expect(c.ask("qSupported:multiprocess+")?.hasPrefix("PacketSize=20000") == true)
        #expect(c.ask("?") == "T02thread:p1.1;" + expedited(p11))
        #expect(c.ask("m1000,4") == "00010203")

        try await server.shutdown()
        #expect(c.waitForEOF())
        #expect(logs.all.contains { $0.contains("refused a second gdb connection") })
    }

    @Test func largeReadFitsOnePacket() async throws {
        let target = FakeTarget()
        target.memory[1] = FakeTarget.Region(base: 0x10000, bytes: [UInt8](repeating: 0x5a, count: 0x10000))
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try await server.start()
        let a = try RawClient(port: port)
        _ = a.ask("QStartNoAckMode")
        // gdb reads PacketSize/2 = 0x10000 bytes per m: one reply of 0x20000 hex digits.
        let r = a.ask("m10000,10000")
        #expect(r?.count == 0x20000)
        #expect(r?.allSatisfy { $0 == "5" || $0 == "a" } == true)
        try await server.shutdown()
    }

    @Test func portInUseIsAnError() async throws {
        let first = GDBServer(target: FakeTarget(), port: 0, log: { _ in })
        let port = try await first.start()
        let second = GDBServer(target: FakeTarget(), port: port, log: { _ in })
        await #expect(throws: (any Error).self) { try await second.start() }
        try await first.shutdown()
        try await second.shutdown()
    }

    @Test func blockingStartAndShutdownForSynchronousCallers() throws {
        let server = GDBServer(target: FakeTarget(), port: 0, log: { _ in })
        let port = try server.startBlocking()
        let a = try RawClient(port: port)
        #expect(a.ask("qAttached") == "1")
        try server.shutdownBlocking()
        #expect(a.waitForEOF())
        #expect(throws: (any Error).self) { _ = try RawClient(port: port) }
    }
}
