import Hummingbird

/// Counts every answered request by method, route template and status, and records its
/// duration (`http_requests_total`, `http_request_duration_seconds`). Outermost, so that it
/// sees the final status of every answer, errors and refusals included.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics
    /// The templates of the routes served: an endpoint path outside it is not a label.
    let templates: Set<String>

    init(metrics: ServiceMetrics, routes: [APIRoute]) {
        self.metrics = metrics
        self.templates = Set(routes.map(\.template))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: start)
            return response
        } catch let error as HTTPResponseError {
            record(request, context, status: error.status.code, since: start)
            throw error
        } catch {
            record(request, context, status: 500, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        metrics.recordRequest(
            method: Self.methodLabel(request.method), route: route(request, context), status: status,
            duration: ContinuousClock.now - start)
    }

    /// The matched route's template; for requests the router did not serve (404, 405, 401), the
    /// template the path fits, or `unmatched`.
    private func route(_ request: Request, _ context: Context) -> String {
        if let path = context.endpointPath, templates.contains(path) { return path }
        let path = request.uri.path[...]
        return APIRoute.all.first { $0.matches(path: path) }?.template ?? "unmatched"
    }

    /// Standard methods by name; anything else is `other`, so that no client can grow the label set.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace: method.rawValue
        default: "other"
        }
    }
}
