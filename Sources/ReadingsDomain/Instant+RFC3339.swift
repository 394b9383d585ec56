extension Instant {
    /// Parses an RFC 3339 date-time as the contract accepts it.
    ///
    /// Grammar: `YYYY-MM-DD` then `T`, `t` or one space, `HH:MM:SS`, an optional `.` with 1 to 9
    /// digits, then `Z`, `z`, `±HH:MM`, `±HHMM` or `±HH`. `-00:00` is UTC. The instant (not the
    /// local wall time) must fit in `Int64` nanoseconds. Nothing is guessed or truncated.
    public static func parseRFC3339(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<Instant, TimestampError> {
        let n = bytes.count
        guard n >= 19 else { return .failure(.malformed) }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let d = Int(bytes[i]) &- 48
            return d >= 0 && d <= 9 ? d : nil
        }
        @inline(__always) func twoDigits(_ i: Int) -> Int? {
            guard let a = digit(i), let b = digit(i + 1) else { return nil }
            return a * 10 + b
        }
        guard let y1 = twoDigits(0), let y2 = twoDigits(2), bytes[4] == UInt8(ascii: "-"),
            let month = twoDigits(5), bytes[7] == UInt8(ascii: "-"), let day = twoDigits(8),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
            let hour = twoDigits(11), bytes[13] == UInt8(ascii: ":"), let minute = twoDigits(14),
            bytes[16] == UInt8(ascii: ":"), let second = twoDigits(17)
        else { return .failure(.malformed) }
        let year = y1 * 100 + y2

        var i = 19
        var fraction: Int64 = 0
        if i < n && bytes[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < n, let d = digit(i) {
                if i - start < 9 { fraction = fraction * 10 + Int64(d) }
                i += 1
            }
            let digits = i - start
            if digits == 0 { return .failure(.malformed) }
            if digits > 9 { return .failure(.tooManyFractionDigits) }
            for _ in digits..<9 { fraction *= 10 }
        }
        guard i < n else { return .failure(.missingOffset) }

        var offsetSeconds = 0
        switch bytes[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let negative = bytes[i] == UInt8(ascii: "-")
            i += 1
            guard i + 2 <= n, let offsetHours = twoDigits(i) else { return .failure(.malformed) }
            i += 2
            var offsetMinutes = 0
            if i < n {
                if bytes[i] == UInt8(ascii: ":") { i += 1 }
                guard i + 2 <= n, let m = twoDigits(i) else { return .failure(.malformed) }
                offsetMinutes = m
                i += 2
            }
            guard offsetHours <= 23, offsetMinutes <= 59 else { return .failure(.invalidOffset) }
            offsetSeconds = (offsetHours * 60 + offsetMinutes) * 60
            if negative { offsetSeconds = -offsetSeconds }
        default:
            return .failure(.malformed)
        }
        guard i == n else { return .failure(.malformed) }

        if second == 60 { return .failure(.leapSecond) }
        guard month >= 1, month <= 12, day >= 1, day <= CivilDate.daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 59
        else { return .failure(.invalidDateTime) }

        let days = CivilDate.days(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Instant.fromSeconds(seconds, fraction: fraction).map { .success($0) } ?? .failure(.outOfRange)
    }

    /// Parses an RFC 3339 date-time from a string; see ``parseRFC3339(_:)-(UnsafeBufferPointer<UInt8>)``.
    public static func parseRFC3339(_ text: String) -> Result<Instant, TimestampError> {
        var text = text
        return text.withUTF8 { parseRFC3339($0) }
    }

    /// `seconds` since the epoch plus `fraction` nanoseconds (0...999_999_999), or nil when that
    /// is not representable.
    @inline(__always)
    static func fromSeconds(_ seconds: Int64, fraction: Int64) -> Instant? {
        // For negative seconds, borrow one second first so that the product stays in range
        // at the lower edge (Int64.min is -9223372037 s + 145224192 ns).
        var s = seconds
        var f = fraction
        if s < 0 && f > 0 {
            s += 1
            f -= nanosecondsPerSecond
        }
        let (scaled, overflow) = s.multipliedReportingOverflow(by: nanosecondsPerSecond)
        guard !overflow else { return nil }
        let (total, overflow2) = scaled.addingReportingOverflow(f)
        return overflow2 ? nil : Instant(nanoseconds: total)
    }

    /// The longest canonical spelling: `YYYY-MM-DDTHH:MM:SS.fffffffffZ`.
    public static let maxCanonicalLength = 30

    /// Writes the canonical UTC spelling (`YYYY-MM-DDTHH:MM:SS`, the fraction without trailing
    /// zeros and none when zero, then `Z`) into `out`, which must hold
    /// ``maxCanonicalLength`` bytes. Returns the number of bytes written.
    @inline(__always)
    public func writeCanonical(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var seconds = nanoseconds / nanosecondsPerSecond
        var fraction = nanoseconds % nanosecondsPerSecond
        if fraction < 0 {
            fraction += nanosecondsPerSecond
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let date = CivilDate.date(days: days)
        @inline(__always) func put(_ value: Int, _ width: Int, at position: Int) {
            var v = value
            var p = position + width - 1
            while p >= position {
                out[p] = UInt8(48 + v % 10)
                v /= 10
                p -= 1
            }
        }
        put(date.year, 4, at: 0)
        out[4] = UInt8(ascii: "-")
        put(date.month, 2, at: 5)
        out[7] = UInt8(ascii: "-")
        put(date.day, 2, at: 8)
        out[10] = UInt8(ascii: "T")
        put(Int(secondOfDay / 3600), 2, at: 11)
        out[13] = UInt8(ascii: ":")
        put(Int(secondOfDay / 60 % 60), 2, at: 14)
        out[16] = UInt8(ascii: ":")
        put(Int(secondOfDay % 60), 2, at: 17)
        var length = 19
        if fraction != 0 {
            out[19] = UInt8(ascii: ".")
            var digits = 9
            var f = Int(fraction)
            while f % 10 == 0 {
                f /= 10
                digits -= 1
            }
            put(f, digits, at: 20)
            length = 20 + digits
        }
        out[length] = UInt8(ascii: "Z")
        return length + 1
    }

    /// The canonical UTC spelling, e.g. `2023-01-01T00:00:00.5Z`.
    public var canonical: String {
        String(unsafeUninitializedCapacity: Instant.maxCanonicalLength) { writeCanonical(into: $0) }
    }
}

extension Instant: CustomStringConvertible {
    /// The canonical UTC spelling.
    public var description: String { canonical }
}
