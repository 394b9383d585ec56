import CoreMetrics
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead journal: numbered segment files of framed records (see ``RecordFrame``),
/// appended by request handlers and written by one writer thread with group commit.
///
/// Appends only copy bytes into a pending buffer and return the journal position after them.
/// The writer takes everything pending at once, writes it, makes it durable as the
/// ``SyncPolicy`` says (one fsync for every request waiting at that moment), then releases the
/// requests waiting for positions up to there. A write or fsync error fails every waiting request
/// and refuses every later append: the owner then closes this journal, rebuilds its state from
/// disk (so that nothing unacknowledged stays in memory) and opens a new one.
///
/// Locking: `condition` guards every property marked "guarded"; the writer thread alone touches
/// the file descriptor and the segment counters.
public final class Journal: @unchecked Sendable {
    /// The folder holding the segments.
    public let directory: URL
    /// When appends count as durable.
    public let policy: SyncPolicy
    /// A segment that reaches this size is closed and a new one started.
    public let segmentLimit: Int
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
    private var waiters: [(position: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    /// Rotation requests: the position at which to start a new segment (guarded).
    private var rotations: [(position: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
    /// Set after a write or fsync error; appends are refused from then on (guarded).
    private var failure: JournalError?
    private var stopping = false
    private var stopped = false
    /// Syncs done and their total duration (guarded), for metrics.
    private(set) var syncCount = 0
    private(set) var syncSeconds = 0.0

    /// Writer-owned: the open segment.
    private var fd: Int32 = -1
    /// Writer-owned: the open segment's number and size.
    private var segment: UInt64
    private var segmentSize = 0
    private var lastSync = ContinuousClock.now
    private var unsyncedBytes = 0

    /// Bytes at the start of every segment: magic `DRJL` and the format version (u32 LE).
    static let segmentMagic: [UInt8] = Array("DRJL".utf8)
    /// The segment format this server writes; it reads this one and every older one.
    public static let formatVersion: UInt32 = 1

    /// Opens a new segment numbered `segment` in `directory` and starts the writer.
    public init(
        directory: URL, firstSegment segment: UInt64, policy: SyncPolicy, segmentLimit: Int = 64 << 20,
        metrics: JournalMetrics = JournalMetrics(), logger: Logger
    ) throws {
        self.metrics = metrics
        self.directory = directory
        self.policy = policy
        self.segmentLimit = segmentLimit
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
        condition.signal()
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
        condition.lock()
        defer { condition.unlock() }
        return failure != nil
    }

    /// Returns once everything up to `position` is durable under the policy; throws if the
    /// journal fails first.
    public func waitUntilDurable(_ position: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            condition.lock()
            if let failure {
                condition.unlock()
                continuation.resume(throwing: failure)
            } else if durable >= position {
                condition.unlock()
                continuation.resume()
            } else {
                waiters.append((position, continuation))
                condition.unlock()
            }
        }
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
            rotations.append((appended, continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Writes and syncs everything pending, stops the writer and closes the segment.
    public func close() {
        condition.lock()
        stopping = true
        condition.signal()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    /// Syncs done so far and the seconds they took.
    public var syncStatistics: (count: Int, seconds: Double) {
        condition.lock()
        defer { condition.unlock() }
        return (syncCount, syncSeconds)
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
            let requested = rotations
            rotations.removeAll()
            condition.unlock()

            do {
                let chunkStart = end - UInt64(chunk.count)
                var written = 0
                for rotation in requested {
                    let upTo = Int(rotation.position - chunkStart)
                    if upTo > written { try write(chunk[written..<upTo]) }
                    written = max(written, upTo)
                    try roll()
                }
                if written < chunk.count {
                    if segmentSize + (chunk.count - written) > segmentLimit && segmentSize > Journal.headerSize {
                        try roll()
                    }
                    try write(chunk[written...])
                }
                if policy == .always && !chunk.isEmpty || intervalSyncDue() {
                    try sync()
                }
                chunk.removeAll(keepingCapacity: true)
                condition.lock()
                durable = end
                let ready = waiters.prefix { $0.position <= end }
                waiters.removeFirst(ready.count)
                condition.unlock()
                for waiter in ready { waiter.continuation.resume() }
                for rotation in requested { rotation.continuation.resume(returning: segment) }
            } catch {
                let journalError = error as? JournalError ?? .io(operation: "write", path: segmentPath(segment), errno: EIO)
                logger.error("journal write failed; refusing writes until it recovers", metadata: ["error": "\(journalError)"])
                chunk.removeAll(keepingCapacity: true)
                condition.lock()
                failure = journalError
                let failed = waiters
                waiters.removeAll()
                let failedRotations = rotations
                rotations.removeAll()
                condition.unlock()
                for waiter in failed { waiter.continuation.resume(throwing: journalError) }
                for rotation in requested + failedRotations { rotation.continuation.resume(throwing: journalError) }
            }
        }
    }

    /// Called by the writer when stopping: syncs and closes, then reports that it stopped.
    private func finish() {
        if policy != .off { _ = fsync(fd) }
        Glibc.close(fd)
        condition.lock()
        stopped = true
        let failed = waiters
        waiters.removeAll()
        condition.broadcast()
        condition.unlock()
        for waiter in failed { waiter.continuation.resume(throwing: JournalError.closed) }
    }

    private func intervalSyncDue() -> Bool {
        guard case .interval(let every) = policy, unsyncedBytes > 0 else { return false }
        return ContinuousClock.now - lastSync >= every
    }

    private static let headerSize = 8

    private func segmentPath(_ number: UInt64) -> String {
        directory.appendingPathComponent(Journal.segmentName(number)).path
    }

    private func openSegment(_ number: UInt64) throws {
        let path = segmentPath(number)
        let newFD = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard newFD >= 0 else { throw JournalError.io(operation: "create", path: path, errno: errno) }
        fd = newFD
        segment = number
        segmentSize = 0
        var header = Journal.segmentMagic
        header.appendLittleEndianUInt32(Journal.formatVersion)
        try write(header[...])
        if policy != .off {
            try sync()
            try Durability.syncDirectory(directory)
        }
    }

    private func roll() throws {
        if policy != .off { try sync() }
        Glibc.close(fd)
        try openSegment(segment + 1)
    }

    private func write(_ bytes: ArraySlice<UInt8>) throws {
        try bytes.withUnsafeBytes { try Durability.writeAll($0, to: fd, path: segmentPath(segment)) }
        segmentSize += bytes.count
        unsyncedBytes += bytes.count
    }

    private func sync() throws {
        let start = ContinuousClock.now
        guard fdatasync(fd) == 0 else { throw JournalError.io(operation: "fsync", path: segmentPath(segment), errno: errno) }
        let elapsed = ContinuousClock.now - start
        metrics.syncs?.increment()
        metrics.syncDuration?.recordNanoseconds(Int64(elapsed.seconds * 1e9))
        lastSync = ContinuousClock.now
        unsyncedBytes = 0
        condition.lock()
        syncCount += 1
        syncSeconds += elapsed.seconds
        condition.unlock()
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

/// File-system durability helpers.
enum Durability {
    /// Writes all of `bytes` to `fd` (retrying short writes and interruptions), or throws.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.io(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// fsyncs a directory, so that files created or renamed in it survive a power loss.
    static func syncDirectory(_ directory: URL) throws {
        let fd = Glibc.open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: directory.path, errno: errno) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw JournalError.io(operation: "fsync", path: directory.path, errno: errno) }
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
