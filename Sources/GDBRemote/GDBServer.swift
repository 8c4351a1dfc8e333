// The TCP transport: swift-nio in, bytes to `GDBSession`, bytes out. No protocol logic here.
//
//   gdb ──TCP──► GDBConnectionHandler ──bytes──► GDBSession ──calls──► GDBTarget (own thread)
//        ◄──────────────────────────── bytes ◄──┘   ▲                      │
//                                                    └── loop.execute ◄─────┘ GDBStopSink.report
//
// Everything mutable lives in `ServerCore`, confined to one event loop: the session, the
// listening channel and the one connected gdb. A target reports a stop from its own thread via
// the sink, which hops onto that loop. Nothing on the loop waits for the machine.
//
// Hostile or broken clients (the stub has no authentication; anyone who reaches the port is
// a client):
//   * one gdb at a time: a second connection gets an `E.<message>` reply to its first packet and
//     is closed — unless the connected one is not a working gdb: it sent no packet yet, or it
//     has left output unread for `Limits.stallTimeout`; then the new connection replaces it;
//   * a connection that sends no complete packet within `Limits.firstPacketTimeout` is closed;
//   * replies are bounded: input is taken one reply at a time, and while more than
//     `Limits.maxPendingOutput` bytes wait for the client to read them the connection is not
//     read at all (NIO writability), so a client that sends requests and never reads keeps the
//     stub's memory flat instead of growing it by one reply per request;
//   * a listening address other than loopback is announced with a warning in the log.

import NIOCore
import NIOPosix

public final class GDBServer: Sendable {
    public let host: String
    public let requestedPort: Int
    private let target: any GDBTarget
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let loop: any EventLoop
    private let core: NIOLoopBoundBox<ServerCore?>
    private let log: @Sendable (String) -> Void
    private let limits: Limits

    /// How long and how much the server waits for a client (see the file header).
    public struct Limits: Sendable {
        /// A connection must send a complete packet within this time (gdb sends qSupported at once).
        public var firstPacketTimeout: TimeAmount = .seconds(5)
        /// A connected client whose pending output has not drained for this long may be replaced
        /// by a new connection.
        public var stallTimeout: TimeAmount = .seconds(5)
        /// Bytes of replies waiting for the client to read them before the server stops reading
        /// its requests (NIO's high write-buffer watermark; the low one is a quarter of it).
        public var maxPendingOutput = 1 << 20
        public init() {}
    }

    /// - Parameters:
    ///   - host: the address to listen on (loopback by default: the stub has no authentication).
    ///   - port: the TCP port; 0 picks a free one (see the value `start()` returns).
    ///   - eventLoopGroup: a group to run on; by default the server makes (and owns) a 1-thread one.
    public init(target: any GDBTarget, host: String = "127.0.0.1", port: Int = 1234,
                eventLoopGroup: (any EventLoopGroup)? = nil, limits: Limits = Limits(),
                log: @escaping @Sendable (String) -> Void = GDBLog.stderrSink) {
        self.target = target
        self.limits = limits
        self.host = host
        self.requestedPort = port
        if let eventLoopGroup {
            group = eventLoopGroup
            ownsGroup = false
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            ownsGroup = true
        }
        loop = group.next()
        core = NIOLoopBoundBox.makeEmptyBox(valueType: ServerCore.self, eventLoop: loop)
        self.log = log
    }

