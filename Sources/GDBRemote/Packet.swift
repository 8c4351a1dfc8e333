// Incoming packets as typed values.
//
// `GDBPacket.parse` turns one decoded payload (from `PacketDecoder`) into a `GDBPacket`, or
// throws a `GDBPacketError` for a packet we recognise but cannot read (the session answers
// `E16`). Anything we do not recognise is `.unknown` and answered with an empty reply, which gdb
// reads as "not supported". Parsing never traps: every number is range-checked.

/// The five `Z`/`z` types.
public enum GDBBreakpointType: Int, Sendable, CaseIterable {
    case software = 0
    case hardware = 1
    case writeWatch = 2
    case readWatch = 3
    case accessWatch = 4

    public var isWatchpoint: Bool { rawValue >= 2 }
}

/// What `vCont` (or `c`/`s`) asks one thread or a set of threads to do.
public enum GDBResumeKind: Equatable, Sendable {
    case `continue`(signal: UInt8?)
    case step(signal: UInt8?)
    /// `vCont;t` (non-stop only; parsed so it can be refused cleanly).
    case stop

    public var isStep: Bool {
        if case .step = self { return true }
        return false
    }
}

/// One `vCont` action: `kind` applied to the threads `thread` names (nil = every thread
/// that no earlier action named).
public struct GDBResumeAction: Equatable, Sendable {
    public var kind: GDBResumeKind
    public var thread: GDBThreadSelector?

    public init(_ kind: GDBResumeKind, thread: GDBThreadSelector? = nil) {
        self.kind = kind
        self.thread = thread
    }
}

/// The `qXfer` objects we know.
public enum GDBXferObject: String, Sendable, CaseIterable {
    case features
    case threads
    case osdata
    case execFile = "exec-file"
}

public enum GDBPacket: Equatable, Sendable {
    /// `qSupported[:feature;feature…]` — gdb's own features, verbatim (`multiprocess+`,
    /// `xmlRegisters=i386`).
    case querySupported(features: [String])
    case mustReplyEmpty  // vMustReplyEmpty
    case enableExtendedMode  // !
    case haltReason  // ?
    case currentThread  // qC
    case queryAttached(pid: Int?)  // qAttached[:pid]
    case threadInfoFirst  // qfThreadInfo
    case threadInfoNext  // qsThreadInfo
    case threadExtraInfo(GDBThreadSelector)  // qThreadExtraInfo,id
    case threadAlive(GDBThreadSelector)  // Tid
    /// `Hg` (registers, memory, breakpoints) and `Hc` (the `c`/`s` packets).
    case setThread(GDBSetThreadOperation, GDBThreadSelector)
    case readRegisters  // g
    /// `G` — the payload's hex text, to be decoded against the register layout (it may carry `xx`).
    case writeRegisters(hex: [UInt8])
    case readRegister(Int)  // p n
    /// `P n=value` — the value's hex text (may be `xx…`).
    case writeRegister(Int, hex: [UInt8])
    case readMemory(address: UInt64, length: Int)  // m addr,len
    case writeMemory(address: UInt64, data: [UInt8])  // M addr,len:hex
    case writeMemoryBinary(address: UInt64, data: [UInt8])  // X addr,len:binary
    case insertBreakpoint(GDBBreakpointType, address: UInt64, kind: Int)  // Z0…Z4
    case removeBreakpoint(GDBBreakpointType, address: UInt64, kind: Int)  // z0…z4
    case vContQuery  // vCont?
    case vCont([GDBResumeAction])
    /// `c [addr]` and `C sig[;addr]`.
    case `continue`(signal: UInt8?, address: UInt64?)
    /// `s [addr]` and `S sig[;addr]`.
    case step(signal: UInt8?, address: UInt64?)
    case attach(pid: Int)  // vAttach;pid
    case detach(pid: Int?)  // D, D;pid
    case killProcess(pid: Int)  // vKill;pid
    case kill  // k
    /// `qRcmd,hex` — the `monitor` command line, decoded.
    case monitor(String)
    /// `qXfer:object:read:annex:offset,length`
    case xferRead(GDBXferObject, annex: String, offset: Int, length: Int)
    case startNoAckMode  // QStartNoAckMode
    case queryPhysicalMemoryMode  // qqemu.PhyMemMode
    case setPhysicalMemoryMode(Bool)  // Qqemu.PhyMemMode:0|1
    /// `vFile:…` host I/O, used by gdb to read a context's ELF (`target:` sysroot).
    case hostIO(GDBHostIORequest)
    /// Anything else (qTStatus, qOffsets, vFile:…, qXfer of other objects…): empty reply.
    case unknown(String)
}

