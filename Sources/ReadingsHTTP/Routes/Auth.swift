import NIOHTTP1

/// API keys: when any are configured, every route but those of ``APIRoute/open(metricsAuth:)`` needs
/// `Authorization: Bearer KEY`. Keys are compared in constant time (every configured key is
/// compared in full, whatever matches), and never logged. A read-only key may use every route
/// but those that change data (`POST /ingest`, `DELETE /devices/{id}`), which answer it `403 FORBIDDEN`; a missing or unknown key gets
/// `401 UNAUTHORIZED` with `WWW-Authenticate: Bearer`.
struct Auth: Sendable {
    let writeKeys: [[UInt8]]
    let readKeys: [[UInt8]]
    /// Paths that answer without a key.
    let openPaths: Set<String>

    /// Why `head` may not have an answer (401 or 403), or nil when it may.
    func check(_ head: HTTPRequestHead, path: Substring) -> APIError? {
        if openPaths.contains(String(path)) { return nil }
        guard let token = Self.bearerToken(head.headers.value("Authorization")) else {
            return APIError(
                .unauthorized, "this server needs an API key: send Authorization: Bearer <key>",
                headers: ["WWW-Authenticate": "Bearer"])
        }
        let isWriteKey = Self.matchesAny(token, writeKeys)
        let isReadKey = Self.matchesAny(token, readKeys)
        guard isWriteKey || isReadKey else {
            return APIError(
                .unauthorized, "the API key is not valid",
                headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
        if !isWriteKey, let route = APIRoute.writes.first(where: { $0.method == head.method && $0.match(path) != nil }) {
            return APIError(.forbidden, "this API key may read but not \(route == .ingest ? "ingest" : "delete")")
        }
        return nil
    }

    /// The token of `Bearer <token>` (scheme case-insensitive), or nil.
    static func bearerToken(_ header: String?) -> [UInt8]? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].drop(while: { $0 == " " })
        return token.isEmpty ? nil : Array(token.utf8)
    }

    /// Whether `token` equals one of `keys`, taking the same time whichever matches (only the
    /// lengths are compared openly). The lengths are compared whole: folding their difference
    /// into a byte, as this once did, let a valid key followed by any 256 bytes match, and made
    /// any 256-byte token match an empty key.
    static func matchesAny(_ token: [UInt8], _ keys: [[UInt8]]) -> Bool {
        var found = false
        for key in keys where !key.isEmpty {
            var difference: UInt8 = 0
            for i in 0..<key.count {
                difference |= key[i] ^ (i < token.count ? token[i] : 0)
            }
            found = found || (difference == 0 && token.count == key.count)
        }
        return found
    }
}
