import Foundation
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPersistence

#if canImport(Glibc)
import Glibc
#endif

/// What the journaled store does when the disk fails under it.
@Suite struct StorageFailureTests {
    /// A request refused with 503 leaves nothing behind: from the failure on, reads are refused
    /// too (nobody sees its readings), and after the rebuild they are gone and a retry is new.
    @Test func aRefusedRequestIsNeverSeenAndARetryIsNew() async throws {
        let disk = SimulatedDisk()
        let store = try #require(try await Workload.open(disk))
        _ = try await store.ingest([reading(1, 1)], for: device("refused"))
        disk.failAlways((operation: "fsync", pathSuffix: ".log", errno: EIO))
        await #expect(throws: StorageError.self) { try await store.ingest([reading(2, 1)], for: device("refused")) }
        await #expect(throws: StorageError.self) { try await store.readings(of: device("refused"), in: InstantRange(), limit: 10) }
        #expect(await store.isReady() == false)
        disk.failAlways(nil)
        await store.upkeep(now: ContinuousClock.now)
        #expect(await store.isReady())
        #expect(try await store.readings(of: device("refused"), in: InstantRange(), limit: 10)?.readings == [reading(1, 1)])
        #expect(try await store.ingest([reading(2, 1)], for: device("refused")) == [.accepted])
        await store.abandon()
    }

    /// A delete, or a retention's removal, that the disk refuses is answered 503 and changes
    /// nothing: after the rebuild the device and its readings are there as before, and the same
    /// call then succeeds.
    @Test func aRefusedDeleteOrRemovalChangesNothing() async throws {
        let disk = SimulatedDisk()
        do {
            let store = try #require(try await Workload.open(disk))
            _ = try await store.ingest([reading(1, 1), reading(2, 2)], for: device("kept"))
            await store.abandon()
        }
        // The readings are from 2023: a retention of an hour would remove them all.
        let store = try #require(try await Workload.open(disk, retention: Retention(nanoseconds: 3_600_000_000_000)))
        let both = [reading(1, 1), reading(2, 2)]
        for attempt in ["delete", "removal"] {
            disk.failAlways((operation: "fsync", pathSuffix: ".log", errno: ENOSPC))
            await #expect(throws: StorageError.self, "\(attempt)") {
                if attempt == "delete" {
                    _ = try await store.deleteDevice(device("kept"))
                } else {
                    _ = try await store.removeExpiredReadings()
                }
            }
            disk.failAlways(nil)
            await store.upkeep(now: ContinuousClock.now)
            #expect(await store.isReady())
            #expect(try await store.readings(of: device("kept"), in: InstantRange(), limit: 10)?.readings == both, "\(attempt)")
        }
        #expect(try await store.removeExpiredReadings() == 2)
        #expect(try await store.deleteDevice(device("kept")))
        await store.abandon()
    }

    /// A snapshot that fails (a full disk) leaves no temporary file behind and is retried after
    /// a growing wait, instead of every 200 ms, each time rotating the journal and serialising
    /// the whole store again; ingest is unaffected meanwhile.
    @Test func aFailedSnapshotLeavesNoTemporaryFileAndBacksOff() async throws {
        let disk = SimulatedDisk()
        let store = try JournaledStore(
            directory: Workload.directory, policy: .always, snapshotTrigger: SnapshotTrigger(bytes: 1, interval: nil),
            segmentLimit: 1 << 20,
            fileSystem: disk, logger: testLogger)
        try await store.start()
        _ = try await store.ingest([reading(1, 1), reading(2, 1)], for: device("snap"))
        disk.failAlways((operation: "write", pathSuffix: ".tmp", errno: ENOSPC))

        func snapshotAttempts() -> Int { disk.operationLog.filter { $0 == "write" }.count }
        let start = ContinuousClock.now
        var attempts: [Double] = []
        // Upkeep rounds every 100 ms of a simulated minute: attempts only when the wait is over.
        for tenth in 0..<600 {
            let before = disk.names
            let writesBefore = snapshotAttempts()
            await store.upkeep(now: start + .milliseconds(100 * tenth))
            #expect(!disk.names.contains { $0.hasSuffix(".tmp") }, "a temporary file was left: \(disk.names)")
            #expect(await store.isReady())
            if disk.names != before || snapshotAttempts() != writesBefore { attempts.append(Double(tenth) / 10) }
            _ = try await store.ingest([reading(Int64(10 + tenth), 1)], for: device("snap"))
        }
        // At 0 s, then after 1, 2, 4, 8, 16, 32 s: 0, 1, 3, 7, 15, 31 (and not again before 63).
        #expect(attempts.count <= 8, "\(attempts)")
        #expect(attempts.first == 0)
        #expect(attempts.contains(31.0) || attempts.contains(31.1), "\(attempts)")

        disk.failAlways(nil)
        await store.upkeep(now: start + .seconds(120))
        #expect(disk.names.contains { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap") })
        #expect(try await store.summary(of: device("snap")) != nil)
        await store.abandon()
    }
}
