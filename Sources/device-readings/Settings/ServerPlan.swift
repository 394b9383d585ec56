import ArgumentParser
import Foundation
import Logging
import ReadingsDomain
import ReadingsHTTP
import ReadingsPersistence
import ReadingsPostgres
import ReadingsStorage

/// What one start of `serve` builds, decided from its settings: the HTTP server's configuration,
/// the log level, and the storage engine.
struct ServerPlan {
    /// The storage engine and its settings.
    enum Engine {
        case memory
        case journaled(directory: String, policy: SyncPolicy, snapshots: SnapshotTrigger)
        case postgres(url: String, poolSize: Int, batchWindow: Duration)
    }

    var configuration = ServerConfiguration()
    var logLevel: Logger.Level
    var engine: Engine

    init(_ values: SettingValues) throws {
        // Defaults are the catalogue's (a test checks they are numbers where `!` expects one).
        configuration.host = values.text(.host) ?? Setting.host.defaultText
        configuration.port = try values.integer(.port)!
        configuration.maxBodySize = try values.integer(.maxBodySize)!
        configuration.maxReadings = try values.integer(.maxReadings)!
        configuration.apiKeys = try values.list(.apiKey)
        configuration.readAPIKeys = try values.list(.readAPIKey)
        configuration.metricsAuth = try values.boolean(.metricsAuth)
        let idle = try values.integer(.idleTimeout)!
        configuration.idleTimeout = idle == 0 ? nil : .seconds(idle)
        let bodyTime = try values.integer(.requestTimeout)!
        configuration.requestTimeout = bodyTime == 0 ? nil : .seconds(bodyTime)
        let connections = try values.integer(.maxConnections)!
        configuration.maxConnections = connections == 0 ? nil : connections
        configuration.maxHeaderSize = try values.integer(.maxHeaderSize)!
        configuration.maxInflightBytes = try values.integer(.maxInflightBytes) ?? configuration.maxInflightBytes
        configuration.retention = try values.period(.retention)
        logLevel = Logger.Level(rawValue: try values.choice(.logLevel))!

        let directory = values.text(.dataDir)
        if let url = values.text(.postgresURL) {
            guard directory == nil else {
                throw ValidationError("--postgres-url and --data-dir choose different engines: give one")
            }
            let windowText = values.text(.postgresBatchWindow) ?? Setting.postgresBatchWindow.defaultText
            guard let window = StorageSettings.duration(windowText), window <= .seconds(1) else {
                throw ValidationError("--postgres-batch-window must be a duration from 0s to 1s such as 0s or 2ms, got '\(windowText)'")
            }
            engine = .postgres(url: url, poolSize: try values.integer(.postgresPoolSize)!, batchWindow: window)
        } else if let directory {
            let policy = try StorageSettings.syncPolicy(
                try values.choice(.sync), interval: values.text(.syncInterval) ?? Setting.syncInterval.defaultText)
            let trigger = try StorageSettings.snapshotTrigger(values.text(.snapshotEvery) ?? Setting.snapshotEvery.defaultText)
            engine = .journaled(directory: directory, policy: policy, snapshots: trigger)
        } else {
            engine = .memory
        }
    }
}

/// Builds the application a plan describes, choosing and opening its storage engine: what
/// `serve` runs, and what a test builds to run the same thing. `onRecoveryFailure` is called
/// when a journaled engine finds damaged data while recovering (see ``JournaledStore``).
func makeApplication(
    _ plan: ServerPlan, metrics: ServiceMetrics, logger: Logger,
    onRecoveryFailure: @escaping @Sendable (any Error) -> Void = { _ in }
) throws -> Application {
    var metadata: Logger.Metadata = ["server.address": "\(plan.configuration.host):\(plan.configuration.port)"]
    let application: Application
    switch plan.engine {
    case .memory:
        metadata["storage.engine"] = "memory"
        application = buildApplication(
            configuration: plan.configuration, store: MemoryStore(retention: plan.configuration.retention), metrics: metrics,
            logger: logger)
    case .journaled(let directory, let policy, let snapshots):
        let store = try JournaledStore(
            directory: URL(fileURLWithPath: directory), policy: policy, snapshotTrigger: snapshots,
            retention: plan.configuration.retention, metrics: JournalMetrics(factory: metrics.factory), logger: logger,
            onRecoveryFailure: onRecoveryFailure)
        metadata["storage.engine"] = "memory+journal"
        metadata["storage.directory"] = "\(directory)"
        metadata["storage.sync"] = "\(policy)"
        application = buildApplication(
            configuration: plan.configuration, store: store, services: [store], metrics: metrics, logger: logger)
    case .postgres(let url, let poolSize, let batchWindow):
        let store = try PostgresStore(
            url: url, poolSize: poolSize, retention: plan.configuration.retention, batchWindow: batchWindow, metrics: metrics.factory,
            logger: logger)
        metadata["storage.engine"] = "postgres"
        application = buildApplication(
            configuration: plan.configuration, store: store, services: [store], metrics: metrics, logger: logger)
    }
    logger.info("starting", metadata: metadata)
    return application
}
