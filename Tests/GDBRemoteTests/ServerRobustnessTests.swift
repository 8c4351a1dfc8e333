// The transport against hostile or broken clients, over real loopback TCP: a client that sends
// requests and stalls its reading (the stub's memory stays flat), a client that never speaks or
// stops reading (it cannot hold the one gdb slot), and a listening address other than loopback
// (a loud warning).
import Foundation
import NIOCore
import Testing
import TestSupport
@testable import GDBRemote
#if canImport(Glibc)
import Glibc
#endif

/// Resident set size of this process, in bytes (/proc/self/statm: size resident …, in pages).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count >= 2, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A non-blocking client that writes as fast as the server reads, and reads only when it must.
final class StallingClient {
    let fd: Int32

    init(port: Int) throws {
        let c = try RawClient(port: port)
        fd = dup(c.fd)
        c.disconnect()
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; when the socket stays full (the server has stopped reading) for
    /// 20 ms, drains what the server sent — the stalled reader finally reads. Returns the bytes
    /// drained meanwhile.
    func send(_ bytes: [UInt8], deadline: Date) -> Int {
        var off = 0
        var drained = 0
        var fullSince: Date?
        while off < bytes.count, Date() < deadline {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n; fullSince = nil; continue }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK else { return drained }
            if let since = fullSince, Date().timeIntervalSince(since) > 0.02 {
                drained += drain()
                fullSince = nil
            } else {
                if fullSince == nil { fullSince = Date() }
                usleep(1000)
            }
        }
        return drained
    }

    /// Reads whatever is there now.
    func drain() -> Int {
        var total = 0
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return total }
            total += n
        }
    }
}

