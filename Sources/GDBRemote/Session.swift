// The session: the protocol logic between the wire (bytes in, bytes out) and a `GDBTarget`.
// It knows nothing of NIO — the transport feeds it bytes and writes what it returns — so it is
// tested with plain byte arrays and a fake target.
//
//                    connect()                       resume (c, s, vCont)
//   [disconnected] ───────────► [stopped] ─────────────────────────────► [running]
//         ▲  disconnect()         ▲  │ packets → replies                 │ 0x03 → target.interrupt()
//         └───────────────────────┘  │                                   │
//                                    └───────────◄─ handleStop(...) ─────┘  stop reply sent
//
// State kept per connection: ack mode, the features gdb offered, extended mode, the `Hg`/`Hc`
// selections, the attached processes, the breakpoints gdb inserted, physical-memory mode.
// State kept across connections (it belongs to the machine): the last stop, and whether the
// target is running.
//
// The gdb rules (docs/DESIGN.md, "The gdb context model") that the session itself enforces:
//   - current after stop: after every stop reply the reported thread becomes current for g/m
//     (no Hg needed);
//   - qC after attach: qC names the thread of the last stop or vAttach, never something derived
//     from Hg;
//   - a step stops in its own thread: a resume of exactly one thread carries `onlyThread`, and a
//     stop reported elsewhere is not passed to gdb (the target is resumed again; an interrupt is
//     re-attributed);
//   - swbreak only where inserted: `swbreak`/`hwbreak` only where gdb inserted such a breakpoint
//     in that process, and only if gdb announced the feature; otherwise the stop is a plain SIGTRAP;
//   - stops only in attached processes (others are resumed again).

public struct GDBSessionOutput: Equatable, Sendable {
    public var bytes: [UInt8] = []
    /// The transport should close the connection after writing `bytes`.
    public var close = false
    public init(bytes: [UInt8] = [], close: Bool = false) {
        self.bytes = bytes
        self.close = close
    }
}

/// A breakpoint or watchpoint gdb inserted (kept so stops can be checked and so an abrupt
/// disconnect can remove them).
public struct GDBInsertedBreakpoint: Hashable, Sendable {
    public var type: GDBBreakpointType
    public var pid: Int
    public var address: UInt64
    public var kind: Int
}

public final class GDBSession {
    public let target: any GDBTarget
    public let capabilities: GDBCapabilities
    public let layout: GDBRegisterLayout
    private let stopDelivery: @Sendable (UInt64, GDBStopEvent) -> Void
    private let log: @Sendable (String) -> Void

    // Per connection.
    public private(set) var isConnected = false
    private var decoder = PacketDecoder()
    public private(set) var ackMode = true
    public private(set) var gdbFeatures: [String] = []
    public private(set) var multiprocess = false
    public private(set) var extendedMode = false
    public private(set) var continueThread: GDBThreadSelector = .all
    /// The thread `g`/`p`/`m`/`Z` act on (set by `Hg` and by every stop reply).
    public private(set) var currentThread: GDBThreadID?
    /// The thread `qC` names: of the last stop or attach.
    public private(set) var lastStopThread: GDBThreadID?
    public private(set) var attached: Set<Int> = []
    public private(set) var breakpoints: Set<GDBInsertedBreakpoint> = []
    public private(set) var physicalMemoryMode = false
    private var pendingThreadList: ArraySlice<GDBThreadID> = []
    /// Files gdb opened with vFile:open (read whole at open; they are ELF images).
    private var hostFiles: [Int: [UInt8]] = [:]
    private var nextHostFD = 1
    private var lastPacket: [UInt8]?

    // Across connections.
    public private(set) var lastStop: GDBStopEvent?
    /// The resume in progress (nil while stopped).
    public private(set) var running: GDBResumeRequest?
    private var generation: UInt64 = 0
    private var gdbAwaitsStop = false
    private var interruptSent = false
    /// Breakpoints of a gdb that vanished while the target ran: removed at the next stop.
    private var staleBreakpoints: Set<GDBInsertedBreakpoint> = []
    private var queued: [[UInt8]] = []
    private static let maxQueued = 64

    /// The largest memory read served in one `m` reply: PacketSize/2, what gdb asks for at most.
    public static let maxReadBytes = gdbMaxPacketSize / 2

