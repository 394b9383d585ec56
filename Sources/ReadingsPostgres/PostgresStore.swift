import CoreMetrics
import Foundation
import Logging
import PostgresNIO
import ReadingsDomain
import ReadingsStorage
import ServiceLifecycle
import Synchronization

/// The PostgreSQL engine: many `device-readings` instances over one database, with exactly the
/// semantics of the memory engine.
///
/// A batch is one transaction: the device's row is created if missing and locked
/// (`SELECT … FOR UPDATE`), so batches for one device are decided one at a time across every
/// instance; the batch's instants already stored are read in one query (`= ANY($2)`); outcomes
/// are decided in order here (repeats inside the batch, overflow) exactly as the memory engine
/// does; the accepted readings are inserted with one `unnest` and the device row updated. Reads are
/// single statements, so each sees one snapshot. Instants are `bigint` nanoseconds; ids are
/// `text COLLATE "C"` (byte order, no normalisation). See `docs/postgres.md`.
///
/// Run it as a `Service`: `run()` runs the connection pool, migrates the schema (under an
/// advisory lock, idempotently) and then checks the database every second for `/ready`.
public final class PostgresStore: ReadingStore, Service {
    private let client: PostgresClient
    private let logger: Logger
    private let schema: String?
    private let timeout: Duration
    private let ready = Mutex(false)
    private let metrics: PostgresMetrics?

    /// Pool figures: connections allowed, calls waiting for or holding a connection, their
    /// duration, and the calls that failed (answered 503).
    struct PostgresMetrics: Sendable {
        let inFlight: CoreMetrics.Meter
        let duration: CoreMetrics.Timer
        let failures: CoreMetrics.Counter

