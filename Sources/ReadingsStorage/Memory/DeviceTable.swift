import ReadingsDomain

/// One shard's devices: their ids and series in two dense arrays, in creation order, found
/// through an open-addressing index of 32-bit positions (linear probing, load at most 4/5).
///
/// A `Dictionary<DeviceID, DeviceSeries>` keeps a 56-byte bucket per slot at a load of 3/8 to
/// 3/4, about 117 bytes per device at a typical fill; here a device costs its 8-byte id
/// reference and 48-byte series in arrays grown by an eighth at a time, plus 4-byte slots at a
/// load of 2/5 to 4/5: about 70 bytes. A removed device's place is taken by the last one (positions
/// are not stable across removals), and its slot is emptied by shifting the probe chain back, so
/// lookups never meet a tombstone.
struct DeviceTable {
    /// Ids by position (each shares its bytes with the device directory's copy).
    private(set) var ids: ContiguousArray<DeviceID> = []
    /// Series by position.
    private(set) var series: ContiguousArray<DeviceSeries> = []
    /// 0 for an empty slot, else position + 1. A power of two long (or empty).
    private var slots: [UInt32] = []
    /// log2 of `slots.count`.
    private var slotBits = 0

    /// Number of devices.
    var count: Int { ids.count }

    /// The slot to start probing at for `hash` (Fibonacci hashing: the top bits of the product,
    /// independent of the low bits that chose the shard).
    @inline(__always)
    private func home(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slotBits))
    }

    /// The position of `id` (whose ``DeviceHasher`` hash is `hash`), or nil.
    func position(of id: DeviceID, hash: UInt64) -> Int? {
        guard slotBits > 0 else { return nil }
        let mask = slots.count - 1
        var slot = home(hash)
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if ids[Int(entry - 1)] == id { return Int(entry - 1) }
            slot = (slot + 1) & mask
        }
    }

    /// The position of `id`, adding it with an empty series when it is missing.
    mutating func positionAdding(_ id: DeviceID, hash: UInt64, hasher: DeviceHasher) -> (position: Int, added: Bool) {
        if let position = position(of: id, hash: hash) { return (position, false) }
        if (count + 1) * 5 > slots.count * 4 { grow(hasher) }
        let position = count
        if ids.count == ids.capacity {
            // An eighth at a time: long-lived, and doubling would leave up to half unused.
            let capacity = count + count / 8 + 16
            ids.reserveCapacity(capacity)
            series.reserveCapacity(capacity)
        }
        ids.append(id)
        series.append(DeviceSeries())
        place(position, hash: hash)
        return (position, true)
    }

    /// Runs `body` on the series at `position`, in place.
    @inline(__always)
    mutating func withSeries<R>(at position: Int, _ body: (inout DeviceSeries) -> R) -> R {
        body(&series[position])
    }

    /// Removes the device at `position`: its slot is emptied (the entries after it in the probe
    /// chain that would no longer be found shift back into it), and the last device moves into
    /// `position`. The arrays keep their capacity; ``trimCapacity()`` gives it back.
    mutating func remove(at position: Int, hasher: DeviceHasher) {
        let mask = slots.count - 1
        func slot(of position: Int) -> Int {
            var slot = home(hasher.hash(ids[position]))
            while slots[slot] != UInt32(position + 1) { slot = (slot + 1) & mask }
            return slot
        }
        var hole = slot(of: position)
        slots[hole] = 0
        var next = hole
        while true {
            next = (next + 1) & mask
            let entry = slots[next]
            if entry == 0 { break }
            let start = home(hasher.hash(ids[Int(entry - 1)]))
            // The entry stays when its home lies cyclically in (hole, next]: the hole does not
            // interrupt its chain.
            let stays = hole <= next ? (hole < start && start <= next) : (hole < start || start <= next)
            if stays { continue }
            slots[hole] = entry
            slots[next] = 0
            hole = next
        }
        let last = count - 1
        if position != last {
            slots[slot(of: last)] = UInt32(position + 1)
            ids.swapAt(position, last)
            series.swapAt(position, last)
        }
        ids.removeLast()
        series.removeLast()
    }

    /// Gives back array capacity well beyond what the devices need (after many removals).
    mutating func trimCapacity() {
        if ids.capacity > 2 * ids.count + 16 {
            ids = ids.withUnsafeBufferPointer { ContiguousArray($0) }
            series = series.withUnsafeBufferPointer { ContiguousArray($0) }
        }
    }

    /// Puts `position` in the first free slot from its home.
    private mutating func place(_ position: Int, hash: UInt64) {
        let mask = slots.count - 1
        var slot = home(hash)
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt32(position + 1)
    }

    /// Doubles the slots (at least 16) and places every device again.
    private mutating func grow(_ hasher: DeviceHasher) {
        slotBits = max(4, slotBits + 1)
        slots = [UInt32](repeating: 0, count: 1 << slotBits)
        for position in ids.indices { place(position, hash: hasher.hash(ids[position])) }
    }

    /// The most slots any id's lookup probes (for tests of the hash's spread).
    func longestProbe(hasher: DeviceHasher) -> Int {
        var longest = 0
        for id in ids {
            let mask = slots.count - 1
            var slot = home(hasher.hash(id))
            var probes = 1
            while ids[Int(slots[slot] - 1)] != id {
                slot = (slot + 1) & mask
                probes += 1
            }
            longest = max(longest, probes)
        }
        return longest
    }

    /// Bytes of the table's own arrays (not what the ids and series point to).
    var memoryBytes: Int {
        slots.capacity * MemoryLayout<UInt32>.stride + ids.capacity * MemoryLayout<DeviceID>.stride
            + series.capacity * MemoryLayout<DeviceSeries>.stride
    }
}