    /// - Parameter stopDelivery: how a stop reported on a `GDBStopSink` (from any thread) gets
    ///   back to `handleStop(generation:event:)` on the session's own thread.
    public init(target: any GDBTarget,
                log: @escaping @Sendable (String) -> Void = GDBLog.stderrSink,
                stopDelivery: @escaping @Sendable (UInt64, GDBStopEvent) -> Void) {
        self.target = target
        self.capabilities = GDBCapabilities(target)
        self.layout = target.registerLayout
        self.log = log
        self.stopDelivery = stopDelivery
    }

    public var isRunning: Bool { running != nil }

    // MARK: Connection lifecycle

    /// A gdb connected. If the machine is running (it ran free while no gdb was connected), it is
    /// interrupted; packets wait until it has stopped.
    public func connect() -> GDBSessionOutput {
        isConnected = true
        decoder = PacketDecoder()
        ackMode = true
        gdbFeatures = []
        multiprocess = false
        extendedMode = false
        continueThread = .all
        physicalMemoryMode = false
        pendingThreadList = []
        hostFiles = [:]
        lastPacket = nil
        queued = []
        breakpoints = []
        attached = Set(target.initiallyAttached())
        currentThread = lastStop.map(\.thread).flatMap { attached.contains($0.pid) ? $0 : nil }
        lastStopThread = currentThread
        if running != nil {
            gdbAwaitsStop = false
            if !interruptSent {
                interruptSent = true
                target.interrupt()
            }
        }
        return GDBSessionOutput()
    }

    /// gdb went away (detached or vanished). Breakpoints it left are removed from the target.
    public func disconnect() {
        guard isConnected else { return }
        isConnected = false
        gdbAwaitsStop = false
        queued = []
        if running != nil {
            staleBreakpoints.formUnion(breakpoints)
            breakpoints = []
        } else {
            removeAllBreakpoints()
            if target.disconnected(stops: newSink()) {
                running = GDBResumeRequest(actions: [GDBResumeAction(.continue(signal: nil))], attachedProcesses: [])
                interruptSent = false
            }
        }
    }

    // MARK: Input

    /// Bytes from gdb; returns the bytes to send back.
    public func receive<S: Sequence>(_ bytes: S) -> GDBSessionOutput where S.Element == UInt8 {
        var out = GDBSessionOutput()
        guard isConnected else { return out }
        for event in decoder.feed(bytes) {
            handle(event, &out)
            if out.close { break }
        }
        return out
    }

    private func handle(_ event: PacketDecoder.Event, _ out: inout GDBSessionOutput) {
        switch event {
        case .ack:
            lastPacket = nil
        case .nack:
            if ackMode, let p = lastPacket { out.bytes += p }
        case .interrupt:
            if running != nil, !interruptSent {
                interruptSent = true
                target.interrupt()
            }
        case .overflow:
            log("packet larger than \(gdbMaxPacketSize) bytes dropped")
            if ackMode { out.bytes.append(UInt8(ascii: "+")) }
            send(.error(.e2big), &out)
        case .badChecksum(let payload):
            if ackMode {
                out.bytes.append(UInt8(ascii: "-"))
            } else {
                // In no-ack mode gdb does not retransmit; take the packet as sent.
                packet(payload, &out)
            }
        case .packet(let payload):
            if ackMode { out.bytes.append(UInt8(ascii: "+")) }
            packet(payload, &out)
        }
    }

    private func packet(_ payload: [UInt8], _ out: inout GDBSessionOutput) {
        if running != nil {
            // All-stop gdb sends nothing but 0x03 while the target runs; this happens only when
            // a new gdb connects to a running machine. Keep the packets until it has stopped.
            if queued.count < Self.maxQueued {
                queued.append(payload)
            } else {
                log("dropped a packet received while the target runs")
                send(.error(.ebusy), &out)
            }
            return
        }
        dispatch(payload, &out)
    }

    private func send(_ reply: GDBReply, _ out: inout GDBSessionOutput) {
        let framed = reply.framed
        out.bytes += framed
        lastPacket = framed
    }

    private func fail(_ error: GDBTargetError, _ out: inout GDBSessionOutput) {
        if let m = error.message { log(m) }
        send(.error(error.errno), &out)
    }

    // MARK: Packets

