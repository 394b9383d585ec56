/// How a device id travels in ingest bodies: as JSON string content. (In paths it is
/// percent-encoded with `ReadingsHTTP.PercentEncoding`.)
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
}
