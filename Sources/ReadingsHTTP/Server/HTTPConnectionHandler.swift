import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// One connection's requests, on its event loop: the head is checked before any body is read
/// (key, route, media type, declared size, memory in flight), the body is gathered up to its
/// limit, the route answers through a ``Responder``, and the answer is written with the
/// request id, counted and logged.
///
/// Requests arrive one at a time: NIO's pipelining handler below holds a pipelined request back
/// until the answer to the one before it is written, so answers go out in request order.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let api: any RequestHandling
    private let logger: Logger
    /// How long the connection may wait for a request's head to arrive whole (nil: forever).
    private let idleTimeout: TimeAmount?
    private var idleTimer: Scheduled<Void>?

    /// The request being received or answered.
    private struct Exchange {
        var head: HTTPRequest
        var route: APIRoute?
        var parameter: Substring
        var start: ContinuousClock.Instant
        var requestID: String
        /// The body gathered so far (nil: none yet).
        var body: ByteBuffer?
        /// Largest body taken; 0 for routes without one (their body is read and dropped).
        var bodyLimit: Int
        /// Memory reserved in flight for this request, released with its answer.
        var reservation: Int
        /// An answer decided at the head, given once the request has been read whole.
        var pendingAnswer: Response?
        /// Whether the answer has been written (the rest of the request is dropped).
        var answered = false
        var closeAfterAnswer = false
    }

    private var exchange: Exchange?
    /// Numbers the requests of the connection, so that an answer can only go to its own.
    private var requestNumber: UInt64 = 0
    private var context: ChannelHandlerContext?

    init(api: any RequestHandling, idleTimeout: TimeAmount?, logger: Logger) {
        self.api = api
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseReservation()
        idleTimer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseReservation()
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    /// The idle timeout runs from the connection's start and from each answer until the next
    /// head has arrived whole: bytes of a head dripping in do not reset it (slowloris). The time
    /// from head to the body's end is the request timeout's.
    private func armIdleTimer() {
        guard let idleTimeout, let context else { return }
        idleTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: idleTimeout) {
            let handler = bound.value
            handler.idleTimer = nil
            if handler.exchange == nil || handler.exchange?.answered == true { handler.context?.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            receiveHead(head, context: context)
        case .body(var part):
            // Read through `exchange?` rather than a copy of it: a copy would share the body's
            // storage and make every append copy the whole body gathered so far.
            guard exchange?.answered == false, let limit = exchange?.bodyLimit, limit > 0, exchange?.pendingAnswer == nil
            else { return }
            if (exchange?.body?.readableBytes ?? 0) + part.readableBytes > limit {
                // A chunked body (or one longer than declared) past the limit: answered now,
                // the rest is not read.
                answerAndClose(api.bodyTooLarge(limit: limit))
                return
            }
            if exchange?.body == nil {
                exchange?.body = part
            } else {
                exchange?.body?.writeBuffer(&part)
            }
        case .end:
            guard let exchange, !exchange.answered else { return }
            if let answer = exchange.pendingAnswer {
                finish(answer, for: requestNumber)
                return
            }
            guard let route = exchange.route else { return }
            var request = Request(head: exchange.head, body: exchange.body ?? ByteBuffer())
            request.parameter = exchange.parameter
            api.serve(
                request, route: route,
                responder: Responder(eventLoop: context.eventLoop, connection: NIOLoopBound(self, eventLoop: context.eventLoop), request: requestNumber))
        }
    }

    private func receiveHead(_ head: HTTPRequest, context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        requestNumber &+= 1
        let start = ContinuousClock.now
        let requestID = RequestIDs.requestID(head.headerFields[.requestID])
        let admission = api.admit(head)
        var exchange = Exchange(
            head: head, route: nil, parameter: "", start: start, requestID: requestID, body: nil, bodyLimit: 0, reservation: 0)
        let expectsContinue = head.headerFields[.expect]?.lowercased() == "100-continue"
        switch admission {
        case .serve(let route, let parameter, let bodyLimit, let reservation):
            exchange.route = route
            exchange.parameter = parameter
            exchange.bodyLimit = bodyLimit
            exchange.reservation = reservation
            self.exchange = exchange
            if expectsContinue && bodyLimit > 0 {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        case .answerAfterBody(let response):
            exchange.pendingAnswer = response
            self.exchange = exchange
            // A client waiting for 100 Continue would wait for nothing: answer now and close.
            if expectsContinue { answerAndClose(response) }
        case .answerNow(let response):
            self.exchange = exchange
            answerAndClose(response)
        }
    }

    private func answerAndClose(_ response: Response) {
        exchange?.closeAfterAnswer = true
        finish(response, for: requestNumber)
    }

    /// Writes the answer to request `number` (if it is still the connection's current one).
    func finish(_ response: Response, for number: UInt64) {
        guard let context, number == requestNumber, var exchange, !exchange.answered else { return }
        exchange.answered = true
        self.exchange = exchange
        releaseReservation()

        var response = response
        response.headers[.requestID] = exchange.requestID
        let isHead = exchange.head.method == .head
        // A 304 or 204 has no body and states no length (a 304's would be the full file's).
        if response.status != .notModified && response.status != .noContent {
            response.headers[.contentLength] = String(response.body.readableBytes)
        }
        let close = exchange.closeAfterAnswer || exchange.head.headerFields[.connection]?.lowercased() == "close"
        if close { response.headers[.connection] = "close" }
        api.record(exchange.head, route: exchange.route, status: response.status.code, requestID: exchange.requestID, since: exchange.start)

        context.write(wrapOutboundOut(.head(HTTPResponse(status: response.status, headerFields: response.headers))), promise: nil)
        if !isHead && response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(response.body)), promise: nil)
        }
        if close {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [context] _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            // Writing the end may have delivered a pipelined request already; idle only if not.
            if self.exchange?.answered == true { armIdleTimer() }
        }
    }

    private func releaseReservation() {
        guard let reservation = exchange?.reservation, reservation > 0 else { return }
        exchange?.reservation = 0
        api.release(reservation)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// What the connection handler needs of the API: the head's admission, the answer, and the
/// bookkeeping of every answer (metrics, log, memory in flight).
protocol RequestHandling: Sendable {
    func admit(_ head: HTTPRequest) -> Admission
    func serve(_ request: Request, route: APIRoute, responder: Responder)
    func bodyTooLarge(limit: Int) -> Response
    func release(_ reservation: Int)
    func record(_ head: HTTPRequest, route: APIRoute?, status: Int, requestID: String, since start: ContinuousClock.Instant)
}

/// What the head of a request decides.
enum Admission {
    /// Serve `route`, taking a body of at most `bodyLimit` bytes (0: the route takes none) with
    /// `reservation` bytes of the in-flight budget held until the answer.
    case serve(APIRoute, parameter: Substring, bodyLimit: Int, reservation: Int)
    /// Refused by its head; answered once the request has been read (the connection stays open).
    case answerAfterBody(Response)
    /// Refused before its body is read (too large, or no memory for it): answered now, and the
    /// connection closed, since its body will not be read.
    case answerNow(Response)
}

extension HTTPField.Name {
    /// `Expect`.
    static let expect = HTTPField.Name("Expect")!
}
