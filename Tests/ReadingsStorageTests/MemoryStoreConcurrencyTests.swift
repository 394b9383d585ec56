import ReadingsDomain
import Synchronization
import Testing

@testable import ReadingsStorage

/// Covers `MemoryStore` under concurrent use: many tasks ingesting overlapping batches for the
/// same device store each instant exactly once (exactly one `.accepted` per instant), counts
/// never double, and concurrent readers always see a consistent moment of the device.
@Suite("MemoryStore concurrency")
struct MemoryStoreConcurrencyTests {
    static let taskCount = 16
    static let instantCount = 2_000

    /// The count every writer uses for instant `k` (so repeats are duplicates, not conflicts).
    static func count(_ k: Int) -> UInt64 { UInt64(k % 97 + 1) }

    /// Seconds after 2023-01-01T00:00:00Z.
    static func seconds(_ instant: Instant) -> Int64 { (instant.nanoseconds - at(0).nanoseconds) / second }

    /// The instants task `task` ingests: an overlapping window, shuffled, in batches.
    static func batches(for task: Int, seed: UInt64) -> [[Reading]] {
        var rng = SplitMix64(seed: seed &+ UInt64(task))
        // Windows of half the instants, starting at task/taskCount of the way round and wrapping,
        // so that every instant is covered by about half of the tasks.
        let start = task * instantCount / taskCount
        let window = (start..<start + instantCount / 2).map { $0 % instantCount }
        // Every task also hits every 10th instant, so all tasks contend on those.
        let all = Array(Set(window + stride(from: 0, to: instantCount, by: 10))).shuffled(using: &rng)
        var batches: [[Reading]] = []
        var i = 0
        while i < all.count {
            let size = Int.random(in: 1...50, using: &rng)
            batches.append(all[i..<min(all.count, i + size)].map { reading(Int64($0), count($0)) })
            i += size
        }
        return batches
    }

