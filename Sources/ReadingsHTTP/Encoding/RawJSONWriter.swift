import ReadingsDomain

/// Writes JSON bytes through a raw pointer into memory reserved beforehand: the ingest response's
/// hot loop, where a `ByteBuffer` call per fragment (with its capacity and uniqueness checks)
/// would cost more than the bytes themselves. The caller reserves an upper bound of the size.
struct RawJSONWriter: JSONByteSink {
    private let base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    private(set) var count = 0

    init(_ base: UnsafeMutablePointer<UInt8>) {
        self.base = base
    }

    @inline(__always)
    mutating func put(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        (base + count).update(from: text.utf8Start, count: n)
        count += n
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func appendJSONByte(_ byte: UInt8) {
        put(byte)
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// Writes an instant's canonical UTC spelling, without quotes (at most
    /// `Instant.maxCanonicalLength` bytes).
    @inline(__always)
    mutating func putCanonical(_ instant: Instant) {
        count += instant.writeCanonical(into: UnsafeMutableBufferPointer(start: base + count, count: Instant.maxCanonicalLength))
    }

    /// Writes `value` in decimal (at most 20 bytes). The length of values below 10,000
    /// (indices and counts, mostly) is found by comparisons rather than divisions.
    @inline(__always)
    mutating func putDecimal(_ value: UInt64) {
        var digits: Int
        switch value {
        case ..<10: digits = 1
        case ..<100: digits = 2
        case ..<1000: digits = 3
        case ..<10_000: digits = 4
        default:
            digits = 5
            var probe = value / 100_000
            while probe > 0 {
                digits += 1
                probe /= 10
            }
        }
        var v = value
        var p = count + digits - 1
        repeat {
            base[p] = UInt8(truncatingIfNeeded: 48 + v % 10)
            v /= 10
            p -= 1
        } while v > 0
        count += digits
    }
}
