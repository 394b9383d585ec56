import Hummingbird
import NIOCore

/// Answers what the router could not (or should not: paths with empty segments): `405 METHOD_NOT_ALLOWED` with `Allow` when the path is a
/// known route served for other methods, else `404 RESOURCE_NOT_FOUND` listing every route.
struct FallbackMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [APIRoute]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        // The router ignores empty path segments; the contract's paths have none, so
        // `/devices//latest_timestamp` or `/devices/` must not reach another route's handler.
        let path = request.uri.path
        if path != "/" && (path.hasSuffix("/") || path.contains("//")) {
            return fallback(for: request)
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return fallback(for: request)
        }
    }

    func fallback(for request: Request) -> Response {
        let path = request.uri.path[...]
        var allowed = routes.filter { $0.matches(path: path) }.map(\.method)
        if !allowed.isEmpty {
            if allowed.contains(.get) { allowed.append(.head) }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let error = APIError(
                .methodNotAllowed, "METHOD_NOT_ALLOWED",
                "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allow)",
                headers: [.allow: allow])
            var body = ByteBuffer()
            error.writeBody(into: &body, extra: nil)
            return error.response(body: body)
        }
        let error = APIError(.notFound, "RESOURCE_NOT_FOUND", "Not Found")
        var body = ByteBuffer()
        error.writeBody(into: &body) { body in
            body.writeStaticString(",\"routes\":[")
            for (i, route) in routes.enumerated() {
                if i > 0 { body.writeStaticString(",") }
                body.writeJSONString(route.description)
            }
            body.writeStaticString("]")
        }
        return error.response(body: body)
    }
}
