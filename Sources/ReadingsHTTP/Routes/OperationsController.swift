import Hummingbird
import NIOCore
import ReadingsStorage

/// `GET /health` (the process serves), `GET /ready` (storage is open and recovered) and
/// `GET /metrics` (Prometheus text format).
struct OperationsController<Store: ReadingStore>: Sendable {
    let store: Store
    let metrics: ServiceMetrics

    func register(on router: Router<some RequestContext>) {
        router.get(APIRoute.health) { _, _ in
            jsonResponse(ByteBuffer(string: "{\"status\":\"ok\"}"))
        }
        router.get(APIRoute.ready) { _, _ in
            await store.isReady()
                ? jsonResponse(ByteBuffer(string: "{\"status\":\"ready\"}"))
                : jsonResponse(ByteBuffer(string: "{\"status\":\"unavailable\"}"), status: .serviceUnavailable)
        }
        router.get(APIRoute.metrics) { _, _ in
            // Storage that cannot answer now leaves its gauges at their last values; the
            // counters are still worth scraping.
            let statistics = try? await store.statistics()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render(statistics))))
        }
    }
}
