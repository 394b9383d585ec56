import Logging
import NIOCore
import ReadingsStorage
import ServiceLifecycle
import UnixSignals

/// The HTTP server over a store, with the services the store needs (a journaled store's
/// recovery and group commit, a PostgreSQL pool). The services start first and stop after the
/// server has answered its last request.
public struct Application: Service {
    let server: HTTPServer
    let services: [any Service]
    let logger: Logger

    /// Runs until graceful shutdown (SIGTERM or SIGINT through ``runService()``, or the
    /// surrounding service group's).
    public func run() async throws {
        // Shut down in reverse order: the server drains first, then the services stop.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { .init(service: $0) } + [.init(service: server)], logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    /// Runs with SIGTERM and SIGINT starting a graceful shutdown (the executable's entry).
    public func runService() async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: self)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Calls `body` with the port once the server listens (for a server on port 0).
    public func onListening(_ body: @escaping @Sendable (Int) -> Void) {
        server.onListening(body)
    }
}

/// Builds the HTTP application over `store`. The executable and the tests both call this; the
/// tests never start `main`. `services` (a journaled store, for one) start before the HTTP server
/// and stop after it has drained; with a retention, its background removal joins them (the store
/// must have been made with the same retention).
public func buildApplication(
    configuration: ServerConfiguration,
    store: some ReadingStore,
    services: [any Service] = [],
    metrics: ServiceMetrics = ServiceMetrics(),
    logger: Logger = Logger(label: "device-readings")
) -> Application {
    let api = API(configuration: configuration, store: store, metrics: metrics, logger: logger)
    let server = HTTPServer(configuration: configuration, api: api, logger: logger)
    var services = services
    if let retention = configuration.retention {
        services.append(RetentionSweeper(store: store, retention: retention, metrics: metrics, logger: logger))
    }
    return Application(server: server, services: services, logger: logger)
}

/// The server's handlers for one connection, on `channel`: what the server installs on each
/// connection it accepts. For benchmarks that drive the HTTP path without sockets (an
/// `EmbeddedChannel`).
public func installHTTPHandlers(
    on channel: any Channel, configuration: ServerConfiguration, store: some ReadingStore,
    metrics: ServiceMetrics = ServiceMetrics(), logger: Logger
) throws {
    let api = API(configuration: configuration, store: store, metrics: metrics, logger: logger)
    try HTTPServer.configure(channel.pipeline.syncOperations, configuration: configuration, api: api, logger: logger)
}
