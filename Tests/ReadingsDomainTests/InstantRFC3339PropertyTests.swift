import ReadingsDomain
import Testing

@testable import ReadingsDomain

/// A deliberately naive calendar, independent of `CivilDate`: it walks years and months one at a
/// time from 1970, so it can serve as an oracle for the parser and the canonical formatter.
enum ReferenceCalendar {
    static let nanosecondsPerSecond: Int64 = 1_000_000_000

    static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysIn(year: Int) -> Int64 { isLeap(year) ? 366 : 365 }

    static func daysIn(month: Int, of year: Int) -> Int64 {
        [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// (year, month, day) of the day `days` after 1970-01-01.
    static func civil(days: Int64) -> (year: Int, month: Int, day: Int) {
        var year = 1970
        var rest = days
        while rest < 0 {
            year -= 1
            rest += daysIn(year: year)
        }
        while rest >= daysIn(year: year) {
            rest -= daysIn(year: year)
            year += 1
        }
        var month = 1
        while rest >= daysIn(month: month, of: year) {
            rest -= daysIn(month: month, of: year)
            month += 1
        }
        return (year, month, Int(rest) + 1)
    }

    /// Splits nanoseconds into floor seconds and a fraction in 0..<1e9.
    static func split(_ nanoseconds: Int64) -> (seconds: Int64, fraction: Int64) {
        var (q, r) = nanoseconds.quotientAndRemainder(dividingBy: nanosecondsPerSecond)
        if r < 0 {
            q -= 1
            r += nanosecondsPerSecond
        }
        return (q, r)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// `YYYY-MM-DD<sep>HH:MM:SS` for `seconds` since the epoch (which may lie outside the
    /// 64-bit nanosecond range: this works on seconds).
    static func wallClock(seconds: Int64, separator: String = "T") -> String {
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let date = civil(days: days)
        return pad(Int64(date.year), 4) + "-" + pad(Int64(date.month), 2) + "-" + pad(Int64(date.day), 2)
            + separator + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            + pad(secondOfDay % 60, 2)
    }

    /// The fraction's nine digits without trailing zeros ("" when zero).
    static func trimmedFraction(_ fraction: Int64) -> String {
        guard fraction != 0 else { return "" }
        var digits = pad(fraction, 9)
        while digits.hasSuffix("0") { digits.removeLast() }
        return digits
    }

    /// The canonical spelling the contract prescribes, computed independently.
    static func canonical(_ nanoseconds: Int64) -> String {
        let (seconds, fraction) = split(nanoseconds)
        let trimmed = trimmedFraction(fraction)
        return wallClock(seconds: seconds) + (trimmed.isEmpty ? "" : "." + trimmed) + "Z"
    }
}

/// Generates instants across the whole Int64 range with extra weight on the edges of the
/// range, of days and of seconds, and spells them in every accepted way.
struct InstantGenerator {
    var rng: SplitMix64

    mutating func int(in range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }

    mutating func instant() -> Int64 {
        let second = ReferenceCalendar.nanosecondsPerSecond
        let day = 86_400 * second
        switch int(in: 0...7) {
        case 0:
            return Int64(bitPattern: rng.next())
        case 1:
            return Int64.min + int(in: 0...1_000_000)
        case 2:
            return Int64.max - int(in: 0...1_000_000)
        case 3:
            // Near a day boundary.
            let d = int(in: -106_751...106_751)
            let (t, o1) = d.multipliedReportingOverflow(by: day)
            let (u, o2) = t.addingReportingOverflow(int(in: -2...2))
            return o1 || o2 ? int(in: -day...day) : u
        case 4:
            // Near a second boundary.
            let s = int(in: -9_223_372_036...9_223_372_036)
            let (t, o1) = s.multipliedReportingOverflow(by: second)
            let (u, o2) = t.addingReportingOverflow(int(in: -2...2))
            return o1 || o2 ? int(in: -second...second) : u
        case 5:
            // Whole milliseconds, whole seconds.
            return int(in: -9_223_372_036_854...9_223_372_036_854) * 1_000_000
        case 6:
            return int(in: -9_223_372_036...9_223_372_036) * second
        default:
            // Around the epoch.
            return int(in: -1_000_000_000_000_000...1_000_000_000_000_000)
        }
    }

    /// An offset in minutes, -23:59...+23:59, often zero.
    mutating func offsetMinutes() -> Int64 {
        switch int(in: 0...3) {
        case 0: return 0
        case 1: return int(in: -23...23) * 60
        default: return int(in: -(23 * 60 + 59)...(23 * 60 + 59))
        }
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int(int(in: 0...Int64(choices.count - 1)))] }

    /// A valid RFC 3339 spelling of `seconds` + `fraction` ns (the instant), as local time at
    /// `offsetMinutes`, with a randomly chosen separator, fraction length and offset form.
    mutating func spell(seconds: Int64, fraction: Int64, offsetMinutes: Int64) -> String {
        let separator = pick(["T", "t", " "])
        var text = ReferenceCalendar.wallClock(seconds: seconds + offsetMinutes * 60, separator: separator)
        let trimmed = ReferenceCalendar.trimmedFraction(fraction)
        switch int(in: 0...2) {
        case 0:
            if !trimmed.isEmpty { text += "." + trimmed }
        case 1:
            text += "." + ReferenceCalendar.pad(fraction, 9)
        default:
            let length = Int(int(in: Int64(max(1, trimmed.count))...9))
            text += "." + trimmed + String(repeating: "0", count: length - trimmed.count)
        }
        if offsetMinutes == 0 {
            text += pick(["Z", "z", "+00:00", "-00:00", "+0000", "-0000", "+00", "-00"])
        } else {
            let sign = offsetMinutes < 0 ? "-" : "+"
            let hours = ReferenceCalendar.pad(abs(offsetMinutes) / 60, 2)
            let minutes = ReferenceCalendar.pad(abs(offsetMinutes) % 60, 2)
            var forms = [sign + hours + ":" + minutes, sign + hours + minutes]
            if minutes == "00" { forms.append(sign + hours) }
            text += pick(forms)
        }
        return text
    }
}

/// Property tests of `Instant.parseRFC3339` and `Instant.canonical` against an independent
/// reference calendar: round trips across the whole Int64 range, re-spelled with random offsets,
/// and instants just outside the range refused as `.outOfRange`.
@Suite("Instant RFC 3339 properties")
struct InstantRFC3339PropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 0xDEAD_BEEF, 0x5EED_0000_0000_0001, 20_230_101, .max]
    static let perSeed = 1_500

