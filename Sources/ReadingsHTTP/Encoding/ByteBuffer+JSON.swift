import NIOCore
import ReadingsDomain

/// Writing JSON straight into a response buffer: no intermediate strings or encoders on the
/// hot path. Strings are escaped by the domain's one escaper (``JSONByteSink``).
extension ByteBuffer: JSONByteSink {
    @inline(__always)
    public mutating func appendJSONByte(_ byte: UInt8) {
        writeInteger(byte)
    }

    /// Writes `bytes` (well-formed UTF-8) as a JSON string, quotes included.
    mutating func writeJSONString(_ bytes: some Collection<UInt8>) {
        writeInteger(UInt8(ascii: "\""))
        appendJSONStringContent(bytes)
        writeInteger(UInt8(ascii: "\""))
    }

    /// Writes `text` as a JSON string, quotes included.
    mutating func writeJSONString(_ text: String) {
        writeJSONString(text.utf8)
    }

    /// Writes an integer in decimal.
    mutating func writeDecimal(_ value: some BinaryInteger) {
        if value < 0 {
            writeInteger(UInt8(ascii: "-"))
            writeDecimal(value.magnitude)
            return
        }
        var v = UInt64(value)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = 20
            repeat {
                i -= 1
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i...]))
        }
    }

    /// Writes an instant's canonical UTC spelling as a JSON string, quotes included.
    mutating func writeJSONInstant(_ instant: Instant) {
        writeInteger(UInt8(ascii: "\""))
        writeCanonical(instant)
        writeInteger(UInt8(ascii: "\""))
    }

    /// Writes an instant's canonical UTC spelling, without quotes.
    mutating func writeCanonical(_ instant: Instant) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Instant.maxCanonicalLength) { out in
            let length = instant.writeCanonical(into: out)
            writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[..<length]))
        }
    }
}
