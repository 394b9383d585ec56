import ReadingsDomain
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The in-memory engine: devices spread over shards by a keyed hash of their id, one lock per
/// shard. Readings are kept compressed (see ``DeviceSeries`` and ``BlockCodec``): a few bytes each.
///
/// Locking: a shard's mutex guards its device table, every series in it, and the shard's decode
/// scratch. No method takes two shard locks and no lock is held across a suspension point, so
/// there is no ordering to get wrong. Readers take the same lock, so each read sees one
/// consistent moment of a device.
///
/// A batch is decided in pieces of at most ``pieceSize`` readings, the lock taken once per piece
/// (and the task yielding between pieces), so that however large a batch and however late its
/// readings, no request holds a shard, or a thread, for long. Each reading is still decided
/// exactly once, in input order; a read between two pieces sees the first piece stored and the
/// second not yet, which is one consistent moment of the device.
///
/// Hash flooding: the hash that picks a device's shard and its slot in the shard's table is
/// keyed with a random key drawn when the store is created (see ``DeviceHasher``), so ids chosen
/// by a client cannot be made to pile into one shard or one probe chain. Nothing persisted
/// depends on it.
public final class MemoryStore: ReadingStore {
    private let shards: [Shard]
    private let shardMask: Int
    /// Every id in byte order, for the device listing.
    private let directory = DeviceDirectory()
    /// The keyed hash of ids.
    private let hasher = DeviceHasher()

    /// Readings decided under one lock hold.
    public static let pieceSize = 4096

    /// Creates an empty store with `2^shardBits` shards.
    public init(shardBits: Int = 6) {
        let count = 1 << shardBits
        self.shards = (0..<count).map { _ in Shard() }
        self.shardMask = count - 1
    }

    /// What one lock guards.
    struct ShardState {
        var devices = DeviceTable()
        var scratch = BlockScratch()
    }

    private final class Shard: Sendable {
        let state = Mutex(ShardState())
        /// Threads about to take or waiting for the lock. A batch checks it between pieces and
        /// steps aside while it is non-zero: without that, the thread that just released the lock
        /// takes it again before a woken waiter runs, and a reader would wait for the whole batch.
        let waiting = Atomic<Int>(0)

        /// Runs `body` under the lock, counted in ``waiting`` until the lock is taken.
        @inline(__always)
        func withLock<R>(_ body: (inout sending ShardState) -> sending R) -> sending R {
            waiting.add(1, ordering: .relaxed)
            return state.withLock { state in
                waiting.subtract(1, ordering: .relaxed)
                return body(&state)
            }
        }

        /// Lets threads waiting for the lock take it first (bounded: a few hundred microseconds).
        func stepAsideForWaiters() {
            var rounds = 0
            while waiting.load(ordering: .relaxed) > 0 && rounds < 200 {
                sched_yield()
                rounds += 1
            }
        }
    }

    /// The shard of a device, chosen by the low bits of `hash` (its keyed hash, which the
    /// shard's table also uses, from its high bits).
    @inline(__always)
    private func shard(for hash: UInt64) -> Shard {
        shards[Int(truncatingIfNeeded: hash) & shardMask]
    }

    /// The index of the shard that holds `device` (for tests).
    func shardIndex(of device: DeviceID) -> Int {
        Int(truncatingIfNeeded: hasher.hash(device)) & shardMask
    }

    /// Runs `body` on the device's series under its shard's lock; nil when the device is unknown.
    private func withSeries<R>(of device: DeviceID, _ body: (DeviceSeries) -> R?) -> R? {
        let hash = hasher.hash(device)
        return shard(for: hash).withLock { state in
            guard let position = state.devices.position(of: device, hash: hash) else { return nil }
            return body(state.devices.series[position])
        }
    }

    /// Decides and stores `readings` (the engine's `ReadingStore` entry), yielding between pieces.
    public func ingest(_ readings: [Reading], for device: DeviceID) async -> [IngestOutcome] {
        await ingest(readings, for: device) { _, _ in true }
    }

