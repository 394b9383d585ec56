import Hummingbird
import Logging
import ReadingsStorage

/// Builds the HTTP application over `store`. The executable and the tests both call this; the
/// tests never start `main`.
public func buildApplication(
    configuration: ServerConfiguration,
    store: some ReadingStore,
    logger: Logger = Logger(label: "device-readings")
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store)
    return Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "device-readings"
        ),
        logger: logger
    )
}

/// The router with every route of ``APIRoute/all`` and the middleware around them.
func buildRouter(configuration: ServerConfiguration, store: some ReadingStore) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: FallbackMiddleware(routes: APIRoute.all))
    IngestController(store: store, configuration: configuration).register(on: router)
    DeviceController(store: store).register(on: router)
    OperationsController(store: store).register(on: router)
    return router
}