    private func dispatch(_ payload: [UInt8], _ out: inout GDBSessionOutput) {
        let packet: GDBPacket
        do {
            packet = try GDBPacket.parse(payload)
        } catch {
            log(error.description)
            send(.error(.einval), &out)
            return
        }
        switch packet {
        case .querySupported(let features):
            gdbFeatures = features
            multiprocess = features.contains("multiprocess+")
            send(.text(capabilities.supportedFeatures.joined(separator: ";")), &out)
        case .mustReplyEmpty:
            send(.empty, &out)
        case .startNoAckMode:
            send(.ok, &out)
            ackMode = false
        case .enableExtendedMode:
            if capabilities.extendedMode {
                extendedMode = true
                send(.ok, &out)
            } else {
                send(.empty, &out)
            }
        case .haltReason:
            haltReason(&out)
        case .currentThread:
            if let t = validThread(lastStopThread) ?? firstAttachedThread() {
                send(.text("QC" + t.encoded(multiprocess: multiprocess)), &out)
            } else {
                send(.error(.esrch), &out)
            }
        case .queryAttached:
            send(.text("1"), &out)
        case .threadInfoFirst:
            pendingThreadList = ArraySlice(attachedThreads().map(\.id))
            threadInfoNext(&out)
        case .threadInfoNext:
            threadInfoNext(&out)
        case .threadExtraInfo(let sel):
            if let info = resolveInfo(sel) {
                send(.text(Hex.encode(Array((info.extraInfo ?? info.name).utf8))), &out)
            } else {
                send(.error(.esrch), &out)
            }
        case .threadAlive(let sel):
            send(resolveInfo(sel) != nil ? .ok : .error(.esrch), &out)
        case .setThread(let op, let sel):
            setThread(op, sel, &out)
        case .readRegisters:
            withRegisters(&out) { file, out in send(.text(file.gPacket), &out) }
        case .writeRegisters(let hex):
            guard var file = GDBRegisterFile.decode(gPacket: hex, layout: layout) else {
                send(.error(.einval), &out)
                return
            }
            for r in layout.registers where r.readOnly { file[r.regnum] = nil }
            writeRegisters(file, &out)
        case .readRegister(let n):
            guard n < layout.count else { send(.error(.einval), &out); return }
            withRegisters(&out) { file, out in send(.text(file.hex(n)), &out) }
        case .writeRegister(let n, let hex):
            guard n < layout.count else { send(.error(.einval), &out); return }
            let reg = layout.registers[n]
            guard !reg.readOnly else { send(.error(.eperm), &out); return }
            guard hex.count == reg.byteSize * 2, let v = GDBRegisterFile.decodeRegister(hex[...]), v.available else {
                send(.error(.einval), &out)
                return
            }
            var file = GDBRegisterFile(layout: layout)
            file[n] = v.bytes
            writeRegisters(file, &out)
        case .readMemory(let address, let length):
            readMemory(address, length, &out)
        case .writeMemory(let address, let data), .writeMemoryBinary(let address, let data):
            writeMemory(address, data, &out)
        case .insertBreakpoint(let type, let address, let kind):
            breakpoint(insert: true, type, address, kind, &out)
        case .removeBreakpoint(let type, let address, let kind):
            breakpoint(insert: false, type, address, kind, &out)
        case .vContQuery:
            send(.text("vCont;c;C;s;S"), &out)
        case .vCont(let actions):
            guard !actions.contains(where: { $0.kind == .stop }) else {
                // vCont;t is a non-stop packet; we are all-stop.
                send(.error(.einval), &out)
                return
            }
            resume(actions, &out)
        case .continue(let signal, let address):
            let sel = continueThread.concrete.map(\.selector)
            if let address, !setPC(address, thread: sel?.concrete ?? registerThread(), &out) { return }
            resume([GDBResumeAction(.continue(signal: signal), thread: sel)], &out)
        case .step(let signal, let address):
            guard let t = continueThread.concrete.flatMap(validThread) ?? registerThread() else {
                send(.error(.esrch), &out)
                return
            }
            if let address, !setPC(address, thread: t, &out) { return }
            resume([GDBResumeAction(.step(signal: signal), thread: t.selector)], &out)
        case .attach(let pid):
            attach(pid, &out)
        case .detach(let pid):
            detach(pid, &out)
        case .killProcess(let pid):
            guard let ext = target as? any GDBExtendedMode else { send(.empty, &out); return }
            do {
                try ext.kill(pid: pid)
                forget(pid)
                send(.ok, &out)
            } catch {
                fail(error, &out)
            }
        case .kill:
            // No reply is expected. Outside extended mode gdb is done with us.
            if !extendedMode { out.close = true }
        case .monitor(let command):
            guard let mon = target as? any GDBMonitorCommands else { send(.empty, &out); return }
            let result = mon.monitor(command)
            var text = Substring(result.output)
            while !text.isEmpty {
                // Split on character boundaries, ≤ 2 KiB of text per `O` packet.
                let chunk = text.prefix(2048)
                send(.console(String(chunk)), &out)
                text = text.dropFirst(chunk.count)
            }
            // A failing command has said why on the console: an error reply on top would only
            // make gdb print "Protocol error with Rcmd" after the message. E16 is left for a
            // failure with nothing to say.
            send(result.succeeded || !result.output.isEmpty ? .ok : .error(.einval), &out)
        case .xferRead(let object, let annex, let offset, let length):
            xfer(object, annex, offset, length, &out)
        case .queryPhysicalMemoryMode:
            send(capabilities.physicalMemory ? .text(physicalMemoryMode ? "1" : "0") : .empty, &out)
        case .setPhysicalMemoryMode(let on):
            if capabilities.physicalMemory {
                physicalMemoryMode = on
                send(.ok, &out)
            } else {
                send(.empty, &out)
            }
        case .hostIO(let request):
            hostIO(request, &out)
        case .unknown:
            send(.empty, &out)
        }
    }

