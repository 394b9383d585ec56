/// Why a timestamp string was refused. Each case maps to one sentence a device developer
/// can act on; the contract's per-reading code for all of them is `INVALID_TIMESTAMP`.
public enum TimestampError: Error, Hashable, Sendable {
    /// No `timestamp` member.
    case missing
    /// A JSON value that is not a string; the payload names its type.
    case notAString(JSONValueKind)
    /// Not of the shape `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    case malformed
    /// Date and time without `Z` or an offset: local time is ambiguous.
    case missingOffset
    /// More than nine fraction digits: finer than a nanosecond, never truncated.
    case tooManyFractionDigits
    /// Second `60`: leap seconds are not representable.
    case leapSecond
    /// Month, day, hour, minute or second out of range (`2023-02-30`, `24:00:00`).
    case invalidDateTime
    /// Offset hours above 23 or minutes above 59.
    case invalidOffset
    /// A valid timestamp whose instant is outside the 64-bit nanosecond range.
    case outOfRange

    /// The explanation written into per-reading results and parameter errors.
    public var message: String {
        switch self {
        case .missing:
            "timestamp is missing"
        case .notAString(let kind):
            "timestamp must be a JSON string, not \(kind.phrase)"
        case .malformed:
            "timestamp must be an RFC 3339 date-time such as 2023-01-01T00:00:00Z or 2023-01-01T01:00:00.5+01:00"
        case .missingOffset:
            "timestamp has no UTC offset: add Z or an offset such as +01:00 (local time is ambiguous)"
        case .tooManyFractionDigits:
            "timestamp has more than 9 fraction digits: the finest precision is one nanosecond"
        case .leapSecond:
            "timestamp has second 60: leap seconds are not supported"
        case .invalidDateTime:
            "timestamp names a date or time that does not exist (month 01-12, day valid for the month, hour 00-23, minute and second 00-59)"
        case .invalidOffset:
            "timestamp has an invalid UTC offset: hours 00-23, minutes 00-59"
        case .outOfRange:
            "timestamp is outside the supported range 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"
        }
    }
}
