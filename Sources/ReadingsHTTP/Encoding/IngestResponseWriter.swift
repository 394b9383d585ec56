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
        var duplicates = 0
        var rejected = 0
    }

    /// Counts outcomes: 409s are duplicates, 422s (parse failures and overflow) rejected.
    func totals() -> Totals {
        var totals = Totals()
        for outcome in outcomes {
            switch outcome {
            case .accepted: totals.accepted += 1
            case .duplicate, .conflicting: totals.duplicates += 1
            case .overflow: totals.rejected += 1
            }
        }
        totals.rejected += parsed.items.count - outcomes.count
        return totals
    }

    func write(_ totals: Totals, into out: inout ByteBuffer) {
        out.reserveCapacity(minimal ? 64 + (parsed.items.count - totals.accepted) * 200 : 64 + parsed.items.count * 110)
        out.writeStaticString("{\"accepted\":")
        out.writeDecimal(totals.accepted)
        out.writeStaticString(",\"duplicates\":")
        out.writeDecimal(totals.duplicates)
        out.writeStaticString(",\"rejected\":")
        out.writeDecimal(totals.rejected)
        out.writeStaticString(",\"results\":[")
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
            if !first { out.writeInteger(UInt8(ascii: ",")) }
            first = false
            writeResult(index: index, item: item, outcome: outcome, reading: readingIndex, into: &out)
        }
        out.writeStaticString("]}")
    }

    /// Writes one result; `reading` is the index in `parsed.readings` when the item is valid.
    private func writeResult(
        index: Int, item: IngestItem, outcome: IngestOutcome?, reading: Int, into out: inout ByteBuffer
    ) {
        out.writeStaticString("{\"index\":")
        out.writeDecimal(index)
        out.writeStaticString(",\"id\":\"")
        writeSpan(parsed.deviceIDSpan, into: &out)
        out.writeInteger(UInt8(ascii: "\""))
        if let span = item.timestampSpan {
            out.writeStaticString(",\"timestamp\":\"")
            writeSpan(span, into: &out)
            out.writeInteger(UInt8(ascii: "\""))
        }
        switch (item.verdict, outcome) {
        case (.valid, .accepted?):
            out.writeStaticString(",\"status\":202,\"success\":true}")
            return
        case (.valid, .duplicate?):
            failure(409, "DUPLICATE_READING", into: &out)
            out.writeStaticString("A reading for device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.writeStaticString(" at ")
            writeSpan(item.timestampSpan!, into: &out)
            out.writeStaticString(" has already been recorded. Duplicates are not allowed.")
        case (.valid, .conflicting(let existing)?):
            failure(409, "CONFLICTING_READING", into: &out)
            out.writeStaticString("A reading for device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.writeStaticString(" at ")
            writeSpan(item.timestampSpan!, into: &out)
            out.writeStaticString(" has already been recorded with count ")
            out.writeDecimal(existing)
            out.writeStaticString("; this reading's count ")
            out.writeDecimal(parsed.readings[reading].count)
            out.writeStaticString(" was not stored. The first reading stays.")
        case (.valid, .overflow?):
            failure(422, "COUNT_OVERFLOW", into: &out)
            out.writeStaticString("count ")
            out.writeDecimal(parsed.readings[reading].count)
            out.writeStaticString(" would push the cumulative count of device ")
            writeSpan(parsed.deviceIDSpan, into: &out)
            out.writeStaticString(" past 9223372036854775807 (2^63-1); the reading was not stored")
        case (.notAnObject(let kind), _):
            failure(422, "INVALID_READING", into: &out)
            out.writeJSONStringContent("each element of readings must be an object, not \(kind.phrase)".utf8)
        case (.invalidTimestamp(let error), _):
            failure(422, "INVALID_TIMESTAMP", into: &out)
            out.writeJSONStringContent(error.message.utf8)
        case (.invalidCount(let error), _):
            failure(422, "INVALID_COUNT", into: &out)
            out.writeJSONStringContent(error.message.utf8)
        case (.valid, nil):
            preconditionFailure("a valid reading without an outcome")
        }
        out.writeStaticString("\"}")
    }

    /// Writes `,"status":S,"success":false,"code":"C","error":"` (the message follows).
    private func failure(_ status: Int, _ code: StaticString, into out: inout ByteBuffer) {
        out.writeStaticString(",\"status\":")
        out.writeDecimal(status)
        out.writeStaticString(",\"success\":false,\"code\":\"")
        out.writeStaticString(code)
        out.writeStaticString("\",\"error\":\"")
    }

    private func writeSpan(_ span: Range<Int>, into out: inout ByteBuffer) {
        out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(requestBody)[span]))
    }
}