    // MARK: Host I/O (vFile)

    private func hostIO(_ request: GDBHostIORequest, _ out: inout GDBSessionOutput) {
        guard let exe = target as? any GDBExecFiles else { send(.empty, &out); return }
        func failure(_ e: FileIOErrno) -> GDBReply { .hostIO(result: -1, errno: e.rawValue, attachment: nil) }
        switch request {
        case .setfs:
            send(.hostIO(result: 0, errno: nil, attachment: nil), &out)
        case .open(let path, let flags, _):
            // Read-only (O_RDONLY, no O_CREAT/O_TRUNC), and only files the target names.
            let allowed = Set(target.processes().compactMap { exe.execFile(pid: $0.pid) })
            guard allowed.contains(path), flags & 0x603 == 0 else {
                log("vFile:open of '\(path)' refused: not an exec file of any context")
                send(failure(.eacces), &out)
                return
            }
            guard hostFiles.count < 16 else { send(failure(.emfile), &out); return }
            switch HostFile.contents(of: path) {
            case .success(let bytes):
                let fd = nextHostFD
                nextHostFD = nextHostFD >= 0x7fff_ffff ? 1 : nextHostFD + 1
                hostFiles[fd] = bytes
                send(.hostIO(result: fd, errno: nil, attachment: nil), &out)
            case .failure(let e):
                send(failure(e), &out)
            }
        case .close(let fd):
            send(hostFiles.removeValue(forKey: fd) != nil ? .hostIO(result: 0, errno: nil, attachment: nil)
                 : failure(.ebadf), &out)
        case .pread(let fd, let count, let offset):
            guard let data = hostFiles[fd] else { send(failure(.ebadf), &out); return }
            let start = offset < UInt64(data.count) ? Int(offset) : data.count
            // Binary data may double when escaped: keep a reply within PacketSize.
            let n = min(count, Self.maxReadBytes / 2, data.count - start)
            send(.hostIO(result: n, errno: nil, attachment: Array(data[start..<start + n])), &out)
        case .fstat(let fd):
            guard let data = hostFiles[fd] else { send(failure(.ebadf), &out); return }
            let st = HostFile.statBytes(size: data.count)
            send(.hostIO(result: st.count, errno: nil, attachment: st), &out)
        case .other:
            send(.empty, &out)
        }
    }

    // MARK: Threads

    private func attachedThreads() -> [GDBThreadInfo] {
        attached.sorted().flatMap { target.threads(of: $0) }.sorted { $0.id < $1.id }
    }

    private func firstAttachedThread() -> GDBThreadID? {
        for pid in attached.sorted() {
            if let t = target.threads(of: pid).map(\.id).min() { return t }
        }
        return nil
    }

    /// The thread if it still exists in an attached process.
    private func validThread(_ t: GDBThreadID?) -> GDBThreadID? {
        guard let t, attached.contains(t.pid), target.threads(of: t.pid).contains(where: { $0.id == t }) else {
            return nil
        }
        return t
    }

    /// The thread registers and memory are served for.
    private func registerThread() -> GDBThreadID? {
        validThread(currentThread) ?? firstAttachedThread()
    }

