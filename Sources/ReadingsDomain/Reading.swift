/// One accepted reading of a device: a count at an instant.
public struct Reading: Hashable, Sendable {
    /// When the reading was taken.
    public var instant: Instant
    /// The count, 0...2^53−1.
    public var count: UInt64

    /// Creates a reading.
    @inlinable
    public init(instant: Instant, count: UInt64) {
        self.instant = instant
        self.count = count
    }
}

/// What storage decided for one valid reading of a batch.
public enum IngestOutcome: Hashable, Sendable {
    /// New: stored and counted.
    case accepted
    /// The device already had a reading at that instant with the same count: a retry.
    case duplicate
    /// The device already had a reading at that instant with another count, which stays.
    case conflicting(existingCount: UInt64)
    /// New, but it would push the cumulative count past 2^63−1: not stored.
    case overflow
    /// Older than the retention horizon (see ``Retention``): neither stored nor counted, and
    /// decided before any lookup, so a reading that expired cannot come back as new.
    case tooOld
}

/// The one rule by which every engine decides a valid reading of a batch, in batch order: a
/// reading at an instant the device already has (stored, or accepted earlier in the same batch)
/// is a duplicate when the counts agree and a conflict when they do not, whatever else; a new
/// reading is accepted, and counted into `cumulative`, unless that would pass 2^63−1.
public enum IngestDecision {
    /// Decides a reading of count `count` given `existing`, the count the device already has at
    /// its instant (nil: none), and the device's cumulative count so far, which grows by `count`
    /// when the reading is accepted.
    @inlinable @inline(__always)
    public static func decide(_ count: UInt64, existing: UInt64?, cumulative: inout UInt64) -> IngestOutcome {
        if let existing {
            return existing == count ? .duplicate : .conflicting(existingCount: existing)
        }
        guard count <= UInt64(Int64.max) - cumulative else { return .overflow }
        cumulative += count
        return .accepted
    }
}

/// What a device's readings add up to, at one consistent moment.
public struct DeviceSummary: Hashable, Sendable {
    /// The greatest instant among the device's readings.
    public var latest: Instant
    /// The sum of all accepted counts (at most 2^63−1).
    public var cumulativeCount: Int64
    /// The number of readings stored.
    public var readingCount: Int

    /// Creates a summary.
    public init(latest: Instant, cumulativeCount: Int64, readingCount: Int) {
        self.latest = latest
        self.cumulativeCount = cumulativeCount
        self.readingCount = readingCount
    }
}

/// A half-open range of instants, `lower..<upper`; either bound may be absent.
public struct InstantRange: Hashable, Sendable {
    /// Inclusive lower bound, or nil for "from the beginning".
    public var from: Instant?
    /// Exclusive upper bound, or nil for "to the end".
    public var to: Instant?

    /// Creates a range.
    public init(from: Instant? = nil, to: Instant? = nil) {
        self.from = from
        self.to = to
    }

    /// Every instant.
    public static let all = InstantRange()

    /// Whether the range contains no instant at all (`from` ≥ `to`).
    public var isEmpty: Bool {
        guard let from, let to else { return false }
        return from >= to
    }
}
