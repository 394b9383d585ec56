import ReadingsDomain

/// One device's readings in time order, compact: a small mutable head of the newest readings
/// plus immutable sealed blocks (see ``BlockCodec``) packed one after another in one byte arena,
/// with the running summary kept alongside so that latest and cumulative are O(1).
///
/// Dedup is exact: an instant after the latest is new without any lookup (the common case); an
/// older one is looked up in the head, or in the one block whose range covers it (binary search
/// over the block index, then a decode of that block). A reading that lands inside a sealed block
/// re-encodes that block; within one batch the decoded block is kept in ``BlockScratch`` so that
/// several late readings for the same block cost one decode and one encode.
///
/// Its stored properties are internal only so that the serialisation extension can read and
/// restore them; everything else changes them through `insert`.
struct DeviceSeries {
    /// Readings in the head before it is sealed into a block.
    static let headCapacity = 128
    /// A block that grows past this through late readings is split.
    static let maxBlockReadings = 1024

    /// The greatest instant stored (meaningless while `count` is 0).
    var latest: Int64 = .min
    /// Sum of all counts, at most `Int64.max`.
    var cumulative: UInt64 = 0
    /// Number of readings stored.
    var count = 0
    /// The newest readings, ascending; all later than every sealed one.
    var head: [Reading] = []
    /// Sealed blocks, ascending and non-overlapping.
    var index: [BlockInfo] = []
    /// The sealed blocks' bytes, in index order.
    var arena: [UInt8] = []

    /// Where a sealed block is and what it holds.
    struct BlockInfo {
        var first: Int64
        var last: Int64
        var offset: UInt32
        var length: UInt16
        var count: UInt16
    }

