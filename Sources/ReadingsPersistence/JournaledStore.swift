import Foundation
import Logging
import ReadingsDomain
import ReadingsStorage
import ServiceLifecycle
import Synchronization

/// The memory engine made durable: every accepted reading is appended to the journal before the
/// response that acknowledges it, snapshots bound the journal, and recovery rebuilds the state at
/// start. Run it as a `Service` (before the HTTP server, so that it stops after it): `run()`
/// recovers, then takes snapshots as configured, and on graceful shutdown takes a last snapshot
/// and closes the journal.
///
/// What an answer means, under every `--sync` mode:
/// - 202 (accepted): the reading is in the journal as the mode promises it: synced (`always`),
///   written and synced within the interval (`interval`), written (`off`).
/// - 409 (duplicate, conflict): the reading already stored is there in the same sense. The answer
///   waits for the journal position of everything decided before it.
/// - 503: nothing of the request is stored. A request's readings are decided in memory and
///   appended to the journal under one lock hold; when the journal then fails, the writer cuts
///   the journal back to the records it had acknowledged before anyone hears of the failure,
///   every call answers 503 from that moment (reads too, so that nobody sees a refused reading),
///   and the memory engine is rebuilt from the cut journal. A retry then gets 202.
///
/// A read can see a reading whose own request has not been answered yet (its sync is in flight);
/// if that sync fails, the request gets 503 and the reading is gone after the rebuild.
///
/// While recovering, and after a journal write fails until the state has been rebuilt from disk,
/// every call throws ``StorageError/unavailable(_:)`` and ``isReady()`` is false. The rebuild is
/// retried every second, so the server recovers by itself once the disk has space again. A
/// failed snapshot is retried after 1 s, then 2, 4… up to a minute, and leaves no temporary file.
public final class JournaledStore: ReadingStore, Service {
    /// The data directory.
    public let directory: URL
    /// When journal writes count as durable.
    public let policy: SyncPolicy
    /// When to take snapshots.
    public let snapshotTrigger: SnapshotTrigger
    /// How long readings are kept (nil: forever).
    public let retention: Retention?
    private let segmentLimit: Int
    private let fileSystem: any FileSystem
    private let logger: Logger
    private let lock: DataDirectoryLock
    private let onRecoveryFailure: @Sendable (any Error) -> Void
    private let metrics: JournalMetrics
    private let state = Mutex(State())

    /// What is open right now.
    private struct State {
        var memory: MemoryStore?
        var journal: Journal?
        var lastRecovery: Recovery.Result?
        var journalPositionAtSnapshot: UInt64 = 0
        var snapshotTime = ContinuousClock.now
        /// After a failed snapshot: when to try again, and the wait after another failure.
        var snapshotRetry: (at: ContinuousClock.Instant, backoff: Duration)?
        /// After a failed rebuild: when to try again.
        var rebuildRetryAt: ContinuousClock.Instant?
        /// A segment to cut before replaying, when the failed journal could not cut it itself.
        var unacknowledgedTail: (path: String, size: Int)?
    }

    /// Takes the data directory's lock (creating the directory if needed); recovery runs in
    /// `run()`. Throws ``RecoveryError/locked(path:)`` if another process has it.
    ///
    /// `onRecoveryFailure` is called when recovery at start fails (a corrupt file); `run()` then
    /// rethrows. A process may prefer to exit there with the message: the HTTP server may still
    /// be starting at that moment, and cancelling a server that is starting can take long.
    public init(
        directory: URL, policy: SyncPolicy = .always, snapshotTrigger: SnapshotTrigger = .init(), retention: Retention? = nil,
        segmentLimit: Int = 64 << 20, fileSystem: any FileSystem = PosixFileSystem(), metrics: JournalMetrics = JournalMetrics(),
        logger: Logger, onRecoveryFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) throws {
        self.metrics = metrics
        try fileSystem.createDirectory(directory.path)
        self.directory = directory
        self.fileSystem = fileSystem
        self.policy = policy
        self.snapshotTrigger = snapshotTrigger
        self.retention = retention
        self.segmentLimit = segmentLimit
        self.logger = logger
        self.onRecoveryFailure = onRecoveryFailure
        self.lock = try DataDirectoryLock(directory: directory, fileSystem: fileSystem)
    }

    // MARK: ReadingStore

