import Testing

@testable import ReadingsDomain

/// A valid body exercising escapes, multi-byte UTF-8, numbers, literals and nested unknown
/// members, with no trailing whitespace (so that every proper prefix is invalid JSON).
let richValidBody =
    #"{"id":"d\u00e9v\ud83d\ude00-é😀","meta":{"a":[1,-2.5e-3,true,false,null,{"b":"\"\\\/\b\f\n\r\t"}],"c":{}},"readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3},{"timestamp":"\u0032023-01-01T01:00:00.5+01:00","count":30e-1,"unit":"kWh"},7,{"count":"x"},{"timestamp":"2023-01-01T00:00:00Z","count":1E2}]}"#

/// Covers `IngestBodyParser.parse` on bodies that are not JSON as RFC 8259 and I-JSON define it:
/// each must be `INVALID_JSON` (whatever else is wrong with it), including duplicate member names,
/// bad UTF-8, lone surrogates, excessive nesting and every truncation of a valid body.
@Suite("IngestBodyParser: invalid JSON")
struct IngestBodyParserJSONTests {
    @Test("the rich valid body is valid")
    func richBodyIsValid() throws {
        let parsed = parseIngest(richValidBody)
        let body = try #require(parsed.body, "\(String(describing: parsed.error))")
        #expect(body.deviceID.string == "dév😀-é😀")
        #expect(
            parsed.verdicts == [.valid, .valid, .notAnObject(.number), .invalidTimestamp(.missing), .valid])
        #expect(body.readings.map(\.count) == [3, 3, 100])
    }

    static let invalidBodies: [String] = [
        // Empty and whitespace only.
        "",
        " ",
        "\n\t\r ",
        // Trailing commas.
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3},]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3}],}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3,}]}"#,
        #"{"id":"1234","readings":[{}],"x":[1,]}"#,
        #"{"id":"1234","readings":[,{}]}"#,
        #"{"id":"1234","readings":[{},,{}]}"#,
        #"{,"id":"1234","readings":[{}]}"#,
        // Comments.
        "// comment\n{\"id\":\"1234\",\"readings\":[{}]}",
        #"{"id":"1234",/* c */"readings":[{}]}"#,
        "{\"id\":\"1234\",\"readings\":[{}]} // trailing",
        "# hash\n{\"id\":\"1234\",\"readings\":[{}]}",
        // Non-JSON numbers.
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":NaN}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":Infinity}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":-Infinity}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":01}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":-01}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":00}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":+1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":.5}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1.}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1.e2}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1e}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1e+}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":-}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":0x10}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1_000}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":- 1}]}"#,
        #"{"id":"1234","readings":[{}],"x":01}"#,
        #"{"id":"1234","readings":[01]}"#,
        // Literals.
        #"{"id":"1234","readings":[{}],"x":True}"#,
        #"{"id":"1234","readings":[{}],"x":nul}"#,
        #"{"id":"1234","readings":[{}],"x":undefined}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":tru}]}"#,
        #"{"id":"1234","readings":[{"timestamp":falsey,"count":1}]}"#,
        // Strings.
        "{\"id\":\"12\u{1}34\",\"readings\":[{}]}",
        "{\"id\":\"1234\",\"readings\":[{\"timestamp\":\"2023-01-01T00:00:00Z\t\",\"count\":1}]}",
        "{\"id\":\"1234\",\"readings\":[{}],\"x\":\"line\nbreak\"}",
        "{\"id\":\"1234\",\"readings\":[{}],\"x\u{0}\":1}",
        #"{'id':'1234','readings':[{}]}"#,
        #"{id:"1234",readings:[{}]}"#,
        #"{"id":"1234","readings":[{}],"x":"\x41"}"#,
        #"{"id":"1234","readings":[{}],"x":"\u12"}"#,
        #"{"id":"1234","readings":[{}],"x":"\u12G4"}"#,
        #"{"id":"1234","readings":[{}],"x":"\U0041"}"#,
        #"{"id":"1234","readings":[{}],"x":"\a"}"#,
        #"{"id":"1234","readings":[{}],"x":"\'"}"#,
        #"{"id":"1234","readings":[{}],"x":"unterminated}"#,
        // Lone surrogate escapes.
        #"{"id":"\ud800","readings":[{}]}"#,
        #"{"id":"\uDBFF","readings":[{}]}"#,
        #"{"id":"\udc00","readings":[{}]}"#,
        #"{"id":"\uDFFF","readings":[{}]}"#,
        #"{"id":"\ud800\u0041","readings":[{}]}"#,
        #"{"id":"\ud800x","readings":[{}]}"#,
        #"{"id":"\ud800\ud800","readings":[{}]}"#,
        #"{"id":"\ude00\ud83d","readings":[{}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"\ud800","count":1}]}"#,
        #"{"id":"1234","readings":[{}],"\udfff":1}"#,
        // Structure.
        #"{"id" "1234","readings":[{}]}"#,
        #"{"id":"1234" "readings":[{}]}"#,
        #"{"id":"1234","readings":[{} {}]}"#,
        #"{"id":"1234","readings":[{}]"#,
        #"{"id":"1234","readings":[{}}"#,
        #"{"id":"1234","readings":[{}]]"#,
        #"{"id":"1234","readings":[{]}"#,
        #"{"id":"1234","readings"}"#,
        #"{"id":"1234","readings":}"#,
        #"{"id":"1234",:[{}]}"#,
        #"{"id":"1234","readings":[{}]}}"#,
        #"{"id":"1234","readings":[{}],1:2}"#,
        // Trailing data after the value.
        #"{"id":"1234","readings":[{}]} x"#,
        #"{"id":"1234","readings":[{}]}{}"#,
        #"{"id":"1234","readings":[{}]},"#,
        #"{"id":"1234","readings":[{}]} {"id":"5678","readings":[{}]}"#,
        "{\"id\":\"1234\",\"readings\":[{}]}\u{0}",
        "[] []",
        "1 2",
        #""a" "b""#,
        // Whitespace JSON does not know.
        "\u{C}{\"id\":\"1234\",\"readings\":[{}]}",
        "\u{A0}{\"id\":\"1234\",\"readings\":[{}]}",
        "{\"id\":\"1234\",\u{B}\"readings\":[{}]}",
        // A byte-order mark.
        "\u{FEFF}{\"id\":\"1234\",\"readings\":[{}]}",
        // Duplicate member names at the top level...
        #"{"id":"1234","id":"1234","readings":[{}]}"#,
        #"{"id":"1234","id":"5678","readings":[{}]}"#,
        #"{"id":5,"id":"1234","readings":[{}]}"#,
        #"{"id":"1234","readings":[{}],"readings":[{}]}"#,
        #"{"id":"1234","readings":5,"readings":[{}]}"#,
        #"{"id":"1234","readings":[{}],"x":1,"x":2}"#,
        #"{"x":1,"id":"1234","readings":[{}],"x":1}"#,
        #"{"id":"1234","i\u0064":"1234","readings":[{}]}"#,
        #"{"\u0069\u0064":"1234","id":"1234","readings":[{}]}"#,
        #"{"id":"1234","readings":[{}],"\u0072eadings":[{}]}"#,
        #"{"id":"1234","readings":[{}],"x\u0079":1,"xy":2}"#,
        #"{"id":"1234","readings":[{}],"\u00e9":1,"é":2}"#,
        #"{"id":"1234","readings":[{}],"":1,"":2}"#,
        // ... inside readings ...
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":5,"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":"x","count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"c\u006funt":1}]}"#,
        #"{"id":"1234","readings":[{"time\u0073tamp":"2023-01-01T00:00:00Z","timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"u":1,"u":1}]}"#,
        #"{"id":"1234","readings":[{},{"u":1,"\u0075":1}]}"#,
        // ... and inside unknown nested objects.
        #"{"id":"1234","readings":[{}],"x":{"a":1,"a":1}}"#,
        #"{"id":"1234","readings":[{}],"x":[{"a":1,"b":{"c":1,"c":2}}]}"#,
        #"{"id":"1234","readings":[{}],"x":{"id":1,"i\u0064":2}}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"meta":{"k":1,"k":2}}]}"#,
        #"{"id":"1234","readings":[[{"a":1,"a":1}]]}"#,
        #"{"id":"1234","readings":[{"timestamp":{"a":1,"a":1},"count":1}]}"#,
        #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":{"a":1,"a":1}}]}"#,
        #"{"id":{"a":1,"a":1},"readings":[{}]}"#,
        #"{"id":"1234","readings":{"a":1,"a":1}}"#,
        #"[{"a":1,"a":1}]"#,
        // Invalid JSON wins over every other problem.
        #"{"readings":[],"id":5,"x":01}"#,
        #"{"id":"","readings":[]} x"#,
        #"[1,]"#,
        #"{"readings":"x","readings":"y"}"#,
        #"{"id":"1234","readings":[{"timestamp":"bad","count":-1}]"#,
    ]

    @Test("bodies that are not JSON are refused as invalid JSON", arguments: invalidBodies)
    func invalidJSON(_ text: String) {
        let parsed = parseIngest(text)
        #expect(parsed.isInvalidJSON, "got \(String(describing: parsed.error)), verdicts \(String(describing: parsed.verdicts))")
    }

    static let invalidUTF8: [[UInt8]] = [
        [0xFF],
        [0xFE],
        [0x80],  // lone continuation byte
        [0xBF],
        [0xC0, 0x80],  // overlong NUL
        [0xC1, 0xBF],  // overlong
        [0xE0, 0x80, 0x80],  // overlong
        [0xE0, 0x9F, 0xBF],  // overlong
        [0xF0, 0x80, 0x80, 0x80],  // overlong
        [0xF0, 0x8F, 0xBF, 0xBF],  // overlong
        [0xED, 0xA0, 0x80],  // encoded surrogate U+D800
        [0xED, 0xBF, 0xBF],  // encoded surrogate U+DFFF
        [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],  // CESU-8 surrogate pair
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xC3],  // truncated two-byte sequence
        [0xE2, 0x82],  // truncated three-byte sequence
        [0xF0, 0x9F, 0x98],  // truncated four-byte sequence
        [0xC3, 0x41],  // lead byte followed by ASCII
        [0xE2, 0x41, 0x82],
        [0xE2, 0x82, 0x41],
        [0xF0, 0x9F, 0x41, 0x80],
        [0xF0, 0x9F, 0x98, 0x41],
    ]

    @Test("invalid UTF-8 in a string is refused, wherever the string is", arguments: invalidUTF8)
    func invalidUTF8InStrings(_ sequence: [UInt8]) {
        let places: [(prefix: String, suffix: String)] = [
            (#"{"id":""#, #"","readings":[{}]}"#),
            (#"{"id":"ab"#, #"cd","readings":[{}]}"#),
            (#"{"id":"1234","readings":[{"timestamp":""#, #"","count":1}]}"#),
            (#"{"id":"1234","readings":[{}],"x":""#, #""}"#),
            (#"{"id":"1234","readings":[{}],""#, #"":1}"#),
            (#"{"id":"1234","readings":[{}],"x":[""#, #""]}"#),
        ]
        for place in places {
            let bytes = Array(place.prefix.utf8) + sequence + Array(place.suffix.utf8)
            let parsed = parseIngest(bytes: bytes)
            #expect(parsed.isInvalidJSON, "\(place.prefix) \(sequence) \(place.suffix): \(String(describing: parsed.error))")
        }
        // And at the very end of the body, inside an unterminated string.
        #expect(parseIngest(bytes: Array(#"{"id":""#.utf8) + sequence).isInvalidJSON)
        // And outside any string.
        #expect(parseIngest(bytes: Array(#"{"id":"1234","readings":[{}]}"#.utf8) + sequence).isInvalidJSON)
        #expect(parseIngest(bytes: sequence + Array(#"{"id":"1234","readings":[{}]}"#.utf8)).isInvalidJSON)
    }

    @Test("valid UTF-8 at the edges of Table 3-7 is accepted")
    func validUTF8Edges() throws {
        let sequences: [[UInt8]] = [
            [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        for sequence in sequences {
            let bytes = Array(#"{"id":"1234","readings":[{}],"x":""#.utf8) + sequence + Array(#""}"#.utf8)
            let parsed = parseIngest(bytes: bytes)
            #expect(parsed.body != nil, "\(sequence): \(String(describing: parsed.error))")
        }
    }

    @Test("a UTF-8 byte-order mark before the body is refused")
    func byteOrderMark() {
        let body = Array(#"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#.utf8)
        #expect(parseIngest(bytes: body).body != nil)
        #expect(parseIngest(bytes: [0xEF, 0xBB, 0xBF] + body).isInvalidJSON)
        #expect(parseIngest(bytes: [0xFE, 0xFF] + body).isInvalidJSON)
    }

    /// Wraps `value` in `depth - 1` arrays at the top level: `depth` containers in all when the
    /// value is a container.
    private func nestedArrays(_ count: Int, around value: String = "[]") -> String {
        String(repeating: "[", count: count) + value + String(repeating: "]", count: count)
    }

    @Test("nesting up to 64 levels is accepted, 65 is refused, wherever it happens")
    func nestingDepth() {
        // Top level: 64 nested arrays are valid JSON (of the wrong shape); 65 are refused.
        #expect(parseIngest(nestedArrays(63)).invalidRequestMessage != nil)
        #expect(parseIngest(nestedArrays(64)).isInvalidJSON)
        // Under an unknown top-level member (the object is level 1).
        let unknown = { (n: Int) in #"{"id":"1234","readings":[{}],"x":"# + self.nestedArrays(n) + "}" }
        #expect(parseIngest(unknown(62)).body != nil)
        #expect(parseIngest(unknown(63)).isInvalidJSON)
        // As an element of readings (object 1, readings 2).
        let element = { (n: Int) in #"{"id":"1234","readings":["# + self.nestedArrays(n) + "]}" }
        #expect(parseIngest(element(61)).verdicts == [.notAnObject(.array)])
        #expect(parseIngest(element(62)).isInvalidJSON)
        // Inside a reading (object 1, readings 2, element 3).
        let inReading = { (n: Int) in
            #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"x":"# + self.nestedArrays(n) + "}]}"
        }
        #expect(parseIngest(inReading(60)).verdicts == [.valid])
        #expect(parseIngest(inReading(61)).isInvalidJSON)
        // Objects count as levels too.
        let objects = { (n: Int) in String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n) }
        #expect(parseIngest(objects(64)).invalidRequestMessage != nil)
        #expect(parseIngest(objects(65)).isInvalidJSON)
        // Hostile depth must not exhaust the stack.
        #expect(parseIngest(String(repeating: "[", count: 1_000_000)).isInvalidJSON)
        #expect(parseIngest(#"{"id":"1234","readings":[{}],"x":"# + String(repeating: #"{"a":["#, count: 200_000)).isInvalidJSON)
    }

    @Test("every truncation of a valid body is invalid JSON and never crashes")
    func truncations() {
        let bodies = [
            richValidBody,
            #"{"id":"1234","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":3}]}"#,
            #"{"id":"\ud83d\ude00","readings":[{"count":-1.5E+300,"timestamp":"x"},null,true,false,"s",[],{}]}"#,
        ]
        for text in bodies {
            let bytes = Array(text.utf8)
            #expect(parseIngest(bytes: bytes).body != nil)
            for length in 0..<bytes.count {
                let parsed = parseIngest(bytes: Array(bytes[0..<length]))
                #expect(parsed.isInvalidJSON, "prefix of \(length) bytes: \(String(describing: parsed.error))")
            }
        }
    }

    @Test("corrupting any single byte of a valid body never crashes and keeps the result coherent")
    func singleByteCorruptions() {
        let bytes = Array(richValidBody.utf8)
        let replacements: [UInt8] = [0x00, 0x22, 0x2C, 0x30, 0x5C, 0x5B, 0x5D, 0x7B, 0x7D, 0x80, 0xC3, 0xED, 0xFF]
        for position in bytes.indices {
            for replacement in replacements where bytes[position] != replacement {
                var corrupted = bytes
                corrupted[position] = replacement
                let parsed = parseIngest(bytes: corrupted)
                if let body = parsed.body {
                    let valid = body.items.filter { $0.verdict == .valid }.count
                    #expect(body.readings.count == valid)
                    for item in body.items {
                        if let span = item.timestampSpan {
                            #expect(span.lowerBound >= 0 && span.upperBound <= corrupted.count)
                        }
                    }
                }
            }
        }
    }

    @Test("syntax errors say where the problem is")
    func errorOffsets() throws {
        let empty = try #require(parseIngest("").syntaxError)
        #expect(empty.offset == 0)
        let trailing = try #require(parseIngest(#"{"id":"1","readings":[{}]} x"#).syntaxError)
        #expect(trailing.offset == 27)
        let duplicate = try #require(parseIngest(#"{"id":"1","id":"2","readings":[{}]}"#).syntaxError)
        #expect(duplicate.offset == 10)
        #expect(duplicate.reason.contains("duplicate"))
        #expect(duplicate.message.hasPrefix("invalid JSON at byte 10: "))
        let leadingZero = try #require(parseIngest(#"{"x":01}"#).syntaxError)
        #expect(leadingZero.reason.contains("leading zero"))
    }
}
