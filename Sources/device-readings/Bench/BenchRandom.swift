/// SplitMix64: a small, fast, seedable generator whose output is fixed by its algorithm, so one
/// `--seed` reproduces the same workload on every platform and Swift version.
struct BenchRandom: Sendable {
    private var state: UInt64

    /// SplitMix64's increment (2^64 / φ).
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The generator for one independent stream (e.g. one device) of a run's seed: streams of one
    /// seed do not depend on each other, so devices can be generated in any order, in parallel.
    init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &+ 1) &* 0xD1B5_4A32_D192_ED03
        _ = next()
        _ = next()
    }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= BenchRandom.golden
        return BenchRandom.mix(state)
    }

    /// A number in `0..<bound` (`bound` > 0), by multiply-high (bias below 2^-32 for the bounds
    /// a bench uses).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// SplitMix64's output function: a bijective mix of 64 bits in which every input bit affects
    /// every output bit. Also the bench's stateless hash (`mix(key ^ x)`), where a value must be
    /// computed from its index alone, in any order.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
