import Hummingbird

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
    static func requireJSONBody(_ headers: HTTPFields) throws(APIError) -> BodyEncoding {
        var encoding = BodyEncoding.identity
        if let coding = headers[.contentEncoding] {
            switch trimmed(coding).lowercased() {
            case "identity": encoding = .identity
            case "gzip", "x-gzip": encoding = .gzip
            default:
                throw APIError(
                    .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
                    "Content-Encoding \(coding) is not supported; send the body uncompressed or as gzip")
            }
        }
        try requireJSONContentType(headers)
        return encoding
    }

    private static func requireJSONContentType(_ headers: HTTPFields) throws(APIError) {
        guard let contentType = headers[.contentType] else { return }
        let mediaType = trimmed(contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0])
            .lowercased()
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        let isJSON = parts.count == 2 && parts[0] == "application" && (parts[1] == "json" || (parts[1].hasSuffix("+json") && parts[1].count > 5))
        guard isJSON else {
            throw APIError(
                .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
                "Content-Type \(contentType) is not supported; send application/json")
        }
    }

    /// Whether `Prefer` asks for `return=minimal` (RFC 7240: comma-separated preferences,
    /// case-insensitive tokens, optional whitespace around `=`, optionally quoted values).
    static func prefersMinimalReturn(_ headers: HTTPFields) -> Bool {
        for field in headers[values: .prefer] {
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
            .contentTooLarge, "PAYLOAD_TOO_LARGE",
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
