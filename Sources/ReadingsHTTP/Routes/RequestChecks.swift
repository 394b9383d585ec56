import Hummingbird

/// Header checks shared by the routes that take a body.
enum RequestChecks {
    /// Accepts an absent `Content-Type`, `application/json` and `application/*+json` (any case,
    /// any parameters); refuses other media types and any `Content-Encoding` but `identity`
    /// with `415 UNSUPPORTED_MEDIA_TYPE`.
    static func requireJSONBody(_ headers: HTTPFields) throws(APIError) {
        if let encoding = headers[.contentEncoding], trimmed(encoding).lowercased() != "identity" {
            throw APIError(
                .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
                "Content-Encoding \(encoding) is not supported; send the body uncompressed")
        }
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
            "the request body is larger than the limit of \(limit) bytes; split the batch")
    }

    private static func trimmed(_ text: some StringProtocol) -> Substring {
        let s = Substring(text)
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = s.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = s.lastIndex(where: { !isSpace($0) })!
        return s[start...end]
    }
}