    private func open() throws -> (MemoryStore, Journal) {
        let (memory, journal) = state.withLock { ($0.memory, $0.journal) }
        guard let memory, let journal else { throw StorageError.unavailable("storage is recovering") }
        guard !journal.hasFailed else { throw StorageError.unavailable("the journal cannot be written; rebuilding from disk") }
        return (memory, journal)
    }

    public func ingest(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome] {
        let (memory, journal) = try open()
        var journaling = PieceJournaling(journal: journal, device: device)
        let outcomes = await memory.ingest(readings, for: device) { journaling.record($0, $1) }
        do {
            if let failure = journaling.failure { throw failure }
            try await journal.waitUntilDurable(journaling.position)
        } catch {
            throw StorageError.unavailable("the journal cannot be written: \(error)")
        }
        return outcomes
    }

    /// A batch of at most one piece is decided at once on the calling thread and answered from
    /// the journal's group commit, with no task; a larger one as ``ingest(_:for:)``.
    public func ingest(
        _ readings: [Reading], for device: DeviceID,
        completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
    ) {
        guard readings.count <= MemoryStore.pieceSize else {
            complete(completion) { try await self.ingest(readings, for: device) }
            return
        }
        let memory: MemoryStore
        let journal: Journal
        do {
            (memory, journal) = try open()
        } catch {
            completion(.failure(error))
            return
        }
        var journaling = PieceJournaling(journal: journal, device: device)
        let outcomes = memory.ingestNow(readings, for: device) { journaling.record($0, $1) }
        if let failure = journaling.failure {
            completion(.failure(StorageError.unavailable("the journal cannot be written: \(failure)")))
            return
        }
        journal.whenDurable(journaling.position) { error in
            if let error {
                completion(.failure(StorageError.unavailable("the journal cannot be written: \(error)")))
            } else {
                completion(.success(outcomes))
            }
        }
    }

    public func summary(of device: DeviceID, completion: @escaping @Sendable (Result<DeviceSummary?, any Error>) -> Void) {
        completion(Result { try open().0.summary(of: device) })
    }

    public func summary(of device: DeviceID) async throws -> DeviceSummary? {
        try open().0.summary(of: device)
    }

    public func readings(of device: DeviceID, in range: InstantRange, limit: Int) async throws -> DeviceReadings? {
        try open().0.readings(of: device, in: range, limit: limit)
    }

    public func isReady() async -> Bool {
        state.withLock { $0.memory != nil && $0.journal?.hasFailed == false }
    }

    public func buckets(of device: DeviceID, grid: BucketGrid) async throws -> [BucketTotal]? {
        try open().0.buckets(of: device, grid: grid)
    }

    public func devices(after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        try open().0.devices(after: after, prefix: prefix, limit: limit)
    }

    public func silentDevices(before cutoff: Instant, after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList {
        try open().0.silentDevices(before: cutoff, after: after, prefix: prefix, limit: limit)
    }

    public func statistics() async throws -> StoreStatistics {
        try open().0.statistics()
    }

    /// Deleted in memory and journalled under the device's shard lock (so the journal has the
    /// delete and the device's ingests in the order they were decided), answered once the
    /// record is durable. An unknown device's answer waits for everything journalled before it,
    /// as a duplicate's does: it may be unknown because of a delete not yet durable.
    public func deleteDevice(_ device: DeviceID) async throws -> Bool {
        let (memory, journal) = try open()
        var position: UInt64 = 0
        var failure: JournalError?
        let existed = memory.deleteDevice(device) { existed in
            guard existed else {
                position = journal.position
                return
            }
            do throws(JournalError) {
                position = try journal.append { JournalRecord.encodeDeleted(device, into: &$0) }
            } catch {
                failure = error
            }
        }
        do {
            if let failure { throw failure }
            try await journal.waitUntilDurable(position)
        } catch {
            throw StorageError.unavailable("the journal cannot be written: \(error)")
        }
        return existed
    }

    /// The horizon is journalled (and durable) before any reading is removed in memory, so that
    /// recovery removes what the live store removed and refuses what it refuses.
    public func removeExpiredReadings() async throws -> Int {
        guard let retention else { return 0 }
        let (memory, journal) = try open()
        let horizon = Instant(nanoseconds: max(memory.horizon.nanoseconds, retention.horizonNow().nanoseconds))
        do {
            let position = try journal.append { JournalRecord.encodeHorizon(horizon, into: &$0) }
            try await journal.waitUntilDurable(position)
        } catch {
            throw StorageError.unavailable("the journal cannot be written: \(error)")
        }
        return await memory.removeReadings(before: horizon)
    }

    /// What the last recovery did (for logs and tests).
    public var lastRecovery: Recovery.Result? {
        state.withLock { $0.lastRecovery }
    }

    // MARK: Service

    public func run() async throws {
        // Whatever way this ends, the directory is free for the next store or process.
        defer { lock.release() }
        do {
            try await start()
        } catch {
            logger.critical("recovery failed", metadata: ["error": "\(error)"])
            onRecoveryFailure(error)
            throw error
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(200))
            await upkeep(now: ContinuousClock.now)
        }
        await stop()
    }

