import ReadingsDomain

/// One device's readings in time order, compact, at any size and in any arrival order.
///
/// - The **head**: up to 128 of the newest readings, uncompressed and ascending, all later than
///   every sealed one. A reading later than the latest is appended here without any lookup (the
///   common case); a full head is sealed into a block.
/// - **Chunks**: the sealed readings, ascending and non-overlapping, each chunk a run of at most
///   32 compressed blocks (see ``BlockCodec``) in one byte buffer of its own, with its block
///   index beside it, plus its **pending** readings: late readings that belong in the chunk's
///   range, kept uncompressed and sorted until there are enough of them to be worth merging.
/// - The **summary** (latest instant, cumulative count, number of readings), so that those
///   answers are O(1).
///
/// A late reading (not after the latest) costs a binary search over the chunks, one over the
/// chunk's blocks, a scan of at most one block's instants (the duplicate check) and an insert
/// into the chunk's pending readings, which hold at most an eighth of the chunk. When they
/// reach that, the chunk is rebuilt: blocks without pending readings are copied, the others
/// decoded, merged and re-encoded, and a chunk that grew past 32 blocks is split. None of this
/// depends on the size of the device: a device of a billion readings takes a late reading as
/// fast as one of a thousand. `docs/block-format.md` describes the layout and its costs.
///
/// Its stored properties are internal only so that the serialisation extension can read and
/// restore them; everything else changes them through `insert`.
struct DeviceSeries {
    /// Readings in the head before it is sealed into a block.
    static let headCapacity = 128
    /// A block that grows past this many readings through late readings is split.
    static let maxBlockReadings = 128
    /// A chunk that grows past this many blocks is split.
    static let maxChunkBlocks = 32
    /// Late readings that fall before a block (not inside it) become blocks of their own when
    /// at least this many arrive together; fewer are merged into the block after them.
    static let minGapBlock = 64

    /// The greatest instant stored (meaningless while `count` is 0).
    var latest: Int64 = .min
    /// Sum of all counts, at most `Int64.max`.
    var cumulative: UInt64 = 0
    /// Number of readings stored.
    var count = 0
    /// The newest readings, ascending; all later than every sealed one.
    var head: [Reading] = []
    /// Sealed readings, ascending and non-overlapping.
    var chunks: [Chunk] = []

    /// Where a sealed block is in its chunk's bytes and what it holds.
    struct BlockInfo: Equatable {
        var first: Int64
        var last: Int64
        var offset: UInt32
        var length: UInt16
        var count: UInt16
    }

    /// A run of sealed blocks with its own bytes and its pending late readings. A chunk covers
    /// the instants after the previous chunk's `last` up to its own `last`.
    struct Chunk {
        /// The chunk's greatest instant: its last block's last (pending readings are all before it).
        var last: Int64
        /// Readings in the blocks (not counting pending ones).
        var sealedReadings: Int
        /// The blocks, ascending and non-overlapping.
        var blocks: [BlockInfo]
        /// The blocks' bytes, in block order.
        var bytes: [UInt8]
        /// Late readings of this chunk's range not yet merged into its blocks: ascending, none at
        /// an instant a block holds.
        var pending: [Reading] = []

        /// Pending readings that trigger a rebuild: an eighth of the chunk (at least 32), so that
        /// a rebuild costs about eight re-encoded readings per late one.
        var pendingLimit: Int { max(32, sealedReadings / 8) }

        /// Bytes the chunk's arrays occupy (capacities, plus an array header for each).
        var memoryBytes: Int {
            let arrayHeader = 32
            return (blocks.capacity > 0 ? arrayHeader + blocks.capacity * MemoryLayout<BlockInfo>.stride : 0)
                + (bytes.capacity > 0 ? arrayHeader + bytes.capacity : 0)
                + (pending.capacity > 0 ? arrayHeader + pending.capacity * MemoryLayout<Reading>.stride : 0)
        }

        /// Index of the first block whose last instant is ≥ `t` (`blocks.count` when none).
        @inline(__always)
        func blockIndex(coveringOrAfter t: Int64) -> Int {
            partitionPoint(blocks.count) { blocks[$0].last < t }
        }

