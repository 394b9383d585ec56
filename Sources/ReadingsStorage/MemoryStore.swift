import ReadingsDomain
import Synchronization

/// The in-memory engine: devices spread over shards by a stable hash of their id, one lock per
/// shard, each batch decided under its device's shard lock taken once.
///
/// Locking: a shard's mutex guards its device table and every series in it. No method takes
/// two shard locks, and no lock is held across a suspension point, so there is no ordering to
/// get wrong. Readers take the same lock, so each read sees one consistent moment of a device.
public final class MemoryStore: ReadingStore {
    private let shards: [Shard]
    private let shardMask: Int

    /// Creates an empty store with `2^shardBits` shards.
    public init(shardBits: Int = 6) {
        let count = 1 << shardBits
        self.shards = (0..<count).map { _ in Shard() }
        self.shardMask = count - 1
    }

    /// One lock's worth of devices.
    private final class Shard: Sendable {
        let devices = Mutex<[DeviceID: DeviceSeries]>([:])
    }

    @inline(__always)
    private func shard(for device: DeviceID) -> Shard {
        shards[Int(truncatingIfNeeded: device.stableHash) & shardMask]
    }

    public func ingest(_ readings: [Reading], for device: DeviceID) -> [IngestOutcome] {
        guard !readings.isEmpty else { return [] }
        return shard(for: device).devices.withLock { devices in
            devices[device, default: DeviceSeries()].insert(readings)
        }
    }

    public func summary(of device: DeviceID) -> DeviceSummary? {
        shard(for: device).devices.withLock { $0[device]?.summary }
    }

    public func readings(of device: DeviceID, in range: InstantRange, limit: Int) -> DeviceReadings? {
        shard(for: device).devices.withLock { devices in
            guard let series = devices[device], let summary = series.summary else { return nil }
            let (page, next) = series.readings(in: range, limit: limit)
            return DeviceReadings(summary: summary, readings: page, next: next)
        }
    }

    public func isReady() -> Bool { true }

    /// Number of devices and readings stored.
    public func statistics() -> (devices: Int, readings: Int) {
        var devices = 0
        var readings = 0
        for shard in shards {
            shard.devices.withLock { table in
                devices += table.count
                for series in table.values { readings += series.count }
            }
        }
        return (devices, readings)
    }
}
