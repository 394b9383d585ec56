import Foundation
import PostgresNIO
import ReadingsDomain
import ReadingsStorage
import ServiceLifecycle
import Testing

@testable import ReadingsPostgres

/// Deleting devices and retention in the PostgreSQL engine, on the store itself: each test has a
/// schema of its own, shared by the stores it opens (as instances share a database).
@Suite(.enabled(if: Engine.postgresURL != nil, "needs POSTGRES_TEST_URL (make test starts a throwaway server)"))
struct PostgresHousekeepingTests {
    @Test func deletingADeviceRemovesItAndItsReadings() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let gone = try DeviceID("gone")
            let kept = try DeviceID("kept")
            #expect(try await store.ingest([reading(1, 3), reading(2, 4)], for: gone) == [.accepted, .accepted])
            #expect(try await store.ingest([reading(1, 5)], for: kept) == [.accepted])

            #expect(try await store.deleteDevice(gone))
            #expect(try await store.summary(of: gone) == nil)
            #expect(try await store.readings(of: gone, in: .all, limit: 10) == nil)
            let grid = try BucketGrid(from: Instant(nanoseconds: 0), to: Instant(nanoseconds: 10), step: #require(BucketStep("1h")))
            #expect(try await store.buckets(of: gone, grid: grid) == nil)
            let list = try await store.devices(after: nil, prefix: [], limit: 10)
            #expect(list.devices.map(\.id) == [kept])
            let statistics = try await store.statistics()
            #expect(statistics.devices == 1)
            #expect(statistics.readings == 1)
            // The other device is untouched.
            #expect(
                try await store.summary(of: kept) == DeviceSummary(latest: Instant(nanoseconds: 1), cumulativeCount: 5, readingCount: 1))

