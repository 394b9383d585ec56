/// Where the bench sends its requests: an `http://host[:port][/base-path]` URL taken apart.
struct BenchTarget: Sendable, CustomStringConvertible {
    /// Host name or address as `getaddrinfo` takes it (an IPv6 address without brackets).
    let host: String
    /// TCP port (80 when the URL names none).
    let port: Int
    /// The `Host` header: the URL's authority as written.
    let authority: String
    /// A path prefix in front of every route, without a trailing slash ("" for none).
    let basePath: String

    /// Parses `url`, or throws `BenchError.invalidURL` saying what is wrong with it.
    init(url: String) throws {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("http://") else {
            let reason =
                lowered.hasPrefix("https://")
                ? "https is not supported; point the bench at the server's plain-HTTP address"
                : "expected http://HOST[:PORT][/PATH]"
            throw BenchError.invalidURL(url, reason: reason)
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = rest[slash...]
        guard !path.contains("?"), !path.contains("#") else {
            throw BenchError.invalidURL(url, reason: "a query or fragment makes no sense here")
        }
        while path.hasSuffix("/") { path = path.dropLast() }
        guard !authority.isEmpty, !authority.contains("@") else {
            throw BenchError.invalidURL(url, reason: "expected http://HOST[:PORT][/PATH] (no user info)")
        }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw BenchError.invalidURL(url, reason: "unclosed '[' in the IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw BenchError.invalidURL(url, reason: "expected ':PORT' after the IPv6 address")
                }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        var port = 80
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw BenchError.invalidURL(url, reason: "the port must be a number in 1...65535")
            }
            port = number
        }
        guard !host.isEmpty else { throw BenchError.invalidURL(url, reason: "no host") }
        self.host = String(host)
        self.port = port
        self.authority = String(authority)
        self.basePath = String(path)
    }

    /// `host:port`, for messages.
    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