@Suite(.serialized) struct ServerRobustnessTests {
    /// 10^5 packets (0.1 % of them `m` reads of 64 KiB, answered with 128 KiB each; the rest a
    /// corpus of queries, malformed packets and bad checksums) from a client that reads only
    /// when the server stops taking its requests, and otherwise not until all are sent. The stub
    /// holds at most about one reply bound of output per connection, so this process's RSS stays
    /// flat — before replies were bounded it grew by every unread reply (≈ 16 MiB here).
    @Test func hundredThousandPacketsFromAStallingReaderKeepMemoryFlat() throws {
        let target = FakeTarget()
        target.memory[1] = FakeTarget.Region(base: 0, bytes: [UInt8](repeating: 0x5a, count: 0x10000))
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try server.startBlocking()
        let fuzz = try StallingClient(port: port)
        var rng = SplitMix64(seed: 0x5354_414c_4c)
        let corpus = ["m0,10", "qC", "?", "g", "qfThreadInfo", "qsThreadInfo", "p10", "Hgp1.1", "qAttached",
                      "m0,zz", "Z9,0,1", "vCont;x", "qXfer:threads:read::0,fff", "", "X0,0:", "M0,1:5a"]
        // Warm up allocator and NIO buffers before the baseline.
        _ = fuzz.send(PacketEncoder.frame("qSupported:multiprocess+") + PacketEncoder.frame("QStartNoAckMode")
                      + PacketEncoder.frame("m0,10000"), deadline: Date() + 5)
        usleep(100_000)
        _ = fuzz.drain()
        let baseline = residentBytes()
        // (Under ThreadSanitizer — scripts/tsan.sh sets TSAN_OPTIONS — shadow memory is a
        // multiple of the memory touched.)
        let limit = ProcessInfo.processInfo.environment["TSAN_OPTIONS"] == nil ? 8 << 20 : 48 << 20
        var peak = baseline
        let deadline = Date() + 60
        let started = Date()
        var batch: [UInt8] = []
        var sent = 0
        for i in 0..<100_000 {
            let payload: String
            let r = rng.next() % 1000
            if r < 1 { payload = "m0,10000" }
            // Random queries (never a resume: the target would run and queue the rest).
            else if r < 20 { payload = "q" + String((0..<Int(rng.next() % 24)).map { _ in Character(Unicode.Scalar(UInt8(33 + rng.next() % 90))) }) }
            else { payload = corpus[Int(rng.next() % UInt64(corpus.count))] }
            var framed = PacketEncoder.frame(payload)
            if rng.next() % 50 == 0 { framed[framed.count - 1] ^= 1 }   // a bad checksum
            batch += framed
            if batch.count >= 4096 || i == 99_999 {
                _ = fuzz.send(batch, deadline: deadline)
                batch = []
                peak = max(peak, residentBytes())
            }
            sent += 1
        }
        let sendPhase = Date()
        // The requests now sit in the socket buffers. Before reading anything, give the server
        // time to answer what it takes: until its RSS stops growing (2 s without 1 MiB more),
        // or has grown past the bound, or 30 s.
        var lastGrowth = Date(), grown = residentBytes()
        while Date().timeIntervalSince(lastGrowth) < 2, Date().timeIntervalSince(sendPhase) < 30, peak - baseline < limit {
            usleep(100_000)
            let now = residentBytes()
            peak = max(peak, now)
            if now > grown + (1 << 20) { grown = now; lastGrowth = Date() }
        }
        #expect(Date() < deadline, "the run took more than 60 s")
        let growth = peak - baseline
        print("stalling reader: \(Date().timeIntervalSince(started)) s, \(sent) packets, RSS \(baseline >> 20) MiB → peak \(peak >> 20) MiB (+\(growth >> 10) KiB)")
        #expect(growth < limit, "RSS grew by \(growth >> 20) MiB")
        // The connection still works once the client reads: every request is answered, in
        // order, up to a last one whose reply nothing else produces.
        var decoder = PacketDecoder()
        var last: String?
        var total = 0, eof = false
        let drainedDuringSend = fuzz.send(PacketEncoder.frame("m1,2"), deadline: Date() + 5)
        let end = Date() + 120
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while last != "5a5a", Date() < end {
            let n = buf.withUnsafeMutableBytes { recv(fuzz.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                total += n
                for case .packet(let p) in decoder.feed(buf[0..<n]) where p.count < 16 { last = String(decoding: p, as: UTF8.self) }
            } else { if n == 0 { eof = true }; usleep(2_000) }
        }
        print("stalling reader: send phase ended \(sendPhase), final drain \(Date().timeIntervalSince(sendPhase)) s, \(total) bytes")
        #expect(last == "5a5a", "eof \(eof), \(total) bytes read at the end, \(drainedDuringSend) while sending")
        try server.shutdownBlocking()
    }

    /// A listening address other than loopback is announced loudly; loopback is not.
    @Test func bindingEveryInterfaceWarns() throws {
        let logs = LogLines()
        let open = GDBServer(target: FakeTarget(), host: "0.0.0.0", port: 0, log: { logs.append($0) })
        _ = try open.startBlocking()
        try open.shutdownBlocking()
        let warning = logs.all.first { $0.hasPrefix("WARNING") }
        #expect(warning?.contains("every network interface") == true, "\(logs.all)")
        #expect(warning?.contains("anyone who can connect to this port controls the machine") == true)
        let quiet = LogLines()
        let local = GDBServer(target: FakeTarget(), port: 0, log: { quiet.append($0) })
        _ = try local.startBlocking()
        try local.shutdownBlocking()
        #expect(!quiet.all.contains { $0.contains("WARNING") })
        let v4 = try SocketAddress(ipAddress: "192.0.2.7", port: 1234)
        #expect(GDBServer.exposureWarning(v4, requestedHost: "192.0.2.7")?.contains("not a loopback address") == true)
        #expect(GDBServer.exposureWarning(try SocketAddress(ipAddress: "::", port: 1), requestedHost: "::")?.contains("[::]:1") == true)
        #expect(GDBServer.exposureWarning(try SocketAddress(ipAddress: "::1", port: 1), requestedHost: "::1") == nil)
        #expect(GDBServer.exposureWarning(try SocketAddress(ipAddress: "127.0.0.2", port: 1), requestedHost: "localhost") == nil)
    }

    static var shortLimits: GDBServer.Limits {
        var l = GDBServer.Limits()
        l.firstPacketTimeout = .milliseconds(500)
        l.stallTimeout = .milliseconds(500)
        l.maxPendingOutput = 64 << 10
        return l
    }

    /// A connection that never sends a packet is closed after the first-packet timeout, and a
    /// gdb that connects meanwhile replaces it at once; neither is told "busy".
    @Test func aSilentClientDoesNotHoldTheGDBSlot() throws {
        let logs = LogLines()
        let server = GDBServer(target: FakeTarget(), port: 0, limits: Self.shortLimits, log: { logs.append($0) })
        let port = try server.startBlocking()
        // Alone: closed after the timeout.
        // (Generous bounds: the whole suite runs in parallel on two cores, and the event loop's
        // 500 ms timer can fire seconds late there; what matters is that the slot is freed.)
        let silent = try RawClient(port: port, receiveTimeout: 30)
        let start = Date()
        #expect(silent.waitForEOF())
        #expect(Date().timeIntervalSince(start) < 20)
        // A squatter, then a gdb: the gdb is served, the squatter closed.
        let squatter = try RawClient(port: port)
        usleep(100_000)
        let gdb = try RawClient(port: port)
        #expect(gdb.ask("qSupported:multiprocess+")?.hasPrefix("PacketSize=") == true)
        #expect(squatter.waitForEOF())
        #expect(gdb.ask("qAttached") == "1")
        // A gdb that has spoken and reads its replies keeps the slot: the next one is refused.
        usleep(700_000)
        let second = try RawClient(port: port)
        second.send("qSupported:multiprocess+")
        #expect(second.nextPacket()?.hasPrefix("E.another gdb is already connected") == true)
        #expect(gdb.ask("qAttached") == "1")
        try server.shutdownBlocking()
        #expect(logs.all.contains { $0.contains("no gdb packet within 500 ms") })
    }

    /// A client that stopped reading its replies (its output has not drained for the stall
    /// timeout) is replaced by a new connection.
    @Test func aClientThatStoppedReadingIsReplacedByANewOne() throws {
        let target = FakeTarget()
        target.memory[1] = FakeTarget.Region(base: 0, bytes: [UInt8](repeating: 0x5a, count: 0x10000))
        let server = GDBServer(target: target, port: 0, limits: Self.shortLimits, log: { _ in })
        let port = try server.startBlocking()
        let stalled = try StallingClient(port: port)
        var requests: [UInt8] = PacketEncoder.frame("QStartNoAckMode")
        // 256 × 128 KiB of replies: more than the kernel's socket buffers hold.
        for _ in 0..<256 { requests += PacketEncoder.frame("m0,10000") }
        // Write them all and never read.
        var off = 0
        let end = Date() + 5
        while off < requests.count, Date() < end {
            let n = requests.withUnsafeBytes { Glibc.send(stalled.fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n } else { usleep(2_000) }
        }
        usleep(800_000)   // longer than the stall timeout
        let gdb = try RawClient(port: port)
        #expect(gdb.ask("qSupported:multiprocess+")?.hasPrefix("PacketSize=") == true)
        #expect(gdb.ask("qAttached") == "1")
        try server.shutdownBlocking()
    }
}
