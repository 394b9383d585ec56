import CoreMetrics
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead journal: numbered segment files of framed records (see ``RecordFrame``),
/// appended by request handlers and written by one writer thread with group commit.
///
/// Appends only copy bytes into a pending buffer and return the journal position after them.
/// The writer takes everything pending at once, writes it, makes it durable as the
/// ``SyncPolicy`` says (one fsync for every request waiting at that moment), then releases the
/// requests waiting for positions up to there.
///
/// A write or fsync error fails every waiting request and refuses every later append. Before the
/// waiting requests hear of it, the writer cuts the segment back to the end of the last records
/// it acknowledged and syncs that, so that no record of a refused request is left on disk to be
/// replayed later (a failed fsync says nothing about what reached the disk). The owner then
/// closes this journal, rebuilds its state from disk and opens a new one. A new segment is only
/// started once everything before it is acknowledged, so the cut never crosses segments.
///
/// Locking: `condition` guards every property marked "guarded"; the writer thread alone touches
/// the file handle and the segment counters.
public final class Journal: @unchecked Sendable {
    /// The folder holding the segments.
    public let directory: URL
    /// When appends count as durable.
    public let policy: SyncPolicy
    /// A segment that reaches this size is closed and a new one started.
    public let segmentLimit: Int
    private let fileSystem: any FileSystem
    private let logger: Logger
    private let metrics: JournalMetrics

    private let condition = NSCondition()
    /// Framed records not yet handed to the writer (guarded).
    private var pending: [UInt8] = []
    /// Journal position (bytes ever appended) after the last append (guarded).
    private var appended: UInt64 = 0
    /// Position up to which appends are durable under the policy (guarded).
    private var durable: UInt64 = 0
    /// Requests waiting for a position to become durable, in position order (guarded).
    private var waiters: [(position: UInt64, done: @Sendable (JournalError?) -> Void)] = []
    /// Rotation requests: the position at which to start a new segment (guarded).
    private var rotations: [(position: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
    /// Set after a write or fsync error; appends are refused from then on (guarded).
    private var failure: JournalError?
    /// The same, readable without the lock (the store checks it on every call).
    private let failed = Atomic<Bool>(false)
    private var stopping = false
    private var stopped = false

    /// Writer-owned: the open segment's handle (-1 when none is open).
    private var handle: Int32 = -1
    /// Writer-owned: the open segment's number and size.
    private var segment: UInt64
    private var segmentSize = 0
    /// Writer-owned: the size of the open segment up to the records acknowledged so far.
    private var acknowledgedSize = 0
    private var lastSync = ContinuousClock.now
    private var unsyncedBytes = 0

    /// Bytes at the start of every segment: magic `DRJL` and the format version (u32 LE).
    static let segmentMagic: [UInt8] = Array("DRJL".utf8)
    static let headerSize = 8
    /// The segment format this server writes; it reads this one and every older one. Format 2
    /// added the device-deleted and horizon records (``JournalRecord``); format 1 held readings
    /// records only. A server that reads only format 1 refuses a format 2 segment by its header
    /// rather than meeting a record it does not know.
    public static let formatVersion: UInt32 = 2

    /// Opens a new segment numbered `segment` in `directory` and starts the writer.
    public init(
        directory: URL, firstSegment segment: UInt64, policy: SyncPolicy, segmentLimit: Int = 64 << 20,
        fileSystem: any FileSystem = PosixFileSystem(), metrics: JournalMetrics = JournalMetrics(), logger: Logger
    ) throws {
        self.metrics = metrics
        self.directory = directory
        self.policy = policy
        self.segmentLimit = segmentLimit
        self.fileSystem = fileSystem
        self.logger = logger
        self.segment = segment
        try openSegment(segment)
        let thread = Thread { [self] in writerLoop() }
        thread.name = "journal-writer"
        thread.start()
    }

    /// The file name of segment `number`.
    public static func segmentName(_ number: UInt64) -> String {
        "journal-" + String(number).leftPadded(to: 16) + ".log"
    }

    // MARK: Appending (any thread)

    /// Appends one record whose payload `encode` writes; returns the journal position after it.
    /// Throws while the journal has failed.
    public func append(_ encode: (inout [UInt8]) -> Void) throws(JournalError) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        let before = pending.count
        RecordFrame.append(to: &pending, encode)
        appended += UInt64(pending.count - before)
        metrics.appends?.increment()
        // Broadcast, not signal: a thread in `waitUntilDurableBlocking` waits on the same
        // condition, and a signal that woke it instead of the writer would be lost.
        condition.broadcast()
        return appended
    }

    /// The position after everything appended so far.
    public var position: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return appended
    }

    /// Whether appends are refused after a failure.
    public var hasFailed: Bool {
        failed.load(ordering: .acquiring)
    }