    /// The info of the one thread a selector names (attached or not: gdb may ask about any).
    private func resolveInfo(_ sel: GDBThreadSelector) -> GDBThreadInfo? {
        if let t = sel.concrete { return target.threads(of: t.pid).first { $0.id == t } }
        if sel.pid == nil, case .id(let tid) = sel.tid {
            return attachedThreads().first { $0.id.tid == tid }
        }
        return nil
    }

    private func setThread(_ op: GDBSetThreadOperation, _ sel: GDBThreadSelector, _ out: inout GDBSessionOutput) {
        let resolved: GDBThreadID?
        if let info = resolveInfo(sel) {
            resolved = info.id
        } else if case .id(let pid)? = sel.pid {
            // pN.0 / pN.-1: a thread of process N — the current one if it is in N.
            guard sel.tid == .any || sel.tid == .all else { send(.error(.esrch), &out); return }
            if let c = currentThread, c.pid == pid {
                resolved = c
            } else if let first = target.threads(of: pid).map(\.id).min() {
                resolved = first
            } else {
                send(.error(.esrch), &out)
                return
            }
        } else if sel.tid == .any || sel.tid == .all {
            // p0.0, 0, -1: any thread; keep the current one.
            resolved = nil
        } else {
            send(.error(.esrch), &out)
            return
        }
        switch op {
        case .general:
            if let resolved { currentThread = resolved }
        case .continue:
            continueThread = resolved.map(\.selector) ?? sel
        }
        send(.ok, &out)
    }

    private func threadInfoNext(_ out: inout GDBSessionOutput) {
        if pendingThreadList.isEmpty {
            send(.text("l"), &out)
            return
        }
        let chunk = pendingThreadList.prefix(512)
        pendingThreadList = pendingThreadList.dropFirst(chunk.count)
        send(.text("m" + chunk.map { $0.encoded(multiprocess: multiprocess) }.joined(separator: ",")), &out)
    }

    // MARK: Registers and memory

    private func withRegisters(_ out: inout GDBSessionOutput, _ body: (GDBRegisterFile, inout GDBSessionOutput) -> Void) {
        guard let t = registerThread() else { send(.error(.esrch), &out); return }
        do {
            let file = try target.readRegisters(t)
            guard file.layout.count == layout.count else { send(.error(.eio), &out); return }
            body(file, &out)
        } catch {
            fail(error, &out)
        }
    }

    private func writeRegisters(_ file: GDBRegisterFile, _ out: inout GDBSessionOutput) {
        guard let t = registerThread() else { send(.error(.esrch), &out); return }
        do {
            try target.writeRegisters(t, file)
            send(.ok, &out)
        } catch {
            // gdb prints an `E.text` reply in "Could not write register …; remote failure reply".
            if let m = error.message, !m.contains(where: { "$#}*".contains($0) }) {
                log(m)
                send(.errorMessage(m), &out)
            } else {
                fail(error, &out)
            }
        }
    }

    private func setPC(_ address: UInt64, thread: GDBThreadID?, _ out: inout GDBSessionOutput) -> Bool {
        guard let thread, let rip = layout.regnum("rip") else { send(.error(.esrch), &out); return false }
        var file = GDBRegisterFile(layout: layout)
        file[rip] = Hex.littleEndian(address, count: layout.registers[rip].byteSize)
        do {
            try target.writeRegisters(thread, file)
            return true
        } catch {
            fail(error, &out)
            return false
        }
    }

    private func readMemory(_ address: UInt64, _ length: Int, _ out: inout GDBSessionOutput) {
        let count = min(length, Self.maxReadBytes)
        guard count > 0 else { send(.text(""), &out); return }
        var bytes: [UInt8]
        if physicalMemoryMode, let phys = target as? any GDBPhysicalMemory {
            bytes = phys.readPhysicalMemory(address: address, count: count)
        } else {
            guard let pid = registerThread()?.pid else { send(.error(.esrch), &out); return }
            bytes = target.readMemory(pid: pid, address: address, count: count)
        }
        if bytes.count > count { bytes = Array(bytes.prefix(count)) }
        send(bytes.isEmpty ? .error(.efault) : .text(Hex.encode(bytes)), &out)
    }

    private func writeMemory(_ address: UInt64, _ data: [UInt8], _ out: inout GDBSessionOutput) {
        // `X addr,0:` is how gdb probes for X support: succeed without touching the target.
        guard !data.isEmpty else { send(.ok, &out); return }
        do {
            if physicalMemoryMode, let phys = target as? any GDBPhysicalMemory {
                try phys.writePhysicalMemory(address: address, bytes: data)
            } else {
                guard let pid = registerThread()?.pid else { send(.error(.esrch), &out); return }
                try target.writeMemory(pid: pid, address: address, bytes: data)
            }
            send(.ok, &out)
        } catch {
            fail(error, &out)
        }
    }

