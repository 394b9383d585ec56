/// RFC 3986 percent-encoding. `+` is a literal plus everywhere (not a space): clients send
/// `%2B` for an offset's plus sign and `%20` for a space. Public for clients of the API in this
/// package (`device-readings bench` encodes ids in paths with it).
public enum PercentEncoding {
    /// Decodes `%XX` escapes in `text`; nil when an escape is malformed or the result is not
    /// well-formed UTF-8.
    static func decode(_ text: Substring) -> [UInt8]? {
        let source = text.utf8
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        var i = source.startIndex
        while i < source.endIndex {
            let byte = source[i]
            if byte == UInt8(ascii: "%") {
                let first = source.index(after: i)
                guard first < source.endIndex else { return nil }
                let second = source.index(after: first)
                guard second < source.endIndex, let high = hex(source[first]), let low = hex(source[second])
                else { return nil }
                out.append(high << 4 | low)
                i = source.index(after: second)
            } else {
                out.append(byte)
                i = source.index(after: i)
            }
        }
        guard String(validating: out, as: UTF8.self) != nil else { return nil }
        return out
    }

    /// Encodes every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
