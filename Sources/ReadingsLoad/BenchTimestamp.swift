import ReadingsDomain

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
            let (year, month, dayOfMonth) = CivilDate.date(days: days)
            withUnsafeMutableBytes(of: &date) { raw in
                let out = raw.baseAddress!
                Writer.twoDigits(year / 100, at: out)
                Writer.twoDigits(year % 100, at: out + 2)
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
}
