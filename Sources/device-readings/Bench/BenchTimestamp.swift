/// The bench's timestamps: whole seconds after 2024-01-01T00:00:00Z, written as canonical RFC 3339
/// UTC (`YYYY-MM-DDTHH:MM:SSZ`), which is also how the server writes them back.
enum BenchTimestamp {
    /// 2024-01-01T00:00:00Z in seconds since the Unix epoch: the first reading's slot.
    static let epochOfFirstReading: Int64 = 1_704_067_200

    /// Appends the timestamp `offset` seconds after 2024-01-01T00:00:00Z (20 ASCII bytes).
    static func append(offset: Int64, to out: inout [UInt8]) {
        let seconds = epochOfFirstReading + offset
        let days = seconds / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(daysSinceEpoch: days)
        appendDigits(Int(year), width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// The timestamp `offset` seconds after 2024-01-01T00:00:00Z as a string.
    static func string(offset: Int64) -> String {
        var bytes: [UInt8] = []
        append(offset: offset, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (days ≥ 0), after Howard
    /// Hinnant's `civil_from_days`.
    private static func civil(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