            // Deleted twice, or never known: false.
            #expect(try await !store.deleteDevice(gone))
            #expect(try await !store.deleteDevice(DeviceID("never-seen")))
        }
    }

    /// A delete answers without removing the readings (one row deleted and one key recorded,
    /// whatever their number); the purge removes them all, in steps, and then the key, and a
    /// device created again under the id never sees them.
    @Test func aDeletedDevicesReadingsArePurgedAfterTheDelete() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let device = try DeviceID("purged")
            let many = PostgresStore.removalBatchSize * 2 + 5
            // Requests of 500 readings or more are decided alone, so this is 21 such requests.
            for start in stride(from: 0, to: many, by: 1_000) {
                let readings = (start..<min(many, start + 1_000)).map { reading(Int64($0), 1) }
                #expect(try await store.ingest(readings, for: device).allSatisfy { $0 == .accepted })
            }
            let key = try await store.unavailableOnFailure { [logger = quietLogger] connection in
                var key: Int32?
                for try await value in try await connection.query(
                    "SELECT key FROM devices WHERE device_id = \(device.string)", logger: logger
                ).decode(Int32.self) {
                    key = value
                }
                return try #require(key)
            }
            #expect(try await store.deleteDevice(device))
            #expect(try await store.ingest([reading(7, 9)], for: device) == [.accepted])
            #expect(try await store.readings(of: device, in: .all, limit: 10)?.readings == [reading(7, 9)])
            // The purge started by the delete may have done some or all of the work already.
            _ = try await store.purgeDeletedReadings()
            let (left, listed) = try await store.unavailableOnFailure { [logger = quietLogger] connection in
                var left: Int64 = -1
                var listed: Int64 = -1
                for try await (l, p) in try await connection.query(
                    "SELECT (SELECT count(*) FROM readings WHERE device_key = \(key)), (SELECT count(*) FROM device_purges)",
                    logger: logger
                ).decode((Int64, Int64).self) {
                    left = l
                    listed = p
                }
                return (left, listed)
            }
            #expect(left == 0)
            #expect(listed == 0)
            #expect(
                try await store.summary(of: device) == DeviceSummary(latest: Instant(nanoseconds: 7), cumulativeCount: 9, readingCount: 1))
        }
    }

    @Test func anIngestAfterADeleteStartsANewDeviceFromZero() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let device = try DeviceID("again")
            #expect(try await store.ingest([reading(10, 100), reading(20, 200)], for: device) == [.accepted, .accepted])
            #expect(try await store.deleteDevice(device))
            // The same instants are new again, with other counts; only the new counts are counted.
            #expect(
                try await store.ingest([reading(10, 1), reading(20, 2), reading(5, 3)], for: device) == [.accepted, .accepted, .accepted])
            #expect(
                try await store.summary(of: device) == DeviceSummary(latest: Instant(nanoseconds: 20), cumulativeCount: 6, readingCount: 3))
            let page = try #require(try await store.readings(of: device, in: .all, limit: 10))
            #expect(page.readings == [reading(5, 3), reading(10, 1), reading(20, 2)])
        }
    }

    @Test func aDeleteRacingIngestsIsLinearisable() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let device = try DeviceID("racer")
            let writers = 6
            let batches = 30
            let perBatch = 5
            let progress = Progress()
            // Every reading has an instant of its own and a known count, so every answer is 202
            // and whatever the device holds afterwards tells which batches came after the delete.
            let outcomes = try await withThrowingTaskGroup(of: [(Reading, IngestOutcome)].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var answered: [(Reading, IngestOutcome)] = []
                        for batch in 0..<batches {
                            let readings = (0..<perBatch).map { k in
                                let n = (writer * batches + batch) * perBatch + k
                                return reading(Int64(n), UInt64(n % 13 + 1))
                            }
                            let result = try await store.ingest(readings, for: device)
                            answered += zip(readings, result)
                            await progress.add(result.count)
                        }
                        return answered
                    }
                }
                group.addTask {
                    // Midway: once about a third of the readings were answered.
                    while await progress.answered < writers * batches * perBatch / 3 { try await Task.sleep(for: .milliseconds(2)) }
                    #expect(try await store.deleteDevice(device))
                    return []
                }
                var all: [(Reading, IngestOutcome)] = []
                for try await answered in group { all += answered }
                return all
            }
            #expect(outcomes.count == writers * batches * perBatch)
            #expect(outcomes.allSatisfy { $0.1 == .accepted })
            let accepted = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.0.instant, $0.0.count) })
            let page = try #require(try await store.readings(of: device, in: .all, limit: 100_000))
            #expect(page.readings.count < outcomes.count, "the delete removed readings")
            #expect(page.readings.allSatisfy { accepted[$0.instant] == $0.count })
            #expect(page.summary.readingCount == page.readings.count)
            #expect(page.summary.cumulativeCount == Int64(page.readings.reduce(0) { $0 + $1.count }))
            #expect(page.summary.latest == page.readings.map(\.instant).max())
        }
    }

    @Test func aRetentionRefusesReadingsOlderThanItsPeriod() async throws {
        try await withPostgresStores([Retention(nanoseconds: hour)]) { stores in
            let store = stores[0]
            let now = Instant.now().nanoseconds
            let device = try DeviceID("sensor")
            let old = Reading(instant: Instant(nanoseconds: now - 2 * hour), count: 1)
            let recent = Reading(instant: Instant(nanoseconds: now - 10 * minute), count: 2)
            #expect(try await store.ingest([old, recent, old], for: device) == [.tooOld, .accepted, .tooOld])
            #expect(try await store.summary(of: device) == DeviceSummary(latest: recent.instant, cumulativeCount: 2, readingCount: 1))

            // A device that accepted nothing is not a device.
            let stale = try DeviceID("stale")
            #expect(try await store.ingest([old], for: stale) == [.tooOld])
            #expect(try await store.summary(of: stale) == nil)
            #expect(try await store.readings(of: stale, in: .all, limit: 10) == nil)
            #expect(try await store.devices(after: nil, prefix: [], limit: 10).devices.map(\.id) == [device])
            #expect(try await store.statistics().devices == 1)
            // Nor is its row left behind.
            let rows = try await store.unavailableOnFailure { [logger = quietLogger] connection in
                var rows: Int64 = -1
                for try await count in try await connection.query(
                    "SELECT count(*) FROM devices WHERE device_id = \(stale.string)", logger: logger
                ).decode(Int64.self) {
                    rows = count
                }
                return rows
            }
            #expect(rows == 0)
            #expect(try await !store.deleteDevice(stale))
        }
    }

    @Test func removingExpiredReadingsKeepsCountsAndMovesTheSharedHorizon() async throws {
        // A store without retention to write the past, one with an hour's retention to remove it,
        // and one with ten hours' to show that the horizon never moves back.
        try await withPostgresStores([nil, Retention(nanoseconds: hour), Retention(nanoseconds: 10 * hour)]) { stores in
            let (plain, hourly, tenHourly) = (stores[0], stores[1], stores[2])
            let now = Instant.now().nanoseconds
            let mixed = try DeviceID("mixed")
            let expired = try DeviceID("expired")
            let big = try DeviceID("big")
            let fresh = try DeviceID("fresh")
            let dormant = try DeviceID("dormant")
            func at(_ nanoseconds: Int64, _ count: UInt64) -> Reading { Reading(instant: Instant(nanoseconds: nanoseconds), count: count) }

            let mixedReadings = [at(now - 3 * hour, 2), at(now - 2 * hour, 3), at(now - 10 * minute, 5)]
            #expect(try await plain.ingest(mixedReadings, for: mixed) == [.accepted, .accepted, .accepted])
            #expect(try await plain.ingest([at(now - 5 * hour, 1), at(now - 4 * hour, 1)], for: expired).allSatisfy { $0 == .accepted })
            // More expired readings than one step of the removal deletes.
            let bigOld = (0..<10_050).map { at(now - 3 * hour + Int64($0) * 1_000, 1) }
            for start in stride(from: 0, to: bigOld.count, by: 2_500) {
                let batch = Array(bigOld[start..<min(start + 2_500, bigOld.count)])
                #expect(try await plain.ingest(batch, for: big).allSatisfy { $0 == .accepted })
            }
            #expect(try await plain.ingest([at(now - 20 * minute, 7), at(now - 5 * minute, 8)], for: big) == [.accepted, .accepted])
            #expect(try await plain.ingest([at(now - minute, 9)], for: fresh) == [.accepted])
            #expect(try await plain.ingest([at(now - 6 * hour, 4)], for: dormant) == [.accepted])
            let before = try await plain.statistics()
            #expect(before.readings == 3 + 2 + 10_052 + 1 + 1)

            #expect(try await hourly.removeExpiredReadings() == 2 + 2 + 10_050 + 1)

            #expect(
                try await plain.summary(of: mixed)
                    == DeviceSummary(latest: Instant(nanoseconds: now - 10 * minute), cumulativeCount: 10, readingCount: 1))
            #expect(
                try await plain.summary(of: big)
                    == DeviceSummary(latest: Instant(nanoseconds: now - 5 * minute), cumulativeCount: 10_065, readingCount: 2))
            #expect(
                try await plain.summary(of: fresh)
                    == DeviceSummary(latest: Instant(nanoseconds: now - minute), cumulativeCount: 9, readingCount: 1))
            let page = try #require(try await plain.readings(of: big, in: .all, limit: 100))
            #expect(page.readings == [at(now - 20 * minute, 7), at(now - 5 * minute, 8)])

            // A device whose readings all expired is still a device, with its latest instant and
            // all-time count, and no readings.
            let expiredSummary = DeviceSummary(latest: Instant(nanoseconds: now - 4 * hour), cumulativeCount: 2, readingCount: 0)
            #expect(try await plain.summary(of: expired) == expiredSummary)
            let expiredPage = try #require(try await plain.readings(of: expired, in: .all, limit: 10))
            #expect(expiredPage == DeviceReadings(summary: expiredSummary, readings: [], next: nil))
            let grid = try BucketGrid(
                from: Instant(nanoseconds: now - 6 * hour), to: Instant(nanoseconds: now), step: #require(BucketStep("1h")))
            #expect(try await plain.buckets(of: expired, grid: grid)?.allSatisfy { $0 == BucketTotal() } == true)
            let listed = try await plain.devices(after: nil, prefix: [], limit: 10).devices
            #expect(listed.map(\.id) == [big, dormant, expired, fresh, mixed])
            #expect(listed.first { $0.id == expired }?.summary == expiredSummary)
            let silent = try await plain.silentDevices(before: Instant(nanoseconds: now - hour), after: nil, prefix: [], limit: 10)
            #expect(silent.devices.map(\.id) == [dormant, expired])
            let after = try await plain.statistics()
            #expect(after.devices == 5)
            #expect(after.readings == 1 + 0 + 2 + 1)

            // Nothing left to remove; a longer retention does not move the horizon back.
            #expect(try await hourly.removeExpiredReadings() == 0)
            #expect(try await tenHourly.removeExpiredReadings() == 0)

            // Every instance refuses readings before the database's horizon, with a retention of
            // its own or not: a removed reading cannot come back as new.
            #expect(try await plain.ingest([at(now - 3 * hour, 2)], for: mixed) == [.tooOld])
            #expect(try await tenHourly.ingest([at(now - 2 * hour, 1)], for: fresh) == [.tooOld])
            #expect(try await plain.ingest([at(now - 2 * hour, 1), at(now - 2 * minute, 4)], for: expired) == [.tooOld, .accepted])
            #expect(
                try await plain.summary(of: expired)
                    == DeviceSummary(latest: Instant(nanoseconds: now - 2 * minute), cumulativeCount: 6, readingCount: 1))
            #expect(try await plain.ingest([at(now - 2 * hour, 1)], for: DeviceID("late")) == [.tooOld])
            #expect(try await plain.summary(of: DeviceID("late")) == nil)

            // Deleting a device whose readings all expired, and one with some left.
            #expect(try await plain.deleteDevice(dormant))
            #expect(try await plain.summary(of: dormant) == nil)
            #expect(try await plain.deleteDevice(big))
            #expect(try await plain.summary(of: big) == nil)
            #expect(try await plain.statistics().devices == 3)
        }
    }

    /// The interleaving the horizon is read after the row lock for: a batch repeating an expired
    /// reading starts and waits for the device's lock, held by a removal's step; meanwhile the
    /// horizon advances, then the step deletes the reading, records the horizon on the device's
    /// row and commits. The batch must answer `tooOld`: had it taken the horizon from before the
    /// lock, it would find the reading gone and accept it again, counting it twice.
    @Test func aBatchWaitingForTheDeviceLockSeesTheHorizonTheRemovalAdvanced() async throws {
        try await withPostgresStores([nil, nil]) { stores in
            let (ingesting, removing) = (stores[0], stores[1])
            let device = try DeviceID("contested")
            let id = device.string
            let now = Instant.now().nanoseconds
            let old = Reading(instant: Instant(nanoseconds: now - 2 * hour), count: 5)
            let horizon = now - hour
            #expect(try await ingesting.ingest([old], for: device) == [.accepted])

            let repeated = try await removing.unavailableOnFailure { [logger = quietLogger] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    // The removal's step for the device, by hand: its row lock first.
                    let holder = try await lockDeviceRow(device, on: connection)
                    let batch = Task { try await ingesting.ingest([old], for: device) }
                    // Until the batch waits for that lock.
                    try await waitUntilBlocked(by: holder, asking: removing)
                    // The horizon advances and commits (on another connection), then the step
                    // deletes the reading and commits.
                    _ = try await removing.unavailableOnFailure { connection in
                        try await connection.query(
                            "UPDATE retention_horizon SET horizon = GREATEST(horizon, \(horizon))", logger: logger)
                    }
                    try await connection.query(
                        "DELETE FROM readings WHERE device_key = (SELECT key FROM devices WHERE device_id = \(id)) AND instant < \(horizon)",
                        logger: logger)
                    try await connection.query(
                        "UPDATE devices SET readings = readings - 1, expired_before = GREATEST(expired_before, \(horizon)) WHERE device_id = \(id)",
                        logger: logger)
                    return batch
                }
            }
            #expect(try await repeated.value == [.tooOld])
            #expect(try await ingesting.summary(of: device) == DeviceSummary(latest: old.instant, cumulativeCount: 5, readingCount: 0))
        }
    }

    @Test func withoutRetentionNothingIsRemoved() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let device = try DeviceID("ancient")
            #expect(try await store.ingest([reading(1, 1)], for: device) == [.accepted])
            #expect(try await store.removeExpiredReadings() == 0)
            #expect(try await store.summary(of: device)?.readingCount == 1)
        }
    }
}