    // MARK: Breakpoints

    private func breakpoint(insert: Bool, _ type: GDBBreakpointType, _ address: UInt64, _ kind: Int,
                            _ out: inout GDBSessionOutput) {
        guard capabilities.supports(type) else { send(.empty, &out); return }
        guard let pid = registerThread()?.pid else { send(.error(.esrch), &out); return }
        let bp = GDBInsertedBreakpoint(type: type, pid: pid, address: address, kind: kind)
        do {
            if insert {
                try apply(insert: true, bp)
                breakpoints.insert(bp)
            } else {
                breakpoints.remove(bp)
                try apply(insert: false, bp)
            }
            send(.ok, &out)
        } catch {
            fail(error, &out)
        }
    }

    private func apply(insert: Bool, _ bp: GDBInsertedBreakpoint) throws(GDBTargetError) {
        switch bp.type {
        case .software:
            guard let t = target as? any GDBSoftwareBreakpoints else { throw .invalid }
            if insert {
                try t.insertSoftwareBreakpoint(pid: bp.pid, address: bp.address, kind: bp.kind)
            } else {
                try t.removeSoftwareBreakpoint(pid: bp.pid, address: bp.address, kind: bp.kind)
            }
        case .hardware:
            guard let t = target as? any GDBHardwareBreakpoints else { throw .invalid }
            if insert {
                try t.insertHardwareBreakpoint(pid: bp.pid, address: bp.address, kind: bp.kind)
            } else {
                try t.removeHardwareBreakpoint(pid: bp.pid, address: bp.address, kind: bp.kind)
            }
        case .writeWatch, .readWatch, .accessWatch:
            guard let t = target as? any GDBWatchpoints else { throw .invalid }
            if insert {
                try t.insertWatchpoint(pid: bp.pid, type: bp.type, address: bp.address, length: bp.kind)
            } else {
                try t.removeWatchpoint(pid: bp.pid, type: bp.type, address: bp.address, length: bp.kind)
            }
        }
    }

    private func removeBreakpoints(where match: (GDBInsertedBreakpoint) -> Bool) {
        for bp in breakpoints where match(bp) {
            do { try apply(insert: false, bp) } catch { log("could not remove \(bp.type) at \(Hex.string(bp.address)): \(error)") }
            breakpoints.remove(bp)
        }
    }

    private func removeAllBreakpoints() { removeBreakpoints { _ in true } }

    // MARK: Processes

    private func attach(_ pid: Int, _ out: inout GDBSessionOutput) {
        guard let ext = target as? any GDBExtendedMode else { send(.empty, &out); return }
        guard target.processes().contains(where: { $0.pid == pid }) else { send(.error(.esrch), &out); return }
        do {
            let t = try ext.attach(pid: pid)
            attached.insert(pid)
            let event = GDBStopEvent(thread: t, reason: .signal(GDBStopReason.sigtrap))
            recordStop(event)
            send(.stop(stopReply(event, attachStop: true)), &out)
        } catch {
            fail(error, &out)
        }
    }

    private func detach(_ pid: Int?, _ out: inout GDBSessionOutput) {
        let pids: [Int]
        if let pid {
            guard attached.contains(pid) else { send(.error(.esrch), &out); return }
            pids = [pid]
        } else {
            pids = attached.sorted()
        }
        for p in pids {
            removeBreakpoints { $0.pid == p }
            target.detach(pid: p)
            forget(p)
        }
        send(.ok, &out)
    }

    /// Drops a process from the session after detach, kill or exit.
    private func forget(_ pid: Int) {
        attached.remove(pid)
        breakpoints = breakpoints.filter { $0.pid != pid }
        if currentThread?.pid == pid { currentThread = nil }
        if lastStopThread?.pid == pid { lastStopThread = nil }
        if lastStop?.thread.pid == pid { lastStop = nil }
    }

    // MARK: Resume and stop

    private func newSink() -> GDBStopSink {
        generation &+= 1
        return GDBStopSink(generation: generation, deliver: stopDelivery)
    }

