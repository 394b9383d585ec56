import Foundation
import ReadingsDomain
import ReadingsStorage

/// Snapshot files: the memory engine's whole state in its compact block format, checksummed,
/// named after the first journal segment they do not cover (`snapshot-<segment>.snap`).
///
/// Layout: magic `DRSN`, format version (u32 LE), first segment to replay (u64 LE), then framed
/// records (see ``RecordFrame``). Format 2: for each device a device record (type 4: id length
/// varint, id bytes, the series' header part) followed by one chunk record per chunk of the
/// series (type 5: the chunk's part), so that a record is at most one chunk (tens of KiB)
/// whatever the size of the device; then one end record (type 3: devices u64 LE, readings u64 LE).
/// Format 1 (still read) had one record per device (type 2: id, then the whole series unchunked),
/// which limited a device to one record's 64 MiB. A file without its end record, or with any
/// record failing its checksum, is corrupt.
public enum Snapshot {
    static let magic: [UInt8] = Array("DRSN".utf8)
    /// The snapshot format this server writes; it reads this one and every older one.
    public static let formatVersion: UInt32 = 2
    /// Format 1: a device and its whole series.
    static let unchunkedDeviceType: UInt8 = 2
    static let endType: UInt8 = 3
    /// Format 2: a device and its series' header part.
    static let deviceType: UInt8 = 4
    /// Format 2: one chunk of the device before it.
    static let chunkType: UInt8 = 5

    /// The file name of the snapshot covering everything before segment `segment`.
    public static func fileName(coveringBefore segment: UInt64) -> String {
        "snapshot-" + String(segment).leftPadded(to: 16) + ".snap"
    }

    /// What writing a snapshot produced.
    public struct Written: Sendable {
        public var path: String
        public var devices: Int
        public var readings: Int
        public var bytes: Int
    }

