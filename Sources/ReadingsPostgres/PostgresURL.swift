import Foundation
import NIOSSL

/// What `--postgres-url` says: where the database is, who connects, and how the connection is
/// protected (`?sslmode=…&sslrootcert=…`, as libpq spells them).
struct PostgresURL {
    /// libpq's modes, less `allow` (plain text first, TLS only if the server insists), which
    /// postgres-nio cannot do. The default is libpq's: `prefer`.
    enum SSLMode: String, CaseIterable {
        /// Plain text.
        case disable
        /// TLS if the server offers it, plain text otherwise; the certificate is not checked.
        case prefer
        /// TLS or no connection; the certificate is not checked (encryption, not authentication).
        case require
        /// TLS with a certificate signed by a trusted root, for any host name.
        case verifyCA = "verify-ca"
        /// TLS with a certificate signed by a trusted root and naming the host of the URL.
        case verifyFull = "verify-full"
    }

    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var sslMode: SSLMode
    /// PEM file of the roots that `verify-ca` and `verify-full` trust; the system's trust store
    /// when absent.
    var sslRootCertificate: String?

    /// Parses `url` (`postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`).
    /// Errors quote the URL with its password replaced by `***`.
    init(_ url: String) throws(PostgresStoreError) {
        func invalid(_ reason: String) -> PostgresStoreError {
            .invalidURL(PostgresURL.redacting(url), reason: reason)
        }
        guard let components = URLComponents(string: url) else {
            throw invalid("not a URL (postgres://user:password@host:port/database?sslmode=…)")
        }
        guard ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw invalid("the scheme must be postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        self.host = host
        port = components.port ?? 5432
        username = components.user ?? "postgres"
        password = components.password
        database = String(components.path.dropFirst()).nilIfEmpty
        var sslMode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw invalid("sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else { throw invalid("sslrootcert needs a file") }
                sslRootCertificate = path
            default:
                // A misspelt sslmode must not silently leave the connection unverified.
                throw invalid("unknown parameter '\(item.name)' (known: sslmode, sslrootcert)")
            }
        }
        // libpq quietly turns require into verify-ca when a root certificate is given; saying so
        // is clearer than guessing.
        if sslRootCertificate != nil, sslMode != .verifyCA, sslMode != .verifyFull {
            throw invalid("sslrootcert is used only with sslmode=verify-ca or sslmode=verify-full")
        }
        self.sslMode = sslMode
    }

    /// Whether a connection without TLS is refused (every mode but `disable` and `prefer`).
    var requiresTLS: Bool { sslMode != .disable && sslMode != .prefer }

    /// The TLS settings of `sslMode`, nil for `disable`; reads the root certificates of
    /// `sslrootcert`.
    func tlsConfiguration() throws(PostgresStoreError) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return nil
        case .prefer, .require:
            configuration.certificateVerification = .none
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        if let path = sslRootCertificate {
            let roots: [NIOSSLCertificate]
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw .unreadableRootCertificate(path, reason: "no such file, or it cannot be read")
            }
            do {
                roots = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw .unreadableRootCertificate(path, reason: "not a file of PEM certificates (\(error))")
            }
            guard !roots.isEmpty else { throw .unreadableRootCertificate(path, reason: "no PEM certificate in it") }
            configuration.trustRoots = .certificates(roots)
        }
        return configuration
    }

    /// `url` with its password replaced by `***`, both the one in the user info
    /// (`postgres://user:***@host/db`) and a `password=` parameter. It works on any string, valid
    /// URL or not, since the invalid ones are those that get quoted: everything between the first
    /// `:` after the scheme and the last `@` is taken for the password (at worst more is hidden).
    static func redacting(_ url: String) -> String {
        var text = url
        let afterScheme = text.range(of: "://")?.upperBound ?? text.startIndex
        if let at = text[afterScheme...].lastIndex(of: "@"), let colon = text[afterScheme..<at].firstIndex(of: ":") {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
        return text.split(separator: "&", omittingEmptySubsequences: false).map { parameter in
            guard let key = parameter.range(of: "password=", options: .caseInsensitive) else { return String(parameter) }
            return parameter[..<key.upperBound] + "***"
        }.joined(separator: "&")
    }
}