private let minute: Int64 = 60 * 1_000_000_000
private let hour: Int64 = 60 * minute

private func reading(_ nanoseconds: Int64, _ count: UInt64) -> Reading {
    Reading(instant: Instant(nanoseconds: nanoseconds), count: count)
}

/// How many readings the racing writers have had answered.
private actor Progress {
    private(set) var answered = 0

    func add(_ count: Int) { answered += count }
}

/// A schema name no test used before.
func newPostgresSchemaName() -> String {
    "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
}

/// Runs `body` with one PostgreSQL store per element of `retentions`, all on one schema (new
/// unless given; as instances share a database) migrated to its newest version (or to
/// `newestMigration`), each running as a service and ready; shuts them down afterwards.
func withPostgresStores<T: Sendable>(
    _ retentions: [Retention?], schema: String = newPostgresSchemaName(), newestMigration: Int? = nil,
    _ body: @Sendable ([PostgresStore]) async throws -> T
) async throws -> T {
    let url = try #require(Engine.postgresURL)
    let stores = try retentions.map { retention in
        try PostgresStore(
            url: url, poolSize: 3, schema: schema, retention: retention, timeout: .seconds(30), readinessTimeout: .seconds(30),
            logger: quietLogger)
    }
    if let newestMigration {
        for store in stores { store.newestMigration.withLock { $0 = newestMigration } }
    }
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: stores.map { .init(service: $0) }, logger: quietLogger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do {
            let deadline = ContinuousClock.now + .seconds(60)
            for store in stores {
                while await !store.isReady() {
                    try #require(ContinuousClock.now < deadline, "the PostgreSQL store did not become ready")
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            result = .success(try await body(stores))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// Locks `device`'s row on `connection` (inside its transaction) and returns the locking
/// session's process id.
func lockDeviceRow(_ device: DeviceID, on connection: PostgresConnection) async throws -> Int32 {
    var holder: Int32?
    for try await pid in try await connection.query(
        "SELECT pg_backend_pid() FROM devices WHERE device_id = \(device.string) FOR UPDATE", logger: quietLogger
    ).decode(Int32.self) {
        holder = pid
    }
    return try #require(holder)
}

/// Returns once some session waits for a lock held by the session `holder` (asked through
/// `store`, on another connection); fails after 20 s.
func waitUntilBlocked(by holder: Int32, asking store: PostgresStore) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while try await store.unavailableOnFailure({ connection in
        var waiting = 0
        for try await count in try await connection.query(
            "SELECT count(*) FROM pg_stat_activity WHERE \(holder) = ANY(pg_blocking_pids(pid))", logger: quietLogger
        ).decode(Int64.self) {
            waiting = Int(count)
        }
        return waiting
    }) == 0 {
        try #require(ContinuousClock.now < deadline, "nothing waited for the lock")
        try await Task.sleep(for: .milliseconds(10))
    }
}
