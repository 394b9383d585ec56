import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// The memory engine's listing (its id directory) and buckets against plain models.
@Suite("MemoryStore listing and buckets")
struct FleetQueryTests {
    @Test("pages of silent devices are the filtered sorted model's", arguments: [UInt64(1), 2])
    func silentDevicesMatchTheModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let store = MemoryStore(shardBits: 3)
        var latest: [[UInt8]: Int64] = [:]
        for _ in 0..<3000 {
            let id = device("d\(Int.random(in: 0..<2000, using: &random))")
            let t = Int64.random(in: 0..<1000, using: &random)
            if store.ingestNow([reading(t, 1)], for: id) == [.accepted] {
                latest[id.utf8] = max(latest[id.utf8] ?? .min, at(t).nanoseconds)
            }
        }
        let sorted = latest.keys.sorted { $0.lexicographicallyPrecedes($1) }
        // Common silent devices fill a page from the directory walk; rare ones (cutoffs 15 and 40)
        // make the store scan every shard.
        for (cutoff, prefix, limit) in [
            (Int64(500), "", 7), (100, "d1", 50), (1000, "", 300), (0, "", 10), (900, "d19", 3), (15, "", 5), (40, "", 4),
        ] {
            let expected = sorted.filter { latest[$0]! < at(cutoff).nanoseconds && $0.starts(with: Array(prefix.utf8)) }
            var seen: [[UInt8]] = []
            var after: DeviceID? = nil
            while true {
                let page = store.silentDevices(
                    before: at(cutoff), after: after, prefix: Array(prefix.utf8), limit: limit)
                seen += page.devices.map(\.id.utf8)
                #expect(page.devices.count <= limit)
                #expect(page.devices.allSatisfy { $0.summary.latest.nanoseconds == latest[$0.id.utf8] })
                guard page.hasMore else { break }
                after = page.devices.last?.id
            }
            #expect(seen == expected, "cutoff \(cutoff) prefix \(prefix) limit \(limit)")
        }
    }

    @Test("pages of the listing are the sorted model's, across directory merges", arguments: [UInt64(1), 2, 3])
    func listingMatchesSortedModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let store = MemoryStore(shardBits: 2)
        // More ids than one merge threshold, created in random order, some multi-byte.
        let alphabet: [String] = ["a", "b", "é", "z", "0", "\u{10FFFF}", "ab"]
        var model: [[UInt8]: Int] = [:]
        for n in 0..<(DeviceDirectory.mergeThreshold + 1500) {
            let length = Int.random(in: 1...4, using: &random)
            let text = (0..<length).map { _ in alphabet.randomElement(using: &random)! }.joined()
            let id = device(text)
            _ = store.ingestNow([reading(Int64(n), 1)], for: id)
            model[id.utf8, default: 0] += 1
            // Listing in the middle of creation merges the pending ids early.
            if Int.random(in: 0..<2000, using: &random) == 0 { _ = store.devices(after: nil, prefix: [], limit: 1) }
        }
        let sorted = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
        for prefix in ["", "a", "é", "ab", "\u{10FFFF}", "q"] {
            let expected = sorted.filter { $0.starts(with: Array(prefix.utf8)) }
            var seen: [[UInt8]] = []
            var after: DeviceID? = nil
            while true {
                let page = store.devices(after: after, prefix: Array(prefix.utf8), limit: 97)
                seen += page.devices.map(\.id.utf8)
                #expect(page.devices.allSatisfy { $0.summary.readingCount == model[$0.id.utf8] })
                guard page.hasMore else { break }
                after = page.devices.last?.id
            }
            #expect(seen == expected, "prefix \(prefix)")
        }
        #expect(store.statistics().devices == model.count)
    }

    @Test("buckets equal the model's sums, for random readings and grids", arguments: [UInt64(7), 8, 9])
    func bucketsMatchModel(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let store = MemoryStore()
        let id = device("b")
        var model = DeviceModel()
        // Enough readings for sealed blocks, late ones re-encoding them, at second precision.
        for _ in 0..<5000 {
            let r = reading(Int64.random(in: -50_000...50_000, using: &random), UInt64.random(in: 0...9, using: &random))
            _ = model.insert(r)
            _ = store.ingestNow([r], for: id)
        }
        for _ in 0..<50 {
            let from = Int64.random(in: -60_000...60_000, using: &random)
            let to = from + Int64.random(in: 0...40_000, using: &random)
            let step = try #require(BucketStep("\(Int.random(in: 1...90, using: &random))m"))
            let grid = try BucketGrid(from: at(from), to: at(to), step: step)
            var expected = [BucketTotal](repeating: BucketTotal(), count: grid.count)
            for r in model.sorted where r.instant >= at(from) && r.instant < at(to) {
                let bucket = Int((r.instant.nanoseconds - grid.start.nanoseconds) / step.nanoseconds)
                expected[bucket].count += Int64(r.count)
                expected[bucket].readings += 1
            }
            #expect(store.buckets(of: id, grid: grid) == expected)
            #expect(grid.start.nanoseconds <= at(from).nanoseconds && grid.start.nanoseconds % step.nanoseconds == 0)
        }
        #expect(store.buckets(of: device("nope"), grid: try BucketGrid(from: at(0), to: at(1), step: BucketStep("1s")!)) == nil)
    }
}

/// The shard's device table against a dictionary: positions stay put across growth, lookups of
/// absent ids miss, and each id is added once.
@Suite("DeviceTable")
struct DeviceTableTests {
    @Test("positions are stable, found after every growth, and absent ids miss", arguments: [UInt64(11), 12])
    func matchesDictionary(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var table = DeviceTable()
        let hasher = DeviceHasher()
        var model: [DeviceID: Int] = [:]
        for _ in 0..<50_000 {
            let id = device("d\(UInt32.random(in: 0..<40_000, using: &random))")
            let (position, added) = table.positionAdding(id, hash: hasher.hash(id), hasher: hasher)
            if let known = model[id] {
                #expect(!added && position == known)
            } else {
                #expect(added && position == model.count)
                model[id] = position
            }
        }
        #expect(table.count == model.count)
        for (id, position) in model {
            #expect(table.position(of: id, hash: hasher.hash(id)) == position)
            #expect(table.ids[position] == id)
        }
        for n in 40_000..<41_000 {
            let absent = device("d\(n)")
            #expect(table.position(of: absent, hash: hasher.hash(absent)) == nil)
        }
        #expect(DeviceTable().position(of: device("x"), hash: hasher.hash(device("x"))) == nil)
    }
}
