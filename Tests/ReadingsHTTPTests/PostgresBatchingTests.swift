import Foundation
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPostgres

/// The PostgreSQL engine's batches across requests: two instances on one database batching
/// overlapping readings of the same devices at the same moment still accept each (device,
/// instant) exactly once, and every answer agrees with what is stored.
@Suite(.enabled(if: Engine.postgresURL != nil, "needs POSTGRES_TEST_URL (make test starts a throwaway server)"))
struct PostgresBatchingTests {
    /// Two stores (instances) on one schema; 12 tasks on each send requests of 1 to 20 readings,
    /// for 1 to 3 of 6 devices each time (so batches mix devices and repeat instants within and
    /// across requests), every (device, instant) sent by many tasks, sometimes with another count.
    @Test func twoInstancesBatchingOverlappingReadingsAcceptEachOnce() async throws {
        try await withPostgresStores([nil, nil]) { stores in
            let devices = try (0..<6).map { try DeviceID("batched-\($0)") }
            let instants = 150
            /// The count a (device, instant) should have when sent honestly; a conflict adds 1.
            @Sendable func count(_ d: Int, _ k: Int) -> UInt64 { UInt64((d * 7 + k) % 11) }
            let answers = try await withThrowingTaskGroup(of: [(Int, Int, UInt64, IngestOutcome)].self) { group in
                for task in 0..<24 {
                    group.addTask {
                        let store = stores[task % 2]
                        var generator = SplitMix64(seed: UInt64(task))
                        var seen: [(Int, Int, UInt64, IngestOutcome)] = []
                        for _ in 0..<40 {
                            // 1 to 3 devices, each a request of 1 to 20 readings, sent at once.
                            let requests = (0...generator.below(3)).map { _ -> (Int, [(Int, UInt64)]) in
                                let d = generator.below(devices.count)
                                let readings = (0...generator.below(20)).map { _ -> (Int, UInt64) in
                                    let k = generator.below(instants)
                                    return (k, count(d, k) + (generator.below(10) == 0 ? 1 : 0))
                                }
                                return (d, readings)
                            }
                            try await withThrowingTaskGroup(of: [(Int, Int, UInt64, IngestOutcome)].self) { sends in
                                for (d, readings) in requests {
                                    sends.addTask {
                                        let outcomes = try await store.ingest(
                                            readings.map {
                                                Reading(instant: Instant(nanoseconds: Int64($0.0) * 1_000_000_000), count: $0.1)
                                            },
                                            for: devices[d])
                                        return zip(readings, outcomes).map { (d, $0.0, $0.1, $1) }
                                    }
                                }
                                for try await part in sends { seen += part }
                            }
                        }
                        return seen
                    }
                }
                var all: [(Int, Int, UInt64, IngestOutcome)] = []
                for try await part in group { all += part }
                return all
            }
            // Exactly one acceptance per (device, instant) sent, and every other answer agrees
            // with the count that was accepted.
            var accepted: [[Int: UInt64]] = Array(repeating: [:], count: devices.count)
            for (d, k, c, outcome) in answers where outcome == .accepted {
                #expect(accepted[d][k] == nil, "device \(d) instant \(k) accepted twice")
                accepted[d][k] = c
            }
            for (d, k, c, outcome) in answers {
                let winner = try #require(accepted[d][k], "device \(d) instant \(k) was sent but never accepted")
                switch outcome {
                case .accepted: break
                case .duplicate: #expect(c == winner)
                case .conflicting(let existing): #expect(existing == winner && c != winner)
                default: Issue.record("unexpected \(outcome)")
                }
            }
            // What is stored is what was accepted, on both instances.
            for store in stores {
                for (d, device) in devices.enumerated() {
                    let page = try #require(try await store.readings(of: device, in: .all, limit: 10_000))
                    #expect(
                        Dictionary(uniqueKeysWithValues: page.readings.map { (Int($0.instant.nanoseconds / 1_000_000_000), $0.count) })
                            == accepted[d])
                    #expect(UInt64(page.summary.cumulativeCount) == accepted[d].values.reduce(0, +))
                    #expect(page.summary.readingCount == accepted[d].count)
                }
            }
        }
    }

    /// A device whose count could pass 2^63−1 within a batch is decided request by request after
    /// the batch: the overflowing reading is refused exactly, the others of the batch are not
    /// held up.
    @Test func aDeviceThatCouldOverflowIsDecidedAlone() async throws {
        try await withPostgresStores([nil]) { stores in
            let store = stores[0]
            let big = try DeviceID("near-the-top")
            let small = try DeviceID("ordinary")
            let top = UInt64(Int64.max) - 5
            // Counts are at most 2^53−1 each: climb near the top in steps.
            var climbed: UInt64 = 0
            var k: Int64 = 0
            while climbed < top {
                let step = min(ReadingCount.max, top - climbed)
                #expect(try await store.ingest([Reading(instant: Instant(nanoseconds: k), count: step)], for: big) == [.accepted])
                climbed += step
                k += 1
                if k > 2_000 { break }
            }
            try #require(climbed == top)
            async let first = store.ingest(
                [Reading(instant: Instant(nanoseconds: -1), count: 4), Reading(instant: Instant(nanoseconds: -2), count: 4)], for: big)
            async let second = store.ingest([Reading(instant: Instant(nanoseconds: 1), count: 1)], for: small)
            let (a, b) = try await (first, second)
            #expect(a == [.accepted, .overflow])
            #expect(b == [.accepted])
            #expect(try await store.summary(of: big)?.cumulativeCount == Int64.max - 1)
        }
    }

    /// A batch that waits for a device's row lock while another transaction stores readings of
    /// that device decides against them once it has the lock: a repeat is a duplicate, another
    /// count a conflict, never a second row (the lookup is made after the lock, by a statement
    /// whose snapshot sees what committed while it waited).
    @Test func aBatchWaitingForTheLockSeesWhatCommittedMeanwhile() async throws {
        try await withPostgresStores([nil, nil]) { stores in
            let (holding, batching) = (stores[0], stores[1])
            let device = try DeviceID("contended")
            let first = Reading(instant: Instant(nanoseconds: 1_000), count: 1)
            #expect(try await holding.ingest([first], for: device) == [.accepted])
            let repeated = Reading(instant: Instant(nanoseconds: 2_000), count: 5)
            let conflicting = Reading(instant: Instant(nanoseconds: 3_000), count: 6)
            let batch = try await holding.unavailableOnFailure { [logger = quietLogger] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    let holder = try await lockDeviceRow(device, on: connection)
                    // Stored under the lock, as a writer of another instance would, but not committed yet.
                    try await connection.query(
                        """
                        INSERT INTO readings (device_key, small_count, instant)
                        SELECT key, c, i FROM devices, unnest(ARRAY[5, 7], ARRAY[2000, 3000]::bigint[]) AS t(c, i)
                        WHERE device_id = \(device.string)
                        """, logger: logger)
                    try await connection.query(
                        "UPDATE devices SET cumulative = cumulative + 12, readings = readings + 2, latest = 3000 WHERE device_id = \(device.string)",
                        logger: logger)
                    let batch = Task { try await batching.ingest([repeated, conflicting, first], for: device) }
                    try await waitUntilBlocked(by: holder, asking: batching)
                    return batch
                }
            }
            #expect(try await batch.value == [.duplicate, .conflicting(existingCount: 7), .duplicate])
            #expect(
                try await batching.summary(of: device)
                    == DeviceSummary(latest: Instant(nanoseconds: 3_000), cumulativeCount: 13, readingCount: 3))
        }
    }
}
