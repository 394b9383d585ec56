import NIOCore
import NIOHTTP1
import ReadingsStorage

/// `GET /health` (the process serves), `GET /ready` (storage is open and recovered) and
/// `GET /metrics` (Prometheus text format).
struct OperationsController<Store: ReadingStore>: Sendable {
    let store: Store
    let metrics: ServiceMetrics

    func serve(_ request: Request, route: APIRoute, responder: Responder) {
        switch route {
        case .health:
            responder.respond(healthy)
        case .ready:
            responder.respond {
                await store.isReady()
                    ? jsonResponse(ByteBuffer(string: "{\"status\":\"ready\"}"))
                    : jsonResponse(ByteBuffer(string: "{\"status\":\"unavailable\"}"), status: .serviceUnavailable)
            }
        default:
            responder.respond {
                // Storage that cannot answer now leaves its gauges at their last values; the
                // counters are still worth scraping.
                let statistics = try? await store.statistics()
                return Response(
                    status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: ByteBuffer(bytes: metrics.render(statistics)))
            }
        }
    }
}

/// `/health`'s answer, built once.
private let healthy = jsonResponse(ByteBuffer(string: "{\"status\":\"ok\"}"))
