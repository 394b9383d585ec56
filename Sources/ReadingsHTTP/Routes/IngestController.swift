import NIOCore
import NIOHTTP1
import ReadingsDomain
import ReadingsStorage

/// `POST /ingest`: body checks, the one-pass parse, storage's decisions, the result body.
struct IngestController<Store: ReadingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let metrics: ServiceMetrics
    let budget: InflightBudget

    /// How far past the limit a declared body may be and still be read (and dropped) so that
    /// the connection stays open.
    static var drainAllowance: Int { 64 << 10 }

    /// A refusal decided by the head: whether the request is read whole before it is answered
    /// (a wrong media type) or answered at once with the connection closed (too large, or no
    /// memory for it: its body is never read).
    struct Refusal: Error {
        var error: APIError
        var readsBody: Bool
    }

    /// The head's checks, in the contract's order: media type and coding (415), declared size
    /// (413), memory in flight (503, before any of the body is read). On success, the body limit
    /// and the bytes reserved until the answer (twice the body: the body and what is parsed from
    /// it; a gzip body, or one of unknown size, may grow to the limit).
    func admit(_ head: HTTPRequestHead) -> Result<Admission.Body, Refusal> {
        let encoding: RequestChecks.BodyEncoding
        do {
            encoding = try RequestChecks.requireJSONBody(head.headers)
        } catch {
            return .failure(Refusal(error: error, readsBody: true))
        }
        let limit = configuration.maxBodySize
        let declared = head.headers.first(name: "Content-Length").flatMap { Int($0) }
        if let declared, declared > limit {
            // A body a little over the limit is read and dropped, and the connection kept; a
            // larger one is not read at all.
            return .failure(Refusal(error: RequestChecks.payloadTooLarge(limit), readsBody: declared - limit <= Self.drainAllowance))
        }
        let reservation = 2 * (encoding == .gzip ? limit : declared ?? limit)
        guard budget.reserve(reservation) else {
            return .failure(
                Refusal(
                    error: .unavailable(
                        "requests in flight hold \(budget.inUse) of the \(budget.limit) bytes allowed (--max-inflight-bytes)"),
                    readsBody: false))
        }
        return .success(Admission.Body(limit: limit, reservation: reservation, gzip: encoding == .gzip))
    }

    /// Decides a whole request. A small body is parsed and decided on the event loop, and
    /// answered from there (memory) or from the journal's group commit; a large or gzip one
    /// (see ``BulkWorkExecutor``) off the event loops.
    func ingest(_ request: Request, responder: Responder) {
        let isGzip = request.gzip
        guard request.body.readableBytes < BulkWorkExecutor.threshold && !isGzip else {
            responder.respond {
                try await withTaskExecutorPreference(BulkWorkExecutor.shared) {
                    try await decide(request, gzip: isGzip)
                }
            }
            return
        }
        let parsed: IngestBody
        do {
            parsed = try request.body.withUnsafeReadableBytes { raw throws(APIError) in
                try parse(raw.assumingMemoryBound(to: UInt8.self))
            }
        } catch {
            responder.fail(error)
            return
        }
        store.ingest(parsed.readings, for: parsed.deviceID) { result in
            switch result {
            case .success(let outcomes):
                // The answer is written on the event loop, not on the journal's writer thread.
                responder.onEventLoop { responder.respond(answer(request, body: request.body, parsed: parsed, outcomes: outcomes)) }
            case .failure(let error):
                responder.fail(.storage(error))
            }
        }
    }

    /// Inflates, parses, decides and answers a whole body, suspending for storage.
    private func decide(_ request: Request, gzip: Bool) async throws -> Response {
        let limit = configuration.maxBodySize
        var body = request.body
        if gzip {
            do throws(GzipBody.Failure) {
                body = try GzipBody.inflate(body, limit: limit)
            } catch .tooLarge {
                throw RequestChecks.payloadTooLarge(limit)
            } catch {
                throw APIError(.invalidJSON, "the body is not a valid gzip stream (Content-Encoding: gzip)")
            }
        }
        let parsed = try body.withUnsafeReadableBytes { raw throws(APIError) in
            try parse(raw.assumingMemoryBound(to: UInt8.self))
        }
        let outcomes = try await withStorage { try await store.ingest(parsed.readings, for: parsed.deviceID) }
        return answer(request, body: body, parsed: parsed, outcomes: outcomes)
    }

    /// The answer: 202 when every reading was accepted, else 207, with the per-reading results.
    private func answer(_ request: Request, body: ByteBuffer, parsed: IngestBody, outcomes: [IngestOutcome]) -> Response {
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
        return Response(
            status: allAccepted ? .accepted : .multiStatus, contentType: "application/json",
            headers: minimal ? ["Preference-Applied": "return=minimal"] : HTTPHeaders(), body: out)
    }

    private func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(APIError) -> IngestBody {
        do throws(IngestBodyError) {
            return try IngestBodyParser.parse(bytes, maxReadings: configuration.maxReadings)
        } catch {
            switch error {
            case .invalidJSON(let syntax):
                throw APIError(.invalidJSON, syntax.message)
            case .invalidRequest(let message):
                throw APIError(.invalidRequest, message)
            case .invalidDeviceID(let reason):
                throw APIError(.invalidDeviceID, reason.message)
            case .tooManyReadings(let count, let limit):
                throw APIError(
                    .tooManyReadings,
                    "a request may carry at most \(limit) readings (got \(count)); split the batch")
            }
        }
    }
}
