import Hummingbird
import HummingbirdCore
import NIOCore
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
    metrics: ServiceMetrics = ServiceMetrics(),
    logger: Logger = Logger(label: "device-readings")
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store, metrics: metrics)
    let requestTimeout = configuration.requestTimeout.map { TimeAmount($0) }
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: requestTimeout.map { [RequestTimeoutHandler(timeout: $0)] } ?? [],
        idleTimeout: configuration.idleTimeout.map { TimeAmount($0) },
        httpDecoderConfiguration: .init(
            maxHeaderFieldSize: configuration.maxHeaderSize, maxHeaderListSize: configuration.maxHeaderSize))
    var app = Application(
        router: router,
        server: .http1(configuration: http1),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "device-readings",
            availableConnectionsDelegate: configuration.maxConnections.map { .maximum($0, logger: logger) }
        ),
        logger: logger
    )
    app.addServices(services)
    return app
}

/// The router with every route of ``APIRoute/all`` and the middleware around them.
func buildRouter(
    configuration: ServerConfiguration, store: some ReadingStore, metrics: ServiceMetrics
) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: metrics, routes: APIRoute.all))
    router.add(middleware: RequestLogMiddleware())
    if !configuration.apiKeys.isEmpty || !configuration.readAPIKeys.isEmpty {
        router.add(
            middleware: AuthMiddleware(
                writeKeys: configuration.apiKeys.map { Array($0.utf8) }, readKeys: configuration.readAPIKeys.map { Array($0.utf8) },
                openPaths: APIRoute.open(metricsAuth: configuration.metricsAuth)))
    }
    router.add(middleware: FallbackMiddleware(routes: APIRoute.all))
    IngestController(
        store: store, configuration: configuration, metrics: metrics, budget: InflightBudget(limit: configuration.maxInflightBytes)
    ).register(on: router)
    DeviceController(store: store).register(on: router)
    OperationsController(store: store, metrics: metrics).register(on: router)
    StaticController().register(on: router)
    return router
}