    /// Binds and starts accepting gdb connections; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        try await startFuture().get()
    }

    /// Blocking variant of `start()` for synchronous callers (never from the server's own loop).
    @discardableResult
    public func startBlocking() throws -> Int {
        try startFuture().wait()
    }

    private func startFuture() -> EventLoopFuture<Int> {
        let core = self.core
        let target = self.target
        let log = self.log
        let loop = self.loop
        let host = self.host
        let requestedPort = self.requestedPort
        let limits = self.limits
        return loop.submit {
            if core.value == nil {
                let deliver: @Sendable (UInt64, GDBStopEvent) -> Void = { generation, event in
                    loop.execute { core.value?.stopArrived(generation: generation, event: event) }
                }
                core.value = ServerCore(session: GDBSession(target: target, log: log, stopDelivery: deliver),
                                        limits: limits, log: log)
            }
        }.flatMap {
            ServerBootstrap(group: loop, childGroup: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark,
                                    value: .init(low: max(1, limits.maxPendingOutput / 4), high: max(2, limits.maxPendingOutput)))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(GDBConnectionHandler(core: core))
                    }
                }
                .bind(host: host, port: requestedPort)
        }.map { (channel: any Channel) -> Int in
            core.value?.listener = channel
            let port = channel.localAddress?.port ?? requestedPort
            log("listening on \(host):\(port)")
            if let address = channel.localAddress, let warning = GDBServer.exposureWarning(address, requestedHost: host) {
                log(warning)
            }
            return port
        }
    }

    /// Stops listening and closes the connected gdb (and the event loop group, if the server
    /// made it).
    public func shutdown() async throws {
        try await closeFuture().get()
        if ownsGroup { try await group.shutdownGracefully() }
    }

    /// Blocking variant of `shutdown()` for synchronous callers (never from the server's own loop).
    public func shutdownBlocking() throws {
        try closeFuture().wait()
        if ownsGroup { try group.syncShutdownGracefully() }
    }

    private func closeFuture() -> EventLoopFuture<Void> {
        let core = self.core
        return loop.flatSubmit {
            guard let c = core.value else { return core.eventLoop.makeSucceededVoidFuture() }
            var futures: [EventLoopFuture<Void>] = []
            if let l = c.listener { futures.append(l.close()) }
            if let a = c.active { futures.append(a.close()) }
            c.listener = nil
            return EventLoopFuture.andAllComplete(futures, on: core.eventLoop)
        }
    }

    /// The warning for a listening address that is not loopback (nil for loopback): anyone who
    /// can reach the port controls the machine — the protocol has no authentication.
    public static func exposureWarning(_ address: SocketAddress, requestedHost: String) -> String? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        let loopback = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
        if loopback { return nil }
        let unspecified = ip == "0.0.0.0" || ip == "::"
        let shown = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        let reach = unspecified ? "on every network interface" : "beyond this host (not a loopback address)"
        return "WARNING: listening on \(shown) (\(requestedHost)), \(reach): anyone who can connect to this port "
            + "controls the machine — memory, registers, execution; the gdb protocol has no authentication. "
            + "Use 127.0.0.1 (the default) and an SSH tunnel unless every host that can reach the port is trusted."
    }

    /// True while a gdb is connected (for status lines and tests).
    public func isGDBConnected() async throws -> Bool {
        let core = self.core
        return try await loop.submit { core.value?.active != nil }.get()
    }
}

/// The loop-confined server state.
final class ServerCore {
    let session: GDBSession
    let limits: GDBServer.Limits
    let log: @Sendable (String) -> Void
    var listener: (any Channel)?
    /// The connection the session serves, and its handler.
    var active: (any Channel)?
    var activeHandler: GDBConnectionHandler?

    init(session: GDBSession, limits: GDBServer.Limits, log: @escaping @Sendable (String) -> Void) {
        self.session = session
        self.limits = limits
        self.log = log
    }

    func stopArrived(generation: UInt64, event: GDBStopEvent) {
        let out = session.handleStop(generation: generation, event: event)
        guard let channel = active else { return }
        write(out, to: channel)
    }

    func write(_ out: GDBSessionOutput, to channel: any Channel) {
        if !out.bytes.isEmpty {
            let buffer = channel.allocator.buffer(bytes: out.bytes)
            if out.close {
                channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            channel.writeAndFlush(buffer, promise: nil)
        }
        if out.close { channel.close(promise: nil) }
    }

    /// True when the connected client is not a working gdb: it has sent no packet yet, or its
    /// unread output has not drained for `limits.stallTimeout`.
    func activeIsUnresponsive(now: NIODeadline) -> Bool {
        guard let h = activeHandler else { return false }
        if session.packetsReceived == 0 { return true }
        if let since = h.stalledSince, now - since >= limits.stallTimeout { return true }
        return false
    }

    /// Ends the session of the active connection and closes it (its later `channelInactive`
    /// finds it no longer active).
    func dropActive(reason: String) {
        guard let channel = active, let h = activeHandler else { return }
        log("closing the gdb connection from \(channel.remoteAddress.map { "\($0)" } ?? "?"): \(reason)")
        h.isActiveGDB = false
        active = nil
        activeHandler = nil
        session.disconnect()
        channel.close(promise: nil)
    }
}

/// One TCP connection.
final class GDBConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let busyMessage = "another gdb is already connected to this vmxemu; only one debugger at a time"
    /// Replies gathered before one write (a burst of small ones goes out together).
    static let writeChunk = 64 << 10

