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

    /// Summarises latencies given in nanoseconds (all zero when there are none).
    init(nanoseconds: [UInt64]) {
        guard !nanoseconds.isEmpty else { return }
        let sorted = nanoseconds.sorted()
        func rank(_ fraction: Double) -> Double {
            let index = Swift.max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1)
            return Double(sorted[Swift.min(index, sorted.count - 1)]) / 1e6
        }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = Double(sorted[sorted.count - 1]) / 1e6
    }
}