    /// One round of upkeep (`run()` does one every 200 ms): after a journal failure, a rebuild
    /// from disk (retried every second); otherwise a snapshot when one is due (retried with a
    /// growing wait after a failure).
    func upkeep(now: ContinuousClock.Instant) async {
        let (journal, positionAtSnapshot, snapshotTime, snapshotRetry, rebuildRetryAt) = state.withLock {
            ($0.journal, $0.journalPositionAtSnapshot, $0.snapshotTime, $0.snapshotRetry, $0.rebuildRetryAt)
        }
        if journal == nil || journal!.hasFailed {
            guard rebuildRetryAt.map({ now >= $0 }) ?? true else { return }
            do {
                try await rebuild()
                logger.notice("storage rebuilt from disk after a journal failure; accepting writes again")
            } catch {
                logger.error("cannot reopen storage yet; retrying in 1 s", metadata: ["error": "\(error)"])
                state.withLock { $0.rebuildRetryAt = now + .seconds(1) }
            }
            return
        }
        guard let journal, snapshotRetry.map({ now >= $0.at }) ?? true,
            snapshotTrigger.isDue(journalBytes: journal.position - positionAtSnapshot, since: snapshotTime)
        else { return }
        do {
            try await takeSnapshot()
            state.withLock { $0.snapshotRetry = nil }
        } catch {
            let backoff = min((snapshotRetry?.backoff ?? .milliseconds(500)) * 2, .seconds(60))
            state.withLock { $0.snapshotRetry = (now + backoff, backoff) }
            logger.error("snapshot failed", metadata: ["error": "\(error)", "snapshot.retry_seconds": "\(backoff.seconds)"])
        }
    }

    /// Recovers from disk and opens a new journal segment.
    func start() async throws {
        let (memory, journal, result) = try await onBlockingThread("recovery") {
            [directory, policy, segmentLimit, fileSystem, metrics, logger, retention] in
            let start = ContinuousClock.now
            let memory = MemoryStore(retention: retention)
            let result = try Recovery.recover(directory, into: memory, fileSystem: fileSystem, logger: logger)
            let journal = try Journal(
                directory: directory, firstSegment: result.nextSegment, policy: policy, segmentLimit: segmentLimit,
                fileSystem: fileSystem, metrics: metrics, logger: logger)
            let elapsed = ContinuousClock.now - start
            logger.info(
                "recovered",
                metadata: [
                    "recovery.snapshot": "\(result.snapshot ?? "none")",
                    "recovery.snapshot_readings": "\(result.snapshotReadings)",
                    "recovery.replayed_readings": "\(result.replayedReadings)",
                    "recovery.truncated_bytes": "\(result.truncatedBytes)",
                    "recovery.seconds": "\(elapsed.seconds)",
                ])
            return (memory, journal, result)
        }
        state.withLock {
            $0.memory = memory
            $0.journal = journal
            $0.lastRecovery = result
            $0.journalPositionAtSnapshot = 0
            $0.snapshotTime = ContinuousClock.now
            $0.rebuildRetryAt = nil
        }
    }

    /// After a journal failure: closes the failed journal (requests are refused from here on),
    /// cuts what it could not, and rebuilds from disk. Throws if that cannot be done yet.
    func rebuild() async throws {
        let journal = state.withLock { state in
            defer {
                state.memory = nil
                state.journal = nil
            }
            return state.journal
        }
        if let journal {
            try? await onBlockingThread("journal-close") { journal.close() }
            if let tail = journal.unacknowledgedTail { state.withLock { $0.unacknowledgedTail = tail } }
        }
        if let tail = state.withLock({ $0.unacknowledgedTail }) {
            try await onBlockingThread("journal-cut") { [fileSystem] in try fileSystem.truncateDurably(tail.path, to: tail.size) }
            state.withLock { $0.unacknowledgedTail = nil }
        }
        try await start()
    }

