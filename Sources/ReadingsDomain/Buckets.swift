/// The width of the buckets of `GET /devices/{id}/buckets`: `<n>s`, `<n>m`, `<n>h` or `<n>d`,
/// n ≥ 1 written without leading zeros, at most 2^63−1 nanoseconds.
public struct BucketStep: Hashable, Sendable {
    /// The width in nanoseconds (≥ 1 s).
    public let nanoseconds: Int64
    /// The step as the client wrote it (it is echoed in the response).
    public let text: String

    /// Parses `text`, or returns nil when it is not `<n><unit>` or overflows.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, let unit = bytes.last else { return nil }
        let digits = bytes.dropLast()
        guard digits.first != UInt8(ascii: "0"), digits.count <= 18,
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        let n = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        let unitNanoseconds: Int64
        switch unit {
        case UInt8(ascii: "s"): unitNanoseconds = 1_000_000_000
        case UInt8(ascii: "m"): unitNanoseconds = 60_000_000_000
        case UInt8(ascii: "h"): unitNanoseconds = 3_600_000_000_000
        case UInt8(ascii: "d"): unitNanoseconds = 86_400_000_000_000
        default: return nil
        }
        let (product, overflow) = n.multipliedReportingOverflow(by: unitNanoseconds)
        guard !overflow else { return nil }
        self.nanoseconds = product
        self.text = text
    }
}

/// The buckets that cover `from..<to`: aligned to multiples of the step counted from
/// 1970-01-01T00:00:00Z, the first starting at or before `from`, the last ending at or after
/// `to`. Only readings in `from..<to` are summed, so the first and last buckets may cover part
/// of their width (as a `WHERE` before a `GROUP BY`). `from ≥ to` gives no bucket.
public struct BucketGrid: Hashable, Sendable {
    /// The most buckets one request may ask for.
    public static let maxBuckets = 10_000

    /// The readings summed.
    public let range: InstantRange
    /// Start of the first bucket.
    public let start: Instant
    /// Width of a bucket, in nanoseconds.
    public let step: Int64
    /// Number of buckets.
    public let count: Int

    /// The grid for `from..<to` in steps of `step`.
    public init(from: Instant, to: Instant, step: BucketStep) throws(BucketGridError) {
        self.range = InstantRange(from: from, to: to)
        self.step = step.nanoseconds
        let width = Int128(step.nanoseconds)
        guard from < to else {
            self.start = from
            self.count = 0
            return
        }
        // Floor division, also for instants before 1970.
        let lower = Int128(from.nanoseconds)
        let quotient = lower >= 0 ? lower / width : -((-lower + width - 1) / width)
        let first = quotient * width
        guard first >= Int128(Int64.min) else { throw .startsBeforeRange }
        let buckets = (Int128(to.nanoseconds) - first + width - 1) / width
        guard buckets <= Int128(BucketGrid.maxBuckets) else { throw .tooManyBuckets(buckets) }
        self.start = Instant(nanoseconds: Int64(first))
        self.count = Int(buckets)
    }

    /// The bucket of an instant in ``range``.
    @inline(__always)
    public func bucket(of nanoseconds: Int64) -> Int {
        // t ≥ start, and t − start < 2^64 for any two Int64 values.
        Int(UInt64(bitPattern: nanoseconds &- start.nanoseconds) / UInt64(step))
    }

    /// The start of bucket `index`.
    public func start(ofBucket index: Int) -> Instant {
        Instant(nanoseconds: start.nanoseconds &+ Int64(index) &* step)
    }
}

/// Why a bucket grid cannot be made.
public enum BucketGridError: Error, Hashable, Sendable {
    /// More than ``BucketGrid/maxBuckets`` buckets.
    case tooManyBuckets(Int128)
    /// The first bucket would start before the earliest representable instant.
    case startsBeforeRange

    /// The explanation for the error body.
    public var message: String {
        switch self {
        case .tooManyBuckets(let count):
            "from, to and step give \(count) buckets; at most \(BucketGrid.maxBuckets) may be asked for at once"
        case .startsBeforeRange:
            "the first bucket would start before 1677-09-21T00:12:43.145224192Z; choose a later from or a smaller step"
        }
    }
}

/// The readings of one bucket.
public struct BucketTotal: Hashable, Sendable {
    /// Sum of their counts.
    public var count: Int64
    /// How many readings.
    public var readings: Int

    /// Creates a total.
    public init(count: Int64 = 0, readings: Int = 0) {
        self.count = count
        self.readings = readings
    }
}
