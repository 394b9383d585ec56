import ReadingsDomain
import Testing

@testable import ReadingsStorage

/// Covers `MemoryStore`: per-reading outcomes (accepted, duplicate, conflicting, overflow), repeats
/// inside one batch, out-of-order inserts, the summary (latest instant, exact cumulative count),
/// zero counts, overflow at 2^63−1, and `readings(of:in:limit:)` ranges and paging.
@Suite("MemoryStore")
struct MemoryStoreTests {
    let store = MemoryStore()
    let id = device("1234")

    // MARK: Outcomes

    @Test("a new reading is accepted, the same again is a duplicate, another count a conflict")
    func outcomes() {
        #expect(store.ingestNow([reading(0, 3)], for: id) == [.accepted])
        #expect(store.ingestNow([reading(0, 3)], for: id) == [.duplicate])
        #expect(store.ingestNow([reading(0, 4)], for: id) == [.conflicting(existingCount: 3)])
        #expect(store.ingestNow([reading(0, 0)], for: id) == [.conflicting(existingCount: 3)])
        // The first reading stays.
        #expect(store.readings(of: id, in: .all, limit: 10)?.readings == [reading(0, 3)])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(0), cumulativeCount: 3, readingCount: 1))
    }

    @Test("repeats inside one batch are decided against the earlier elements of the batch")
    func duplicatesInOneBatch() {
        let outcomes = store.ingestNow(
            [reading(1, 5), reading(1, 5), reading(1, 6), reading(2, 1), reading(1, 5), reading(2, 2)], for: id)
        #expect(outcomes == [.accepted, .duplicate, .conflicting(existingCount: 5), .accepted, .duplicate, .conflicting(existingCount: 1)])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(2), cumulativeCount: 6, readingCount: 2))
    }

    @Test("one spelling or another, the same instant is the same slot")
    func sameInstant() throws {
        let a = try Instant.parseRFC3339("2023-01-01T00:00:00Z").get()
        let b = try Instant.parseRFC3339("2023-01-01T01:00:00+01:00").get()
        #expect(store.ingestNow([Reading(instant: a, count: 1), Reading(instant: b, count: 1)], for: id) == [.accepted, .duplicate])
    }

