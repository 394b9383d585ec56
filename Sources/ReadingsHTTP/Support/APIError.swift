import NIOCore
import NIOHTTP1

/// A whole-request failure, answered with the contract's error body
/// `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: Error, Sendable {
    /// The machine-readable code, e.g. `INVALID_JSON`.
    public var code: ErrorCode
    /// The HTTP status (the code's).
    public var status: HTTPResponseStatus { code.status }
    /// What went wrong, for a person.
    public var message: String
    /// Extra response headers (`Allow`, `Retry-After`).
    public var headers: HTTPHeaders = HTTPHeaders()

    /// Creates an error.
    public init(_ code: ErrorCode, _ message: String, headers: HTTPHeaders = HTTPHeaders()) {
        precondition(!code.isPerReading, "\(code) is a reading's result, not a request's")
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
        body.writeJSONString(code.rawValue)
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
            .unavailable, "storage cannot take requests right now (\(reason)); retry later",
            headers: ["Retry-After": "1"])
    }

    /// 400 `INVALID_PARAMETER`.
    static func invalidParameter(_ message: String) -> APIError {
        APIError(.invalidParameter, message)
    }

    /// 404 `DEVICE_NOT_FOUND`.
    static func deviceNotFound(_ id: String) -> APIError {
        APIError(.deviceNotFound, "Device \(id) not found")
    }
}