    private func resume(_ actions: [GDBResumeAction], _ out: inout GDBSessionOutput) {
        guard !attached.isEmpty else { send(.error(.esrch), &out); return }
        var only: GDBThreadID?
        if actions.count == 1, let t = actions[0].thread?.concrete {
            guard validThread(t) != nil else { send(.error(.esrch), &out); return }
            only = t
        }
        let request = GDBResumeRequest(actions: actions, attachedProcesses: attached, onlyThread: only)
        start(request)
        gdbAwaitsStop = true
    }

    private func start(_ request: GDBResumeRequest) {
        running = request
        interruptSent = false
        target.resume(request, stops: newSink())
    }

    /// Resumes again after a stop gdb must not see; an interrupt gdb asked for still applies.
    private func resumeAgain(_ request: GDBResumeRequest) {
        running = request
        target.resume(request, stops: newSink())
        if interruptSent { target.interrupt() }
    }

    /// A stop reported through a sink, now on the session's thread.
    public func handleStop(generation g: UInt64, event: GDBStopEvent) -> GDBSessionOutput {
        var out = GDBSessionOutput()
        guard let request = running, g == generation else {
            log("ignored a stale stop report for \(event.thread)")
            return out
        }
        var event = event
        switch event.reason {
        case .exited, .terminated:
            running = nil
            let pid = event.thread.pid
            let wasAttached = attached.contains(pid)
            forget(pid)
            if isConnected, gdbAwaitsStop, wasAttached {
                let p = multiprocess ? pid : nil
                if case .exited(let code) = event.reason {
                    send(.exited(code: code, pid: p), &out)
                } else if case .terminated(let sig) = event.reason {
                    send(.terminated(signal: sig, pid: p), &out)
                }
                gdbAwaitsStop = false
            } else if isConnected, gdbAwaitsStop {
                // An unattached process ended: nothing for gdb; keep running.
                resumeAgain(request)
                return out
            }
            finishStop(&out)
            return out
        default:
            break
        }
        if !request.attachedProcesses.isEmpty, !attached.contains(event.thread.pid), !interruptSent {
            log("stop in unattached process \(event.thread.pid) not reported (gdb rule: stops only in attached processes); resuming")
            resumeAgain(request)
            return out
        }
        if let only = request.onlyThread, event.thread != only {
            if interruptSent {
                event.thread = only
            } else {
                log("stop in \(event.thread) while only \(only) was resumed (gdb rule: a step stops in its own thread); resuming")
                resumeAgain(request)
                return out
            }
        } else if !attached.contains(event.thread.pid), let t = firstAttachedThread() {
            // An interrupt that landed in an unattached context: gdb may only see attached ones.
            event.thread = t
        }
        running = nil
        recordStop(event)
        if isConnected, gdbAwaitsStop {
            gdbAwaitsStop = false
            if let line = event.console { send(.console(line.hasSuffix("\n") ? line : line + "\n"), &out) }
            send(.stop(stopReply(event, attachStop: false)), &out)
        }
        finishStop(&out)
        return out
    }

    /// After a stop: deferred breakpoint removal, then packets that arrived while running.
    private func finishStop(_ out: inout GDBSessionOutput) {
        if !staleBreakpoints.isEmpty {
            let stale = staleBreakpoints
            staleBreakpoints = []
            for bp in stale {
                do { try apply(insert: false, bp) } catch { log("could not remove \(bp.type) at \(Hex.string(bp.address)): \(error)") }
            }
        }
        while running == nil, isConnected, !queued.isEmpty {
            dispatch(queued.removeFirst(), &out)
        }
    }

    /// Rule 1 and 2: the stopped thread is current for g/m and is what qC names.
    private func recordStop(_ event: GDBStopEvent) {
        lastStop = event
        lastStopThread = event.thread
        currentThread = event.thread
    }

    private func haltReason(_ out: inout GDBSessionOutput) {
        let thread = validThread(lastStop?.thread) ?? firstAttachedThread()
        guard let thread else {
            send(.exited(code: 0, pid: nil), &out)
            return
        }
        var signal = GDBStopReason.sigtrap
        if let last = lastStop, last.thread == thread, case .signal(let s) = last.reason { signal = s }
        let event = GDBStopEvent(thread: thread, reason: .signal(signal))
        currentThread = thread
        lastStopThread = thread
        send(.stop(stopReply(event, attachStop: true)), &out)
    }

