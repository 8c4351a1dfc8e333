// The TCP transport: swift-nio in, bytes to `GDBSession`, bytes out. No protocol logic here.
//
//   gdb ──TCP──► GDBConnectionHandler ──bytes──► GDBSession ──calls──► GDBTarget (own thread)
//        ◄──────────────────────────── bytes ◄──┘   ▲                      │
//                                                    └── loop.execute ◄─────┘ GDBStopSink.report
//
// Everything mutable lives in `ServerCore`, confined to one event loop: the session, the
// listening channel and the one connected gdb. A target reports a stop from its own thread via
// the sink, which hops onto that loop. One gdb at a time: a second connection gets an
// `E.<message>` reply to its first packet and is closed; the session outlives connections.

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

    /// - Parameters:
    ///   - host: the address to listen on (loopback by default: the stub has no authentication).
    ///   - port: the TCP port; 0 picks a free one (see the value `start()` returns).
    ///   - eventLoopGroup: a group to run on; by default the server makes (and owns) a 1-thread one.
    public init(target: any GDBTarget, host: String = "127.0.0.1", port: Int = 1234,
                eventLoopGroup: (any EventLoopGroup)? = nil,
                log: @escaping @Sendable (String) -> Void = GDBLog.stderrSink) {
        self.target = target
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
        return loop.submit {
            if core.value == nil {
                let deliver: @Sendable (UInt64, GDBStopEvent) -> Void = { generation, event in
                    loop.execute { core.value?.stopArrived(generation: generation, event: event) }
                }
                core.value = ServerCore(session: GDBSession(target: target, log: log, stopDelivery: deliver), log: log)
            }
        }.flatMap {
            ServerBootstrap(group: loop, childGroup: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
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

    /// True while a gdb is connected (for status lines and tests).
    public func isGDBConnected() async throws -> Bool {
        let core = self.core
        return try await loop.submit { core.value?.active != nil }.get()
    }
}

/// The loop-confined server state.
final class ServerCore {
    let session: GDBSession
    let log: @Sendable (String) -> Void
    var listener: (any Channel)?
    var active: (any Channel)?

    init(session: GDBSession, log: @escaping @Sendable (String) -> Void) {
        self.session = session
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
}

/// One TCP connection.
final class GDBConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let busyMessage = "another gdb is already connected to this vmxemu; only one debugger at a time"

    private let core: NIOLoopBoundBox<ServerCore?>
    private var isActiveGDB = false
    private var rejected = false

    init(core: NIOLoopBoundBox<ServerCore?>) {
        self.core = core
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let c = core.value else { context.close(promise: nil); return }
        if c.active != nil {
            rejected = true
            c.log("refused a second gdb connection from \(context.remoteAddress.map { "\($0)" } ?? "?")")
            // A client that never speaks is dropped after a while.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        } else {
            isActiveGDB = true
            c.active = context.channel
            c.log("gdb connected from \(context.remoteAddress.map { "\($0)" } ?? "?")")
            c.write(c.session.connect(), to: context.channel)
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
        let out = buffer.withUnsafeReadableBytes { c.session.receive($0) }
        c.write(out, to: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isActiveGDB, let c = core.value {
            isActiveGDB = false
            c.active = nil
            c.session.disconnect()
            c.log("gdb disconnected")
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.value?.log("connection error: \(error)")
        context.close(promise: nil)
    }
}