    /// Writes `store`'s state as the snapshot covering segments before `segment`: to a temporary
    /// file, fsynced, then (once `beforePublishing` returns) renamed into place and the directory
    /// fsynced. On failure the temporary file is removed, so that a full disk gets its space back
    /// at once. The journaled store waits there until everything the snapshot holds is
    /// acknowledged in the journal, so that a snapshot never holds a reading whose request failed.
    public static func write(
        _ store: MemoryStore, coveringBefore segment: UInt64, in directory: URL, fileSystem: any FileSystem = PosixFileSystem(),
        beforePublishing: () throws -> Void = {}
    ) throws -> Written {
        let final = directory.appendingPathComponent(fileName(coveringBefore: segment)).path
        let temporary = final + ".tmp"
        let handle = try fileSystem.open(temporary, .replace)
        var closed = false
        var renamed = false
        defer {
            if !closed { fileSystem.close(handle) }
            if !renamed { try? fileSystem.remove(temporary) }
        }
        var buffer: [UInt8] = magic
        buffer.appendLittleEndianUInt32(formatVersion)
        buffer.appendLittleEndian(segment)
        var devices = 0
        var readings = 0
        var bytes = 0
        func flush(force: Bool) throws {
            guard force || buffer.count >= 4 << 20 else { return }
            try buffer.withUnsafeBytes { try fileSystem.writeAll(handle, $0, path: temporary) }
            bytes += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        try store.forEachSeries { id, series in
            RecordFrame.append(to: &buffer) { out in
                out.append(deviceType)
                VarInt.append(UInt64(id.utf8.count), to: &out)
                out.append(contentsOf: id.utf8)
                series.serializeHeader(into: &out)
            }
            for chunk in 0..<series.chunkCount {
                RecordFrame.append(to: &buffer) { out in
                    out.append(chunkType)
                    series.serializeChunk(chunk, into: &out)
                }
                try flush(force: false)
            }
            devices += 1
            readings += series.count
            try flush(force: false)
        }
        RecordFrame.append(to: &buffer) { out in
            out.append(endType)
            out.appendLittleEndian(UInt64(devices))
            out.appendLittleEndian(UInt64(readings))
        }
        try flush(force: true)
        try fileSystem.sync(handle, path: temporary)
        fileSystem.close(handle)
        closed = true
        try beforePublishing()
        try fileSystem.rename(temporary, to: final)
        renamed = true
        try fileSystem.syncDirectory(directory.path)
        return Written(path: final, devices: devices, readings: readings, bytes: bytes)
    }

    /// Loads a snapshot into `store`; returns the first segment to replay and the number of
    /// readings loaded. Throws ``RecoveryError/corrupt(path:offset:reason:)`` for any damage.
    public static func load(
        _ path: String, into store: MemoryStore, fileSystem: any FileSystem = PosixFileSystem()
    ) throws -> (nextSegment: UInt64, readings: Int) {
        let data = try fileSystem.read(path)
        return try data.withUnsafeBufferPointer { bytes in
            func corrupt(_ offset: Int, _ reason: String) -> RecoveryError {
                .corrupt(path: path, offset: offset, reason: reason)
            }
            var header = LittleEndianReader(bytes: bytes, position: 4)
            guard bytes.count >= 16, Array(bytes[0..<4]) == magic, let version = header.read(UInt32.self),
                let nextSegment = header.read(UInt64.self)
            else { throw corrupt(0, "not a snapshot file (bad header)") }
            guard version >= 1 && version <= formatVersion else {
                throw corrupt(4, "snapshot format version \(version) is newer than this server reads (\(formatVersion))")
            }
            var offset = 16
            var devices = 0
            var readings = 0
            // The device whose chunk records are being read (format 2).
            var current: (id: DeviceID, loader: StoredSeries.Loader, offset: Int)?
            func finishCurrent() throws {
                guard let (id, loader, start) = current else { return }
                guard let series = loader.finish() else {
                    throw corrupt(
                        start, "invalid series for device \(id) (\(loader.chunksExpected) chunk records missing, or inconsistent)")
                }
                store.restore(series, for: id)
                devices += 1
                readings += series.count
                current = nil
            }
            while true {
                switch RecordFrame.read(bytes, at: offset) {
                case .truncated:
                    throw corrupt(offset, "the file ends inside a record (no end record)")
                case .corrupt(let reason):
                    throw corrupt(offset, reason)
                case .record(let payload, let next):
                    let type = bytes[payload.lowerBound]
                    let record = UnsafeBufferPointer(rebasing: bytes[payload])
                    if type == chunkType && version >= 2 {
                        var position = 1
                        guard current != nil, current!.loader.addChunk(record, at: &position), position == record.count else {
                            throw corrupt(offset, "a chunk record that does not continue a device")
                        }
                        offset = next
                        continue
                    }
                    try finishCurrent()
                    if type == endType {
                        var reader = LittleEndianReader(bytes: bytes, position: payload.lowerBound + 1)
                        guard reader.read(UInt64.self) == UInt64(devices), reader.read(UInt64.self) == UInt64(readings) else {
                            throw corrupt(offset, "end record counts do not match the records before it")
                        }
                        guard next == bytes.count else { throw corrupt(next, "data after the end record") }
                        return (nextSegment, readings)
                    }
                    let expected = version >= 2 ? deviceType : unchunkedDeviceType
                    guard type == expected else { throw corrupt(offset, "unknown record type \(type)") }
                    var reader = VarIntReader(bytes: record, position: 1)
                    guard let idLength = reader.nextChecked(), reader.position + Int(idLength) <= record.count,
                        let id = try? DeviceID(validating: Array(record[reader.position..<reader.position + Int(idLength)]))
                    else { throw corrupt(offset, "invalid device id") }
                    var position = reader.position + Int(idLength)
                    if version >= 2 {
                        guard let loader = StoredSeries.Loader(header: record, at: &position), position == record.count else {
                            throw corrupt(offset, "invalid series header for device \(id)")
                        }
                        current = (id, loader, offset)
                    } else {
                        guard let series = StoredSeries.deserializeUnchunked(record, at: &position), position == record.count else {
                            throw corrupt(offset, "invalid series for device \(id)")
                        }
                        store.restore(series, for: id)
                        devices += 1
                        readings += series.count
                    }
                    offset = next
                }
            }
        }
    }
}
