import Foundation
import Logging
import ReadingsDomain
import ReadingsStorage

@testable import ReadingsPersistence

/// A fresh, empty directory under the system's temporary folder.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dr-persistence-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

let testLogger: Logger = {
    var logger = Logger(label: "persistence-test")
    logger.logLevel = .critical
    return logger
}()

func device(_ text: String) -> DeviceID {
    try! DeviceID(text)
}

func reading(_ seconds: Int64, _ count: UInt64) -> Reading {
    Reading(instant: Instant(nanoseconds: 1_700_000_000_000_000_000 + seconds * 1_000_000_000), count: count)
}

/// Every device's readings in `store`, for comparing two stores.
func contents(_ store: MemoryStore) -> [DeviceID: [Reading]] {
    var all: [DeviceID: [Reading]] = [:]
    store.forEachSeries { id, _ in
        all[id] = store.readings(of: id, in: .all, limit: .max)?.readings
    }
    return all
}

/// Appends accepted readings of `device` to `journal` as the store would, and waits for them.
func journal(_ readings: [Reading], of device: DeviceID, to journal: Journal) async throws {
    let position = try journal.append { out in
        JournalRecord.encodeAccepted(
            device: device, readings: readings[...], outcomes: Array(repeating: .accepted, count: readings.count)[...], into: &out)
    }
    try await journal.waitUntilDurable(position)
}

/// Names of the files in `directory`, sorted.
func files(_ directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
}
