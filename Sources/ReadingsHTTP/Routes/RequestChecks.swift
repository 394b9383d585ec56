import NIOHTTP1

/// Header checks shared by the routes that take a body.
enum RequestChecks {
    /// How a request body is encoded.
    enum BodyEncoding {
        case identity
        case gzip
    }

    /// Accepts an absent `Content-Type`, `application/json` and `application/*+json` (any case,
    /// any parameters), and a `Content-Encoding` of `identity`, `gzip` or `x-gzip` (one coding,
    /// any case); refuses anything else with `415 UNSUPPORTED_MEDIA_TYPE`.
    static func requireJSONBody(_ headers: HTTPHeaders) throws(APIError) -> BodyEncoding {
        var encoding = BodyEncoding.identity
        if let coding = headers.value("Content-Encoding") {
            switch trimmed(coding).lowercased() {
            case "identity": encoding = .identity
            case "gzip", "x-gzip": encoding = .gzip
            default:
                throw APIError(
                    .unsupportedMediaType,
                    "Content-Encoding \(coding) is not supported; send the body uncompressed or as gzip")
            }
        }
        try requireJSONContentType(headers)
        return encoding
    }

    private static func requireJSONContentType(_ headers: HTTPHeaders) throws(APIError) {
        guard var contentType = headers.value("Content-Type") else { return }
        let isJSON = contentType.withUTF8 { isJSONMediaType($0) }
        guard isJSON else {
            throw APIError(
                .unsupportedMediaType,
                "Content-Type \(contentType) is not supported; send application/json")
        }
    }

    /// Whether a `Content-Type` value names `application/json` or `application/<anything>+json`
    /// (ASCII case-insensitive, parameters after `;` ignored, spaces and tabs around the media
    /// type allowed), read from its bytes without copying: this runs on every ingest request.
    static func isJSONMediaType(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = value.firstIndex(of: UInt8(ascii: ";")) ?? value.count
        var start = 0
        let isSpace = { (b: UInt8) in b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        while start < end && isSpace(value[start]) { start += 1 }
        while end > start && isSpace(value[end - 1]) { end -= 1 }
        let mediaType = UnsafeBufferPointer(rebasing: value[start..<end])
        /// Whether `bytes` equals the lower-case ASCII `literal`, ignoring case.
        func equalsIgnoringCase(_ bytes: Slice<UnsafeBufferPointer<UInt8>>, _ literal: StaticString) -> Bool {
            guard bytes.count == literal.utf8CodeUnitCount else { return false }
            for (k, b) in bytes.enumerated() {
                let lower = b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b
                if lower != literal.utf8Start[k] { return false }
            }
            return true
        }
        guard let slash = mediaType.firstIndex(of: UInt8(ascii: "/")),
            !mediaType[(slash + 1)...].contains(UInt8(ascii: "/")),
            equalsIgnoringCase(mediaType[..<slash], "application")
        else { return false }
        let subtype = mediaType[(slash + 1)...]
        if equalsIgnoringCase(subtype, "json") { return true }
        // `+json` with at least one character before it.
        return subtype.count > 5 && equalsIgnoringCase(subtype.suffix(5), "+json")
    }

    /// Whether `Prefer` asks for `return=minimal` (RFC 7240: comma-separated preferences,
    /// case-insensitive tokens, optional whitespace around `=`, optionally quoted values).
    static func prefersMinimalReturn(_ headers: HTTPHeaders) -> Bool {
        for field in headers["Prefer"] {
            for preference in field.split(separator: ",") {
                let head = preference.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                let pair = head.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2, trimmed(pair[0]).lowercased() == "return" else { continue }
                var value = trimmed(pair[1])
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                    value = value.dropFirst().dropLast()
                }
                if value.lowercased() == "minimal" { return true }
            }
        }
        return false
    }

    /// `413 PAYLOAD_TOO_LARGE`.
    static func payloadTooLarge(_ limit: Int) -> APIError {
        APIError(
            .payloadTooLarge,
            "the request body is larger than the limit of \(limit) bytes (once decompressed, for gzip); split the batch")
    }

    private static func trimmed(_ text: some StringProtocol) -> Substring {
        let s = Substring(text)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = s.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = s.lastIndex(where: { !isSpace($0) })!
        return s[start...end]
    }
}
