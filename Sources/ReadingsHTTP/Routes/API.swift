import Logging
import NIOCore
import NIOHTTP1
import ReadingsStorage

/// The one router: every request's head is admitted here (key, route, the route's own head
/// checks) and its answer served by the route's controller; every answer is counted and logged
/// here. Routes come from ``APIRoute/all`` only, so registration, the 404 list and the 405
/// `Allow` header cannot disagree.
struct API<Store: ReadingStore>: RequestHandling {
    let ingest: IngestController<Store>
    let devices: DeviceController<Store>
    let operations: OperationsController<Store>
    let auth: Auth?
    let metrics: ServiceMetrics
    let logger: Logger

    init(configuration: ServerConfiguration, store: Store, metrics: ServiceMetrics, logger: Logger) {
        ingest = IngestController(
            store: store, configuration: configuration, metrics: metrics, budget: InflightBudget(limit: configuration.maxInflightBytes))
        devices = DeviceController(store: store, metrics: metrics)
        operations = OperationsController(store: store, metrics: metrics)
        auth =
            configuration.apiKeys.isEmpty && configuration.readAPIKeys.isEmpty
            ? nil
            : Auth(
                writeKeys: configuration.apiKeys.map { Array($0.utf8) }, readKeys: configuration.readAPIKeys.map { Array($0.utf8) },
                openPaths: APIRoute.open(metricsAuth: configuration.metricsAuth))
        self.metrics = metrics
        self.logger = logger
    }

    func admit(_ head: HTTPRequestHead, path: Substring) -> Admission {
        if let auth, let refusal = auth.check(head, path: path) {
            return .answerAfterBody(refusal.response())
        }
        // HEAD is GET without the body.
        let method = head.method == .HEAD ? HTTPMethod.GET : head.method
        var fitting: [APIRoute] = []
        for route in APIRoute.all {
            guard let parameter = route.match(path) else { continue }
            guard route.method == method else {
                fitting.append(route)
                continue
            }
            if route == .ingest {
                switch ingest.admit(head) {
                case .success(let body):
                    return .serve(route, parameter: parameter, body: body)
                case .failure(let refusal):
                    return refusal.readsBody ? .answerAfterBody(refusal.error.response()) : .answerNow(refusal.error.response())
                }
            }
            return .serve(route, parameter: parameter, body: Admission.Body())
        }
        return .answerAfterBody(fitting.isEmpty ? Fallback.notFound : Fallback.methodNotAllowed(head, path: path, routes: fitting))
    }

    func serve(_ request: Request, route: APIRoute, responder: Responder) {
        switch route {
        case .ingest: ingest.ingest(request, responder: responder)
        case .latestTimestamp, .cumulativeCount, .device, .devices, .buckets, .deleteDevice, .export:
            devices.serve(request, route: route, responder: responder)
        case .health, .ready, .metrics: operations.serve(request, route: route, responder: responder)
        default:
            if let file = StaticFiles.file(for: route) {
                responder.respond(file.response(to: request))
            } else {
                responder.respond(Fallback.notFound)
            }
        }
    }

    func bodyTooLarge(limit: Int) -> Response {
        RequestChecks.payloadTooLarge(limit).response()
    }

    func release(_ reservation: Int) {
        ingest.budget.release(reservation)
    }

    func record(method: HTTPMethod, path: Substring, route: APIRoute?, status: Int, requestID: RequestID, since start: NIODeadline) {
        let elapsed = Duration.nanoseconds((NIODeadline.now() - start).nanoseconds)
        // The matched route's template; for requests no route served (404, 405, 401), the
        // template the path fits, or `unmatched`.
        let template = route?.template ?? APIRoute.all.first { $0.match(path) != nil }?.template ?? "unmatched"
        metrics.recordRequest(method: RequestLog.methodLabel(method), route: template, status: status, duration: elapsed)
        RequestLog.log(logger, method: method, path: path, status: status, requestID: requestID, elapsed: elapsed)
    }
}