        init(factory: any MetricsFactory, poolSize: Int) {
            CoreMetrics.Gauge(label: "postgres_pool_connections_max", factory: factory).record(poolSize)
            inFlight = CoreMetrics.Meter(label: "postgres_calls_in_flight", factory: factory)
            duration = CoreMetrics.Timer(label: "postgres_call_duration_seconds", factory: factory)
            failures = CoreMetrics.Counter(label: "postgres_call_failures_total", factory: factory)
        }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`) with at most
    /// `poolSize` connections. `schema` (created if missing) holds the tables instead of the
    /// default one: tests use one schema each. A call that has no answer after `timeout` (the
    /// database is down or unreachable) fails with ``StorageError/unavailable(_:)``.
    public init(
        url: String, poolSize: Int = 16, schema: String? = nil, timeout: Duration = .seconds(5),
        metrics: (any MetricsFactory)? = nil, logger: Logger
    ) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host
        else { throw PostgresStoreError.invalidURL(url) }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: String(components.path.dropFirst()).nilIfEmpty, tls: .disable)
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = .seconds(3)
        if let schema {
            guard schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw PostgresStoreError.invalidURL("schema name \(schema)")
            }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.metrics = metrics.map { PostgresMetrics(factory: $0, poolSize: poolSize) }
        self.logger = logger
        self.schema = schema
        self.timeout = timeout
    }

    // MARK: Service

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await migrate()
                    break
                } catch {
                    logger.error("cannot migrate the schema yet; retrying in 1 s", metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let reachable = (try? await withDeadline(.seconds(1)) { [client, logger] in
                    try await client.query("SELECT 1", logger: logger)
                    return true
                }) ?? false
                ready.withLock { $0 = reachable }
                try? await Task.sleep(for: .seconds(1))
            }
            group.cancelAll()
        }
    }

    /// Creates or upgrades the schema to the newest version, once, whatever the number of
    /// instances starting at the same moment.
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7301283417)", logger: logger)
            if let schema {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            }
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger).decode(Int.self) {
                current = version
            }
            for migration in PostgresSchema.migrations where migration.version > current {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                logger.info("schema migrated", metadata: ["schema.version": "\(migration.version)"])
            }
        }
        ready.withLock { $0 = true }
    }

    // MARK: ReadingStore

    public func ingest(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome] {
        guard !readings.isEmpty else { return [] }
        let id = device.string
        return try await unavailableOnFailure { [client, logger] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    "INSERT INTO devices (device_id, latest, cumulative, readings) VALUES (\(id), \(Int64.min), 0, 0) ON CONFLICT (device_id) DO NOTHING",
                    logger: logger)
                var cumulative: Int64 = 0
                for try await value in try await connection.query(
                    "SELECT cumulative FROM devices WHERE device_id = \(id) FOR UPDATE", logger: logger
                ).decode(Int64.self) {
                    cumulative = value
                }
                var stored: [Int64: UInt64] = [:]
                let instants = readings.map(\.instant.nanoseconds)
                for try await (instant, count) in try await connection.query(
                    "SELECT instant, count FROM readings WHERE device_id = \(id) AND instant = ANY(\(instants))", logger: logger
                ).decode((Int64, Int64).self) {
                    stored[instant] = UInt64(count)
                }
                var outcomes: [IngestOutcome] = []
                outcomes.reserveCapacity(readings.count)
                var newInstants: [Int64] = []
                var newCounts: [Int64] = []
                var total = UInt64(cumulative)
                for reading in readings {
                    let t = reading.instant.nanoseconds
                    if let existing = stored[t] {
                        outcomes.append(existing == reading.count ? .duplicate : .conflicting(existingCount: existing))
                    } else if reading.count > UInt64(Int64.max) - total {
                        outcomes.append(.overflow)
                    } else {
                        total += reading.count
                        stored[t] = reading.count
                        newInstants.append(t)
                        newCounts.append(Int64(reading.count))
                        outcomes.append(.accepted)
                    }
                }
                if let latest = newInstants.max() {
                    try await connection.query(
                        "INSERT INTO readings (device_id, instant, count) SELECT \(id), i, c FROM unnest(\(newInstants)::bigint[], \(newCounts)::bigint[]) AS t(i, c)",
                        logger: logger)
                    try await connection.query(
                        "UPDATE devices SET latest = GREATEST(latest, \(latest)), cumulative = \(Int64(total)), readings = readings + \(newInstants.count) WHERE device_id = \(id)",
                        logger: logger)
                }
                return outcomes
            }
        }
    }

    public func summary(of device: DeviceID) async throws -> DeviceSummary? {
        let id = device.string
        return try await unavailableOnFailure { [client, logger] in
            var summary: DeviceSummary?
            for try await (latest, cumulative, count) in try await client.query(
                "SELECT latest, cumulative, readings FROM devices WHERE device_id = \(id) AND readings > 0", logger: logger
            ).decode((Int64, Int64, Int64).self) {
                summary = DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: cumulative, readingCount: Int(count))
            }
            return summary
        }
    }

    public func readings(of device: DeviceID, in range: InstantRange, limit: Int) async throws -> DeviceReadings? {
        let id = device.string
        let from = range.from?.nanoseconds ?? Int64.min
        let to = range.to?.nanoseconds
        let take = range.isEmpty ? 0 : limit + 1
        return try await unavailableOnFailure { [client, logger] in
            // One statement, one snapshot: the summary and the page describe the same moment.
            var summary: DeviceSummary?
            var page: [Reading] = []
            for try await (latest, cumulative, count, instant, value) in try await client.query(
                """
                SELECT d.latest, d.cumulative, d.readings, r.instant, r.count FROM devices d
                LEFT JOIN LATERAL (
                  SELECT instant, count FROM readings
                  WHERE device_id = d.device_id AND instant >= \(from) AND (\(to)::bigint IS NULL OR instant < \(to)::bigint)
                  ORDER BY instant LIMIT \(take)
                ) r ON true
                WHERE d.device_id = \(id) AND d.readings > 0
                """, logger: logger
            ).decode((Int64, Int64, Int64, Int64?, Int64?).self) {
                summary = DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: cumulative, readingCount: Int(count))
                if let instant, let value { page.append(Reading(instant: Instant(nanoseconds: instant), count: UInt64(value))) }
            }
            guard let summary else { return nil }
            var next: Instant?
            if page.count > limit { next = page.removeLast().instant }
            return DeviceReadings(summary: summary, readings: page, next: next)
        }
    }

    public func buckets(of device: DeviceID, grid: BucketGrid) async throws -> [BucketTotal]? {
        let id = device.string
        let from = grid.range.from?.nanoseconds ?? .min
        let to = grid.range.to?.nanoseconds ?? .min
        let origin = grid.start.nanoseconds
        let step = grid.step
        // `instant - origin` fits in bigint unless the grid spans more than 2^63 ns (steps of
        // centuries): then it is computed in numeric.
        let spanFits = !Int64(grid.count).multipliedReportingOverflow(by: step).overflow
        return try await unavailableOnFailure { [client, logger] in
            var found = false
            var totals = [BucketTotal](repeating: BucketTotal(), count: grid.count)
            let rows =
                spanFits
                ? try await client.query(
                    """
                    SELECT b.bucket, b.total, b.n FROM devices d
                    LEFT JOIN LATERAL (
                      SELECT (instant - \(origin)) / \(step) AS bucket, sum(count)::bigint AS total, count(*) AS n
                      FROM readings WHERE device_id = d.device_id AND instant >= \(from) AND instant < \(to) GROUP BY 1
                    ) b ON true
                    WHERE d.device_id = \(id) AND d.readings > 0
                    """, logger: logger)
                : try await client.query(
                    """
                    SELECT b.bucket, b.total, b.n FROM devices d
                    LEFT JOIN LATERAL (
                      SELECT div(instant::numeric - \(origin), \(step))::bigint AS bucket, sum(count)::bigint AS total, count(*) AS n
                      FROM readings WHERE device_id = d.device_id AND instant >= \(from) AND instant < \(to) GROUP BY 1
                    ) b ON true
                    WHERE d.device_id = \(id) AND d.readings > 0
                    """, logger: logger)
            for try await (bucket, total, n) in rows.decode((Int64?, Int64?, Int64?).self) {
                found = true
                if let bucket, let total, let n { totals[Int(bucket)] = BucketTotal(count: total, readings: Int(n)) }
            }
            return found ? totals : nil
        }
    }

    public func devices(after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        let after = after?.string ?? ""
        let lower = String(decoding: prefix, as: UTF8.self)
        let upper = PostgresStore.upperBound(ofPrefix: lower)
        return try await unavailableOnFailure { [client, logger] in
            // The primary key's index gives the order and the range; LIMIT stops the scan.
            var entries: [DeviceListEntry] = []
            for try await (id, latest, cumulative, count) in try await client.query(
                """
                SELECT device_id, latest, cumulative, readings FROM devices
                WHERE device_id > \(after) AND device_id >= \(lower) AND (\(upper)::text IS NULL OR device_id < \(upper)::text)
                  AND readings > 0
                ORDER BY device_id LIMIT \(limit + 1)
                """, logger: logger
            ).decode((String, Int64, Int64, Int64).self) {
                // Ids were validated on the way in.
                guard let id = try? DeviceID(validating: Array(id.utf8)) else { continue }
                entries.append(
                    DeviceListEntry(
                        id: id,
                        summary: DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: cumulative, readingCount: Int(count))))
            }
            let hasMore = entries.count > limit
            if hasMore { entries.removeLast() }
            return DeviceList(devices: entries, hasMore: hasMore)
        }
    }

    /// The least string greater than every string that starts with `prefix` (its last scalar
    /// incremented, skipping surrogates; scalars already at U+10FFFF dropped), or nil when there
    /// is none. In byte order, which is scalar order, `prefix ≤ s < upper` is "s starts with prefix".
    static func upperBound(ofPrefix prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            let next = last.value == 0xD7FF ? 0xE000 : last.value + 1
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars)
                return String(view)
            }
        }
        return nil
    }

    /// Counted in the database (a scan of the device table); no readings are held in memory.
    public func statistics() async throws -> StoreStatistics {
        try await unavailableOnFailure { [client, logger] in
            var statistics = StoreStatistics()
            for try await (devices, readings) in try await client.query(
                "SELECT count(*), coalesce(sum(readings), 0)::bigint FROM devices WHERE readings > 0", logger: logger
            ).decode((Int64, Int64).self) {
                statistics.devices = Int(devices)
                statistics.readings = Int(readings)
            }
            return statistics
        }
    }

    public func isReady() async -> Bool {
        ready.withLock { $0 }
    }

    /// Turns database and connection failures, and calls without an answer within the timeout,
    /// into ``StorageError/unavailable(_:)``: the transaction was rolled back or never committed
    /// (or its commit was not confirmed), so nothing is acknowledged.
    private func unavailableOnFailure<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        metrics?.inFlight.increment()
        defer {
            metrics?.inFlight.decrement()
            metrics?.duration.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
        }
        do {
            return try await withDeadline(timeout, body)
        } catch let error as StorageError {
            metrics?.failures.increment()
            throw error
        } catch {
            metrics?.failures.increment()
            logger.warning("database call failed", metadata: ["error": "\(String(reflecting: error))"])
            throw StorageError.unavailable("the database is unavailable")
        }
    }
}

/// Runs `body`, or throws ``StorageError/unavailable(_:)`` once `timeout` has passed (cancelling
/// it): a database that has gone away must not hold requests forever.
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let value = first else { throw StorageError.unavailable("the database did not answer within \(timeout)") }
        return value
    }
}

/// Errors configuring the PostgreSQL engine.
public enum PostgresStoreError: Error, CustomStringConvertible {
    case invalidURL(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): "not a PostgreSQL URL (postgres://user:password@host:port/database): \(url)"
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
