import HTTPTypes

/// The catalogue of every route the server serves: registration, the helpful 404 that lists
/// them, and the 405 `Allow` header are all derived from it, so they cannot disagree.
struct APIRoute: Hashable, Sendable {
    /// The method served.
    var method: HTTPRequest.Method
    /// The path template as the contract writes it, e.g. `/devices/{id}/latest_timestamp`.
    var template: String

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

    /// The segment of `path` (which fits the template) in the place of the template's `{id}`;
    /// empty when the template has none.
    func parameterSegment(of path: Substring) -> Substring {
        guard let index = template.split(separator: "/", omittingEmptySubsequences: false).firstIndex(where: { $0.hasPrefix("{") })
        else { return "" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return index < segments.count ? segments[index] : ""
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
