/// A strict, allocation-free RFC 8259 scanner over a byte buffer.
///
/// It validates as it goes (string escapes, UTF-8, number grammar, literals, nesting depth,
/// duplicate member names) and hands out positions in the buffer rather than copies, so
/// the ingest parser can read a body in one pass. Whitespace is the four JSON characters only;
/// a byte-order mark is not JSON and is refused.
struct JSONScanner {
    /// The whole body.
    let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    var position = 0
    /// Containers nested deeper than this are refused, so that hostile input cannot exhaust the stack.
    static let maxDepth = 64

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// A string's content between its quotes, still escaped as it was in the body.
    struct StringToken {
        /// Offset of the first content byte.
        var start: Int
        /// Offset of the closing quote.
        var end: Int
        /// Whether the content has backslash escapes (otherwise it is its own decoded value).
        var hasEscapes: Bool

        var count: Int { end - start }
    }

    var isAtEnd: Bool { position >= bytes.count }

    @inline(__always)
    func error(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? position, reason: reason)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next byte, or nil at the end.
    @inline(__always)
    var next: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// Consumes `byte` after optional whitespace or fails with `expectation`.
    @inline(__always)
    mutating func expect(_ byte: UInt8, _ expectation: StaticString) throws(JSONSyntaxError) {
        skipWhitespace()
        guard next == byte else { throw unexpected(expectation) }
        position += 1
    }

    /// An error saying what was expected and what was found.
    func unexpected(_ expectation: StaticString) -> JSONSyntaxError {
        guard let byte = next else { return error("unexpected end of body, expected \(expectation)") }
        if byte >= 0x21 && byte < 0x7F {
            return error("expected \(expectation), found '\(Character(Unicode.Scalar(byte)))'")
        }
        return error("expected \(expectation), found byte 0x\(String(byte, radix: 16, uppercase: true))")
    }

    // MARK: Objects and arrays

    /// The error for a member name that the object already had.
    func duplicateName(_ name: StringToken) -> JSONSyntaxError {
        error("duplicate member name \"\(String(decoding: decoded(name), as: UTF8.self))\"", at: name.start - 1)
    }

