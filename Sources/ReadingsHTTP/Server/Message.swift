import HTTPTypes
import NIOCore

/// A request as the routes see it: its head, its raw (still percent-encoded) path and query,
/// and its whole body.
struct Request: Sendable {
    let head: HTTPRequest
    /// The path without the query, as sent.
    let path: Substring
    /// The query without the `?`, as sent; nil when there is none.
    let query: Substring?
    /// The `{id}` segment of the matched route, as sent; empty when the route has none.
    var parameter: Substring = ""
    /// The body, whole (empty for requests without one).
    var body: ByteBuffer

    init(head: HTTPRequest, body: ByteBuffer) {
        self.head = head
        self.body = body
        let target = head.path ?? "/"
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = target[..<mark]
            query = target[target.index(after: mark)...]
        } else {
            path = target[...]
            query = nil
        }
    }

    var method: HTTPRequest.Method { head.method }
    var headers: HTTPFields { head.headerFields }
}

/// A whole response.
struct Response: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer

    init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A 200 (or `status`) response with a JSON body.
func jsonResponse(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: body)
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
                fail(APIError(.internalServerError, "INTERNAL_ERROR", "the server failed to answer: \(error)"))
            }
        }
    }
}
