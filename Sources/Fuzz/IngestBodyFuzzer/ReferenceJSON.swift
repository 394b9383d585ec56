import ReadingsDomain

/// An independent, deliberately plain RFC 8259 + I-JSON parser that builds a tree, used as the
/// oracle for `IngestBodyParser`: recursive descent over an array, UTF-8 checked by the standard
/// library's decoder, at most 64 nested containers (the contract's limit), member names unique
/// after unescaping.
indirect enum ReferenceJSON {
    case object([(name: [UInt8], value: ReferenceJSON)])
    case array([ReferenceJSON])
    /// The decoded UTF-8 bytes and the content's range in the body (between the quotes).
    case string([UInt8], content: Range<Int>)
    /// The literal's range in the body.
    case number(Range<Int>)
    case boolean
    case null

    var kind: JSONValueKind {
        switch self {
        case .object: .object
        case .array: .array
        case .string: .string
        case .number: .number
        case .boolean: .boolean
        case .null: .null
        }
    }

    /// The member named `name`, if any (names are unique).
    func member(_ name: String) -> ReferenceJSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.name.elementsEqual(name.utf8) }?.value
    }

    static let maxDepth = 64

    /// Parses a whole document, or nil when it is not JSON.
    static func parse(_ bytes: [UInt8]) -> ReferenceJSON? {
        var parser = Parser(b: bytes)
        parser.whitespace()
        guard let value = parser.value(depth: 1) else { return nil }
        parser.whitespace()
        return parser.i == bytes.count ? value : nil
    }

    private struct Parser {
        let b: [UInt8]
        var i = 0

        var peek: UInt8? { i < b.count ? b[i] : nil }

        mutating func whitespace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
        }

        mutating func eat(_ c: UInt8) -> Bool {
            guard peek == c else { return false }
            i += 1
            return true
        }

        /// A value whose containers, if it is one, sit at nesting level `depth`.
        mutating func value(depth: Int) -> ReferenceJSON? {
            switch peek {
            case UInt8(ascii: "{"):
                guard depth <= ReferenceJSON.maxDepth else { return nil }
                i += 1
                var members: [(name: [UInt8], value: ReferenceJSON)] = []
                whitespace()
                if eat(UInt8(ascii: "}")) { return .object(members) }
                while true {
                    whitespace()
                    guard case .string(let name, _)? = string() else { return nil }
                    if members.contains(where: { $0.name == name }) { return nil }
                    whitespace()
                    guard eat(UInt8(ascii: ":")) else { return nil }
                    whitespace()
                    guard let v = value(depth: depth + 1) else { return nil }
                    members.append((name, v))
                    whitespace()
                    if eat(UInt8(ascii: "}")) { return .object(members) }
                    guard eat(UInt8(ascii: ",")) else { return nil }
                }
            case UInt8(ascii: "["):
                guard depth <= ReferenceJSON.maxDepth else { return nil }
                i += 1
                var elements: [ReferenceJSON] = []
                whitespace()
                if eat(UInt8(ascii: "]")) { return .array(elements) }
                while true {
                    whitespace()
                    guard let v = value(depth: depth + 1) else { return nil }
                    elements.append(v)
                    whitespace()
                    if eat(UInt8(ascii: "]")) { return .array(elements) }
                    guard eat(UInt8(ascii: ",")) else { return nil }
                }
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "t"):
                return literal("true") ? .boolean : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .boolean : nil
            case UInt8(ascii: "n"):
                return literal("null") ? .null : nil
            default:
                return number()
            }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard i + w.count <= b.count, Array(b[i..<i + w.count]) == w else { return false }
            i += w.count
            return true
        }

        /// number = [ minus ] int [ frac ] [ exp ]
        mutating func number() -> ReferenceJSON? {
            let start = i
            func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            _ = eat(UInt8(ascii: "-"))
            guard isDigit(peek) else { return nil }
            if eat(UInt8(ascii: "0")) {
                if isDigit(peek) { return nil }
            } else {
                while isDigit(peek) { i += 1 }
            }
            if eat(UInt8(ascii: ".")) {
                guard isDigit(peek) else { return nil }
                while isDigit(peek) { i += 1 }
            }
            if eat(UInt8(ascii: "e")) || eat(UInt8(ascii: "E")) {
                if !eat(UInt8(ascii: "+")) { _ = eat(UInt8(ascii: "-")) }
                guard isDigit(peek) else { return nil }
                while isDigit(peek) { i += 1 }
            }
            return .number(start..<i)
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: return nil
                }
                v = v * 16 + d
                i += 1
            }
            return v
        }

        mutating func string() -> ReferenceJSON? {
            guard eat(UInt8(ascii: "\"")) else { return nil }
            let start = i
            var out: [UInt8] = []
            while true {
                guard let c = peek else { return nil }
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { return nil }
                i += 1
                guard c == UInt8(ascii: "\\") else {
                    out.append(c)
                    continue
                }
                guard let e = peek else { return nil }
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var unit = hex4() else { return nil }
                    if (0xDC00...0xDFFF).contains(unit) { return nil }
                    if (0xD800...0xDBFF).contains(unit) {
                        guard eat(UInt8(ascii: "\\")), eat(UInt8(ascii: "u")), let low = hex4(),
                            (0xDC00...0xDFFF).contains(low)
                        else { return nil }
                        unit = 0x10000 + (unit - 0xD800) * 0x400 + (low - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(unit)!)).utf8))
                default: return nil
                }
            }
            let content = start..<i
            i += 1
            // The raw content (escapes are ASCII, so they cannot complete a broken sequence).
            var iterator = b[content].makeIterator()
            var decoder = Unicode.UTF8.ForwardParser()
            loop: while true {
                switch decoder.parseScalar(from: &iterator) {
                case .valid: continue
                case .emptyInput: break loop
                case .error: return nil
                }
            }
            return .string(out, content: content)
        }
    }
}

