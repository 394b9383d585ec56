import HTTPTypes
import Hummingbird
import NIOCore
import ReadingsDomain
import ReadingsStorage

/// `POST /ingest`: body checks, the one-pass parse, storage's decisions, the result body.
struct IngestController<Store: ReadingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let metrics: ServiceMetrics
    let budget: InflightBudget

    func register(on router: Router<some RequestContext>) {
        router.on(APIRoute.ingest.routerPath, method: APIRoute.ingest.method) { request, _ in
            try await ingest(request)
        }
    }

    func ingest(_ request: Request) async throws -> Response {
        let encoding = try RequestChecks.requireJSONBody(request.headers)
        let limit = configuration.maxBodySize
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit {
            throw RequestChecks.payloadTooLarge(limit)
        }
        let reservation = 2 * (encoding == .gzip ? limit : declared ?? limit)
        guard budget.reserve(reservation) else {
            throw APIError.unavailable("requests in flight hold \(budget.inUse) of the \(budget.limit) bytes allowed (--max-inflight-bytes)")
        }
        defer { budget.release(reservation) }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw RequestChecks.payloadTooLarge(limit)
        }
        // A gzip body may inflate to many times its size: always treated as large.
        guard body.readableBytes >= BulkWorkExecutor.threshold || encoding == .gzip else {
            return try await decide(request, body: body, encoding: encoding)
        }
        // A large batch: the heavy part runs off the event loops (see BulkWorkExecutor).
        return try await withTaskExecutorPreference(BulkWorkExecutor.shared) {
            try await decide(request, body: body, encoding: encoding)
        }
    }

    /// Inflates, parses, decides and answers a collected body.
    private func decide(_ request: Request, body: ByteBuffer, encoding: RequestChecks.BodyEncoding) async throws -> Response {
        let limit = configuration.maxBodySize
        var body = body
        if encoding == .gzip {
            do throws(GzipBody.Failure) {
                body = try GzipBody.inflate(body, limit: limit)
            } catch .tooLarge {
                throw RequestChecks.payloadTooLarge(limit)
            } catch {
                throw APIError(.badRequest, "INVALID_JSON", "the body is not a valid gzip stream (Content-Encoding: gzip)")
            }
        }

        let parsed = try body.withUnsafeReadableBytes { raw throws(APIError) in
            try parse(raw.assumingMemoryBound(to: UInt8.self))
        }
        let outcomes: [IngestOutcome]
        do {
            outcomes = try await store.ingest(parsed.readings, for: parsed.deviceID)
        } catch StorageError.unavailable(let reason) {
            throw APIError.unavailable(reason)
        }

        let minimal = RequestChecks.prefersMinimalReturn(request.headers)
        var out = ByteBuffer()
        let allAccepted = body.withUnsafeReadableBytes { raw in
            let writer = IngestResponseWriter(
                requestBody: raw.assumingMemoryBound(to: UInt8.self), parsed: parsed, outcomes: outcomes,
                minimal: minimal)
            let totals = writer.totals()
            writer.write(totals, into: &out)
            metrics.recordIngest(
                accepted: totals.accepted, duplicate: totals.duplicates - totals.conflicts, conflicting: totals.conflicts,
                rejected: totals.rejected)
            return totals.accepted == parsed.items.count
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if minimal { headers[.preferenceApplied] = "return=minimal" }
        return Response(
            status: allAccepted ? .accepted : .init(code: 207, reasonPhrase: "Multi-Status"),
            headers: headers, body: .init(byteBuffer: out))
    }

    private func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(APIError) -> IngestBody {
        do throws(IngestBodyError) {
            return try IngestBodyParser.parse(bytes, maxReadings: configuration.maxReadings)
        } catch {
            switch error {
            case .invalidJSON(let syntax):
                throw APIError(.badRequest, "INVALID_JSON", syntax.message)
            case .invalidRequest(let message):
                throw APIError(.badRequest, "INVALID_REQUEST", message)
            case .invalidDeviceID(let reason):
                throw APIError(.badRequest, "INVALID_DEVICE_ID", reason.message)
            case .tooManyReadings(let count, let limit):
                throw APIError(
                    .contentTooLarge, "TOO_MANY_READINGS",
                    "a request may carry at most \(limit) readings (got \(count)); split the batch")
            }
        }
    }
}

extension HTTPField.Name {
    /// `Preference-Applied` (RFC 7240).
    static let preferenceApplied = HTTPField.Name("Preference-Applied")!
    /// `Prefer` (RFC 7240).
    static let prefer = HTTPField.Name("Prefer")!
}
