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
/// Deleting a device removes it from its shard's table and the id directory under the shard's
/// lock, so an ingest of the same id is decided wholly before (and deleted with it) or wholly
/// after (a new device from zero), piece by piece.
///
/// Retention (see ``Retention``): the store keeps a horizon that never moves back, the greatest
/// given to ``removeReadings(before:)``; an ingest reads it under the shard's lock and refuses
/// readings before the greater of it and `now − period`. A removal publishes the new horizon
/// before it takes any shard's lock, so once a reading is removed, every later decision on its
/// shard sees a horizon after it: it cannot come back as new. Removal goes shard by shard and
/// device by device, each lock hold removing at most ``removalBudget`` readings.
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

    /// The retention, if any.
    public let retention: Retention?
    /// The greatest horizon readings were removed before (nanoseconds), never moving back.
    private let removedBefore = Atomic<Int64>(.min)

    /// Readings decided under one lock hold.
    public static let pieceSize = 4096
    /// Readings removed under one lock hold (about; whole chunks of a few thousand go at once).
    public static let removalBudget = 1 << 16

    /// Creates an empty store with `2^shardBits` shards, keeping readings for `retention` (nil:
    /// forever).
    public init(shardBits: Int = 6, retention: Retention? = nil) {
        let count = 1 << shardBits
        self.shards = (0..<count).map { _ in Shard() }
        self.shardMask = count - 1
        self.retention = retention
    }

    /// The horizon an ingest decides with: read under the shard's lock (see the type's notes).
    @inline(__always)
    private func ingestHorizon() -> Int64 {
        let removed = removedBefore.load(ordering: .acquiring)
        guard let retention else { return removed }
        return max(removed, retention.horizonNow().nanoseconds)
    }

    /// The horizon readings have been removed before (`.min` when none has been).
    public var horizon: Instant { Instant(nanoseconds: removedBefore.load(ordering: .acquiring)) }

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

    /// Stores readings a journal had recorded as accepted (recovery): decided as an ingest is,
    /// but without the retention's horizon, since they were accepted when they arrived (a later
    /// horizon record in the journal removes them again).
    public func replay(_ readings: [Reading], for device: DeviceID) {
        _ = decideNow(readings, for: device, horizon: .min) { _, _ in true }
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
        decideNow(readings, for: device, horizon: nil, whileLocked: whileLocked)
    }

    /// Every piece decided on the calling thread, with `horizon` (nil: the store's own).
    private func decideNow(
        _ readings: [Reading], for device: DeviceID, horizon: Int64?,
        whileLocked: (ArraySlice<Reading>, ArraySlice<IngestOutcome>) -> Bool
    ) -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        let hash = hasher.hash(device)
        var start = 0
        while start < readings.count {
            let end = min(start + MemoryStore.pieceSize, readings.count)
            guard ingestPiece(readings[start..<end], for: device, hash: hash, into: &outcomes, horizon: horizon, whileLocked: whileLocked)
            else { break }
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
        horizon fixedHorizon: Int64? = nil, whileLocked: (ArraySlice<Reading>, ArraySlice<IngestOutcome>) -> Bool
    ) -> Bool {
        shard(for: hash).withLock { state in
            let horizon = fixedHorizon ?? ingestHorizon()
            let (position, added) = state.devices.positionAdding(device, hash: hash, hasher: hasher)
            let before = outcomes.count
            let exists = state.devices.withSeries(at: position) { series in
                series.insert(piece, into: &outcomes, horizon: horizon, scratch: &state.scratch)
                return series.exists
            }
            if added {
                // A new device exists once it accepted a reading; one whose every reading was too
                // old leaves no trace.
                if exists { directory.add(device) } else { state.devices.remove(at: position, hasher: hasher) }
            }
            return whileLocked(piece, outcomes[before...])
        }
    }

    // MARK: Deleting and retention

    /// Deletes the device (see ``ReadingStore/deleteDevice(_:)``), calling `whileLocked` with
    /// whether it existed while its shard's lock is still held (the journal appends there).
    public func deleteDevice(_ device: DeviceID, whileLocked: (Bool) -> Void = { _ in }) -> Bool {
        let hash = hasher.hash(device)
        return shard(for: hash).withLock { state in
            guard let position = state.devices.position(of: device, hash: hash) else {
                whileLocked(false)
                return false
            }
            state.devices.remove(at: position, hasher: hasher)
            state.devices.trimCapacity()
            directory.remove(device)
            whileLocked(true)
            return true
        }
    }

    public func deleteDevice(_ device: DeviceID) -> Bool {
        deleteDevice(device) { _ in }
    }

    public func removeExpiredReadings() async -> Int {
        guard let retention else { return 0 }
        return await removeReadings(before: retention.horizonNow())
    }

    /// Advances the horizon to `horizon` (never back) and removes every reading before the
    /// horizon, yielding between lock holds; returns the number removed. Devices created or moved
    /// during the pass may be visited after it (the next pass removes theirs).
    public func removeReadings(before horizon: Instant) async -> Int {
        let target = advanceHorizon(to: horizon)
        var removed = 0
        for shard in shards {
            var position = 0
            while true {
                let (count, next) = removeStep(in: shard, from: position, before: target)
                removed += count
                guard let next else { break }
                position = next
                shard.stepAsideForWaiters()
                await Task.yield()
            }
        }
        if removed > 0 { releaseFreeMemory() }
        return removed
    }

    /// ``removeReadings(before:)`` on the calling thread (recovery).
    @discardableResult
    public func removeReadingsNow(before horizon: Instant) -> Int {
        let target = advanceHorizon(to: horizon)
        var removed = 0
        for shard in shards {
            var position: Int? = 0
            while let from = position {
                let (count, next) = removeStep(in: shard, from: from, before: target)
                removed += count
                position = next
            }
        }
        if removed > 0 { releaseFreeMemory() }
        return removed
    }

    /// Raises the horizon to `horizon` unless it is past it already; returns the horizon now.
    @discardableResult
    public func advanceHorizon(to horizon: Instant) -> Int64 {
        var current = removedBefore.load(ordering: .acquiring)
        while current < horizon.nanoseconds {
            let (exchanged, original) = removedBefore.compareExchange(
                expected: current, desired: horizon.nanoseconds, ordering: .acquiringAndReleasing)
            if exchanged { return horizon.nanoseconds }
            current = original
        }
        return current
    }

    /// One lock hold of a removal: devices from `position` on, until about ``removalBudget``
    /// readings went. Returns how many went and where to go on (nil: the shard is done).
    private func removeStep(in shard: Shard, from position: Int, before horizon: Int64) -> (removed: Int, next: Int?) {
        shard.withLock { state in
            var removed = 0
            var position = position
            while position < state.devices.count {
                let (count, done) = state.devices.withSeries(at: position) { series in
                    series.removeReadings(before: horizon, budget: MemoryStore.removalBudget - removed, scratch: &state.scratch)
                }
                removed += count
                if removed >= MemoryStore.removalBudget { return (removed, done ? position + 1 : position) }
                position += 1
                // Checking a device costs little; bound the hold by devices checked too.
                if position & 4095 == 0 { return (removed, position) }
            }
            return (removed, nil)
        }
    }

    /// Gives freed pages back to the system, so that removed readings lower the process's RSS.
    private func releaseFreeMemory() {
        _ = glibcMallocTrim(0)
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
            guard series.exists else { return nil }
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

/// glibc's `malloc_trim` (declared in `malloc.h`, which the Glibc module does not export): returns
/// free memory at the top of the heap and free pages inside it to the system.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32

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