/// What `IngestBodyParser.parse` must return for a body, worked out from the reference tree.
enum ReferenceIngest {
    enum Expected {
        case invalidJSON
        case invalidRequest
        case invalidDeviceID(DeviceIDError)
        case tooManyReadings(count: Int, limit: Int)
        case body(id: [UInt8], idSpan: Range<Int>, items: [(span: Range<Int>?, verdict: IngestVerdict)], readings: [Reading])
    }

    static func expected(_ bytes: [UInt8], tree: ReferenceJSON?, maxReadings: Int) -> Expected {
        guard let tree else { return .invalidJSON }
        guard case .object = tree, case .array(let elements)? = tree.member("readings"), !elements.isEmpty else {
            return .invalidRequest
        }
        guard let id = tree.member("id") else { return .invalidDeviceID(.missing) }
        guard case .string(let idBytes, let idSpan) = id else { return .invalidDeviceID(.notAString) }
        let scalars = Array(String(decoding: idBytes, as: UTF8.self).unicodeScalars)
        if scalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return .invalidDeviceID(.controlCharacter)
        }
        if scalars.isEmpty { return .invalidDeviceID(.empty) }
        if scalars.count > 128 { return .invalidDeviceID(.tooLong(scalars: scalars.count)) }
        if elements.count > maxReadings { return .tooManyReadings(count: elements.count, limit: maxReadings) }

        var items: [(span: Range<Int>?, verdict: IngestVerdict)] = []
        var readings: [Reading] = []
        for element in elements {
            guard case .object = element else {
                items.append((nil, .notAnObject(element.kind)))
                continue
            }
            guard let timestamp = element.member("timestamp") else {
                items.append((nil, .invalidTimestamp(.missing)))
                continue
            }
            guard case .string(let text, let span) = timestamp else {
                items.append((nil, .invalidTimestamp(.notAString(timestamp.kind))))
                continue
            }
            let instant: Instant
            switch text.withUnsafeBufferPointer({ Instant.parseRFC3339($0) }) {
            case .success(let value): instant = value
            case .failure(let error):
                items.append((span, .invalidTimestamp(error)))
                continue
            }
            guard let count = element.member("count") else {
                items.append((span, .invalidCount(.missing)))
                continue
            }
            guard case .number(let literal) = count else {
                items.append((span, .invalidCount(.notANumber(count.kind))))
                continue
            }
            switch judgeCount(bytes[literal]) {
            case .success(let value):
                items.append((span, .valid))
                readings.append(Reading(instant: instant, count: value))
            case .failure(let error):
                items.append((span, .invalidCount(error)))
            }
        }
        return .body(id: idBytes, idSpan: idSpan, items: items, readings: readings)
    }

    /// The contract's count rule on a JSON number literal, by decimal normalisation: strip the
    /// sign, fold the fraction into the exponent, drop leading and trailing zeros.
    /// Zero (any spelling) is 0; then negative, then non-integral, then above 2^53−1 are refused.
    static func judgeCount(_ literal: ArraySlice<UInt8>) -> Result<UInt64, CountError> {
        var text = Array(literal)
        let negative = text.first == UInt8(ascii: "-")
        if negative { text.removeFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            var exponentText = text[(e + 1)...]
            let exponentNegative = exponentText.first == UInt8(ascii: "-")
            if exponentText.first == UInt8(ascii: "-") || exponentText.first == UInt8(ascii: "+") {
                exponentText = exponentText.dropFirst()
            }
            for d in exponentText.drop(while: { $0 == UInt8(ascii: "0") }) {
                exponent = min(exponent * 10 + Int(d - 0x30), 1 << 40)  // beyond any body's digits
            }
            if exponentNegative { exponent = -exponent }
            text.removeSubrange(e...)
        }
        var digits: [UInt8]
        if let dot = text.firstIndex(of: UInt8(ascii: ".")) {
            exponent -= text.count - dot - 1
            digits = Array(text[..<dot] + text[(dot + 1)...])
        } else {
            digits = text
        }
        digits = Array(digits.drop(while: { $0 == UInt8(ascii: "0") }))
        if digits.isEmpty { return .success(0) }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        if negative { return .failure(.negative) }
        if exponent < 0 { return .failure(.notInteger) }
        if digits.count + exponent > 16 { return .failure(.tooLarge) }
        var value: UInt64 = 0
        for d in digits { value = value * 10 + UInt64(d - 0x30) }
        for _ in 0..<exponent { value *= 10 }
        return value <= (1 << 53) - 1 ? .success(value) : .failure(.tooLarge)
    }
}
