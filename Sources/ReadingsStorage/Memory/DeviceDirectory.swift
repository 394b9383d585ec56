import ReadingsDomain
import Synchronization

/// Every device id in byte order, for `GET /devices`: a page is a binary search and a walk of at
/// most `limit + 1` ids, never a scan and sort of the fleet.
///
/// Ids are kept as a sorted array plus a short unsorted list of ids added since the last merge.
/// Adding appends to that list (devices are created far less often than readings arrive); it is
/// sorted and merged in once it reaches ``mergeThreshold`` or when a page is read, so a merge
/// costs O(n) at most once per ``mergeThreshold`` new devices or per listing. The ids share their
/// storage with the device table's keys, so the directory costs one reference (8 bytes) per
/// device.
///
/// Locking: its own mutex, taken inside a shard's lock when a device is created and alone when
/// listing; it never takes a shard lock itself.
final class DeviceDirectory: Sendable {
    static let mergeThreshold = 4096

    private struct State {
        var sorted: [DeviceID] = []
        var pending: [DeviceID] = []

        mutating func merge() {
            guard !pending.isEmpty else { return }
            pending.sort()
            if sorted.isEmpty || sorted[sorted.count - 1] < pending[0] {
                sorted.append(contentsOf: pending)
            } else {
                var merged: [DeviceID] = []
                merged.reserveCapacity(sorted.count + pending.count)
                var i = 0
                var j = 0
                while i < sorted.count && j < pending.count {
                    if pending[j] < sorted[i] {
                        merged.append(pending[j])
                        j += 1
                    } else {
                        merged.append(sorted[i])
                        i += 1
                    }
                }
                merged.append(contentsOf: sorted[i...])
                merged.append(contentsOf: pending[j...])
                sorted = merged
            }
            pending.removeAll(keepingCapacity: true)
        }
    }

    private let state = Mutex(State())

    /// Records a new device (each id once).
    func add(_ id: DeviceID) {
        state.withLock { state in
            state.pending.append(id)
            if state.pending.count >= DeviceDirectory.mergeThreshold { state.merge() }
        }
    }

    /// Up to `limit` ids after `after` (exclusive) that start with `prefix`, and whether more
    /// follow.
    func page(after: DeviceID?, prefix: [UInt8], limit: Int) -> (ids: [DeviceID], hasMore: Bool) {
        state.withLock { state in
            state.merge()
            let ids = state.sorted
            var position = 0
            if !prefix.isEmpty {
                position = partitionPoint(ids.count) { ids[$0].utf8.lexicographicallyPrecedes(prefix) }
            }
            if let after {
                position = max(position, partitionPoint(ids.count) { ids[$0] <= after })
            }
            var page: [DeviceID] = []
            page.reserveCapacity(min(limit, ids.count - position))
            while position < ids.count, ids[position].utf8.starts(with: prefix) {
                if page.count == limit { return (page, true) }
                page.append(ids[position])
                position += 1
            }
            return (page, false)
        }
    }

    /// Bytes the directory's arrays occupy.
    var memoryBytes: Int {
        state.withLock { state in
            (state.sorted.capacity + state.pending.capacity) * MemoryLayout<DeviceID>.stride
        }
    }
}
