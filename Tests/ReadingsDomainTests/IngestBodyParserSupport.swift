@testable import ReadingsDomain

/// The outcome of parsing one body, with the body kept so that spans can be read back.
struct ParsedBody {
    let bytes: [UInt8]
    let result: Result<IngestBody, IngestBodyError>

    var body: IngestBody? { try? result.get() }

    var error: IngestBodyError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    /// The JSON syntax error, when the body was refused as invalid JSON.
    var syntaxError: JSONSyntaxError? {
        if case .invalidJSON(let error) = self.error { return error }
        return nil
    }

    var isInvalidJSON: Bool { syntaxError != nil }

    /// The message of an `.invalidRequest` refusal.
    var invalidRequestMessage: String? {
        if case .invalidRequest(let message) = self.error { return message }
        return nil
    }

    var verdicts: [IngestVerdict]? { body?.items.map(\.verdict) }

    /// The text of `span` in the body.
    func text(_ span: Range<Int>?) -> String? {
        span.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// The echoed timestamps of every item, as raw body text.
    var echoes: [String?]? { body?.items.map { text($0.timestampSpan) } }
}

/// Parses raw bytes with the ingest body parser.
func parseIngest(bytes: [UInt8], maxReadings: Int = 100_000) -> ParsedBody {
    let result = bytes.withUnsafeBufferPointer { buffer in
        Result { () throws(IngestBodyError) in try IngestBodyParser.parse(buffer, maxReadings: maxReadings) }
    }
    return ParsedBody(bytes: bytes, result: result)
}

/// Parses a body given as text (its UTF-8 bytes).
func parseIngest(_ text: String, maxReadings: Int = 100_000) -> ParsedBody {
    parseIngest(bytes: Array(text.utf8), maxReadings: maxReadings)
}

/// A body for device "1234" with the given `readings` array elements, spliced in verbatim.
func ingestBody(_ elements: String...) -> String {
    #"{"id":"1234","readings":["# + elements.joined(separator: ",") + "]}"
}

/// 2023-01-01T00:00:00Z.
let newYear = Instant(nanoseconds: 1_672_531_200_000_000_000)
