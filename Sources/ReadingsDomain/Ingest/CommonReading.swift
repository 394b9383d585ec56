/// The ingest parser's fast path for the spelling nearly every device sends:
///
///     {"timestamp":"YYYY-MM-DDTHH:MM:SSZ","count":N}
///
/// with no whitespace, whole seconds in UTC, and `N` plain decimal digits (at most 15, no
/// leading zero). Such an element is matched with a few 8-byte loads and compares instead of
/// the general scanner, member by member and byte by byte. Consecutive readings of a batch
/// usually share their date, so the day number of the last date seen is kept and reused.
///
/// The match only ever says "this element is exactly that, and valid"; anything else (another
/// spelling, another member order, whitespace, escapes, a fraction or an offset, an invalid date
/// or time, a leap second, an instant out of range, a longer count) returns nil and the general
/// path parses the element from the same position, so the two paths cannot disagree on what
/// they both accept: the differential and property tests compare them.
struct CommonReading {
    /// Where the element's timestamp content starts, relative to its `{`.
    static let timestampOffset = 14
    /// Length of the timestamp content.
    static let timestampLength = 20

    /// The date (`YYYY-MM-` and `DD`, as loaded) of the last match, and its day number. The
    /// initial key matches nothing: a matched date has no zero bytes.
    private var cachedDate: (UInt64, UInt16) = (0, 0)
    private var cachedDays: Int64 = 0

    /// A matched element.
    struct Match {
        var instant: Instant
        var count: UInt64
        /// Offset just past the element's closing brace.
        var end: Int
    }

    /// Matches the element whose `{` is at `start`.
    @inline(__always)
    mutating func match(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Match? {
        // The fixed part ends 44 bytes in; the count takes one digit and the brace at least.
        guard start + 46 <= bytes.count, let base = bytes.baseAddress else { return nil }
        let p = UnsafeRawPointer(base + start)
        @inline(__always) func word(_ offset: Int) -> UInt64 {
            UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        // {"timestamp":"  (bytes 0–13, as two overlapping words) and "count": (36–43).
        guard word(0) == Self.pattern("{\"timest"), word(6) == Self.pattern("stamp\":\""),
            word(36) == Self.pattern("\"count\":")
        else { return nil }
        // YYYY-MM-  DDTHH:MM  :SSZ","c   (bytes 14–21, 22–29, 30–37)
        guard let date = Self.digits(word(14), "0000-00-"), let time = Self.digits(word(22), "00T00:00"),
            let seconds = Self.digits(word(30), ":00Z\",\"c")
        else { return nil }

        // The count: 1 to 15 digits (below 2^53), no leading zero, then the closing brace.
        var i = start + 44
        var value: UInt64 = 0
        while i < bytes.count {
            let d = bytes[i] &- UInt8(ascii: "0")
            if d >= 10 { break }
            value = value &* 10 &+ UInt64(d)
            i += 1
        }
        let length = i - (start + 44)
        guard length >= 1, length <= 15, i < bytes.count, bytes[i] == UInt8(ascii: "}"),
            length == 1 || bytes[start + 44] != UInt8(ascii: "0")
        else { return nil }

        @inline(__always) func byte(_ w: UInt64, _ k: Int) -> Int { Int(truncatingIfNeeded: w >> (8 * k)) & 0xFF }
        let hour = byte(time, 3) * 10 + byte(time, 4)
        let minute = byte(time, 6) * 10 + byte(time, 7)
        let second = byte(seconds, 1) * 10 + byte(seconds, 2)
        guard hour <= 23, minute <= 59, second <= 59 else { return nil }

        let dateKey = (word(14), UInt16(truncatingIfNeeded: word(22)))
        let days: Int64
        if dateKey == cachedDate {
            days = cachedDays
        } else {
            let year = byte(date, 0) * 1000 + byte(date, 1) * 100 + byte(date, 2) * 10 + byte(date, 3)
            let month = byte(date, 5) * 10 + byte(date, 6)
            let day = byte(time, 0) * 10 + byte(time, 1)
            guard month >= 1, month <= 12, day >= 1, day <= CivilDate.daysInMonth(year: year, month: month) else {
                return nil
            }
            days = CivilDate.days(year: year, month: month, day: day)
            cachedDate = dateKey
            cachedDays = days
        }
        let total = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        guard let instant = Instant.fromSeconds(total, fraction: 0) else { return nil }
        return Match(instant: instant, count: value, end: i + 1)
    }

    /// The eight bytes of `text` as a little-endian word.
    @inline(__always)
    private static func pattern(_ text: StaticString) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(text.utf8Start).loadUnaligned(as: UInt64.self))
    }

    /// Checks `word` against `template`, where `0` stands for any decimal digit and every other
    /// byte must be equal, and returns the word with each digit replaced by its value (other
    /// bytes 0), or nil.
    ///
    /// Per byte, `x = byte ^ template` is 0–9 for a digit (against `0`) and 0 for an equal byte;
    /// adding 0x76 (digits) or 0x7F (others) sets the top bit exactly when `x` is too large. A
    /// byte whose `x` has its own top bit set fails through `x` itself, so a carry into the next
    /// byte can only occur when the check has already failed.
    @inline(__always)
    private static func digits(_ word: UInt64, _ template: StaticString) -> UInt64? {
        let t = pattern(template)
        // 0x01 in the bytes where the template has `0`.
        let zeros = t ^ 0x3030_3030_3030_3030
        let isDigitByte = ~(((zeros & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | zeros) & 0x8080_8080_8080_8080
        let digitLanes = isDigitByte >> 7
        let add = 0x7F7F_7F7F_7F7F_7F7F &- digitLanes &* 0x09
        let x = word ^ t
        guard (x | (x &+ add)) & 0x8080_8080_8080_8080 == 0 else { return nil }
        return x
    }
}
