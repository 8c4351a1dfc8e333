// ≥ 100 000 random and mutated packets through a GDBSession into the real adapter and CPU
// (register writes that change the mode, memory writes into running code, breakpoints at odd
// addresses, resumes, monitor lines): the host never crashes or hangs, every packet is answered,
// and a real gdb is served afterwards.
import TestSupport
import Debugger
import Foundation
import GDBRemote
import Machine
import Testing
import X86

typealias FuzzRNG = SplitMix64   // (TestSupport)

private func monitorPacket(_ line: String) -> String { "qRcmd," + Hex.encode(Array(line.utf8)) }

private let corpus: [String] = [
    "?", "qC", "qAttached", "qfThreadInfo", "qsThreadInfo", "qThreadExtraInfo,p1.1", "Hgp1.1", "Hgp0.0", "Hcp1.1",
    "g", "G" + String(repeating: "0", count: GDBRegisterLayout.x86_64.gPacketLength), "p10", "p12", "p3b", "p3d", "p52",
    "P10=0010000000000000", "P0=0500000000000000", "P12=08000000", "P15=10000000", "P16=18000000",
    "P3b=1100008000000000", "P3b=3100000000000000", "P3d=0000010000000000", "P3e=2000000000000000",
    "P40=0005000000000000", "P11=46020000", "P1c=0100000000000000",
    "m1000,40", "m7ff0,20", "m8000000000001000,8", "mffffffffffff0000,10",
    "M3000,4:78563412", "M1000,2:ebfe", "X1004,1:\u{90}", "M7ffe,4:00000000",
    "Z0,1003,1", "z0,1003,1", "Z1,1005,1", "z1,1005,1", "Z2,3000,4", "z2,3000,4", "Z3,3000,1", "Z4,2ffe,4",
    "Z2,3000,100000", "z4,2ffe,4", "vCont?", "vCont;s:p1.1", "vCont;c", "vCont;c:p1.1", "s", "c", "S05", "C02",
    "vCont;s:p2.1", "vAttach;1", "vAttach;2", "vKill;2", "D;2", "qXfer:threads:read::0,fff",
    "qXfer:osdata:read:processes:0,fff", "qXfer:exec-file:read:1:0,fff", "qqemu.PhyMemMode", "Qqemu.PhyMemMode:1",
    "Qqemu.PhyMemMode:0", monitorPacket("status"), monitorPacket("regs"), monitorPacket("translate 0x1000"),
    monitorPacket("translate 0xffffffffffffffff"), monitorPacket("phys on"), monitorPacket("phys off"),
    monitorPacket("help translate"), monitorPacket("translate rip+0x10"),
]

private func mutate(_ input: [UInt8], _ rng: inout FuzzRNG) -> [UInt8] {
    var b = input
    let alphabet = Array("0123456789abcdefxp.-,:;=$#}*".utf8)
    for _ in 0...(rng.next() % 3) {
        switch rng.next() % 8 {
        case 0 where !b.isEmpty:
            let i = Int(rng.next() % UInt64(b.count))
            b[i] ^= UInt8(1 << (rng.next() % 8))
        case 1:
            b.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: Int(rng.next() % UInt64(b.count + 1)))
        case 2 where !b.isEmpty:
            b.remove(at: Int(rng.next() % UInt64(b.count)))
        case 3 where !b.isEmpty:
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
        case 4:
            let other = Array(corpus[Int(rng.next() % UInt64(corpus.count))].utf8)
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count + 1)))) + other.suffix(Int(rng.next() % UInt64(other.count + 1)))
        case 5 where !b.isEmpty:
            // A hex digit changed: a nearby address, register or value.
            let i = Int(rng.next() % UInt64(b.count))
            b[i] = Array("0123456789abcdef".utf8)[Int(rng.next() % 16)]
        case 6:
            b = (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        default:
            break
        }
    }
    return b
}

/// A session over a fresh machine running a store loop, driven by hand.
private final class FuzzRig {
    let machine: Machine
    let target: MachineTarget
    let session: GDBSession
    let stops = SessionStops()

