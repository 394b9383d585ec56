import Hummingbird
import NIOCore
import ReadingsStorage

/// `GET /health` (the process serves) and `GET /ready` (storage is open and recovered).
struct OperationsController<Store: ReadingStore>: Sendable {
    let store: Store

    func register(on router: Router<some RequestContext>) {
        router.on(APIRoute.health.routerPath, method: .get) { _, _ in
            jsonResponse(ByteBuffer(string: "{\"status\":\"ok\"}"))
        }
        router.on(APIRoute.ready.routerPath, method: .get) { _, _ in
            await store.isReady()
                ? jsonResponse(ByteBuffer(string: "{\"status\":\"ready\"}"))
                : jsonResponse(ByteBuffer(string: "{\"status\":\"unavailable\"}"), status: .serviceUnavailable)
        }
    }
}
