import ReadingsDomain

/// One device's part of the workload, as rules rather than data: every reading's value and the
/// order of sending are computed from the seed and an index on demand, so a plan takes the same
/// few hundred bytes for a device of ten readings or of a hundred million. `BenchDeviceCursor`
/// walks it request by request.
///
/// Readings: reading `k` is at `60·k + jitter` seconds after 2024-01-01T00:00:00Z, jitter a whole
/// number of seconds in 0...29 (so times stay distinct and ascending in `k`), count in 0...50;
/// both come from a keyed hash of `k`, so any reading is known without generating the others.
///
/// Order (`BenchOrder`): the reading sent at original position `p` (`p`-th first send) is
/// - `in` / `late`: `p`, except for the `2·swappedPairs` positions paired up by a seeded random
///   permutation σ (positions whose σ-ranks are `2i` and `2i + 1`, for `i < swappedPairs`): those
///   trade readings. Pairs span the whole history, so a swapped newer reading goes out early and
///   the older one arrives late, usually in a much later request (in the same one only when both
///   fall in it, as they must when the device has a single request);
/// - `shuffled`: `σ(p)`, a seeded pseudo-random order of the whole history;
/// - `reversed`: `readings - 1 - p`, newest first.
///
/// Repeats (`repeats` exact retries) are placed by the cursor: see `BenchDeviceCursor`.
struct BenchDevicePlan: Sendable {
    /// The device's index in the run (0..<devices).
    let index: Int
    /// The device id (before JSON escaping or percent-encoding).
    let id: String
    /// Distinct readings of the device.
    let readings: Int
    /// Sends per request (the last request of a device may hold fewer; the first holds only
    /// originals, so fewer when the device has fewer readings than this).
    let batch: Int
    /// The order of sending.
    let order: BenchOrder
    /// Pairs of readings that trade places (`in` and `late` only).
    let swappedPairs: Int
    /// Extra sends, each an exact repeat of a reading sent in an earlier request.
    let repeats: Int
    /// The seed of the cursor's choices (which sends are repeats, what each repeats).
    let scheduleRandom: SplitMix64
    private let valueKey: UInt64
    /// σ: the shuffle (`shuffled`) or the pairing of swapped readings (`in`, `late`).
    private let permutation: BenchPermutation

    /// The plan of device `index` of a run of `shape` (independent of other devices).
    init(index: Int, shape: BenchWorkload.Shape) {
        self.index = index
        id = shape.deviceID(index)
        readings = shape.readings
        batch = shape.batch
        order = shape.order
        swappedPairs = shape.swappedPairsPerDevice
        repeats = shape.repeatsPerDevice
        var random = SplitMix64(seed: shape.seed, stream: UInt64(index))
        valueKey = random.next()
        permutation = BenchPermutation(count: shape.readings, random: &random)
        scheduleRandom = random
    }

    /// Readings sent, repeats included.
    var sends: Int { readings + repeats }

    /// Sends in the device's first request: originals only (nothing earlier to repeat yet).
    var firstRequestSends: Int { Swift.min(readings, batch) }

    /// The reading sent at original position `position` (0..<readings): a permutation.
    @inline(__always)
    func reading(at position: Int) -> Int {
        switch order {
        case .in, .late:
            guard swappedPairs > 0 else { return position }
            let rank = permutation.image(of: position)
            return rank < 2 * swappedPairs ? permutation.preimage(of: rank ^ 1) : position
        case .shuffled:
            return permutation.image(of: position)
        case .reversed:
            return readings - 1 - position
        }
    }

    /// Reading `reading`'s time (seconds after 2024-01-01T00:00:00Z) and count.
    @inline(__always)
    func value(of reading: Int) -> (offset: Int64, count: Int) {
        let bits = SplitMix64.mix(valueKey &+ UInt64(reading) &* SplitMix64.golden)
        // Multiply-high of each 32-bit half: 0..<30 and 0..<51.
        let jitter = Int64(truncatingIfNeeded: ((bits >> 32) &* 30) >> 32)
        let count = Int(truncatingIfNeeded: ((bits & 0xFFFF_FFFF) &* 51) >> 32)
        return (Int64(reading) * 60 + jitter, count)
    }
}
