/// The bench's timestamps: whole seconds after 2024-01-01T00:00:00Z, written as canonical RFC 3339
/// UTC (`YYYY-MM-DDTHH:MM:SSZ`), which is also how the server writes them back.
enum BenchTimestamp {
    /// 2024-01-01T00:00:00Z in seconds since the Unix epoch: the first reading's slot.
    static let epochOfFirstReading: Int64 = 1_704_067_200

    /// Bytes of one timestamp.
    static let length = 20

    /// Writes timestamps into raw memory, remembering the date of the last one: readings sent in
    /// time order share a day 1440 at a time, so the calendar arithmetic runs once a day.
    struct Writer {
        private var day: Int64 = -1
        /// `YYYY-MM-DD` of `day`, as 8 + 2 bytes.
        private var date: (UInt64, UInt16) = (0, 0)

        /// Writes the timestamp `offset` (≥ 0) seconds after 2024-01-01T00:00:00Z at `out`
        /// (`length` bytes; no alignment needed).
        @inline(__always)
        mutating func write(offset: Int64, to out: UnsafeMutableRawPointer) {
            let seconds = epochOfFirstReading + offset
            let days = seconds / 86_400
            if days != day { cacheDate(of: days) }
            out.storeBytes(of: date.0, as: UInt64.self)
            out.storeBytes(of: date.1, toByteOffset: 8, as: UInt16.self)
            let secondOfDay = Int(truncatingIfNeeded: seconds - days * 86_400)
            out.storeBytes(of: UInt8(ascii: "T"), toByteOffset: 10, as: UInt8.self)
            Writer.twoDigits(secondOfDay / 3600, at: out + 11)
            out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 13, as: UInt8.self)
            Writer.twoDigits(secondOfDay / 60 % 60, at: out + 14)
            out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: 16, as: UInt8.self)
            Writer.twoDigits(secondOfDay % 60, at: out + 17)
            out.storeBytes(of: UInt8(ascii: "Z"), toByteOffset: 19, as: UInt8.self)
        }

        private mutating func cacheDate(of days: Int64) {
            let (year, month, dayOfMonth) = BenchTimestamp.civil(daysSinceEpoch: days)
            withUnsafeMutableBytes(of: &date) { raw in
                let out = raw.baseAddress!
                Writer.twoDigits(Int(year / 100), at: out)
                Writer.twoDigits(Int(year % 100), at: out + 2)
                out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 4, as: UInt8.self)
                Writer.twoDigits(month, at: out + 5)
                out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 7, as: UInt8.self)
                Writer.twoDigits(dayOfMonth, at: out + 8)
            }
            day = days
        }

        @inline(__always)
        private static func twoDigits(_ value: Int, at out: UnsafeMutableRawPointer) {
            out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10), as: UInt8.self)
            out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10), toByteOffset: 1, as: UInt8.self)
        }
    }

    /// The timestamp `offset` seconds after 2024-01-01T00:00:00Z as a string.
    static func string(offset: Int64) -> String {
        var writer = Writer()
        return String(unsafeUninitializedCapacity: length) { buffer in
            writer.write(offset: offset, to: UnsafeMutableRawPointer(buffer.baseAddress!))
            return length
        }
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
}