    @Test("fixed edge instants round-trip through canonical")
    func edges() {
        let edges: [Int64] = [
            .min, .min + 1, .max, .max - 1, 0, -1, 1, -1_000_000_000, 1_000_000_000,
            -86_400_000_000_000, -86_400_000_000_001, 86_400_000_000_000 - 1,
        ]
        for value in edges {
            let instant = Instant(nanoseconds: value)
            #expect(instant.canonical == ReferenceCalendar.canonical(value), "\(value)")
            #expect(Instant.parseRFC3339(instant.canonical) == .success(instant), "\(value)")
        }
    }

    @Test("canonical agrees with the reference calendar and parses back to the same instant", arguments: seeds)
    func canonicalRoundTrip(seed: UInt64) {
        var generator = InstantGenerator(rng: SplitMix64(seed: seed))
        var failures = 0
        for _ in 0..<Self.perSeed where failures < 5 {
            let value = generator.instant()
            let instant = Instant(nanoseconds: value)
            let text = instant.canonical
            let expectedText = ReferenceCalendar.canonical(value)
            let parsed = Instant.parseRFC3339(text)
            if text != expectedText || parsed != .success(instant) {
                failures += 1
                Issue.record("seed \(seed): \(value) formats as \(text) (expected \(expectedText)), parses as \(parsed)")
            }
        }
    }

    @Test("any accepted spelling of an instant, at any offset, parses to that instant", arguments: seeds)
    func respelledRoundTrip(seed: UInt64) {
        var generator = InstantGenerator(rng: SplitMix64(seed: seed))
        var failures = 0
        for _ in 0..<Self.perSeed where failures < 5 {
            let value = generator.instant()
            let (seconds, fraction) = ReferenceCalendar.split(value)
            let offset = generator.offsetMinutes()
            let text = generator.spell(seconds: seconds, fraction: fraction, offsetMinutes: offset)
            let parsed = Instant.parseRFC3339(text)
            if parsed != .success(Instant(nanoseconds: value)) {
                failures += 1
                Issue.record("seed \(seed): \(text) (instant \(value), offset \(offset) min) parses as \(parsed)")
            }
        }
    }

    @Test("instants just outside the 64-bit range are refused whatever their spelling", arguments: seeds)
    func outOfRange(seed: UInt64) {
        var generator = InstantGenerator(rng: SplitMix64(seed: seed))
        let maxSeconds: Int64 = 9_223_372_036  // Int64.max = maxSeconds s + 854_775_807 ns
        let minSeconds: Int64 = -9_223_372_037  // Int64.min = minSeconds s + 145_224_192 ns
        var failures = 0
        for _ in 0..<Self.perSeed / 3 where failures < 5 {
            let seconds: Int64
            let fraction: Int64
            if generator.int(in: 0...1) == 0 {
                let far = generator.int(in: 1...10_000_000)
                seconds = maxSeconds + generator.pick([0, 0, 1, far])
                fraction =
                    seconds == maxSeconds
                    ? generator.int(in: 854_775_808...999_999_999) : generator.int(in: 0...999_999_999)
            } else {
                let far = generator.int(in: 1...10_000_000)
                seconds = minSeconds - generator.pick([0, 0, 1, far])
                fraction =
                    seconds == minSeconds
                    ? generator.int(in: 0...145_224_191) : generator.int(in: 0...999_999_999)
            }
            let offset = generator.offsetMinutes()
            let text = generator.spell(seconds: seconds, fraction: fraction, offsetMinutes: offset)
            let parsed = Instant.parseRFC3339(text)
            if parsed != .failure(.outOfRange) {
                failures += 1
                Issue.record("seed \(seed): \(text) parses as \(parsed), expected outOfRange")
            }
        }
    }

    @Test("canonical spellings sort like their instants")
    func canonicalOrder() {
        var generator = InstantGenerator(rng: SplitMix64(seed: 7))
        let values = (0..<500).map { _ in generator.instant() }
        // Same-length-prefix comparison: compare the wall clock part then the fraction digits.
        func key(_ text: String) -> (String, String) {
            let body = text.dropLast()  // Z
            let wall = String(body.prefix(19))
            let fraction = body.count > 19 ? String(body.dropFirst(20)) : ""
            return (wall, fraction + String(repeating: "0", count: 9 - fraction.count))
        }
        let byInstant = values.sorted().map { key(Instant(nanoseconds: $0).canonical) }
        let byText = values.map { key(Instant(nanoseconds: $0).canonical) }.sorted { $0 < $1 }
        #expect(byInstant.map { $0.0 + $0.1 } == byText.map { $0.0 + $0.1 })
    }
}
