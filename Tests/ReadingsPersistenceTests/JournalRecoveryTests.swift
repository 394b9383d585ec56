import Foundation
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPersistence

/// The journal on disk and recovery from it: group commit under each policy, segment rollover,
/// snapshots, torn tails, corruption, idempotent replay, the directory lock.
@Suite struct JournalRecoveryTests {
    @Test(arguments: [SyncPolicy.always, .interval(.milliseconds(50)), .off])
    func appendedRecordsAreRecoveredAcrossSegments(policy: SyncPolicy) async throws {
        let directory = try temporaryDirectory()
        let store = MemoryStore()
        let journal = try Journal(directory: directory, firstSegment: 0, policy: policy, segmentLimit: 2048, logger: testLogger)
        // Many concurrent writers: group commit must release every one of them.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for batch in 0..<20 {
                        let readings = (0..<10).map { reading(Int64(batch * 10 + $0), UInt64(writer)) }
                        _ = store.ingestNow(readings, for: device("w\(writer)"))
                        try await ReadingsPersistenceTests.journal(readings, of: device("w\(writer)"), to: journal)
                    }
                }
            }
            try await group.waitForAll()
        }
        journal.close()
        let segments = try files(directory).filter { $0.hasPrefix("journal-") }
        #expect(segments.count > 3)
        let recovered = MemoryStore()
        let result = try Recovery.recover(directory, into: recovered, logger: testLogger)
        #expect(result.replayedReadings == 1600)
        #expect(result.truncatedBytes == 0)
        #expect(result.nextSegment == UInt64(segments.count))
        #expect(contents(recovered) == contents(store))
    }

    @Test func replayingTwiceEqualsReplayingOnce() async throws {
        let directory = try temporaryDirectory()
        let journal = try Journal(directory: directory, firstSegment: 0, policy: .always, logger: testLogger)
        try await ReadingsPersistenceTests.journal([reading(1, 5), reading(2, 6)], of: device("a"), to: journal)
        try await ReadingsPersistenceTests.journal([reading(1, 5), reading(3, 7)], of: device("a"), to: journal)
        journal.close()
        let once = MemoryStore()
        _ = try Recovery.recover(directory, into: once, logger: testLogger)
        let twice = MemoryStore()
        _ = try Recovery.recover(directory, into: twice, logger: testLogger)
        _ = try Recovery.recover(directory, into: twice, logger: testLogger)
        #expect(contents(once) == contents(twice))
        #expect(once.summary(of: device("a"))?.cumulativeCount == 18)
    }

    /// Writes two records, then damages the segment with `damage`; returns the directory.
    func damagedJournal(_ damage: (inout [UInt8]) -> Void) async throws -> (URL, String) {
        let directory = try temporaryDirectory()
        let journal = try Journal(directory: directory, firstSegment: 0, policy: .always, logger: testLogger)
        try await ReadingsPersistenceTests.journal([reading(1, 5)], of: device("a"), to: journal)
        try await ReadingsPersistenceTests.journal([reading(2, 6)], of: device("a"), to: journal)
        journal.close()
        let path = directory.appendingPathComponent(Journal.segmentName(0)).path
        var bytes = try PosixFileSystem().read(path)
        damage(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (directory, path)
    }

    @Test(arguments: ["cut header", "cut payload", "zero-filled tail", "record of zeros"])
    func tornTailsAreCutAndReported(kind: String) async throws {
        let (directory, path) = try await damagedJournal { bytes in
            switch kind {
            case "cut header": bytes.append(contentsOf: [40, 0, 0])
            case "cut payload": bytes.append(contentsOf: [40, 0, 0, 0, 1, 2, 3, 4, 9, 9])
            case "zero-filled tail": bytes.append(contentsOf: [UInt8](repeating: 0, count: 4096))
            default: bytes.append(contentsOf: [5, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 100))
            }
        }
        let store = MemoryStore()
        let result = try Recovery.recover(directory, into: store, logger: testLogger)
        #expect(result.truncatedBytes > 0)
        #expect(store.summary(of: device("a"))?.readingCount == 2)
        // The cut is permanent: a second recovery finds nothing to cut.
        let again = try Recovery.recover(directory, into: MemoryStore(), logger: testLogger)
        #expect(again.truncatedBytes == 0)
        #expect(try PosixFileSystem().read(path).count == 8 + 2 * (8 + 14))
    }

    /// A power loss under `--sync interval` or `off` can leave anything after the last synced
    /// record: the last segment is cut at its first bad record and the server starts.
    @Test(arguments: ["garbage over the tail", "garbage appended", "bad record before a good one"])
    func damageInTheLastSegmentIsCutAtTheFirstBadRecord(kind: String) async throws {
        let (directory, path) = try await damagedJournal { bytes in
            switch kind {
            case "garbage over the tail":
                for k in (8 + 22 + 3)..<bytes.count { bytes[k] = UInt8(truncatingIfNeeded: k * 131 + 7) }
                bytes.append(contentsOf: (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 17 + 1) })
            case "garbage appended":
                bytes.append(contentsOf: (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 29 + 3) })
            default:
                bytes[8 + 8 + 3] ^= 0xFF
            }
        }
        let store = MemoryStore()
        let result = try Recovery.recover(directory, into: store, logger: testLogger)
        let kept = kind == "garbage appended" ? 2 : kind == "garbage over the tail" ? 1 : 0
        #expect(store.summary(of: device("a"))?.readingCount ?? 0 == kept)
        #expect(try PosixFileSystem().read(path).count == 8 + kept * (8 + 14))
        #expect(result.truncatedBytes > 0)
        let again = try Recovery.recover(directory, into: MemoryStore(), logger: testLogger)
        #expect(again.truncatedBytes == 0)
    }

    @Test func damageInAnOlderSegmentStopsRecovery() async throws {
        let directory = try temporaryDirectory()
        let journal = try Journal(directory: directory, firstSegment: 0, policy: .always, segmentLimit: 64, logger: testLogger)
        for k in 0..<4 { try await ReadingsPersistenceTests.journal([reading(Int64(k), 1)], of: device("a"), to: journal) }
        journal.close()
        let first = directory.appendingPathComponent(Journal.segmentName(0)).path
        var bytes = try PosixFileSystem().read(first)
        bytes.removeLast(3)
        try Data(bytes).write(to: URL(fileURLWithPath: first))
        #expect(throws: RecoveryError.self) { try Recovery.recover(directory, into: MemoryStore(), logger: testLogger) }
    }

    @Test func snapshotsRoundTripAndDamageIsRefused() throws {
        let directory = try temporaryDirectory()
        let store = MemoryStore()
        var generator = SystemRandomNumberGenerator()
        for d in 0..<50 {
            let readings = (0..<Int.random(in: 1...600, using: &generator)).map {
                reading(Int64($0 * 60 + Int.random(in: 0...2, using: &generator)), UInt64.random(in: 0...50, using: &generator))
            }
            _ = store.ingestNow(readings.shuffled(), for: device("dev-\(d)"))
        }
        let written = try Snapshot.write(store, coveringBefore: 7, in: directory)
        #expect(written.devices == 50)
        let loaded = MemoryStore()
        let result = try Snapshot.load(written.path, into: loaded)
        #expect(result.nextSegment == 7)
        #expect(result.readings == store.statistics().readings)
        #expect(contents(loaded) == contents(store))
        #expect(try files(directory) == [Snapshot.fileName(coveringBefore: 7)])

        let original = try PosixFileSystem().read(written.path)
        for position in [0, 5, 20, original.count / 2, original.count - 3] {
            var damaged = original
            damaged[position] ^= 0x01
            try Data(damaged).write(to: URL(fileURLWithPath: written.path))
            #expect(throws: RecoveryError.self) { try Snapshot.load(written.path, into: MemoryStore()) }
        }
        // Without its end record a snapshot is corrupt too.
        try Data(original.dropLast(30)).write(to: URL(fileURLWithPath: written.path))
        #expect(throws: RecoveryError.self) { try Snapshot.load(written.path, into: MemoryStore()) }
    }

    /// Histories sent shuffled, newest-first and backfilled (late readings in chunks' pending
    /// areas, chunk splits, several journal records per batch), then the journaled engine
    /// restarts twice: from the journal alone, and from its final snapshot. Both rebuild exactly
    /// what was acknowledged.
    @Test func historiesInAnyOrderRestartIntoTheSameState() async throws {
        let directory = try temporaryDirectory()
        var generator = SplitMix64(seed: 77)
        var expected: [DeviceID: [Int64: UInt64]] = [:]
        let store = try JournaledStore(
            directory: directory, snapshotTrigger: SnapshotTrigger(bytes: nil, interval: nil), logger: testLogger)
        let running = Task { try await store.run() }
        try await waitUntilReady(store)
        let n = 10_000
        for (name, order) in [
            ("shuffled", Array(0..<n).shuffled(using: &generator)),
            ("reversed", Array((0..<n).reversed())),
            ("backfill", Array(stride(from: 0, to: n, by: 2)) + Array(stride(from: 1, to: n, by: 2)) + Array(0..<500)),
        ] {
            let id = device(name)
            var sent = 0
            while sent < order.count {
                let size = min(Int.random(in: 1...6000, using: &generator), order.count - sent)
                let batch = order[sent..<sent + size].map { reading(Int64($0) * 60 + Int64($0 % 7), UInt64($0 % 51)) }
                let outcomes = try await store.ingest(batch, for: id)
                for (r, outcome) in zip(batch, outcomes) where outcome == .accepted {
                    expected[id, default: [:]][r.instant.nanoseconds] = r.count
                }
                sent += size
            }
            #expect(expected[id]?.count == n)
        }
        func check(_ readings: (DeviceID) async throws -> [Reading]?) async throws {
            for (id, model) in expected {
                let stored = try await readings(id)
                #expect(stored?.map(\.instant.nanoseconds) == model.keys.sorted(), "\(id)")
                #expect(stored?.map(\.count) == model.sorted { $0.key < $1.key }.map(\.value), "\(id)")
            }
        }
        // From the journal alone (no snapshot was taken).
        #expect(try files(directory).filter { $0.hasSuffix(".snap") }.isEmpty)
        let replayed = MemoryStore()
        _ = try Recovery.recover(directory, into: replayed, logger: testLogger)
        try await check { replayed.readings(of: $0, in: .all, limit: .max)?.readings }
        // From the final snapshot.
        running.cancel()
        try await running.value
        let reopened = try JournaledStore(directory: directory, logger: testLogger)
        let again = Task { try await reopened.run() }
        try await waitUntilReady(reopened)
        #expect(reopened.lastRecovery?.snapshot != nil)
        #expect(reopened.lastRecovery?.replayedReadings == 0)
        try await check { try await reopened.readings(of: $0, in: .all, limit: .max)?.readings }
        again.cancel()
        try await again.value
    }

    @Test func aSecondStoreOnTheSameDirectoryIsRefused() throws {
        let directory = try temporaryDirectory()
        let first = try JournaledStore(directory: directory, logger: testLogger)
        #expect {
            try JournaledStore(directory: directory, logger: testLogger)
        } throws: { error in
            if case RecoveryError.locked = error { return true }
            return false
        }
        withExtendedLifetime(first) {}
    }

    @Test func journaledStoreSnapshotsAndRecoversThroughItsLifecycle() async throws {
        let directory = try temporaryDirectory()
        do {
            let store = try JournaledStore(
                directory: directory, snapshotTrigger: SnapshotTrigger(bytes: 1, interval: nil), logger: testLogger)
            #expect(await !store.isReady())
            let running = Task { try await store.run() }
            try await waitUntilReady(store)
            let outcomes = try await store.ingest([reading(1, 2), reading(2, 3), reading(1, 2)], for: device("x"))
            #expect(outcomes == [.accepted, .accepted, .duplicate])
            // The size trigger (1 byte) snapshots within the service's polling period.
            let deadline = ContinuousClock.now + .seconds(30)
            while try files(directory).filter({ $0.hasSuffix(".snap") }).isEmpty {
                try #require(ContinuousClock.now < deadline, "no snapshot was taken")
                try await Task.sleep(for: .milliseconds(20))
            }
            _ = try await store.ingest([reading(3, 4)], for: device("x"))
            running.cancel()
            try await running.value
        }
        let reopened = try JournaledStore(directory: directory, logger: testLogger)
        let running = Task { try await reopened.run() }
        try await waitUntilReady(reopened)
        #expect(reopened.lastRecovery?.snapshot?.hasSuffix(".snap") == true)
        #expect(try await reopened.summary(of: device("x"))?.cumulativeCount == 9)
        running.cancel()
        try await running.value
    }

    /// Deletes and retention horizons are journalled: a restart from the journal alone, from a
    /// snapshot and the journal after it, and from a final snapshot all give the same devices,
    /// and the horizon still refuses old readings after each of them, even without a retention.
    @Test func deletesAndHorizonsSurviveRestarts() async throws {
        let directory = try temporaryDirectory()
        let noSnapshots = SnapshotTrigger(bytes: nil, interval: nil)
        // Readings of 2023, then a server keeping an hour: all of them expire.
        do {
            let store = try JournaledStore(directory: directory, snapshotTrigger: noSnapshots, logger: testLogger)
            let running = Task { try await store.run() }
            try await waitUntilReady(store)
            _ = try await store.ingest((0..<10_000).map { reading($0, 1) }, for: device("a"))
            _ = try await store.ingest((0..<100).map { reading($0, 2) }, for: device("b"))
            _ = try await store.ingest([reading(5, 3)], for: device("c"))
            running.cancel()
            try await running.value
        }
        let now = Instant.now().nanoseconds
        let recent = Reading(instant: Instant(nanoseconds: now - 600_000_000_000), count: 4)
        let expected: [String: DeviceSummary?] = [
            "a": DeviceSummary(latest: reading(9_999, 1).instant, cumulativeCount: 10_000, readingCount: 0),
            "b": nil,
            "c": DeviceSummary(latest: recent.instant, cumulativeCount: 7, readingCount: 1),
        ]
        let store = try JournaledStore(
            directory: directory, snapshotTrigger: noSnapshots, retention: Retention(nanoseconds: 3_600_000_000_000),
            logger: testLogger)
        let running = Task { try await store.run() }
        try await waitUntilReady(store)
        #expect(try await store.removeExpiredReadings() == 10_101)
        #expect(try await store.deleteDevice(device("b")))
        #expect(try await !store.deleteDevice(device("b")))
        #expect(try await store.ingest([recent], for: device("c")) == [.accepted])
        #expect(try await store.ingest([reading(20_000, 1)], for: device("a")) == [.tooOld])
        for (id, summary) in expected { #expect(try await store.summary(of: device(id)) == summary, "\(id)") }
        // As a crash leaves it: replayed from the snapshot of the first server and the journal.
        await store.abandon()
        running.cancel()
        _ = try? await running.value
        let replayed = MemoryStore()
        _ = try Recovery.recover(directory, into: replayed, logger: testLogger)
        for (id, summary) in expected { #expect(replayed.summary(of: device(id)) == summary, "replayed \(id)") }
        #expect(replayed.horizon.nanoseconds >= now - 3_600_000_000_000)
        // Twice more without a retention: after recovery from the journal, then from the final
        // snapshot (whose next segment starts with the horizon).
        for round in 0..<2 {
            let reopened = try JournaledStore(directory: directory, snapshotTrigger: noSnapshots, logger: testLogger)
            let again = Task { try await reopened.run() }
            try await waitUntilReady(reopened)
            for (id, summary) in expected { #expect(try await reopened.summary(of: device(id)) == summary, "round \(round) \(id)") }
            #expect(try await reopened.ingest([reading(20_000, 1)], for: device("a")) == [.tooOld], "round \(round)")
            #expect(try await reopened.readings(of: device("a"), in: .all, limit: 10)?.readings == [])
            again.cancel()
            try await again.value
        }
    }
}

/// Waits (bounded) until `store` has recovered.
func waitUntilReady(_ store: JournaledStore) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while await !store.isReady() {
        try #require(ContinuousClock.now < deadline, "the store did not become ready")
        try await Task.sleep(for: .milliseconds(10))
    }
}
