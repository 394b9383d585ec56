import Testing

@testable import ReadingsDomain

/// 2023-01-01T00:00:00Z in nanoseconds since the epoch.
private let newYear2023: Int64 = 1_672_531_200_000_000_000
private let second: Int64 = 1_000_000_000

/// Covers `Instant.parseRFC3339`: every spelling the contract (docs/api.md) accepts, every rejection with its exact
/// `TimestampError`, calendar rules (leap years), and the exact limits of the 64-bit range.
@Suite("Instant.parseRFC3339")
struct InstantRFC3339Tests {
    // MARK: Accepted spellings

    static let acceptsSpellingCases: [(String, Int64)] = [
        ("2023-01-01T00:00:00Z", newYear2023),
        ("2023-01-01t00:00:00Z", newYear2023),
        ("2023-01-01 00:00:00Z", newYear2023),
        ("2023-01-01T00:00:00z", newYear2023),
        ("2023-01-01t00:00:00z", newYear2023),
        ("2023-01-01T00:00:00+00:00", newYear2023),
        ("2023-01-01T00:00:00-00:00", newYear2023),
        ("2023-01-01T00:00:00+0000", newYear2023),
        ("2023-01-01T00:00:00-0000", newYear2023),
        ("2023-01-01T00:00:00+00", newYear2023),
        ("2023-01-01T00:00:00-00", newYear2023),
        ("2023-01-01T01:00:00+01:00", newYear2023),
        ("2023-01-01T01:00:00+0100", newYear2023),
        ("2023-01-01T01:00:00+01", newYear2023),
        ("2022-12-31T23:00:00-01:00", newYear2023),
        ("2022-12-31T18:30:00-05:30", newYear2023),
        ("2022-12-31T18:30:00-0530", newYear2023),
        ("2022-12-31T21:00:00-03", newYear2023),
        ("2023-01-01T05:45:00+05:45", newYear2023),
        ("2023-01-01T23:59:00+23:59", newYear2023),
        ("2023-01-01T23:59:00+2359", newYear2023),
        ("2023-01-01T23:00:00+23", newYear2023),
        ("2022-12-31T00:01:00-23:59", newYear2023),
        ("2022-12-31T00:01:00-2359", newYear2023),
        ("2022-12-31T01:00:00-23", newYear2023),
        ("2023-01-01 01:00:00+01:00", newYear2023),
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01Z", second),
        ("1969-12-31T23:59:59Z", -second),
    ]

    @Test("accepted separators, UTC designators and offsets denote the expected instant", arguments: acceptsSpellingCases)
    func acceptsSpelling(_ text: String, _ expected: Int64) throws {
        let instant = try Instant.parseRFC3339(text).get()
        #expect(instant.nanoseconds == expected)
    }

    static let acceptsFractionCases: [(String, Int64)] = [
        ("2023-01-01T00:00:00.0Z", Int64(0)),
        ("2023-01-01T00:00:00.000Z", 0),
        ("2023-01-01T00:00:00.000000000Z", 0),
        ("2023-01-01T00:00:00.5Z", 500_000_000),
        ("2023-01-01T00:00:00.12Z", 120_000_000),
        ("2023-01-01T00:00:00.123Z", 123_000_000),
        ("2023-01-01T00:00:00.1234Z", 123_400_000),
        ("2023-01-01T00:00:00.12345Z", 123_450_000),
        ("2023-01-01T00:00:00.123456Z", 123_456_000),
        ("2023-01-01T00:00:00.1234567Z", 123_456_700),
        ("2023-01-01T00:00:00.12345678Z", 123_456_780),
        ("2023-01-01T00:00:00.123456789Z", 123_456_789),
        ("2023-01-01T00:00:00.000000001Z", 1),
        ("2023-01-01T00:00:00.999999999Z", 999_999_999),
        ("2023-01-01T00:00:00.100000000Z", 100_000_000),
        ("2023-01-01T01:00:00.500+01:00", 500_000_000),
        ("2022-12-31T23:00:00.25-01:00", 250_000_000),
    ]

