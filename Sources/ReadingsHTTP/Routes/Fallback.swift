import NIOCore
import NIOHTTP1

/// What no route serves: `405 METHOD_NOT_ALLOWED` with `Allow` when the path is a known route
/// served for other methods, else `404 RESOURCE_NOT_FOUND` listing every route. Paths match
/// segment by segment, empty ones included, so `/devices//latest_timestamp` or `/devices/`
/// reach no route.
enum Fallback {
    static func methodNotAllowed(_ head: HTTPRequestHead, path: Substring, routes: [APIRoute]) -> Response {
        var allowed = routes.map(\.method)
        if allowed.contains(.GET) { allowed.append(.HEAD) }
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        let error = APIError(
            .methodNotAllowed, "\(head.method.rawValue) is not allowed on \(path); use \(allow)",
            headers: ["Allow": allow])
        return error.response()
    }

    static let notFound: Response = {
        let error = APIError(.resourceNotFound, "Not Found")
        var body = ByteBuffer()
        error.writeBody(into: &body) { body in
            body.writeStaticString(",\"routes\":[")
            for (i, route) in APIRoute.all.enumerated() {
                if i > 0 { body.writeStaticString(",") }
                body.writeJSONString(route.description)
            }
            body.writeStaticString("]")
        }
        return error.response(body: body)
    }()
}
