import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// The compact series against a plain sorted-map model, with enough readings per device to seal
/// blocks, late readings that land inside sealed blocks and in the gaps between them, batches
/// that grow a block past its split size, and instants across the whole range; and whole
/// histories sent shuffled, newest-first, or backfilled into the middle, which cross block and
/// chunk splits, pending merges and head seals many times. The layout's invariants are checked
/// after every batch.
@Suite struct DeviceSeriesPropertyTests {
    enum Shape: String, CaseIterable, CustomTestStringConvertible {
        case inOrder, mostlyInOrder, random, fullRange, bigLateBatches, replays
        var testDescription: String { rawValue }
    }

    /// Whole histories in one order or another.
    enum History: String, CaseIterable, CustomTestStringConvertible {
        /// Every reading once, in random order.
        case shuffled
        /// Newest first.
        case reversed
        /// Every other reading in order first, then the ones between them, in order, then a
        /// shuffled retry of a tenth of everything.
        case backfill
        /// Runs of readings in order, the runs in random order (a device uploading buffers).
        case shuffledRuns
        var testDescription: String { rawValue }
    }

    @Test(arguments: History.allCases, [UInt64(1), 2])
    func wholeHistoriesInAnyOrderMatchTheModel(history: History, seed: UInt64) {
        var generator = SplitMix64(seed: seed &* 104_729 &+ UInt64(History.allCases.firstIndex(of: history)!))
        let n = 30_000
        // One reading a minute with up to 29 s of jitter, at whole seconds.
        let instants = (0..<n).map { Int64($0) * 60_000_000_000 + Int64.random(in: 0...29, using: &generator) * 1_000_000_000 }
        let counts = (0..<n).map { _ in UInt64.random(in: 0...50, using: &generator) }
        var order: [Int]
        switch history {
        case .shuffled:
            order = Array(0..<n).shuffled(using: &generator)
        case .reversed:
            order = Array((0..<n).reversed())
        case .backfill:
            order = Array(stride(from: 0, to: n, by: 2)) + Array(stride(from: 1, to: n, by: 2))
            order += (0..<n / 10).map { _ in Int.random(in: 0..<n, using: &generator) }
        case .shuffledRuns:
            let runs = stride(from: 0, to: n, by: 700).map { Array($0..<min($0 + 700, n)) }
            order = runs.shuffled(using: &generator).flatMap { $0 }
        }
        var series = DeviceSeries()
        var scratch = BlockScratch()
        var model = DeviceModel()
        var sent = 0
        while sent < order.count {
            let size = min(Int.random(in: 1...3000, using: &generator), order.count - sent)
            // Now and then a reading with another count at an instant already sent: a conflict.
            let batch = order[sent..<sent + size].map { k in
                Reading(
                    instant: Instant(nanoseconds: instants[k]),
                    count: Int.random(in: 0..<50, using: &generator) == 0 ? counts[k] + 1 : counts[k])
            }
            sent += size
            let outcomes = series.insert(batch, scratch: &scratch)
            let expected = batch.map { model.insert($0) }
            #expect(outcomes == expected)
            if let broken = series.brokenInvariant() {
                Issue.record("after \(sent) readings: \(broken)")
                return
            }
        }
        #expect(series.count == model.counts.count)
        #expect(series.count == n)
        #expect(UInt64(series.summary?.cumulativeCount ?? 0) == model.sum)
        let sorted = model.counts.sorted { $0.key < $1.key }
        let (all, next) = series.readings(in: .all, limit: Int.max)
        #expect(next == nil)
        #expect(all.map(\.instant.nanoseconds) == sorted.map(\.key))
        #expect(all.map(\.count) == sorted.map(\.value))
        #expect(series.blockCount > DeviceSeries.maxChunkBlocks, "several chunks")
        // Ranged reads agree with the model across chunk boundaries and pending readings.
        for _ in 0..<30 {
            let a = sorted.randomElement(using: &generator)!.key
            let b = sorted.randomElement(using: &generator)!.key
            let limit = Int.random(in: 1...5000, using: &generator)
            let (page, pageNext) = series.readings(
                in: InstantRange(from: Instant(nanoseconds: min(a, b)), to: Instant(nanoseconds: max(a, b))), limit: limit)
            let matching = sorted.filter { $0.key >= min(a, b) && $0.key < max(a, b) }
            #expect(page.map(\.instant.nanoseconds) == matching.prefix(limit).map(\.key))
            #expect(pageNext?.nanoseconds == (matching.count > limit ? matching[limit].key : nil))
        }
    }