    /// Reads an object's members; `position` is at `{`. For each member, `member` is called with
    /// the name and `position` at the value, which it must consume. The caller refuses repeated
    /// names (I-JSON) with ``duplicateName(_:)``, by flag for the names it knows and with
    /// ``MemberNames`` for the rest, so that known names cost no allocation.
    @inline(__always)
    mutating func readObject(
        depth: Int,
        _ member: (inout JSONScanner, StringToken) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        guard depth <= JSONScanner.maxDepth else { throw error("nesting deeper than \(JSONScanner.maxDepth) levels") }
        position += 1
        skipWhitespace()
        if next == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            guard next == UInt8(ascii: "\"") else { throw unexpected("a member name in double quotes") }
            let name = try readString()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            skipWhitespace()
            try member(&self, name)
            skipWhitespace()
            guard let byte = next else { throw unexpected("',' or '}'") }
            position += 1
            if byte == UInt8(ascii: "}") { return }
            guard byte == UInt8(ascii: ",") else {
                position -= 1
                throw unexpected("',' or '}'")
            }
        }
    }

    /// Reads an array's elements; `position` is at `[`. `element` is called with `position` at
    /// each element's value, which it must consume.
    @inline(__always)
    mutating func readArray(
        depth: Int,
        _ element: (inout JSONScanner) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        guard depth <= JSONScanner.maxDepth else { throw error("nesting deeper than \(JSONScanner.maxDepth) levels") }
        position += 1
        skipWhitespace()
        if next == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard let byte = next else { throw unexpected("',' or ']'") }
            position += 1
            if byte == UInt8(ascii: "]") { return }
            guard byte == UInt8(ascii: ",") else {
                position -= 1
                throw unexpected("',' or ']'")
            }
        }
    }

    /// Validates and consumes any value, returning its type.
    mutating func skipValue(depth: Int) throws(JSONSyntaxError) -> JSONValueKind {
        guard let byte = next else { throw unexpected("a value") }
        switch byte {
        case UInt8(ascii: "{"):
            var names = MemberNames()
            try readObject(depth: depth) { (scanner, name) throws(JSONSyntaxError) in
                try names.insert(name, in: scanner)
                _ = try scanner.skipValue(depth: depth + 1)
            }
            return .object
        case UInt8(ascii: "["):
            try readArray(depth: depth) { (scanner) throws(JSONSyntaxError) in
                _ = try scanner.skipValue(depth: depth + 1)
            }
            return .array
        case UInt8(ascii: "\""):
            _ = try readString()
            return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try readNumber()
            return .number
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return .boolean
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return .boolean
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return .null
        default:
            throw unexpected("a value")
        }
    }

    mutating func readLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let length = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard position + length <= bytes.count else { throw error("invalid literal, expected \(literal)") }
        for k in 0..<length where bytes[position + k] != start[k] {
            throw error("invalid literal, expected \(literal)")
        }
        position += length
    }

    // MARK: Numbers

    /// Validates and consumes a number, returning its literal's byte range.
    @inline(__always)
    mutating func readNumber() throws(JSONSyntaxError) -> Range<Int> {
        let start = position
        if next == UInt8(ascii: "-") { position += 1 }
        guard let first = next, isDigit(first) else { throw error("a number needs a digit after '-'") }
        position += 1
        if first == UInt8(ascii: "0") {
            if let b = next, isDigit(b) { throw error("numbers must not have leading zeros") }
        } else {
            skipDigits()
        }
        if next == UInt8(ascii: ".") {
            position += 1
            guard let b = next, isDigit(b) else { throw error("a number needs a digit after '.'") }
            skipDigits()
        }
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            position += 1
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { position += 1 }
            guard let b = next, isDigit(b) else { throw error("a number needs a digit in its exponent") }
            skipDigits()
        }
        return start..<position
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    private mutating func skipDigits() {
        while let b = next, isDigit(b) { position += 1 }
    }

    // MARK: Strings

    /// Validates and consumes a string (`position` at its opening quote).
    @inline(__always)
    mutating func readString() throws(JSONSyntaxError) -> StringToken {
        position += 1
        let start = position
        var hasEscapes = false
        let count = bytes.count
        while true {
            // Fast path: printable ASCII other than the quote and the backslash.
            while position < count {
                let b = bytes[position]
                if b >= 0x20 && b < 0x80 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                    position += 1
                } else {
                    break
                }
            }
            guard position < count else { throw error("unterminated string", at: start - 1) }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                position += 1
                return StringToken(start: start, end: position - 1, hasEscapes: hasEscapes)
            } else if b == UInt8(ascii: "\\") {
                hasEscapes = true
                try readEscape()
            } else if b < 0x20 {
                throw error("raw control character 0x\(String(b, radix: 16, uppercase: true)) in a string: escape it")
            } else {
                try readUTF8Sequence()
            }
        }
    }

    /// Validates one escape sequence; `position` is at the backslash.
    private mutating func readEscape() throws(JSONSyntaxError) {
        let escapeStart = position
        position += 1
        guard let b = next else { throw error("unterminated string") }
        position += 1
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let unit = try readHex4()
            if unit >= 0xDC00 && unit <= 0xDFFF {
                throw error("lone low surrogate escape", at: escapeStart)
            }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw error("lone high surrogate escape", at: escapeStart) }
                position += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error("high surrogate escape not followed by a low surrogate", at: escapeStart)
                }
            }
        default:
            throw error("invalid escape sequence", at: escapeStart)
        }
    }

    private mutating func readHex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("\\u needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[position]) else { throw error("\\u needs four hex digits") }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode Table 3-7: no overlongs, no surrogates,
    /// nothing above U+10FFFF); `position` is at its lead byte.
    private mutating func readUTF8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[position]
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw error("invalid UTF-8")
        }
        guard position + length <= bytes.count else { throw error("invalid UTF-8 (truncated sequence)") }
        let second = bytes[position + 1]
        guard second >= low && second <= high else { throw error("invalid UTF-8") }
        for k in 2..<max(length, 2) where bytes[position + k] & 0xC0 != 0x80 {
            throw error("invalid UTF-8")
        }
        position += length
    }

    /// The decoded bytes of a string token (copies only when it has escapes).
    func decoded(_ token: StringToken) -> [UInt8] {
        guard token.hasEscapes else { return Array(bytes[token.start..<token.end]) }
        var out: [UInt8] = []
        out.reserveCapacity(token.count)
        var i = token.start
        @inline(__always) func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for k in 0..<4 { value = value << 4 | hexValue(bytes[at + k])! }
            return value
        }
        while i < token.end {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex4(i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
            default: out.append(e)  // " \ /
            }
        }
        return out
    }

    /// Whether a token's decoded value is exactly `literal` (ASCII).
    @inline(__always)
    func token(_ token: StringToken, equals literal: StaticString) -> Bool {
        if token.hasEscapes {
            return decoded(token).elementsEqual(
                UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        guard token.count == literal.utf8CodeUnitCount else { return false }
        let start = literal.utf8Start
        for k in 0..<token.count where bytes[token.start + k] != start[k] { return false }
        return true
    }
}

/// The member names seen so far in one object, to refuse duplicates. Allocates only when an
/// object has a name it does not track by flag.
struct MemberNames {
    private var seen: Set<[UInt8]>? = nil

    /// Records `name`, refusing it when it was already there.
    mutating func insert(_ name: JSONScanner.StringToken, in scanner: JSONScanner) throws(JSONSyntaxError) {
        if seen == nil { seen = [] }
        guard seen!.insert(scanner.decoded(name)).inserted else { throw scanner.duplicateName(name) }
    }
}
