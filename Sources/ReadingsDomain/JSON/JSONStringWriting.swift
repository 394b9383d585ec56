/// Somewhere JSON text is written a byte at a time: a response buffer, a raw writer, an array.
public protocol JSONByteSink {
    mutating func appendJSONByte(_ byte: UInt8)
}

extension JSONByteSink {
    /// Appends `bytes` (well-formed UTF-8) escaped as JSON string content, without quotes: `"`
    /// and `\` escaped, `\n`, `\r`, `\t` by name, other control characters as `\u00XX`,
    /// everything else as it is. The one JSON string escaper of the project, so that the server,
    /// its error messages and the load generator all write the same text.
    @inlinable
    public mutating func appendJSONStringContent(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                appendJSONByte(UInt8(ascii: "\\"))
                appendJSONByte(byte)
            case 0x0A:
                appendJSONByte(UInt8(ascii: "\\"))
                appendJSONByte(UInt8(ascii: "n"))
            case 0x0D:
                appendJSONByte(UInt8(ascii: "\\"))
                appendJSONByte(UInt8(ascii: "r"))
            case 0x09:
                appendJSONByte(UInt8(ascii: "\\"))
                appendJSONByte(UInt8(ascii: "t"))
            case 0x00..<0x20:
                for b in [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")] { appendJSONByte(b) }
                appendJSONByte(Self.hexDigit(byte >> 4))
                appendJSONByte(Self.hexDigit(byte & 0xF))
            default:
                appendJSONByte(byte)
            }
        }
    }

    /// Appends `bytes` as a quoted JSON string.
    @inlinable
    public mutating func appendJSONString(_ bytes: some Sequence<UInt8>) {
        appendJSONByte(UInt8(ascii: "\""))
        appendJSONStringContent(bytes)
        appendJSONByte(UInt8(ascii: "\""))
    }

    @inlinable @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

extension Array: JSONByteSink where Element == UInt8 {
    @inlinable
    public mutating func appendJSONByte(_ byte: UInt8) {
        append(byte)
    }
}

extension String {
    /// The text as a quoted JSON string.
    public var jsonQuoted: String {
        var out: [UInt8] = []
        out.appendJSONString(utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
