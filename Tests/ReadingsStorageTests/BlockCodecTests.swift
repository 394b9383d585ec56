import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// Round trips of the sealed-block encodings: every encoding id is reached, extremes included,
/// and the smallest encoding is chosen.
@Suite struct BlockCodecTests {
    /// Encodes and decodes; returns the encoding id and the byte size.
    @discardableResult
    func roundTrip(_ instants: [Int64], _ counts: [UInt64], sourceLocation: SourceLocation = #_sourceLocation) -> (id: UInt8, size: Int) {
        var bytes: [UInt8] = []
        let id = BlockCodec.encode(instants: instants, counts: counts, into: &bytes)
        #expect(bytes.first == id, sourceLocation: sourceLocation)
        var decodedInstants: [Int64] = []
        var decodedCounts: [UInt64] = []
        bytes.withUnsafeBufferPointer {
            BlockCodec.decode($0, first: instants[0], count: instants.count, instants: &decodedInstants, counts: &decodedCounts)
        }
        #expect(decodedInstants == instants, sourceLocation: sourceLocation)
        #expect(decodedCounts == counts, sourceLocation: sourceLocation)
        return (id, bytes.count)
    }

    func id(_ instants: BlockCodec.InstantEncoding, _ counts: BlockCodec.CountEncoding) -> UInt8 {
        instants.rawValue << 4 | counts.rawValue
    }

    @Test func singleReadingAtTheExtremes() {
        for t in [Int64.min, -1, 0, 1, Int64.max] {
            for c in [UInt64(0), 1, ReadingCount.max] {
                #expect(roundTrip([t], [c]).id == id(.single, .constant))
            }
        }
    }

    @Test func constantStepAndConstantCountsAreNearlyFree() {
        let instants = (0..<1000).map { Int64($0) * 60_000_000_000 }
        let result = roundTrip(instants, Array(repeating: 7, count: 1000))
        #expect(result.id == id(.constantStep, .constant))
        #expect(result.size <= 16)
    }

