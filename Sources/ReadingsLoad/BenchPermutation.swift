import ReadingsDomain

/// A seeded pseudo-random permutation of `0..<count`, computed one element at a time in O(1)
/// memory, in both directions: a stored shuffle would take 4 bytes per reading, 400 MB for one
/// device of 100,000,000.
///
/// An alternating Feistel network on the `bits` = ⌈log₂ count⌉ bits of an index, split into a high
/// and a low half (sizes differ by at most one bit): each of the six rounds XORs one half with a
/// keyed `SplitMix64.mix` of the other, which is its own inverse, so running the rounds backwards
/// inverts the permutation. It permutes `0..<2^bits`; "cycle walking" (apply again while the result
/// is ≥ `count`) turns that into a permutation of `0..<count`, at fewer than two rounds of walking
/// on average since `2^bits < 2·count`. A keyed Feistel network is a pseudo-random permutation, not
/// a draw from all `count!` orders; how far from uniform it is shows on the smallest domains, where
/// the halves are one bit: over all round functions, 4 rounds make some orders of 4 elements 0.75×
/// and others 1.125× as likely as they should be, 6 rounds 0.94× to 1.03× (and less as domains
/// grow). So it uses six rounds of a full 64-bit mix.
struct BenchPermutation: Sendable {
    /// The permutation acts on `0..<count`.
    let count: Int
    private let lowBits: UInt64
    private let lowMask: UInt64
    private let highMask: UInt64
    private let k0, k1, k2, k3, k4, k5: UInt64

    /// A permutation of `0..<count` (`count` ≥ 1), its keys drawn from `random`.
    init(count: Int, random: inout SplitMix64) {
        precondition(count >= 1)
        self.count = count
        let bits = count == 1 ? 0 : UInt64(Int.bitWidth - (count - 1).leadingZeroBitCount)
        lowBits = bits / 2
        lowMask = (1 << lowBits) - 1
        highMask = (1 << (bits - lowBits)) - 1
        k0 = random.next()
        k1 = random.next()
        k2 = random.next()
        k3 = random.next()
        k4 = random.next()
        k5 = random.next()
    }

    /// Where the permutation sends `x` (`0 ≤ x < count`).
    @inline(__always)
    func image(of x: Int) -> Int {
        assert((0..<count).contains(x))
        var y = encrypt(UInt64(x))
        while y >= UInt64(count) { y = encrypt(y) }
        return Int(y)
    }

    /// The element the permutation sends to `y` (`0 ≤ y < count`): `preimage(of: image(of: x)) == x`.
    @inline(__always)
    func preimage(of y: Int) -> Int {
        assert((0..<count).contains(y))
        var x = decrypt(UInt64(y))
        while x >= UInt64(count) { x = decrypt(x) }
        return Int(x)
    }

    @inline(__always)
    private func encrypt(_ value: UInt64) -> UInt64 {
        var low = value & lowMask
        var high = value >> lowBits
        high ^= SplitMix64.mix(low ^ k0) & highMask
        low ^= SplitMix64.mix(high ^ k1) & lowMask
        high ^= SplitMix64.mix(low ^ k2) & highMask
        low ^= SplitMix64.mix(high ^ k3) & lowMask
        high ^= SplitMix64.mix(low ^ k4) & highMask
        low ^= SplitMix64.mix(high ^ k5) & lowMask
        return high << lowBits | low
    }

    @inline(__always)
    private func decrypt(_ value: UInt64) -> UInt64 {
        var low = value & lowMask
        var high = value >> lowBits
        low ^= SplitMix64.mix(high ^ k5) & lowMask
        high ^= SplitMix64.mix(low ^ k4) & highMask
        low ^= SplitMix64.mix(high ^ k3) & lowMask
        high ^= SplitMix64.mix(low ^ k2) & highMask
        low ^= SplitMix64.mix(high ^ k1) & lowMask
        high ^= SplitMix64.mix(low ^ k0) & highMask
        return high << lowBits | low
    }
}
