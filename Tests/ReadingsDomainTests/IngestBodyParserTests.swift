import Testing

@testable import ReadingsDomain

private let ts = "2023-01-01T00:00:00Z"

/// Covers `IngestBodyParser.parse` on bodies that are valid JSON: the device id and its span,
/// per-element verdicts in the contract's order (shape, timestamp, count), timestamp echoes,
/// escapes, unknown members, and the whole-body `INVALID_REQUEST`, `INVALID_DEVICE_ID` and
/// `TOO_MANY_READINGS` refusals with their precedence.
@Suite("IngestBodyParser: readings and request shape")
struct IngestBodyParserTests {
    // MARK: Valid bodies

    @Test("a valid body gives the device, one item per element and the valid readings")
    func validBody() throws {
        let parsed = parseIngest(
            #"{"id": "1234", "readings": [{"timestamp": "2023-01-01T00:00:00Z", "count": 3}, "#
                + #"{"timestamp": "2023-01-01T01:00:01.5+01:00", "count": 5}]}"#)
        let body = try #require(parsed.body)
        #expect(body.deviceID == (try DeviceID("1234")))
        #expect(parsed.text(body.deviceIDSpan) == "1234")
        #expect(parsed.verdicts == [.valid, .valid])
        #expect(
            body.readings == [
                Reading(instant: newYear, count: 3),
                Reading(instant: Instant(nanoseconds: newYear.nanoseconds + 1_500_000_000), count: 5),
            ])
        #expect(parsed.echoes == ["2023-01-01T00:00:00Z", "2023-01-01T01:00:01.5+01:00"])
    }

    @Test("member order, whitespace and unknown members do not matter")
    func orderWhitespaceUnknown() throws {
        let parsed = parseIngest(
            " \t\r\n{ \"extra\" : {\"nested\": [1, {\"a\": null, \"b\": [true, false, -1.5e3]}]},\n"
                + "\t\"readings\" :\r\n [ { \"unit\" : \"kWh\", \"count\" : 7 , \"timestamp\" : \"2023-01-01T00:00:00Z\" , \"x\": {} } ] ,"
                + " \"id\" : \"dev\" , \"version\": 2 } \n\t\r ")
        let body = try #require(parsed.body)
        #expect(body.deviceID == (try DeviceID("dev")))
        #expect(body.readings == [Reading(instant: newYear, count: 7)])
        #expect(parsed.verdicts == [.valid])
    }

