import ReadingsDomain

/// Byte serialisation of a device's series for snapshots, in parts so that no device, however
/// large, needs one record of unbounded size: a header (the summary and the head), then one part
/// per chunk (its block index, its bytes and its pending readings as they are in memory, so that
/// loading is a copy rather than a re-encode).
///
/// Header (little-endian): latest i64, cumulative u64, count u64, head count u32, head readings
/// (instant i64, count u64)…, chunk count u64.
///
/// Chunk: block count u32, blocks (first i64, last i64, offset u32, length u16, count u16)…,
/// bytes length u32, bytes, pending count u32, pending readings (instant i64, count u64)….
///
/// The format before chunks (snapshot format 1) had one part: the header's fields up to the
/// head, then block count u32, the blocks as above, arena length u32 and the arena; it is read
/// by ``deserializeUnchunked(_:at:)``.
extension StoredSeries {
    /// Appends the series' header part to `out`.
    public func serializeHeader(into out: inout [UInt8]) {
        let series = series
        out.appendLittleEndian(series.latest)
        out.appendLittleEndian(series.cumulative)
        out.appendLittleEndian(UInt64(series.count))
        out.appendLittleEndian(UInt32(series.head.count))
        for reading in series.head {
            out.appendLittleEndian(reading.instant.nanoseconds)
            out.appendLittleEndian(reading.count)
        }
        out.appendLittleEndian(UInt64(series.chunks.count))
    }

    /// Number of chunk parts that follow the header.
    public var chunkCount: Int { series.chunks.count }

    /// Appends chunk `index`'s part to `out`.
    public func serializeChunk(_ index: Int, into out: inout [UInt8]) {
        let chunk = series.chunks[index]
        out.appendLittleEndian(UInt32(chunk.blocks.count))
        for info in chunk.blocks {
            out.appendLittleEndian(info.first)
            out.appendLittleEndian(info.last)
            out.appendLittleEndian(info.offset)
            out.appendLittleEndian(info.length)
            out.appendLittleEndian(info.count)
        }
        out.appendLittleEndian(UInt32(chunk.bytes.count))
        out.append(contentsOf: chunk.bytes)
        out.appendLittleEndian(UInt32(chunk.pending.count))
        for reading in chunk.pending {
            out.appendLittleEndian(reading.instant.nanoseconds)
            out.appendLittleEndian(reading.count)
        }
    }

    /// Number of readings in the series.
    public var count: Int { series.count }

    /// A series being read back part by part.
    public struct Loader {
        var series = DeviceSeries()
        /// Chunk parts still expected.
        public private(set) var chunksExpected: UInt64
        /// Readings seen so far (head and chunks), checked against the header's count at the end.
        var readingsSeen: Int

        /// Reads a header part from `bytes` at `position`, advancing it; nil when it is not one.
        public init?(header bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) {
            var reader = LittleEndianReader(bytes: bytes, position: position)
            guard let header = DeviceSeries.readHeader(&reader), let chunks = reader.read(UInt64.self) else { return nil }
            series = header
            chunksExpected = chunks
            readingsSeen = header.head.count
            position = reader.position
        }

        /// Reads the next chunk part; false when it is not a consistent chunk following the
        /// ones before it.
        public mutating func addChunk(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) -> Bool {
            guard chunksExpected > 0 else { return false }
            var reader = LittleEndianReader(bytes: bytes, position: position)
            guard let blocks = DeviceSeries.readBlocks(&reader), let length = reader.read(UInt32.self),
                reader.position + Int(length) <= bytes.count
            else { return false }
            let chunkBytes = Array(bytes[reader.position..<reader.position + Int(length)])
            reader.position += Int(length)
            guard let pendingCount = reader.read(UInt32.self), Int(pendingCount) <= bytes.count / 16 else { return false }
            var pending: [Reading] = []
            pending.reserveCapacity(Int(pendingCount))
            for _ in 0..<pendingCount {
                guard let t = reader.read(Int64.self), let c = reader.read(UInt64.self), c <= ReadingCount.max else { return false }
                pending.append(Reading(instant: Instant(nanoseconds: t), count: c))
            }
            let previousLast = series.chunks.last?.last
            guard let chunk = DeviceSeries.Chunk(blocks: blocks, bytes: chunkBytes, pending: pending, after: previousLast) else {
                return false
            }
            series.chunks.append(chunk)
            readingsSeen += chunk.sealedReadings + chunk.pending.count
            chunksExpected -= 1
            position = reader.position
            return true
        }

        /// The series, once every chunk has been read and the parts agree with the header.
        public func finish() -> StoredSeries? {
            guard chunksExpected == 0, series.isConsistent(readings: readingsSeen) else { return nil }
            return StoredSeries(series: series)
        }
    }