        /// Index of the first pending reading at or after `t`.
        @inline(__always)
        func pendingLowerBound(_ t: Int64) -> Int {
            partitionPoint(pending.count) { pending[$0].instant.nanoseconds < t }
        }

        /// Calls `body` with block `block`'s bytes.
        @inline(__always)
        func withBlockBytes<R>(_ block: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            let info = blocks[block]
            return bytes.withUnsafeBufferPointer { all in
                body(UnsafeBufferPointer(rebasing: all[Int(info.offset)..<Int(info.offset) + Int(info.length)]))
            }
        }

        /// Appends block `block`'s instants and counts to the two arrays.
        func decode(_ block: Int, instants: inout [Int64], counts: inout [UInt64]) {
            let info = blocks[block]
            withBlockBytes(block) { bytes in
                BlockCodec.decode(bytes, first: info.first, count: Int(info.count), instants: &instants, counts: &counts)
            }
        }
    }

    /// Whether the device exists: it has readings, or had some that a retention removed (its
    /// latest instant and cumulative count stay). A device whose only reading was at the earliest
    /// instant and expired is indistinguishable from none; that reading is refused at ingest by
    /// any retention shorter than 349 years.
    var exists: Bool { count > 0 || latest != .min }

    var summary: DeviceSummary? {
        exists ? DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: Int64(cumulative), readingCount: count) : nil
    }

    /// Bytes this series occupies: its fields, the head, the chunk list and every chunk's arrays.
    var memoryBytes: Int {
        let arrayHeader = 32
        var total =
            MemoryLayout<DeviceSeries>.stride
            + (head.capacity > 0 ? arrayHeader + head.capacity * MemoryLayout<Reading>.stride : 0)
            + (chunks.capacity > 0 ? arrayHeader + chunks.capacity * MemoryLayout<Chunk>.stride : 0)
        for chunk in chunks { total += chunk.memoryBytes }
        return total
    }

    /// Number of sealed blocks (for tests and statistics).
    var blockCount: Int { chunks.reduce(0) { $0 + $1.blocks.count } }

    // MARK: Inserting

    /// Decides each reading in order, storing the new ones. `scratch` is the caller's reusable
    /// decode and encode buffer.
    mutating func insert(_ readings: [Reading], horizon: Int64 = .min, scratch: inout BlockScratch) -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        insert(readings[...], into: &outcomes, horizon: horizon, scratch: &scratch)
        return outcomes
    }

    /// Decides each reading of `readings` in order, storing the new ones, and appends one outcome
    /// per reading to `outcomes`. Readings before `horizon` (nanoseconds; the retention's) are
    /// too old, decided before any lookup.
    mutating func insert(
        _ readings: ArraySlice<Reading>, into outcomes: inout [IngestOutcome], horizon: Int64 = .min, scratch: inout BlockScratch
    ) {
        // An empty head (a new device, or one just sealed) is sized for this batch rather than
        // grown by doubling from one: a device with a few readings keeps exactly those.
        if head.isEmpty { head.reserveCapacity(min(readings.count, DeviceSeries.headCapacity)) }
        scratch.forgetDecodedBlock()
        for reading in readings {
            outcomes.append(reading.instant.nanoseconds < horizon ? .tooOld : insert(reading, scratch: &scratch))
        }
    }

    @inline(__always)
    private mutating func insert(_ reading: Reading, scratch: inout BlockScratch) -> IngestOutcome {
        let t = reading.instant.nanoseconds
        // (A device whose readings all expired has none left, and a reading after the horizon is
        // after its latest.)
        if count == 0 || t > latest {
            let outcome = decide(reading, existing: nil)
            guard outcome == .accepted else { return outcome }
            head.append(reading)
            latest = t
            if head.count >= DeviceSeries.headCapacity { sealHead() }
            return .accepted
        }
        if chunks.isEmpty || t > chunks[chunks.count - 1].last {
            let position = headLowerBound(t)
            let existing = position < head.count && head[position].instant.nanoseconds == t ? head[position].count : nil
            let outcome = decide(reading, existing: existing)
            guard outcome == .accepted else { return outcome }
            head.insert(reading, at: position)
            if head.count >= DeviceSeries.headCapacity { sealHead() }
            return .accepted
        }
        return insertLate(reading, scratch: &scratch)
    }

    /// A reading inside the sealed range: looked up in its chunk's pending readings and in the
    /// one block whose range covers it, then added to the pending readings.
    private mutating func insertLate(_ reading: Reading, scratch: inout BlockScratch) -> IngestOutcome {
        let t = reading.instant.nanoseconds
        let c = chunkIndex(coveringOrAfter: t, near: scratch.chunkHint)
        scratch.chunkHint = c
        let pendingPosition = chunks[c].pendingLowerBound(t)
        let existing =
            pendingPosition < chunks[c].pending.count && chunks[c].pending[pendingPosition].instant.nanoseconds == t
            ? chunks[c].pending[pendingPosition].count : storedCount(at: t, chunk: c, scratch: &scratch)
        let outcome = decide(reading, existing: existing)
        guard outcome == .accepted else { return outcome }
        chunks[c].pending.insert(reading, at: pendingPosition)
        if chunks[c].pending.count >= chunks[c].pendingLimit { rebuild(c, scratch: &scratch) }
        return .accepted
    }

    /// The count stored in chunk `c`'s blocks at instant `t`, or nil. The first lookup in a
    /// block scans its instants only; a second lookup in the same block decodes it whole and keeps
    /// it in `scratch`, so that a run of late readings (a retried batch, a backfill) costs one
    /// decode per block rather than one scan per reading.
    private func storedCount(at t: Int64, chunk c: Int, scratch: inout BlockScratch) -> UInt64? {
        let chunk = chunks[c]
        let b = chunk.blockIndex(coveringOrAfter: t)
        let info = chunk.blocks[b]
        if t < info.first { return nil }
        if scratch.decodedChunk == c && scratch.decodedBlock == b {
            let i = scratch.lowerBound(t)
            return i < scratch.instants.count && scratch.instants[i] == t ? scratch.counts[i] : nil
        }
        let seenBefore = scratch.lastLookup == (c, b)
        scratch.lastLookup = (c, b)
        if !seenBefore {
            let found = chunk.withBlockBytes(b) { BlockCodec.contains(t, in: $0, first: info.first, count: Int(info.count)) }
            if !found { return nil }
        }
        scratch.instants.removeAll(keepingCapacity: true)
        scratch.counts.removeAll(keepingCapacity: true)
        chunk.decode(b, instants: &scratch.instants, counts: &scratch.counts)
        scratch.decodedChunk = c
        scratch.decodedBlock = b
        scratch.cursor = 0
        let i = scratch.lowerBound(t)
        return i < scratch.instants.count && scratch.instants[i] == t ? scratch.counts[i] : nil
    }

    /// The domain's decision (``IngestDecision``), counting an accepted reading.
    @inline(__always)
    private mutating func decide(_ reading: Reading, existing: UInt64?) -> IngestOutcome {
        let outcome = IngestDecision.decide(reading.count, existing: existing, cumulative: &cumulative)
        if outcome == .accepted { count += 1 }
        return outcome
    }

    private func headLowerBound(_ t: Int64) -> Int {
        partitionPoint(head.count) { head[$0].instant.nanoseconds < t }
    }

    /// Index of the first chunk whose last instant is ≥ `t` (`chunks.count` when none).
    private func chunkIndex(coveringOrAfter t: Int64, near hint: Int = 0) -> Int {
        partitionPoint(chunks.count, near: hint) { chunks[$0].last < t }
    }

    /// Seals the head into a new block after every sealed one.
    private mutating func sealHead() {
        let first = head[0].instant.nanoseconds
        let last = head[head.count - 1].instant.nanoseconds
        if chunks.isEmpty || chunks[chunks.count - 1].blocks.count >= DeviceSeries.maxChunkBlocks {
            if !chunks.isEmpty { chunks[chunks.count - 1].trimCapacity() }
            // An eighth at a time, like the other long-lived arrays.
            if chunks.count == chunks.capacity { chunks.reserveCapacity(chunks.count + chunks.count / 8 + 1) }
            chunks.append(Chunk(last: last, sealedReadings: 0, blocks: [], bytes: []))
        }
        chunks[chunks.count - 1].append(
            instants: head.lazy.map(\.instant.nanoseconds), counts: head.lazy.map(\.count), first: first, last: last)
        // Not keeping the head's capacity: across many devices, heads that grow again by
        // doubling hold less idle memory than heads kept at full size.
        head.removeAll()
    }

    /// Merges chunk `c`'s pending readings into its blocks: blocks without any are copied as
    /// they are, the others decoded, merged and re-encoded (split when too large), and a run of
    /// pending readings before a block becomes blocks of its own when it is long enough. A
    /// chunk that ends up with more than `maxChunkBlocks` blocks becomes several chunks.
    private mutating func rebuild(_ c: Int, scratch: inout BlockScratch) {
        scratch.forgetDecodedBlock()
        let chunk = chunks[c]
        let pending = chunk.pending
        scratch.encoded.removeAll(keepingCapacity: true)
        scratch.blocks.removeAll(keepingCapacity: true)
        var p = 0
        for b in chunk.blocks.indices {
            let info = chunk.blocks[b]
            var q = p
            while q < pending.count && pending[q].instant.nanoseconds <= info.last { q += 1 }
            var gapEnd = p
            while gapEnd < q && pending[gapEnd].instant.nanoseconds < info.first { gapEnd += 1 }
            if gapEnd - p >= DeviceSeries.minGapBlock {
                scratch.encodeRun(
                    instants: pending[p..<gapEnd].lazy.map(\.instant.nanoseconds), counts: pending[p..<gapEnd].lazy.map(\.count))
                p = gapEnd
            }
            if p == q {
                chunk.withBlockBytes(b) { scratch.appendVerbatim($0, info: info) }
                continue
            }
            scratch.instants.removeAll(keepingCapacity: true)
            scratch.counts.removeAll(keepingCapacity: true)
            chunk.decode(b, instants: &scratch.instants, counts: &scratch.counts)
            scratch.mergeDecoded(with: pending[p..<q])
            scratch.encodeRun(instants: scratch.mergedInstants, counts: scratch.mergedCounts)
            p = q
        }
        precondition(p == pending.count, "pending readings must lie within their chunk's range")
        replaceChunk(c, withBlocksOf: scratch)
    }

    /// Replaces chunk `c` with the blocks encoded in `scratch` (none: the chunk goes), as several
    /// chunks when they are more than `maxChunkBlocks`.
    private mutating func replaceChunk(_ c: Int, withBlocksOf scratch: BlockScratch) {
        let total = scratch.blocks.count
        let parts = (total + DeviceSeries.maxChunkBlocks - 1) / DeviceSeries.maxChunkBlocks
        if parts == 1 {
            chunks[c] = scratch.chunk(blocks: 0..<total)
        } else {
            var rebuilt: [Chunk] = []
            rebuilt.reserveCapacity(parts)
            for k in 0..<parts {
                rebuilt.append(scratch.chunk(blocks: (k * total / parts)..<((k + 1) * total / parts)))
            }
            chunks.replaceSubrange(c...c, with: rebuilt)
        }
    }

    // MARK: Removing

    /// Removes readings before `horizon` (nanoseconds), oldest first, at most about `budget` of
    /// them (whole chunks go at once, so a call may pass the budget by one chunk): whole chunks
    /// before it are dropped, the one chunk that straddles it is rebuilt without them, and the
    /// head is cut when no chunk is left. The latest instant and the cumulative count stay.
    /// Returns the number removed and whether none before `horizon` is left.
    mutating func removeReadings(before horizon: Int64, budget: Int, scratch: inout BlockScratch) -> (removed: Int, done: Bool) {
        scratch.forgetDecodedBlock()
        var removed = 0
        var dropped = 0
        while dropped < chunks.count && chunks[dropped].last < horizon && removed < budget {
            removed += chunks[dropped].sealedReadings + chunks[dropped].pending.count
            dropped += 1
        }
        if dropped > 0 {
            chunks.removeFirst(dropped)
            if chunks.capacity > 2 * chunks.count + 8 { chunks = exactCopy(chunks[...]) }
        }
        defer { count -= removed }
        if let first = chunks.first {
            // Only the first chunk can hold readings before the horizon: every later reading is
            // after its last, which is not before the horizon (or the budget stopped the loop).
            guard first.last >= horizon else { return (removed, false) }
            let oldest = min(first.blocks[0].first, first.pending.first?.instant.nanoseconds ?? .max)
            if oldest < horizon { removed += trimFirstChunk(before: horizon, scratch: &scratch) }
            return (removed, true)
        }
        let kept = partitionPoint(head.count) { head[$0].instant.nanoseconds < horizon }
        if kept > 0 {
            removed += kept
            head.removeFirst(kept)
        }
        if head.isEmpty { head = [] }
        return (removed, true)
    }

    /// Rebuilds the first chunk without its readings before `horizon`; returns how many went.
    private mutating func trimFirstChunk(before horizon: Int64, scratch: inout BlockScratch) -> Int {
        scratch.mergedInstants.removeAll(keepingCapacity: true)
        scratch.mergedCounts.removeAll(keepingCapacity: true)
        let chunk = chunks[0]
        let before = chunk.sealedReadings + chunk.pending.count
        var p = chunk.pendingLowerBound(horizon)
        for b in chunk.blocks.indices where chunk.blocks[b].last >= horizon {
            scratch.instants.removeAll(keepingCapacity: true)
            scratch.counts.removeAll(keepingCapacity: true)
            chunk.decode(b, instants: &scratch.instants, counts: &scratch.counts)
            for i in scratch.instants.indices where scratch.instants[i] >= horizon {
                while p < chunk.pending.count && chunk.pending[p].instant.nanoseconds < scratch.instants[i] {
                    scratch.mergedInstants.append(chunk.pending[p].instant.nanoseconds)
                    scratch.mergedCounts.append(chunk.pending[p].count)
                    p += 1
                }
                scratch.mergedInstants.append(scratch.instants[i])
                scratch.mergedCounts.append(scratch.counts[i])
            }
        }
        // Pending readings all lie before the chunk's last, which a block holds: none is left.
        precondition(p == chunk.pending.count, "pending readings must lie within their chunk's range")
        scratch.encoded.removeAll(keepingCapacity: true)
        scratch.blocks.removeAll(keepingCapacity: true)
        scratch.encodeRun(instants: scratch.mergedInstants, counts: scratch.mergedCounts)
        let after = scratch.mergedInstants.count
        replaceChunk(0, withBlocksOf: scratch)
        scratch.forgetDecodedBlock()
        return before - after
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
        var c = chunkIndex(coveringOrAfter: from)
        while c < chunks.count {
            let chunk = chunks[c]
            var p = chunk.pendingLowerBound(from)
            var b = chunk.blockIndex(coveringOrAfter: from)
            while b < chunk.blocks.count {
                let info = chunk.blocks[b]
                if let to, info.first >= to, p == chunk.pending.count || chunk.pending[p].instant.nanoseconds >= to { return }
                instants.removeAll(keepingCapacity: true)
                counts.removeAll(keepingCapacity: true)
                chunk.decode(b, instants: &instants, counts: &counts)
                for i in instants.indices {
                    while p < chunk.pending.count && chunk.pending[p].instant.nanoseconds < instants[i] {
                        if !take(chunk.pending[p].instant.nanoseconds, chunk.pending[p].count) { return }
                        p += 1
                    }
                    if !take(instants[i], counts[i]) { return }
                }
                b += 1
            }
            while p < chunk.pending.count {
                if !take(chunk.pending[p].instant.nanoseconds, chunk.pending[p].count) { return }
                p += 1
            }
            c += 1
        }
        for reading in head where !take(reading.instant.nanoseconds, reading.count) { return }
    }
}