    @Test("fractions of 1 to 9 digits are exact nanoseconds, never rounded", arguments: acceptsFractionCases)
    func acceptsFraction(_ text: String, _ nanosecondsAfterNewYear: Int64) throws {
        let instant = try Instant.parseRFC3339(text).get()
        #expect(instant.nanoseconds == newYear2023 + nanosecondsAfterNewYear)
    }

    @Test("one instant, many spellings: all parse to the same Instant")
    func sameInstantDifferentSpellings() throws {
        let spellings = [
            "2023-01-01T00:00:00Z", "2023-01-01T01:00:00+01:00", "2023-01-01T00:00:00.000Z",
            "2022-12-31T19:00:00-05", "2023-01-01t00:00:00.000000000z", "2023-01-01 00:00:00-00:00",
        ]
        let instants = try spellings.map { try Instant.parseRFC3339($0).get() }
        #expect(Set(instants).count == 1)
        #expect(instants[0] == Instant(nanoseconds: newYear2023))
    }

    @Test("the UnsafeBufferPointer entry point agrees with the String one")
    func bufferEntryPoint() {
        let bytes = Array("2023-01-01T01:00:00.5+01:00".utf8)
        let result = bytes.withUnsafeBufferPointer { Instant.parseRFC3339($0) }
        #expect(result == .success(Instant(nanoseconds: newYear2023 + 500_000_000)))
        let bad = Array("2023-01-01T00:00:00".utf8).withUnsafeBufferPointer { Instant.parseRFC3339($0) }
        #expect(bad == .failure(.missingOffset))
    }

    // MARK: Calendar

    static let leapYearsCases: [(String, Int64?)] = [
        ("2000-02-29T00:00:00Z", Optional(Int64(951_782_400) * second)),
        ("2024-02-29T00:00:00Z", Optional(Int64(1_709_164_800) * second)),
        ("1904-02-29T00:00:00Z", Optional(Int64(-2_077_747_200) * second)),
        ("2200-02-29T00:00:00Z", nil),
        ("1900-02-29T00:00:00Z", nil),
        ("2023-02-29T00:00:00Z", nil),
        ("2100-02-29T00:00:00Z", nil),
    ]

    @Test("leap years follow the Gregorian rules", arguments: leapYearsCases)
    func leapYears(_ text: String, _ expected: Int64?) {
        let result = Instant.parseRFC3339(text)
        if let expected {
            #expect(result == .success(Instant(nanoseconds: expected)))
        } else {
            #expect(result == .failure(.invalidDateTime))
        }
    }