    /// A huge batch of late readings is decided in pieces, the shard lock released between
    /// them: a reader of another device in the same shard gets through while the batch is still
    /// being decided. (Decided under one lock hold, the reader would wait for the whole batch.)
    @Test("a huge late batch lets readers of its shard through between pieces")
    func hugeBatchesDoNotHoldTheShard() async throws {
        let store = MemoryStore()
        let big = try DeviceID("big")
        let neighbour = try #require(
            (0..<10_000).lazy.map { try! DeviceID("n\($0)") }.first { store.shardIndex(of: $0) == store.shardIndex(of: big) })
        _ = store.ingestNow([reading(0, 1)], for: neighbour)
        var rng = SplitMix64(seed: 9)
        // Two histories' worth: the first in order, the second the readings between them, shuffled.
        _ = store.ingestNow((1...200_000).map { reading(Int64($0) * 2, 1) }, for: big)
        let late = (1...200_000).map { reading(Int64($0) * 2 - 1, 1) }.shuffled(using: &rng)
        let progress = Progress()
        async let reads: Int = {
            var during = 0
            while !progress.done {
                let summary = store.summary(of: neighbour)
                #expect(summary?.readingCount == 1)
                if progress.started && !progress.done { during += 1 }
                await Task.yield()
            }
            return during
        }()
        let outcomes = await store.ingest(late, for: big) { _, _ in
            progress.started = true
            return true
        }
        progress.done = true
        #expect(outcomes.allSatisfy { $0 == .accepted })
        let readsDuring = await reads
        #expect(readsDuring >= 5, "the neighbour was read only \(readsDuring) times while the batch was decided")
        #expect(store.summary(of: big)?.readingCount == 400_000)
    }

    /// Flags shared between the writer and the reader of ``hugeBatchesDoNotHoldTheShard()``.
    final class Progress: Sendable {
        private let lock = Mutex((started: false, done: false))
        var started: Bool {
            get { lock.withLock { $0.started } }
            set { lock.withLock { $0.started = newValue } }
        }
        var done: Bool {
            get { lock.withLock { $0.done } }
            set { lock.withLock { $0.done = newValue } }
        }
    }

    @Test("concurrent overlapping batches store every instant exactly once", arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func exactlyOnce(seed: UInt64) async {
        let store = MemoryStore(shardBits: 2)
        let id = device("shared-device")
        let results = await withTaskGroup(of: [(Reading, IngestOutcome)].self) { group in
            for task in 0..<Self.taskCount {
                group.addTask {
                    var decided: [(Reading, IngestOutcome)] = []
                    for batch in Self.batches(for: task, seed: seed) {
                        let outcomes = store.ingestNow(batch, for: id)
                        decided += zip(batch, outcomes).map { ($0, $1) }
                    }
                    return decided
                }
            }
            var all: [(Reading, IngestOutcome)] = []
            for await decided in group { all += decided }
            return all
        }
        var accepted: [Int64: Int] = [:]
        var submitted = Set<Int64>()
        var wrong = 0
        for (reading, outcome) in results {
            submitted.insert(reading.instant.nanoseconds)
            switch outcome {
            case .accepted: accepted[reading.instant.nanoseconds, default: 0] += 1
            case .duplicate: break
            default: wrong += 1
            }
        }
        #expect(wrong == 0)
        #expect(submitted.count == Self.instantCount)
        #expect(accepted.count == submitted.count)
        #expect(accepted.values.allSatisfy { $0 == 1 })
        let expectedSum = (0..<Self.instantCount).reduce(UInt64(0)) { $0 + Self.count($1) }
        let summary = store.summary(of: id)
        #expect(summary?.cumulativeCount == Int64(expectedSum))
        #expect(summary?.readingCount == Self.instantCount)
        #expect(summary?.latest == at(Int64(Self.instantCount - 1)))
        let all = store.readings(of: id, in: .all, limit: 1_000_000)?.readings ?? []
        let expected = (0..<Self.instantCount).map { reading(Int64($0), Self.count($0)) }
        #expect(all.count == expected.count)
        #expect(zip(all, expected).first { $0 != $1 }.map { "\($0) != \($1)" } == nil)
    }

    @Test("when writers disagree on the count, one wins per instant and the others are told its count")
    func conflictingWriters() async {
        let store = MemoryStore()
        let id = device("contended")
        let instants = 500
        // Task t sends count t + 1 for every instant, in its own order.
        let results = await withTaskGroup(of: [(Int64, UInt64, IngestOutcome)].self) { group in
            for task in 0..<Self.taskCount {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(task) &* 7919)
                    let order = (0..<instants).shuffled(using: &rng)
                    var decided: [(Int64, UInt64, IngestOutcome)] = []
                    var i = 0
                    while i < order.count {
                        let size = Int.random(in: 1...20, using: &rng)
                        let batch = order[i..<min(order.count, i + size)].map { reading(Int64($0), UInt64(task + 1)) }
                        let outcomes = store.ingestNow(batch, for: id)
                        decided += zip(batch, outcomes).map { (Self.seconds($0.0.instant), $0.0.count, $0.1) }
                        i += size
                    }
                    return decided
                }
            }
            var all: [(Int64, UInt64, IngestOutcome)] = []
            for await decided in group { all += decided }
            return all
        }
        guard let page = store.readings(of: id, in: .all, limit: 1_000_000) else {
            Issue.record("device missing")
            return
        }
        var stored: [Int64: UInt64] = [:]
        for r in page.readings { stored[Self.seconds(r.instant)] = r.count }
        #expect(stored.count == instants)
        var acceptedPerInstant: [Int64: Int] = [:]
        var wrong = 0
        for (k, count, outcome) in results {
            guard let winner = stored[k] else {
                wrong += 1
                continue
            }
            switch outcome {
            case .accepted:
                acceptedPerInstant[k, default: 0] += 1
                if count != winner { wrong += 1 }
            case .duplicate:
                if count != winner { wrong += 1 }
            case .conflicting(let existing):
                if existing != winner || count == winner { wrong += 1 }
            case .overflow, .tooOld:
                wrong += 1
            }
        }
        #expect(wrong == 0)
        #expect(acceptedPerInstant.count == instants)
        #expect(acceptedPerInstant.values.allSatisfy { $0 == 1 })
        #expect(page.summary.cumulativeCount == Int64(stored.values.reduce(0, +)))
    }

    @Test("readers running alongside writers always see a consistent device")
    func consistentReads() async {
        let store = MemoryStore(shardBits: 0)
        let ids = [device("x"), device("y")]
        let inconsistent = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for batch in Self.batches(for: task, seed: 42) {
                        _ = store.ingestNow(batch, for: ids[task % 2])
                    }
                    return 0
                }
            }
            for task in 0..<4 {
                group.addTask {
                    var bad = 0
                    for _ in 0..<200 {
                        guard let page = store.readings(of: ids[task % 2], in: .all, limit: 1_000_000) else { continue }
                        let sum = page.readings.reduce(UInt64(0)) { $0 + $1.count }
                        if Int64(sum) != page.summary.cumulativeCount || page.readings.count != page.summary.readingCount
                            || page.readings.last?.instant != page.summary.latest
                            || zip(page.readings, page.readings.dropFirst()).contains(where: { $0.instant >= $1.instant })
                        {
                            bad += 1
                        }
                        await Task.yield()
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(inconsistent == 0)
        for (d, id) in ids.enumerated() {
            let instants = Set(stride(from: d, to: 8, by: 2).flatMap { Self.batches(for: $0, seed: 42).joined() })
            let expectedSum = instants.reduce(UInt64(0)) { $0 + $1.count }
            #expect(store.summary(of: id)?.cumulativeCount == Int64(expectedSum))
            #expect(store.summary(of: id)?.readingCount == instants.count)
        }
    }
}