    /// Returns once everything up to `position` is durable under the policy; throws if the
    /// journal fails first.
    public func waitUntilDurable(_ position: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            whenDurable(position) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }

    /// Calls `done` once everything up to `position` is durable under the policy (with nil), or
    /// the journal failed or closed first (with the error): at once, or from the writer thread.
    public func whenDurable(_ position: UInt64, _ done: @escaping @Sendable (JournalError?) -> Void) {
        condition.lock()
        if let failure {
            condition.unlock()
            done(failure)
        } else if durable >= position {
            condition.unlock()
            done(nil)
        } else if stopping || stopped {
            condition.unlock()
            done(.closed)
        } else {
            waiters.append((position, done))
            condition.unlock()
        }
    }

    /// The same, blocking the calling thread: for file work already on a thread of its own.
    public func waitUntilDurableBlocking(_ position: UInt64) throws {
        condition.lock()
        defer { condition.unlock() }
        while durable < position && failure == nil && !stopped { condition.wait() }
        if let failure { throw failure }
        if durable < position { throw JournalError.closed }
    }

    /// Starts a new segment after everything appended so far; returns its number. Every record
    /// appended before the call is in an older segment.
    public func rotate() async throws -> UInt64 {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UInt64, any Error>) in
            condition.lock()
            if let failure {
                condition.unlock()
                continuation.resume(throwing: failure)
                return
            }
            if stopping || stopped {
                condition.unlock()
                continuation.resume(throwing: JournalError.closed)
                return
            }
            rotations.append((appended, continuation))
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Writes and syncs everything pending, stops the writer and closes the segment.
    public func close() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    // MARK: The writer thread

