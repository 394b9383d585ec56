import ReadingsDomain
import Synchronization

/// The in-memory engine: devices spread over shards by a stable hash of their id, one lock per
/// shard, each batch decided under its device's shard lock taken once. Readings are kept
/// compressed (see ``DeviceSeries`` and ``BlockCodec``): a few bytes each.
///
/// Locking: a shard's mutex guards its device table, every series in it, and the shard's decode
/// scratch. No method takes two shard locks and no lock is held across a suspension point, so
/// there is no ordering to get wrong. Readers take the same lock, so each read sees one
/// consistent moment of a device.
public final class MemoryStore: ReadingStore {
    private let shards: [Shard]
    private let shardMask: Int
    /// Every id in byte order, for the device listing.
    private let directory = DeviceDirectory()

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
    }

    /// The shard of a device, chosen by the low bits of `hash` (its ``DeviceID/stableHash``,
    /// which the shard's table also uses, from its high bits).
    @inline(__always)
    private func shard(for hash: UInt64) -> Shard {
        shards[Int(truncatingIfNeeded: hash) & shardMask]
    }

    /// Runs `body` on the device's series under its shard's lock; nil when the device is unknown.
    private func withSeries<R>(of device: DeviceID, _ body: (DeviceSeries) -> R?) -> R? {
        let hash = device.stableHash
        return shard(for: hash).state.withLock { state in
            guard let position = state.devices.position(of: device, hash: hash) else { return nil }
            return body(state.devices.series[position])
        }
    }

    public func ingest(_ readings: [Reading], for device: DeviceID) -> [IngestOutcome] {
        ingest(readings, for: device) { _ in }
    }

    /// Decides and stores `readings`, then calls `whileLocked` with the outcomes while the
    /// device's shard lock is still held: a journal appends there, so that its records of one
    /// device are in exactly the order the decisions were made.
    public func ingest(
        _ readings: [Reading], for device: DeviceID, whileLocked: ([IngestOutcome]) -> Void
    ) -> [IngestOutcome] {
        guard !readings.isEmpty else { return [] }
        let hash = device.stableHash
        return shard(for: hash).state.withLock { state in
            let (position, added) = state.devices.positionAdding(device, hash: hash)
            let outcomes = state.devices.withSeries(at: position) { $0.insert(readings, scratch: &state.scratch) }
            // The first reading of a new device is always accepted, so it now exists.
            if added { directory.add(device) }
            whileLocked(outcomes)
            return outcomes
        }
    }

    /// Calls `body` with every device's series as it is at one moment per shard: each shard's
    /// table is copied under its lock (copy-on-write makes that cheap) and visited after it.
    public func forEachSeries(_ body: (DeviceID, StoredSeries) throws -> Void) rethrows {
        for shard in shards {
            let devices = shard.state.withLock { $0.devices }
            for position in 0..<devices.count {
                try body(devices.ids[position], StoredSeries(series: devices.series[position]))
            }
        }
    }

    /// Puts a device's series back as a snapshot held it (recovery, before serving).
    public func restore(_ series: StoredSeries, for device: DeviceID) {
        let hash = device.stableHash
        shard(for: hash).state.withLock { state in
            let (position, added) = state.devices.positionAdding(device, hash: hash)
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

    public func isReady() -> Bool { true }

    /// Devices and readings stored, and the bytes the engine's tables, heads, block indexes,
    /// blocks and id directory occupy (estimated from capacities; ids counted at their byte
    /// length plus an array header).
    public func statistics() -> StoreStatistics {
        var statistics = StoreStatistics()
        statistics.memoryBytes = directory.memoryBytes
        for shard in shards {
            shard.state.withLock { state in
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