extension DeviceSeries.Chunk {
    /// Encodes readings as a new last block of this chunk.
    mutating func append<I: RandomAccessCollection<Int64>, C: RandomAccessCollection<UInt64>>(
        instants: I, counts: C, first: Int64, last: Int64
    ) where I.Index == Int, C.Index == Int {
        let offset = bytes.count
        let needed = bytes.count + instants.count * 3 + 16
        if needed > bytes.capacity {
            // Grows by about an eighth rather than doubling: sealed data lives long.
            bytes.reserveCapacity(max(needed, bytes.count + bytes.count / 8 + 256))
        }
        BlockCodec.encode(instants: instants, counts: counts, into: &bytes)
        if blocks.count == blocks.capacity { blocks.reserveCapacity(max(4, blocks.count * 2)) }
        blocks.append(
            DeviceSeries.BlockInfo(
                first: first, last: last, offset: UInt32(offset), length: UInt16(bytes.count - offset),
                count: UInt16(instants.count)))
        sealedReadings += instants.count
        self.last = last
    }

    /// Drops spare capacity (a chunk that no longer grows at the end).
    mutating func trimCapacity() {
        if bytes.capacity > bytes.count { bytes = exactCopy(bytes[...]) }
        if blocks.capacity > blocks.count { blocks = exactCopy(blocks[...]) }
    }
}