    /// Reads a series in the format before chunks (snapshot format 1) from `bytes` at
    /// `position`, advancing it; nil when the bytes are not a consistent series.
    public static func deserializeUnchunked(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) -> StoredSeries? {
        var reader = LittleEndianReader(bytes: bytes, position: position)
        guard var series = DeviceSeries.readHeader(&reader), let blocks = DeviceSeries.readBlocks(&reader),
            let arenaLength = reader.read(UInt32.self), reader.position + Int(arenaLength) <= bytes.count
        else { return nil }
        let arena = UnsafeBufferPointer(rebasing: bytes[reader.position..<reader.position + Int(arenaLength)])
        var readings = series.head.count
        var start = 0
        while start < blocks.count {
            let end = min(start + DeviceSeries.maxChunkBlocks, blocks.count)
            let low = Int(blocks[start].offset)
            let high = Int(blocks[end - 1].offset) + Int(blocks[end - 1].length)
            guard low <= high, high <= arena.count else { return nil }
            var infos = Array(blocks[start..<end])
            for i in infos.indices {
                guard Int(infos[i].offset) >= low else { return nil }
                infos[i].offset -= UInt32(low)
            }
            guard
                let chunk = DeviceSeries.Chunk(
                    blocks: infos, bytes: Array(arena[low..<high]), pending: [], after: series.chunks.last?.last)
            else { return nil }
            series.chunks.append(chunk)
            readings += chunk.sealedReadings
            start = end
        }
        guard series.isConsistent(readings: readings) else { return nil }
        position = reader.position + Int(arenaLength)
        return StoredSeries(series: series)
    }
}

extension DeviceSeries {
    /// The summary and the head.
    fileprivate static func readHeader(_ reader: inout LittleEndianReader) -> DeviceSeries? {
        guard let latest = reader.read(Int64.self), let cumulative = reader.read(UInt64.self),
            let count = reader.read(UInt64.self), let headCount = reader.read(UInt32.self),
            cumulative <= UInt64(Int64.max), count <= UInt64(Int.max), headCount <= UInt32(DeviceSeries.headCapacity)
        else { return nil }
        var series = DeviceSeries()
        series.latest = latest
        series.cumulative = cumulative
        series.count = Int(count)
        series.head.reserveCapacity(Int(headCount))
        for _ in 0..<headCount {
            guard let t = reader.read(Int64.self), let c = reader.read(UInt64.self), c <= ReadingCount.max else { return nil }
            series.head.append(Reading(instant: Instant(nanoseconds: t), count: c))
        }
        return series
    }

    /// A block index: count u32, then the entries.
    fileprivate static func readBlocks(_ reader: inout LittleEndianReader) -> [BlockInfo]? {
        guard let blockCount = reader.read(UInt32.self), Int(blockCount) <= reader.bytes.count / 24 else { return nil }
        var blocks: [BlockInfo] = []
        blocks.reserveCapacity(Int(blockCount))
        for _ in 0..<blockCount {
            guard let first = reader.read(Int64.self), let last = reader.read(Int64.self),
                let offset = reader.read(UInt32.self), let length = reader.read(UInt16.self),
                let readings = reader.read(UInt16.self), first <= last, readings > 0, length > 0
            else { return nil }
            blocks.append(BlockInfo(first: first, last: last, offset: offset, length: length, count: readings))
        }
        return blocks
    }

    /// Whether the parts read agree: `readings` readings in all, the head after the chunks and
    /// ascending, the latest instant where it must be.
    fileprivate func isConsistent(readings: Int) -> Bool {
        guard readings == count else { return false }
        if count == 0 { return chunks.isEmpty && head.isEmpty }
        for (a, b) in zip(head, head.dropFirst()) where a.instant >= b.instant { return false }
        if let last = chunks.last?.last, let first = head.first, first.instant.nanoseconds <= last { return false }
        let greatest = head.last?.instant.nanoseconds ?? chunks.last?.last
        return greatest == latest
    }
}

extension DeviceSeries.Chunk {
    /// A chunk read back, checked: blocks ascending and within the bytes, after `previous`
    /// (the last instant of the chunk before, if any), pending readings ascending within the
    /// chunk's range. Instants inside blocks are checked when the blocks are decoded.
    fileprivate init?(blocks: [DeviceSeries.BlockInfo], bytes: [UInt8], pending: [Reading], after previous: Int64?) {
        guard let lastBlock = blocks.last, blocks.count <= 4 * DeviceSeries.maxChunkBlocks else { return nil }
        var bound = previous
        var readings = 0
        for info in blocks {
            if let bound, info.first <= bound { return nil }
            guard Int(info.offset) + Int(info.length) <= bytes.count else { return nil }
            bound = info.last
            readings += Int(info.count)
        }
        var pendingBound = previous
        for reading in pending {
            let t = reading.instant.nanoseconds
            if let pendingBound, t <= pendingBound { return nil }
            guard t < lastBlock.last else { return nil }
            pendingBound = t
        }
        self.init(last: lastBlock.last, sealedReadings: readings, blocks: blocks, bytes: bytes, pending: pending)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in little-endian byte order.
    @inline(__always)
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Reads little-endian integers from a buffer, refusing to read past its end.
public struct LittleEndianReader {
    /// The buffer.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    public var position: Int

    /// Creates a reader at `position`.
    public init(bytes: UnsafeBufferPointer<UInt8>, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// The next integer of type `T`, or nil when fewer bytes remain.
    @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard position + size <= bytes.count else { return nil }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[position..<position + size]))
        }
        position += size
        return T(littleEndian: value)
    }
}
