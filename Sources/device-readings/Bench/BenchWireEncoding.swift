/// How a device id travels: as JSON string content in ingest bodies, percent-encoded in paths.
enum BenchWireEncoding {
    /// Appends `text` as the content of a JSON string (without the quotes): `"` and `\` escaped,
    /// control characters as `\u00XX`, everything else as UTF-8.
    static func appendJSONStringContent(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
    }

    /// `text` as a quoted JSON string.
    static func jsonString(_ text: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        appendJSONStringContent(text, to: &out)
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` percent-encoded for one path segment (RFC 3986): every byte outside the unreserved
    /// set `A-Z a-z 0-9 - . _ ~` becomes `%XX`, so `+`, `/` and spaces are unambiguous.
    static func pathSegment(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
