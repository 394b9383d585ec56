import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// Ids chosen by a client cannot pile into one shard or one probe chain: the hash that places
/// devices is keyed per store, so ids that all collide under a fixed hash (FNV-1a, which placed
/// them before) spread out.
@Suite struct HashFloodingTests {
    /// 2,000 ids whose FNV-1a hashes share their low 6 bits: under the old placement (shard =
    /// low 6 bits of FNV-1a) all of them went to one of the 64 shards.
    static let flood: [DeviceID] = {
        var ids: [DeviceID] = []
        var n = 0
        while ids.count < 2000 {
            let text = "flood-\(n)"
            if StableHash.fnv1a(Array(text.utf8)) & 63 == 0 { ids.append(try! DeviceID(text)) }
            n += 1
        }
        return ids
    }()

    @Test func idsThatCollideUnderAFixedHashSpreadOverShards() {
        let hasher = DeviceHasher()
        var perShard = [Int](repeating: 0, count: 64)
        for id in Self.flood { perShard[Int(hasher.hash(id) & 63)] += 1 }
        // 2000 ids over 64 shards: about 31 each; a uniform hash stays far below 80.
        #expect(perShard.max()! < 80, "\(perShard)")
        #expect(perShard.filter { $0 == 0 }.isEmpty)
    }

    @Test func theKeyDiffersBetweenStores() {
        let a = DeviceHasher()
        let b = DeviceHasher()
        let differing = Self.flood.prefix(100).filter { a.hash($0) != b.hash($0) }.count
        #expect(differing >= 99)
    }

    @Test func probeChainsStayShortForTheFlood() {
        // Every id in one table: with the keyed hash, the longest run of occupied slots from an
        // id's home stays short even though the ids were chosen to collide under FNV-1a.
        let hasher = DeviceHasher()
        var table = DeviceTable()
        for id in Self.flood { _ = table.positionAdding(id, hash: hasher.hash(id), hasher: hasher) }
        #expect(table.longestProbe(hasher: hasher) < 40)
        for (position, id) in Self.flood.enumerated() {
            #expect(table.position(of: id, hash: hasher.hash(id)) == position)
        }
    }
}