    @Test("valid readings are listed in input order, skipping the invalid ones")
    func mixedBatch() throws {
        let parsed = parseIngest(
            ingestBody(
                #"{"timestamp":"2023-01-01T00:00:03Z","count":3}"#,
                #"{"timestamp":"bad","count":1}"#,
                #"{"timestamp":"2023-01-01T00:00:01Z","count":1}"#,
                #"7"#,
                #"{"timestamp":"2023-01-01T00:00:02Z","count":-2}"#,
                #"{"timestamp":"2023-01-01T00:00:03Z","count":3}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":0}"#))
        let body = try #require(parsed.body)
        #expect(
            parsed.verdicts == [
                .valid, .invalidTimestamp(.malformed), .valid, .notAnObject(.number), .invalidCount(.negative), .valid,
                .valid,
            ])
        let s: Int64 = 1_000_000_000
        #expect(
            body.readings == [
                Reading(instant: Instant(nanoseconds: newYear.nanoseconds + 3 * s), count: 3),
                Reading(instant: Instant(nanoseconds: newYear.nanoseconds + 1 * s), count: 1),
                Reading(instant: Instant(nanoseconds: newYear.nanoseconds + 3 * s), count: 3),
                Reading(instant: newYear, count: 0),
            ])
        #expect(body.readings.count == parsed.verdicts?.filter { $0 == .valid }.count)
        #expect(
            parsed.echoes == [
                "2023-01-01T00:00:03Z", "bad", "2023-01-01T00:00:01Z", nil, "2023-01-01T00:00:02Z",
                "2023-01-01T00:00:03Z", "2023-01-01T00:00:00Z",
            ])
    }

    @Test("counts are judged on their literal")
    func countLiterals() throws {
        let parsed = parseIngest(
            ingestBody(
                #"{"timestamp":"2023-01-01T00:00:00Z","count":3.0}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":30e-1}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":-0}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":9007199254740991}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":1E2}"#))
        let body = try #require(parsed.body)
        #expect(body.readings.map(\.count) == [3, 3, 0, 9_007_199_254_740_991, 100])
    }

    // MARK: Per-element verdicts

    static let elementCases: [(String, IngestVerdict)] = [
        // Element shape.
        ("5", .notAnObject(.number)),
        ("-1.5e3", .notAnObject(.number)),
        (#""2023-01-01T00:00:00Z""#, .notAnObject(.string)),
        ("[]", .notAnObject(.array)),
        (#"[{"timestamp":"2023-01-01T00:00:00Z","count":1}]"#, .notAnObject(.array)),
        ("null", .notAnObject(.null)),
        ("true", .notAnObject(.boolean)),
        ("false", .notAnObject(.boolean)),
        // Timestamp.
        ("{}", .invalidTimestamp(.missing)),
        (#"{"count":3}"#, .invalidTimestamp(.missing)),
        (#"{"Timestamp":"2023-01-01T00:00:00Z","count":3}"#, .invalidTimestamp(.missing)),
        (#"{"timestamp":5,"count":3}"#, .invalidTimestamp(.notAString(.number))),
        (#"{"timestamp":null,"count":3}"#, .invalidTimestamp(.notAString(.null))),
        (#"{"timestamp":true,"count":3}"#, .invalidTimestamp(.notAString(.boolean))),
        (#"{"timestamp":{},"count":3}"#, .invalidTimestamp(.notAString(.object))),
        (#"{"timestamp":["2023-01-01T00:00:00Z"],"count":3}"#, .invalidTimestamp(.notAString(.array))),
        (#"{"timestamp":"","count":3}"#, .invalidTimestamp(.malformed)),
        (#"{"timestamp":"yesterday","count":3}"#, .invalidTimestamp(.malformed)),
        (#"{"timestamp":" 2023-01-01T00:00:00Z","count":3}"#, .invalidTimestamp(.malformed)),
        (#"{"timestamp":"2023-01-01T00:00:00","count":3}"#, .invalidTimestamp(.missingOffset)),
        (#"{"timestamp":"2023-01-01T00:00:00.1234567890Z","count":3}"#, .invalidTimestamp(.tooManyFractionDigits)),
        (#"{"timestamp":"2016-12-31T23:59:60Z","count":3}"#, .invalidTimestamp(.leapSecond)),
        (#"{"timestamp":"2023-02-29T00:00:00Z","count":3}"#, .invalidTimestamp(.invalidDateTime)),
        (#"{"timestamp":"2023-01-01T00:00:00+24:00","count":3}"#, .invalidTimestamp(.invalidOffset)),
        (#"{"timestamp":"2262-04-11T23:47:16.854775808Z","count":3}"#, .invalidTimestamp(.outOfRange)),
        (#"{"timestamp":"1677-09-21T00:12:43.145224191Z","count":3}"#, .invalidTimestamp(.outOfRange)),
        // Count.
        (#"{"timestamp":"2023-01-01T00:00:00Z"}"#, .invalidCount(.missing)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","Count":3}"#, .invalidCount(.missing)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":"3"}"#, .invalidCount(.notANumber(.string))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":null}"#, .invalidCount(.notANumber(.null))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":true}"#, .invalidCount(.notANumber(.boolean))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":false}"#, .invalidCount(.notANumber(.boolean))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":[3]}"#, .invalidCount(.notANumber(.array))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":{"value":3}}"#, .invalidCount(.notANumber(.object))),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":-1}"#, .invalidCount(.negative)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":3.5}"#, .invalidCount(.notInteger)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":3.0000000000000001}"#, .invalidCount(.notInteger)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":1e-400}"#, .invalidCount(.notInteger)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":9007199254740992}"#, .invalidCount(.tooLarge)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":1e400}"#, .invalidCount(.tooLarge)),
        (#"{"timestamp":"2023-01-01T00:00:00Z","count":1000000000000000000000000000000}"#, .invalidCount(.tooLarge)),
        // Order: shape, then timestamp, then count.
        (#"{"timestamp":"nope","count":"3"}"#, .invalidTimestamp(.malformed)),
        (#"{"count":-1,"timestamp":"2023-01-01T00:00:00"}"#, .invalidTimestamp(.missingOffset)),
        (#"{"count":null}"#, .invalidTimestamp(.missing)),
        (#"{"timestamp":1,"count":1.5}"#, .invalidTimestamp(.notAString(.number))),
        (#"{"timestamp":"2262-04-12T00:00:00Z"}"#, .invalidTimestamp(.outOfRange)),
    ]

    @Test("each element gets the verdict of its first failing check", arguments: elementCases)
    func elementVerdict(_ element: String, _ verdict: IngestVerdict) throws {
        let parsed = parseIngest(ingestBody(element, #"{"timestamp":"2023-01-01T00:00:00Z","count":1}"#))
        let body = try #require(parsed.body, "\(String(describing: parsed.error))")
        #expect(parsed.verdicts == [verdict, .valid])
        #expect(body.readings == [Reading(instant: newYear, count: 1)])
    }

    @Test("the timestamp echo is the string's raw content when it was a string, and absent otherwise")
    func timestampEcho() {
        let parsed = parseIngest(
            ingestBody(
                #"{"timestamp":"2023-01-01T01:00:00+01:00","count":1}"#,
                #"{"timestamp":"not a time","count":1}"#,
                #"{"timestamp":"2023-01-01T00:00:00","count":"x"}"#,
                #"{"timestamp":5,"count":1}"#,
                #"{"count":1}"#,
                #""2023-01-01T00:00:00Z""#,
                #"{"timestamp":"","count":1}"#,
                #"{"timestamp":"caf\u00e9 \"x\"","count":1}"#,
                #"{"timestamp":"2023-01-01T00:00:00Z","count":-5}"#))
        #expect(
            parsed.echoes == [
                "2023-01-01T01:00:00+01:00", "not a time", "2023-01-01T00:00:00", nil, nil, nil, "",
                #"caf\u00e9 \"x\""#, "2023-01-01T00:00:00Z",
            ])
        #expect(parsed.body?.items[3].timestampStart == -1)
    }

    static let escapedTimestampCases: [(String, IngestVerdict)] = [
        (#"\u0032023-01-01T00:00:00Z"#, IngestVerdict.valid),
        (#"2023-01-01T00:00:00\u005A"#, .valid),
        (#"2023\u002D01\u002d01T00:00:00Z"#, .valid),
        (
            #"\u0032\u0030\u0032\u0033\u002d\u0030\u0031\u002d\u0030\u0031\u0054\u0030\u0030\u003a\u0030\u0030\u003a\u0030\u0030\u005a"#,
            .valid
        ),
        (#"2023-01-01T00:00:00Z\n"#, .invalidTimestamp(.malformed)),
        (#"2023-01-01T00:00:00\u0000Z"#, .invalidTimestamp(.malformed)),
        (#"2023-01-01T00:00:00\/Z"#, .invalidTimestamp(.malformed)),
        (#"\u0032023-01-01T00:00:00"#, .invalidTimestamp(.missingOffset)),
        (#"\ud83d\ude00"#, .invalidTimestamp(.malformed)),
    ]

    @Test("escaped timestamps are decoded before parsing and echoed as sent", arguments: escapedTimestampCases)
    func escapedTimestamp(_ raw: String, _ verdict: IngestVerdict) throws {
        let parsed = parseIngest(ingestBody(#"{"timestamp":""# + raw + #"","count":4}"#))
        let body = try #require(parsed.body)
        #expect(parsed.verdicts == [verdict])
        #expect(parsed.echoes == [raw])
        if verdict == .valid {
            #expect(body.readings == [Reading(instant: newYear, count: 4)])
        } else {
            #expect(body.readings.isEmpty)
        }
    }

    @Test("member names are compared after unescaping")
    func escapedMemberNames() throws {
        let parsed = parseIngest(
            #"{"\u0069d":"1234","r\u0065adings":[{"time\u0073tamp":"2023-01-01T00:00:00Z","c\u006funt":2}]}"#)
        let body = try #require(parsed.body)
        #expect(body.deviceID == (try DeviceID("1234")))
        #expect(body.readings == [Reading(instant: newYear, count: 2)])
    }

    @Test("only the exact names id, readings, timestamp and count are recognised")
    func nearMissNames() {
        #expect(parseIngest(#"{"ID":"1234","readings":[{}]}"#).error == .invalidDeviceID(.missing))
        #expect(parseIngest(#"{"id ":"1234","readings":[{}]}"#).error == .invalidDeviceID(.missing))
        #expect(parseIngest(#"{"id":"1234","Readings":[{}]}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"id":"1234","readings\u0000":[{}]}"#).invalidRequestMessage != nil)
    }

    // MARK: Device id

    @Test("the id is decoded from its JSON escapes and kept verbatim")
    func deviceIDDecoding() throws {
        let cases: [(String, [UInt8])] = [
            (#"1234"#, Array("1234".utf8)),
            (#"\u0031234"#, Array("1234".utf8)),
            (#"  spaced  "#, Array("  spaced  ".utf8)),
            (#"caf\u00e9"#, [0x63, 0x61, 0x66, 0xC3, 0xA9]),
            ("caf\u{E9}", [0x63, 0x61, 0x66, 0xC3, 0xA9]),
            ("cafe\u{301}", [0x63, 0x61, 0x66, 0x65, 0xCC, 0x81]),
            (#"cafe\u0301"#, [0x63, 0x61, 0x66, 0x65, 0xCC, 0x81]),
            (#"\ud83d\ude00"#, [0xF0, 0x9F, 0x98, 0x80]),
            (#"a\"b\\c\/d"#, Array(#"a"b\c/d"#.utf8)),
            ("\u{A0}", [0xC2, 0xA0]),
            ("\u{7E}", [0x7E]),
        ]
        for (raw, bytes) in cases {
            let parsed = parseIngest(#"{"id":""# + raw + #"","readings":[{}]}"#)
            let body = try #require(parsed.body, "\(raw): \(String(describing: parsed.error))")
            #expect(body.deviceID.utf8 == bytes, "\(raw)")
            #expect(parsed.text(body.deviceIDSpan) == raw)
        }
    }

    static let deviceIDRefusalsCases: [(String, DeviceIDError)] = [
        (#"{"readings":[{}]}"#, DeviceIDError.missing),
        (#"{"readings":[{}],"Id":"x"}"#, .missing),
        (#"{"id":1234,"readings":[{}]}"#, .notAString),
        (#"{"id":null,"readings":[{}]}"#, .notAString),
        (#"{"id":true,"readings":[{}]}"#, .notAString),
        (#"{"id":["1234"],"readings":[{}]}"#, .notAString),
        (#"{"id":{"value":"1234"},"readings":[{}]}"#, .notAString),
        (#"{"id":"","readings":[{}]}"#, .empty),
        (#"{"id":"\u0000","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"ab\u001fcd","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"ab\u001Fcd","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"\t","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"line\nbreak","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"\u007f","readings":[{}]}"#, .controlCharacter),
        ("{\"id\":\"raw\u{7F}del\",\"readings\":[{}]}", .controlCharacter),
        (#"{"id":"\u0080","readings":[{}]}"#, .controlCharacter),
        (#"{"id":"x\u0085","readings":[{}]}"#, .controlCharacter),
        ("{\"id\":\"raw\u{85}nel\",\"readings\":[{}]}", .controlCharacter),
        (#"{"id":"\u009f","readings":[{}]}"#, .controlCharacter),
    ]

    @Test("id refusals carry the exact DeviceIDError", arguments: deviceIDRefusalsCases)
    func deviceIDRefusals(_ body: String, _ error: DeviceIDError) {
        #expect(parseIngest(body).error == .invalidDeviceID(error))
    }

    @Test("id length is counted in scalars: 128 are fine, 129 are too long")
    func deviceIDLength() throws {
        func body(_ id: String) -> String { #"{"id":""# + id + #"","readings":[{}]}"# }
        #expect(try #require(parseIngest(body(String(repeating: "x", count: 128))).body).deviceID.utf8.count == 128)
        #expect(parseIngest(body(String(repeating: "x", count: 129))).error == .invalidDeviceID(.tooLong(scalars: 129)))
        #expect(try #require(parseIngest(body(String(repeating: "😀", count: 128))).body).deviceID.utf8.count == 512)
        #expect(parseIngest(body(String(repeating: "😀", count: 129))).error == .invalidDeviceID(.tooLong(scalars: 129)))
        let escapedEmoji = #"\ud83d\ude00"#
        #expect(try #require(parseIngest(body(String(repeating: escapedEmoji, count: 128))).body).deviceID.utf8.count == 512)
        #expect(
            parseIngest(body(String(repeating: escapedEmoji, count: 129))).error == .invalidDeviceID(.tooLong(scalars: 129)))
        #expect(
            parseIngest(body(String(repeating: #"\u0041"#, count: 129))).error == .invalidDeviceID(.tooLong(scalars: 129)))
    }

    @Test("NFC and NFD ids parse to different devices")
    func nfcNfd() throws {
        let nfc = try #require(parseIngest(#"{"id":"caf\u00e9","readings":[{}]}"#).body).deviceID
        let nfd = try #require(parseIngest(#"{"id":"cafe\u0301","readings":[{}]}"#).body).deviceID
        #expect(nfc != nfd)
        #expect(nfc.string == nfd.string)  // Swift String == would merge them
    }

    // MARK: Request shape

    static let invalidRequestCases: [String] = [
        "[]",
        #"[{"id":"1234","readings":[{}]}]"#,
        #""{\"id\":\"1234\"}""#,
        "3",
        "-0.5e7",
        "true",
        "false",
        "null",
        "{}",
        #"{"id":"1234"}"#,
        #"{"id":"1234","reading":[{}]}"#,
        #"{"id":"1234","readings":{}}"#,
        #"{"id":"1234","readings":{"0":{}}}"#,
        #"{"id":"1234","readings":"[{}]"}"#,
        #"{"id":"1234","readings":null}"#,
        #"{"id":"1234","readings":3}"#,
        #"{"id":"1234","readings":true}"#,
        #"{"id":"1234","readings":[]}"#,
        #"{"id":"1234","readings":[ ]}"#,
    ]

    @Test("a body of the wrong shape is an invalid request", arguments: invalidRequestCases)
    func invalidRequest(_ text: String) {
        let parsed = parseIngest(text)
        #expect(parsed.invalidRequestMessage != nil, "\(String(describing: parsed.error))")
    }

    @Test("request-shape checks come before the id checks")
    func shapeBeforeID() {
        #expect(parseIngest(#"{"id":5}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"id":""}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"id":"","readings":[]}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"readings":[]}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"readings":{}}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"readings":[],"id":null}"#).invalidRequestMessage != nil)
        #expect(parseIngest(#"{"readings":[5]}"#).error == .invalidDeviceID(.missing))
    }

    @Test("invalid-request messages say what is wrong")
    func invalidRequestMessages() {
        #expect(parseIngest("[]").invalidRequestMessage?.contains("an array") == true)
        #expect(parseIngest("{}").invalidRequestMessage?.contains("readings is missing") == true)
        #expect(parseIngest(#"{"readings":"x"}"#).invalidRequestMessage?.contains("not a string") == true)
        #expect(parseIngest(#"{"readings":[]}"#).invalidRequestMessage?.contains("empty") == true)
    }

    // MARK: Number of readings

    @Test("exactly maxReadings readings are fine, one more is too many")
    func tooManyReadings() throws {
        let element = #"{"timestamp":"2023-01-01T00:00:00Z","count":1}"#
        let three = parseIngest(ingestBody(element, element, element), maxReadings: 3)
        #expect(try #require(three.body).items.count == 3)
        #expect(three.body?.readings.count == 3)
        let four = parseIngest(ingestBody(element, element, element, element), maxReadings: 3)
        #expect(four.error == .tooManyReadings(count: 4, limit: 3))
        let many = parseIngest(ingestBody(Array(repeating: "1", count: 1000).joined(separator: ",")), maxReadings: 10)
        #expect(many.error == .tooManyReadings(count: 1000, limit: 10))
        let one = parseIngest(ingestBody("{}", "{}"), maxReadings: 1)
        #expect(one.error == .tooManyReadings(count: 2, limit: 1))
    }

    @Test("the id is checked before the number of readings, the shape before both")
    func tooManyPrecedence() {
        #expect(parseIngest(#"{"id":"","readings":[1,2,3,4]}"#, maxReadings: 3).error == .invalidDeviceID(.empty))
        #expect(parseIngest(#"{"readings":[1,2,3,4]}"#, maxReadings: 3).error == .invalidDeviceID(.missing))
        #expect(parseIngest(#"{"id":"a","readings":[]}"#, maxReadings: 0).invalidRequestMessage != nil)
    }

    @Test("elements past the limit are still validated as JSON")
    func pastLimitStillValidated() {
        let parsed = parseIngest(#"{"id":"a","readings":[{},{},{},{"count":01}]}"#, maxReadings: 2)
        #expect(parsed.isInvalidJSON)
        let duplicate = parseIngest(#"{"id":"a","readings":[{},{},{},{"count":1,"count":1}]}"#, maxReadings: 2)
        #expect(duplicate.isInvalidJSON)
    }
}