    @Test(
        "the last day of every month is accepted and the day after it is refused",
        arguments: [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31)]
    )
    func monthLengths(_ month: Int, _ days: Int) {
        func spell(_ day: Int) -> String {
            "2023-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)T12:00:00Z"
        }
        #expect((try? Instant.parseRFC3339(spell(days)).get()) != nil, "\(spell(days))")
        #expect(Instant.parseRFC3339(spell(days + 1)) == .failure(.invalidDateTime), "\(spell(days + 1))")
    }

    // MARK: Rejected spellings

    static let rejectsCases: [(String, TimestampError)] = [
        // No offset: local time is ambiguous.
        ("2023-01-01T00:00:00", TimestampError.missingOffset),
        ("2023-01-01T00:00:00.5", .missingOffset),
        ("2023-01-01T00:00:00.123456789", .missingOffset),
        // Finer than a nanosecond: never truncated.
        ("2023-01-01T00:00:00.1234567891Z", .tooManyFractionDigits),
        ("2023-01-01T00:00:00.0000000000Z", .tooManyFractionDigits),
        ("2023-01-01T00:00:00.1234567890+01:00", .tooManyFractionDigits),
        ("2023-01-01T00:00:00.12345678901234567890123456789Z", .tooManyFractionDigits),
        // Leap seconds.
        ("2016-12-31T23:59:60Z", .leapSecond),
        ("2023-01-01T00:00:60Z", .leapSecond),
        ("2016-12-31T23:59:60.5+00:00", .leapSecond),
        // Dates and times that do not exist.
        ("2023-02-29T00:00:00Z", .invalidDateTime),
        ("1900-02-29T00:00:00Z", .invalidDateTime),
        ("2023-02-30T00:00:00Z", .invalidDateTime),
        ("2024-02-30T00:00:00Z", .invalidDateTime),
        ("2023-04-31T00:00:00Z", .invalidDateTime),
        ("2023-13-01T00:00:00Z", .invalidDateTime),
        ("2023-00-01T00:00:00Z", .invalidDateTime),
        ("2023-01-00T00:00:00Z", .invalidDateTime),
        ("2023-01-32T00:00:00Z", .invalidDateTime),
        ("2023-01-01T24:00:00Z", .invalidDateTime),
        ("2023-01-01T00:60:00Z", .invalidDateTime),
        ("2023-01-01T00:00:61Z", .invalidDateTime),
        ("2023-01-01T99:99:99Z", .invalidDateTime),
        // Offsets beyond ±23:59.
        ("2023-01-01T00:00:00+24:00", .invalidOffset),
        ("2023-01-01T00:00:00-24:00", .invalidOffset),
        ("2023-01-01T00:00:00+23:60", .invalidOffset),
        ("2023-01-01T00:00:00-23:60", .invalidOffset),
        ("2023-01-01T00:00:00+2400", .invalidOffset),
        ("2023-01-01T00:00:00+24", .invalidOffset),
        ("2023-01-01T00:00:00+99:99", .invalidOffset),
        ("2023-01-01T00:00:00+00:60", .invalidOffset),
        // Anything else.
        ("", .malformed),
        ("garbage", .malformed),
        ("not a timestamp at all, really", .malformed),
        ("2023-01-01", .malformed),
        ("2023-01-01T00:00Z", .malformed),
        ("2023-1-01T00:00:00Z", .malformed),
        ("2023-01-1T00:00:00Z", .malformed),
        ("23-01-01T00:00:00Z", .malformed),
        ("+2023-01-01T00:00:00Z", .malformed),
        ("02023-01-01T00:00:00Z", .malformed),
        ("2023/01/01T00:00:00Z", .malformed),
        ("2023-01-01X00:00:00Z", .malformed),
        ("2023-01-01_00:00:00Z", .malformed),
        ("2023-01-01  00:00:00Z", .malformed),
        ("2023-01-01T00.00.00Z", .malformed),
        ("2023-01-01T0:00:00Z", .malformed),
        ("2023-01-01T00:00:0Z", .malformed),
        ("2023-01-01T00:00:00.Z", .malformed),
        ("2023-01-01T00:00:00,5Z", .malformed),
        ("2023-01-01T00:00:00ZZ", .malformed),
        ("2023-01-01T00:00:00Z ", .malformed),
        (" 2023-01-01T00:00:00Z", .malformed),
        ("2023-01-01T00:00:00Zjunk", .malformed),
        ("2023-01-01T00:00:00+01:00:00", .malformed),
        ("2023-01-01T00:00:00+01:00Z", .malformed),
        ("2023-01-01T00:00:00+1", .malformed),
        ("2023-01-01T00:00:00+1:00", .malformed),
        ("2023-01-01T00:00:00+01:0", .malformed),
        ("2023-01-01T00:00:00+01:", .malformed),
        ("2023-01-01T00:00:00+013", .malformed),
        ("2023-01-01T00:00:00+01::00", .malformed),
        ("2023-01-01T00:00:00+", .malformed),
        ("2023-01-01T00:00:00-", .malformed),
        ("2023-01-01T00:00:00UTC", .malformed),
        ("2023-01-01T00:00:00 Z", .malformed),
        ("2023-01-01T00:00:00GMT+1", .malformed),
        ("２０２３-01-01T00:00:00Z", .malformed),
        ("2023-01-01T00:00:00\u{0}Z", .malformed),
    ]

    @Test("rejections carry the exact TimestampError", arguments: rejectsCases)
    func rejects(_ text: String, _ error: TimestampError) {
        #expect(Instant.parseRFC3339(text) == .failure(error))
    }

    // MARK: Range

    @Test("the earliest representable instant is exactly Int64.min nanoseconds")
    func lowerLimit() {
        #expect(Instant.parseRFC3339("1677-09-21T00:12:43.145224192Z") == .success(Instant(nanoseconds: .min)))
        #expect(Instant.parseRFC3339("1677-09-21T00:12:43.145224192Z") == .success(.min))
        #expect(Instant.parseRFC3339("1677-09-21T00:12:43.145224193Z") == .success(Instant(nanoseconds: .min + 1)))
        #expect(Instant.parseRFC3339("1677-09-21T00:12:44Z") == .success(Instant(nanoseconds: -9_223_372_036 * second)))
    }

    @Test("the latest representable instant is exactly Int64.max nanoseconds")
    func upperLimit() {
        #expect(Instant.parseRFC3339("2262-04-11T23:47:16.854775807Z") == .success(Instant(nanoseconds: .max)))
        #expect(Instant.parseRFC3339("2262-04-11T23:47:16.854775807Z") == .success(.max))
        #expect(Instant.parseRFC3339("2262-04-11T23:47:16.854775806Z") == .success(Instant(nanoseconds: .max - 1)))
        #expect(Instant.parseRFC3339("2262-04-11T23:47:16Z") == .success(Instant(nanoseconds: 9_223_372_036 * second)))
    }

    static let outOfRangeCases: [String] = [
        "1677-09-21T00:12:43.145224191Z",
        "1677-09-21T00:12:43.14522419Z",
        "1677-09-21T00:12:43Z",
        "1677-09-21T00:00:00Z",
        "1677-01-01T00:00:00Z",
        "1600-03-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "2262-04-11T23:47:16.854775808Z",
        "2262-04-11T23:47:16.85477581Z",
        "2262-04-11T23:47:17Z",
        "2262-04-12T00:00:00Z",
        "2263-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00+23:59",
    ]

    @Test("one nanosecond (or more) beyond either limit is out of range", arguments: outOfRangeCases)
    func outOfRange(_ text: String) {
        #expect(Instant.parseRFC3339(text) == .failure(.outOfRange))
    }

    static let rangeAppliesToInstantCases: [(String, Int64?)] = [
        ("2262-04-12T00:47:16.854775807+01:00", Optional(Int64.max)),
        ("2262-04-12T23:46:16.854775807+23:59", Optional(Int64.max)),
        ("2262-04-11T22:47:16.854775807-01:00", Optional(Int64.max)),
        ("2262-04-11T23:47:16.854775807-01:00", nil),
        ("2262-04-12T00:47:16.854775808+01:00", nil),
        ("2262-04-11T23:47:16.854775807-00:01", nil),
        ("2262-04-11T23:47:16.854775807+00:01", Optional(Int64.max - 60 * second)),
        ("1677-09-20T23:12:43.145224192-01:00", Optional(Int64.min)),
        ("1677-09-20T00:13:43.145224192-23:59", Optional(Int64.min)),
        ("1677-09-21T01:12:43.145224192+01:00", Optional(Int64.min)),
        ("1677-09-20T23:12:43.145224191-01:00", nil),
        ("1677-09-21T00:12:43.145224192+00:01", nil),
        ("1677-09-21T00:12:43.145224192-00:01", Optional(Int64.min + 60 * second)),
    ]

    @Test("the range applies to the instant, not to the local wall time", arguments: rangeAppliesToInstantCases)
    func rangeAppliesToInstant(_ text: String, _ expected: Int64?) {
        if let expected {
            #expect(Instant.parseRFC3339(text) == .success(Instant(nanoseconds: expected)))
        } else {
            #expect(Instant.parseRFC3339(text) == .failure(.outOfRange))
        }
    }
}

