import HTTPTypes
import Hummingbird
import Logging

/// One info line per request: method, path, status, duration and request id; never the body or
/// other headers. The request id is the client's `X-Request-Id` when it is 1 to 128 visible ASCII
/// characters, otherwise a new random one; every response, errors included, echoes it.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let requestID = Self.requestID(request.headers[.requestID])
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            log(request, context, status: 500, requestID: requestID, since: start)
            throw error
        }
        response.headers[.requestID] = requestID
        log(request, context, status: response.status.code, requestID: requestID, since: start)
        return response
    }

    /// The client's id if acceptable, else 32 random hex digits.
    static func requestID(_ given: String?) -> String {
        if let given, (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        // 128 random bits from two draws (each draw may be a system call).
        var generator = SystemRandomNumberGenerator()
        let (high, low) = (generator.next(), generator.next())
        return String(unsafeUninitializedCapacity: 32) { out in
            let digits: StaticString = "0123456789abcdef"
            for i in 0..<32 {
                let word = i < 16 ? high : low
                out[i] = digits.utf8Start[Int(word >> UInt64(60 - 4 * (i % 16)) & 0xF)]
            }
            return 32
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, requestID: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        context.logger.info(
            "request",
            metadata: [
                "http.method": .string(request.method.rawValue),
                "http.path": .string(request.uri.path),
                "http.status": .stringConvertible(status),
                "http.duration_us": .stringConvertible(micros),
                "http.request_id": .string(requestID),
            ])
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`.
    static let requestID = HTTPField.Name("X-Request-Id")!
}