    init() {
        // loop: inc eax; mov [0x3000], eax; jmp loop
        machine = makeMachine(code: I.incEAX + I.movToMem(0x3000) + [0xEB, 0xF8])
        target = MachineTarget(machine: machine, hooks: MachineTargetHooks(log: { _ in }))
        let stops = self.stops
        session = GDBSession(target: target, log: { _ in }, stopDelivery: { g, e in stops.add(g, e) })
        _ = session.connect()
        _ = session.receive(PacketEncoder.frame("qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+"))
    }

    /// Feeds bytes; a resume is interrupted at once and its stop delivered. Returns the output.
    func feed(_ bytes: [UInt8]) -> (bytes: [UInt8], close: Bool, stuck: Bool) {
        let o = session.receive(bytes)
        var out = o.bytes
        var rounds = 0
        while session.isRunning {
            rounds += 1
            if rounds > 4 { return (out, o.close, true) }
            target.interrupt()
            guard let (g, e) = stops.next(timeout: 5) else { continue }
            out += session.handleStop(generation: g, event: e).bytes
        }
        return (out, o.close, false)
    }
}

@Suite(.serialized) struct AdapterFuzzTests {
    @Test func hundredThousandPacketsIntoTheRealAdapterThenARealGDB() throws {
        var rng = FuzzRNG(state: 0x6164_6170_7465_72)
        var rig = FuzzRig()
        let total = 100_000
        var replied = 0, nacked = 0, closed = 0, silent = 0, resumes = 0, stuck = 0
        var lastRig = rig
        for i in 0..<total {
            if i % 5000 == 0 { rig.target.controller.shutdown(); rig = FuzzRig() }
            let seed = Array(corpus[Int(rng.next() % UInt64(corpus.count))].utf8)
            let payload = rng.next() % 4 == 0 ? seed : mutate(seed, &rng)
            var framed = PacketEncoder.frame(payload)
            if rng.next() % 32 == 0 { framed[framed.count - 1] ^= 0x01 }
            let wasRunning = rig.session.isRunning
            let (out, close, isStuck) = rig.feed(framed)
            if isStuck {
                stuck += 1
                print("stuck after \(String(decoding: payload, as: UTF8.self).debugDescription)")
                rig.target.controller.shutdown(); rig = FuzzRig(); continue
            }
            if rig.session.running == nil && !wasRunning, (try? GDBPacket.parse(payload)).map(isResume) == true { resumes += 1 }
            var d = PacketDecoder()
            let events = d.feed(out)
            if events.contains(where: { if case .packet = $0 { return true } else { return false } }) {
                replied += 1
            } else if events.contains(.nack) {
                nacked += 1
            } else if close {
                closed += 1
            } else {
                silent += 1
                #expect((try? GDBPacket.parse(payload)) == .kill, "no reply to \(String(decoding: payload, as: UTF8.self).debugDescription)")
            }
            if close {
                rig.session.disconnect()
                _ = rig.session.connect()
                _ = rig.session.receive(PacketEncoder.frame("qSupported:multiprocess+;swbreak+;hwbreak+"))
            }
            lastRig = rig
        }
        print("adapter fuzz: \(total) packets — \(replied) replies, \(nacked) nacks, \(closed) closes, \(silent) silent, \(resumes) resumes, \(stuck) stuck")
        #expect(replied + nacked + closed + silent + stuck == total)
        #expect(stuck == 0)
        #expect(replied > total / 2)
        #expect(resumes > 1000)

        // The fuzzed machine still serves stock gdb over TCP.
        try Oracle.require(.gdb)
        let target = MachineTarget(controller: lastRig.target.controller, hooks: MachineTargetHooks(log: { _ in }))
        lastRig.session.disconnect()
        let server = GDBServer(target: target, port: 0, log: { _ in })
        let port = try server.startBlocking()
        defer { try? server.shutdownBlocking() }
        let out = try GDB.run(["target remote 127.0.0.1:\(port)", "info registers rip", "monitor status", "stepi",
                               "info registers rip", "detach"], helper: true)
        #expect(out.matches(#"rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+"#))
        #expect(out.contains("state:         stopped"))
        #expect(out.contains("[Inferior 1 (process 1) detached]"))
        #expect(!out.contains("internal-error"))
    }
}

private func isResume(_ p: GDBPacket) -> Bool {
    switch p {
    case .continue, .step, .vCont: return true
    default: return false
    }
}
