/// SplitMix64: a small, fast, seedable random generator whose output is fixed by its algorithm,
/// so one seed gives the same sequence on every platform and Swift version. The one generator of
/// the project: the load generator's workloads (`--seed`), the benchmarks' data, the tests'
/// seeded properties, and (through ``mix(_:)``) the server's request ids.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    /// SplitMix64's increment (2^64 / φ).
    public static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The generator whose state starts at `seed`.
    @inlinable
    public init(seed: UInt64) {
        state = seed
    }

    /// The generator of one independent stream (one device, say) of `seed`: streams of one seed
    /// do not depend on each other, so they can be drawn in any order, in parallel.
    @inlinable
    public init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &+ 1) &* 0xD1B5_4A32_D192_ED03
        _ = next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= SplitMix64.golden
        return SplitMix64.mix(state)
    }

    /// A number in `0..<bound` (`bound` > 0), by multiply-high (bias below 2^-32 for the bounds
    /// used here).
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// SplitMix64's output function: a bijective mix of 64 bits in which every input bit affects
    /// every output bit. Also a stateless keyed hash (`mix(key ^ x)`), for values computed from
    /// their index alone, in any order.
    @inlinable @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