    var summary: DeviceSummary? {
        count == 0 ? nil : DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: Int64(cumulative), readingCount: count)
    }

    /// Bytes this series occupies: its fields, the head, the block index and the arena
    /// (capacities, plus an array header for each allocated array).
    var memoryBytes: Int {
        let arrayHeader = 32
        return MemoryLayout<DeviceSeries>.stride
            + (head.capacity > 0 ? arrayHeader + head.capacity * MemoryLayout<Reading>.stride : 0)
            + (index.capacity > 0 ? arrayHeader + index.capacity * MemoryLayout<BlockInfo>.stride : 0)
            + (arena.capacity > 0 ? arrayHeader + arena.capacity : 0)
    }

    /// Number of sealed blocks (for tests and statistics).
    var blockCount: Int { index.count }

    // MARK: Inserting

    /// Decides each reading in order, storing the new ones. `scratch` is the caller's reusable
    /// decode buffer; it is flushed before returning.
    mutating func insert(_ readings: [Reading], scratch: inout BlockScratch) -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        // An empty head (a new device, or one just sealed) is sized for this batch rather than
        // grown by doubling from one: a device with a few readings keeps exactly those.
        if head.isEmpty { head.reserveCapacity(min(readings.count, DeviceSeries.headCapacity)) }
        // Late readings of a batch usually ascend too: each block search starts at the block
        // the previous one found.
        var blockHint = 0
        for reading in readings {
            outcomes.append(insert(reading, scratch: &scratch, blockHint: &blockHint))
        }
        flush(&scratch)
        return outcomes
    }

    @inline(__always)
    private mutating func insert(_ reading: Reading, scratch: inout BlockScratch, blockHint: inout Int) -> IngestOutcome {
        let t = reading.instant.nanoseconds
        if count == 0 || t > latest {
            guard add(reading.count) else { return .overflow }
            head.append(reading)
            latest = t
            if head.count >= DeviceSeries.headCapacity { sealHead() }
            return .accepted
        }
        if index.isEmpty || t > index[index.count - 1].last {
            let position = headLowerBound(t)
            if position < head.count && head[position].instant.nanoseconds == t {
                return repeated(existing: head[position].count, reading.count)
            }
            guard add(reading.count) else { return .overflow }
            head.insert(reading, at: position)
            if head.count >= DeviceSeries.headCapacity { sealHead() }
            return .accepted
        }
        // A sealed block's range (or the gap before it) holds this instant.
        var block = blockIndex(coveringOrAfter: t, near: blockHint)
        if scratch.block != block && scratch.dirty {
            // Writing the held block back may split it, which moves the blocks after it.
            flush(&scratch)
            block = blockIndex(coveringOrAfter: t, near: block)
        }
        blockHint = block
        load(block, into: &scratch)
        let position = scratch.lowerBound(t)
        scratch.cursor = position + 1
        if position < scratch.instants.count && scratch.instants[position] == t {
            return repeated(existing: scratch.counts[position], reading.count)
        }
        guard add(reading.count) else { return .overflow }
        scratch.instants.insert(t, at: position)
        scratch.counts.insert(reading.count, at: position)
        scratch.dirty = true
        return .accepted
    }

    @inline(__always)
    private func repeated(existing: UInt64, _ count: UInt64) -> IngestOutcome {
        existing == count ? .duplicate : .conflicting(existingCount: existing)
    }

    /// Counts a new reading unless it would push the cumulative count past `Int64.max`.
    @inline(__always)
    private mutating func add(_ value: UInt64) -> Bool {
        guard value <= UInt64(Int64.max) - cumulative else { return false }
        cumulative += value
        count += 1
        return true
    }

    private func headLowerBound(_ t: Int64) -> Int {
        partitionPoint(head.count) { head[$0].instant.nanoseconds < t }
    }

    /// Index of the first block whose last instant is ≥ `t` (`index.count` when none).
    private func blockIndex(coveringOrAfter t: Int64, near hint: Int = 0) -> Int {
        partitionPoint(index.count, near: hint) { index[$0].last < t }
    }

    /// Seals the head into a new block at the end of the arena.
    private mutating func sealHead() {
        append(
            instants: head.lazy.map(\.instant.nanoseconds), counts: head.lazy.map(\.count),
            first: head[0].instant.nanoseconds, last: head[head.count - 1].instant.nanoseconds)
        // Not keeping the head's capacity: across many devices, heads that grow again by
        // doubling hold less idle memory than heads kept at full size.
        head.removeAll()
    }

    /// Encodes readings as a new last block.
    private mutating func append<I: RandomAccessCollection<Int64>, C: RandomAccessCollection<UInt64>>(
        instants: I, counts: C, first: Int64, last: Int64
    ) where I.Index == Int, C.Index == Int {
        let offset = arena.count
        reserveArena(adding: instants.count * 3 + 16)
        BlockCodec.encode(instants: instants, counts: counts, into: &arena)
        index.append(
            BlockInfo(
                first: first, last: last, offset: UInt32(offset), length: UInt16(arena.count - offset),
                count: UInt16(instants.count)))
    }

    /// Grows the arena by about a sixteenth at a time rather than doubling: sealed data lives
    /// long, and doubling would leave up to half of it empty.
    private mutating func reserveArena(adding bytes: Int) {
        let needed = arena.count + bytes
        if needed > arena.capacity {
            arena.reserveCapacity(max(needed, arena.count + arena.count / 16 + 256))
        }
    }

    /// Makes `scratch` hold block `block` decoded, writing back any other block it held.
    private func load(_ block: Int, into scratch: inout BlockScratch) {
        if scratch.block == block { return }
        precondition(!scratch.dirty, "the held block must be written back first")
        let info = index[block]
        scratch.block = block
        scratch.cursor = 0
        scratch.instants.removeAll(keepingCapacity: true)
        scratch.counts.removeAll(keepingCapacity: true)
        arena.withUnsafeBufferPointer { bytes in
            BlockCodec.decode(
                UnsafeBufferPointer(rebasing: bytes[Int(info.offset)..<Int(info.offset) + Int(info.length)]),
                first: info.first, count: Int(info.count), instants: &scratch.instants, counts: &scratch.counts)
        }
    }

    /// Writes the scratch block back (re-encoded, split when too large) and forgets it.
    private mutating func flush(_ scratch: inout BlockScratch) {
        defer {
            scratch.block = -1
            scratch.dirty = false
        }
        guard scratch.dirty else { return }
        let block = scratch.block
        let old = index[block]
        // Encode the new bytes into the scratch's own buffer, in chunks of at most half a
        // block when the block has grown too large.
        scratch.encoded.removeAll(keepingCapacity: true)
        var infos: [BlockInfo] = []
        let n = scratch.instants.count
        let chunk = n > DeviceSeries.maxBlockReadings ? DeviceSeries.maxBlockReadings / 2 : n
        var start = 0
        while start < n {
            let end = min(start + chunk, n)
            let offset = scratch.encoded.count
            BlockCodec.encode(
                instants: scratch.instants[start..<end], counts: scratch.counts[start..<end], into: &scratch.encoded)
            infos.append(
                BlockInfo(
                    first: scratch.instants[start], last: scratch.instants[end - 1],
                    offset: old.offset + UInt32(offset), length: UInt16(scratch.encoded.count - offset),
                    count: UInt16(end - start)))
            start = end
        }
        let oldRange = Int(old.offset)..<Int(old.offset) + Int(old.length)
        let shift = scratch.encoded.count - Int(old.length)
        if shift > 0 { reserveArena(adding: shift) }
        arena.replaceSubrange(oldRange, with: scratch.encoded)
        index.replaceSubrange(block...block, with: infos)
        if shift != 0 {
            for i in (block + infos.count)..<index.count {
                index[i].offset = UInt32(Int(index[i].offset) + shift)
            }
        }
    }

    // MARK: Reading

    /// Up to `limit` readings in `range`, and the instant of the next one beyond the limit.
    func readings(in range: InstantRange, limit: Int) -> ([Reading], Instant?) {
        if limit <= 0 { return ([], nil) }
        var page: [Reading] = []
        var next: Instant? = nil
        visit(in: range) { t, c in
            if page.count == limit {
                next = Instant(nanoseconds: t)
                return false
            }
            page.append(Reading(instant: Instant(nanoseconds: t), count: c))
            return true
        }
        return (page, next)
    }

    /// Calls `body` with each reading in `range` (instant in nanoseconds, count), ascending,
    /// until it returns false. Decodes only the blocks that overlap the range.
    func visit(in range: InstantRange, _ body: (Int64, UInt64) -> Bool) {
        if range.isEmpty { return }
        let from = range.from?.nanoseconds ?? .min
        let to = range.to?.nanoseconds
        /// Passes on a reading in range; false once past the range or told to stop.
        func take(_ t: Int64, _ c: UInt64) -> Bool {
            if t < from { return true }
            if let to, t >= to { return false }
            return body(t, c)
        }
        var instants: [Int64] = []
        var counts: [UInt64] = []
        var block = blockIndex(coveringOrAfter: from)
        while block < index.count {
            let info = index[block]
            if let to, info.first >= to { return }
            instants.removeAll(keepingCapacity: true)
            counts.removeAll(keepingCapacity: true)
            arena.withUnsafeBufferPointer { bytes in
                BlockCodec.decode(
                    UnsafeBufferPointer(rebasing: bytes[Int(info.offset)..<Int(info.offset) + Int(info.length)]),
                    first: info.first, count: Int(info.count), instants: &instants, counts: &counts)
            }
            for i in instants.indices where !take(instants[i], counts[i]) { return }
            block += 1
        }
        for reading in head where !take(reading.instant.nanoseconds, reading.count) { return }
    }
}

