import ReadingsDomain

/// Byte serialisation of a device's series for snapshots: the summary, the head, the block index
/// and the arena as they are in memory, so that loading is a copy rather than a re-encode.
///
/// Layout (little-endian): latest i64, cumulative u64, count u64, head count u32, head readings
/// (instant i64, count u64)…, block count u32, blocks (first i64, last i64, offset u32,
/// length u16, count u16)…, arena length u32, arena bytes.
extension StoredSeries {
    /// Appends the serialised series to `out`.
    public func serialize(into out: inout [UInt8]) {
        series.serialize(into: &out)
    }

    /// Reads a series serialised by ``serialize(into:)`` from `bytes` at `position`, advancing
    /// it; nil when the bytes are not a consistent series.
    public static func deserialize(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) -> StoredSeries? {
        DeviceSeries.deserialize(bytes, at: &position).map(StoredSeries.init)
    }

    /// Number of readings in the series.
    public var count: Int { series.count }
}

extension DeviceSeries {
    func serialize(into out: inout [UInt8]) {
        out.appendLittleEndian(latest)
        out.appendLittleEndian(cumulative)
        out.appendLittleEndian(UInt64(count))
        out.appendLittleEndian(UInt32(head.count))
        for reading in head {
            out.appendLittleEndian(reading.instant.nanoseconds)
            out.appendLittleEndian(reading.count)
        }
        out.appendLittleEndian(UInt32(index.count))
        for info in index {
            out.appendLittleEndian(info.first)
            out.appendLittleEndian(info.last)
            out.appendLittleEndian(info.offset)
            out.appendLittleEndian(info.length)
            out.appendLittleEndian(info.count)
        }
        out.appendLittleEndian(UInt32(arena.count))
        out.append(contentsOf: arena)
    }

    static func deserialize(_ bytes: UnsafeBufferPointer<UInt8>, at position: inout Int) -> DeviceSeries? {
        var reader = LittleEndianReader(bytes: bytes, position: position)
        guard let latest = reader.read(Int64.self), let cumulative = reader.read(UInt64.self),
            let count = reader.read(UInt64.self), let headCount = reader.read(UInt32.self),
            cumulative <= UInt64(Int64.max), headCount <= UInt32(DeviceSeries.headCapacity)
        else { return nil }
        var series = DeviceSeries()
        series.latest = latest
        series.cumulative = cumulative
        series.count = Int(count)
        series.head.reserveCapacity(Int(headCount))
        for _ in 0..<headCount {
            guard let t = reader.read(Int64.self), let c = reader.read(UInt64.self) else { return nil }
            series.head.append(Reading(instant: Instant(nanoseconds: t), count: c))
        }
        guard let blockCount = reader.read(UInt32.self), Int(blockCount) <= bytes.count else { return nil }
        series.index.reserveCapacity(Int(blockCount))
        var total = series.head.count
        for _ in 0..<blockCount {
            guard let first = reader.read(Int64.self), let last = reader.read(Int64.self),
                let offset = reader.read(UInt32.self), let length = reader.read(UInt16.self),
                let blockReadings = reader.read(UInt16.self), first <= last, blockReadings > 0
            else { return nil }
            series.index.append(BlockInfo(first: first, last: last, offset: offset, length: length, count: blockReadings))
            total += Int(blockReadings)
        }
        guard let arenaLength = reader.read(UInt32.self), reader.position + Int(arenaLength) <= bytes.count,
            total == series.count
        else { return nil }
        for info in series.index where Int(info.offset) + Int(info.length) > Int(arenaLength) { return nil }
        series.arena = Array(bytes[reader.position..<reader.position + Int(arenaLength)])
        position = reader.position + Int(arenaLength)
        return series
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
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[position..<position + size])) }
        position += size
        return T(littleEndian: value)
    }
}
