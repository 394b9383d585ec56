import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `GET /devices` (the listing) and `GET /devices/{id}/buckets`, on every engine.
@Suite struct FleetReadTests {
    // MARK: Listing

    @Test(arguments: Engine.allCases)
    func listingIsInByteOrderWithSummaries(engine: Engine) async throws {
        try await withApp(engine) { client in
            // "é" (C3 A9) sorts after "z"; "B" before "a"; NFC and NFD "café" are two devices.
            for (id, readings) in [
                ("z", [("2023-01-01T00:00:00Z", UInt64(1))]),
                ("caf\u{E9}", [("2023-01-01T00:00:00Z", 2)]),
                ("cafe\u{301}", [("2023-01-01T00:00:00Z", 3)]),
                ("B", [("2023-01-01T00:00:00Z", 4), ("2023-01-02T00:00:00+01:00", 5)]),
                ("\u{E9}", [("2023-01-01T00:00:00Z", 6)]),
            ] {
                _ = try await client.ingest(id, readings)
            }
            let response = try await client.get("/devices")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let devices = try #require(try response.json["devices"]?.array)
            #expect(devices.compactMap { $0["id"]?.string } == ["B", "cafe\u{301}", "caf\u{E9}", "z", "\u{E9}"])
            #expect(try response.json["next"] == nil)
            let b = devices[0]
            #expect(b["latest_timestamp"]?.string == "2023-01-01T23:00:00Z")
            #expect(b["cumulative_count"]?.int == 9)
            #expect(b["readings"]?.int == 2)
            // The whole body, byte for byte, for one device.
            let one = try await client.get("/devices?prefix=z")
            #expect(one.text == #"{"devices":[{"id":"z","latest_timestamp":"2023-01-01T00:00:00Z","cumulative_count":1,"readings":1}]}"#)
        }
    }

    /// `silent_for`: only devices whose latest reading is older than now minus that long, in id
    /// order, paged like the whole listing; a late old reading does not wake a device up.
    @Test(arguments: Engine.allCases)
    func silentForListsTheDevicesThatWentQuiet(engine: Engine) async throws {
        @Sendable func ago(_ seconds: Double) -> String {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: Date(timeIntervalSinceNow: -seconds))
        }
        try await withApp(engine) { client in
            let fleet: [(String, [(String, UInt64)])] = [
                ("quiet-a", [("2020-01-01T00:00:00Z", 1)]),
                ("quiet-b", [(ago(7200), 2), ("2020-01-01T00:00:00Z", 3)]),
                ("recent", [(ago(1800), 4)]),
                ("live", [(ago(5), 5), ("2019-01-01T00:00:00Z", 6)]),
                ("quiet-c", [(ago(86_400 * 3), 7)]),
            ]
            for (id, readings) in fleet {
                #expect(try await client.ingest(id, readings).status == .accepted)
            }
            func ids(_ uri: String) async throws -> [String] {
                let page = try await client.get(uri)
                #expect(page.status == .ok, "\(uri)")
                return try page.json["devices"]?.array?.compactMap { $0["id"]?.string } ?? []
            }
            #expect(try await ids("/devices?silent_for=1h") == ["quiet-a", "quiet-b", "quiet-c"])
            #expect(try await ids("/devices?silent_for=10m") == ["quiet-a", "quiet-b", "quiet-c", "recent"])
            #expect(try await ids("/devices?silent_for=2d") == ["quiet-a", "quiet-c"])
            #expect(try await ids("/devices?silent_for=1h&prefix=quiet-&after=quiet-a") == ["quiet-b", "quiet-c"])
            // Paging: `next` keeps the filter.
            var uri: String? = "/devices?silent_for=1h&limit=2"
            var seen: [String] = []
            while let current = uri {
                let page = try await client.get(current)
                seen += try page.json["devices"]?.array?.compactMap { $0["id"]?.string } ?? []
                uri = try page.json["next"]?.string
                if let uri { #expect(uri.contains("silent_for=1h")) }
            }
            #expect(seen == ["quiet-a", "quiet-b", "quiet-c"])
            // A bad duration is a 400 naming the parameter, and the server serves on.
            for bad in ["0h", "1", "1y", "-1h", "h", "01h", "999999999999d"] {
                let response = try await client.get("/devices?silent_for=\(bad)")
                #expect(response.status == .badRequest, "\(bad)")
                #expect(try response.json["error"]?["code"]?.string == "INVALID_PARAMETER", "\(bad)")
            }
            #expect(try await client.get("/health").status == .ok)
        }
    }