/// Covers `Instant.canonical` and `writeCanonical(into:)`: UTC, `T` and `Z`, the fraction trimmed
/// of trailing zeros and absent when zero, and instants before 1970.
@Suite("Instant.canonical")
struct InstantCanonicalTests {
    static let knownSpellings: [(Int64, String)] = [
        (newYear2023, "2023-01-01T00:00:00Z"),
        (newYear2023 + 500_000_000, "2023-01-01T00:00:00.5Z"),
        (newYear2023 + 120_000_000, "2023-01-01T00:00:00.12Z"),
        (newYear2023 + 1, "2023-01-01T00:00:00.000000001Z"),
        (newYear2023 + 10, "2023-01-01T00:00:00.00000001Z"),
        (newYear2023 + 123_456_789, "2023-01-01T00:00:00.123456789Z"),
        (newYear2023 + 100_000_000, "2023-01-01T00:00:00.1Z"),
        (newYear2023 - 1, "2022-12-31T23:59:59.999999999Z"),
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
        (-second, "1969-12-31T23:59:59Z"),
        (-second - 1, "1969-12-31T23:59:58.999999999Z"),
        (-second + 1, "1969-12-31T23:59:59.000000001Z"),
        (-86_400 * second, "1969-12-31T00:00:00Z"),
        (-86_400 * second - 1, "1969-12-30T23:59:59.999999999Z"),
        (-86_400 * second + 1, "1969-12-31T00:00:00.000000001Z"),
        (-500_000_000, "1969-12-31T23:59:59.5Z"),
        (951_782_400 * second, "2000-02-29T00:00:00Z"),
        (Int64(-2_208_988_800) * second, "1900-01-01T00:00:00Z"),
        (Int64(-2_203_891_200) * second - 1, "1900-02-28T23:59:59.999999999Z"),
        (Int64.min, "1677-09-21T00:12:43.145224192Z"),
        (Int64.max, "2262-04-11T23:47:16.854775807Z"),
        (Int64.min + 1, "1677-09-21T00:12:43.145224193Z"),
        (Int64.max - 7, "2262-04-11T23:47:16.8547758Z"),
    ]

