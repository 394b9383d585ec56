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
/// Every transaction that adds or removes readings of a device first locks the device's row
/// (`FOR UPDATE`, in id order when it takes several), so the writes of one device are decided one
/// at a time across every instance, and reads what is stored only after the lock. Concurrent
/// ingests are gathered into batches of many requests and devices, one function call and one
/// commit each (`PostgresStore+Batch.swift`); a request of 500 readings or more is a transaction
/// of its own (``ingestAlone(_:for:)``). Outcomes are decided in order here (repeats inside the
/// batch, overflow) exactly as the memory engine does. Reads are single statements, so each sees
/// one snapshot. Instants are `bigint` nanoseconds; ids are `text COLLATE "C"` (byte order, no
/// normalisation) on the device's row only, readings name their device by its 4-byte key. See
/// `docs/postgres.md`.
///
/// A device exists (has a summary, is listed and counted) while its row does and it has readings
/// or a latest instant (`readings > 0 OR latest <> -2^63`). Under a retention a device whose
/// readings all expired keeps its row, latest instant and cumulative count, with 0 readings.
/// Deleting a device and removing expired readings take the same row lock as a batch
/// (`PostgresStore+Housekeeping.swift`).
///
/// Run it as a `Service`: `run()` runs the connection pool, migrates the schema (under an
/// advisory lock, idempotently) and then checks the database every quarter second for `/ready`.
///
/// A database that stops answering (stopped processes, a silent network) must not hold requests:
/// every call has a deadline that answers the caller when it passes, without waiting for the
/// database, and closes the connection the call was using (see ``withDeadline(_:onExpiry:_:)``).
/// The server gives up too: each session has a `statement_timeout` and a `lock_timeout` just under
/// the deadline, and an `idle_in_transaction_session_timeout` that ends the session of an instance
/// frozen mid-transaction, releasing the device's row lock that others wait for.
public final class PostgresStore: ReadingStore, Service {
    private let client: PostgresClient
    /// For migrations, which run on a connection of their own: it fails at once with the reason
    /// (a refused TLS certificate, a wrong password), where a pool would keep retrying quietly.
    private let migrationConfiguration: PostgresConnection.Configuration
    let logger: Logger
    /// The URL with its password replaced by `***`, for messages.
    private let redactedURL: String
    private let schema: String?
    /// How long this instance keeps readings, when it removes expired ones (nil: forever). Every
    /// instance, with a retention or without, refuses readings before the database's horizon.
    let retention: Retention?
    /// Gathers concurrent ingests into one transaction each (see ``IngestBatcher``).
    let batcher: IngestBatcher
    /// Device ids whose row this instance created or found (bounded; see `ensureDevices`).
    let knownDevices = Mutex<Set<String>>([])
    /// The newest migration `run()` applies: the last one, unless a test stops at an older one.
    let newestMigration = Mutex(PostgresSchema.migrations.last!.version)
    /// Whether a purge of deleted devices' readings is running, and whether another was asked for
    /// meanwhile (see `startPurge`).
    let purge = Mutex<(running: Bool, requested: Bool)>((false, false))
    private let timeout: Duration
    private let ready = Mutex(false)
    private let metrics: PostgresMetrics?
    /// How long a readiness probe may wait before `/ready` says no, and the pause between checks:
    /// together they bound how long `/ready` keeps saying yes after the database stopped
    /// answering (1.25 s).
    private let readinessTimeout: Duration
    private static let readinessInterval = Duration.milliseconds(250)

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

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`,
    /// see ``PostgresURL``) with at most `poolSize` connections. `schema` (created if missing)
    /// holds the tables instead of the default one: tests use one schema each. `retention` (nil:
    /// keep readings forever) refuses readings older than its period and lets
    /// ``removeExpiredReadings()`` remove them. A call that has no
    /// answer after `timeout` (the database is down, stopped or unreachable) fails with
    /// ``StorageError/unavailable(_:)`` when `timeout` has passed. `/ready` says no once a probe
    /// of the database has waited `readinessTimeout`. Concurrent ingests are gathered into
    /// transactions of many requests (see ``IngestBatcher``): a batch goes once `batchWindow` has
    /// passed since its first request (0: at once); one batch at a time is decided, or up to a
    /// quarter of the pool's connections' worth when batches hold 200 readings or more;
    /// requests arriving meanwhile join the next batch.
    public init(
        url: String, poolSize: Int = 16, schema: String? = nil, retention: Retention? = nil, batchWindow: Duration = .zero,
        timeout: Duration = .seconds(5), readinessTimeout: Duration = .seconds(1), metrics: (any MetricsFactory)? = nil,
        logger: Logger
    ) throws {
        self.readinessTimeout = readinessTimeout
        self.batcher = IngestBatcher(window: batchWindow, maxReadings: 20_000, maxInFlight: max(1, poolSize / 4), parallelReadings: 200)
        let location = try PostgresURL(url)
        let poolTLS: PostgresClient.Configuration.TLS
        let connectionTLS: PostgresConnection.Configuration.TLS
        if let tls = try location.tlsConfiguration() {
            let context = try NIOSSLContext(configuration: tls)
            poolTLS = location.requiresTLS ? .require(tls) : .prefer(tls)
            connectionTLS = location.requiresTLS ? .require(context) : .prefer(context)
        } else {
            poolTLS = .disable
            connectionTLS = .disable
        }
        // Startup parameters are session settings that cost no round trip. A lock wait ends a
        // little before the statement, so that the log tells a held row lock from a slow query;
        // both end before the deadline, so the server stops working on a call nobody awaits.
        let milliseconds = { (fraction: Double) in "\(Int(timeout / .milliseconds(1) * fraction))" }
        var parameters = [
            ("statement_timeout", milliseconds(0.9)),
            ("lock_timeout", milliseconds(0.8)),
            ("idle_in_transaction_session_timeout", milliseconds(1)),
            // The batch statement's plan is made once per connection (see BatchStatement).
            ("plan_cache_mode", "force_generic_plan"),
        ]
        if let schema {
            guard schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw PostgresStoreError.invalidSchema(schema)
            }
            parameters.append(("search_path", schema))
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username,
            password: location.password, database: location.database, tls: poolTLS)
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = .seconds(3)
        configuration.options.additionalStartupParameters = parameters
        migrationConfiguration = {
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.username,
                password: location.password, database: location.database, tls: connectionTLS)
            configuration.options.connectTimeout = .seconds(3)
            configuration.options.additionalStartupParameters = parameters
            return configuration
        }()
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.metrics = metrics.map { PostgresMetrics(factory: $0, poolSize: poolSize) }
        self.logger = logger
        self.redactedURL = PostgresURL.redacting(url)
        self.schema = schema
        self.retention = retention
        self.timeout = timeout
    }

    // MARK: Service

    public func run() async throws {
        // Migrations and the readiness probe run beside the pool rather than under it: their
        // calls cannot be cancelled, and a database that stopped answering must not hold up the
        // shutdown. `client.run()` returns on graceful shutdown, closing the pool's connections
        // (which fails a probe still waiting); the migration's own connection is closed here.
        let checks = Task { await migrateThenProbe() }
        await client.run()
        checks.cancel()
        if let connection = migrationConnection.withLock({ $0 }) { try? await connection.close() }
    }

    /// The connection a migration runs on, while it runs: closed on shutdown.
    private let migrationConnection = Mutex<PostgresConnection?>(nil)

    /// Migrates (retrying every second until it can), then keeps `/ready` up to date until cancelled.
    private func migrateThenProbe() async {
        while !Task.isCancelled {
            do {
                try await migrate(through: newestMigration.withLock { $0 })
                // Readings of devices deleted before a restart, if their purge was cut short.
                startPurge()
                break
            } catch {
                guard !Task.isCancelled else { return }
                logger.error(
                    "cannot connect to the database or migrate the schema yet; retrying in 1 s",
                    metadata: ["database": "\(redactedURL)", "error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // One probe at a time: `/ready` turns false once a probe has waited past the readiness
        // deadline, and true again when one answers, however late. A late answer on a loaded
        // machine (a slow connect) thus still counts, and a database that stopped answering
        // holds one pooled connection for the probe, not one per round.
        let answer = ProbeAnswer()
        var probeStarted: ContinuousClock.Instant?
        while !Task.isCancelled {
            if probeStarted == nil {
                probeStarted = .now
                answer.value.withLock { $0 = nil }
                Task { [client, logger] in
                    let reachable = (try? await client.query("SELECT 1", logger: logger)) != nil
                    answer.value.withLock { $0 = reachable }
                }
            }
            try? await Task.sleep(for: PostgresStore.readinessInterval)
            if let reachable = answer.value.withLock({ $0 }) {
                ready.withLock { $0 = reachable }
                probeStarted = nil
            } else if let started = probeStarted, ContinuousClock.now - started >= readinessTimeout {
                ready.withLock { $0 = false }
            }
        }
    }

    /// Creates or upgrades the schema to the newest version, once, whatever the number of
    /// instances starting at the same moment. A migration may take long (an index on a large
    /// table) and may wait for another instance's, so the session's statement and lock timeouts
    /// are lifted for its transaction; an instance frozen while holding the lock is still ended by
    /// a longer idle-in-transaction timeout.
    func migrate(through newest: Int) async throws {
        let connection = try await PostgresConnection.connect(configuration: migrationConfiguration, id: 0, logger: logger)
        migrationConnection.withLock { $0 = connection }
        defer { migrationConnection.withLock { $0 = nil } }
        guard !Task.isCancelled else {
            try? await connection.close()
            throw CancellationError()
        }
        do {
            try await migrate(on: connection, through: newest)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
        ready.withLock { $0 = true }
    }

    /// Applies the migrations after the schema's version up to `newest` (tests stop at an older one).
    private func migrate(on connection: PostgresConnection, through newest: Int) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL statement_timeout = 0", logger: logger)
            try await connection.query("SET LOCAL lock_timeout = 0", logger: logger)
            // Between its statements the client may be slow (a loaded machine); an instance frozen
            // while holding the lock is still ended, after a minute.
            try await connection.query("SET LOCAL idle_in_transaction_session_timeout = '60s'", logger: logger)
            // One migration at a time per schema (the search path names it): instances on the
            // same schema wait for each other, those on other schemas do not.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtextextended('device-readings migrations ' || current_setting('search_path'), 0))",
                logger: logger)
            if let schema {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            }
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger)
                .decode(Int.self)
            {
                current = version
            }
            for migration in PostgresSchema.migrations where migration.version > current && migration.version <= newest {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                logger.info("schema migrated", metadata: ["schema.version": "\(migration.version)"])
            }
        }
    }

    // MARK: ReadingStore

    /// Decides a batch in one transaction (see the type's description).
    ///
    /// Retention: a reading before the effective horizon, the greater of the database's
    /// (`retention_horizon`, shared by every instance, whether it has a retention or not) and this
    /// instance's `now − period`, is ``IngestOutcome/tooOld``, decided before the lookup of stored
    /// instants and neither stored nor counted. The database's horizon is read in the statement
    /// after the one that takes the device's row lock, never before: the removal advances and
    /// commits the horizon first and only then deletes readings, under the same row lock. Had the
    /// horizon been read before the wait for the lock, an ingest could have read the old horizon,
    /// waited while the removal deleted a reading, then found no reading at that instant and
    /// accepted it again, counting it twice. Read after the lock, it is the new horizon whenever
    /// the removal has already deleted readings of this device, so such a reading is `tooOld`.
    ///
    /// A device whose row vanished while its batch waited for the lock (deleted, or removed by a
    /// batch that accepted nothing) is decided again alone, which starts a new device. A row a
    /// batch created but that accepted nothing (every reading too old) is removed again, so that
    /// no device appears.
    public func ingest(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome] {
        guard !readings.isEmpty else { return [] }
        // A large request fills a transaction by itself: it goes at once, beside the batches
        // (same locks, same decisions); gathering it with others would only serialise them.
        if readings.count >= PostgresStore.aloneFrom { return try await ingestAlone(readings, for: device) }
        return try await withCheckedThrowingContinuation { continuation in
            submit(readings, for: device) { continuation.resume(with: $0) }
        }
    }

    /// The HTTP layer's path: a small request joins a batch without a task of its own.
    public func ingest(
        _ readings: [Reading], for device: DeviceID, completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
    ) {
        guard !readings.isEmpty, readings.count < PostgresStore.aloneFrom else {
            complete(completion) { try await self.ingest(readings, for: device) }
            return
        }
        submit(readings, for: device, completion: completion)
    }

    /// Hands a request to the batcher. Its deadline runs from now, not from when its batch
    /// starts: one gathered behind a batch that the database does not answer still gets its 503
    /// in time (see ``IngestBatcher/submit(_:for:deadline:completion:decide:)``).
    private func submit(
        _ readings: [Reading], for device: DeviceID, completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
    ) {
        batcher.submit(readings, for: device, deadline: ContinuousClock.now + timeout, completion: completion) { [self] batch, deadline in
            try await withDeadline(deadline - ContinuousClock.now) { [self] in try await decideBatch(batch) }
        }
    }

    /// Requests of at least this many readings are decided in a transaction of their own.
    static let aloneFrom = 500

    /// One request in a transaction of its own (the path of every request before batching, and
    /// still that of a device whose count could overflow within a batch): the same locks, horizon
    /// and decisions as a batch, for one device.
    func ingestAlone(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome] {
        guard !readings.isEmpty else { return [] }
        let id = device.string
        let localHorizon = retention?.horizonNow() ?? .min
        return try await unavailableOnFailure { [logger] connection in
            try await connection.withTransaction(logger: logger) { connection in
                var row: (key: Int32, latest: Int64, cumulative: Int64, readings: Int64)?
                while row == nil {
                    try Task.checkCancellation()
                    // Only when missing: a conflicting insert would still take a key from the sequence.
                    try await connection.query(
                        """
                        INSERT INTO devices (device_id, latest, cumulative, readings)
                        SELECT \(id), \(Int64.min), 0, 0 WHERE NOT EXISTS (SELECT 1 FROM devices WHERE device_id = \(id))
                        ON CONFLICT (device_id) DO NOTHING
                        """,
                        logger: logger)
                    for try await (key, latest, cumulative, count) in try await connection.query(
                        "SELECT key, latest, cumulative, readings FROM devices WHERE device_id = \(id) FOR UPDATE", logger: logger
                    ).decode((Int32, Int64, Int64, Int64).self) {
                        row = (key, latest, cumulative, count)
                    }
                }
                guard let row else { preconditionFailure("the loop ends with the row locked") }
                // After the lock: the instants already stored, and the database's horizon (the one
                // row whose count is NULL).
                var stored: [Int64: UInt64] = [:]
                var horizon = localHorizon.nanoseconds
                let instants = readings.map(\.instant.nanoseconds)
                for try await (instant, count) in try await connection.query(
                    """
                    SELECT instant, coalesce(small_count, large_count) FROM readings WHERE device_key = \(row.key) AND instant = ANY(\(instants))
                    UNION ALL SELECT horizon, NULL::bigint FROM retention_horizon
                    """, logger: logger
                ).decode((Int64, Int64?).self) {
                    if let count {
                        stored[instant] = UInt64(count)
                    } else {
                        horizon = max(horizon, instant)
                    }
                }
                var outcomes: [IngestOutcome] = []
                outcomes.reserveCapacity(readings.count)
                var newInstants: [Int64] = []
                var newCounts: [Int64] = []
                var total = UInt64(row.cumulative)
                for reading in readings {
                    let t = reading.instant.nanoseconds
                    guard t >= horizon else {
                        outcomes.append(.tooOld)
                        continue
                    }
                    let outcome = IngestDecision.decide(reading.count, existing: stored[t], cumulative: &total)
                    if outcome == .accepted {
                        stored[t] = reading.count
                        newInstants.append(t)
                        newCounts.append(Int64(reading.count))
                    }
                    outcomes.append(outcome)
                }
                if let latest = newInstants.max() {
                    try await connection.query(
                        """
                        INSERT INTO readings (device_key, small_count, large_count, instant)
                        SELECT \(row.key), CASE WHEN c <= 2147483647 THEN c::integer END, CASE WHEN c > 2147483647 THEN c END, i
                        FROM unnest(\(newInstants)::bigint[], \(newCounts)::bigint[]) AS t(i, c)
                        """,
                        logger: logger)
                    try await connection.query(
                        "UPDATE devices SET latest = GREATEST(latest, \(latest)), cumulative = \(Int64(total)), readings = readings + \(newInstants.count) WHERE device_id = \(id)",
                        logger: logger)
                } else if row.readings == 0 && row.latest == Int64.min && row.cumulative == 0 {
                    // Not a device (nothing ever accepted): the row this batch created goes again.
                    try await connection.query("DELETE FROM devices WHERE device_id = \(id)", logger: logger)
                }
                return outcomes
            }
        }
    }

    public func summary(of device: DeviceID) async throws -> DeviceSummary? {
        let id = device.string
        return try await unavailableOnFailure { [logger] connection in
            var summary: DeviceSummary?
            for try await (latest, cumulative, count) in try await connection.query(
                "SELECT latest, cumulative, readings FROM devices WHERE device_id = \(id) AND (readings > 0 OR latest <> \(Int64.min))",
                logger: logger
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
        return try await unavailableOnFailure { [logger] connection in
            // One statement, one snapshot: the summary and the page describe the same moment.
            var summary: DeviceSummary?
            var page: [Reading] = []
            for try await (latest, cumulative, count, instant, value) in try await connection.query(
                """
                SELECT d.latest, d.cumulative, d.readings, r.instant, r.count FROM devices d
                LEFT JOIN LATERAL (
                  SELECT instant, coalesce(small_count, large_count) AS count FROM readings
                  WHERE device_key = d.key AND instant >= \(from) AND (\(to)::bigint IS NULL OR instant < \(to)::bigint)
                  ORDER BY instant LIMIT \(take)
                ) r ON true
                WHERE d.device_id = \(id) AND (d.readings > 0 OR d.latest <> \(Int64.min))
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
        return try await unavailableOnFailure { [logger] connection in
            var found = false
            var totals = [BucketTotal](repeating: BucketTotal(), count: grid.count)
            let rows =
                spanFits
                ? try await connection.query(
                    """
                    SELECT b.bucket, b.total, b.n FROM devices d
                    LEFT JOIN LATERAL (
                      SELECT (instant - \(origin)) / \(step) AS bucket, sum(coalesce(small_count, large_count))::bigint AS total, count(*) AS n
                      FROM readings WHERE device_key = d.key AND instant >= \(from) AND instant < \(to) GROUP BY 1
                    ) b ON true
                    WHERE d.device_id = \(id) AND (d.readings > 0 OR d.latest <> \(Int64.min))
                    """, logger: logger)
                : try await connection.query(
                    """
                    SELECT b.bucket, b.total, b.n FROM devices d
                    LEFT JOIN LATERAL (
                      SELECT div(instant::numeric - \(origin), \(step))::bigint AS bucket, sum(coalesce(small_count, large_count))::bigint AS total, count(*) AS n
                      FROM readings WHERE device_key = d.key AND instant >= \(from) AND instant < \(to) GROUP BY 1
                    ) b ON true
                    WHERE d.device_id = \(id) AND (d.readings > 0 OR d.latest <> \(Int64.min))
                    """, logger: logger)
            for try await (bucket, total, n) in rows.decode((Int64?, Int64?, Int64?).self) {
                found = true
                if let bucket, let total, let n { totals[Int(bucket)] = BucketTotal(count: total, readings: Int(n)) }
            }
            return found ? totals : nil
        }
    }

    public func devices(after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        try await devices(silentBefore: nil, after: after, prefix: prefix, limit: limit)
    }

    public func silentDevices(before cutoff: Instant, after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        try await devices(silentBefore: cutoff, after: after, prefix: prefix, limit: limit)
    }

    /// A page of the listing, optionally only devices whose latest reading is before
    /// `silentBefore`: the primary key's index gives the order and the range; LIMIT stops the scan.
    private func devices(silentBefore: Instant?, after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        let after = after?.string ?? ""
        let lower = String(decoding: prefix, as: UTF8.self)
        let upper = PostgresStore.upperBound(ofPrefix: lower)
        let cutoff = silentBefore?.nanoseconds
        return try await unavailableOnFailure { [logger] connection in
            var entries: [DeviceListEntry] = []
            for try await (id, latest, cumulative, count) in try await connection.query(
                """
                SELECT device_id, latest, cumulative, readings FROM devices
                WHERE device_id > \(after) AND device_id >= \(lower) AND (\(upper)::text IS NULL OR device_id < \(upper)::text)
                  AND (readings > 0 OR latest <> \(Int64.min)) AND (\(cutoff)::bigint IS NULL OR latest < \(cutoff)::bigint)
                ORDER BY device_id LIMIT \(limit + 1)
                """, logger: logger
            ).decode((String, Int64, Int64, Int64).self) {
                // Ids were validated on the way in.
                guard let id = try? DeviceID(validating: Array(id.utf8)) else { continue }
                entries.append(
                    DeviceListEntry(
                        id: id,
                        summary: DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: cumulative, readingCount: Int(count)))
                )
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
        try await unavailableOnFailure { [logger] connection in
            var statistics = StoreStatistics()
            for try await (devices, readings) in try await connection.query(
                "SELECT count(*), coalesce(sum(readings), 0)::bigint FROM devices WHERE readings > 0 OR latest <> \(Int64.min)",
                logger: logger
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

    /// Runs `body` on a pooled connection, turning database and connection failures, and calls
    /// without an answer within the timeout, into ``StorageError/unavailable(_:)``. A call that
    /// failed acknowledges nothing; its transaction was rolled back or never committed, except
    /// when the deadline passed while its `COMMIT` was on the way (docs/postgres.md).
    func unavailableOnFailure<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let start = ContinuousClock.now
        metrics?.inFlight.increment()
        defer {
            metrics?.inFlight.decrement()
            metrics?.duration.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
        }
        do {
            return try await withConnection(timeout: timeout, body)
        } catch let error as StorageError {
            metrics?.failures.increment()
            logger.warning("no answer from the database within \(timeout)")
            throw error
        } catch {
            metrics?.failures.increment()
            logger.warning("database call failed", metadata: ["error": "\(String(reflecting: error))"])
            throw StorageError.unavailable("the database is unavailable")
        }
    }

    /// Runs `body` on a pooled connection within `timeout`. When the deadline passes first, the
    /// connection is closed: postgres-nio cannot cancel a query in flight, and closing ends it
    /// (the server rolls back a transaction not yet committed once it reads the close) and frees
    /// its place in the pool, instead of leaving both to a database that may never answer.
    private func withConnection<T: Sendable>(
        timeout: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let leased = LeasedConnection()
        return try await withDeadline(timeout, onExpiry: { leased.close() }) { [client] in
            try await client.withConnection { connection in
                leased.hold(connection)
                defer { leased.release() }
                return try await body(connection)
            }
        }
    }
}

/// The answer of the readiness probe in flight: nil until it answers.
private final class ProbeAnswer: Sendable {
    let value = Mutex<Bool?>(nil)
}

/// The connection a call holds, if any, for its deadline to close. Closing and releasing are
/// ordered by the lock, so a connection is closed only while its call still holds it, never once
/// it is back in the pool serving another call.
private final class LeasedConnection: Sendable {
    private let connection = Mutex<PostgresConnection?>(nil)

    func hold(_ leased: PostgresConnection) {
        connection.withLock { $0 = leased }
    }

    func release() {
        connection.withLock { $0 = nil }
    }

    func close() {
        // The future only reports the close, which nothing waits for.
        connection.withLock { _ = $0?.close() as EventLoopFuture<Void>? }
    }
}

/// Runs `body` in a task of its own and returns its result, or throws
/// ``StorageError/unavailable(_:)`` as soon as `timeout` has passed, whichever comes first. A
/// task group would not do: it waits for its children, and a query to a database that stopped
/// answering neither ends nor can be cancelled. Here the caller is resumed by the first of the two,
/// and the other finds the race over. On expiry `body` is cancelled (which ends a wait for a pooled
/// connection) and `onExpiry` runs (which closes a connection in use); `body` then ends on its own,
/// unawaited. Cancelling the caller cancels `body`.
func withDeadline<T: Sendable>(
    _ timeout: Duration, onExpiry: @escaping @Sendable () -> Void = {}, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(with: .success(try await body()))
                } catch {
                    race.finish(with: .failure(error))
                }
            }
            let timer = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                if race.finish(with: .failure(StorageError.unavailable("the database did not answer within \(timeout)"))) {
                    onExpiry()
                }
            }
            race.track(work: work, timer: timer)
        }
    } onCancel: {
        race.cancelWork()
    }
}

/// The meeting point of ``withDeadline(_:onExpiry:_:)``'s work and timer: the first to finish
/// resumes the caller and cancels the other.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        /// Set by `start`, taken by the first `finish`: nil afterwards means the race is over.
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Keeps the two tasks for `finish` and `cancelWork`, or cancels them at once when the race
    /// ended (or the caller was cancelled) before they were known.
    func track(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let (over, cancelled) = state.withLock { state in
            state.work = work
            state.timer = timer
            return (state.continuation == nil, state.cancelled)
        }
        if over || cancelled { work.cancel() }
        if over { timer.cancel() }
    }

    /// Resumes the caller with `result` and cancels both tasks, if the race is not over yet;
    /// returns whether it was this call that ended it.
    @discardableResult
    func finish(with result: Result<T, any Error>) -> Bool {
        let (continuation, work, timer) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        guard let continuation else { return false }
        work?.cancel()
        timer?.cancel()
        continuation.resume(with: result)
        return true
    }

    func cancelWork() {
        let work = state.withLock { state in
            state.cancelled = true
            return state.work
        }
        work?.cancel()
    }
}

/// Errors configuring the PostgreSQL engine; each description is the message the operator sees.
/// None holds a password: URLs are kept with theirs replaced by `***`.
public enum PostgresStoreError: Error, CustomStringConvertible {
    /// The URL, redacted, and what is wrong with it.
    case invalidURL(String, reason: String)
    /// The `sslrootcert` file and why its certificates could not be read.
    case unreadableRootCertificate(String, reason: String)
    case invalidSchema(String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            "invalid PostgreSQL URL '\(url)': \(reason)"
        case .unreadableRootCertificate(let path, let reason):
            "cannot use sslrootcert '\(path)': \(reason)"
        case .invalidSchema(let schema):
            "not a schema name (ASCII letters, digits and _): \(schema)"
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
