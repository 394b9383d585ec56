/// Judging a JSON number literal as a reading's count.
///
/// A count is a literal whose exact decimal value is an integer in 0...2^53−1. Integrality is
/// judged on the digits, never on a rounded `Double`: `3.0`, `3e0`, `30e-1` and `-0` are counts,
/// `3.0000000000000001`, `1e-400` and `3.5` are not.
public enum ReadingCount {
    /// The largest count a single reading may carry: 2^53−1 (I-JSON safe integers).
    public static let max: UInt64 = (1 << 53) - 1

    /// Judges `literal`, which must already match the JSON number grammar.
    public static func judge(_ literal: UnsafeBufferPointer<UInt8>) -> Result<UInt64, CountError> {
        var i = 0
        let n = literal.count
        let negative = n > 0 && literal[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        // The significant digits are those of the integer and fraction parts, read as one
        // sequence; `first`/`last` are the first and last non-zero ones in it.
        var position = 0
        var integerDigits = 0
        var first = -1
        var last = -1
        var inFraction = false
        while i < n {
            let b = literal[i]
            if b == UInt8(ascii: ".") {
                inFraction = true
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if b != UInt8(ascii: "0") {
                    if first < 0 { first = position }
                    last = position
                }
                if !inFraction { integerDigits += 1 }
                position += 1
            } else {
                break  // 'e' or 'E'
            }
            i += 1
        }
        var exponent = 0
        if i < n {
            i += 1
            var exponentNegative = false
            if literal[i] == UInt8(ascii: "-") || literal[i] == UInt8(ascii: "+") {
                exponentNegative = literal[i] == UInt8(ascii: "-")
                i += 1
            }
            while i < n {
                // Saturate: anything beyond a billion is decided by its sign alone.
                if exponent < 1_000_000_000 { exponent = exponent * 10 + Int(literal[i] &- 48) }
                i += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        if first < 0 { return .success(0) }  // 0, -0, 0.000, 0e400
        if negative { return .failure(.negative) }
        // value = digits[first...last] × 10^scale
        let scale = exponent + integerDigits - 1 - last
        if scale < 0 { return .failure(.notInteger) }
        let significant = last - first + 1
        if significant + scale > 16 { return .failure(.tooLarge) }
        var value: UInt64 = 0
        position = 0
        i = negative ? 1 : 0
        while position <= last {
            let b = literal[i]
            i += 1
            if b == UInt8(ascii: ".") { continue }
            if position >= first { value = value * 10 + UInt64(b - 48) }
            position += 1
        }
        for _ in 0..<scale { value *= 10 }
        return value <= max ? .success(value) : .failure(.tooLarge)
    }
}

/// Why a count was refused (`INVALID_COUNT`).
public enum CountError: Error, Hashable, Sendable {
    /// No `count` member.
    case missing
    /// A JSON value that is not a number; the payload names its type.
    case notANumber(JSONValueKind)
    /// A negative number.
    case negative
    /// A number with a non-zero fractional part.
    case notInteger
    /// An integer above 2^53−1.
    case tooLarge

    /// The explanation written into per-reading results.
    public var message: String {
        switch self {
        case .missing: "count is missing"
        case .notANumber(let kind): "count must be a JSON number, not \(kind.phrase)"
        case .negative: "count must not be negative"
        case .notInteger: "count must be a whole number"
        case .tooLarge: "count must be at most 9007199254740991 (2^53-1)"
        }
    }
}

/// The type of a JSON value, for error messages.
public enum JSONValueKind: String, Hashable, Sendable, CustomStringConvertible {
    case object, array, string, number, boolean, null

    /// The type's name.
    public var description: String { rawValue }

    /// The type with its article: "an object", "a string", "null".
    public var phrase: String {
        switch self {
        case .object, .array: "an \(rawValue)"
        case .null: "null"
        default: "a \(rawValue)"
        }
    }
}