/// Reusable buffers for decoding, merging and re-encoding blocks, so that steady-state ingest
/// allocates nothing. One per shard, used under the shard's lock, for any device of the shard:
/// what it remembers of a decoded block is forgotten at the start of every insert call and
/// whenever a chunk is rebuilt.
struct BlockScratch {
    /// The chunk and block whose readings `instants` and `counts` hold, or -1.
    var decodedChunk = -1
    var decodedBlock = -1
    /// The block of the last lookup (a second lookup in it decodes it whole).
    var lastLookup = (-1, -1)
    /// Where the next chunk search starts (late readings of a batch often ascend).
    var chunkHint = 0
    var instants: [Int64] = []
    var counts: [UInt64] = []
    /// A decoded block merged with pending readings.
    var mergedInstants: [Int64] = []
    var mergedCounts: [UInt64] = []
    /// Blocks of a chunk being rebuilt, and their bytes.
    var blocks: [DeviceSeries.BlockInfo] = []
    var encoded: [UInt8] = []
    /// Where the next lookup in the decoded block is likely to land: just after the last one.
    var cursor = 0

    /// Forgets the decoded block (its device or chunk may change).
    mutating func forgetDecodedBlock() {
        decodedChunk = -1
        decodedBlock = -1
        lastLookup = (-1, -1)
        chunkHint = 0
    }

