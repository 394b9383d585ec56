import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// Deleting devices and removing readings past a retention horizon, in the memory engine: the
/// table's removal against a model, a series cut at a horizon against a filtered model (its
/// layout checked), the horizon's refusals, and a delete racing ingests.
@Suite struct HousekeepingTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func devicesComeAndGoInOneShardAsInAModel(seed: UInt64) {
        // One shard, so every removal reshapes the probe chains of the same table.
        let store = MemoryStore(shardBits: 0)
        var generator = SplitMix64(seed: seed)
        var model: [String: UInt64] = [:]
        for step in 0..<20_000 {
            let id = "d\(generator.below(3000))"
            if generator.below(3) == 0 {
                #expect(store.deleteDevice(device(id)) == (model.removeValue(forKey: id) != nil))
            } else {
                let count = UInt64(generator.below(9))
                if store.ingestNow([reading(Int64(step), count)], for: device(id)) == [.accepted] { model[id, default: 0] += count }
            }
        }
        for n in 0..<3000 {
            let id = "d\(n)"
            #expect(store.summary(of: device(id)).map { UInt64($0.cumulativeCount) } == model[id], "\(id)")
        }
        let listed = store.devices(after: nil, prefix: [], limit: 10_000)
        #expect(listed.devices.map(\.id.string) == model.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(store.statistics().devices == model.count)
    }

    @Test func aDeletedDeviceIsGoneEverywhereAndStartsAgainFromZero() {
        let store = MemoryStore()
        let id = device("gone")
        _ = store.ingestNow((0..<1000).map { reading($0, 2) }, for: id)
        _ = store.ingestNow([reading(0, 1)], for: device("stays"))
        #expect(store.deleteDevice(id))
        #expect(!store.deleteDevice(id))
        #expect(store.summary(of: id) == nil)
        #expect(store.readings(of: id, in: .all, limit: 10) == nil)
        #expect(store.buckets(of: id, grid: try! BucketGrid(from: at(0), to: at(60), step: BucketStep("1m")!)) == nil)
        #expect(store.devices(after: nil, prefix: [], limit: 10).devices.map(\.id) == [device("stays")])
        #expect(store.silentDevices(before: .max, after: nil, prefix: [], limit: 10).devices.map(\.id) == [device("stays")])
        // The same instants are new again.
        #expect(store.ingestNow([reading(5, 7)], for: id) == [.accepted])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(5), cumulativeCount: 7, readingCount: 1))
    }

    @Test(arguments: [UInt64(1), 2])
    func aSeriesCutAtAHorizonKeepsExactlyTheLaterReadings(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let n = 40_000
        var series = DeviceSeries()
        var scratch = BlockScratch()
        var model = DeviceModel()
        // Shuffled, so the cut meets pending readings, split blocks and rebuilt chunks.
        let batch = (0..<n).map { reading(Int64($0) * 10, UInt64(generator.below(100))) }.shuffled(using: &generator)
        for start in stride(from: 0, to: n, by: 1000) {
            for r in batch[start..<start + 1000] { _ = model.insert(r) }
            _ = series.insert(Array(batch[start..<start + 1000]), scratch: &scratch)
        }
        let total = model.sum
        var expired: UInt64 = 0
        // Horizons that fall inside blocks, on a block's first reading, and past everything.
        for horizon in [Int64(-5), 3, 1_234, 77_777, 200_000, 399_990, 399_991, 500_000] {
            let cut = at(horizon).nanoseconds
            var removed = 0
            var done = false
            while !done {
                // A small budget: the removal goes in many steps.
                let step = series.removeReadings(before: cut, budget: 5000, scratch: &scratch)
                removed += step.removed
                done = step.done
            }
            let gone = model.counts.filter { $0.key < cut }
            #expect(removed == gone.count, "horizon \(horizon)")
            for (t, c) in gone {
                model.counts[t] = nil
                expired += c
            }
            if let broken = series.brokenInvariant(expired: expired) {
                Issue.record("after the horizon \(horizon): \(broken)")
                return
            }
            #expect(series.readings(in: .all, limit: Int.max).0 == model.sorted)
            #expect(series.summary?.cumulativeCount == Int64(total))
            #expect(series.summary?.latest == at(Int64(n - 1) * 10))
            #expect(series.count == model.counts.count)
        }
        // Everything expired: the device keeps its summary with no reading, and takes new ones.
        #expect(series.summary == DeviceSummary(latest: at(Int64(n - 1) * 10), cumulativeCount: Int64(total), readingCount: 0))
        #expect(series.insert([reading(600_000, 3)], horizon: at(500_000).nanoseconds, scratch: &scratch) == [.accepted])
        #expect(series.brokenInvariant(expired: expired) == nil)
    }

    @Test func readingsBeforeTheHorizonAreTooOldAndNeverComeBack() async {
        let store = MemoryStore()
        let id = device("d")
        #expect(store.ingestNow((0..<300_000).map { reading($0, 1) }, for: id).allSatisfy { $0 == .accepted })
        // More than one lock hold's budget goes.
        #expect(await store.removeReadings(before: at(200_000)) == 200_000)
        #expect(store.horizon == at(200_000))
        #expect(
            store.ingestNow([reading(5, 1), reading(199_999, 1), reading(200_000, 1), reading(400_000, 2)], for: id)
                == [.tooOld, .tooOld, .duplicate, .accepted])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(400_000), cumulativeCount: 300_002, readingCount: 100_001))
        // The horizon never moves back.
        #expect(await store.removeReadings(before: at(10)) == 0)
        #expect(store.horizon == at(200_000))
        #expect(store.ingestNow([reading(10, 1)], for: id) == [.tooOld])
        // A new device whose every reading is too old leaves no trace.
        #expect(store.ingestNow([reading(1, 1)], for: device("late")) == [.tooOld])
        #expect(store.summary(of: device("late")) == nil)
        #expect(store.devices(after: nil, prefix: [], limit: 10).devices.map(\.id) == [id])
        #expect(store.statistics().devices == 1)
    }

    @Test func theRetentionPeriodRefusesOldReadingsAtIngest() async {
        let store = MemoryStore(retention: Retention(nanoseconds: 3600 * second))
        let now = Instant.now().nanoseconds
        let old = Reading(instant: Instant(nanoseconds: now - 7200 * second), count: 1)
        let recent = Reading(instant: Instant(nanoseconds: now - 600 * second), count: 1)
        #expect(store.ingestNow([old, recent], for: device("d")) == [.tooOld, .accepted])
        #expect(await store.removeExpiredReadings() == 0)
        #expect(store.horizon.nanoseconds >= now - 3600 * second)
        #expect(await MemoryStore().removeExpiredReadings() == 0)
    }

    /// Tasks ingest distinct readings of one device while another deletes it now and then: the
    /// device left holds only readings that were accepted, and its cumulative count is exactly
    /// theirs: nothing accepted before a delete leaks into the device after it.
    @Test func aDeleteRacingIngestsIsLinearisable() async {
        let store = MemoryStore()
        let id = device("raced")
        let accepted = await withTaskGroup(of: [Reading].self) { group in
            for task in 0..<4 {
                group.addTask {
                    var mine: [Reading] = []
                    for k in 0..<2000 {
                        let r = reading(Int64(k * 4 + task), UInt64(task + 1))
                        if store.ingestNow([r], for: id) == [.accepted] { mine.append(r) }
                    }
                    return mine
                }
            }
            group.addTask {
                for _ in 0..<50 {
                    _ = store.deleteDevice(id)
                    await Task.yield()
                }
                return []
            }
            var all: [Reading] = []
            for await readings in group { all += readings }
            return all
        }
        let acceptedSet = Set(accepted)
        #expect(acceptedSet.count == accepted.count)
        let left = store.readings(of: id, in: .all, limit: Int.max)
        let kept = left?.readings ?? []
        #expect(kept.allSatisfy { acceptedSet.contains($0) })
        #expect(left.map { $0.summary.cumulativeCount } == (kept.isEmpty ? nil : Int64(kept.reduce(0) { $0 + $1.count })))
    }
}
