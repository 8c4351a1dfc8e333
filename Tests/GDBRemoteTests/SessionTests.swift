// The session against an in-memory target: the connect sequence, every packet's reply, and each
// gdb rule of docs/DESIGN.md ("The gdb context model") as its own test.
import Foundation
import Testing
@testable import GDBRemote

let p11 = GDBThreadID(pid: 1, tid: 1)
let p12 = GDBThreadID(pid: 1, tid: 2)
let p21 = GDBThreadID(pid: 2, tid: 1)

/// The expedited registers of the fake target's threads.
func expedited(_ t: GDBThreadID) -> String {
    let rip = 0x1000 + UInt64(t.pid) * 0x100 + UInt64(t.tid - 1)
    let rsp = 0x8000 + UInt64(t.pid) * 0x100
    return "06:\(Hex.encode(Hex.littleEndian(0x9000, count: 8)));07:\(Hex.encode(Hex.littleEndian(rsp, count: 8)));"
        + "10:\(Hex.encode(Hex.littleEndian(rip, count: 8)));"
}

@Suite struct SessionTests {
    @Test func connectSequenceOfGDB13() {
        let h = Harness(FakeTarget())
        let features = h.ask("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386")
        #expect(features == "PacketSize=20000;QStartNoAckMode+;multiprocess+;qXfer:features:read+;qXfer:threads:read+;vContSupported+;qXfer:osdata:read+;qXfer:exec-file:read+;swbreak+;hwbreak+")
        #expect(h.ask("vMustReplyEmpty") == "")
        // In ack mode every packet is acked first.
        let raw = h.raw(PacketEncoder.frame("QStartNoAckMode"))
        #expect(raw.first == UInt8(ascii: "+"))
        #expect(Harness.payloads(raw) == ["OK"])
        #expect(!h.session.ackMode)
        let raw2 = h.raw(PacketEncoder.frame("Hgp0.0"))
        #expect(raw2 == PacketEncoder.frame("OK"))  // no '+' any more
        let xml = h.ask("qXfer:features:read:target.xml:0,ffb")
        #expect(xml.hasPrefix("m<?xml") || xml.hasPrefix("l<?xml"))
        #expect(h.ask("qTStatus") == "")
        #expect(h.ask("?") == "T05thread:p1.1;" + expedited(p11))
        #expect(h.ask("qfThreadInfo") == "mp1.1,p1.2")  // only the attached VMM (docs/DESIGN.md)
        #expect(h.ask("qsThreadInfo") == "l")
        #expect(h.ask("qAttached:1") == "1")
        #expect(h.ask("Hc-1") == "OK")
        #expect(h.ask("qC") == "QCp1.1")
        #expect(h.ask("g").count == GDBRegisterLayout.x86_64.gPacketLength)
        #expect(h.ask("m1000,4") == "00010203")
        #expect(h.ask("vCont?") == "vCont;c;C;s;S")
    }

    @Test func qSupportedIsDerivedFromTheTarget() {
        let h = Harness(MinimalTarget())
        let features = h.ask("qSupported:multiprocess+;swbreak+;hwbreak+").split(separator: ";").map(String.init)
        #expect(features.contains("PacketSize=20000"))
        #expect(features.contains("qXfer:features:read+"))
        for missing in ["swbreak+", "hwbreak+", "qXfer:osdata:read+", "qXfer:exec-file:read+"] {
            #expect(!features.contains(missing), "\(missing) advertised by a target without it")
        }
        // Unimplemented capabilities answer "not supported" (empty), never OK.
        for p in ["Z0,1000,1", "Z1,1000,1", "Z2,1000,4", "z0,1000,1", "vAttach;1", "vKill;1", "!", "qRcmd,68656c70",
                  "qXfer:osdata:read:processes:0,100", "qXfer:exec-file:read::0,100", "qqemu.PhyMemMode",
                  "Qqemu.PhyMemMode:1"] {
            #expect(h.ask(p) == "", "\(p)")
        }
        #expect(GDBCapabilities(MinimalTarget()).watchpoints.isEmpty)
    }

