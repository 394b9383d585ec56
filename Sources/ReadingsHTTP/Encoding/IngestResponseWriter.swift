import NIOCore
import ReadingsDomain

/// Writes the `POST /ingest` result body straight from the parsed body and storage's outcomes:
/// `{"accepted": A, "duplicates": D, "rejected": R, "results": [...]}`.
///
/// The device id and each timestamp are echoed from their JSON string content in the request
/// body, which is already valid JSON string content, so nothing is decoded or re-escaped.
struct IngestResponseWriter {
    /// The request body the spans point into.
    let requestBody: UnsafeBufferPointer<UInt8>
    let parsed: IngestBody
    /// One per valid reading, in order.
    let outcomes: [IngestOutcome]
    /// `Prefer: return=minimal`: list only the readings that were not accepted.
    let minimal: Bool

    /// The totals of the response.
    struct Totals {
        var accepted = 0
        /// Both kinds of 409.
        var duplicates = 0
        /// The 409s that were conflicts (for metrics).
        var conflicts = 0
        var rejected = 0
    }

    /// Counts outcomes: 409s are duplicates, 422s (parse failures, overflow, too old) rejected.
    func totals() -> Totals {
        var totals = Totals()
        for outcome in outcomes {
            switch outcome {
            case .accepted: totals.accepted += 1
            case .duplicate: totals.duplicates += 1
            case .conflicting:
                totals.duplicates += 1
                totals.conflicts += 1
            case .overflow, .tooOld: totals.rejected += 1
            }
        }
        totals.rejected += parsed.items.count - outcomes.count
        return totals
    }

    func write(_ totals: Totals, into out: inout ByteBuffer) {
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: sizeBound(totals)) { raw in
            var writer = RawJSONWriter(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            write(totals, with: &writer)
            return writer.count
        }
    }

    /// An upper bound of the body's size: fixed parts, the echoed spans, and the longest message
    /// for every result that is not an acceptance.
    private func sizeBound(_ totals: Totals) -> Int {
        let id = parsed.deviceIDSpan.count
        var bound = 128
        for item in parsed.items {
            let timestamp = Int(item.timestampLength)
            bound += 96 + id + timestamp
            if !item.verdict.isValid || totals.accepted < parsed.items.count {
                // Room for a code and a message naming the id, the timestamp and two counts.
                bound += 400 + 2 * (id + timestamp)
            }
        }
        return bound
    }

    /// The parts of results that are the same for every reading of the request, put together
    /// once: `,"id":"<id>"`, and a duplicate's text from after its timestamp up to the
    /// timestamp again in the message.
    private struct Fragments {
        let bytes: [UInt8]
        let idField: Range<Int>
        let duplicateLead: Range<Int>

        init(id: UnsafeBufferPointer<UInt8>) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(2 * id.count + 120)
            bytes.append(contentsOf: #","id":""#.utf8)
            bytes.append(contentsOf: id)
            bytes.append(UInt8(ascii: "\""))
            idField = 0..<bytes.count
            bytes.append(contentsOf: #"","status":409,"success":false,"code":"DUPLICATE_READING","error":"A reading for device "#.utf8)
            bytes.append(contentsOf: id)
            bytes.append(contentsOf: " at ".utf8)
            duplicateLead = idField.upperBound..<bytes.count
            self.bytes = bytes
        }
    }

    private func write(_ totals: Totals, with out: inout RawJSONWriter) {
        let fragments = Fragments(id: UnsafeBufferPointer(rebasing: requestBody[parsed.deviceIDSpan]))
        fragments.bytes.withUnsafeBufferPointer { bytes in
            write(
                totals, idField: UnsafeBufferPointer(rebasing: bytes[fragments.idField]),
                duplicateLead: UnsafeBufferPointer(rebasing: bytes[fragments.duplicateLead]), with: &out)
        }
    }