/// A decoded block being changed during one batch, reused across batches so that steady-state
/// ingest allocates nothing. One per shard, used under the shard's lock.
struct BlockScratch {
    /// The block held (index in its device's block index), or -1.
    var block = -1
    /// Whether the held block was changed and must be written back.
    var dirty = false
    var instants: [Int64] = []
    var counts: [UInt64] = []
    /// Output buffer for re-encoding.
    var encoded: [UInt8] = []
    /// Where the next lookup in the held block is likely to land: just after the last one.
    var cursor = 0

    /// Index of the first instant ≥ `t`, tried at ``cursor`` first.
    func lowerBound(_ t: Int64) -> Int {
        partitionPoint(instants.count, near: cursor) { instants[$0] < t }
    }
}

/// ``partitionPoint(_:_:)``, answered without a search when it is `hint` or the index after it
/// (ascending lookups move forward by about one each time). Any hint gives the same answer.
@inline(__always)
func partitionPoint(_ count: Int, near hint: Int, _ isBefore: (Int) -> Bool) -> Int {
    if hint >= 0 && hint <= count && (hint == 0 || isBefore(hint - 1)) {
        if hint == count || !isBefore(hint) { return hint }
        if hint + 1 == count || !isBefore(hint + 1) { return hint + 1 }
    }
    return partitionPoint(count, isBefore)
}

/// The first index in `0..<count` for which `isBefore` is false, where `isBefore` is true for a
/// prefix of the indices and false after it (binary search).
@inline(__always)
func partitionPoint(_ count: Int, _ isBefore: (Int) -> Bool) -> Int {
    var low = 0
    var high = count
    while low < high {
        let mid = (low + high) / 2
        if isBefore(mid) { low = mid + 1 } else { high = mid }
    }
    return low
}
