import Foundation
import Logging
import PostgresNIO
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPostgres

/// The PostgreSQL layout of migration 4 (a 4-byte device key, counts in 4 bytes below 2^31 and in
/// 8 above): data written by the layout before converts exactly, and counts on either side of
/// 2^31 compare and add exactly on both ingest paths (batched, and alone for large requests).
@Suite(
    .enabled(if: Engine.postgresURL != nil, "needs POSTGRES_TEST_URL (make test starts a throwaway server)"), .timeLimit(.minutes(2)))
struct PostgresSchemaTests {
    /// A schema left at version 3 by an older release, with readings of small and large counts, a
    /// device whose readings all expired and one whose old readings were removed, is migrated by
    /// a new instance: every summary, reading and count reads back as written, repeats are still
    /// repeats, and new devices get keys of their own.
    @Test func migrationFourConvertsTheReadingsOfVersionThree() async throws {
        let schema = newPostgresSchemaName()
        let large: Int64 = 1 << 53 - 1
        let second: Int64 = 1_000_000_000
        // An instance of the release before migration 4 stored these.
        try await withPostgresStores([nil], schema: schema, newestMigration: 3) { stores in
            _ = try await stores[0].unavailableOnFailure { [logger = quietLogger] connection in
                try await connection.query(
                    """
                    INSERT INTO devices (device_id, latest, cumulative, readings, expired_before) VALUES
                      ('meter-a', \(3 * second), \(large + 2_147_483_648 + 7), 3, -9223372036854775808),
                      ('meter-b', \(9 * second), 12, 1, \(5 * second)),
                      ('meter-c', \(4 * second), 30, 0, \(5 * second))
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO readings (device_id, instant, count) VALUES
                      ('meter-a', \(1 * second), \(large)), ('meter-a', \(2 * second), 2147483648), ('meter-a', \(3 * second), 7),
                      ('meter-b', \(9 * second), 12)
                    """, logger: logger)
            }
        }
        try await withPostgresStores([nil], schema: schema) { stores in
            let store = stores[0]
            let a = try DeviceID("meter-a")
            let b = try DeviceID("meter-b")
            let c = try DeviceID("meter-c")
            #expect(
                try await store.summary(of: a)
                    == DeviceSummary(latest: instant(3 * second), cumulativeCount: large + 2_147_483_648 + 7, readingCount: 3))
            #expect(
                try await store.readings(of: a, in: .all, limit: 10)?.readings
                    == [reading(1 * second, UInt64(large)), reading(2 * second, 2_147_483_648), reading(3 * second, 7)])
            #expect(try await store.summary(of: c) == DeviceSummary(latest: instant(4 * second), cumulativeCount: 30, readingCount: 0))
            #expect(try await store.statistics().devices == 3)
            // Repeats and conflicts against the converted rows, small and large.
            #expect(
                try await store.ingest(
                    [
                        reading(1 * second, UInt64(large)), reading(2 * second, 2_147_483_647), reading(3 * second, 7),
                        reading(4 * second, 1),
                    ],
                    for: a) == [.duplicate, .conflicting(existingCount: 2_147_483_648), .duplicate, .accepted])
            // The device's own horizon came along: before it, too old.
            #expect(try await store.ingest([reading(4 * second, 1), reading(10 * second, 1)], for: b) == [.tooOld, .accepted])
            // A new device gets a key no converted device has; deleting one removes only its readings.
            let d = try DeviceID("meter-d")
            #expect(try await store.ingest([reading(1 * second, 5)], for: d) == [.accepted])
            #expect(try await store.deleteDevice(a))
            #expect(try await store.summary(of: a) == nil)
            #expect(try await store.readings(of: d, in: .all, limit: 10)?.readings == [reading(1 * second, 5)])
            #expect(try await store.readings(of: b, in: .all, limit: 10)?.readings.count == 2)
        }
    }

    /// Counts just below, at and far above 2^31 (stored in different columns) are duplicates only
    /// of themselves and conflicts with every other, through a batch and through a request large
    /// enough to be decided alone; reads, buckets and cumulative counts add them exactly.
    @Test(arguments: [1, PostgresStore.aloneFrom])
    func countsOnBothSidesOfTwoToThe31CompareExactly(readingsPerRequest: Int) async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let device = try DeviceID("wide-\(readingsPerRequest)")
            let counts: [UInt64] = [0, 2_147_483_647, 2_147_483_648, 1 << 53 - 1]
            /// One request per call: the readings asked for, padded with fresh ones (instants
            /// from 1000 s on) up to `readingsPerRequest`; returns the answers to those asked for.
            var pad = 1000
            func send(_ readings: [Reading]) async throws -> [IngestOutcome] {
                var all = readings
                while all.count < readingsPerRequest {
                    all.append(reading(Int64(pad) * 1_000_000_000, 1))
                    pad += 1
                }
                return Array(try await store.ingest(all, for: device).prefix(readings.count))
            }
            let first = counts.enumerated().map { reading(Int64($0.offset + 1) * 1_000_000_000, $0.element) }
            #expect(try await send(first) == Array(repeating: .accepted, count: counts.count))
            #expect(try await send(first) == Array(repeating: .duplicate, count: counts.count))
            // Each instant again with the count of its neighbour: a conflict naming the stored one.
            let shifted = counts.indices.map { reading(Int64($0 + 1) * 1_000_000_000, counts[(counts.count - 1 - $0)]) }
            #expect(try await send(shifted) == counts.map { .conflicting(existingCount: $0) })
            let stored = try await store.readings(of: device, in: InstantRange(from: nil, to: instant(1000 * 1_000_000_000)), limit: 10)
            #expect(stored?.readings == first)
            let padded = Int64(pad - 1000)
            #expect(stored?.summary.cumulativeCount == Int64(counts.reduce(0, +)) + padded)
            let grid = try BucketGrid(from: instant(0), to: instant(10 * 1_000_000_000), step: try #require(BucketStep("10s")))
            #expect(try await store.buckets(of: device, grid: grid) == [BucketTotal(count: Int64(counts.reduce(0, +)), readings: 4)])
        }
    }
}

private func instant(_ nanoseconds: Int64) -> Instant {
    Instant(nanoseconds: nanoseconds)
}

private func reading(_ nanoseconds: Int64, _ count: UInt64) -> Reading {
    Reading(instant: instant(nanoseconds), count: count)
}
