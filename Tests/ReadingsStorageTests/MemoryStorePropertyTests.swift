import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// Property tests of `MemoryStore` against a plain model (a dictionary of instants to counts and
/// a running sum): random seeded sequences of batches, with instants drawn from a small pool so
/// that duplicates and conflicts occur, the extreme instants, and counts large enough to overflow.
@Suite("MemoryStore properties")
struct MemoryStorePropertyTests {
    /// Generates readings for one run.
    struct Generator {
        var rng: SplitMix64
        let pool: [Int64]
        /// Probability (percent) of a fresh random instant rather than one from the pool.
        let freshPercent: Int
        /// Probability (percent) of the largest count.
        let bigPercent: Int

        init(seed: UInt64, freshPercent: Int, bigPercent: Int) {
            var rng = SplitMix64(seed: seed)
            var pool: [Int64] = [.min, .min + 1, .max, .max - 1, 0, -1, 1]
            for _ in 0..<25 { pool.append(Int64.random(in: -1_000_000...1_000_000, using: &rng) * 1_000_000_000) }
            self.rng = rng
            self.pool = pool
            self.freshPercent = freshPercent
            self.bigPercent = bigPercent
        }

        mutating func percent(_ p: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < p }

        mutating func instant() -> Instant {
            if percent(freshPercent) { return Instant(nanoseconds: Int64(bitPattern: rng.next())) }
            return Instant(nanoseconds: pool.randomElement(using: &rng)!)
        }

        mutating func count() -> UInt64 {
            if percent(bigPercent) { return ReadingCount.max - UInt64.random(in: 0...2, using: &rng) }
            return [0, 0, 1, 1, 2, 3, 5, 1000, UInt64.random(in: 0...ReadingCount.max, using: &rng)].randomElement(using: &rng)!
        }

        mutating func reading() -> Reading { Reading(instant: instant(), count: count()) }

        /// A range whose bounds come from the pool, random instants, or are absent.
        mutating func range() -> InstantRange {
            func bound(_ g: inout Generator) -> Instant? {
                switch Int.random(in: 0..<4, using: &g.rng) {
                case 0: nil
                case 1: Instant(nanoseconds: Int64(bitPattern: g.rng.next()))
                case 2: Instant(nanoseconds: g.pool.randomElement(using: &g.rng)! &+ Int64.random(in: -1...1, using: &g.rng))
                default: Instant(nanoseconds: g.pool.randomElement(using: &g.rng)!)
                }
            }
            return InstantRange(from: bound(&self), to: bound(&self))
        }
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let seed: UInt64
        let operations: Int
        let freshPercent: Int
        let bigPercent: Int
        var testDescription: String { "seed \(seed), \(operations) readings, fresh \(freshPercent)%, big \(bigPercent)%" }
    }

    static let scenarios: [Scenario] = [
        Scenario(seed: 1, operations: 3_000, freshPercent: 20, bigPercent: 5),
        Scenario(seed: 2, operations: 3_000, freshPercent: 5, bigPercent: 0),
        Scenario(seed: 3, operations: 3_000, freshPercent: 50, bigPercent: 20),
        Scenario(seed: 0xC0FFEE, operations: 6_000, freshPercent: 80, bigPercent: 90),
        Scenario(seed: 0xBADC0DE, operations: 6_000, freshPercent: 70, bigPercent: 70),
        Scenario(seed: 99, operations: 2_000, freshPercent: 0, bigPercent: 50),
    ]

    @Test("the store decides, sums and lists exactly like the model", arguments: scenarios)
    func matchesModel(_ scenario: Scenario) {
        var generator = Generator(seed: scenario.seed, freshPercent: scenario.freshPercent, bigPercent: scenario.bigPercent)
        let store = MemoryStore(shardBits: Int.random(in: 0...3, using: &generator.rng))
        let ids = [device("a"), device("b"), device("caf\u{E9}"), device("cafe\u{301}")]
        var models = Array(repeating: DeviceModel(), count: ids.count)
        var tally: [String: Int] = [:]
        var failures = 0
        var done = 0
        while done < scenario.operations && failures < 5 {
            // One device (the first one half of the time, so that it grows large enough to
            // overflow), one batch of random size (often a single reading).
            let d = generator.percent(50) ? 0 : Int.random(in: 0..<ids.count, using: &generator.rng)
            let size = generator.percent(30) ? 1 : Int.random(in: 1...40, using: &generator.rng)
            let batch = (0..<size).map { _ in generator.reading() }
            done += size
            let expected = batch.map { models[d].insert($0) }
            let outcomes = store.ingestNow(batch, for: ids[d])
            for outcome in expected {
                switch outcome {
                case .accepted: tally["accepted", default: 0] += 1
                case .duplicate: tally["duplicate", default: 0] += 1
                case .conflicting: tally["conflicting", default: 0] += 1
                case .overflow: tally["overflow", default: 0] += 1
                case .tooOld: tally["too old", default: 0] += 1
                }
            }
            if outcomes != expected {
                failures += 1
                Issue.record("\(scenario.testDescription): batch \(batch) for \(ids[d]): \(outcomes), expected \(expected)")
            }
            if store.summary(of: ids[d]) != models[d].summary {
                failures += 1
                Issue.record("summary \(String(describing: store.summary(of: ids[d]))), expected \(String(describing: models[d].summary))")
            }
            // A random range query now and then.
            if generator.percent(20) {
                let range = generator.range()
                let limit = Int.random(in: 1...50, using: &generator.rng)
                let page = store.readings(of: ids[d], in: range, limit: limit)
                let (readings, next) = models[d].page(range, limit: limit)
                if page?.readings != readings || page?.next != next || page?.summary != models[d].summary {
                    failures += 1
                    Issue.record(
                        "range \(range) limit \(limit): \(String(describing: page)), expected \(readings) next \(String(describing: next))")
                }
            }
        }
        for (d, id) in ids.enumerated() {
            let all = store.readings(of: id, in: .all, limit: 1_000_000)
            #expect(all?.readings == (models[d].summary == nil ? nil : models[d].sorted))
            #expect(all?.next == nil)
            #expect(store.summary(of: id) == models[d].summary)
            if let summary = all?.summary {
                #expect(UInt64(summary.cumulativeCount) == all?.readings.reduce(0) { $0 + $1.count })
            }
        }
        #expect(store.statistics().readings == models.reduce(0) { $0 + $1.counts.count })
        #expect(failures == 0)
        // The generator must exercise what it is meant to.
        #expect(tally["duplicate", default: 0] > 0)
        #expect(tally["conflicting", default: 0] > 0)
        if scenario.bigPercent >= 70 { #expect(tally["overflow", default: 0] > 0, "\(tally)") }
    }

    @Test("the model itself agrees with the contract on a hand-made sequence")
    func modelSanity() {
        var model = DeviceModel()
        #expect(model.insert(reading(0, 1)) == .accepted)
        #expect(model.insert(reading(0, 1)) == .duplicate)
        #expect(model.insert(reading(0, 2)) == .conflicting(existingCount: 1))
        #expect(model.insert(Reading(instant: .max, count: UInt64(Int64.max))) == .overflow)
        #expect(model.insert(Reading(instant: .max, count: UInt64(Int64.max) - 1)) == .accepted)
        #expect(model.summary == DeviceSummary(latest: .max, cumulativeCount: .max, readingCount: 2))
    }
}