    @Test("readings arriving out of order are stored in time order")
    func outOfOrder() {
        #expect(store.ingestNow([reading(5, 5), reading(1, 1), reading(3, 3)], for: id) == [.accepted, .accepted, .accepted])
        #expect(
            store.ingestNow([reading(4, 4), reading(0, 0), reading(6, 6), reading(2, 2)], for: id) == Array(repeating: .accepted, count: 4))
        #expect(
            store.ingestNow([reading(3, 3), reading(0, 1), reading(6, 6), reading(-1, 9)], for: id)
                == [.duplicate, .conflicting(existingCount: 0), .duplicate, .accepted])
        let page = store.readings(of: id, in: .all, limit: 100)
        #expect(page?.readings == [reading(-1, 9)] + (0...6).map { reading($0, UInt64($0)) })
        #expect(page?.next == nil)
        #expect(store.summary(of: id) == DeviceSummary(latest: at(6), cumulativeCount: 30, readingCount: 8))
    }

    @Test("latest is the greatest instant, not the last to arrive")
    func latestIsGreatest() {
        _ = store.ingestNow([reading(10, 1)], for: id)
        _ = store.ingestNow([reading(5, 1)], for: id)
        _ = store.ingestNow([reading(-100, 1), reading(9, 1)], for: id)
        #expect(store.summary(of: id)?.latest == at(10))
        _ = store.ingestNow([reading(11, 1)], for: id)
        #expect(store.summary(of: id)?.latest == at(11))
    }

    @Test("the cumulative count is the exact sum of accepted counts")
    func cumulativeExact() {
        let big = ReadingCount.max
        let outcomes = store.ingestNow([reading(0, big), reading(1, big - 1), reading(2, 1), reading(1, 7)], for: id)
        #expect(outcomes == [.accepted, .accepted, .accepted, .conflicting(existingCount: big - 1)])
        #expect(store.summary(of: id)?.cumulativeCount == Int64(2 * big))
        #expect(store.summary(of: id)?.cumulativeCount == 18_014_398_509_481_982)
    }

    @Test("a device whose readings all count 0 exists, with cumulative count 0")
    func zeroCounts() {
        #expect(store.ingestNow([reading(0, 0), reading(1, 0)], for: id) == [.accepted, .accepted])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(1), cumulativeCount: 0, readingCount: 2))
        #expect(store.readings(of: id, in: .all, limit: 10)?.readings == [reading(0, 0), reading(1, 0)])
    }

    @Test("an unknown device has no summary and no readings; an empty batch creates nothing")
    func unknownDevice() {
        #expect(store.summary(of: id) == nil)
        #expect(store.readings(of: id, in: .all, limit: 10) == nil)
        #expect(store.ingestNow([], for: id) == [])
        #expect(store.summary(of: id) == nil)
        #expect(store.readings(of: id, in: .all, limit: 10) == nil)
        _ = store.ingestNow([reading(0, 1)], for: device("other"))
        #expect(store.summary(of: id) == nil)
        #expect(store.statistics().devices == 1 && store.statistics().readings == 1)
    }

    @Test("devices are independent, and ids are compared byte by byte")
    func independentDevices() {
        let nfc = device("caf\u{E9}")
        let nfd = device("cafe\u{301}")
        let spaced = device(" 1234")
        #expect(store.ingestNow([reading(0, 1)], for: id) == [.accepted])
        #expect(store.ingestNow([reading(0, 2)], for: nfc) == [.accepted])
        #expect(store.ingestNow([reading(0, 3)], for: nfd) == [.accepted])
        #expect(store.ingestNow([reading(0, 4)], for: spaced) == [.accepted])
        #expect(store.summary(of: id)?.cumulativeCount == 1)
        #expect(store.summary(of: nfc)?.cumulativeCount == 2)
        #expect(store.summary(of: nfd)?.cumulativeCount == 3)
        #expect(store.summary(of: spaced)?.cumulativeCount == 4)
        #expect(store.statistics().devices == 4 && store.statistics().readings == 4)
    }

    @Test("every shard count works, including a single shard")
    func shardCounts() {
        for bits in 0...4 {
            let store = MemoryStore(shardBits: bits)
            let ids = (0..<50).map { device("device-\($0)") }
            for (k, id) in ids.enumerated() {
                #expect(store.ingestNow([reading(Int64(k), UInt64(k))], for: id) == [.accepted])
            }
            for (k, id) in ids.enumerated() {
                #expect(store.summary(of: id) == DeviceSummary(latest: at(Int64(k)), cumulativeCount: Int64(k), readingCount: 1))
            }
            #expect(store.statistics().devices == 50 && store.statistics().readings == 50)
        }
    }

    @Test("the extreme instants can be stored")
    func extremeInstants() {
        let outcomes = store.ingestNow(
            [Reading(instant: .max, count: 1), Reading(instant: .min, count: 2), Reading(instant: .max, count: 1)], for: id)
        #expect(outcomes == [.accepted, .accepted, .duplicate])
        #expect(store.summary(of: id) == DeviceSummary(latest: .max, cumulativeCount: 3, readingCount: 2))
        #expect(
            store.readings(of: id, in: .all, limit: 10)?.readings
                == [Reading(instant: .min, count: 2), Reading(instant: .max, count: 1)])
        #expect(store.readings(of: id, in: InstantRange(from: .max), limit: 10)?.readings == [Reading(instant: .max, count: 1)])
        #expect(store.readings(of: id, in: InstantRange(to: .max), limit: 10)?.readings == [Reading(instant: .min, count: 2)])
        #expect(store.readings(of: id, in: InstantRange(from: .min, to: .max), limit: 10)?.readings.count == 1)
    }

    @Test("through the ReadingStore protocol: ready, and the same answers")
    func throughProtocol() async throws {
        let engine: any ReadingStore = store
        #expect(await engine.isReady())
        #expect(try await engine.ingest([reading(1, 2), reading(1, 2)], for: id) == [.accepted, .duplicate])
        #expect(try await engine.summary(of: id) == DeviceSummary(latest: at(1), cumulativeCount: 2, readingCount: 1))
        #expect(try await engine.readings(of: id, in: .all, limit: 1)?.readings == [reading(1, 2)])
        #expect(try await engine.summary(of: device("nobody")) == nil)
    }

    // MARK: Overflow

    @Test("a reading that would push the cumulative count past 2^63-1 is refused and not stored")
    func overflow() {
        let big = ReadingCount.max  // 2^53 - 1
        // 1024 × (2^53 - 1) = 2^63 - 1024.
        let first = (0..<1024).map { reading(Int64($0), big) }
        #expect(store.ingestNow(first, for: id) == Array(repeating: .accepted, count: 1024))
        #expect(store.summary(of: id)?.cumulativeCount == Int64.max - 1023)

        // One more big one would overflow: refused, not stored, nothing changes.
        #expect(store.ingestNow([reading(5000, big)], for: id) == [.overflow])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(1023), cumulativeCount: Int64.max - 1023, readingCount: 1024))
        #expect(store.readings(of: id, in: InstantRange(from: at(5000)), limit: 10)?.readings == [])

        // Exactly up to Int64.max is fine; one more is not; zero always is.
        #expect(
            store.ingestNow([reading(5000, 1024), reading(5000, 1023), reading(5001, 1024), reading(5001, 1023)], for: id)
                == [.overflow, .accepted, .overflow, .overflow])
        #expect(store.summary(of: id)?.cumulativeCount == Int64.max)
        #expect(store.ingestNow([reading(5002, 1), reading(5003, 0), reading(-1, 0)], for: id) == [.overflow, .accepted, .accepted])
        #expect(store.summary(of: id) == DeviceSummary(latest: at(5003), cumulativeCount: Int64.max, readingCount: 1027))

        // Duplicates and conflicts are decided before overflow.
        #expect(
            store.ingestNow([reading(0, big), reading(0, 1), reading(5000, 1023), reading(5000, 7)], for: id)
                == [.duplicate, .conflicting(existingCount: big), .duplicate, .conflicting(existingCount: 1023)])
        // A refused reading left no trace: its instant is still free.
        #expect(store.ingestNow([reading(5001, 0), reading(5002, 0)], for: id) == [.accepted, .accepted])
        #expect(store.summary(of: id)?.cumulativeCount == Int64.max)
        #expect(store.summary(of: id)?.readingCount == 1029)
    }

    @Test("an overflowing reading in a batch does not stop the rest of the batch")
    func overflowInBatch() {
        let big = ReadingCount.max
        _ = store.ingestNow((0..<1023).map { reading(Int64($0), big) }, for: id)
        let rest = UInt64(Int64.max) - 1023 * big  // what is left below 2^63-1
        #expect(rest == big + 1023)
        #expect(
            store.ingestNow([reading(2000, big), reading(2001, big), reading(2002, 1024), reading(2003, 1023)], for: id)
                == [.accepted, .overflow, .overflow, .accepted])
        #expect(store.summary(of: id)?.cumulativeCount == Int64.max)
    }

    // MARK: Ranges

    /// Stores readings at seconds 0, 10, 20, ..., 90 with count = seconds.
    private func storeTen() {
        _ = store.ingestNow((0..<10).map { reading(Int64($0 * 10), UInt64($0 * 10)) }, for: id)
    }

    private func seconds(_ range: InstantRange, limit: Int = 100) -> [Int64]? {
        store.readings(of: id, in: range, limit: limit)?.readings.map {
            ($0.instant.nanoseconds - at(0).nanoseconds) / second
        }
    }

    @Test("from is inclusive, to is exclusive")
    func bounds() {
        storeTen()
        #expect(seconds(.all) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        #expect(seconds(InstantRange(from: at(20))) == [20, 30, 40, 50, 60, 70, 80, 90])
        #expect(seconds(InstantRange(from: at(21))) == [30, 40, 50, 60, 70, 80, 90])
        #expect(seconds(InstantRange(to: at(30))) == [0, 10, 20])
        #expect(seconds(InstantRange(to: at(31))) == [0, 10, 20, 30])
        #expect(seconds(InstantRange(from: at(20), to: at(50))) == [20, 30, 40])
        #expect(seconds(InstantRange(from: at(19), to: at(51))) == [20, 30, 40, 50])
        #expect(seconds(InstantRange(from: at(20), to: at(21))) == [20])
        #expect(seconds(InstantRange(from: at(-100), to: at(1000))) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        #expect(seconds(InstantRange(from: at(91))) == [])
        #expect(seconds(InstantRange(to: at(0))) == [])
        #expect(seconds(InstantRange(from: at(21), to: at(29))) == [])
        // Nanosecond precision at the bounds.
        let justBefore = Instant(nanoseconds: at(20).nanoseconds - 1)
        let justAfter = Instant(nanoseconds: at(20).nanoseconds + 1)
        #expect(seconds(InstantRange(from: justBefore, to: justAfter)) == [20])
        #expect(seconds(InstantRange(from: justAfter, to: at(40))) == [30])
        #expect(seconds(InstantRange(from: at(10), to: justBefore)) == [10])
    }

    @Test("from ≥ to is an empty range, but the device and its summary are still there")
    func emptyRanges() {
        storeTen()
        for range in [
            InstantRange(from: at(20), to: at(20)), InstantRange(from: at(50), to: at(20)),
            InstantRange(from: .max, to: .min), InstantRange(from: at(0), to: at(0)),
        ] {
            #expect(range.isEmpty)
            let page = store.readings(of: id, in: range, limit: 5)
            #expect(page?.readings == [])
            #expect(page?.next == nil)
            #expect(page?.summary == DeviceSummary(latest: at(90), cumulativeCount: 450, readingCount: 10))
        }
        #expect(!InstantRange(from: at(20), to: at(21)).isEmpty)
        #expect(!InstantRange.all.isEmpty)
        #expect(!InstantRange(from: .max).isEmpty)
        #expect(!InstantRange(to: .min).isEmpty)
    }

    @Test("limit cuts the page and next points at the first reading left out")
    func paging() {
        storeTen()
        let first = store.readings(of: id, in: .all, limit: 3)
        #expect(first?.readings == [reading(0, 0), reading(10, 10), reading(20, 20)])
        #expect(first?.next == at(30))
        let second = store.readings(of: id, in: InstantRange(from: at(30)), limit: 3)
        #expect(second?.readings.map(\.count) == [30, 40, 50])
        #expect(second?.next == at(60))
        let bounded = store.readings(of: id, in: InstantRange(from: at(30), to: at(60)), limit: 2)
        #expect(bounded?.readings.map(\.count) == [30, 40])
        #expect(bounded?.next == at(50))
        let one = store.readings(of: id, in: InstantRange(from: at(85)), limit: 1)
        #expect(one?.readings.map(\.count) == [90])
        #expect(one?.next == nil)
        // The summary always describes the whole device.
        #expect(second?.summary == DeviceSummary(latest: at(90), cumulativeCount: 450, readingCount: 10))
    }

    @Test("no next when exactly limit readings match")
    func exactlyLimit() {
        storeTen()
        let all = store.readings(of: id, in: .all, limit: 10)
        #expect(all?.readings.count == 10)
        #expect(all?.next == nil)
        let bounded = store.readings(of: id, in: InstantRange(from: at(30), to: at(60)), limit: 3)
        #expect(bounded?.readings.map(\.count) == [30, 40, 50])
        #expect(bounded?.next == nil)
        let more = store.readings(of: id, in: .all, limit: 9)
        #expect(more?.readings.count == 9)
        #expect(more?.next == at(90))
    }

    @Test("paging through with next visits every reading once")
    func pageThrough() {
        let instants = (0..<97).map { Int64($0 * 7 % 97) }  // a permutation of 0..<97
        _ = store.ingestNow(instants.map { reading($0, UInt64($0)) }, for: id)
        var seen: [Int64] = []
        var from: Instant? = nil
        var pages = 0
        while pages < 100 {
            let page = store.readings(of: id, in: InstantRange(from: from, to: at(90)), limit: 10)
            seen += page?.readings.map { ($0.instant.nanoseconds - at(0).nanoseconds) / second } ?? []
            pages += 1
            guard let next = page?.next else { break }
            from = next
        }
        #expect(seen == Array(0..<90))
        #expect(pages == 9)
    }

    /// Regression: `DeviceSeries.readings` computed `start + limit`, which trapped when `from`
    /// skipped readings and `limit` was huge (a trap here ends the whole test run).
    @Test("a huge limit returns everything from any starting point")
    func hugeLimit() {
        let store = MemoryStore()
        let id = device("1234")
        _ = store.ingestNow((0..<10).map { reading(Int64($0), 1) }, for: id)
        let page = store.readings(of: id, in: InstantRange(from: at(3)), limit: Int.max)
        #expect(page?.readings.count == 7)
        #expect(page?.next == nil)
    }
}
