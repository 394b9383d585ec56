import NIOCore
import NIOHTTP1
import ReadingsDomain

/// Files built into the binary (SwiftPM `embedInCode` resources): the OpenAPI document and the
/// dashboard's page, script and style sheet. Served from memory, with a strong `ETag` so that a
/// browser revalidates cheaply (`If-None-Match` → 304).
enum StaticFiles {
    struct File: Sendable {
        let route: APIRoute
        let contentType: String
        let body: ByteBuffer
        let etag: String

        init(_ route: APIRoute, _ contentType: String, _ bytes: [UInt8]) {
            self.route = route
            self.contentType = contentType
            self.body = ByteBuffer(bytes: bytes)
            // A hash of the content: changes whenever the file does.
            self.etag = "\"\(String(StableHash.fnv1a(bytes), radix: 16))\""
        }
    }

    static let files: [File] = [
        File(.openAPI, "application/json", PackageResources.openapi_json),
        File(.dashboard, "text/html; charset=utf-8", PackageResources.index_html),
        File(.dashboardScript, "text/javascript; charset=utf-8", PackageResources.dashboard_js),
        File(.dashboardStyle, "text/css; charset=utf-8", PackageResources.dashboard_css),
    ]

    /// The page loads nothing but its own files and talks only to this server; it has no
    /// inline script or style.
    static let securityHeaders: [(String, String)] = [
        (
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]

    /// The file a route serves, if it serves one.
    static func file(for route: APIRoute) -> File? {
        files.first { $0.route == route }
    }
}

extension StaticFiles.File {
    /// The file, or 304 when the client's copy is current.
    func response(to request: Request) -> Response {
        var headers = HTTPHeaders([("ETag", etag), ("Cache-Control", "no-cache")])
        headers.add(contentsOf: StaticFiles.securityHeaders)
        if request.headers.value("If-None-Match") == etag {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, contentType: contentType, headers: headers, body: body)
    }
}
