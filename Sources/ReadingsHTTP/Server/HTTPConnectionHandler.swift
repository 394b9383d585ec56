import Logging
import NIOCore
import NIOHTTP1

/// One connection's requests, on its event loop, straight after NIO's HTTP/1.1 request decoder:
/// the head is checked before any body is read (key, route, media type, declared size, memory
/// in flight), the body is gathered up to its limit, the route answers through a ``Responder``,
/// and the answer is written (its head serialised here, with the body, as one buffer when the
/// body is small), counted and logged.
///
/// HTTP/1.1 as this handler keeps it:
/// - keep-alive unless the client says `Connection: close` (or speaks HTTP/1.0 without
///   `keep-alive`); the answer then says `Connection: close` and the connection closes after it;
/// - pipelining: requests are answered one at a time, in order; parts of a request that arrive
///   while the one before it is being answered wait in a queue, and the connection reads no more
///   until that queue is empty;
/// - `Expect: 100-continue` is answered `100 Continue` when the head is admitted, and with the
///   refusal (and a close) when it is not, so that no body is sent for nothing;
/// - one timer per connection: the idle timeout runs from the connection's start and from each
///   answer until the next head has arrived whole (bytes of a head dripping in do not reset it);
///   the request timeout from a head until its request has been read whole. Handling a request
///   is not timed. The timer is re-armed only when it fires, so steady traffic schedules about
///   one timer per timeout rather than one per request;
/// - on graceful shutdown (`ChannelShouldQuiesceEvent`) an idle connection closes at once and a
///   busy one after its answer;
/// - a request NIO cannot parse is answered `400` and the connection closed (when no answer is
///   being waited for).
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let api: any RequestHandling
    private let logger: Logger
    private let idleTimeout: TimeAmount?
    private let requestTimeout: TimeAmount?

    /// The request being received or answered.
    private struct Exchange {
        var head: HTTPRequestHead
        var path: Substring
        var query: Substring?
        var route: APIRoute?
        var parameter: Substring = ""
        var gzip = false
        var start: NIODeadline
        var requestID: RequestID
        /// The body gathered so far (nil: none yet).
        var body: ByteBuffer?
        /// Largest body taken; 0 for routes without one (their body is read and dropped).
        var bodyLimit = 0
        /// Memory reserved in flight for this request, released with its answer.
        var reservation = 0
        /// An answer decided at the head, given once the request has been read whole.
        var pendingAnswer: Response?
        /// Whether the request has been read whole.
        var ended = false
        /// Whether the answer has been written (the rest of the request is dropped).
        var answered = false
        var closeAfterAnswer = false
    }

    private var exchange: Exchange?
    /// Whether the current request's answer is a ``StreamedBody`` still being written (the
    /// requests behind it wait, as behind any answer not yet given).
    private var streaming = false
    private var streamChunked = false
    private var closeAfterStream = false
    /// The write of the last streamed piece: the producer waits for it before the next one goes.
    private var lastStreamWrite: EventLoopFuture<Void>?
    /// Numbers the requests of the connection, so that an answer can only go to its own.
    private var requestNumber: UInt64 = 0
    /// Parts of pipelined requests read while the request before them is being answered.
    private var queued = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 4)
    private var draining = false
    /// A read asked for while requests wait in ``queued``, passed on once they are answered.
    private var readHeld = false
    /// Set once the connection is to close: nothing more is read or answered.
    private var closing = false
    private var quiescing = false
    private var context: ChannelHandlerContext?
    /// The buffer answers are written into, kept between answers: once the socket has taken an
    /// answer it is ours alone again, and clearing it keeps its memory (no allocation per answer).
    private var output: ByteBuffer?

    /// Since when the connection has waited for a head (nil: a request is in progress).
    private var idleSince: NIODeadline?
    /// When the head of the request being read arrived (nil: none is being read).
    private var headArrival: NIODeadline?
    private var timer: Scheduled<Void>?

    init(api: any RequestHandling, idleTimeout: TimeAmount?, requestTimeout: TimeAmount?, logger: Logger) {
        self.api = api
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        armTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    private func stop() {
        closing = true
        releaseReservation()
        timer?.cancel()
        timer = nil
        queued.removeAll()
    }

    // MARK: Reading

    /// Whether the current request has been read whole and waits for its answer.
    private var awaitingAnswer: Bool {
        guard let exchange else { return false }
        return exchange.ended && (!exchange.answered || streaming)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let part = unwrapInboundIn(data)
        if awaitingAnswer || !queued.isEmpty {
            queued.append(part)
        } else {
            receive(part, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if awaitingAnswer || !queued.isEmpty {
            readHeld = true
        } else {
            context.read()
        }
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
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
            guard exchange != nil else { return }
            headArrival = nil
            exchange?.ended = true
            guard let exchange, !exchange.answered else { return requestDone() }
            if let answer = exchange.pendingAnswer {
                return finish(answer, for: requestNumber)
            }
            guard let route = exchange.route else { return }
            var request = Request(head: exchange.head, path: exchange.path, query: exchange.query, body: exchange.body ?? ByteBuffer())
            request.parameter = exchange.parameter
            request.gzip = exchange.gzip
            self.exchange?.body = nil
            api.serve(
                request, route: route,
                responder: Responder(
                    eventLoop: context.eventLoop, connection: NIOLoopBound(self, eventLoop: context.eventLoop), request: requestNumber))
        }
    }

    private func receiveHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestNumber &+= 1
        let now = NIODeadline.now()
        idleSince = nil
        headArrival = now
        armTimer()
        let (path, query) = Request.split(target: head.uri)
        var exchange = Exchange(
            head: head, path: path, query: query, start: now, requestID: RequestID(given: head.headers.first(name: "X-Request-Id")))
        let expectsContinue = head.headers.first(name: "Expect").map { $0.lowercased() == "100-continue" } ?? false
        switch api.admit(head, path: path) {
        case .serve(let route, let parameter, let body):
            exchange.route = route
            exchange.parameter = parameter
            exchange.bodyLimit = body.limit
            exchange.reservation = body.reservation
            exchange.gzip = body.gzip
            self.exchange = exchange
            if expectsContinue && body.limit > 0 {
                var interim = context.channel.allocator.buffer(capacity: 25)
                interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(interim), promise: nil)
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

    /// The current request is read and answered: go on with the requests queued behind it,
    /// then read again.
    private func requestDone() {
        idleSince = .now()
        armTimer()
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        // An answer given at once (on the event loop) ends the next request inside `receive`;
        // the loop, not recursion, then takes the one after it.
        while !closing && !awaitingAnswer, let part = queued.popFirst() {
            receive(part, context: context)
        }
        if readHeld && !closing && !awaitingAnswer && queued.isEmpty {
            readHeld = false
            context.read()
        }
    }

    // MARK: Answering

    private func answerAndClose(_ response: Response) {
        exchange?.closeAfterAnswer = true
        finish(response, for: requestNumber)
    }

    /// Writes the answer to request `number` (if it is still the connection's current one).
    func finish(_ response: Response, for number: UInt64) {
        guard let context, !closing, number == requestNumber, exchange?.answered == false else { return }
        exchange?.answered = true
        exchange?.body = nil
        guard let exchange else { return }
        releaseReservation()
        let close = exchange.closeAfterAnswer || quiescing || !exchange.head.isKeepAlive
        api.record(
            method: exchange.head.method, path: exchange.path, route: exchange.route, status: Int(response.status.code),
            requestID: exchange.requestID, since: exchange.start)

        let includeBody = exchange.head.method != .HEAD && response.body.readableBytes > 0
        // A small body goes in the head's buffer: one buffer, one write.
        let inline = includeBody && response.body.readableBytes <= 16 << 10
        var out = output.take() ?? context.channel.allocator.buffer(capacity: 1024)
        out.clear()
        if let stream = response.stream {
            return startStream(stream, head: response, into: out, close: close, exchange: exchange, context: context)
        }
        out.reserveCapacity(192 + (inline ? response.body.readableBytes : 0))
        out.writeHead(of: response, requestID: exchange.requestID, close: close)
        if inline { out.writeImmutableBuffer(response.body) }
        if includeBody && !inline {
            context.write(wrapOutboundOut(out), promise: nil)
            out = response.body
        }
        if close {
            closing = true
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [context] _ in context.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        // Kept for the next answer only if small: one large answer should not pin its memory.
        if out.capacity <= 16 << 10 { output = out }
        if exchange.ended { requestDone() }
    }

    // MARK: Streamed answers

    /// Writes the head of a streamed answer and starts its producer.
    private func startStream(
        _ stream: StreamedBody, head response: Response, into out: ByteBuffer, close: Bool, exchange: Exchange,
        context: ChannelHandlerContext
    ) {
        var out = out
        let chunked = exchange.head.version.major > 1 || (exchange.head.version.major == 1 && exchange.head.version.minor >= 1)
        // Without chunks, the end of the body is the end of the connection.
        let close = close || !chunked
        out.writeHead(of: response, requestID: exchange.requestID, close: close, streamed: chunked ? .chunked : .untilClose)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        if exchange.head.method == .HEAD {
            if close {
                closing = true
                context.close(promise: nil)
            } else if exchange.ended {
                requestDone()
            }
            return
        }
        streaming = true
        streamChunked = chunked
        closeAfterStream = close
        lastStreamWrite = nil
        let number = requestNumber
        let connection = NIOLoopBound(self, eventLoop: context.eventLoop)
        let writer = BodyWriter(eventLoop: context.eventLoop, connection: connection, request: number, chunked: chunked)
        let eventLoop = context.eventLoop
        Task {
            var failed = false
            do {
                try await stream.produce(writer)
            } catch {
                failed = true
            }
            eventLoop.execute { [failed] in connection.value.endStream(for: number, failed: failed) }
        }
    }

    /// Writes a piece of the streamed answer to request `number`; the future is the piece
    /// before it's write (the producer waits for it, so at most two pieces are in flight).
    func writeStreamed(_ piece: ByteBuffer, for number: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard let context, !closing, streaming, number == requestNumber else {
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let previous = lastStreamWrite ?? context.eventLoop.makeSucceededVoidFuture()
        lastStreamWrite = context.writeAndFlush(wrapOutboundOut(piece))
        return previous
    }

    /// The producer of request `number`'s streamed answer has ended: the last chunk, then the
    /// next request; or, when it failed, the connection closed so the client sees a cut body.
    func endStream(for number: UInt64, failed: Bool) {
        guard let context, streaming, number == requestNumber else { return }
        streaming = false
        lastStreamWrite = nil
        if failed || closing {
            closing = true
            context.close(promise: nil)
            return
        }
        var out = context.channel.allocator.buffer(capacity: 5)
        if streamChunked { out.writeStaticString("0\r\n\r\n") }
        if closeAfterStream || quiescing {
            closing = true
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [context] _ in context.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        if exchange?.ended == true { requestDone() }
    }

    private func releaseReservation() {
        guard let reservation = exchange?.reservation, reservation > 0 else { return }
        exchange?.reservation = 0
        api.release(reservation)
    }

    // MARK: Timeouts, shutdown, errors

    /// The earliest moment the connection may be closed for a timeout, if one is running.
    private var nextDeadline: NIODeadline? {
        var due: NIODeadline?
        if let idleSince, let idleTimeout { due = idleSince + idleTimeout }
        if let headArrival, let requestTimeout { due = min(due ?? headArrival + requestTimeout, headArrival + requestTimeout) }
        return due
    }

    /// Arms the timer if a timeout is running and no timer is. It fires at the earliest
    /// deadline or one shortest timeout from now, whichever comes first: a deadline set later
    /// is at least that far off, so the timer is never late for it.
    private func armTimer(now: NIODeadline? = nil) {
        guard timer == nil, !closing, let context, var due = nextDeadline else { return }
        let shortest = [idleTimeout, requestTimeout].compactMap { $0 }.min()!
        due = min(due, (now ?? .now()) + shortest)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) {
            let handler = bound.value
            handler.timer = nil
            let now = NIODeadline.now()
            if let due = handler.nextDeadline, due <= now {
                handler.closing = true
                handler.context?.close(promise: nil)
            } else {
                handler.armTimer(now: now)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        // Idle: close now. Busy: the answer says `Connection: close`, and the connection closes
        // after it; requests pipelined behind it are not served.
        if exchange == nil || (exchange!.answered && exchange!.ended && !streaming) {
            closing = true
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError && !closing && (exchange == nil || exchange!.answered) {
            closing = true
            var out = context.channel.allocator.buffer(capacity: 80)
            out.writeStaticString("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        closing = true
        context.close(promise: nil)
    }
}

extension ByteBuffer {
    /// An HTTP/1.1 response head: status line, `Content-Type`, the response's headers,
    /// `Content-Length` (not on 204 and 304: a 304's would be the full file's; a streamed body
    /// has `Transfer-Encoding: chunked` or, for HTTP/1.0, neither), `X-Request-Id`, and
    /// `Connection: close` when closing.
    /// How a streamed body is delimited.
    enum StreamedFraming {
        case chunked
        case untilClose
    }

    mutating func writeHead(of response: Response, requestID: RequestID, close: Bool, streamed: StreamedFraming? = nil) {
        writeStaticString("HTTP/1.1 ")
        writeDecimal(response.status.code)
        writeStaticString(" ")
        writeString(response.status.reasonPhrase)
        writeStaticString("\r\n")
        if let contentType = response.contentType {
            writeStaticString("Content-Type: ")
            writeString(contentType)
            writeStaticString("\r\n")
        }
        for (name, value) in response.headers {
            writeString(name)
            writeStaticString(": ")
            writeString(value)
            writeStaticString("\r\n")
        }
        if streamed == .chunked {
            writeStaticString("Transfer-Encoding: chunked\r\n")
        } else if streamed == nil && response.status != .notModified && response.status != .noContent {
            writeStaticString("Content-Length: ")
            writeDecimal(response.body.readableBytes)
            writeStaticString("\r\n")
        }
        writeStaticString("X-Request-Id: ")
        requestID.write(into: &self)
        writeStaticString(close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n")
    }

}

/// What the connection handler needs of the API: the head's admission, the answer, and the
/// bookkeeping of every answer (metrics, log, memory in flight).
protocol RequestHandling: Sendable {
    func admit(_ head: HTTPRequestHead, path: Substring) -> Admission
    func serve(_ request: Request, route: APIRoute, responder: Responder)
    func bodyTooLarge(limit: Int) -> Response
    func release(_ reservation: Int)
    func record(method: HTTPMethod, path: Substring, route: APIRoute?, status: Int, requestID: RequestID, since start: NIODeadline)
}

/// What the head of a request decides.
enum Admission {
    /// What a route takes of a request's body.
    struct Body {
        /// Largest body taken (0: the route takes none, and a body sent is read and dropped).
        var limit = 0
        /// Bytes of the in-flight budget held until the answer.
        var reservation = 0
        /// Whether the body is gzip.
        var gzip = false
    }

    /// Serve `route`, taking the body as `Body` says.
    case serve(APIRoute, parameter: Substring, body: Body)
    /// Refused by its head; answered once the request has been read (the connection stays open).
    case answerAfterBody(Response)
    /// Refused before its body is read (too large, or no memory for it): answered now, and the
    /// connection closed, since its body will not be read.
    case answerNow(Response)
}
