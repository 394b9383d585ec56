import Foundation
import Logging
import ReadingsDomain
import ReadingsStorage

#if canImport(Glibc)
import Glibc
#endif

/// Rebuilding the memory engine from a data directory: the newest snapshot, then every journal
/// segment after it, in order: accepted readings stored again (without the retention's check:
/// they were accepted when they came), deleted devices deleted, horizons advanced; then the
/// readings before the last horizon are removed, once.
///
/// - A bad last record of the last segment (it ends inside the file's end, fails its checksum,
///   or is followed by garbage) is what a crash or a power loss leaves under every `--sync` mode:
///   the segment is cut at the last whole record, and a warning says how many bytes went from
///   which file and offset. Nothing cut was acknowledged under `--sync always` (a record is
///   acknowledged only once synced, and a synced record is never followed by a torn one).
/// - A segment shorter than its header (a crash, or a full disk, while creating it) holds no
///   record and is removed wherever it is.
/// - Any other damage (a corrupt snapshot, a bad record in a segment that is not the last) stops
///   the start with the file and offset: never a silent loss.
///
/// Everything replayed is synced before the store serves: a reading that a crashed process had
/// written but not synced is replayed, so a retrying client hears 409 for it, and that answer
/// must survive a power loss that follows.
public enum Recovery {
    /// What recovery found and did.
    public struct Result: Sendable {
        /// The first segment number free for new appends.
        public var nextSegment: UInt64
        /// The snapshot loaded, if any.
        public var snapshot: String?
        /// Readings loaded from the snapshot.
        public var snapshotReadings = 0
        /// Readings replayed from the journal.
        public var replayedReadings = 0
        /// Bytes cut from a torn tail.
        public var truncatedBytes = 0
    }

    /// Files of a data directory, by kind.
    struct Listing {
        var snapshots: [(segment: UInt64, name: String)] = []
        var segments: [(number: UInt64, name: String)] = []
        var temporary: [String] = []
    }

    static func list(_ directory: URL, fileSystem: any FileSystem) throws -> Listing {
        var listing = Listing()
        for name in try fileSystem.contentsOfDirectory(directory.path) {
            if name.hasSuffix(".tmp") {
                listing.temporary.append(name)
            } else if name.hasPrefix("snapshot-"), name.hasSuffix(".snap"), let n = UInt64(name.dropFirst(9).dropLast(5)) {
                listing.snapshots.append((n, name))
            } else if name.hasPrefix("journal-"), name.hasSuffix(".log"), let n = UInt64(name.dropFirst(8).dropLast(4)) {
                listing.segments.append((n, name))
            }
        }
        listing.snapshots.sort { $0.segment < $1.segment }
        listing.segments.sort { $0.number < $1.number }
        return listing
    }

    /// Loads `directory` into `store`.
    public static func recover(
        _ directory: URL, into store: MemoryStore, fileSystem: any FileSystem = PosixFileSystem(), logger: Logger
    ) throws -> Result {
        let listing = try list(directory, fileSystem: fileSystem)
        var removed = false
        for name in listing.temporary {
            // An unfinished snapshot: never renamed into place, so never relied on.
            try? fileSystem.remove(directory.appendingPathComponent(name).path)
            removed = true
        }
        var result = Result(nextSegment: 0)
        var replayFrom: UInt64 = 0
        if let newest = listing.snapshots.last {
            let path = directory.appendingPathComponent(newest.name).path
            let loaded = try Snapshot.load(path, into: store, fileSystem: fileSystem)
            replayFrom = loaded.nextSegment
            result.snapshot = path
            result.snapshotReadings = loaded.readings
        }
        var segments: [(path: String, data: [UInt8])] = []
        for segment in listing.segments where segment.number >= replayFrom {
            let path = directory.appendingPathComponent(segment.name).path
            let data = try fileSystem.read(path)
            if data.count < Journal.headerSize {
                try fileSystem.remove(path)
                removed = true
                logger.warning(
                    "removed a journal segment shorter than its header (a crash or a full disk while creating it)",
                    metadata: ["journal.segment": "\(path)"])
            } else {
                segments.append((path, data))
            }
        }
        for (k, segment) in segments.enumerated() {
            try replay(
                segment.data, of: segment.path, isLast: k == segments.count - 1, into: store, fileSystem: fileSystem, result: &result,
                logger: logger)
        }
        // Every reading before the last horizon goes, also those a request had accepted just
        // before a horizon passed them, whose record may follow that horizon's: the live store
        // removed them in the same pass.
        store.removeReadingsNow(before: store.horizon)
        if removed { try fileSystem.syncDirectory(directory.path) }
        result.nextSegment = max(replayFrom, (listing.segments.last?.number).map { $0 + 1 } ?? 0)
        return result
    }