    /// Decides and stores `readings` piece by piece, calling `whileLocked` with each piece and
    /// its outcomes while the device's shard lock is still held (a journal appends there, so that
    /// its records of one device are in exactly the order the decisions were made), and yielding
    /// between pieces. `whileLocked` returns false to stop: the pieces after it are not decided
    /// and the outcomes returned end with the last piece decided.
    public func ingest(
        _ readings: [Reading], for device: DeviceID,
        whileLocked: (ArraySlice<Reading>, ArraySlice<IngestOutcome>) -> Bool
    ) async -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        let hash = hasher.hash(device)
        var start = 0
        while start < readings.count {
            if start > 0 {
                shard(for: hash).stepAsideForWaiters()
                await Task.yield()
            }
            let end = min(start + MemoryStore.pieceSize, readings.count)
            guard ingestPiece(readings[start..<end], for: device, hash: hash, into: &outcomes, whileLocked: whileLocked) else { break }
            start = end
        }
        return outcomes
    }

    /// The same without yielding (recovery, tests, batches of one piece): every piece decided
    /// on the calling thread.
    public func ingestNow(_ readings: [Reading], for device: DeviceID) -> [IngestOutcome] {
        ingestNow(readings, for: device) { _, _ in true }
    }

    /// ``ingest(_:for:whileLocked:)`` without yielding.
    public func ingestNow(
        _ readings: [Reading], for device: DeviceID,
        whileLocked: (ArraySlice<Reading>, ArraySlice<IngestOutcome>) -> Bool
    ) -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        let hash = hasher.hash(device)
        var start = 0
        while start < readings.count {
            let end = min(start + MemoryStore.pieceSize, readings.count)
            guard ingestPiece(readings[start..<end], for: device, hash: hash, into: &outcomes, whileLocked: whileLocked) else { break }
            start = end
        }
        return outcomes
    }

    /// A batch of at most one piece is decided at once, on the calling thread (one lock hold,
    /// as bounded as any piece); a larger one in a task that yields between pieces.
    public func ingest(
        _ readings: [Reading], for device: DeviceID,
        completion: @escaping @Sendable (Result<[IngestOutcome], any Error>) -> Void
    ) {
        guard readings.count > MemoryStore.pieceSize else {
            completion(.success(ingestNow(readings, for: device)))
            return
        }
        Task { completion(.success(await ingest(readings, for: device))) }
    }

    public func summary(of device: DeviceID, completion: @escaping @Sendable (Result<DeviceSummary?, any Error>) -> Void) {
        completion(.success(summary(of: device)))
    }

    /// One piece under one lock hold.
    private func ingestPiece(
        _ piece: ArraySlice<Reading>, for device: DeviceID, hash: UInt64, into outcomes: inout [IngestOutcome],
        whileLocked: (ArraySlice<Reading>, ArraySlice<IngestOutcome>) -> Bool
    ) -> Bool {
        shard(for: hash).withLock { state in
            let (position, added) = state.devices.positionAdding(device, hash: hash, hasher: hasher)
            let before = outcomes.count
            state.devices.withSeries(at: position) { $0.insert(piece, into: &outcomes, scratch: &state.scratch) }
            // The first reading of a new device is always accepted, so it now exists.
            if added { directory.add(device) }
            return whileLocked(piece, outcomes[before...])
        }
    }

    /// Calls `body` with every device's series as it is at one moment per shard: each shard's
    /// table is copied under its lock (copy-on-write makes that cheap) and visited after it.
    public func forEachSeries(_ body: (DeviceID, StoredSeries) throws -> Void) rethrows {
        for shard in shards {
            let devices = shard.withLock { $0.devices }
            for position in 0..<devices.count {
                try body(devices.ids[position], StoredSeries(series: devices.series[position]))
            }
        }
    }

    /// Puts a device's series back as a snapshot held it (recovery, before serving).
    public func restore(_ series: StoredSeries, for device: DeviceID) {
        let hash = hasher.hash(device)
        shard(for: hash).withLock { state in
            let (position, added) = state.devices.positionAdding(device, hash: hash, hasher: hasher)
            state.devices.withSeries(at: position) { $0 = series.series }
            if added { directory.add(device) }
        }
    }

    public func summary(of device: DeviceID) -> DeviceSummary? {
        withSeries(of: device) { $0.summary }
    }

    public func readings(of device: DeviceID, in range: InstantRange, limit: Int) -> DeviceReadings? {
        withSeries(of: device) { series in
            guard let summary = series.summary else { return nil }
            let (page, next) = series.readings(in: range, limit: limit)
            return DeviceReadings(summary: summary, readings: page, next: next)
        }
    }

    public func buckets(of device: DeviceID, grid: BucketGrid) -> [BucketTotal]? {
        withSeries(of: device) { series in
            guard series.count > 0 else { return nil }
            var totals = [BucketTotal](repeating: BucketTotal(), count: grid.count)
            series.visit(in: grid.range) { t, c in
                let bucket = grid.bucket(of: t)
                totals[bucket].count += Int64(c)
                totals[bucket].readings += 1
                return true
            }
            return totals
        }
    }

    public func devices(after: DeviceID?, prefix: [UInt8], limit: Int) -> DeviceList {
        let (ids, hasMore) = directory.page(after: after, prefix: prefix, limit: limit)
        var entries: [DeviceListEntry] = []
        entries.reserveCapacity(ids.count)
        for id in ids {
            // Each device's summary at the moment its shard is visited.
            if let summary = summary(of: id) { entries.append(DeviceListEntry(id: id, summary: summary)) }
        }
        return DeviceList(devices: entries, hasMore: hasMore)
    }

    /// Silent devices in id order, found one of two ways. First the id directory is walked in
    /// order, as for the whole listing, checking each device's summary: when silent devices are
    /// common this fills the page after a few hundred devices. If `32 × (limit + 1)` devices
    /// have been walked without filling it, silent devices are rare, and every shard is scanned
    /// once instead (one lock hold each, over the table's dense arrays), keeping only the
    /// `limit + 1` least matching ids (the candidates are cut back to them whenever they reach
    /// four times that), which costs one pass over the fleet's summaries. Each device's summary
    /// is read at the moment its shard is visited.
    public func silentDevices(before cutoff: Instant, after: DeviceID?, prefix: [UInt8], limit: Int) -> DeviceList {
        let keep = limit + 1
        var found: [DeviceListEntry] = []
        var cursor = after
        var walked = 0
        while walked < 32 * keep {
            let (ids, more) = directory.page(after: cursor, prefix: prefix, limit: keep)
            for id in ids {
                walked += 1
                if let summary = summary(of: id), summary.latest < cutoff {
                    found.append(DeviceListEntry(id: id, summary: summary))
                    if found.count == keep {
                        found.removeLast()
                        return DeviceList(devices: found, hasMore: true)
                    }
                }
            }
            guard more, let last = ids.last else { return DeviceList(devices: found, hasMore: false) }
            cursor = last
        }
        return scanSilentDevices(before: cutoff, after: after, prefix: prefix, limit: limit)
    }

    private func scanSilentDevices(before cutoff: Instant, after: DeviceID?, prefix: [UInt8], limit: Int) -> DeviceList {
        let keep = limit + 1
        var candidates: [DeviceListEntry] = []
        // Once `keep` candidates are certain, ids past the greatest of them cannot be on the page.
        var bound: DeviceID?
        func cut() {
            candidates.sort { $0.id < $1.id }
            candidates.removeLast(max(0, candidates.count - keep))
            if candidates.count == keep { bound = candidates.last?.id }
        }
        for shard in shards {
            shard.withLock { state in
                for (id, series) in zip(state.devices.ids, state.devices.series) {
                    guard let summary = series.summary, summary.latest < cutoff else { continue }
                    if let after, id <= after { continue }
                    if let bound, id >= bound { continue }
                    if !prefix.isEmpty && !id.utf8.starts(with: prefix) { continue }
                    candidates.append(DeviceListEntry(id: id, summary: summary))
                    if candidates.count >= 4 * keep { cut() }
                }
            }
        }
        cut()
        let hasMore = candidates.count > limit
        if hasMore { candidates.removeLast() }
        return DeviceList(devices: candidates, hasMore: hasMore)
    }

    public func isReady() -> Bool { true }

    /// Devices and readings stored, and the bytes the engine's tables, heads, block indexes,
    /// blocks and id directory occupy (estimated from capacities; ids counted at their byte
    /// length plus an array header).
    public func statistics() -> StoreStatistics {
        var statistics = StoreStatistics()
        statistics.memoryBytes = directory.memoryBytes
        for shard in shards {
            shard.withLock { state in
                statistics.devices += state.devices.count
                statistics.memoryBytes += state.devices.memoryBytes
                for (id, series) in zip(state.devices.ids, state.devices.series) {
                    statistics.readings += series.count
                    statistics.blocks += series.blockCount
                    statistics.memoryBytes += 32 + id.utf8.capacity + series.memoryBytes - MemoryLayout<DeviceSeries>.stride
                }
            }
        }
        return statistics
    }
}

/// A device's series, opaque outside this module except for its byte serialisation (see
/// `DeviceSeries+Serialization.swift`), which snapshots use.
public struct StoredSeries: Sendable {
    var series: DeviceSeries
}

/// The hash of device ids that places them in shards and table slots: SipHash (Swift's `Hasher`,
/// seeded per process) over the id's bytes and a random key drawn per store, so that a client
/// cannot choose ids that collide. (FNV-1a, used before, let anyone compute ids that all land
/// in one shard and one probe chain.)
struct DeviceHasher: Sendable {
    private let key: UInt64

    init() {
        var generator = SystemRandomNumberGenerator()
        key = generator.next()
    }

    @inline(__always)
    func hash(_ id: DeviceID) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(key)
        id.utf8.withUnsafeBytes { hasher.combine(bytes: $0) }
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }
}