    private func write(
        _ totals: Totals, idField: UnsafeBufferPointer<UInt8>, duplicateLead: UnsafeBufferPointer<UInt8>,
        with out: inout RawJSONWriter
    ) {
        out.put("{\"accepted\":")
        out.putDecimal(UInt64(totals.accepted))
        out.put(",\"duplicates\":")
        out.putDecimal(UInt64(totals.duplicates))
        out.put(",\"rejected\":")
        out.putDecimal(UInt64(totals.rejected))
        out.put(",\"results\":[")
        var first = true
        var nextOutcome = 0
        for (index, item) in parsed.items.enumerated() {
            var outcome: IngestOutcome? = nil
            let readingIndex = nextOutcome
            if case .valid = item.verdict {
                outcome = outcomes[nextOutcome]
                nextOutcome += 1
                if minimal && outcome == .accepted { continue }
            }
            if !first { out.put(UInt8(ascii: ",")) }
            first = false
            writeResult(
                index: index, item: item, outcome: outcome, reading: readingIndex, idField: idField,
                duplicateLead: duplicateLead, into: &out)
        }
        out.put("]}")
    }

    /// Writes one result; `reading` is the index in `parsed.readings` when the item is valid.
    @inline(__always)
    private func writeResult(
        index: Int, item: IngestItem, outcome: IngestOutcome?, reading: Int, idField: UnsafeBufferPointer<UInt8>,
        duplicateLead: UnsafeBufferPointer<UInt8>, into out: inout RawJSONWriter
    ) {
        out.put("{\"index\":")
        out.putDecimal(UInt64(index))
        out.put(idField)
        if let span = item.timestampSpan {
            out.put(",\"timestamp\":\"")
            writeSpan(span, into: &out)
            // The two results of nearly every reading, each ending here.
            switch (item.verdict, outcome) {
            case (.valid, .accepted?):
                out.put("\",\"status\":202,\"success\":true}")
                return
            case (.valid, .duplicate?):
                out.put(duplicateLead)
                writeSpan(span, into: &out)
                out.put(" has already been recorded. Duplicates are not allowed.\"}")
                return
            default:
                out.put(UInt8(ascii: "\""))
            }
        }
        switch (item.verdict, outcome) {
        case (.valid, .accepted?), (.valid, .duplicate?):
            preconditionFailure("written above: a valid reading always has its timestamp")
        // Failures: status, `success`, `code` and the opening of `error`, then the message.
        case (.valid, .conflicting(let existing)?):
            out.put(",\"status\":409,\"success\":false,\"code\":\"CONFLICTING_READING\",\"error\":\"")
            out.put("A reading for device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.put(" at ")
            writeSpan(item.timestampSpan!, into: &out)
            out.put(" has already been recorded with count ")
            out.putDecimal(existing)
            out.put("; this reading's count ")
            out.putDecimal(parsed.readings[reading].count)
            out.put(" was not stored. The first reading stays.")
        case (.valid, .overflow?):
            out.put(",\"status\":422,\"success\":false,\"code\":\"COUNT_OVERFLOW\",\"error\":\"")
            out.put("count ")
            out.putDecimal(parsed.readings[reading].count)
            out.put(" would push the cumulative count of device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.put(" past 9223372036854775807 (2^63-1); the reading was not stored")
        case (.valid, .tooOld?):
            out.put(",\"status\":422,\"success\":false,\"code\":\"READING_TOO_OLD\",\"error\":\"")
            out.put("the reading at ")
            writeSpan(item.timestampSpan!, into: &out)
            out.put(" is older than the retention period this server keeps readings for; it was neither stored nor counted")
        case (.notAnObject(let kind), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_READING\",\"error\":\"")
            out.appendJSONStringContent("each element of readings must be an object, not \(kind.phrase)".utf8)
        case (.invalidTimestamp(let error), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_TIMESTAMP\",\"error\":\"")
            out.appendJSONStringContent(error.message.utf8)
        case (.invalidCount(let error), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_COUNT\",\"error\":\"")
            out.appendJSONStringContent(error.message.utf8)
        case (.valid, nil):
            preconditionFailure("a valid reading without an outcome")
        }
        out.put("\"}")
    }

    private func writeSpan(_ span: Range<Int>, into out: inout RawJSONWriter) {
        out.put(UnsafeBufferPointer(rebasing: requestBody[span]))
    }
}