    private let core: NIOLoopBoundBox<ServerCore?>
    var isActiveGDB = false
    private var rejected = false
    /// Received bytes not yet given to the session (they wait while the client does not read).
    private var input: ByteBuffer?
    /// A read the channel asked for and this handler held back (backpressure).
    private var readHeld = false
    /// Since when the client has been behind: output waits for it to read, or requests wait
    /// for that output to drain. Cleared only once it has caught up with everything it asked
    /// for (a gdb reads each reply before it sends the next request).
    private(set) var stalledSince: NIODeadline?
    /// Inside `process` (a write can report writability re-entrantly).
    private var processing = false

    init(core: NIOLoopBoundBox<ServerCore?>) {
        self.core = core
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let c = core.value else { context.close(promise: nil); return }
        let peer = context.remoteAddress.map { "\($0)" } ?? "?"
        if c.active != nil, c.activeIsUnresponsive(now: .now()) {
            c.dropActive(reason: "it is not answering (no packet yet, or its replies are unread) and a new connection arrived")
        }
        if c.active != nil {
            rejected = true
            c.log("refused a second gdb connection from \(peer)")
            // A client that never speaks is dropped after a while.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        } else {
            isActiveGDB = true
            c.active = context.channel
            c.activeHandler = self
            c.log("gdb connected from \(peer)")
            c.write(c.session.connect(), to: context.channel)
            // A client that sends no packet in time is not a gdb: it must not hold the slot.
            let channel = context.channel
            let core = self.core
            let timeout = c.limits.firstPacketTimeout
            context.eventLoop.scheduleTask(in: timeout) {
                guard let c = core.value, c.active === channel, c.session.packetsReceived == 0 else { return }
                c.dropActive(reason: "no gdb packet within \(timeout.nanoseconds / 1_000_000) ms")
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard let c = core.value else { return }
        if rejected {
            // Answer the first packet with a readable error, then hang up.
            guard let bytes = buffer.readBytes(length: buffer.readableBytes), bytes.contains(UInt8(ascii: "#")) else {
                return
            }
            rejected = false
            var reply: [UInt8] = [UInt8(ascii: "+")]
            reply += GDBReply.errorMessage(Self.busyMessage).framed
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: reply))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        guard isActiveGDB else { return }
        if input == nil || input!.readableBytes == 0 {
            input = buffer
        } else {
            input!.writeBuffer(&buffer)
        }
        process(context: context, c)
    }

    /// Feeds the session one reply at a time while the client keeps up with its output.
    private func process(context: ChannelHandlerContext, _ c: ServerCore) {
        // A write can report writability re-entrantly: the outer call goes on instead.
        guard !processing else { return }
        processing = true
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            let bytes = pending
            pending = []
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }
        while isActiveGDB, context.channel.isWritable, var buf = input, buf.readableBytes > 0 {
            let (out, used) = buf.withUnsafeReadableBytes { c.session.receiveUntilReply($0) }
            buf.moveReaderIndex(forwardBy: used)
            input = buf.readableBytes > 0 ? buf : nil
            pending += out.bytes
            if out.close {
                let bytes = pending
                pending = []
                processing = false
                c.write(GDBSessionOutput(bytes: bytes, close: true), to: context.channel)
                return
            }
            // Write a burst of small replies together; a large one at once. (The loop then
            // sees whether the client keeps up.)
            if pending.count >= Self.writeChunk || (input?.readableBytes ?? 0) == 0 { flush() }
        }
        flush()
        processing = false
        if (input?.readableBytes ?? 0) == 0 && context.channel.isWritable {
            stalledSince = nil
            // Caught up: a read held back meanwhile may go ahead.
            if readHeld {
                readHeld = false
                context.read()
            }
        } else if stalledSince == nil {
            stalledSince = .now()
        }
    }

    /// Backpressure: no read while input waits or the client has not read our output.
    func read(context: ChannelHandlerContext) {
        if (input?.readableBytes ?? 0) > 0 || !context.channel.isWritable {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if let c = core.value, isActiveGDB {
                process(context: context, c)
            } else if readHeld {
                readHeld = false
                context.read()
            }
        } else if stalledSince == nil {
            stalledSince = .now()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isActiveGDB, let c = core.value, c.active === context.channel {
            isActiveGDB = false
            c.active = nil
            c.activeHandler = nil
            c.session.disconnect()
            c.log("gdb disconnected")
        }
        input = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.value?.log("connection error: \(error)")
        context.close(promise: nil)
    }
}
