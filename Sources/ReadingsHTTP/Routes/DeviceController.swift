import NIOCore
import NIOHTTP1
import ReadingsDomain
import ReadingsStorage

/// The device routes: `GET /devices` (the listing), `GET /devices/{id}`, `/latest_timestamp`,
/// `/cumulative_count`, `/buckets` and `/export`, and `DELETE /devices/{id}`.
struct DeviceController<Store: ReadingStore>: Sendable {
    let store: Store
    let metrics: ServiceMetrics

    /// Default and bounds of `limit` for `GET /devices/{id}`.
    static var defaultLimit: Int { 10_000 }
    static var limitRange: ClosedRange<Int> { 1...100_000 }
    /// Default and bounds of `limit` for `GET /devices`.
    static var listDefaultLimit: Int { 100 }
    static var listLimitRange: ClosedRange<Int> { 1...10_000 }

    func serve(_ request: Request, route: APIRoute, responder: Responder) {
        let id: DeviceID
        if route == .devices {
            responder.respond { try await list(request) }
            return
        }
        do {
            id = try deviceID(request.parameter)
        } catch {
            responder.fail(error)
            return
        }
        switch route {
        case .latestTimestamp, .cumulativeCount:
            // The hot reads: answered where the engine answers (at once for memory), no task.
            store.summary(of: id) { result in
                switch result {
                case .success(let summary?):
                    var out = ByteBufferAllocator().buffer(capacity: 64)
                    if route == .latestTimestamp {
                        out.writeStaticString("{\"latest_timestamp\":")
                        out.writeJSONInstant(summary.latest)
                    } else {
                        out.writeStaticString("{\"cumulative_count\":")
                        out.writeDecimal(summary.cumulativeCount)
                    }
                    out.writeStaticString("}")
                    responder.respond(jsonResponse(out))
                case .success(nil):
                    responder.fail(.deviceNotFound(id.string))
                case .failure(let error):
                    responder.fail(APIError.storage(error))
                }
            }
        case .buckets:
            responder.respond { try await buckets(request, id) }
        case .deleteDevice:
            responder.respond { try await delete(id) }
        case .export:
            responder.respond { try await export(request, id) }
        default:
            responder.respond { try await device(request, id) }
        }
    }

    /// `GET /devices`: a page of the fleet in id order.
    private func list(_ request: Request) async throws -> Response {
        let query = try QueryParameters(request.query.map(String.init))
        let limit = try query.integer("limit", in: Self.listLimitRange, default: Self.listDefaultLimit)
        let after = try query.deviceID("after")
        // An empty prefix is no filter; otherwise it must be the start of a possible id.
        let prefix = query.bytes("prefix") ?? []
        if !prefix.isEmpty {
            do throws(DeviceIDError) {
                _ = try DeviceID(validating: prefix)
            } catch {
                throw APIError.invalidParameter("prefix cannot start a device id: \(error.message)")
            }
        }
        // `silent_for`: only devices whose latest reading is older than now minus that long.
        let silentFor = query.string("silent_for")
        var cutoff: Instant?
        if let silentFor {
            guard let span = BucketStep(silentFor) else {
                throw APIError.invalidParameter(
                    "silent_for must be a whole number from 1 followed by s, m, h or d, such as 1h or 7d (got '\(silentFor)')")
            }
            let now = Instant.now().nanoseconds
            let (since, overflow) = now.subtractingReportingOverflow(span.nanoseconds)
            guard !overflow else {
                throw APIError.invalidParameter("silent_for reaches before the earliest representable instant (got '\(silentFor)')")
            }
            cutoff = Instant(nanoseconds: since)
        }
        let page = try await withStorage {
            if let cutoff {
                try await store.silentDevices(before: cutoff, after: after, prefix: prefix, limit: limit)
            } else {
                try await store.devices(after: after, prefix: prefix, limit: limit)
            }
        }
        var out = ByteBuffer()
        out.reserveCapacity(64 + page.devices.count * 120)
        out.writeStaticString("{\"devices\":[")
        for (i, entry) in page.devices.enumerated() {
            if i > 0 { out.writeInteger(UInt8(ascii: ",")) }
            out.writeStaticString("{\"id\":")
            out.writeJSONString(entry.id.utf8)
            out.writeStaticString(",\"latest_timestamp\":")
            out.writeJSONInstant(entry.summary.latest)
            out.writeStaticString(",\"cumulative_count\":")
            out.writeDecimal(entry.summary.cumulativeCount)
            out.writeStaticString(",\"readings\":")
            out.writeDecimal(entry.summary.readingCount)
            out.writeInteger(UInt8(ascii: "}"))
        }
        out.writeInteger(UInt8(ascii: "]"))
        if page.hasMore, let last = page.devices.last {
            out.writeStaticString(",\"next\":")
            var url = "/devices?limit=\(limit)&after=\(PercentEncoding.encode(last.id.utf8))"
            if !prefix.isEmpty { url += "&prefix=\(PercentEncoding.encode(prefix))" }
            if let silentFor { url += "&silent_for=\(PercentEncoding.encode(silentFor.utf8))" }
            out.writeJSONString(url)
        }
        out.writeInteger(UInt8(ascii: "}"))
        return jsonResponse(out)
    }