    private func writerLoop() {
        var chunk: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty && rotations.isEmpty && !stopping && !intervalSyncDue() || failure != nil && !stopping {
                if case .interval(let every) = policy, unsyncedBytes > 0 {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: every.seconds))
                } else {
                    condition.wait()
                }
            }
            if failure != nil || (stopping && pending.isEmpty && rotations.isEmpty) {
                let stoppingNow = stopping
                condition.unlock()
                if stoppingNow {
                    finish()
                    return
                }
                continue
            }
            swap(&chunk, &pending)
            let end = appended
            var requested = rotations[...]
            rotations.removeAll()
            condition.unlock()

            do {
                let chunkStart = end - UInt64(chunk.count)
                var written = 0
                // A rotation: everything before it acknowledged, then the new segment.
                while let rotation = requested.first {
                    let upTo = Int(rotation.position - chunkStart)
                    if upTo > written { try write(chunk[written..<upTo]) }
                    written = max(written, upTo)
                    try settle(upTo: chunkStart + UInt64(written))
                    try roll()
                    requested.removeFirst()
                    rotation.continuation.resume(returning: segment)
                }
                if written < chunk.count {
                    if segmentSize + (chunk.count - written) > segmentLimit && segmentSize > Journal.headerSize {
                        try settle(upTo: chunkStart + UInt64(written))
                        try roll()
                    }
                    try write(chunk[written...])
                }
                try settle(upTo: end)
                chunk.removeAll(keepingCapacity: true)
            } catch {
                let journalError = error as? JournalError ?? .io(operation: "write", path: segmentPath(segment), errno: EIO)
                logger.error("journal write failed; refusing writes until it recovers", metadata: ["error": "\(journalError)"])
                chunk.removeAll(keepingCapacity: true)
                cutBackToAcknowledged()
                condition.lock()
                failure = journalError
                failed.store(true, ordering: .releasing)
                condition.broadcast()
                let failedWaiters = waiters
                waiters.removeAll()
                let failedRotations = rotations
                rotations.removeAll()
                condition.unlock()
                for waiter in failedWaiters { waiter.done(journalError) }
                for rotation in requested + failedRotations { rotation.continuation.resume(throwing: journalError) }
            }
        }
    }

    /// Makes what is written durable as the policy says, then releases the requests waiting for
    /// positions up to `position`.
    private func settle(upTo position: UInt64) throws {
        if policy == .always && unsyncedBytes > 0 || intervalSyncDue() {
            try sync()
        }
        acknowledgedSize = segmentSize
        condition.lock()
        durable = max(durable, position)
        let ready = waiters.prefix { $0.position <= position }
        waiters.removeFirst(ready.count)
        condition.broadcast()
        condition.unlock()
        for waiter in ready { waiter.done(nil) }
    }

    /// After a failure, before anyone hears of it: cuts the open segment back to its acknowledged
    /// records and syncs the cut. If even that fails, the records past that point stay until the
    /// owner's rebuild cuts them (see ``unacknowledgedTail``).
    private func cutBackToAcknowledged() {
        // A short write may have left bytes that `segmentSize` does not count: cut whatever is there.
        guard handle >= 0 else { return }
        let path = segmentPath(segment)
        do {
            try fileSystem.truncate(handle, to: acknowledgedSize, path: path)
            try fileSystem.sync(handle, path: path)
            segmentSize = acknowledgedSize
            logger.notice(
                "cut the journal back to its acknowledged records",
                metadata: ["journal.segment": "\(path)", "journal.size": "\(acknowledgedSize)"])
        } catch {
            logger.error("cannot cut the journal back yet; the rebuild will", metadata: ["error": "\(error)"])
            condition.lock()
            tail = (path, acknowledgedSize)
            condition.unlock()
        }
    }

    /// The segment and size up to which records were acknowledged, when the journal failed with
    /// records written after them (guarded). The owner cuts there before replaying.
    private var tail: (path: String, size: Int)?

    /// After a failure: the segment path and the size to cut it to before replaying, so that no
    /// refused record is replayed.
    public var unacknowledgedTail: (path: String, size: Int)? {
        condition.lock()
        defer { condition.unlock() }
        return tail
    }

    /// Called by the writer when stopping: syncs and closes, then reports that it stopped.
    private func finish() {
        if handle >= 0 {
            if policy != .off && failure == nil { try? fileSystem.sync(handle, path: segmentPath(segment)) }
            fileSystem.close(handle)
            handle = -1
        }
        condition.lock()
        stopped = true
        let failedWaiters = waiters
        waiters.removeAll()
        let failedRotations = rotations
        rotations.removeAll()
        condition.broadcast()
        condition.unlock()
        for waiter in failedWaiters { waiter.done(.closed) }
        for rotation in failedRotations { rotation.continuation.resume(throwing: JournalError.closed) }
    }

    private func intervalSyncDue() -> Bool {
        guard case .interval(let every) = policy, unsyncedBytes > 0 else { return false }
        return ContinuousClock.now - lastSync >= every
    }

    private func segmentPath(_ number: UInt64) -> String {
        directory.appendingPathComponent(Journal.segmentName(number)).path
    }

    /// Creates segment `number` with its header, synced (and its directory entry) unless the
    /// policy is `off`. On failure nothing is left behind: the file is closed and removed, so that
    /// a full disk never leaves a header-less segment that a later one would follow.
    private func openSegment(_ number: UInt64) throws {
        let path = segmentPath(number)
        let newHandle = try fileSystem.open(path, .createNew)
        handle = newHandle
        segment = number
        segmentSize = 0
        acknowledgedSize = 0
        do {
            var header = Journal.segmentMagic
            header.appendLittleEndianUInt32(Journal.formatVersion)
            try write(header[...])
            if policy != .off {
                try sync()
                try fileSystem.syncDirectory(directory.path)
            }
            acknowledgedSize = segmentSize
        } catch {
            fileSystem.close(newHandle)
            handle = -1
            try? fileSystem.remove(path)
            try? fileSystem.syncDirectory(directory.path)
            throw error
        }
    }

    /// Closes the open segment, synced whatever the policy (so that a segment is never torn once
    /// a later one exists), and starts the next.
    private func roll() throws {
        try sync()
        fileSystem.close(handle)
        handle = -1
        try openSegment(segment + 1)
    }

    private func write(_ bytes: ArraySlice<UInt8>) throws {
        let path = segmentPath(segment)
        try bytes.withUnsafeBytes { try fileSystem.writeAll(handle, $0, path: path) }
        segmentSize += bytes.count
        unsyncedBytes += bytes.count
    }

    private func sync() throws {
        let start = ContinuousClock.now
        try fileSystem.sync(handle, path: segmentPath(segment))
        metrics.syncs?.increment()
        metrics.syncDuration?.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        lastSync = ContinuousClock.now
        unsyncedBytes = 0
    }
}

/// Why the journal refused or failed a write.
public enum JournalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// The journal was closed.
    case closed

    public var description: String {
        switch self {
        case .io(let operation, let path, let code): "\(operation) \(path): \(String(cString: strerror(code)))"
        case .closed: "the journal is closed"
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

extension String {
    /// `self` with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndianUInt32(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// The journal's metrics (swift-metrics; absent ones are not recorded): records appended, syncs,
/// and each sync's duration.
public struct JournalMetrics: Sendable {
    let appends: CoreMetrics.Counter?
    let syncs: CoreMetrics.Counter?
    let syncDuration: CoreMetrics.Timer?

    /// No metrics.
    public init() {
        appends = nil
        syncs = nil
        syncDuration = nil
    }

    /// `journal_appends_total`, `journal_syncs_total` and `journal_sync_duration_seconds` from `factory`.
    public init(factory: any MetricsFactory) {
        appends = CoreMetrics.Counter(label: "journal_appends_total", factory: factory)
        syncs = CoreMetrics.Counter(label: "journal_syncs_total", factory: factory)
        syncDuration = CoreMetrics.Timer(label: "journal_sync_duration_seconds", factory: factory)
    }
}
