// Bounded fuzzing of the untrusted input: ≥ 100 000 random and mutated packets through the
// session against the fake target. No crash, and every packet gets a reply or a nack.
import TestSupport
import Testing
@testable import GDBRemote


let fuzzCorpus: [String] = [
    "qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386", "vMustReplyEmpty", "QStartNoAckMode", "!", "?",
    "qC", "qAttached", "qAttached:1", "qfThreadInfo", "qsThreadInfo", "qThreadExtraInfo,p1.1", "Tp1.2", "Hgp0.0",
    "Hgp1.1", "Hgp2.-1", "Hc-1", "Hcp1.2", "Hg0", "g", "G" + GDBRegisterFile().gPacket, "p10", "p4c",
    "P10=0010000000000000", "m1000,40", "m8000000000001000,1", "M1000,2:abcd", "X1000,2:ab", "Z0,1100,1",
    "z0,1100,1", "Z1,1000,1", "Z2,2000,8", "z3,2000,4", "Z4,2000,2", "vCont?", "vCont;c", "vCont;s:p1.1",
    "vCont;s:p1.1;c", "vCont;C0b:p2.-1;S05", "c", "s", "c1000", "C05;1000", "S02", "vAttach;2", "D;2", "D",
    "vKill;2", "k", "qRcmd,68656c70", "qXfer:features:read:target.xml:0,ffb", "qXfer:threads:read::0,fff",
    "qXfer:osdata:read:processes:0,fff", "qXfer:exec-file:read:1:0,fff", "qqemu.PhyMemMode",
    "Qqemu.PhyMemMode:1", "Qqemu.PhyMemMode:0", "qTStatus", "vFile:open:2f,0,0", "vFile:pread:1,100,0", "vFile:fstat:1", "vFile:close:1", "vFile:setfs:0",
]

func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var b = input
    let alphabet = Array("0123456789abcdefxp.-,:;=$#}*".utf8)
    for _ in 0...(rng.next() % 4) {
        switch rng.next() % 9 {
        case 0 where !b.isEmpty:  // flip a bit
            let i = Int(rng.next() % UInt64(b.count))
            b[i] ^= UInt8(1 << (rng.next() % 8))
        case 1:  // insert a protocol-ish byte
            let i = Int(rng.next() % UInt64(b.count + 1))
            b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
        case 2 where !b.isEmpty:  // delete
            b.remove(at: Int(rng.next() % UInt64(b.count)))
        case 3 where !b.isEmpty:  // truncate
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        case 4:  // splice with another corpus entry
            let other = Array(fuzzCorpus[Int(rng.next() % UInt64(fuzzCorpus.count))].utf8)
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count + 1)))) + other.suffix(Int(rng.next() % UInt64(other.count + 1)))
        case 5:  // a long number
            let i = Int(rng.next() % UInt64(b.count + 1))
            b.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "f"), count: Int(rng.next() % 40)), at: i)
        case 6:  // random bytes
            b = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 7 where !b.isEmpty:  // replace with a random byte
            b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
        default:
            break
        }
    }
    return b
}

