import ReadingsDomain

/// One device's readings, ordered by instant, with its running summary.
///
/// Appending after the latest instant (the common case: devices report forward in time) needs
/// no lookup; an older instant is found by binary search.
struct DeviceSeries {
    /// Instants, strictly ascending.
    private(set) var instants: [Int64] = []
    /// Counts, parallel to `instants`.
    private(set) var counts: [UInt64] = []
    /// Sum of `counts`, at most `Int64.max`.
    private(set) var cumulative: UInt64 = 0

    var count: Int { instants.count }

    var summary: DeviceSummary? {
        guard let last = instants.last else { return nil }
        return DeviceSummary(
            latest: Instant(nanoseconds: last), cumulativeCount: Int64(cumulative), readingCount: instants.count)
    }

    /// Decides each reading in order, storing the new ones.
    mutating func insert(_ readings: [Reading]) -> [IngestOutcome] {
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(readings.count)
        for reading in readings {
            outcomes.append(insert(reading))
        }
        return outcomes
    }

    @inline(__always)
    private mutating func insert(_ reading: Reading) -> IngestOutcome {
        let t = reading.instant.nanoseconds
        let position: Int
        if let last = instants.last, t <= last {
            position = lowerBound(t)
            if position < instants.count && instants[position] == t {
                let existing = counts[position]
                return existing == reading.count ? .duplicate : .conflicting(existingCount: existing)
            }
        } else {
            position = instants.count
        }
        guard reading.count <= UInt64(Int64.max) - cumulative else { return .overflow }
        cumulative += reading.count
        if position == instants.count {
            instants.append(t)
            counts.append(reading.count)
        } else {
            instants.insert(t, at: position)
            counts.insert(reading.count, at: position)
        }
        return .accepted
    }

    /// Index of the first instant ≥ `t`.
    private func lowerBound(_ t: Int64) -> Int {
        var low = 0
        var high = instants.count
        while low < high {
            let mid = (low + high) / 2
            if instants[mid] < t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Up to `limit` readings in `range`, and the instant of the next one beyond the limit.
    func readings(in range: InstantRange, limit: Int) -> ([Reading], Instant?) {
        if range.isEmpty { return ([], nil) }
        let start = range.from.map { lowerBound($0.nanoseconds) } ?? 0
        let end = range.to.map { lowerBound($0.nanoseconds) } ?? instants.count
        guard start < end else { return ([], nil) }
        let stop = limit >= end - start ? end : start + max(limit, 0)
        var page: [Reading] = []
        page.reserveCapacity(stop - start)
        for i in start..<stop {
            page.append(Reading(instant: Instant(nanoseconds: instants[i]), count: counts[i]))
        }
        let next = stop < end ? Instant(nanoseconds: instants[stop]) : nil
        return (page, next)
    }
}
