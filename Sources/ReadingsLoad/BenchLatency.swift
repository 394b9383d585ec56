/// Request latencies of a run in a fixed amount of memory, however many requests it sends: a
/// log-linear histogram of nanoseconds. Values below 256 ns have a bucket each; above, each power
/// of two is cut into 256 buckets, so a value is known within 1/256 of itself, and a percentile,
/// read as its bucket's midpoint, within 0.2 % (the maximum is kept exactly).
struct BenchLatencyHistogram: Sendable {
    private static let subBucketBits = 8
    private static let subBuckets = 1 << subBucketBits

    /// Counts by bucket, grown to the largest bucket recorded.
    private var counts: [UInt64] = []
    /// Requests recorded.
    private(set) var count = 0
    /// The slowest, in nanoseconds.
    private(set) var max: UInt64 = 0

    /// Counts one request that took `nanoseconds`.
    mutating func record(_ nanoseconds: UInt64) {
        let bucket = BenchLatencyHistogram.bucket(of: nanoseconds)
        if bucket >= counts.count {
            counts.append(contentsOf: repeatElement(0, count: bucket + 1 - counts.count))
        }
        counts[bucket] += 1
        count += 1
        max = Swift.max(max, nanoseconds)
    }

    /// Adds the requests `other` recorded.
    mutating func merge(_ other: BenchLatencyHistogram) {
        if other.counts.count > counts.count {
            counts.append(contentsOf: repeatElement(0, count: other.counts.count - counts.count))
        }
        for (bucket, n) in other.counts.enumerated() { counts[bucket] += n }
        count += other.count
        max = Swift.max(max, other.max)
    }

    /// The latency at `fraction` (0...1) of the requests, nearest rank, in nanoseconds (0 when
    /// nothing was recorded).
    func percentile(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, Int((fraction * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (bucket, n) in counts.enumerated() {
            seen += n
            if seen >= UInt64(rank) {
                let (low, width) = BenchLatencyHistogram.range(of: bucket)
                return Swift.min(Double(low) + Double(width - 1) / 2, Double(max))
            }
        }
        return Double(max)
    }

    private static func bucket(of value: UInt64) -> Int {
        guard value >= UInt64(subBuckets) else { return Int(value) }
        let exponent = UInt64.bitWidth - 1 - value.leadingZeroBitCount
        let shift = exponent - subBucketBits
        let mantissa = Int(truncatingIfNeeded: value >> UInt64(shift)) & (subBuckets - 1)
        return (shift + 1) * subBuckets + mantissa
    }

    /// The smallest value of `bucket` and how many values it holds.
    private static func range(of bucket: Int) -> (low: UInt64, width: UInt64) {
        guard bucket >= subBuckets else { return (UInt64(bucket), 1) }
        let shift = bucket / subBuckets - 1
        let mantissa = UInt64(bucket % subBuckets)
        return ((UInt64(subBuckets) + mantissa) << UInt64(shift), 1 << UInt64(shift))
    }
}

/// Request latency percentiles (nearest rank) and maximum, in milliseconds.
struct BenchLatency: Sendable {
    /// Median.
    var p50 = 0.0
    /// 90th percentile.
    var p90 = 0.0
    /// 99th percentile.
    var p99 = 0.0
    /// 99.9th percentile.
    var p999 = 0.0
    /// Slowest request.
    var max = 0.0

    /// Summarises a histogram (all zero when it is empty).
    init(_ histogram: BenchLatencyHistogram) {
        guard histogram.count > 0 else { return }
        p50 = histogram.percentile(0.50) / 1e6
        p90 = histogram.percentile(0.90) / 1e6
        p99 = histogram.percentile(0.99) / 1e6
        p999 = histogram.percentile(0.999) / 1e6
        max = Double(histogram.max) / 1e6
    }
}
