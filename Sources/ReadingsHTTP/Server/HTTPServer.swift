import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP/1.1 server on SwiftNIO: NIO's HTTP/1.1 codec with pipelining assistance, then
/// ``HTTPConnectionHandler`` answering on the connection's event loop. Keep-alive, pipelined
/// requests (answered in order), `Expect: 100-continue`, chunked bodies and `Connection: close`
/// are HTTP/1.1 as NIO parses it; the limits (head size, body size before reading, idle and
/// request timeouts, connections at once) are the configuration's.
///
/// As a `Service`, it serves until graceful shutdown, then stops accepting, lets the requests
/// in flight be answered, closes every connection and returns.
final class HTTPServer: Service, Sendable {
    private let configuration: ServerConfiguration
    private let api: any RequestHandling
    private let logger: Logger
    private let group: any EventLoopGroup
    private let bound: Mutex<[@Sendable (Int) -> Void]> = Mutex([])

    init(
        configuration: ServerConfiguration, api: any RequestHandling, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.api = api
        self.logger = logger
        self.group = group
    }

    /// Calls `body` with the port once listening (for a server on port 0).
    func onListening(_ body: @escaping @Sendable (Int) -> Void) {
        bound.withLock { $0.append(body) }
    }

    func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let limit = configuration.maxConnections
        let configuration = configuration
        let api = api
        let logger = logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    if let limit { try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(limit: limit)) }
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try HTTPServer.configure(channel.pipeline.syncOperations, configuration: configuration, api: api, logger: logger)
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        let port = channel.localAddress?.port ?? configuration.port
        logger.info("listening", metadata: ["server.address": "\(configuration.host):\(port)"])
        for listener in bound.withLock({ $0 }) { listener(port) }

        let stopped = channel.eventLoop.makePromise(of: Void.self)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            // Stop accepting, let each connection finish the request it is in, then close it.
            quiesce.initiateShutdown(promise: stopped)
        }
        try? await stopped.futureResult.get()
    }
}

extension HTTPServer {
    /// A connection's handlers: NIO's HTTP/1.1 request decoder (with the head limits) and the
    /// connection handler, which does the rest of HTTP/1.1 itself (pipelining, timeouts,
    /// writing answers, a 400 for what does not parse).
    static func configure(
        _ pipeline: ChannelPipeline.SynchronousOperations, configuration: ServerConfiguration, api: any RequestHandling,
        logger: Logger
    ) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = configuration.maxHeaderSize
        limits.maxHeaderListSize = configuration.maxHeaderSize
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
        try pipeline.addHandler(
            HTTPConnectionHandler(
                api: api, idleTimeout: configuration.idleTimeout.map { TimeAmount($0) },
                requestTimeout: configuration.requestTimeout.map { TimeAmount($0) }, logger: logger))
    }
}

/// Stops accepting while `limit` connections are open; the kernel's accept queue holds the
/// rest until one closes.
private final class ConnectionLimiter: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never

    private let limit: Int
    private var open = 0
    private var readPending = false

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        open += 1
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        child.closeFuture.whenComplete { _ in
            loop.execute {
                let (limiter, context) = bound.value
                limiter.open -= 1
                if limiter.readPending && limiter.open < limiter.limit {
                    limiter.readPending = false
                    context.read()
                }
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if open >= limit {
            readPending = true
        } else {
            context.read()
        }
    }
}
