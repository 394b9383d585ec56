/// SplitMix64: a small, fast generator whose output is fixed by its algorithm, so every run of a
/// benchmark stores exactly the same readings.
public struct WorkloadRandom: RandomNumberGenerator, Sendable {
    /// The generator's whole state.
    @usableFromInline var state: UInt64

    /// The generator of one independent stream (one device, say) of `seed`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        state = seed ^ (stream &+ 1) &* 0xD1B5_4A32_D192_ED03
        _ = next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
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