    @Test("canonical spelling of known instants", arguments: knownSpellings)
    func canonical(_ nanoseconds: Int64, _ expected: String) {
        let instant = Instant(nanoseconds: nanoseconds)
        #expect(instant.canonical == expected)
        #expect(instant.description == expected)
        #expect(Instant.parseRFC3339(expected) == .success(instant))
    }

    static let normalisesCases: [(String, String)] = [
        ("2023-01-01T01:00:00.500+01:00", "2023-01-01T00:00:00.5Z"),
        ("2023-01-01T00:00:00.000Z", "2023-01-01T00:00:00Z"),
        ("2023-01-01t00:00:00.000000000z", "2023-01-01T00:00:00Z"),
        ("2023-01-01 00:00:00-00:00", "2023-01-01T00:00:00Z"),
        ("2022-12-31T18:30:00.120-0530", "2023-01-01T00:00:00.12Z"),
        ("2023-01-01T00:00:00.000000010+00", "2023-01-01T00:00:00.00000001Z"),
        ("2023-03-01T05:00:00+23:59", "2023-02-28T05:01:00Z"),
        ("2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00Z"),
        ("1970-01-01T00:00:00.5+00:01", "1969-12-31T23:59:00.5Z"),
    ]

    @Test("parsing then formatting gives the canonical UTC spelling", arguments: normalisesCases)
    func normalises(_ input: String, _ expected: String) throws {
        #expect(try Instant.parseRFC3339(input).get().canonical == expected)
    }

    @Test("writeCanonical writes at most maxCanonicalLength bytes and returns the length")
    func writeCanonicalLength() {
        var buffer = [UInt8](repeating: 0xAA, count: Instant.maxCanonicalLength + 4)
        let written = buffer.withUnsafeMutableBufferPointer {
            Instant(nanoseconds: Int64.max).writeCanonical(into: UnsafeMutableBufferPointer(rebasing: $0[0..<Instant.maxCanonicalLength]))
        }
        #expect(written == Instant.maxCanonicalLength)
        #expect(String(decoding: buffer[0..<written], as: UTF8.self) == "2262-04-11T23:47:16.854775807Z")
        #expect(buffer[Instant.maxCanonicalLength...].allSatisfy { $0 == 0xAA })

        let short = buffer.withUnsafeMutableBufferPointer { Instant(nanoseconds: 0).writeCanonical(into: $0) }
        #expect(short == 20)
        #expect(String(decoding: buffer[0..<short], as: UTF8.self) == "1970-01-01T00:00:00Z")
    }

    @Test("Instant ordering is the order of nanoseconds")
    func ordering() {
        #expect(Instant.min < Instant(nanoseconds: -1))
        #expect(Instant(nanoseconds: -1) < Instant(nanoseconds: 0))
        #expect(Instant(nanoseconds: 0) < Instant.max)
        #expect(!(Instant.max < Instant.max))
        #expect(Instant.min.nanoseconds == Int64.min)
        #expect(Instant.max.nanoseconds == Int64.max)
    }
}