    /// Index of the first decoded instant ≥ `t`, tried at ``cursor`` first.
    mutating func lowerBound(_ t: Int64) -> Int {
        let i = partitionPoint(instants.count, near: cursor) { instants[$0] < t }
        cursor = i + 1
        return i
    }

    /// Merges the decoded block with `pending` (ascending, no instant in common) into
    /// `mergedInstants` and `mergedCounts`.
    mutating func mergeDecoded(with pending: ArraySlice<Reading>) {
        mergedInstants.removeAll(keepingCapacity: true)
        mergedCounts.removeAll(keepingCapacity: true)
        var i = 0
        var p = pending.startIndex
        while i < instants.count || p < pending.endIndex {
            if p == pending.endIndex || (i < instants.count && instants[i] < pending[p].instant.nanoseconds) {
                mergedInstants.append(instants[i])
                mergedCounts.append(counts[i])
                i += 1
            } else {
                mergedInstants.append(pending[p].instant.nanoseconds)
                mergedCounts.append(pending[p].count)
                p += 1
            }
        }
    }

    /// Encodes readings (ascending, at least one) as blocks of at most `maxBlockReadings`, of
    /// equal sizes, appended to `blocks` and `encoded`.
    mutating func encodeRun<I: RandomAccessCollection<Int64>, C: RandomAccessCollection<UInt64>>(instants: I, counts: C)
    where I.Index == Int, C.Index == Int {
        let n = instants.count
        let parts = (n + DeviceSeries.maxBlockReadings - 1) / DeviceSeries.maxBlockReadings
        let base = instants.startIndex
        let countBase = counts.startIndex
        for k in 0..<parts {
            let start = k * n / parts
            let end = (k + 1) * n / parts
            let offset = encoded.count
            BlockCodec.encode(
                instants: instants[(base + start)..<(base + end)], counts: counts[(countBase + start)..<(countBase + end)],
                into: &encoded)
            blocks.append(
                DeviceSeries.BlockInfo(
                    first: instants[base + start], last: instants[base + end - 1], offset: UInt32(offset),
                    length: UInt16(encoded.count - offset), count: UInt16(end - start)))
        }
    }

