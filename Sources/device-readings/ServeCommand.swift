import ArgumentParser
import Foundation
import Logging
import ReadingsHTTP
import ReadingsPersistence
import ReadingsPostgres
import ReadingsStorage

/// `device-readings serve`: runs the HTTP server until SIGINT or SIGTERM, then drains in-flight
/// requests and closes storage.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server.",
        discussion: "Each flag's environment variable is given in brackets; flags win over the environment, which wins over ./.env."
    )

    @Option(help: "Address to listen on [HOST] (default: 127.0.0.1)")
    var host: String?

    @Option(help: "Port to listen on [PORT] (default: 3000)")
    var port: Int?

    @Option(help: "Largest request body in bytes, this many allowed [MAX_BODY_SIZE] (default: 16777216)")
    var maxBodySize: Int?

    @Option(help: "Most readings in one ingest request, this many allowed [MAX_READINGS] (default: 100000)")
    var maxReadings: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical [LOG_LEVEL] (default: info)")
    var logLevel: String?

    @Option(
        help:
            "Close a connection with no request in progress for this many seconds, including one still sending a request head (slowloris); 0: never [IDLE_TIMEOUT] (default: 30)"
    )
    var idleTimeout: Int?

    @Option(
        help:
            "Close a connection whose request body has not arrived whole this many seconds after its head (a slow-body slowloris); 0: never [REQUEST_TIMEOUT] (default: 60)"
    )
    var requestTimeout: Int?

    @Option(
        help: "Serve at most this many connections at once, the rest wait to be accepted; 0: no limit [MAX_CONNECTIONS] (default: 1024)")
    var maxConnections: Int?

    @Option(help: "Largest request head (request line and headers) in bytes [MAX_HEADER_SIZE] (default: 16384)")
    var maxHeaderSize: Int?

    @Option(
        help:
            "Memory that ingest requests in flight may hold at once, in bytes; a request that does not fit gets 503 before its body is read [MAX_INFLIGHT_BYTES] (default: an eighth of physical memory, at least 268435456)"
    )
    var maxInflightBytes: Int?

    @Option(
        name: .customLong("api-key"),
        help:
            "Require Authorization: Bearer KEY on every route but /health, /ready, /metrics (see --metrics-auth), /openapi.json and the dashboard's files; repeatable [API_KEYS] (comma-separated there) (default: none, no key needed)"
    )
    var apiKeys: [String] = []

    @Option(
        name: .customLong("read-api-key"),
        help: "A key that may read but not ingest (403 on POST /ingest); repeatable [READ_API_KEYS] (comma-separated there) (default: none)"
    )
    var readAPIKeys: [String] = []

    @Flag(help: "With API keys, require one for /metrics too [METRICS_AUTH] (default: false, /metrics is open)")
    var metricsAuth = false

    @Option(help: "Persist to this directory (journal + snapshots); [DATA_DIR] (default: none, memory only)")
    var dataDir: String?

    @Option(help: "When a journal write counts as durable: always (fsync before answering), interval, off [SYNC] (default: always)")
    var sync: String?

    @Option(help: "With --sync interval: fsync at most this often, e.g. 1s, 250ms [SYNC_INTERVAL] (default: 1s)")
    var syncInterval: String?

    @Option(
        help:
            "Use PostgreSQL instead (postgres://user:password@host:port/database?sslmode=MODE&sslrootcert=FILE; sslmode: disable, prefer (default), require, verify-ca, verify-full); many instances may share one database [POSTGRES_URL] (default: none)"
    )
    var postgresUrl: String?

    @Option(help: "Most connections to PostgreSQL [POSTGRES_POOL_SIZE] (default: 16)")
    var postgresPoolSize: Int?

    @Option(
        help:
            "Snapshot after this much journal (e.g. 256MiB) or this much time (e.g. 10m); 'off' for only at shutdown [SNAPSHOT_EVERY] (default: 256MiB)"
    )
    var snapshotEvery: String?

    func run() async throws {
        let settings = Settings(
            environment: ProcessInfo.processInfo.environment,
            dotEnvText: try? String(contentsOfFile: ".env", encoding: .utf8))
        var configuration = ServerConfiguration()
        configuration.host = host ?? settings.value("HOST") ?? configuration.host
        configuration.port = try port ?? settings.integer("PORT", in: 0...65535) ?? configuration.port
        configuration.maxBodySize =
            try maxBodySize ?? settings.integer("MAX_BODY_SIZE", in: 1...(1 << 30)) ?? configuration.maxBodySize
        configuration.maxReadings =
            try maxReadings ?? settings.integer("MAX_READINGS", in: 1...10_000_000) ?? configuration.maxReadings
        guard (0...65535).contains(configuration.port) else { throw ValidationError("--port must be 0...65535") }
        guard (1...(1 << 30)).contains(configuration.maxBodySize) else {
            throw ValidationError("--max-body-size must be 1...1073741824")
        }
        guard (1...10_000_000).contains(configuration.maxReadings) else {
            throw ValidationError("--max-readings must be 1...10000000")
        }
        configuration.apiKeys = apiKeys.isEmpty ? Settings.list(settings.value("API_KEYS")) : apiKeys
        configuration.readAPIKeys = readAPIKeys.isEmpty ? Settings.list(settings.value("READ_API_KEYS")) : readAPIKeys
        guard !(configuration.apiKeys + configuration.readAPIKeys).contains(where: \.isEmpty) else {
            throw ValidationError("--api-key and --read-api-key must not be empty")
        }
        configuration.metricsAuth = try metricsAuth || settings.boolean("METRICS_AUTH")
        let idle = try idleTimeout ?? settings.integer("IDLE_TIMEOUT", in: 0...86_400) ?? 30
        guard (0...86_400).contains(idle) else { throw ValidationError("--idle-timeout must be 0...86400 seconds") }
        configuration.idleTimeout = idle == 0 ? nil : .seconds(idle)
        let bodyTime = try requestTimeout ?? settings.integer("REQUEST_TIMEOUT", in: 0...86_400) ?? 60
        guard (0...86_400).contains(bodyTime) else { throw ValidationError("--request-timeout must be 0...86400 seconds") }
        configuration.requestTimeout = bodyTime == 0 ? nil : .seconds(bodyTime)
        let connections = try maxConnections ?? settings.integer("MAX_CONNECTIONS", in: 0...1_000_000) ?? 1024
        guard (0...1_000_000).contains(connections) else { throw ValidationError("--max-connections must be 0...1000000") }
        configuration.maxConnections = connections == 0 ? nil : connections
        configuration.maxHeaderSize =
            try maxHeaderSize ?? settings.integer("MAX_HEADER_SIZE", in: 1024...(1 << 20)) ?? configuration.maxHeaderSize
        guard (1024...(1 << 20)).contains(configuration.maxHeaderSize) else {
            throw ValidationError("--max-header-size must be 1024...1048576")
        }
        configuration.maxInflightBytes =
            try maxInflightBytes ?? settings.integer("MAX_INFLIGHT_BYTES", in: 1...(1 << 50)) ?? configuration.maxInflightBytes
        guard (1...(1 << 50)).contains(configuration.maxInflightBytes) else {
            throw ValidationError("--max-inflight-bytes must be 1...\(1 << 50)")
        }
        let levelName = logLevel ?? settings.value("LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ValidationError("unknown log level '\(levelName)'")
        }

        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler(StreamLogHandler.standardOutput(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "device-readings")
        let metrics = ServiceMetrics()
        if let url = postgresUrl ?? settings.value("POSTGRES_URL"), !url.isEmpty {
            guard (dataDir ?? settings.value("DATA_DIR") ?? "").isEmpty else {
                throw ValidationError("--postgres-url and --data-dir choose different engines: give one")
            }
            let poolSize = try postgresPoolSize ?? settings.integer("POSTGRES_POOL_SIZE", in: 1...1000) ?? 16
            let store = try PostgresStore(url: url, poolSize: poolSize, metrics: metrics.factory, logger: logger)
            logger.info(
                "starting", metadata: ["server.address": "\(configuration.host):\(configuration.port)", "storage.engine": "postgres"])
            let app = buildApplication(configuration: configuration, store: store, services: [store], metrics: metrics, logger: logger)
            try await app.runService()
            return
        }
        guard let directory = dataDir ?? settings.value("DATA_DIR"), !directory.isEmpty else {
            logger.info(
                "starting", metadata: ["server.address": "\(configuration.host):\(configuration.port)", "storage.engine": "memory"])
            let app = buildApplication(configuration: configuration, store: MemoryStore(), metrics: metrics, logger: logger)
            try await app.runService()
            return
        }
        let policy = try StorageSettings.syncPolicy(
            sync ?? settings.value("SYNC") ?? "always", interval: syncInterval ?? settings.value("SYNC_INTERVAL") ?? "1s")
        let trigger = try StorageSettings.snapshotTrigger(snapshotEvery ?? settings.value("SNAPSHOT_EVERY") ?? "256MiB")
        let store: JournaledStore
        do {
            store = try JournaledStore(
                directory: URL(fileURLWithPath: directory), policy: policy, snapshotTrigger: trigger,
                metrics: JournalMetrics(factory: metrics.factory), logger: logger,
                onRecoveryFailure: { error in
                    // Data on disk is damaged: say where and stop, rather than serve without it.
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                    Foundation.exit(3)
                })
        } catch let error as RecoveryError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(3)
        }
        logger.info(
            "starting",
            metadata: [
                "server.address": "\(configuration.host):\(configuration.port)", "storage.engine": "memory+journal",
                "storage.directory": "\(directory)", "storage.sync": "\(policy)",
            ])
        let app = buildApplication(configuration: configuration, store: store, services: [store], metrics: metrics, logger: logger)
        try await app.runService()
    }
}

extension Settings {
    /// `key` as a yes/no (`true`/`false`, `1`/`0`, `yes`/`no`), false when unset.
    func boolean(_ key: String) throws -> Bool {
        guard let text = value(key)?.lowercased(), !text.isEmpty else { return false }
        switch text {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ValidationError("\(key) must be true or false, got '\(text)'")
        }
    }

    /// `key` as an integer in `range`, or nil when unset; a malformed value stops the start.
    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = value(key) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw ValidationError("\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }
}
