import ReadingsDomain

/// An independent, deliberately plain reading of the contract's timestamp grammar (docs/api.md,
/// "Timestamps"), to compare `Instant.parseRFC3339` with. It shares no code with the domain:
/// fields are cut out by position, the day number comes from a year-length sum rather than the
/// era algorithm, and the instant is computed in 128 bits and range-checked afterwards.
enum ReferenceTimestamp {
    enum Verdict: Equatable {
        /// Accepted: nanoseconds since 1970-01-01T00:00:00Z.
        case accepted(Int64)
        /// Refused; any of these errors is an acceptable report (the contract only requires one
        /// clear error; where several problems overlap the implementation may name either).
        case rejected(Set<TimestampError>)
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Verdict {
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var value = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        func byte(_ i: Int) -> UInt8? { i < b.count ? b[i] : nil }

        // YYYY-MM-DD, T|t|space, HH:MM:SS: fixed positions.
        guard let year = digits(0..<4), byte(4) == 0x2D, let month = digits(5..<7), byte(7) == 0x2D,
            let day = digits(8..<10), [0x54, 0x74, 0x20].contains(byte(10)), let hour = digits(11..<13),
            byte(13) == 0x3A, let minute = digits(14..<16), byte(16) == 0x3A, let second = digits(17..<19)
        else { return .rejected([.malformed]) }

        // Optional fraction.
        var i = 19
        var fractionDigits: [Int] = []
        if byte(i) == 0x2E {
            i += 1
            while let d = byte(i), d >= 0x30 && d <= 0x39 {
                fractionDigits.append(Int(d - 0x30))
                i += 1
            }
            if fractionDigits.isEmpty { return .rejected([.malformed]) }
            if fractionDigits.count > 9 { return .rejected([.tooManyFractionDigits]) }
        }

        // Zone: Z, z, ±HH:MM, ±HHMM, ±HH.
        let zone = Array(b[i...])
        if zone.isEmpty { return .rejected([.missingOffset]) }
        var offsetMinutes = 0
        if zone == [0x5A] || zone == [0x7A] {
            offsetMinutes = 0
        } else if zone[0] == 0x2B || zone[0] == 0x2D {
            let sign = zone[0] == 0x2D ? -1 : 1
            let shapes: [(hours: Range<Int>, minutes: Range<Int>?, length: Int)] = [
                (1..<3, nil, 3), (1..<3, 3..<5, 5), (1..<3, 4..<6, 6),
            ]
            var matched: (Int, Int)? = nil
            for shape in shapes where zone.count == shape.length {
                if shape.length == 6 && zone[3] != 0x3A { continue }
                guard let h = digits(i + shape.hours.lowerBound..<i + shape.hours.upperBound) else { continue }
                if let m = shape.minutes {
                    guard let mm = digits(i + m.lowerBound..<i + m.upperBound) else { continue }
                    matched = (h, mm)
                } else {
                    matched = (h, 0)
                }
            }
            guard let (h, m) = matched else {
                // Trailing garbage after an offset whose values are out of range may be reported
                // as either problem.
                var accepted: Set<TimestampError> = [.malformed]
                if let h = digits(i + 1..<i + 3) {
                    let m = byte(i + 3) == 0x3A ? digits(i + 4..<i + 6) : digits(i + 3..<i + 5)
                    if let m, h > 23 || m > 59 { accepted.insert(.invalidOffset) }
                }
                return .rejected(accepted)
            }
            if h > 23 || m > 59 { return .rejected([.invalidOffset]) }
            offsetMinutes = sign * (h * 60 + m)
        } else {
            return .rejected([.malformed])
        }

        if second == 60 { return .rejected([.leapSecond]) }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthLengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), day >= 1, day <= monthLengths[month - 1], hour < 24, minute < 60,
            second < 60
        else { return .rejected([.invalidDateTime]) }

        // Days since 1970-01-01: whole years (shifted by 400 years, one full cycle of 146,097
        // days, so that every year is positive), then whole months, then days.
        func daysBeforeYear(_ y: Int) -> Int {  // y >= 1, days from 0001-01-01
            let p = y - 1
            return p * 365 + p / 4 - p / 100 + p / 400
        }
        var days = daysBeforeYear(year + 400) - 146_097 - daysBeforeYear(1970)
        days += monthLengths[0..<(month - 1)].reduce(0, +) + day - 1
        var fraction = 0
        for k in 0..<9 { fraction = fraction * 10 + (k < fractionDigits.count ? fractionDigits[k] : 0) }
        let seconds = Int128(days) * 86_400 + Int128(hour * 3600 + minute * 60 + second) - Int128(offsetMinutes * 60)
        let nanoseconds = seconds * 1_000_000_000 + Int128(fraction)
        guard nanoseconds >= Int128(Int64.min) && nanoseconds <= Int128(Int64.max) else {
            return .rejected([.outOfRange])
        }
        return .accepted(Int64(nanoseconds))
    }

    /// Whether `b` is the contract's canonical output form:
    /// `YYYY-MM-DDTHH:MM:SS`, then `.` and 1 to 9 digits not ending in 0 or nothing, then `Z`.
    static func isCanonical(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let pattern = Array("dddd-dd-ddTdd:dd:dd".utf8)
        guard b.count >= 20, b.count <= 30 else { return false }
        for (k, p) in pattern.enumerated() {
            if p == UInt8(ascii: "d") {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return false }
            } else if b[k] != p {
                return false
            }
        }
        guard b[b.count - 1] == UInt8(ascii: "Z") else { return false }
        if b.count == 20 { return true }
        guard b.count >= 22, b[19] == UInt8(ascii: ".") else { return false }
        for k in 20..<(b.count - 1) where !(b[k] >= 0x30 && b[k] <= 0x39) { return false }
        return b[b.count - 2] != UInt8(ascii: "0")
    }
}
