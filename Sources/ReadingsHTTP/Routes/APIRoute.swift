import NIOHTTP1

/// The catalogue of every route the server serves: registration, the helpful 404 that lists
/// them, and the 405 `Allow` header are all derived from it, so they cannot disagree.
struct APIRoute: Hashable, Sendable {
    /// The method served.
    let method: HTTPMethod
    /// The path template as the contract writes it, e.g. `/devices/{id}/latest_timestamp`.
    let template: String
    /// The template's segments, split once: a literal's bytes, or nil for the `{id}` parameter.
    private let segments: [[UInt8]?]

    init(method: HTTPMethod, template: String) {
        self.method = method
        self.template = template
        segments = template.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { segment in
            segment.first == UInt8(ascii: "{") ? nil : Array(segment)
        }
    }

    static func == (a: APIRoute, b: APIRoute) -> Bool { a.method == b.method && a.template == b.template }
    func hash(into hasher: inout Hasher) {
        hasher.combine(method.rawValue)
        hasher.combine(template)
    }

    /// "METHOD /path/{param}".
    var description: String { "\(method.rawValue) \(template)" }

    /// Whether `path` (raw, still percent-encoded) fits the template, whatever the method, and
    /// the segment in the place of its `{id}` (empty when it has none). Every segment counts,
    /// empty ones included: `/devices//latest_timestamp` fits no route. Walks the path's bytes
    /// in place: nothing is split or copied, since every request is matched against every route.
    func match(_ path: Substring) -> Substring? {
        let bytes = path.utf8
        var start = bytes.startIndex
        var parameter: Substring = ""
        for (k, pattern) in segments.enumerated() {
            if k > 0 {
                // The previous segment ended at a `/` (checked below); step over it.
                guard start < bytes.endIndex else { return nil }
                start = bytes.index(after: start)
            }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            if let literal = pattern {
                guard literal.elementsEqual(bytes[start..<end]) else { return nil }
            } else {
                guard start < end else { return nil }
                parameter = Substring(bytes[start..<end])
            }
            start = end
        }
        return start == bytes.endIndex ? parameter : nil
    }

    static let ingest = APIRoute(method: .POST, template: "/ingest")
    static let devices = APIRoute(method: .GET, template: "/devices")
    static let device = APIRoute(method: .GET, template: "/devices/{id}")
    static let latestTimestamp = APIRoute(method: .GET, template: "/devices/{id}/latest_timestamp")
    static let cumulativeCount = APIRoute(method: .GET, template: "/devices/{id}/cumulative_count")
    static let buckets = APIRoute(method: .GET, template: "/devices/{id}/buckets")
    static let deleteDevice = APIRoute(method: .DELETE, template: "/devices/{id}")
    static let export = APIRoute(method: .GET, template: "/devices/{id}/export")
    static let health = APIRoute(method: .GET, template: "/health")
    static let ready = APIRoute(method: .GET, template: "/ready")
    static let metrics = APIRoute(method: .GET, template: "/metrics")
    static let openAPI = APIRoute(method: .GET, template: "/openapi.json")
    static let dashboard = APIRoute(method: .GET, template: "/")
    static let dashboardScript = APIRoute(method: .GET, template: "/dashboard.js")
    static let dashboardStyle = APIRoute(method: .GET, template: "/dashboard.css")

    /// Every route, in the order the 404 body lists them.
    static let all: [APIRoute] = [
        ingest, devices, device, deleteDevice, latestTimestamp, cumulativeCount, buckets, export, health, ready, metrics, openAPI,
        dashboard, dashboardScript, dashboardStyle,
    ]

    /// Routes that change data: a read-only key gets `403` on them.
    static let writes: [APIRoute] = [ingest, deleteDevice]

    /// Routes that answer without an API key: probes, the API's description, and the dashboard's
    /// files (the page asks for a key itself). `/metrics` joins them unless `--metrics-auth`.
    static func open(metricsAuth: Bool) -> Set<String> {
        var paths: Set<String> = [
            health.template, ready.template, openAPI.template, dashboard.template,
            dashboardScript.template, dashboardStyle.template,
        ]
        if !metricsAuth { paths.insert(metrics.template) }
        return paths
    }
}
