import NIOCore
import NIOHTTP1

/// A whole-request failure, answered with the contract's error body
/// `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: Error, Sendable {
    /// The HTTP status.
    public var status: HTTPResponseStatus
    /// The machine-readable code, e.g. `INVALID_JSON`.
    public var code: String
    /// What went wrong, for a person.
    public var message: String
    /// Extra response headers (`Allow`, `Retry-After`).
    public var headers: HTTPHeaders = HTTPHeaders()

    /// Creates an error.
    public init(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The response: this error's status and headers, and the error body.
    func response() -> Response {
        var body = ByteBuffer()
        writeBody(into: &body, extra: nil)
        return response(body: body)
    }

    /// The error body, optionally with more top-level members written by `extra`.
    func writeBody(into body: inout ByteBuffer, extra: ((inout ByteBuffer) -> Void)?) {
        body.writeStaticString("{\"error\":{\"code\":")
        body.writeJSONString(code)
        body.writeStaticString(",\"message\":")
        body.writeJSONString(message)
        body.writeStaticString("}")
        extra?(&body)
        body.writeStaticString("}")
    }

    /// A response with this error's status and headers and `body`.
    func response(body: ByteBuffer) -> Response {
        Response(status: status, contentType: "application/json", headers: headers, body: body)
    }
}

extension APIError {
    /// 503 `UNAVAILABLE` with `Retry-After`.
    static func unavailable(_ reason: String) -> APIError {
        APIError(
            .serviceUnavailable, "UNAVAILABLE", "storage cannot take requests right now (\(reason)); retry later",
            headers: ["Retry-After": "1"])
    }

    /// 400 `INVALID_PARAMETER`.
    static func invalidParameter(_ message: String) -> APIError {
        APIError(.badRequest, "INVALID_PARAMETER", message)
    }

    /// 404 `DEVICE_NOT_FOUND`.
    static func deviceNotFound(_ id: String) -> APIError {
        APIError(.notFound, "DEVICE_NOT_FOUND", "Device \(id) not found")
    }
}