    @Test(arguments: Shape.allCases, [UInt64(1), 2, 3])
    func matchesTheModel(shape: Shape, seed: UInt64) {
        var generator = SplitMix64(seed: seed &* 7919 &+ UInt64(Shape.allCases.firstIndex(of: shape)!))
        var series = DeviceSeries()
        var scratch = BlockScratch()
        var model = DeviceModel()
        var clock: Int64 = 1_700_000_000_000_000_000
        // Instants sent so far, ascending (`.replays` re-sends runs of them).
        var history: [Int64] = []
        for _ in 0..<(shape == .bigLateBatches ? 12 : 60) {
            // `.replays`: every other batch re-sends an ascending run of earlier instants, some
            // moved by half a microsecond so that they land between stored ones.
            let replayFrom =
                shape == .replays && !history.isEmpty && Bool.random(using: &generator)
                ? Int.random(in: 0..<history.count, using: &generator) : nil
            let size = shape == .bigLateBatches ? Int.random(in: 500...3000, using: &generator) : Int.random(in: 1...200, using: &generator)
            var batch: [Reading] = []
            for _ in 0..<size {
                let t: Int64
                switch shape {
                case .inOrder:
                    clock += 60_000_000_000
                    t = clock
                case .mostlyInOrder:
                    clock += Int64.random(in: 1...3, using: &generator) * 1_000_000
                    t =
                        Int.random(in: 0..<10, using: &generator) == 0
                        ? clock - Int64.random(in: 0...200_000_000, using: &generator) : clock
                case .random:
                    t = Int64.random(in: 0...20_000, using: &generator) * 1_000_000_000
                case .fullRange:
                    t =
                        Int.random(in: 0..<4, using: &generator) == 0
                        ? [Int64.min, Int64.max, 0, -1].randomElement(using: &generator)!
                        : Int64.random(in: Int64.min...Int64.max, using: &generator)
                case .bigLateBatches:
                    t = Int64.random(in: 0...100_000, using: &generator) * 1000
                case .replays:
                    if let replayFrom, replayFrom + batch.count < history.count {
                        let old = history[replayFrom + batch.count]
                        t = Int.random(in: 0..<5, using: &generator) == 0 ? old - 500 : old
                    } else {
                        clock += 60_000_000_000
                        t = clock
                        history.append(t)
                    }
                }
                // Repeats of earlier instants (same or different count) now and then.
                let count =
                    Int.random(in: 0..<8, using: &generator) == 0
                    ? UInt64.random(in: 0...1, using: &generator)
                    : UInt64.random(in: 0...ReadingCount.max, using: &generator) >> UInt64.random(in: 10...53, using: &generator)
                batch.append(Reading(instant: Instant(nanoseconds: t), count: count))
            }
            let outcomes = series.insert(batch, scratch: &scratch)
            let expected = batch.map { model.insert($0) }
            #expect(outcomes == expected)
            if let broken = series.brokenInvariant() {
                Issue.record("\(broken)")
                return
            }
        }
        #expect(series.count == model.counts.count)
        #expect(UInt64(series.summary?.cumulativeCount ?? 0) == model.sum)
        #expect(series.summary?.latest.nanoseconds == model.counts.keys.max())
        let sorted = model.counts.sorted { $0.key < $1.key }
        let (all, next) = series.readings(in: .all, limit: Int.max)
        #expect(next == nil)
        #expect(all.map(\.instant.nanoseconds) == sorted.map(\.key))
        #expect(all.map(\.count) == sorted.map(\.value))
        if shape != .random && shape != .fullRange { #expect(series.blockCount > 1) }
        if shape == .replays { #expect(series.count > history.count) }
        // Ranged reads with limits agree with the model too.
        for _ in 0..<20 {
            let a = sorted.randomElement(using: &generator)?.key ?? 0
            let b = sorted.randomElement(using: &generator)?.key ?? 0
            let limit = Int.random(in: 1...500, using: &generator)
            let (page, pageNext) = series.readings(
                in: InstantRange(from: Instant(nanoseconds: min(a, b)), to: Instant(nanoseconds: max(a, b))), limit: limit)
            let matching = sorted.filter { $0.key >= min(a, b) && $0.key < max(a, b) }
            #expect(page.map(\.instant.nanoseconds) == matching.prefix(limit).map(\.key))
            #expect(pageNext?.nanoseconds == (matching.count > limit ? matching[limit].key : nil))
        }
    }

    @Test func partitionPointNearAHintIsThePartitionPoint() {
        for count in 0...9 {
            for point in 0...count {
                for hint in -2...(count + 2) {
                    #expect(partitionPoint(count, near: hint) { $0 < point } == point, "count \(count) point \(point) hint \(hint)")
                }
            }
        }
    }

    @Test func aBlockThatGrowsPastItsLimitIsSplit() {
        var series = DeviceSeries()
        var scratch = BlockScratch()
        // Seal one block of 128 readings two seconds apart, then fill its gaps in one batch.
        _ = series.insert((0..<128).map { Reading(instant: Instant(nanoseconds: Int64($0) * 2000), count: 1) }, scratch: &scratch)
        _ = series.insert([Reading(instant: Instant(nanoseconds: 1_000_000), count: 1)], scratch: &scratch)
        #expect(series.blockCount == 1)
        let late = (0..<2000).map { Reading(instant: Instant(nanoseconds: Int64($0) + 1), count: 2) }.filter {
            $0.instant.nanoseconds % 2000 != 0
        }
        let outcomes = series.insert(late, scratch: &scratch)
        #expect(outcomes.allSatisfy { $0 == .accepted })
        #expect(series.blockCount > 2)
        #expect(series.brokenInvariant() == nil)
        let (all, _) = series.readings(in: .all, limit: Int.max)
        #expect(all.count == 128 + 1 + late.count)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.instant < $1.instant })
        #expect(series.summary?.cumulativeCount == Int64(128 + 1 + 2 * late.count))
    }
}
