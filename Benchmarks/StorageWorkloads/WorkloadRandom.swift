import ReadingsDomain

/// The workloads' generator: ``SplitMix64``, whose output is fixed by its algorithm, so every run
/// of a benchmark stores exactly the same readings, seeded per independent stream.
public struct WorkloadRandom: RandomNumberGenerator, Sendable {
    @usableFromInline var generator: SplitMix64

    /// The generator of one independent stream (one device, say) of `seed`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        generator = SplitMix64(seed: seed, stream: stream)
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        generator.next()
    }

    /// A number in `0..<bound` (`bound` > 0), by multiply-high.
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// True with probability `percent` / 100.
    @inlinable
    public mutating func percent(_ percent: Int) -> Bool {
        below(100) < percent
    }
}