/// The `vFile` operations (gdb manual, "Host I/O Packets"). Numbers are hex on the wire.
public enum GDBHostIORequest: Equatable, Sendable {
    case setfs(pid: Int)
    case open(path: String, flags: Int, mode: Int)
    case close(fd: Int)
    case pread(fd: Int, count: Int, offset: UInt64)
    case fstat(fd: Int)
    /// pwrite, unlink, readlink, stat…: refused (files are read-only, by name only).
    case other(String)
}

public enum GDBSetThreadOperation: Character, Sendable {
    case general = "g"
    case `continue` = "c"
}

/// A packet we recognised but could not read.
public struct GDBPacketError: Error, Equatable, Sendable, CustomStringConvertible {
    public var packet: String
    public var reason: String

    public init(packet: String, reason: String) {
        self.packet = packet
        self.reason = reason
    }

    public var description: String { "malformed packet '\(packet)': \(reason)" }
}

extension GDBPacket {
    /// Parses a decoded payload. Unrecognised packets are `.unknown`; recognised but malformed
    /// ones throw.
    public static func parse(_ payload: [UInt8]) throws(GDBPacketError) -> GDBPacket {
        guard let first = payload.first else { return .unknown("") }

        // Binary write: the data after ':' is raw bytes (already un-escaped by the decoder).
        if first == UInt8(ascii: "X") {
            guard let colon = payload.firstIndex(of: UInt8(ascii: ":")) else {
                throw GDBPacketError(packet: "X", reason: "missing ':'")
            }
            let header = String(decoding: payload[1..<colon], as: UTF8.self)
            let (address, length) = try addressLength(Substring(header), packet: "X")
            let data = Array(payload[(colon + 1)...])
            guard data.count == length else {
                throw GDBPacketError(packet: "X", reason: "length \(length) but \(data.count) data bytes")
            }
            return .writeMemoryBinary(address: address, data: data)
        }

        let text = String(decoding: payload, as: UTF8.self)
        let s = Substring(text)
        let body = s.dropFirst()
        func bad(_ why: String) -> GDBPacketError {
            GDBPacketError(packet: String(text.prefix(40)), reason: why)
        }

        switch first {
        case UInt8(ascii: "?"):
            return body.isEmpty ? .haltReason : .unknown(text)
        case UInt8(ascii: "!"):
            return body.isEmpty ? .enableExtendedMode : .unknown(text)
        case UInt8(ascii: "g"):
            return body.isEmpty ? .readRegisters : .unknown(text)
        case UInt8(ascii: "G"):
            return .writeRegisters(hex: Array(body.utf8))
        case UInt8(ascii: "p"):
            guard let n = smallNumber(body) else { throw bad("bad register number") }
            return .readRegister(n)
        case UInt8(ascii: "P"):
            guard let eq = body.firstIndex(of: "="), let n = smallNumber(body[..<eq]) else {
                throw bad("expected P n=value")
            }
            return .writeRegister(n, hex: Array(body[body.index(after: eq)...].utf8))
        case UInt8(ascii: "m"):
            let (a, l) = try addressLength(body, packet: "m")
            return .readMemory(address: a, length: l)
        case UInt8(ascii: "M"):
            guard let colon = body.firstIndex(of: ":") else { throw bad("missing ':'") }
            let (a, l) = try addressLength(body[..<colon], packet: "M")
            guard let data = Hex.decode(Array(body[body.index(after: colon)...].utf8)) else {
                throw bad("data is not hex")
            }
            guard data.count == l else { throw bad("length \(l) but \(data.count) data bytes") }
            return .writeMemory(address: a, data: data)
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            let parts = body.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count >= 3, let t = smallNumber(parts[0]), let type = GDBBreakpointType(rawValue: t)
            else {
                // Unknown Z types are "not supported", which gdb needs as an empty reply.
                if let t = body.first, !("0"..."4").contains(t) { return .unknown(text) }
                throw bad("expected Z type,addr,kind")
            }
            // Conditions/commands (";X…") after the kind are ignored: we evaluate nothing.
            let kindText = parts[2].split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard let addr = Hex.number(parts[1]), let kind = smallNumber(kindText) else {
                throw bad("bad address or kind")
            }
            return first == UInt8(ascii: "Z")
                ? .insertBreakpoint(type, address: addr, kind: kind)
                : .removeBreakpoint(type, address: addr, kind: kind)
        case UInt8(ascii: "c"), UInt8(ascii: "s"):
            var address: UInt64?
            if !body.isEmpty {
                guard let a = Hex.number(body) else { throw bad("bad address") }
                address = a
            }
            return first == UInt8(ascii: "c") ? .continue(signal: nil, address: address) : .step(signal: nil, address: address)
        case UInt8(ascii: "C"), UInt8(ascii: "S"):
            let parts = body.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            guard let sig = signal(parts[0]) else { throw bad("bad signal") }
            var address: UInt64?
            if parts.count == 2 {
                guard let a = Hex.number(parts[1]) else { throw bad("bad address") }
                address = a
            }
            return first == UInt8(ascii: "C") ? .continue(signal: sig, address: address) : .step(signal: sig, address: address)
        case UInt8(ascii: "H"):
            guard let op = body.first.flatMap(GDBSetThreadOperation.init(rawValue:)) else { return .unknown(text) }
            guard let sel = GDBThreadSelector.parse(body.dropFirst()) else { throw bad("bad thread id") }
            return .setThread(op, sel)
        case UInt8(ascii: "T"):
            guard let sel = GDBThreadSelector.parse(body) else { throw bad("bad thread id") }
            return .threadAlive(sel)
        case UInt8(ascii: "D"):
            if body.isEmpty { return .detach(pid: nil) }
            guard body.first == ";", let pid = processID(body.dropFirst()) else { throw bad("expected D;pid") }
            return .detach(pid: pid)
        case UInt8(ascii: "k"):
            return body.isEmpty ? .kill : .unknown(text)
        case UInt8(ascii: "q"):
            return try parseQuery(s, bad: bad)
        case UInt8(ascii: "Q"):
            if s == "QStartNoAckMode" { return .startNoAckMode }
            if s.hasPrefix("Qqemu.PhyMemMode:") {
                switch s.dropFirst("Qqemu.PhyMemMode:".count) {
                case "0": return .setPhysicalMemoryMode(false)
                case "1": return .setPhysicalMemoryMode(true)
                default: throw bad("expected 0 or 1")
                }
            }
            return .unknown(text)
        case UInt8(ascii: "v"):
            return try parseV(s, bad: bad)
        default:
            return .unknown(text)
        }
    }

