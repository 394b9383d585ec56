import ReadingsDomain
import Synchronization

/// Every device id in byte order, for `GET /devices`: a page is two binary searches and a walk of
/// at most `limit + 1` ids, never a scan and sort of the fleet.
///
/// Ids are kept as a large sorted array plus a small list of ids added since the last merge.
/// Adding appends to the small list (devices are created far less often than readings arrive);
/// it is merged into the large one once it holds ``mergeThreshold`` ids or a 64th of the large
/// one, whichever is more, so a merge's O(n) copy is paid once per n/64 new devices at most. A
/// page sorts the small list if it changed (at most n/64 ids) and walks both lists side by side.
/// The ids share their storage with the device tables' ids, so the directory costs one
/// reference (8 bytes) per device.
///
/// Locking: its own mutex, taken inside a shard's lock when a device is created and alone when
/// listing; it never takes a shard lock itself.
final class DeviceDirectory: Sendable {
    /// The fewest pending ids that trigger a merge.
    static let mergeThreshold = 4096

    private struct State {
        var sorted: [DeviceID] = []
        var pending: [DeviceID] = []
        /// Whether `pending` is in order.
        var pendingSorted = true

        mutating func add(_ id: DeviceID) {
            pending.append(id)
            pendingSorted = false
            if pending.count >= max(DeviceDirectory.mergeThreshold, sorted.count / 64) { merge() }
        }

        mutating func sortPending() {
            if !pendingSorted {
                pending.sort()
                pendingSorted = true
            }
        }

        mutating func merge() {
            guard !pending.isEmpty else { return }
            sortPending()
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

    /// Records a new device (each id once, until it is removed).
    func add(_ id: DeviceID) {
        state.withLock { $0.add(id) }
    }

    /// Forgets a removed device (O(devices): removals are rare).
    func remove(_ id: DeviceID) {
        state.withLock { state in
            let i = partitionPoint(state.sorted.count) { state.sorted[$0] < id }
            if i < state.sorted.count && state.sorted[i] == id {
                state.sorted.remove(at: i)
            } else if let j = state.pending.firstIndex(of: id) {
                state.pending.remove(at: j)
            }
        }
    }

    /// Up to `limit` ids after `after` (exclusive) that start with `prefix`, and whether more
    /// follow.
    func page(after: DeviceID?, prefix: [UInt8], limit: Int) -> (ids: [DeviceID], hasMore: Bool) {
        state.withLock { state in
            state.sortPending()
            let large = state.sorted
            let small = state.pending
            /// The first position in `ids` at or past the start of the page.
            func start(_ ids: [DeviceID]) -> Int {
                var position = 0
                if !prefix.isEmpty {
                    position = partitionPoint(ids.count) { ids[$0].utf8.lexicographicallyPrecedes(prefix) }
                }
                if let after {
                    position = max(position, partitionPoint(ids.count) { ids[$0] <= after })
                }
                return position
            }
            var i = start(large)
            var j = start(small)
            var page: [DeviceID] = []
            page.reserveCapacity(min(limit, large.count - i + small.count - j))
            while true {
                // The smaller of the two next ids, while it has the prefix.
                let next: DeviceID
                if i < large.count && (j == small.count || large[i] < small[j]) {
                    next = large[i]
                    i += 1
                } else if j < small.count {
                    next = small[j]
                    j += 1
                } else {
                    return (page, false)
                }
                guard next.utf8.starts(with: prefix) else { return (page, false) }
                if page.count == limit { return (page, true) }
                page.append(next)
            }
        }
    }

    /// Bytes the directory's arrays occupy.
    var memoryBytes: Int {
        state.withLock { state in
            (state.sorted.capacity + state.pending.capacity) * MemoryLayout<DeviceID>.stride
        }
    }
}
