import Foundation
import Logging
import ReadingsDomain
import ReadingsStorage

#if canImport(Glibc)
import Glibc
#endif

/// Rebuilding the memory engine from a data directory: the newest snapshot, then every journal
/// segment after it, in order.
///
/// A torn tail (the last segment ends inside a record, or in a record that fails its checksum
/// with nothing but zeros after its header: a crash mid-append) is cut off at the
/// last whole record, with a log line saying how many bytes went. Any other damage (a corrupt
/// snapshot, a bad record followed by good data, a bad record in an older segment) stops the
/// start with the file and offset: never a silent loss.
public enum Recovery {
    /// What recovery found and did.
    public struct Result: Sendable {
        /// The first segment number free for new appends.
        public var nextSegment: UInt64
        /// The snapshot loaded, if any.
        public var snapshot: String?
        /// Readings loaded from the snapshot.
        public var snapshotReadings = 0
        /// Records and readings replayed from the journal.
        public var replayedRecords = 0
        public var replayedReadings = 0
        /// Bytes cut from a torn tail.
        public var truncatedBytes = 0
        /// Journal bytes replayed.
        public var journalBytes = 0
    }

    /// Files of a data directory, by kind.
    struct Listing {
        var snapshots: [(segment: UInt64, name: String)] = []
        var segments: [(number: UInt64, name: String)] = []
        var temporary: [String] = []
    }

    static func list(_ directory: URL) throws -> Listing {
        var listing = Listing()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
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
    public static func recover(_ directory: URL, into store: MemoryStore, logger: Logger) throws -> Result {
        let listing = try list(directory)
        for name in listing.temporary {
            // An unfinished snapshot from a crash: never renamed into place, so never relied on.
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
        var result = Result(nextSegment: 0)
        var replayFrom: UInt64 = 0
        if let newest = listing.snapshots.last {
            let path = directory.appendingPathComponent(newest.name).path
            let loaded = try Snapshot.load(path, into: store)
            replayFrom = loaded.nextSegment
            result.snapshot = path
            result.snapshotReadings = loaded.readings
        }
        let segments = listing.segments.filter { $0.number >= replayFrom }
        for (k, segment) in segments.enumerated() {
            let path = directory.appendingPathComponent(segment.name).path
            try replay(path, isLast: k == segments.count - 1, into: store, result: &result, logger: logger)
        }
        result.nextSegment = max(replayFrom, (listing.segments.last?.number).map { $0 + 1 } ?? 0)
        return result
    }

    static func replay(_ path: String, isLast: Bool, into store: MemoryStore, result: inout Result, logger: Logger) throws {
        let data = try FileContents.read(path)
        let cut: Int? = try data.withUnsafeBufferPointer { bytes in
            func corrupt(_ offset: Int, _ reason: String) -> RecoveryError {
                .corrupt(path: path, offset: offset, reason: reason)
            }
            if bytes.count < 8 {
                // A crash while creating the segment: nothing in it was ever acknowledged.
                if isLast { return 0 }
                throw corrupt(0, "segment shorter than its header")
            }
            var header = LittleEndianReader(bytes: bytes, position: 4)
            guard Array(bytes[0..<4]) == Journal.segmentMagic, let version = header.read(UInt32.self) else {
                throw corrupt(0, "not a journal segment (bad header)")
            }
            guard version >= 1 && version <= Journal.formatVersion else {
                throw corrupt(4, "journal format version \(version) is newer than this server reads (\(Journal.formatVersion))")
            }
            var offset = 8
            while offset < bytes.count {
                switch RecordFrame.read(bytes, at: offset) {
                case .record(let payload, let next):
                    guard let (device, readings) = JournalRecord.decode(UnsafeBufferPointer(rebasing: bytes[payload])) else {
                        throw corrupt(offset, "record checksum is right but its contents are not a readings record")
                    }
                    _ = store.ingestNow(readings, for: device)
                    result.replayedRecords += 1
                    result.replayedReadings += readings.count
                    offset = next
                case .truncated where isLast:
                    return offset
                case .corrupt(let reason) where isLast:
                    // Torn only if nothing but zeros follows the record's start or its header: a
                    // crash mid-write can leave a file extended with zeros.
                    let afterHeader = min(offset + RecordFrame.headerSize, bytes.count)
                    if bytes[afterHeader...].allSatisfy({ $0 == 0 }) { return offset }
                    throw corrupt(offset, reason + ", with data after it")
                case .truncated:
                    throw corrupt(offset, "segment ends inside a record, but it is not the last segment")
                case .corrupt(let reason):
                    throw corrupt(offset, reason)
                }
            }
            return nil
        }
        result.journalBytes += cut ?? data.count
        if let cut {
            let dropped = data.count - cut
            guard truncate(path, off_t(cut)) == 0 else { throw JournalError.io(operation: "truncate", path: path, errno: errno) }
            result.truncatedBytes += dropped
            logger.warning(
                "journal had a torn tail (a crash during a write); cut it off",
                metadata: ["journal.segment": "\(path)", "journal.offset": "\(cut)", "journal.dropped_bytes": "\(dropped)"])
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