    private static func parseQuery(_ s: Substring, bad: (String) -> GDBPacketError) throws(GDBPacketError) -> GDBPacket {
        if s == "qSupported" { return .querySupported(features: []) }
        if s.hasPrefix("qSupported:") {
            let list = s.dropFirst("qSupported:".count).split(separator: ";").map(String.init)
            return .querySupported(features: list)
        }
        if s == "qC" { return .currentThread }
        if s == "qAttached" { return .queryAttached(pid: nil) }
        if s.hasPrefix("qAttached:") {
            guard let pid = processID(s.dropFirst("qAttached:".count)) else { throw bad("bad pid") }
            return .queryAttached(pid: pid)
        }
        if s == "qfThreadInfo" { return .threadInfoFirst }
        if s == "qsThreadInfo" { return .threadInfoNext }
        if s.hasPrefix("qThreadExtraInfo,") {
            guard let sel = GDBThreadSelector.parse(s.dropFirst("qThreadExtraInfo,".count)) else {
                throw bad("bad thread id")
            }
            return .threadExtraInfo(sel)
        }
        if s.hasPrefix("qRcmd,") {
            guard let bytes = Hex.decode(Array(s.dropFirst("qRcmd,".count).utf8)) else {
                throw bad("command is not hex")
            }
            return .monitor(String(decoding: bytes, as: UTF8.self))
        }
        if s == "qqemu.PhyMemMode" { return .queryPhysicalMemoryMode }
        if s.hasPrefix("qXfer:") {
            // qXfer:object:read:annex:offset,length — the annex may itself be empty.
            let parts = s.split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
            guard parts.count == 5, let object = GDBXferObject(rawValue: String(parts[1])), parts[2] == "read" else {
                return .unknown(String(s))
            }
            let ol = parts[4].split(separator: ",", omittingEmptySubsequences: false)
            guard ol.count == 2, let off = Hex.number(ol[0]), let len = Hex.number(ol[1]),
                off <= UInt64(Int32.max), len <= UInt64(Int32.max)
            else { throw bad("bad offset,length") }
            return .xferRead(object, annex: String(parts[3]), offset: Int(off), length: Int(len))
        }
        return .unknown(String(s))
    }

