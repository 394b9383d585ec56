import Hummingbird
import Logging
import ReadingsStorage
import ServiceLifecycle

/// Builds the HTTP application over `store`. The executable and the tests both call this; the
/// tests never start `main`. `services` (a journaled store, for one) start before the HTTP server
/// and stop after it has drained.
public func buildApplication(
    configuration: ServerConfiguration,
    store: some ReadingStore,
    services: [any Service] = [],
    logger: Logger = Logger(label: "device-readings")
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store)
    var app = Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "device-readings"
        ),
        logger: logger
    )
    app.addServices(services)
    return app
}

/// The router with every route of ``APIRoute/all`` and the middleware around them.
func buildRouter(configuration: ServerConfiguration, store: some ReadingStore) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    if !configuration.apiKeys.isEmpty || !configuration.readAPIKeys.isEmpty {
        router.add(
            middleware: AuthMiddleware(
                writeKeys: configuration.apiKeys.map { Array($0.utf8) }, readKeys: configuration.readAPIKeys.map { Array($0.utf8) }))
    }
    router.add(middleware: FallbackMiddleware(routes: APIRoute.all))
    IngestController(store: store, configuration: configuration).register(on: router)
    DeviceController(store: store).register(on: router)
    OperationsController(store: store).register(on: router)
    return router
}