    /// Appends an existing block's bytes unchanged.
    mutating func appendVerbatim(_ bytes: UnsafeBufferPointer<UInt8>, info: DeviceSeries.BlockInfo) {
        var moved = info
        moved.offset = UInt32(encoded.count)
        encoded.append(contentsOf: bytes)
        blocks.append(moved)
    }

    /// A chunk of exactly the blocks `range` of ``blocks`` (arrays at their exact size).
    func chunk(blocks range: Range<Int>) -> DeviceSeries.Chunk {
        let start = Int(blocks[range.lowerBound].offset)
        let end = Int(blocks[range.upperBound - 1].offset) + Int(blocks[range.upperBound - 1].length)
        var infos = exactCopy(blocks[range])
        var readings = 0
        for i in infos.indices {
            infos[i].offset -= UInt32(start)
            readings += Int(infos[i].count)
        }
        return DeviceSeries.Chunk(
            last: infos[infos.count - 1].last, sealedReadings: readings, blocks: infos, bytes: exactCopy(encoded[start..<end]))
    }
}

/// A new array holding exactly `slice`, in an allocation of its own sized to it. (`Array(slice)`
/// may share the slice's buffer, capacity and all, which for a scratch buffer is far larger.)
@inline(__always)
func exactCopy<T>(_ slice: ArraySlice<T>) -> [T] {
    [T](unsafeUninitializedCapacity: slice.count) { buffer, initialized in
        _ = slice.withUnsafeBufferPointer { buffer.initialize(fromContentsOf: $0) }
        initialized = slice.count
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

extension DeviceSeries {
    /// The first broken invariant of the series' layout, or nil (for tests): chunks and blocks
    /// ascending and non-overlapping, each chunk within its limits and its `last` its last block's,
    /// pending readings sorted within their chunk's range and absent from its blocks, block
    /// contents matching their index entries, the head after every sealed reading, and the
    /// summary matching the readings (and `expired`, the counts a retention removed).
    func brokenInvariant(expired: UInt64 = 0) -> String? {
        var previous: Int64? = nil
        var readings = 0
        var sum: UInt64 = 0
        var instants: [Int64] = []
        var counts: [UInt64] = []
        for (c, chunk) in chunks.enumerated() {
            guard !chunk.blocks.isEmpty else { return "chunk \(c) has no block" }
            guard chunk.blocks.count <= DeviceSeries.maxChunkBlocks else { return "chunk \(c) has \(chunk.blocks.count) blocks" }
            guard chunk.last == chunk.blocks[chunk.blocks.count - 1].last else { return "chunk \(c) last is stale" }
            let rangeStart = previous
            var sealed = 0
            var stored: Set<Int64> = []
            for (b, info) in chunk.blocks.enumerated() {
                if let previous, info.first <= previous { return "chunk \(c) block \(b) overlaps the one before" }
                guard Int(info.count) <= DeviceSeries.maxBlockReadings else {
                    return "chunk \(c) block \(b) holds \(info.count) readings"
                }
                instants.removeAll()
                counts.removeAll()
                chunk.decode(b, instants: &instants, counts: &counts)
                guard instants.count == Int(info.count), instants.first == info.first, instants.last == info.last,
                    zip(instants, instants.dropFirst()).allSatisfy({ $0 < $1 })
                else { return "chunk \(c) block \(b) does not match its index entry" }
                stored.formUnion(instants)
                for count in counts { sum &+= count }
                sealed += instants.count
                previous = info.last
            }
            guard sealed == chunk.sealedReadings else { return "chunk \(c) sealedReadings is stale" }
            guard chunk.pending.count < max(chunk.pendingLimit, 1) else { return "chunk \(c) has too many pending readings" }
            var bound = rangeStart
            for reading in chunk.pending {
                let t = reading.instant.nanoseconds
                if let bound, t <= bound { return "chunk \(c) pending readings out of order or range" }
                guard t < chunk.last, !stored.contains(t) else { return "chunk \(c) pending reading at a stored instant" }
                sum &+= reading.count
                bound = t
            }
            readings += sealed + chunk.pending.count
        }
        for reading in head {
            if let previous, reading.instant.nanoseconds <= previous { return "head out of order" }
            previous = reading.instant.nanoseconds
            sum &+= reading.count
        }
        readings += head.count
        guard readings == count, sum &+ expired == cumulative else { return "summary does not match the readings" }
        if count > 0, previous != latest { return "latest is stale" }
        return nil
    }
}
