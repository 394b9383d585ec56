import Hummingbird

/// The catalogue of every route the server serves: registration, the helpful 404 that lists
/// them, and the 405 `Allow` header are all derived from it, so they cannot disagree.
struct APIRoute: Sendable {
    /// The method served.
    var method: HTTPRequest.Method
    /// The path template as the contract writes it, e.g. `/devices/{id}/latest_timestamp`.
    var template: String

    /// The template in Hummingbird's syntax (`{id}` becomes `:id`).
    var routerPath: RouterPath {
        RouterPath(
            template.split(separator: "/").map { segment in
                segment.hasPrefix("{") ? ":" + segment.dropFirst().dropLast() : String(segment)
            }.joined(separator: "/"))
    }

    /// "METHOD /path/{param}".
    var description: String { "\(method.rawValue) \(template)" }

    /// Whether `path` (raw, still percent-encoded) fits the template, whatever the method. Every
    /// segment counts, empty ones included: `/devices//latest_timestamp` fits no route.
    func matches(path: Substring) -> Bool {
        let want = template.split(separator: "/", omittingEmptySubsequences: false)
        let have = path.split(separator: "/", omittingEmptySubsequences: false)
        guard want.count == have.count else { return false }
        return zip(want, have).allSatisfy { pattern, segment in
            pattern.hasPrefix("{") ? !segment.isEmpty : pattern == segment
        }
    }

    static let ingest = APIRoute(method: .post, template: "/ingest")
    static let devices = APIRoute(method: .get, template: "/devices")
    static let device = APIRoute(method: .get, template: "/devices/{id}")
    static let latestTimestamp = APIRoute(method: .get, template: "/devices/{id}/latest_timestamp")
    static let cumulativeCount = APIRoute(method: .get, template: "/devices/{id}/cumulative_count")
    static let buckets = APIRoute(method: .get, template: "/devices/{id}/buckets")
    static let health = APIRoute(method: .get, template: "/health")
    static let ready = APIRoute(method: .get, template: "/ready")
    static let metrics = APIRoute(method: .get, template: "/metrics")
    static let openAPI = APIRoute(method: .get, template: "/openapi.json")
    static let dashboard = APIRoute(method: .get, template: "/")
    static let dashboardScript = APIRoute(method: .get, template: "/dashboard.js")
    static let dashboardStyle = APIRoute(method: .get, template: "/dashboard.css")

    /// Every route, in the order the 404 body lists them.
    static let all: [APIRoute] = [
        ingest, devices, device, latestTimestamp, cumulativeCount, buckets, health, ready, metrics, openAPI, dashboard,
        dashboardScript, dashboardStyle,
    ]

    /// Routes that answer without an API key: probes, the API's description, and the dashboard's
    /// files (the page asks for a key itself). `/metrics` joins them unless `--metrics-auth`.
    static func open(metricsAuth: Bool) -> Set<String> {
        var paths: Set<String> = [health.template, ready.template, openAPI.template, dashboard.template,
            dashboardScript.template, dashboardStyle.template]
        if !metricsAuth { paths.insert(metrics.template) }
        return paths
    }
}

extension Router {
    /// Serves `route` (a GET route) with `handler`, and `HEAD` on the same path with the same
    /// answer without its body.
    func get(
        _ route: APIRoute, use handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        on(route.routerPath, method: .get, use: handler)
        on(route.routerPath, method: .head) { request, context in
            var response = try await handler(request, context)
            let length = response.body.contentLength
            response.body = ResponseBody()
            if let length { response.headers[.contentLength] = String(length) }
            return response
        }
    }
}
