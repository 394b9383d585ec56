import ReadingsDomain

/// The one interface every storage engine implements: memory, memory with a journal, PostgreSQL.
///
/// Engines are shared by all requests at once and may live in another process, so every method
/// is `async throws`. An engine that cannot take writes throws ``StorageError/unavailable(_:)``
/// and guarantees that nothing of that call was applied. Each method sees one device at one
/// consistent moment: every reading of a batch is decided exactly once, in order, and a read
/// sees the device between two decisions, never in the middle of one (its summary always
/// matches its readings). The memory engines decide a large batch in pieces, so a read may see
/// the first pieces of a batch stored and the rest not yet (see `MemoryStore`); PostgreSQL
/// commits a batch in one transaction.
public protocol ReadingStore: Sendable {
    /// Decides and stores `readings` of `device` in order: new readings are stored and counted,
    /// repeats of an instant already stored (earlier, or earlier in this batch) are duplicates or
    /// conflicts, and a new reading that would push the cumulative count past 2^63−1 is refused.
    /// Under a retention, a reading before the engine's horizon is ``IngestOutcome/tooOld``,
    /// decided before anything else. Returns one outcome per reading, in order.
    func ingest(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome]

    /// The device's summary, or nil when the device is unknown (never ingested, or deleted).
    /// Under a retention a device whose readings have all expired is still known: its summary
    /// keeps its latest instant and all-time cumulative count, with a reading count of 0.
    func summary(of device: DeviceID) async throws -> DeviceSummary?

    /// The device's readings in `range`, ascending by instant, at most `limit` of them, with its
    /// summary at the same moment; nil when the device is unknown. Paging with `next` walks a
    /// range of any size (the export does), each page at its own moment.
    func readings(of device: DeviceID, in range: InstantRange, limit: Int) async throws -> DeviceReadings?

    /// The device's readings in `grid.range` summed per bucket of `grid` (exactly `grid.count`
    /// totals, empty buckets as zeros), or nil when the device is unknown.
    func buckets(of device: DeviceID, grid: BucketGrid) async throws -> [BucketTotal]?

    /// Devices in id order (UTF-8 byte order): those after `after` (exclusive) whose id starts
    /// with `prefix` (all when empty), at most `limit`, each with its summary.
    func devices(after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList

    /// ``devices(after:prefix:limit:)`` restricted to silent devices: those whose latest reading
    /// is before `cutoff`.
    func silentDevices(before cutoff: Instant, after: DeviceID?, prefix: [UInt8], limit: Int) async throws -> DeviceList

    /// Removes the device and every reading it has; true when it existed, false when it was
    /// unknown. Afterwards every read answers as for an unknown device and the listing omits it;
    /// a later ingest for the same id starts a new device from zero. Linearisable with ingests of
    /// the device: every reading an ingest accepted was either removed with the device or belongs
    /// to the new one, and its count is in exactly one of them. Durable as the engine's ingests
    /// are (journaled: the answer waits for the journal; PostgreSQL: one transaction).
    func deleteDevice(_ device: DeviceID) async throws -> Bool

    /// Retention (see ``Retention``): advances the engine's horizon to `now − period` (never back)
    /// and removes every reading before it, in bounded steps (no lock or transaction held long),
    /// giving their memory or disk space back. Cumulative counts stay as they are. Returns the
    /// number of readings removed; 0, doing nothing, when the engine has no retention.
    func removeExpiredReadings() async throws -> Int

    /// Whether the engine is open and recovered and can serve (for `/ready`).
    func isReady() async -> Bool

    /// Devices and readings stored and the bytes they occupy, for `/metrics`.
    func statistics() async throws -> StoreStatistics

    /// ``ingest(_:for:)`` for callers that cannot suspend (the HTTP layer's event loops):
    /// `completion` is called once, on any thread, when the answer may be given. The default
    /// runs the async call in a task; engines that decide without suspending (memory) call
    /// `completion` before returning, and the journaled engine calls it from its group commit.
    func ingest(
        _ readings: [Reading], for device: DeviceID,
        completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void)

    /// ``summary(of:)`` in the same style.
    func summary(of device: DeviceID, completion: @escaping @Sendable (Result<DeviceSummary?, any Error>) -> Void)
}

extension ReadingStore {
    public func ingest(
        _ readings: [Reading], for device: DeviceID,
        completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
    ) {
        complete(completion) { try await ingest(readings, for: device) }
    }

    public func summary(of device: DeviceID, completion: @escaping @Sendable (Result<DeviceSummary?, any Error>) -> Void) {
        complete(completion) { try await summary(of: device) }
    }
}

/// Runs `body` in a task and hands its result to `completion`: the bridge from callers that
/// cannot suspend to an engine's async call.
public func complete<T: Sendable>(
    _ completion: @escaping @Sendable (Result<T, any Error>) -> Void, with body: @escaping @Sendable () async throws -> T
) {
    Task {
        do {
            completion(.success(try await body()))
        } catch {
            completion(.failure(error))
        }
    }
}

/// A page of the device listing.
public struct DeviceList: Hashable, Sendable {
    /// The devices of the page in id order, each with its summary at the moment it was read.
    public var devices: [DeviceListEntry]
    /// Whether more devices match after the page's last.
    public var hasMore: Bool

    /// Creates a page.
    public init(devices: [DeviceListEntry], hasMore: Bool) {
        self.devices = devices
        self.hasMore = hasMore
    }
}

/// One device of the listing.
public struct DeviceListEntry: Hashable, Sendable {
    public var id: DeviceID
    public var summary: DeviceSummary

    /// Creates an entry.
    public init(id: DeviceID, summary: DeviceSummary) {
        self.id = id
        self.summary = summary
    }
}

/// A page of one device's readings, read at one consistent moment.
public struct DeviceReadings: Hashable, Sendable {
    /// The whole device's summary (not just the page's).
    public var summary: DeviceSummary
    /// The readings of the page, ascending by instant.
    public var readings: [Reading]
    /// The instant of the first reading after the page, when more matched than the limit.
    public var next: Instant?

    /// Creates a page.
    public init(summary: DeviceSummary, readings: [Reading], next: Instant?) {
        self.summary = summary
        self.readings = readings
        self.next = next
    }
}

/// Failures an engine reports to its callers.
public enum StorageError: Error, Hashable, Sendable {
    /// The engine cannot serve now (database down, disk full); nothing of the call was applied.
    /// Retrying later may succeed.
    case unavailable(String)
}

/// What a store holds, for metrics and benchmarks.
public struct StoreStatistics: Hashable, Sendable {
    /// Devices with at least one reading.
    public var devices = 0
    /// Readings stored.
    public var readings = 0
    /// Sealed blocks.
    public var blocks = 0
    /// Bytes the engine's structures occupy in this process (0 for an engine that keeps its
    /// readings elsewhere, such as PostgreSQL).
    public var memoryBytes = 0

    /// Creates empty statistics.
    public init() {}
}
