import NIOCore
import NIOHTTP1

/// A request as the routes see it: its head (NIO's, as parsed), its raw (still percent-encoded)
/// path and query, and its whole body.
struct Request: Sendable {
    let head: HTTPRequestHead
    /// The path without the query, as sent (an absolute-form target's path only).
    let path: Substring
    /// The query without the `?`, as sent; nil when there is none.
    let query: Substring?
    /// The `{id}` segment of the matched route, as sent; empty when the route has none.
    var parameter: Substring = ""
    /// Whether the body is gzip (decided with the head's `Content-Encoding`).
    var gzip = false
    /// The body, whole (empty for requests without one).
    var body: ByteBuffer

    init(head: HTTPRequestHead, path: Substring, query: Substring?, body: ByteBuffer) {
        self.head = head
        self.path = path
        self.query = query
        self.body = body
    }

    var method: HTTPMethod { head.method }
    var headers: HTTPHeaders { head.headers }

    /// A request target split into path and query: origin form (`/a/b?q`) as sent, absolute form
    /// (`http://host/a/b?q`) by its path and query, anything else (`*`) as a path no route has.
    static func split(target: String) -> (path: Substring, query: Substring?) {
        var rest = target[...]
        if rest.utf8.first != UInt8(ascii: "/"), let scheme = rest.range(of: "://") {
            let afterAuthority = rest[scheme.upperBound...]
            if let slash = afterAuthority.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }),
                afterAuthority.utf8[slash] == UInt8(ascii: "/")
            {
                rest = afterAuthority[slash...]
            } else {
                let query = afterAuthority.utf8.firstIndex(of: UInt8(ascii: "?")).map { afterAuthority[afterAuthority.index(after: $0)...] }
                return ("/", query)
            }
        }
        guard let mark = rest.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (rest, nil) }
        return (rest[..<mark], rest[rest.index(after: mark)...])
    }
}

extension HTTPHeaders {
    /// The value of header `name` (case-insensitive); several fields of that name are joined
    /// with ", " as one list (RFC 9110, 5.3). Nil when absent.
    func value(_ name: String) -> String? {
        var found: String?
        for (fieldName, fieldValue) in self where Self.sameName(fieldName, name) {
            found = found.map { $0 + ", " + fieldValue } ?? fieldValue
        }
        return found
    }

    /// Whether two header names are equal, ASCII case ignored (without copying either).
    private static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where x != y {
            guard x | 0x20 == y | 0x20, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(x | 0x20) else { return false }
        }
        return true
    }
}

/// A whole response. The connection handler writes its head itself (status line, these
/// headers, `Content-Length`, `X-Request-Id`, `Connection: close` when closing).
struct Response: Sendable {
    var status: HTTPResponseStatus
    /// `Content-Type`, kept apart from ``headers`` so that the common answer needs no header list.
    var contentType: String?
    /// Any other headers (`Allow`, `Retry-After`, `ETag` …).
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// A body of unbounded size written piece by piece after the head, instead of ``body``.
    var stream: StreamedBody?

    init(status: HTTPResponseStatus, contentType: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// A body produced while it is sent: `produce` runs in a task of its own once the head is
/// written, and hands pieces to the ``BodyWriter``, which waits while the client is slow (at most
/// two pieces are in flight), so that memory stays bounded whatever the size. HTTP/1.1 gets it as
/// `Transfer-Encoding: chunked`; HTTP/1.0 as the bytes up to the connection's close. When
/// `produce` throws after the head went out, the status cannot change any more: the connection
/// is closed without the last chunk, which a client sees as a body cut short.
struct StreamedBody: Sendable {
    let produce: @Sendable (BodyWriter) async throws -> Void
}

/// Where a ``StreamedBody`` writes. Take a buffer from ``makeBuffer(capacity:)`` (it keeps room
/// for the chunk's size line), fill it, and ``write(_:)`` it.
struct BodyWriter: Sendable {
    let eventLoop: any EventLoop
    let connection: NIOLoopBound<HTTPConnectionHandler>
    let request: UInt64
    let chunked: Bool

    /// Bytes kept in front of a piece for its chunk-size line: 8 hex digits and CRLF.
    static let sizeLine = 10
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// An empty buffer with room for the size line in front.
    func makeBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: capacity + BodyWriter.sizeLine + 2)
        buffer.moveWriterIndex(forwardBy: BodyWriter.sizeLine)
        return buffer
    }

    /// Sends a piece made by ``makeBuffer(capacity:)``; returns once the piece before it has been
    /// handed to the socket. Throws when the connection is gone.
    func write(_ piece: ByteBuffer) async throws {
        var piece = piece
        let size = piece.writerIndex - BodyWriter.sizeLine
        guard size > 0 else { return }
        if chunked {
            // The size in 8 hex digits (leading zeros are allowed), then the piece and CRLF.
            var digits = size
            for k in stride(from: 7, through: 0, by: -1) {
                piece.setInteger(BodyWriter.hexDigits[digits & 15], at: k)
                digits >>= 4
            }
            piece.setInteger(UInt8(ascii: "\r"), at: 8)
            piece.setInteger(UInt8(ascii: "\n"), at: 9)
            piece.writeStaticString("\r\n")
        } else {
            piece.moveReaderIndex(forwardBy: BodyWriter.sizeLine)
        }
        try await eventLoop.flatSubmit { [connection, request, eventLoop] in
            connection.value.writeStreamed(piece, for: request, on: eventLoop)
        }.get()
    }
}

/// A 200 (or `status`) response with a JSON body.
func jsonResponse(_ body: ByteBuffer, status: HTTPResponseStatus = .ok) -> Response {
    Response(status: status, contentType: "application/json", body: body)
}

/// Where a route hands its answer: to the connection that asked, from any thread. A route
/// answers exactly once, at once on the event loop (the memory engine decides there) or later
/// from wherever its storage call completes (a journal's group commit, PostgreSQL).
struct Responder: Sendable {
    let eventLoop: any EventLoop
    let connection: NIOLoopBound<HTTPConnectionHandler>
    /// The connection's request number this answer is for.
    let request: UInt64

    func respond(_ response: Response) {
        if eventLoop.inEventLoop {
            connection.value.finish(response, for: request)
        } else {
            eventLoop.execute { [connection, request] in connection.value.finish(response, for: request) }
        }
    }

    /// Runs `body` on the connection's event loop: at once when already there.
    func onEventLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    func fail(_ error: APIError) {
        respond(error.response())
    }

    /// Answers with what `work` returns or throws, run as a task (for storage calls that
    /// suspend). An error other than ``APIError`` is a 500.
    func respond(with work: @escaping @Sendable () async throws -> Response) {
        Task {
            do {
                respond(try await work())
            } catch let error as APIError {
                fail(error)
            } catch {
                fail(APIError(.internalError, "the server failed to answer: \(error)"))
            }
        }
    }
}
