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

    /// Counts outcomes: 409s are duplicates, 422s (parse failures and overflow) rejected.
    func totals() -> Totals {
        var totals = Totals()
        for outcome in outcomes {
            switch outcome {
            case .accepted: totals.accepted += 1
            case .duplicate: totals.duplicates += 1
            case .conflicting:
                totals.duplicates += 1
                totals.conflicts += 1
            case .overflow: totals.rejected += 1
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

    private func write(_ totals: Totals, with out: inout RawJSONWriter) {
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
            writeResult(index: index, item: item, outcome: outcome, reading: readingIndex, into: &out)
        }
        out.put("]}")
    }

    /// Writes one result; `reading` is the index in `parsed.readings` when the item is valid.
    private func writeResult(
        index: Int, item: IngestItem, outcome: IngestOutcome?, reading: Int, into out: inout RawJSONWriter
    ) {
        out.put("{\"index\":")
        out.putDecimal(UInt64(index))
        out.put(",\"id\":\"")
        writeSpan(parsed.deviceIDSpan, into: &out)
        out.put(UInt8(ascii: "\""))
        if let span = item.timestampSpan {
            out.put(",\"timestamp\":\"")
            writeSpan(span, into: &out)
            out.put(UInt8(ascii: "\""))
        }
        switch (item.verdict, outcome) {
        case (.valid, .accepted?):
            out.put(",\"status\":202,\"success\":true}")
            return
        // Failures: status, `success`, `code` and the opening of `error`, then the message.
        case (.valid, .duplicate?):
            out.put(",\"status\":409,\"success\":false,\"code\":\"DUPLICATE_READING\",\"error\":\"")
            out.put("A reading for device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.put(" at ")
            writeSpan(item.timestampSpan!, into: &out)
            out.put(" has already been recorded. Duplicates are not allowed.")
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
        case (.notAnObject(let kind), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_READING\",\"error\":\"")
            out.putEscaped("each element of readings must be an object, not \(kind.phrase)")
        case (.invalidTimestamp(let error), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_TIMESTAMP\",\"error\":\"")
            out.putEscaped(error.message)
        case (.invalidCount(let error), _):
            out.put(",\"status\":422,\"success\":false,\"code\":\"INVALID_COUNT\",\"error\":\"")
            out.putEscaped(error.message)
        case (.valid, nil):
            preconditionFailure("a valid reading without an outcome")
        }
        out.put("\"}")
    }

    private func writeSpan(_ span: Range<Int>, into out: inout RawJSONWriter) {
        out.put(UnsafeBufferPointer(rebasing: requestBody[span]))
    }
}