    /// `GET /devices/{id}/buckets`: counts summed per UTC-aligned bucket.
    private func buckets(_ request: Request, _ id: DeviceID) async throws -> Response {
        let query = try QueryParameters(request.query.map(String.init))
        guard let from = try query.instant("from") else { throw APIError.invalidParameter("from is required") }
        guard let to = try query.instant("to") else { throw APIError.invalidParameter("to is required") }
        guard let stepText = query.string("step") else { throw APIError.invalidParameter("step is required") }
        guard let step = BucketStep(stepText) else {
            throw APIError.invalidParameter(
                "step must be a whole number from 1 followed by s, m, h or d, such as 15m or 1h (got '\(stepText)')")
        }
        let grid: BucketGrid
        do throws(BucketGridError) {
            grid = try BucketGrid(from: from, to: to, step: step)
        } catch {
            throw APIError.invalidParameter(error.message)
        }
        guard let totals = try await withStorage({ try await store.buckets(of: id, grid: grid) }) else {
            throw APIError.deviceNotFound(id.string)
        }
        var out = ByteBuffer()
        out.reserveCapacity(64 + totals.count * 64)
        out.writeStaticString("{\"step\":")
        out.writeJSONString(step.text)
        out.writeStaticString(",\"buckets\":[")
        for (i, total) in totals.enumerated() {
            if i > 0 { out.writeInteger(UInt8(ascii: ",")) }
            out.writeStaticString("{\"start\":")
            out.writeJSONInstant(grid.start(ofBucket: i))
            out.writeStaticString(",\"count\":")
            out.writeDecimal(total.count)
            out.writeStaticString(",\"readings\":")
            out.writeDecimal(total.readings)
            out.writeInteger(UInt8(ascii: "}"))
        }
        out.writeStaticString("]}")
        return jsonResponse(out)
    }

    private func summary(_ id: DeviceID) async throws -> DeviceSummary {
        guard let summary = try await withStorage({ try await store.summary(of: id) }) else {
            throw APIError.deviceNotFound(id.string)
        }
        return summary
    }

    private func device(_ request: Request, _ id: DeviceID) async throws -> Response {
        let query = try QueryParameters(request.query.map(String.init))
        let from = try query.instant("from")
        let to = try query.instant("to")
        let limit = try query.integer("limit", in: Self.limitRange, default: Self.defaultLimit)
        let range = InstantRange(from: from, to: to)
        guard let page = try await withStorage({ try await store.readings(of: id, in: range, limit: limit) }) else {
            throw APIError.deviceNotFound(id.string)
        }
        var out = ByteBuffer()
        out.reserveCapacity(100 + page.readings.count * 40)
        out.writeStaticString("{\"data\":{")
        for (i, reading) in page.readings.enumerated() {
            if i > 0 { out.writeInteger(UInt8(ascii: ",")) }
            out.writeJSONInstant(reading.instant)
            out.writeInteger(UInt8(ascii: ":"))
            out.writeDecimal(reading.count)
        }
        out.writeStaticString("},\"latest_timestamp\":")
        out.writeJSONInstant(page.summary.latest)
        out.writeStaticString(",\"cumulative_count\":")
        out.writeDecimal(page.summary.cumulativeCount)
        if let next = page.next {
            out.writeStaticString(",\"next\":")
            var url = "/devices/\(PercentEncoding.encode(id.utf8))?from=\(PercentEncoding.encode(next.canonical.utf8))"
            if let to { url += "&to=\(PercentEncoding.encode(to.canonical.utf8))" }
            url += "&limit=\(limit)"
            out.writeJSONString(url)
        }
        out.writeStaticString("}")
        return jsonResponse(out)
    }

    /// `DELETE /devices/{id}`: 204 when it existed, 404 when not.
    private func delete(_ id: DeviceID) async throws -> Response {
        guard try await withStorage({ try await store.deleteDevice(id) }) else { throw APIError.deviceNotFound(id.string) }
        metrics.recordDeleted()
        return Response(status: .noContent)
    }

    /// `GET /devices/{id}/export`: every reading in `[from, to)`, streamed (see ``ExportWriter``).
    private func export(_ request: Request, _ id: DeviceID) async throws -> Response {
        let query = try QueryParameters(request.query.map(String.init))
        let range = InstantRange(from: try query.instant("from"), to: try query.instant("to"))
        let formatText = query.string("format") ?? "csv"
        guard let format = ExportWriter<Store>.Format(rawValue: formatText) else {
            throw APIError.invalidParameter("format must be csv or ndjson (got '\(formatText)')")
        }
        // Unknown devices are answered before anything is streamed.
        _ = try await summary(id)
        let exporter = ExportWriter(store: store, device: id, range: range, format: format)
        let name = PercentEncoding.encode(id.utf8) + "." + format.rawValue
        var response = Response(
            status: .ok, contentType: format.contentType,
            headers: ["Content-Disposition": "attachment; filename=\"readings.\(format.rawValue)\"; filename*=UTF-8''\(name)"])
        response.stream = StreamedBody { writer in try await exporter.write(to: writer) }
        return response
    }

    /// The `{id}` path parameter, percent-decoded and checked against the id rules.
    private func deviceID(_ raw: Substring) throws(APIError) -> DeviceID {
        guard let bytes = PercentEncoding.decode(raw) else {
            throw APIError(
                .invalidDeviceID,
                "the device id in the path is not valid percent-encoded UTF-8")
        }
        do throws(DeviceIDError) {
            return try DeviceID(validating: bytes)
        } catch {
            throw APIError(.invalidDeviceID, error.message)
        }
    }
}

/// Runs a storage call, turning "unavailable" into `503 UNAVAILABLE`.
func withStorage<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw APIError.storage(error)
    }
}

extension APIError {
    /// A storage call's failure as an answer: 503 when the engine cannot serve now.
    static func storage(_ error: any Error) -> APIError {
        if case StorageError.unavailable(let reason) = error { return .unavailable(reason) }
        if let error = error as? APIError { return error }
        return APIError(.internalError, "storage failed: \(error)")
    }
}