    @Test(arguments: Engine.allCases)
    func limitAfterAndNextPageThroughEveryDeviceOnce(engine: Engine) async throws {
        try await withApp(engine) { client in
            let ids = (0..<23).map { String(format: "dev-%02d", $0) } + ["other"]
            for id in ids.shuffled() { _ = try await client.ingest(id, [("2023-01-01T00:00:00Z", 1)]) }
            var uri: String? = "/devices?limit=5&prefix=dev-"
            var seen: [String] = []
            var pages = 0
            while let current = uri {
                let page = try await client.get(current)
                #expect(page.status == .ok)
                seen += try page.json["devices"]?.array?.compactMap { $0["id"]?.string } ?? []
                uri = try page.json["next"]?.string
                pages += 1
            }
            #expect(seen == ids.filter { $0.hasPrefix("dev-") }.sorted())
            #expect(pages == 5)
            // Exactly `limit` left: no next.
            let last = try await client.get("/devices?limit=3&after=dev-19&prefix=dev-")
            #expect(try last.json["devices"]?.array?.compactMap { $0["id"]?.string } == ["dev-20", "dev-21", "dev-22"])
            #expect(try last.json["next"] == nil)
            // `after` need not be a stored id; a prefix matching nothing is an empty page.
            let after = try await client.get("/devices?after=dev-99")
            #expect(try after.json["devices"]?.array?.compactMap { $0["id"]?.string } == ["other"])
            let none = try await client.get("/devices?prefix=zzz")
            #expect(none.text == #"{"devices":[]}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func prefixWithMultibyteAndLargestScalars(engine: Engine) async throws {
        try await withApp(engine) { client in
            for id in ["a\u{10FFFF}", "a\u{10FFFF}x", "a\u{D7FF}1", "a\u{E000}", "b"] {
                _ = try await client.ingest(id, [("2023-01-01T00:00:00Z", 1)])
            }
            let top = try await client.get("/devices?prefix=\(pathSegment("a\u{10FFFF}"))")
            #expect(try top.json["devices"]?.array?.compactMap { $0["id"]?.string } == ["a\u{10FFFF}", "a\u{10FFFF}x"])
            let surrogateEdge = try await client.get("/devices?prefix=\(pathSegment("a\u{D7FF}"))")
            #expect(try surrogateEdge.json["devices"]?.array?.compactMap { $0["id"]?.string } == ["a\u{D7FF}1"])
            let all = try await client.get("/devices?prefix=a")
            #expect(try all.json["devices"]?.array?.count == 4)
        }
    }

    @Test(arguments: Engine.allCases)
    func badListingParametersAre400(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1)])
            for query in ["limit=0", "limit=10001", "limit=x", "limit=1&limit=2", "after=", "after=%01", "prefix=%7F", "prefix=%FF"] {
                let response = try await client.get("/devices?\(query)")
                #expect(response.status == .badRequest, "\(query)")
                #expect(try response.json["error"]?["code"]?.string == "INVALID_PARAMETER", "\(query)")
            }
            #expect(try await client.get("/devices?limit=10000&prefix=").status == .ok)
            try await client.expectStillServing()
        }
    }

    // MARK: Buckets

    @Test(arguments: Engine.allCases)
    func bucketsSumPerAlignedStepWithEmptyBucketsAsZeros(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest(
                "b",
                [
                    ("2023-01-01T00:00:00Z", 1), ("2023-01-01T00:59:59.999999999Z", 2),
                    // Exactly on a boundary: belongs to the bucket it starts.
                    ("2023-01-01T01:00:00Z", 4), ("2023-01-01T03:30:00+01:00", 8),
                    // Outside the range asked for.
                    ("2022-12-31T23:59:59Z", 100), ("2023-01-01T04:00:00Z", 100),
                ])
            let response = try await client.get("/devices/b/buckets?from=2023-01-01T00:00:00Z&to=2023-01-01T04:00:00Z&step=1h")
            #expect(response.status == .ok)
            #expect(
                response.text
                    == #"{"step":"1h","buckets":[{"start":"2023-01-01T00:00:00Z","count":3,"readings":2},{"start":"2023-01-01T01:00:00Z","count":4,"readings":1},{"start":"2023-01-01T02:00:00Z","count":8,"readings":1},{"start":"2023-01-01T03:00:00Z","count":0,"readings":0}]}"#
            )
        }
    }

    @Test(arguments: Engine.allCases)
    func unalignedRangesWidenToWholeBucketsButSumOnlyTheRange(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest(
                "u", [("2023-01-01T00:10:00Z", 1), ("2023-01-01T00:20:00Z", 2), ("2023-01-01T00:50:00Z", 4), ("2023-01-01T01:20:00Z", 8)])
            // from 00:15 to 01:15 in 30m steps: buckets 00:00, 00:30, 01:00; 00:10 and 01:20 excluded.
            let response = try await client.get("/devices/u/buckets?from=2023-01-01T00:15:00Z&to=2023-01-01T01:15:00Z&step=30m")
            let buckets = try #require(try response.json["buckets"]?.array)
            #expect(buckets.compactMap { $0["start"]?.string } == ["2023-01-01T00:00:00Z", "2023-01-01T00:30:00Z", "2023-01-01T01:00:00Z"])
            #expect(buckets.compactMap { $0["count"]?.int } == [2, 4, 0])
            #expect(buckets.compactMap { $0["readings"]?.int } == [1, 1, 0])
            // Days are UTC days; before 1970 the alignment still counts from the epoch.
            _ = try await client.ingest("old", [("1969-12-31T12:00:00Z", 5)])
            let old = try await client.get("/devices/old/buckets?from=1969-12-31T06:00:00Z&to=1970-01-01T06:00:00Z&step=1d")
            #expect(try old.json["buckets"]?.array?.compactMap { $0["start"]?.string } == ["1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z"])
            #expect(try old.json["buckets"]?.array?.compactMap { $0["count"]?.int } == [5, 0])
            // from ≥ to: no bucket.
            let empty = try await client.get("/devices/u/buckets?from=2023-01-01T01:00:00Z&to=2023-01-01T01:00:00Z&step=1h")
            #expect(empty.text == #"{"step":"1h","buckets":[]}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func theBucketCapIsTenThousand(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("c", [("2023-01-01T00:00:00Z", 1)])
            // 10,000 one-second buckets are allowed; one more (an unaligned end) is not.
            let atCap = try await client.get("/devices/c/buckets?from=2023-01-01T00:00:00Z&to=2023-01-01T02:46:40Z&step=1s")
            #expect(atCap.status == .ok)
            #expect(try atCap.json["buckets"]?.array?.count == 10_000)
            let over = try await client.get("/devices/c/buckets?from=2023-01-01T00:00:00Z&to=2023-01-01T02:46:40.5Z&step=1s")
            #expect(over.status == .badRequest)
            #expect(try over.json["error"]?["code"]?.string == "INVALID_PARAMETER")
            // Steps of decades over most of the range of instants stay exact (the grid spans
            // more than 2^63 ns).
            _ = try await client.ingest("c", [("1700-01-01T00:00:00Z", 2), ("2262-04-11T23:47:16.854775807Z", 4)])
            let wide = try await client.get("/devices/c/buckets?from=1700-01-01T00:00:00Z&to=2262-04-11T23:47:16.854775807Z&step=20000d")
            #expect(wide.status == .ok)
            let buckets = try #require(try wide.json["buckets"]?.array)
            #expect(buckets.count == 11)
            #expect(buckets.first?["start"]?.string == "1696-03-17T00:00:00Z")
            #expect(buckets.last?["start"]?.string == "2243-10-17T00:00:00Z")
            // The end is exclusive: the reading at the very last instant is not summed.
            #expect(buckets.compactMap { $0["count"]?.int } == [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func badBucketParametersAre400AndUnknownDevicesAre404(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1)])
            let range = "from=2023-01-01T00:00:00Z&to=2023-01-02T00:00:00Z"
            for query in [
                "to=2023-01-02T00:00:00Z&step=1h", "from=2023-01-01T00:00:00Z&step=1h", range, "\(range)&step=0h", "\(range)&step=01h",
                "\(range)&step=1w", "\(range)&step=h", "\(range)&step=1.5h", "\(range)&step=-1h", "\(range)&step=1h&step=2h",
                "\(range)&step=9999999999999999999d", "from=2023-01-01&to=2023-01-02T00:00:00Z&step=1h",
                // The first bucket would start before the earliest instant.
                "from=1677-09-21T00:12:43.145224192Z&to=1677-09-22T00:00:00Z&step=1d",
            ] {
                let response = try await client.get("/devices/d/buckets?\(query)")
                #expect(response.status == .badRequest, "\(query)")
                #expect(try response.json["error"]?["code"]?.string == "INVALID_PARAMETER", "\(query)")
            }
            let unknown = try await client.get("/devices/nope/buckets?\(range)&step=1h")
            #expect(unknown.status == .notFound)
            #expect(unknown.text == #"{"error":{"code":"DEVICE_NOT_FOUND","message":"Device nope not found"}}"#)
            try await client.expectStillServing()
        }
    }
}