    /// The `T` reply for a stop, with rbp, rsp and rip expedited. Breakpoint reasons are kept
    /// only where gdb inserted one in that process and announced the feature (gdb rule "swbreak only where inserted").
    func stopReply(_ event: GDBStopEvent, attachStop: Bool) -> GDBStopReply {
        var reason = event.reason
        let pid = event.thread.pid
        var regs: [(Int, String)] = []
        var rip: UInt64?
        if let file = try? target.readRegisters(event.thread), file.layout.count == layout.count {
            for name in ["rbp", "rsp", "rip"] {
                if let n = layout.regnum(name), file[n] != nil { regs.append((n, file.hex(n))) }
            }
            rip = file.value("rip")
        }
        func hasBreakpoint(_ type: GDBBreakpointType) -> Bool {
            breakpoints.contains { $0.type == type && $0.pid == pid && (rip == nil || $0.address == rip) }
        }
        switch reason {
        case .softwareBreakpoint:
            if !gdbFeatures.contains("swbreak+") || !hasBreakpoint(.software) {
                if isConnected { log("swbreak stop without a gdb breakpoint at the pc: reported as SIGTRAP") }
                reason = .signal(GDBStopReason.sigtrap)
            }
        case .hardwareBreakpoint:
            if !gdbFeatures.contains("hwbreak+") || !hasBreakpoint(.hardware) {
                reason = .signal(GDBStopReason.sigtrap)
            }
        default:
            break
        }
        let signal: UInt8
        if case .signal(let s) = reason { signal = s } else { signal = GDBStopReason.sigtrap }
        return GDBStopReply(signal: signal, thread: event.thread, reason: reason, registers: regs,
                            extra: attachStop ? [] : event.extra, multiprocess: multiprocess)
    }

    // MARK: qXfer

    private func xfer(_ object: GDBXferObject, _ annex: String, _ offset: Int, _ length: Int,
                      _ out: inout GDBSessionOutput) {
        let document: String
        switch object {
        case .features:
            guard annex == "target.xml" else { send(.error(.enoent), &out); return }
            document = layout.targetXML
        case .threads:
            document = threadsXML()
        case .osdata:
            guard let ext = target as? any GDBExtendedMode else { send(.empty, &out); return }
            switch annex {
            case "": document = osdataTypesXML()
            case "processes": document = processesXML(user: ext.osdataUser)
            default: send(.error(.enoent), &out); return
            }
        case .execFile:
            guard let exe = target as? any GDBExecFiles else { send(.empty, &out); return }
            let pid: Int?
            if annex.isEmpty {
                pid = registerThread()?.pid
            } else {
                pid = GDBPacket.processID(Substring(annex))
            }
            guard let pid, let path = exe.execFile(pid: pid) else { send(.error(.enoent), &out); return }
            document = path
        }
        let data = Array(document.utf8)
        guard offset <= data.count else { send(.error(.einval), &out); return }
        let end = offset + min(length, Self.maxReadBytes, data.count - offset)
        send(.xfer(Array(data[offset..<end]), last: end >= data.count), &out)
    }

    private func threadsXML() -> String {
        var x = "<?xml version=\"1.0\"?>\n<threads>\n"
        for t in attachedThreads() {
            x += "  <thread id=\"\(t.id.encoded(multiprocess: multiprocess))\""
            if let core = t.core { x += " core=\"\(core)\"" }
            x += " name=\"\(xmlEscape(t.name))\"/>\n"
        }
        return x + "</threads>\n"
    }

    private func osdataTypesXML() -> String {
        """
        <?xml version="1.0"?>
        <!DOCTYPE target SYSTEM "osdata.dtd">
        <osdata type="types">
          <item>
            <column name="Type">processes</column>
            <column name="Description">Listing of all contexts (VMM and guests)</column>
            <column name="Title">Processes</column>
          </item>
        </osdata>

        """
    }

    private func processesXML(user: String) -> String {
        var x = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"osdata.dtd\">\n<osdata type=\"processes\">\n"
        for p in target.processes() {
            let cores = target.threads(of: p.pid).compactMap(\.core).map(String.init).joined(separator: ",")
            x += "  <item>\n"
            x += "    <column name=\"pid\">\(p.pid)</column>\n"
            x += "    <column name=\"user\">\(xmlEscape(user))</column>\n"
            x += "    <column name=\"command\">\(xmlEscape(p.name))</column>\n"
            x += "    <column name=\"cores\">\(cores)</column>\n"
            x += "  </item>\n"
        }
        return x + "</osdata>\n"
    }
}

/// Escapes text for an XML attribute or element.
func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default:
            if let a = c.asciiValue, a < 0x20, a != 0x09, a != 0x0a { out += " " } else { out.append(c) }
        }
    }
    return out
}