    @Test func watchpointSupportIsPerType() {
        let t = FakeTarget()
        t.supportedWatchpoints = [.writeWatch, .software]  // .software is not a watchpoint: ignored
        let h = Harness(t)
        h.handshake()
        #expect(h.session.capabilities.watchpoints == [.writeWatch])
        #expect(h.ask("Z2,1000,4") == "OK")
        #expect(h.ask("Z3,1000,4") == "")
        #expect(h.ask("Z4,1000,4") == "")
        #expect(t.watch == [[1, 2, 0x1000, 4]])
    }

    // gdb rule "current after stop": after every stop reply the reported thread is current for g/m.
    @Test func rule1StopThreadBecomesCurrent() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("Hgp1.1") == "OK")
        #expect(h.ask("vCont;c") == "<none>")
        let sink = try #require(t.sink)
        sink.report(GDBStopEvent(thread: p12, reason: .signal(5)))
        #expect(h.deliverStops() == ["T05thread:p1.2;" + expedited(p12)])
        // No Hg: g and p read vCPU1, whose rax is (1 << 32) | 2.
        let g = h.ask("g")
        #expect(g.prefix(16) == Hex.encode(Hex.littleEndian(1 << 32 | 2, count: 8)))
        #expect(h.ask("p10") == Hex.encode(Hex.littleEndian(0x1101, count: 8)))
        #expect(h.session.currentThread == p12)
    }

    // gdb rule "qC after attach": after vAttach;N, qC names a thread of N (of the last stop/attach), not Hg's.
    @Test func rule2QCAfterAttachNamesTheAttachedProcess() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("!") == "OK")
        #expect(h.ask("vAttach;2") == "T05thread:p2.1;" + expedited(p21))
        #expect(t.attachedPids == [2])
        #expect(h.ask("Hgp1.1") == "OK")  // gdb may select another process in between
        #expect(h.ask("qC") == "QCp2.1")
        #expect(h.ask("qfThreadInfo") == "mp1.1,p1.2,p2.1")
        // Memory is served in the address space of the last Hg process.
        #expect(h.ask("m4000,2") == "E0e")
        #expect(h.ask("Hgp2.1") == "OK")
        #expect(h.ask("m4000,2") == "9090")
        #expect(h.ask("vAttach;7") == "E03")
    }

    // gdb rule "a step stops in its own thread": a single-thread resume must stop in that thread.
    @Test func rule3SingleThreadStepStopsInThatThread() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vAttach;2")
        #expect(h.ask("vCont;s:p1.1") == "<none>")
        #expect(t.resumes.last?.onlyThread == p11)
        #expect(t.resumes.last?.kind(for: p11) == .step(signal: nil))
        #expect(t.resumes.last?.kind(for: p12) == nil)  // stays stopped
        // The target wrongly reports a stop in another context: not passed to gdb, resumed again.
        try #require(t.sink).report(GDBStopEvent(thread: p21, reason: .signal(5)))
        #expect(h.deliverStops() == [])
        #expect(t.resumes.count == 2)
        #expect(t.resumes.last?.onlyThread == p11)
        #expect(h.logs.all.contains { $0.contains("a step stops in its own thread") })
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(5)))
        #expect(h.deliverStops() == ["T05thread:p1.1;" + expedited(p11)])
        // A resume of several threads has no onlyThread.
        _ = h.ask("vCont;s:p1.1;c")
        #expect(t.resumes.last?.onlyThread == nil)
        #expect(t.resumes.last?.kind(for: p21) == .continue(signal: nil))
    }

    @Test func rule3InterruptDuringSingleThreadResumeIsReportedInThatThread() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vCont;c:p1.2")
        _ = h.raw([0x03])
        #expect(t.interrupts == 1)
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(2)))
        #expect(h.deliverStops() == ["T02thread:p1.2;" + expedited(p12)])
    }

    // gdb rule "swbreak only where inserted": swbreak only where gdb inserted a breakpoint in that process.
    @Test func rule4SwbreakOnlyWhereGDBInsertedOne() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        // No breakpoint: a guest int3 must be a plain SIGTRAP.
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .softwareBreakpoint))
        #expect(h.deliverStops() == ["T05thread:p1.1;" + expedited(p11)])
        // With Z0 at the pc in this process: swbreak.
        #expect(h.ask("Z0,1100,1") == "OK")
        #expect(t.software == [[1, 0x1100, 1]])
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .softwareBreakpoint))
        #expect(h.deliverStops() == ["T05thread:p1.1;swbreak:;" + expedited(p11)])
        // A breakpoint at another address does not make p1.2's stop (rip 0x1101) a swbreak.
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p12, reason: .softwareBreakpoint))
        #expect(h.deliverStops() == ["T05thread:p1.2;" + expedited(p12)])
        #expect(h.ask("z0,1100,1") == "OK")
        #expect(t.software.isEmpty)
        // hwbreak likewise.
        #expect(h.ask("Z1,1101,1") == "OK")
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p12, reason: .hardwareBreakpoint))
        #expect(h.deliverStops() == ["T05thread:p1.2;hwbreak:;" + expedited(p12)])
    }

    @Test func swbreakNotSentToAGDBThatDidNotOfferIt() throws {
        let t = FakeTarget()
        let h = Harness(t)
        _ = h.ask("qSupported:multiprocess+")
        _ = h.ask("Z0,1100,1")
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .softwareBreakpoint))
        #expect(h.deliverStops() == ["T05thread:p1.1;" + expedited(p11)])
    }

    // gdb rule "watchpoints after the access": watchpoints are reported with their address.
    @Test func watchpointStopCarriesAddress() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("Z2,2000,8") == "OK")
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .watchpoint(.writeWatch, address: 0x2000)))
        #expect(h.deliverStops() == ["T05thread:p1.1;watch:2000;" + expedited(p11)])
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .watchpoint(.accessWatch, address: 0x2004)))
        #expect(h.deliverStops() == ["T05thread:p1.1;awatch:2004;" + expedited(p11)])
    }

    // gdb rule "stops only in attached processes": stops only in attached processes.
    @Test func rule7StopsOnlyInAttachedProcesses() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vCont;c")
        #expect(t.resumes.last?.attachedProcesses == [1])
        try #require(t.sink).report(GDBStopEvent(thread: p21, reason: .signal(5)))
        #expect(h.deliverStops() == [])
        #expect(t.resumes.count == 2)
        #expect(h.session.isRunning)
        // An exit of an unattached process is not reported either.
        try #require(t.sink).report(GDBStopEvent(thread: p21, reason: .exited(code: 0)))
        #expect(h.deliverStops() == [])
        #expect(t.resumes.count == 3)
        try #require(t.sink).report(GDBStopEvent(thread: p12, reason: .signal(5)))
        #expect(h.deliverStops() == ["T05thread:p1.2;" + expedited(p12)])
    }

    @Test func interruptSurvivesAHiddenStop() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vCont;c")
        _ = h.raw([0x03])
        #expect(t.interrupts == 1)
        // The unattached guest ends before the interrupt lands: hidden from gdb, resumed — and
        // the interrupt gdb asked for is asked again.
        try #require(t.sink).report(GDBStopEvent(thread: p21, reason: .exited(code: 0)))
        #expect(h.deliverStops() == [])
        #expect(t.resumes.count == 2)
        #expect(t.interrupts == 2)
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(2)))
        #expect(h.deliverStops() == ["T02thread:p1.1;" + expedited(p11)])
    }

    @Test func exitAndTerminationReplies() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vAttach;2")
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p21, reason: .exited(code: 3)))
        #expect(h.deliverStops() == ["W03;process:2"])
        #expect(!h.session.attached.contains(2))
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .terminated(signal: 9)))
        #expect(h.deliverStops() == ["X09;process:1"])
        #expect(h.session.attached.isEmpty)
        #expect(h.ask("vCont;c") == "E03")  // nothing left to run
    }

    @Test func consoleLineAndExtraPairsPrecedeTheStopReply() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vCont;c")
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(5), console: "VM exit: CPUID",
                                                 extra: [GDBKeyValue("vmexit", "0a")]))
        #expect(h.deliverStops() == ["O" + Hex.encode(Array("VM exit: CPUID\n".utf8)),
                                     "T05thread:p1.1;" + expedited(p11) + "vmexit:0a;"])
    }

    @Test func interruptWhileRunningOnly() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.raw([0x03]).isEmpty)  // stopped: ignored
        #expect(t.interrupts == 0)
        _ = h.ask("c")
        #expect(t.resumes.last?.actions == [GDBResumeAction(.continue(signal: nil))])
        _ = h.raw([0x03, 0x03])
        #expect(t.interrupts == 1)  // once per resume
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(GDBStopReason.sigint)))
        #expect(h.deliverStops() == ["T02thread:p1.1;" + expedited(p11)])
    }

    @Test func staleAndDuplicateStopReportsAreIgnored() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("vCont;c")
        let first = try #require(t.sink)
        first.report(GDBStopEvent(thread: p11, reason: .signal(5)))
        first.report(GDBStopEvent(thread: p12, reason: .signal(5)))
        #expect(h.deliverStops() == ["T05thread:p1.1;" + expedited(p11)])
        _ = h.ask("vCont;c")
        first.report(GDBStopEvent(thread: p12, reason: .signal(5)))  // from the previous resume
        #expect(h.deliverStops() == [])
        #expect(h.session.isRunning)
    }

    @Test func legacyContinueAndStepUseHcAndAddress() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("Hcp1.2") == "OK")
        _ = h.ask("s3000")
        #expect(t.reg(p12, "rip") == 0x3000)
        #expect(t.resumes.last?.actions == [GDBResumeAction(.step(signal: nil), thread: p12.selector)])
        #expect(t.resumes.last?.onlyThread == p12)
        try #require(t.sink).report(GDBStopEvent(thread: p12, reason: .signal(5)))
        _ = h.deliverStops()
        _ = h.ask("Hc-1")
        _ = h.ask("C0b")
        #expect(t.resumes.last?.actions == [GDBResumeAction(.continue(signal: 0x0b))])
        #expect(h.ask("vCont;t:p1.1") == "<none>")  // running: queued, not answered
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(5)))
        #expect(h.deliverStops() == ["T05thread:p1.1;" + expedited(p11), "E16"])
    }

    @Test func setThreadForms() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("Hgp1.2") == "OK")
        #expect(h.session.currentThread == p12)
        #expect(h.ask("Hgp0.0") == "OK")
        #expect(h.session.currentThread == p12)  // "any": keep the current one
        #expect(h.ask("Hg-1") == "OK")
        #expect(h.ask("Hg0") == "OK")
        #expect(h.ask("Hgp1.-1") == "OK")
        #expect(h.session.currentThread == p12)  // current is in process 1
        #expect(h.ask("Hgp2.-1") == "OK")
        #expect(h.session.currentThread == p21)  // first thread of process 2
        #expect(h.ask("Hgp1.0") == "OK")
        #expect(h.session.currentThread == p11)
        #expect(h.ask("Hg2") == "OK")  // plain form: tid 2 of an attached process
        #expect(h.session.currentThread == p12)
        #expect(h.ask("Hgp9.1") == "E03")
        #expect(h.ask("Hgp9.-1") == "E03")
        #expect(h.ask("Hgp1.7") == "E03")
        #expect(h.ask("Hgpz.1") == "E16")
        #expect(h.ask("Tp1.2") == "OK")
        #expect(h.ask("Tp1.3") == "E03")
        #expect(h.ask("qThreadExtraInfo,p2.1") == Hex.encode(Array("VMX non-root".utf8)))
        #expect(h.ask("qThreadExtraInfo,p1.1") == Hex.encode(Array("VMM vCPU0".utf8)))
    }

    @Test func registers() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        let layout = GDBRegisterLayout.x86_64
        let g = h.ask("g")
        #expect(g.count == layout.gPacketLength)
        // st0 and the vmx feature's exit_reason are unavailable in the fake: xx.
        let st0 = layout.offsets[layout.regnum("st0")!] * 2
        #expect(g.dropFirst(st0).prefix(20) == String(repeating: "x", count: 20))
        #expect(h.ask("p\(String(layout.regnum("exit_reason")!, radix: 16))") == "xxxxxxxx")
        #expect(h.ask("p\(String(layout.regnum("cr0")!, radix: 16))") == "3100008000000000")
        #expect(h.ask("p4c") == Hex.encode(Hex.littleEndian(1, count: 4)))  // vmx_mode = root
        #expect(h.ask("pfff") == "E16")
        // P writes one register.
        #expect(h.ask("P0=efbeadde00000000") == "OK")
        #expect(t.reg(p11, "rax") == 0xdeadbeef)
        #expect(h.ask("P0=efbe") == "E16")
        // A refusal with a message reaches gdb as E.text ("Could not write register …; remote
        // failure reply 'E.…'"), not a bare E16.
        let kgs = GDBRegisterLayout.x86_64.regnum("k_gs_base")!
        #expect(h.ask("P\(String(kgs, radix: 16))=0100000000000000") == "E.k_gs_base: not writable in this context")
        #expect(h.ask("P0=xxxxxxxxxxxxxxxx") == "E16")
        #expect(h.ask("P4c=00000000") == "E01")  // read-only VMX status
        // G round trip: write back what g returned with rip changed; read-only ones are ignored.
        var file = GDBRegisterFile.decode(gPacket: Array(g.utf8))!
        file.set("rip", 0x4242)
        file.set("vmx_mode", 0)
        #expect(h.ask("G" + file.gPacket) == "OK")
        #expect(t.reg(p11, "rip") == 0x4242)
        #expect(t.reg(p11, "vmx_mode") == 1)
        #expect(h.ask("G00") == "E16")
    }

    @Test func memory() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("m1000,4") == "00010203")
        // Readable prefix at the end of the mapping.
        #expect(h.ask("m2ffe,4") == "feff")
        #expect(h.ask("m3000,4") == "E0e")
        #expect(h.ask("m1000,0") == "")
        // Large reads are capped to fit one reply.
        #expect(h.ask("m1000,40000").count == 0x2000 * 2)
        #expect(h.ask("M1000,2:aabb") == "OK")
        #expect(h.ask("m1000,2") == "aabb")
        #expect(h.ask("M2fff,2:aabb") == "E0e")
        // X with bytes that need escaping.
        let bin: [UInt8] = [0x23, 0x24, 0x7d, 0x2a, 0x00, 0x03]
        let out = Harness.payloads(h.raw(PacketEncoder.frame(Array("X1010,6:".utf8) + bin)))
        #expect(out == ["OK"])
        #expect(h.ask("m1010,6") == Hex.encode(bin))
        #expect(h.ask("X1000,0:") == "OK")
        #expect(h.ask("m1000,zz") == "E16")
    }

    @Test func physicalMemoryMode() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        #expect(h.ask("qqemu.PhyMemMode") == "0")
        #expect(h.ask("Qqemu.PhyMemMode:1") == "OK")
        #expect(h.ask("qqemu.PhyMemMode") == "1")
        #expect(h.ask("m10,2") == "abab")
        #expect(h.ask("M10,1:01") == "OK")
        #expect(t.physical.bytes[0x10] == 1)
        #expect(h.ask("m1000,1") == "E0e")
        #expect(h.ask("Qqemu.PhyMemMode:0") == "OK")
        #expect(h.ask("m1000,1") == "00")
    }

    @Test func monitorOutputAsConsolePackets() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        let r = h.send("qRcmd," + Hex.encode(Array("help".utf8)))
        #expect(r.count == 2)
        #expect(r.first.map { String(decoding: Hex.decode(Array($0.utf8.dropFirst()))!, as: UTF8.self) }
            == "vmxemu monitor commands:\n  help  this text\n  big   a long text\n")
        #expect(r.last == "OK")
        // Long output is split into several O packets that reassemble exactly.
        let big = h.send("qRcmd," + Hex.encode(Array("big".utf8)))
        #expect(big.count > 2)
        let text = big.dropLast().map { String(decoding: Hex.decode(Array($0.utf8.dropFirst()))!, as: UTF8.self) }.joined()
        #expect(text == String(repeating: "0123456789abcdef", count: 1000))
        // A failing command's message reaches the console, then OK: no "Protocol error with Rcmd".
        let bad = h.send("qRcmd," + Hex.encode(Array("frob".utf8)))
        #expect(bad.first.map { String(decoding: Hex.decode(Array($0.utf8.dropFirst()))!, as: UTF8.self) } == "unknown command: frob\n")
        #expect(bad.last == "OK")
        #expect(t.monitorCommands == ["help", "big", "frob"])
    }

    @Test func xferChunksReassemble() {
        let h = Harness(FakeTarget())
        h.handshake()
        var doc = ""
        var offset = 0
        while true {
            let r = h.ask("qXfer:features:read:target.xml:\(String(offset, radix: 16)),100")
            #expect(r.first == "m" || r.first == "l")
            doc += r.dropFirst()
            offset += r.utf8.count - 1
            if r.first == "l" || offset > 1_000_000 { break }
        }
        #expect(doc == GDBRegisterLayout.x86_64.targetXML)
        #expect(h.ask("qXfer:features:read:target.xml:\(String(doc.utf8.count, radix: 16)),100") == "l")
        #expect(h.ask("qXfer:features:read:target.xml:fffffff,100") == "E16")
        #expect(h.ask("qXfer:features:read:other.xml:0,100") == "E02")
    }

    @Test func threadsOsdataAndExecFileDocuments() {
        let h = Harness(FakeTarget())
        h.handshake()
        let threads = h.ask("qXfer:threads:read::0,fff")
        #expect(threads.hasPrefix("l<?xml"))
        #expect(threads.contains(#"<thread id="p1.1" core="0" name="VMM vCPU0"/>"#))
        #expect(threads.contains(#"id="p1.2""#))
        #expect(!threads.contains("p2.1"))  // not attached
        let procs = h.ask("qXfer:osdata:read:processes:0,fff")
        #expect(procs.contains(#"<column name="pid">2</column>"#))
        #expect(procs.contains(#"<column name="command">guest 1</column>"#))
        #expect(h.ask("qXfer:osdata:read::0,fff").contains(">processes<"))
        #expect(h.ask("qXfer:osdata:read:files:0,fff") == "E02")
        #expect(h.ask("qXfer:exec-file:read:2:0,fff") == "l/images/guest.elf")
        #expect(h.ask("qXfer:exec-file:read::0,fff") == "l/images/vmm.elf")
        #expect(h.ask("qXfer:exec-file:read:9:0,fff") == "E02")
    }

    @Test func detachKillAndExtendedMode() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("!")
        _ = h.ask("vAttach;2")
        _ = h.ask("Hgp2.1")
        #expect(h.ask("Z0,4000,1") == "OK")
        #expect(h.ask("D;2") == "OK")
        #expect(t.detached == [2])
        #expect(t.software.isEmpty)  // left-over breakpoints of that process removed
        #expect(h.ask("D;2") == "E03")
        #expect(h.ask("qC") == "QCp1.1")
        #expect(h.ask("vKill;1") == "OK")
        #expect(t.killed == [1])
        #expect(h.session.attached.isEmpty)
        #expect(h.ask("?") == "W00")
        #expect(h.ask("k") == "<none>")
        #expect(!h.lastOutput.close)  // extended mode: the connection stays
    }

    @Test func killOutsideExtendedModeClosesConnection() {
        let h = Harness(FakeTarget())
        h.handshake()
        #expect(h.ask("D") == "OK")
        #expect(h.session.attached.isEmpty)
        _ = h.send("k")
        #expect(h.lastOutput.close)
    }

    @Test func acksNacksAndErrors() {
        let h = Harness(FakeTarget())
        // Bad checksum → nack, nothing processed.
        #expect(h.raw(Array("$qC#00".utf8)) == [UInt8(ascii: "-")])
        // Nack from gdb → the last packet again.
        let first = h.raw(PacketEncoder.frame("qAttached"))
        #expect(first == [UInt8(ascii: "+")] + PacketEncoder.frame("1"))
        #expect(h.raw([UInt8(ascii: "-")]) == PacketEncoder.frame("1"))
        #expect(h.raw([UInt8(ascii: "+")]).isEmpty)
        // Malformed → E16; unknown → empty; oversize → E07.
        #expect(h.ask("m12") == "E16")
        #expect(h.ask("qFrobnicate") == "")
        let big = [UInt8](repeating: UInt8(ascii: "M"), count: gdbMaxPacketSize + 1)
        #expect(Harness.payloads(h.raw(PacketEncoder.frame(big))) == ["E07"])
        #expect(h.ask("qAttached") == "1")  // still alive
        // In no-ack mode a bad checksum is accepted (gdb does not retransmit).
        _ = h.ask("QStartNoAckMode")
        #expect(Harness.payloads(h.raw(Array("$qAttached#00".utf8))) == ["1"])
        #expect(h.raw([UInt8(ascii: "-")]).isEmpty)  // no retransmission in no-ack mode
    }

    @Test func disconnectRemovesBreakpointsAndReconnectResets() {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("Z0,1100,1")
        _ = h.ask("Z2,1000,4")
        _ = h.ask("Hgp1.2")
        h.session.disconnect()
        #expect(t.software.isEmpty && t.watch.isEmpty)
        #expect(h.ask("qC") == "<none>")  // not connected: nothing processed
        _ = h.session.connect()
        #expect(h.session.ackMode)
        #expect(h.session.attached == [1])
        // Before qSupported, multiprocess is not negotiated: plain thread ids.
        #expect(h.raw(PacketEncoder.frame("qC")) == [UInt8(ascii: "+")] + PacketEncoder.frame("QC1"))
    }

    @Test func reconnectToARunningMachineInterruptsIt() throws {
        let t = FakeTarget()
        let h = Harness(t)
        h.handshake()
        _ = h.ask("Z0,1100,1")
        _ = h.ask("vCont;c")
        let sink = try #require(t.sink)
        h.session.disconnect()  // gdb vanished while the target runs
        #expect(t.software.count == 1)  // removal waits for the stop
        _ = h.session.connect()
        #expect(t.interrupts == 1)
        // gdb's first packets arrive before the stop: they wait.
        #expect(h.raw(PacketEncoder.frame("qSupported:multiprocess+")) == [UInt8(ascii: "+")])
        #expect(h.raw(PacketEncoder.frame("?")) == [UInt8(ascii: "+")])
        sink.report(GDBStopEvent(thread: p12, reason: .signal(2)))
        let replies = h.deliverStops()
        #expect(replies.count == 2)
        #expect(replies.first?.hasPrefix("PacketSize=20000") == true)
        #expect(replies.last == "T02thread:p1.2;" + expedited(p12))
        #expect(t.software.isEmpty)  // the vanished gdb's breakpoint is gone now
    }

    @Test func freeRunAfterDisconnectIsInterruptedOnConnect() throws {
        let t = FakeTarget()
        t.freeRunOnDisconnect = true
        let h = Harness(t)
        h.handshake()
        h.session.disconnect()
        #expect(h.session.isRunning)
        _ = h.session.connect()
        #expect(t.interrupts == 1)
        try #require(t.sink).report(GDBStopEvent(thread: p11, reason: .signal(2)))
        #expect(h.deliverStops() == [])  // nobody asked: recorded only
        #expect(!h.session.isRunning)
        h.handshake(noAck: false)
        #expect(h.ask("?") == "T02thread:p1.1;" + expedited(p11))
    }

    @Test func hostIOServesOnlyExecFilesReadOnly() throws {
        let path = NSTemporaryDirectory() + "vmxemu-hostio-\(getpid()).elf"
        let content: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try Data(content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = FakeTarget()
        t.execFiles[2] = path
        let h = Harness(t)
        h.handshake()
        func open(_ p: String, _ flags: String = "0") -> String { h.ask("vFile:open:\(Hex.encode(Array(p.utf8))),\(flags),1c0") }
        #expect(h.ask("vFile:setfs:0") == "F0")
        #expect(open("/etc/passwd") == "F-1,d")  // not an exec file: refused
        #expect(open(path, "1") == "F-1,d")  // write access: refused
        #expect(open("/images/vmm.elf") == "F-1,2")  // named but missing
        let fd = open(path)
        #expect(fd == "F1")
        // pread returns binary data after ';' (escaped on the wire, decoded here).
        let raw = Harness.payloads(h.raw(PacketEncoder.frame("vFile:pread:1,100,10")))
        #expect(raw.count == 1)
        let reply = Array(try #require(raw.first).utf8)
        // Payloads are compared as bytes: binary content is not valid UTF-8 text.
        var d = PacketDecoder()
        let events = d.feed(h.raw(PacketEncoder.frame("vFile:pread:1,100,10")))
        guard case .packet(let bytes)? = events.last else { Issue.record("no pread reply"); return }
        #expect(Array(bytes.prefix(4)) == Array("F100".utf8))
        #expect(Array(bytes.dropFirst(5)) == Array(content[0x10..<0x110]))
        #expect(!reply.isEmpty)
        #expect(h.ask("vFile:pread:1,100,1388") == "F0;")  // at EOF
        let stat = h.ask("vFile:fstat:1")
        #expect(stat.hasPrefix("F40;"))
        #expect(h.ask("vFile:close:1") == "F0")
        #expect(h.ask("vFile:close:1") == "F-1,9")
        #expect(h.ask("vFile:pread:1,10,0") == "F-1,9")
        #expect(h.ask("vFile:unlink:2f") == "")
        // A target without exec files does not do host I/O at all.
        #expect(Harness(MinimalTarget()).ask("vFile:setfs:0") == "")
    }
}
