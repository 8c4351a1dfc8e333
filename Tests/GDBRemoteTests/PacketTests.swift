// Every packet type parses to the right typed value; malformed ones are typed errors.
import Testing
@testable import GDBRemote

@Suite struct PacketTests {
    func parse(_ s: String) throws -> GDBPacket { try GDBPacket.parse(Array(s.utf8)) }

    func isError(_ s: String) -> Bool {
        do {
            _ = try GDBPacket.parse(Array(s.utf8))
            return false
        } catch {
            return true
        }
    }

    @Test func connectSequencePackets() throws {
        #expect(try parse("qSupported:multiprocess+;swbreak+;xmlRegisters=i386")
            == .querySupported(features: ["multiprocess+", "swbreak+", "xmlRegisters=i386"]))
        #expect(try parse("qSupported") == .querySupported(features: []))
        #expect(try parse("vMustReplyEmpty") == .mustReplyEmpty)
        #expect(try parse("QStartNoAckMode") == .startNoAckMode)
        #expect(try parse("!") == .enableExtendedMode)
        #expect(try parse("?") == .haltReason)
        #expect(try parse("qC") == .currentThread)
        #expect(try parse("qAttached") == .queryAttached(pid: nil))
        #expect(try parse("qAttached:2") == .queryAttached(pid: 2))
        #expect(try parse("qfThreadInfo") == .threadInfoFirst)
        #expect(try parse("qsThreadInfo") == .threadInfoNext)
        #expect(try parse("qTStatus") == .unknown("qTStatus"))
        #expect(try parse("qOffsets") == .unknown("qOffsets"))
        #expect(try parse("vStopped") == .unknown("vStopped"))
        #expect(try parse("") == .unknown(""))
    }

    @Test func threadIDs() throws {
        let p11 = GDBThreadSelector(pid: .id(1), tid: .id(1))
        #expect(try parse("Hgp1.1") == .setThread(.general, p11))
        #expect(try parse("Hgp0.0") == .setThread(.general, GDBThreadSelector(pid: .any, tid: .any)))
        #expect(try parse("Hcp2.-1") == .setThread(.continue, GDBThreadSelector(pid: .id(2), tid: .all)))
        #expect(try parse("Hc-1") == .setThread(.continue, GDBThreadSelector(pid: nil, tid: .all)))
        #expect(try parse("Hg0") == .setThread(.general, GDBThreadSelector(pid: nil, tid: .any)))
        #expect(try parse("Hgp1a.ff") == .setThread(.general, GDBThreadSelector(pid: .id(0x1a), tid: .id(0xff))))
        #expect(try parse("Hgp-1.-1") == .setThread(.general, .all))
        #expect(try parse("Hgp3") == .setThread(.general, GDBThreadSelector(pid: .id(3), tid: .all)))
        #expect(try parse("Tp1.2") == .threadAlive(GDBThreadSelector(pid: .id(1), tid: .id(2))))
        #expect(try parse("qThreadExtraInfo,p2.1") == .threadExtraInfo(GDBThreadSelector(pid: .id(2), tid: .id(1))))
        #expect(isError("Hgpx.1"))
        #expect(isError("Hgp1."))
        #expect(isError("Hg"))
        #expect(isError("Tp1.-2"))
        #expect(isError("Hgp1.123456789abcdef0"))
        #expect(try parse("Hx1") == .unknown("Hx1"))
        #expect(GDBThreadSelector.parse("p1.2")?.description == "p1.2")
        #expect(GDBThreadID(pid: 0x1a, tid: 2).encoded(multiprocess: true) == "p1a.2")
        #expect(GDBThreadID(pid: 0x1a, tid: 2).encoded(multiprocess: false) == "2")
    }

    @Test func registerPackets() throws {
        #expect(try parse("g") == .readRegisters)
        #expect(try parse("G0011xx") == .writeRegisters(hex: Array("0011xx".utf8)))
        #expect(try parse("p10") == .readRegister(16))
        #expect(try parse("P10=0010000000000000") == .writeRegister(16, hex: Array("0010000000000000".utf8)))
        #expect(isError("p"))
        #expect(isError("pzz"))
        #expect(isError("P10"))
        #expect(isError("P=00"))
    }

    @Test func memoryPackets() throws {
        #expect(try parse("m1000,4") == .readMemory(address: 0x1000, length: 4))
        #expect(try parse("m8000000000001000,1") == .readMemory(address: 0x8000_0000_0000_1000, length: 1))
        #expect(try parse("M1000,2:abcd") == .writeMemory(address: 0x1000, data: [0xab, 0xcd]))
        #expect(try GDBPacket.parse(Array("X1000,3:".utf8) + [0x00, 0x23, 0xff])
            == .writeMemoryBinary(address: 0x1000, data: [0x00, 0x23, 0xff]))
        #expect(try parse("X1000,0:") == .writeMemoryBinary(address: 0x1000, data: []))
        #expect(isError("m1000"))
        #expect(isError("m,4"))
        #expect(isError("m1000,ffffffffff"))
        #expect(isError("M1000,3:abcd"))
        #expect(isError("M1000,2:abzz"))
        #expect(isError("M1000,2"))
        #expect(isError("X1000,2:a"))
        #expect(isError("X1000"))
        #expect(isError("m10000000000000000,1"))
    }

    @Test func breakpointPackets() throws {
        #expect(try parse("Z0,1000,1") == .insertBreakpoint(.software, address: 0x1000, kind: 1))
        #expect(try parse("z0,1000,1") == .removeBreakpoint(.software, address: 0x1000, kind: 1))
        #expect(try parse("Z1,ffffffff81000000,1") == .insertBreakpoint(.hardware, address: 0xffff_ffff_8100_0000, kind: 1))
        #expect(try parse("Z2,2000,8") == .insertBreakpoint(.writeWatch, address: 0x2000, kind: 8))
        #expect(try parse("Z3,2000,4") == .insertBreakpoint(.readWatch, address: 0x2000, kind: 4))
        #expect(try parse("z4,2000,2") == .removeBreakpoint(.accessWatch, address: 0x2000, kind: 2))
        #expect(try parse("Z0,1000,1;X3,220027") == .insertBreakpoint(.software, address: 0x1000, kind: 1))
        #expect(try parse("Z5,1000,1") == .unknown("Z5,1000,1"))
        #expect(isError("Z0,1000"))
        #expect(isError("Z0,zz,1"))
    }

    @Test func resumePackets() throws {
        #expect(try parse("vCont?") == .vContQuery)
        #expect(try parse("vCont;c") == .vCont([GDBResumeAction(.continue(signal: nil))]))
        #expect(try parse("vCont;s:p1.1") == .vCont([GDBResumeAction(.step(signal: nil), thread: GDBThreadSelector(pid: .id(1), tid: .id(1)))]))
        #expect(try parse("vCont;s:p1.1;c") == .vCont([
            GDBResumeAction(.step(signal: nil), thread: GDBThreadSelector(pid: .id(1), tid: .id(1))),
            GDBResumeAction(.continue(signal: nil)),
        ]))
        #expect(try parse("vCont;C0b:p2.-1;S05") == .vCont([
            GDBResumeAction(.continue(signal: 0x0b), thread: GDBThreadSelector(pid: .id(2), tid: .all)),
            GDBResumeAction(.step(signal: 5)),
        ]))
        #expect(try parse("vCont;t:p1.1") == .vCont([GDBResumeAction(.stop, thread: GDBThreadSelector(pid: .id(1), tid: .id(1)))]))
        #expect(try parse("c") == .continue(signal: nil, address: nil))
        #expect(try parse("c1000") == .continue(signal: nil, address: 0x1000))
        #expect(try parse("s") == .step(signal: nil, address: nil))
        #expect(try parse("s2000") == .step(signal: nil, address: 0x2000))
        #expect(try parse("C05") == .continue(signal: 5, address: nil))
        #expect(try parse("S0b;3000") == .step(signal: 0x0b, address: 0x3000))
        #expect(isError("vCont;"))
        #expect(isError("vCont;x"))
        #expect(isError("vCont;C"))
        #expect(isError("vCont;s:"))
        #expect(isError("cqq"))
        #expect(isError("C5"))
    }

    @Test func processPackets() throws {
        #expect(try parse("vAttach;2") == .attach(pid: 2))
        #expect(try parse("D") == .detach(pid: nil))
        #expect(try parse("D;2") == .detach(pid: 2))
        #expect(try parse("vKill;1a") == .killProcess(pid: 0x1a))
        #expect(try parse("k") == .kill)
        #expect(isError("vAttach;"))
        #expect(isError("vAttach;0"))
        #expect(isError("D2"))
        #expect(isError("vKill;x"))
    }

    @Test func queryPackets() throws {
        #expect(try parse("qRcmd,68656c70") == .monitor("help"))
        #expect(isError("qRcmd,6"))
        #expect(try parse("qXfer:features:read:target.xml:0,ffb") == .xferRead(.features, annex: "target.xml", offset: 0, length: 0xffb))
        #expect(try parse("qXfer:threads:read::0,1000") == .xferRead(.threads, annex: "", offset: 0, length: 0x1000))
        #expect(try parse("qXfer:osdata:read:processes:100,200") == .xferRead(.osdata, annex: "processes", offset: 0x100, length: 0x200))
        #expect(try parse("qXfer:exec-file:read:2:0,fff") == .xferRead(.execFile, annex: "2", offset: 0, length: 0xfff))
        #expect(try parse("qXfer:libraries:read::0,fff") == .unknown("qXfer:libraries:read::0,fff"))
        #expect(try parse("qXfer:features:write:target.xml:0,1") == .unknown("qXfer:features:write:target.xml:0,1"))
        #expect(isError("qXfer:features:read:target.xml:0"))
        #expect(isError("qXfer:features:read:target.xml:x,1"))
        #expect(try parse("qqemu.PhyMemMode") == .queryPhysicalMemoryMode)
        #expect(try parse("Qqemu.PhyMemMode:1") == .setPhysicalMemoryMode(true))
        #expect(try parse("Qqemu.PhyMemMode:0") == .setPhysicalMemoryMode(false))
        #expect(isError("Qqemu.PhyMemMode:2"))
        #expect(try parse("QNonStop:1") == .unknown("QNonStop:1"))
    }

    @Test func hostIOPackets() throws {
        #expect(try parse("vFile:setfs:0") == .hostIO(.setfs(pid: 0)))
        #expect(try parse("vFile:open:" + Hex.encode(Array("/a/b.elf".utf8)) + ",0,1c0")
            == .hostIO(.open(path: "/a/b.elf", flags: 0, mode: 0x1c0)))
        #expect(try parse("vFile:pread:3,3fff,1000") == .hostIO(.pread(fd: 3, count: 0x3fff, offset: 0x1000)))
        #expect(try parse("vFile:fstat:3") == .hostIO(.fstat(fd: 3)))
        #expect(try parse("vFile:close:3") == .hostIO(.close(fd: 3)))
        #expect(try parse("vFile:readlink:2f") == .hostIO(.other("readlink")))
        #expect(try parse("vFile:unlink:2f") == .hostIO(.other("unlink")))
        #expect(isError("vFile:open:zz,0,0"))
        #expect(isError("vFile:open:2f,0"))
        #expect(isError("vFile:pread:3,10"))
        #expect(isError("vFile:close:"))
        #expect(String(decoding: GDBReply.hostIO(result: -1, errno: 13, attachment: nil).payload, as: UTF8.self) == "F-1,d")
        #expect(GDBReply.hostIO(result: 2, errno: nil, attachment: [0x24, 0x00]).payload == Array("F2;".utf8) + [0x24, 0x00])
    }

    @Test func repliesEncode() {
        #expect(String(decoding: GDBReply.ok.payload, as: UTF8.self) == "OK")
        #expect(String(decoding: GDBReply.error(.efault).payload, as: UTF8.self) == "E0e")
        #expect(GDBReply.empty.payload.isEmpty)
        #expect(String(decoding: GDBReply.exited(code: 0, pid: 1).payload, as: UTF8.self) == "W00;process:1")
        #expect(String(decoding: GDBReply.terminated(signal: 9, pid: 0x1a).payload, as: UTF8.self) == "X09;process:1a")
        #expect(String(decoding: GDBReply.exited(code: 3, pid: nil).payload, as: UTF8.self) == "W03")
        #expect(String(decoding: GDBReply.console("hi\n").payload, as: UTF8.self) == "O68690a")
        #expect(String(decoding: GDBReply.xfer(Array("ab".utf8), last: true).payload, as: UTF8.self) == "lab")
        #expect(String(decoding: GDBReply.xfer(Array("ab".utf8), last: false).payload, as: UTF8.self) == "mab")
        #expect(String(decoding: GDBReply.errorMessage("busy").payload, as: UTF8.self) == "E.busy")
        let t = GDBThreadID(pid: 1, tid: 2)
        #expect(GDBStopReply(signal: 5, thread: t, reason: .softwareBreakpoint, registers: [(6, "00"), (16, "11")]).encoded
            == "T05thread:p1.2;swbreak:;06:00;10:11;")
        #expect(GDBStopReply(signal: 5, thread: t, reason: .hardwareBreakpoint).encoded == "T05thread:p1.2;hwbreak:;")
        #expect(GDBStopReply(signal: 5, thread: t, reason: .watchpoint(.writeWatch, address: 0x2000)).encoded
            == "T05thread:p1.2;watch:2000;")
        #expect(GDBStopReply(signal: 5, thread: t, reason: .watchpoint(.readWatch, address: 0x10)).encoded
            == "T05thread:p1.2;rwatch:10;")
        #expect(GDBStopReply(signal: 5, thread: t, reason: .watchpoint(.accessWatch, address: 0x10)).encoded
            == "T05thread:p1.2;awatch:10;")
        #expect(GDBStopReply(signal: 2, thread: t, reason: .signal(2), extra: [GDBKeyValue("vmexit", "0a")]).encoded
            == "T02thread:p1.2;vmexit:0a;")
        #expect(GDBStopReply(signal: 5, thread: t, reason: .signal(5), multiprocess: false).encoded == "T05thread:2;")
    }
}