    @Test func equalDeltasAcrossTheWholeRange() {
        // Two readings 2^64 - 1 ns apart, and a constant step that wraps through zero.
        #expect(roundTrip([Int64.min, Int64.max], [0, ReadingCount.max]).id == id(.constantStep, .varints))
        let step = Int64.max / 3
        #expect(
            roundTrip([Int64.min, Int64.min + step, Int64.min + 2 * step, Int64.min + 3 * step], [1, 1, 1, 1]).id
                == id(.constantStep, .constant))
    }

    @Test func deltaOfDeltaFactorsOutWholeSeconds() {
        var generator = SplitMix64(seed: 1)
        var t: Int64 = 1_700_000_000 * 1_000_000_000
        var instants: [Int64] = []
        for _ in 0..<1000 {
            t += Int64.random(in: 58...62, using: &generator) * 1_000_000_000
            instants.append(t)
        }
        let counts = (0..<1000).map { _ in UInt64.random(in: 0...50, using: &generator) }
        let result = roundTrip(instants, counts)
        #expect(result.id >> 4 == BlockCodec.InstantEncoding.deltaOfDelta.rawValue)
        // One byte per delta-of-delta and one per count.
        #expect(result.size <= 2 * 1000 + 16)
    }

    @Test func deltaOfDeltaWithExtremeGaps() {
        let instants: [Int64] = [Int64.min, Int64.min + 1, 0, 1, Int64.max - 1, Int64.max]
        #expect(roundTrip(instants, [0, 1, 2, 3, 4, ReadingCount.max]).id >> 4 == BlockCodec.InstantEncoding.deltaOfDelta.rawValue)
    }

    @Test func countsPickTheSmallestEncoding() {
        let instants = (0..<100).map { Int64($0) }
        // Large, slowly rising counts: deltas are one byte, plain varints eight.
        let rising = (0..<100).map { ReadingCount.max - 1000 + UInt64($0) }
        #expect(roundTrip(instants, rising).id & 0xF == BlockCodec.CountEncoding.deltas.rawValue)
        // Small random counts: plain varints.
        var generator = SplitMix64(seed: 2)
        let small = (0..<100).map { _ in UInt64.random(in: 0...100, using: &generator) }
        #expect(roundTrip(instants, small).id & 0xF == BlockCodec.CountEncoding.varints.rawValue)
        // Alternating extremes in both encodings' worst case still round-trip.
        let alternating = (0..<100).map { $0 % 2 == 0 ? UInt64(0) : ReadingCount.max }
        roundTrip(instants, alternating)
    }

    @Test func randomBlocksRoundTrip() {
        var generator = SplitMix64(seed: 3)
        for _ in 0..<300 {
            let n = Int.random(in: 1...300, using: &generator)
            var set = Set<Int64>()
            let scale = [Int64(1), 1000, 1_000_000, 1_000_000_000].randomElement(using: &generator)!
            while set.count < n {
                if Bool.random(using: &generator) {
                    set.insert(Int64.random(in: Int64.min...Int64.max, using: &generator))
                } else {
                    set.insert(Int64.random(in: -1_000_000...1_000_000, using: &generator) * scale)
                }
            }
            let counts = (0..<n).map { _ in
                UInt64.random(in: 0...ReadingCount.max, using: &generator) >> UInt64.random(in: 0...53, using: &generator)
            }
            roundTrip(set.sorted(), counts)
        }
    }

    /// `contains` (the duplicate check of late readings, which scans instants only) agrees with
    /// the decoded block for every stored instant, its neighbours, and instants off the grid.
    @Test func containsAgreesWithTheDecodedBlock() {
        var generator = SplitMix64(seed: 4)
        for round in 0..<400 {
            let n = Int.random(in: 1...300, using: &generator)
            let scale = [Int64(1), 1000, 1_000_000_000, 60_000_000_000].randomElement(using: &generator)!
            var set = Set<Int64>()
            while set.count < n {
                switch round % 4 {
                case 0: set.insert(Int64.random(in: Int64.min...Int64.max, using: &generator))
                case 1: set.insert(Int64(set.count) * scale)  // constant step
                default: set.insert(Int64.random(in: -100_000...100_000, using: &generator) * scale)
                }
            }
            let instants = set.sorted()
            var bytes: [UInt8] = []
            BlockCodec.encode(instants: instants, counts: instants.map { _ in UInt64(1) }, into: &bytes)
            var probes = instants
            for t in instants { probes += [t &- 1, t &+ 1, t &- scale, t &+ scale, t &+ scale / 2] }
            probes += [Int64.min, Int64.max, instants[0] &- 1_000_000_007]
            bytes.withUnsafeBufferPointer { buffer in
                for t in probes {
                    let found = BlockCodec.contains(t, in: buffer, first: instants[0], count: n)
                    if found != set.contains(t) {
                        Issue.record("round \(round): contains(\(t)) is \(found)")
                        return
                    }
                }
            }
        }
    }

    /// Divisibility and exact division by multiplication agree with `%` and `/`.
    @Test func exactDivisionAgreesWithDivision() {
        var generator = SplitMix64(seed: 5)
        var divisors: [UInt64] = [1, 2, 3, 7, 60, 1_000_000_000, 60_000_000_000, 1 << 63, UInt64.max, UInt64.max / 3]
        for _ in 0..<200 { divisors.append(max(1, generator.next() >> UInt64.random(in: 0...63, using: &generator))) }
        for d in divisors {
            let exact = ExactDivision(d)
            for _ in 0..<200 {
                let q = generator.next() >> UInt64.random(in: 0...63, using: &generator)
                let multiple = q.multipliedReportingOverflow(by: d)
                if !multiple.overflow {
                    #expect(exact.divides(multiple.partialValue), "\(d) | \(multiple.partialValue)")
                    #expect(exact.quotient(multiple.partialValue) == q)
                }
                let n = generator.next() >> UInt64.random(in: 0...63, using: &generator)
                #expect(exact.divides(n) == (n % d == 0), "\(d) | \(n)")
            }
        }
    }
}
