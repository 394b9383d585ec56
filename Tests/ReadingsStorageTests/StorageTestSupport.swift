import ReadingsDomain

/// Nanoseconds in one second.
let second: Int64 = 1_000_000_000

/// A reading `seconds` after 2023-01-01T00:00:00Z.
func reading(_ seconds: Int64, _ count: UInt64) -> Reading {
    Reading(instant: at(seconds), count: count)
}

/// The instant `seconds` after 2023-01-01T00:00:00Z.
func at(_ seconds: Int64) -> Instant {
    Instant(nanoseconds: 1_672_531_200 * second + seconds * second)
}

/// A device id that is known to be valid.
func device(_ text: String) -> DeviceID {
    do {
        return try DeviceID(text)
    } catch {
        fatalError("invalid test device id \(text): \(error)")
    }
}

/// A plain model of one device's storage: a dictionary of instants to counts and a running sum.
struct DeviceModel {
    var counts: [Int64: UInt64] = [:]
    var sum: UInt64 = 0

    mutating func insert(_ reading: Reading) -> IngestOutcome {
        let t = reading.instant.nanoseconds
        if let existing = counts[t] {
            return existing == reading.count ? .duplicate : .conflicting(existingCount: existing)
        }
        let (total, overflow) = sum.addingReportingOverflow(reading.count)
        if overflow || total > UInt64(Int64.max) { return .overflow }
        counts[t] = reading.count
        sum = total
        return .accepted
    }

    var summary: DeviceSummary? {
        guard let latest = counts.keys.max() else { return nil }
        return DeviceSummary(latest: Instant(nanoseconds: latest), cumulativeCount: Int64(sum), readingCount: counts.count)
    }

    var sorted: [Reading] {
        counts.sorted { $0.key < $1.key }.map { Reading(instant: Instant(nanoseconds: $0.key), count: $0.value) }
    }

    /// The page `readings(of:in:limit:)` should return.
    func page(_ range: InstantRange, limit: Int) -> ([Reading], Instant?) {
        let matching = sorted.filter { r in
            (range.from.map { r.instant >= $0 } ?? true) && (range.to.map { r.instant < $0 } ?? true)
        }
        let page = Array(matching.prefix(limit))
        return (page, matching.count > limit ? matching[limit].instant : nil)
    }
}