    private static func parseV(_ s: Substring, bad: (String) -> GDBPacketError) throws(GDBPacketError) -> GDBPacket {
        if s == "vMustReplyEmpty" { return .mustReplyEmpty }
        if s == "vCont?" { return .vContQuery }
        if s.hasPrefix("vCont;") {
            var actions: [GDBResumeAction] = []
            for item in s.dropFirst("vCont;".count).split(separator: ";", omittingEmptySubsequences: false) {
                let pieces = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let verb = pieces[0]
                var thread: GDBThreadSelector?
                if pieces.count == 2 {
                    guard let t = GDBThreadSelector.parse(pieces[1]) else { throw bad("bad thread id") }
                    thread = t
                }
                let kind: GDBResumeKind
                switch verb.first {
                case "c" where verb.count == 1: kind = .continue(signal: nil)
                case "s" where verb.count == 1: kind = .step(signal: nil)
                case "t" where verb.count == 1: kind = .stop
                case "C":
                    guard let sig = signal(verb.dropFirst()) else { throw bad("bad signal") }
                    kind = .continue(signal: sig)
                case "S":
                    guard let sig = signal(verb.dropFirst()) else { throw bad("bad signal") }
                    kind = .step(signal: sig)
                default:
                    throw bad("unknown vCont action '\(verb.prefix(8))'")
                }
                actions.append(GDBResumeAction(kind, thread: thread))
            }
            guard !actions.isEmpty else { throw bad("no actions") }
            return .vCont(actions)
        }
        if s.hasPrefix("vAttach;") {
            guard let pid = processID(s.dropFirst("vAttach;".count)) else { throw bad("bad pid") }
            return .attach(pid: pid)
        }
        if s.hasPrefix("vFile:") {
            return .hostIO(try parseHostIO(s.dropFirst("vFile:".count), bad: bad))
        }
        if s.hasPrefix("vKill;") {
            guard let pid = processID(s.dropFirst("vKill;".count)) else { throw bad("bad pid") }
            return .killProcess(pid: pid)
        }
        return .unknown(String(s))
    }

    private static func parseHostIO(_ s: Substring, bad: (String) -> GDBPacketError) throws(GDBPacketError) -> GDBHostIORequest {
        guard let colon = s.firstIndex(of: ":") else { return .other(String(s)) }
        let op = s[..<colon]
        let args = s[s.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
        func int(_ i: Int) throws(GDBPacketError) -> Int {
            guard i < args.count, let v = smallNumber(args[i]) else { throw bad("bad vFile:\(op) argument") }
            return v
        }
        switch op {
        case "setfs":
            return .setfs(pid: try int(0))
        case "open":
            guard args.count == 3, let path = Hex.decode(Array(args[0].utf8)) else { throw bad("bad vFile:open") }
            return .open(path: String(decoding: path, as: UTF8.self), flags: try int(1), mode: try int(2))
        case "close":
            return .close(fd: try int(0))
        case "pread":
            guard args.count == 3, let offset = Hex.number(args[2]) else { throw bad("bad vFile:pread") }
            return .pread(fd: try int(0), count: try int(1), offset: offset)
        case "fstat":
            return .fstat(fd: try int(0))
        default:
            return .other(String(op))
        }
    }

    /// "addr,length" with length bounded to Int32.
    static func addressLength(_ text: Substring, packet: String) throws(GDBPacketError) -> (UInt64, Int) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Hex.number(parts[0]), let l = Hex.number(parts[1]) else {
            throw GDBPacketError(packet: packet, reason: "expected addr,length")
        }
        guard l <= UInt64(Int32.max) else { throw GDBPacketError(packet: packet, reason: "length too large") }
        return (a, Int(l))
    }

    /// A hex number small enough for an index (register numbers, Z kinds).
    static func smallNumber(_ text: Substring) -> Int? {
        guard text.count <= 8, let v = Hex.number(text) else { return nil }
        return Int(v)
    }

    /// A concrete, positive process id.
    static func processID(_ text: Substring) -> Int? {
        guard let v = smallNumber(text), v > 0 else { return nil }
        return v
    }

    /// A signal number: two hex digits.
    static func signal(_ text: Substring) -> UInt8? {
        guard text.count == 2, let v = Hex.number(text) else { return nil }
        return UInt8(v)
    }
}