@Suite struct FuzzTests {
    @Test func hundredThousandMutatedPacketsEachGetAReplyOrNack() throws {
        var rng = SplitMix64(seed: 0x766d_7865_6d75)
        let t = FakeTarget()
        var h = Harness(t)
        h.handshake(noAck: false)
        var replied = 0, nacked = 0, closed = 0, silentKills = 0
        let threads = [p11, p12, p21, GDBThreadID(pid: 9, tid: 9)]
        let reasons: [GDBStopReason] = [.signal(5), .signal(2), .softwareBreakpoint, .hardwareBreakpoint,
                                        .watchpoint(.writeWatch, address: 0x2000), .exited(code: 1),
                                        .terminated(signal: 9)]
        let total = 100_000
        for i in 0..<total {
            if i % 1000 == 0 {
                // A fresh gdb now and then, so detach/kill/exits do not leave nothing to test.
                h = Harness(FakeTarget())
                h.handshake(noAck: rng.next() % 2 == 0)
            }
            let seed = Array(fuzzCorpus[Int(rng.next() % UInt64(fuzzCorpus.count))].utf8)
            let payload = rng.next() % 8 == 0 ? seed : mutate(seed, &rng)
            var framed = PacketEncoder.frame(payload, runLengthEncoding: rng.next() % 4 == 0)
            if rng.next() % 16 == 0 { framed[framed.count - 1] ^= 0x01 }  // bad checksum
            var out = h.raw(framed)
            // A resume gets its reply when the target stops: report stops until it has.
            var rounds = 0
            while h.session.isRunning, rounds < 8, let sink = (h.target as? FakeTarget)?.sink {
                let req = h.session.running
                let someAttached = GDBThreadID(pid: h.session.attached.min() ?? 1, tid: 1)
                let thread = rounds < 2 ? threads[Int(rng.next() % 4)] : (req?.onlyThread ?? someAttached)
                let reason = rounds < 2 ? reasons[Int(rng.next() % UInt64(reasons.count))] : .signal(5)
                sink.report(GDBStopEvent(thread: thread, reason: reason))
                for (g, e) in h.stops.drain() { out += h.session.handleStop(generation: g, event: e).bytes }
                rounds += 1
            }
            var d = PacketDecoder()
            let events = d.feed(out)
            let gotReply = events.contains { if case .packet = $0 { return true } else { return false } }
            let gotNack = events.contains(.nack)
            if gotReply { replied += 1 } else if gotNack { nacked += 1 }
            if h.lastOutput.close {
                closed += 1
                h.session.disconnect()
                _ = h.session.connect()
                h.handshake(noAck: false)
            } else if !gotReply && !gotNack {
                // Only `k` may go unanswered (in extended mode, where the connection stays).
                let parsed = try? GDBPacket.parse(payload)
                let isKill = parsed == .kill
                if isKill { silentKills += 1 }
                #expect(isKill || h.session.isRunning, "no reply to \(String(decoding: payload, as: UTF8.self).debugDescription)")
                if h.session.isRunning { h = Harness(FakeTarget()); h.handshake(noAck: false) }
            }
        }
        #expect(replied + nacked + closed + silentKills == total)
        #expect(replied > total / 2)
        #expect(nacked > 1000)
    }

    @Test func randomBytesNeverCrashAndTheSessionRecovers() {
        var rng = SplitMix64(seed: 42)
        let h = Harness(FakeTarget())
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 200)
            var chunk = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 3 == 0 { chunk.insert(UInt8(ascii: "$"), at: 0) }
            _ = h.raw(chunk)
            if h.lastOutput.close { h.session.disconnect(); _ = h.session.connect() }
            if h.session.isRunning, let s = (h.target as? FakeTarget)?.sink {
                s.report(GDBStopEvent(thread: h.session.running?.onlyThread ?? p11, reason: .signal(5)))
                _ = h.deliverStops()
            }
        }
        // Finish any half-received packet, then the session still answers.
        h.session.disconnect()
        _ = h.session.connect()
        #expect(h.ask("qAttached") == "1")
    }

    @Test func decoderBoundsMemoryOnEndlessInput() {
        var rng = SplitMix64(seed: 7)
        var d = PacketDecoder(maxPayload: 4096)
        _ = d.feed(byte: UInt8(ascii: "$"))
        var overflowSeen = false
        // 1 MiB of payload bytes without '#' or '$': stays one packet, bounded.
        for _ in 0..<(1 << 20) {
            var b = UInt8(truncatingIfNeeded: rng.next())
            if b == UInt8(ascii: "#") || b == UInt8(ascii: "$") { b = 0x41 }
            if let e = d.feed(byte: b) { if e == .overflow { overflowSeen = true } }
        }
        #expect(d.isMidPacket)
        #expect(!overflowSeen)  // reported once, at the end of the packet
        #expect(d.feed(Array("#00".utf8)) == [.overflow])
    }
}
