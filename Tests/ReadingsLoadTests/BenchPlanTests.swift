import Foundation
import ReadingsDomain
import Testing

@testable import ReadingsLoad

/// The bench's generator without a server: every order sends each reading exactly once plus the
/// requested repeats, in the requests the counts announce; the ledger that verification relies on
/// agrees with a model server whatever is acknowledged; request bytes are well-formed HTTP + JSON.
@Suite struct BenchPlanTests {
    /// A run's shape with the defaults these tests do not vary.
    static func shape(
        devices: Int = 3, readings: Int, batch: Int, order: BenchOrder, duplicates: Double = 0,
        outOfOrder: Double = 0, seed: UInt64 = 7
    ) -> BenchWorkload.Shape {
        BenchWorkload.Shape(
            devices: devices, readings: readings, batch: batch, order: order, duplicatePercent: duplicates,
            outOfOrderPercent: outOfOrder, seed: seed, idPrefix: "p-", connections: 1)
    }

    /// Every request of one device, as the cursor produces them.
    static func requests(of plan: BenchDevicePlan) -> [BenchBatch] {
        var cursor = BenchDeviceCursor(plan: plan)
        var all: [BenchBatch] = []
        while !cursor.isFinished {
            var batch = BenchBatch()
            cursor.next(into: &batch)
            all.append(batch)
        }
        return all
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 16, 17, 100, 1000, 4097])
    func permutationIsABijectionBothWays(count: Int) {
        for seed in 0..<4 as Range<UInt64> {
            var random = SplitMix64(seed: seed, stream: 1)
            let permutation = BenchPermutation(count: count, random: &random)
            let images = (0..<count).map(permutation.image(of:))
            #expect(images.sorted() == Array(0..<count))
            #expect((0..<count).allSatisfy { permutation.preimage(of: images[$0]) == $0 })
        }
    }

    /// (readings, batch, duplicates %, out-of-order %): a device of one request, fewer readings than
    /// a batch, an exact multiple, a ragged end, every reading repeated.
    static let sizes: [(Int, Int, Double, Double)] = [
        (1, 10, 100, 0), (7, 10, 50, 30), (100, 10, 5, 10), (1000, 100, 7, 10), (1037, 100, 100, 50), (500, 1, 10, 10),
    ]

    @Test(arguments: BenchOrder.allCases)
    func everyReadingIsSentOnceAndRepeatsComeInLaterRequests(order: BenchOrder) {
        for (readings, batch, duplicates, outOfOrder) in BenchPlanTests.sizes {
            let shape = BenchPlanTests.shape(
                readings: readings, batch: batch, order: order, duplicates: duplicates,
                outOfOrder: order.takesOutOfOrder ? outOfOrder : 0)
            for device in 0..<shape.devices {
                let plan = BenchDevicePlan(index: device, shape: shape)
                let requests = BenchPlanTests.requests(of: plan)
                let label = "\(order) \(readings)/\(batch) device \(device)"
                #expect(requests.count == shape.requestsPerDevice, "\(label)")
                #expect(requests.allSatisfy { (1...batch).contains($0.sends.count) }, "\(label)")
                #expect(requests.reduce(0) { $0 + $1.sends.count } == shape.sendsPerDevice, "\(label)")

                var firstSentIn: [Int: Int] = [:]
                var repeats = 0
                for (number, request) in requests.enumerated() {
                    for send in request.sends {
                        if send.isRepeat {
                            repeats += 1
                            // An exact retry of a reading already sent, in an earlier request.
                            #expect(firstSentIn[send.reading].map { $0 < number } == true, "\(label)")
                        } else {
                            #expect(firstSentIn[send.reading] == nil, "\(label): reading \(send.reading) sent twice")
                            firstSentIn[send.reading] = number
                        }
                    }
                }
                #expect(firstSentIn.keys.sorted() == Array(0..<readings), "\(label)")
                #expect(repeats == shape.repeatsPerDevice, "\(label)")
            }
        }
    }

    @Test func reversedSendsNewestFirst() {
        let shape = BenchPlanTests.shape(readings: 1037, batch: 100, order: .reversed, duplicates: 10)
        let plan = BenchDevicePlan(index: 1, shape: shape)
        let originals = BenchPlanTests.requests(of: plan).flatMap(\.sends).filter { !$0.isRepeat }
        #expect(originals.map(\.reading) == Array((0..<1037).reversed()))
        let offsets = originals.map { plan.value(of: $0.reading).offset }
        #expect(zip(offsets, offsets.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func shuffledIsReproducibleAndLooksRandom() {
        let readings = 1000
        let shape = BenchPlanTests.shape(devices: 2, readings: readings, batch: 100, order: .shuffled)
        let order = { (plan: BenchDevicePlan) in (0..<plan.readings).map(plan.reading(at:)) }
        let first = order(BenchDevicePlan(index: 0, shape: shape))
        #expect(first == order(BenchDevicePlan(index: 0, shape: shape)))
        #expect(first != order(BenchDevicePlan(index: 1, shape: shape)))
        var reseeded = shape
        reseeded.seed += 1
        #expect(first != order(BenchDevicePlan(index: 0, shape: reseeded)))
        // A random order has about n(n-1)/4 inversions (standard deviation about n^1.5/6).
        var inversions = 0
        for i in 0..<readings { for j in (i + 1)..<readings where first[i] > first[j] { inversions += 1 } }
        let mean = Double(readings * (readings - 1)) / 4
        #expect(abs(Double(inversions) - mean) < 4 * pow(Double(readings), 1.5) / 6)

        // Over many devices, each of the n! orders of a tiny history comes up about equally often
        // (about 1000 ± 32 times each; fewer Feistel rounds would show here, see BenchPermutation).
        for (readings, orders) in [(3, 6), (4, 24)] {
            let small = BenchPlanTests.shape(devices: 1000 * orders, readings: readings, batch: 3, order: .shuffled)
            var seen: [[Int]: Int] = [:]
            for device in 0..<small.devices {
                seen[order(BenchDevicePlan(index: device, shape: small)), default: 0] += 1
            }
            #expect(seen.count == orders)
            #expect(seen.values.allSatisfy { (850...1150).contains($0) }, "\(seen)")
        }
    }

    @Test(arguments: [BenchOrder.in, .late])
    func outOfOrderSwapsExactlyThePlannedShare(order: BenchOrder) {
        let shape = BenchPlanTests.shape(readings: 1000, batch: 100, order: order, outOfOrder: 10)
        let plan = BenchDevicePlan(index: 2, shape: shape)
        let moved = (0..<1000).filter { plan.reading(at: $0) != $0 }
        #expect(moved.count == 100)
        #expect(moved.count == 2 * shape.swappedPairsPerDevice)
        // Readings trade places in pairs.
        #expect(moved.allSatisfy { plan.reading(at: plan.reading(at: $0)) == $0 })
        // Most swapped pairs span requests.
        #expect(moved.filter { plan.reading(at: $0) / 100 != $0 / 100 }.count > 80)
    }

    /// Whatever answers arrive, the ledger expects what a server storing each reading of an
    /// acknowledged request once (and nothing of other requests) would hold.
    @Test(arguments: BenchOrder.allCases)
    func ledgerAgreesWithAModelServer(order: BenchOrder) {
        var answers = SplitMix64(seed: 99, stream: 0)
        for (readings, batch, duplicates, _) in BenchPlanTests.sizes {
            for acknowledgedPercent in [0, 30, 70, 100] {
                let shape = BenchPlanTests.shape(readings: readings, batch: batch, order: order, duplicates: duplicates)
                let plan = BenchDevicePlan(index: 0, shape: shape)
                var ledger = BenchDeviceLedger()
                var stored = Set<Int>()
                var model = BenchVerifier.Expectation()
                for request in BenchPlanTests.requests(of: plan) {
                    let acknowledged = answers.below(100) < acknowledgedPercent
                    ledger.record(request, acknowledged: acknowledged, plan: plan)
                    guard acknowledged else { continue }
                    model.sends += request.sends.count
                    for send in request.sends where stored.insert(send.reading).inserted {
                        let (offset, count) = plan.value(of: send.reading)
                        model.distinct += 1
                        model.cumulativeCount += count
                        model.latestOffset = max(model.latestOffset ?? .min, offset)
                    }
                }
                #expect(ledger.expectation == model, "\(order) \(readings)/\(batch) \(acknowledgedPercent)%")
            }
        }
    }

    @Test func requestsAreHTTPWithJSONBodiesOfThePlannedReadings() throws {
        let shape = BenchPlanTests.shape(devices: 5, readings: 250, batch: 100, order: .shuffled, duplicates: 20)
        let workload = BenchWorkload(
            shape: shape, target: try BenchTarget(url: "http://example.test:8080/api"), apiKey: "k",
            returnMinimal: true)
        var stream = BenchRequestStream(workload: workload, connection: 0)
        var requests = 0
        var readingsPerDevice: [String: Int] = [:]
        var latestDevice: [String] = []
        while stream.next() {
            let bytes = stream.withRequest { Array($0) }
            stream.answer(acknowledged: true)
            requests += 1
            let text = String(decoding: bytes, as: UTF8.self)
            let parts = text.components(separatedBy: "\r\n\r\n")
            try #require(parts.count == 2)
            let head = parts[0].components(separatedBy: "\r\n")
            #expect(head[0] == "POST /api/ingest HTTP/1.1")
            #expect(head.contains("Host: example.test:8080"))
            #expect(head.contains("Authorization: Bearer k"))
            #expect(head.contains("Prefer: return=minimal"))
            #expect(head.contains("Content-Length: \(parts[1].utf8.count)"))
            let body = try #require(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any])
            let id = try #require(body["id"] as? String)
            let readings = try #require(body["readings"] as? [[String: Any]])
            #expect(readings.count == stream.readingsInRequest)
            for reading in readings {
                let timestamp = try #require(reading["timestamp"] as? String)
                #expect(timestamp.count == 20 && timestamp.hasSuffix("Z"))
                #expect((0...50).contains(try #require(reading["count"] as? Int)))
            }
            readingsPerDevice[id, default: 0] += readings.count
            latestDevice.append(id)
        }
        #expect(requests == workload.requestCount)
        #expect(readingsPerDevice == Dictionary(uniqueKeysWithValues: (0..<5).map { ("p-\($0)", shape.sendsPerDevice) }))
        // The devices in flight take turns: the first requests go to devices 0, 1, 2, 3 in turn.
        #expect(latestDevice.prefix(5) == ["p-0", "p-1", "p-2", "p-3", "p-0"])
        let totals = stream.totals
        #expect(totals.distinct == 5 * 250 && totals.sends == workload.sendCount)
    }

    @Test func timestampsAreCanonicalRFC3339() {
        #expect(BenchTimestamp.string(offset: 0) == "2024-01-01T00:00:00Z")
        #expect(BenchTimestamp.string(offset: 59 * 86_400 + 3_723) == "2024-02-29T01:02:03Z")
        #expect(BenchTimestamp.string(offset: 100_000_000 * 60) == "2214-02-18T10:40:00Z")
        let formatter = ISO8601DateFormatter()
        var random = SplitMix64(seed: 3, stream: 3)
        for _ in 0..<1000 {
            let offset = Int64(random.below(6_000_000_000))
            let date = Date(timeIntervalSince1970: Double(BenchTimestamp.epochOfFirstReading + offset))
            #expect(BenchTimestamp.string(offset: offset) == formatter.string(from: date))
        }
    }

    @Test func latencyPercentilesAreWithinAFifthOfAPercent() {
        var random = SplitMix64(seed: 5, stream: 5)
        var histogram = BenchLatencyHistogram()
        var other = BenchLatencyHistogram()
        var values: [UInt64] = []
        for i in 0..<20_000 {
            let value = UInt64(random.below(1 << (8 + random.below(24))))
            values.append(value)
            if i % 2 == 0 { histogram.record(value) } else { other.record(value) }
        }
        histogram.merge(other)
        values.sort()
        #expect(histogram.count == values.count && histogram.max == values.last)
        for fraction in [0.5, 0.9, 0.99, 0.999] {
            let exact = Double(values[Int((fraction * Double(values.count)).rounded(.up)) - 1])
            #expect(abs(histogram.percentile(fraction) - exact) <= max(1, exact * 0.002), "\(fraction)")
        }
    }
}