    static func replay(
        _ data: [UInt8], of path: String, isLast: Bool, into store: MemoryStore, fileSystem: any FileSystem, result: inout Result,
        logger: Logger
    ) throws {
        let cut: (offset: Int, reason: String)? = try data.withUnsafeBufferPointer { bytes in
            func corrupt(_ offset: Int, _ reason: String) -> RecoveryError {
                .corrupt(path: path, offset: offset, reason: reason)
            }
            var header = LittleEndianReader(bytes: bytes, position: 4)
            guard Array(bytes[0..<4]) == Journal.segmentMagic, let version = header.read(UInt32.self) else {
                throw corrupt(0, "not a journal segment (bad header)")
            }
            guard version >= 1 && version <= Journal.formatVersion else {
                throw corrupt(4, "journal format version \(version) is newer than this server reads (\(Journal.formatVersion))")
            }
            var offset = Journal.headerSize
            while offset < bytes.count {
                switch RecordFrame.read(bytes, at: offset) {
                case .record(let payload, let next):
                    switch JournalRecord.decode(UnsafeBufferPointer(rebasing: bytes[payload])) {
                    case .readings(let device, let readings):
                        store.replay(readings, for: device)
                        result.replayedReadings += readings.count
                    case .deleted(let device):
                        _ = store.deleteDevice(device)
                    case .horizon(let horizon):
                        // Only the horizon here: one removal pass at the end removes what every
                        // horizon passed (a pass per record would walk the fleet once a minute of
                        // journal).
                        store.advanceHorizon(to: horizon)
                    case nil:
                        throw corrupt(offset, "record checksum is right but its contents are not a journal record")
                    }
                    offset = next
                case .truncated where isLast:
                    return (offset, "the last record is incomplete")
                case .corrupt(let reason) where isLast:
                    let afterHeader = min(offset + RecordFrame.headerSize, bytes.count)
                    let garbage = bytes[afterHeader...].contains { $0 != 0 }
                    return (offset, reason + (garbage ? ", followed by other data" : ", followed by zeros"))
                case .truncated:
                    throw corrupt(offset, "segment ends inside a record, but it is not the last segment")
                case .corrupt(let reason):
                    throw corrupt(offset, reason)
                }
            }
            return nil
        }
        if let cut {
            let dropped = data.count - cut.offset
            try fileSystem.truncateDurably(path, to: cut.offset)
            result.truncatedBytes += dropped
            logger.warning(
                "journal had a torn tail (a crash or power loss during a write); cut it off",
                metadata: [
                    "journal.segment": "\(path)", "journal.offset": "\(cut.offset)", "journal.dropped_bytes": "\(dropped)",
                    "journal.reason": "\(cut.reason)",
                ])
        } else {
            try fileSystem.syncFile(path)
        }
    }
}

/// Damage that stops recovery.
public enum RecoveryError: Error, CustomStringConvertible, Sendable {
    /// A file is corrupt at an offset.
    case corrupt(path: String, offset: Int, reason: String)
    /// Another process holds the data directory.
    case locked(path: String)

    public var description: String {
        switch self {
        case .corrupt(let path, let offset, let reason):
            "\(path) is corrupt at byte \(offset): \(reason). Refusing to start rather than lose data silently; move the file away to start without it."
        case .locked(let path):
            "another device-readings process is using the data directory (\(path) is locked)"
        }
    }
}
