import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ReadingsDomain
import Testing

/// Exactly-once under racing requests: real concurrent connections to a live server posting
/// overlapping batches for the same device.
@Suite struct ConcurrencyTests {
    /// Deletes racing ingests of the same device over real connections: every reading the
    /// device holds at the end was answered 202, and its cumulative count is exactly theirs, so
    /// each accepted reading went either with a deleted device or into the one left, never both.
    @Test(arguments: Engine.allCases)
    func deletesRacingIngestsAreLinearisable(engine: Engine) async throws {
        let writers = 6
        let perWriter = 60
        try await withApp(engine, .live) { client in
            let port = try #require(client.port)
            let accepted = try await withThrowingTaskGroup(of: [String: Int64].self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) {
                            http in
                            var mine: [String: Int64] = [:]
                            for k in 0..<perWriter {
                                // Distinct instants: writer w owns minute w, second k.
                                let stamp = String(format: "2024-01-01T00:%02d:%02dZ", writer, k)
                                let body = ingestBody("raced", [(stamp, UInt64(writer + 1))])
                                let response = try await http.execute(
                                    .init("/ingest", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body)))
                                if response.status == .accepted { mine[stamp] = Int64(writer + 1) }
                            }
                            return mine
                        }
                    }
                }
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { http in
                        for _ in 0..<20 {
                            let status = try await http.execute(.init("/devices/raced", method: .delete)).status
                            #expect(status == .noContent || status == .notFound)
                        }
                    }
                    return [:]
                }
                var all: [String: Int64] = [:]
                for try await partial in group { all.merge(partial) { a, _ in a } }
                return all
            }
            // Each instant is sent once, so each is new to whichever device it meets.
            #expect(accepted.count == writers * perWriter)
            let device = try await client.get("/devices/raced?limit=100000")
            guard device.status == .ok else {
                #expect(device.status == .notFound)
                return
            }
            let data = try #require(try device.json["data"]?.value as? [String: Any])
            var sum: Int64 = 0
            for (stamp, count) in data {
                let value = (count as? NSNumber)?.int64Value
                #expect(value == accepted[stamp], "\(stamp) is held but was never accepted with that count")
                sum += value ?? 0
            }
            #expect(try device.json["cumulative_count"]?.int == sum)
        }
    }

    @Test(arguments: Engine.allCases)
    func racingOverlappingBatchesStoreEachInstantOnce(engine: Engine) async throws {
        let connections = 16
        let instants = 200
        // Every connection posts every instant (count = instant index % 7), in its own order and
        // in batches of varying size, so that the same readings race from all sides.
        try await withApp(engine, .live) { client in
            let port = try #require(client.port)
            let accepted = try await withThrowingTaskGroup(of: [Int: Int].self) { group in
                for connection in 0..<connections {
                    group.addTask {
                        var generator = SplitMix64(seed: UInt64(connection))
                        let order = (0..<instants).shuffled(using: &generator)
                        var batches: [[Int]] = []
                        var start = 0
                        while start < order.count {
                            let size = Int.random(in: 1...25, using: &generator)
                            batches.append(Array(order[start..<min(start + size, order.count)]))
                            start += size
                        }
                        return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120)))
                        { [batches] http in
                            var acceptedHere: [Int: Int] = [:]
                            for batch in batches {
                                let body = ingestBody("racer", batch.map { (timestamp($0, connection), UInt64($0 % 7)) })
                                let response = try await http.execute(
                                    .init("/ingest", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body)))
                                let json = try JSONBody(response.body ?? ByteBuffer())
                                for (k, result) in (json["results"]?.array ?? []).enumerated() where result["status"]?.int == 202 {
                                    acceptedHere[batch[k], default: 0] += 1
                                }
                                #expect(json["rejected"]?.int == 0)
                            }
                            return acceptedHere
                        }
                    }
                }
                var total: [Int: Int] = [:]
                for try await partial in group { total.merge(partial, uniquingKeysWith: +) }
                return total
            }
            #expect(accepted.count == instants)
            #expect(accepted.values.allSatisfy { $0 == 1 })
            let expected = (0..<instants).reduce(0) { $0 + $1 % 7 }
            let count = try await client.get("/devices/racer/cumulative_count")
            #expect(try count.json["cumulative_count"]?.int == Int64(expected))
            let device = try await client.get("/devices/racer")
            #expect(try device.json["data"]?.keys?.count == instants)
        }
    }

    @Test(arguments: Engine.allCases)
    func readsDuringWritesSeeConsistentMoments(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            let port = try #require(client.port)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { http in
                        for batch in 0..<50 {
                            let readings = (0..<20).map { (timestamp(batch * 20 + $0, 0), UInt64(3)) }
                            let body = ingestBody("consistent", readings)
                            _ = try await http.execute(
                                .init("/ingest", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body)))
                        }
                    }
                }
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { http in
                        for _ in 0..<100 {
                            let response = try await http.execute(.init("/devices/consistent?limit=100000", method: .get))
                            guard response.status == .ok else { continue }
                            let json = try JSONBody(response.body ?? ByteBuffer())
                            let readings = json["data"]?.keys?.count ?? -1
                            // Whole batches only, and the sum of data equals cumulative_count.
                            #expect(readings % 20 == 0)
                            #expect(json["cumulative_count"]?.int == Int64(readings * 3))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// The listing while new devices are being created, and buckets while readings arrive: pages
    /// stay in strict id order without repeats, every device that existed before a walk began is
    /// in it, each listed device's figures are whole batches, and bucket sums are whole batches.
    @Test(arguments: Engine.allCases)
    func listingAndBucketsDuringCreationStayOrderedAndWhole(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            let port = try #require(client.port)
            // Devices that exist before any walk.
            for n in stride(from: 0, to: 60, by: 2) {
                _ = try await client.ingest(String(format: "fleet-%03d", n), [(timestamp(0, 0), 2), (timestamp(1, 0), 2)])
            }
            let before = Set(stride(from: 0, to: 60, by: 2).map { String(format: "fleet-%03d", $0) })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { http in
                        // New devices between the existing ones, and more batches for old ones.
                        for n in stride(from: 1, to: 60, by: 2) {
                            for id in [String(format: "fleet-%03d", n), String(format: "fleet-%03d", n - 1)] {
                                let body = ingestBody(id, [(timestamp(n * 2 + 10, 0), 2), (timestamp(n * 2 + 11, 0), 2)])
                                _ = try await http.execute(
                                    .init("/ingest", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body)))
                            }
                        }
                    }
                }
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) { http in
                        for _ in 0..<15 {
                            var seen: [String] = []
                            var uri: String? = "/devices?limit=7&prefix=fleet-"
                            while let current = uri {
                                let response = try await http.execute(.init(current, method: .get))
                                #expect(response.status == .ok)
                                let json = try JSONBody(response.body ?? ByteBuffer())
                                for device in json["devices"]?.array ?? [] {
                                    seen.append(device["id"]?.string ?? "")
                                    // Two readings of 2 per batch: whole batches only.
                                    let readings = device["readings"]?.int ?? -1
                                    #expect(readings > 0 && readings % 2 == 0)
                                    #expect(device["cumulative_count"]?.int == readings * 2)
                                }
                                uri = json["next"]?.string
                            }
                            #expect(seen == seen.sorted() && Set(seen).count == seen.count)
                            #expect(before.isSubset(of: Set(seen)))
                            let buckets = try await http.execute(
                                .init("/devices/fleet-000/buckets?from=2023-05-01T00:00:00Z&to=2023-05-02T00:00:00Z&step=1d", method: .get))
                            let total = try JSONBody(buckets.body ?? ByteBuffer())["buckets"]?[0]?["count"]?.int ?? -1
                            #expect(total > 0 && total % 4 == 0)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// A distinct timestamp per index; `spelling` varies how it is written (same instant).
func timestamp(_ index: Int, _ spelling: Int) -> String {
    let second = index % 60
    let minute = index / 60 % 60
    let hour = index / 3600
    switch spelling % 3 {
    case 0: return String(format: "2023-05-01T%02d:%02d:%02dZ", hour, minute, second)
    case 1: return String(format: "2023-05-01T%02d:%02d:%02d.000+02:00", hour + 2, minute, second)
    default: return String(format: "2023-04-30 %02d:%02d:%02d-0300", hour + 21, minute, second)
    }
}