    /// Starts a new journal segment, writes a snapshot covering every segment before it, then
    /// deletes those segments and older snapshots.
    public func takeSnapshot() async throws {
        let (memory, journal) = try open()
        let position = journal.position
        let segment = try await journal.rotate()
        // The snapshot holds the readings a horizon left, not the horizon: the new segment, the
        // first one recovery replays after this snapshot, starts with it.
        if memory.horizon > .min {
            _ = try journal.append { JournalRecord.encodeHorizon(memory.horizon, into: &$0) }
        }
        let written = try await onBlockingThread("snapshot") { [directory, fileSystem] in
            try Snapshot.write(memory, coveringBefore: segment, in: directory, fileSystem: fileSystem) {
                // Every reading serialised was appended before this position.
                try journal.waitUntilDurableBlocking(journal.position)
            }
        }
        let listing = try Recovery.list(directory, fileSystem: fileSystem)
        for old in listing.segments where old.number < segment {
            try? fileSystem.remove(directory.appendingPathComponent(old.name).path)
        }
        for old in listing.snapshots where old.segment < segment {
            try? fileSystem.remove(directory.appendingPathComponent(old.name).path)
        }
        state.withLock {
            $0.journalPositionAtSnapshot = position
            $0.snapshotTime = ContinuousClock.now
        }
        logger.info(
            "snapshot written",
            metadata: [
                "snapshot.path": "\(written.path)", "snapshot.readings": "\(written.readings)", "snapshot.bytes": "\(written.bytes)",
            ])
    }

    /// What `kill -9` leaves, for tests that stop a store without stopping the process: the
    /// journal closed where it stands (no snapshot) and the directory unlocked.
    func abandon() async {
        let journal = state.withLock { state in
            defer {
                state.journal = nil
                state.memory = nil
            }
            return state.journal
        }
        if let journal { try? await onBlockingThread("journal-close") { journal.close() } }
        lock.release()
    }

    /// Takes a last snapshot and closes the journal.
    private func stop() async {
        do {
            try await takeSnapshot()
        } catch {
            logger.error("final snapshot failed; the journal still holds everything", metadata: ["error": "\(error)"])
        }
        let journal = state.withLock { state in
            defer { state.journal = nil }
            return state.journal
        }
        if let journal {
            try? await onBlockingThread("journal-close") { journal.close() }
        }
    }
}

/// When snapshots are taken: after this many journal bytes, and/or after this much time with
/// new journal bytes. Either may be off.
public struct SnapshotTrigger: Hashable, Sendable {
    /// Journal bytes since the last snapshot that trigger one (nil: never by size).
    public var bytes: UInt64?
    /// Time since the last snapshot after which new journal bytes trigger one (nil: never by time).
    public var interval: Duration?

    /// Defaults: every 256 MiB of journal.
    public init(bytes: UInt64? = 256 << 20, interval: Duration? = nil) {
        self.bytes = bytes
        self.interval = interval
    }

    func isDue(journalBytes: UInt64, since last: ContinuousClock.Instant) -> Bool {
        if let bytes, journalBytes >= bytes { return true }
        if let interval, journalBytes > 0, ContinuousClock.now - last >= interval { return true }
        return false
    }
}

/// Journals each piece the memory engine decides, under its shard lock: one record per piece
/// (so that a record is bounded whatever the batch), and the position to wait for.
private struct PieceJournaling {
    let journal: Journal
    let device: DeviceID
    /// The journal position the answer waits for.
    var position: UInt64 = 0
    var failure: JournalError?

    /// Records `piece`; false (stop deciding) when the journal refuses it.
    mutating func record(_ piece: ArraySlice<Reading>, _ outcomes: ArraySlice<IngestOutcome>) -> Bool {
        guard outcomes.contains(.accepted) else {
            // Duplicates and conflicts answer for readings stored earlier: wait until everything
            // appended so far is durable before saying so.
            position = journal.position
            return true
        }
        do throws(JournalError) {
            position = try journal.append { out in
                JournalRecord.encodeAccepted(device: device, readings: piece, outcomes: outcomes, into: &out)
            }
            return true
        } catch {
            failure = error
            return false
        }
    }
}
