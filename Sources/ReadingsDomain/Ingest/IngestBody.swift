/// A parsed `POST /ingest` body: one device and its readings, each already judged.
///
/// Strings are not copied out of the body: results echo the device id and each timestamp by
/// their byte ranges in the original body (valid JSON string content, escapes included, which is
/// exactly what the client sent). Keep the body alive while using those ranges.
public struct IngestBody: Sendable {
    /// The device the readings belong to.
    public var deviceID: DeviceID
    /// The id's JSON string content in the body, between its quotes.
    public var deviceIDSpan: Range<Int>
    /// One entry per element of `readings`, in input order.
    public var items: [IngestItem]
    /// The valid readings, in input order: the `k`-th is the `k`-th item whose verdict is `.valid`.
    public var readings: [Reading]
}

/// One element of `readings` as parsed: its timestamp's position (for the echo) and verdict.
public struct IngestItem: Hashable, Sendable {
    /// Offset of the timestamp's JSON string content in the body, or -1 when the element had
    /// no string timestamp.
    public var timestampStart: Int32
    /// Length in bytes of the timestamp's JSON string content.
    public var timestampLength: Int32
    /// What parsing decided.
    public var verdict: IngestVerdict

    /// The timestamp's JSON string content range in the body, or nil when it had none.
    public var timestampSpan: Range<Int>? {
        timestampStart < 0 ? nil : Int(timestampStart)..<Int(timestampStart) + Int(timestampLength)
    }
}

/// The parser's judgement of one element; the checks run in the contract's order: element
/// shape, timestamp, count. Storage decides duplicates and overflow for `.valid` ones.
public enum IngestVerdict: Hashable, Sendable {
    /// Well-formed: its reading is in ``IngestBody/readings``.
    case valid
    /// `INVALID_READING`: the element is not an object.
    case notAnObject(JSONValueKind)
    /// `INVALID_TIMESTAMP`.
    case invalidTimestamp(TimestampError)
    /// `INVALID_COUNT`.
    case invalidCount(CountError)

    /// Whether this is ``valid`` (a pattern match: cheaper than `==`, which compares payloads).
    @inline(__always)
    public var isValid: Bool {
        if case .valid = self { return true }
        return false
    }
}

/// Why a whole body was refused (nothing is stored).
public enum IngestBodyError: Error, Hashable, Sendable {
    /// `INVALID_JSON`: not JSON as RFC 8259 and I-JSON define it.
    case invalidJSON(JSONSyntaxError)
    /// `INVALID_REQUEST`: valid JSON of the wrong shape.
    case invalidRequest(String)
    /// `INVALID_DEVICE_ID`.
    case invalidDeviceID(DeviceIDError)
    /// `TOO_MANY_READINGS`: more elements than the limit.
    case tooManyReadings(count: Int, limit: Int)
}
