import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The per-device reads: latest timestamp, cumulative count, the readings with paging, and ids
/// in paths.
@Suite struct DeviceReadTests {
    @Test(arguments: Engine.allCases)
    func unknownDeviceIs404OnEveryRoute(engine: Engine) async throws {
        try await withApp(engine) { client in
            for suffix in ["", "/latest_timestamp", "/cumulative_count"] {
                let response = try await client.get("/devices/nope\(suffix)")
                #expect(response.status == .notFound)
                #expect(response.text == #"{"error":{"code":"DEVICE_NOT_FOUND","message":"Device nope not found"}}"#)
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func latestIsTheGreatestInstantNotTheLastToArrive(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-06-01T00:00:00Z", 1)])
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1), ("2023-06-01T02:00:00.250+02:00", 1)])
            let latest = try await client.get("/devices/d/latest_timestamp")
            #expect(latest.status == .ok)
            #expect(latest.headers[.contentType] == "application/json")
            #expect(latest.text == #"{"latest_timestamp":"2023-06-01T00:00:00.25Z"}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func deviceWithOnlyZeroCountsAnswersZero(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("zero", [("2023-01-01T00:00:00Z", 0), ("2023-01-01T00:00:01Z", 0)])
            let response = try await client.get("/devices/zero/cumulative_count")
            #expect(response.status == .ok)
            #expect(response.text == #"{"cumulative_count":0}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func deviceDataIsAscendingCanonicalAndConsistent(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest(
                "d",
                [
                    ("2023-01-01T01:00:00.500+01:00", 2), ("1969-12-31T23:59:59.999999999Z", 5),
                    ("2262-04-11T23:47:16.854775807Z", 1), ("1677-09-21T00:12:43.145224192Z", 7),
                ])
            let response = try await client.get("/devices/d")
            #expect(response.status == .ok)
            #expect(
                response.text
                    == #"{"data":{"1677-09-21T00:12:43.145224192Z":7,"1969-12-31T23:59:59.999999999Z":5,"2023-01-01T00:00:00.5Z":2,"2262-04-11T23:47:16.854775807Z":1},"latest_timestamp":"2262-04-11T23:47:16.854775807Z","cumulative_count":15}"#
            )
        }
    }

    @Test(arguments: Engine.allCases)
    func fromToAndLimitSelectAndNextPagesThroughEverything(engine: Engine) async throws {
        try await withApp(engine) { client in
            let readings = (0..<25).map { (String(format: "2023-01-01T00:00:%02dZ", $0), UInt64($0)) }
            _ = try await client.ingest("p", readings.shuffled())
            // from inclusive, to exclusive; offsets in the query as %2B or literal +.
            let ranged = try await client.get("/devices/p?from=2023-01-01T01:00:05%2B01:00&to=2023-01-01T01:00:08+01:00")
            #expect(ranged.status == .ok)
            #expect(try ranged.json["data"]?.keys?.sorted() == ["2023-01-01T00:00:05Z", "2023-01-01T00:00:06Z", "2023-01-01T00:00:07Z"])
            #expect(try ranged.json["cumulative_count"]?.int == 300)
            #expect(try ranged.json["next"] == nil)
            // Paging: follow next until it is absent.
            var uri: String? = "/devices/p?limit=10&unknown=ignored"
            var seen: [String] = []
            var pages = 0
            while let current = uri {
                let page = try await client.get(current)
                #expect(page.status == .ok)
                let body = try page.json
                seen += (body["data"]?.keys ?? []).sorted()
                uri = body["next"]?.string
                pages += 1
            }
            #expect(pages == 3)
            #expect(seen == readings.map(\.0))
            // Exactly `limit` matching: no next.
            let exact = try await client.get("/devices/p?from=2023-01-01T00:00:20Z&limit=5")
            #expect(try exact.json["data"]?.keys?.count == 5)
            #expect(try exact.json["next"] == nil)
            // next keeps `to`.
            let bounded = try await client.get("/devices/p?to=2023-01-01T00:00:04Z&limit=2")
            let next = try #require(try bounded.json["next"]?.string)
            let second = try await client.get(next)
            #expect(try second.json["data"]?.keys?.sorted() == ["2023-01-01T00:00:02Z", "2023-01-01T00:00:03Z"])
            #expect(try second.json["next"] == nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func fromNotBeforeToGivesEmptyData(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1)])
            for query in ["from=2023-01-01T00:00:00Z&to=2023-01-01T00:00:00Z", "from=2024-01-01T00:00:00Z&to=2023-01-01T00:00:00Z"] {
                let response = try await client.get("/devices/d?\(query)")
                #expect(response.status == .ok)
                #expect(response.text == #"{"data":{},"latest_timestamp":"2023-01-01T00:00:00Z","cumulative_count":1}"#)
            }
        }
    }

    @Test(
        arguments: Engine.allCases,
        [
            "limit=0", "limit=100001", "limit=abc", "limit=", "limit=-1", "limit=1.5", "limit=10&limit=10",
            "from=yesterday", "from=2023-01-01T00:00:00", "to=2262-04-11T23:47:16.854775808Z", "from=%ZZ",
            "from=2023-01-01T00:00:00Z&from=2023-01-01T00:00:00Z", "to=2023-01-01T00:00:00%2B24:00",
        ])
    func badParameterIs400(engine: Engine, query: String) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1)])
            let response = try await client.get("/devices/d?\(query)")
            #expect(response.status == .badRequest)
            #expect(try response.json["error"]?["code"]?.string == "INVALID_PARAMETER")
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func limitBoundsAreAllowed(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 1), ("2023-01-01T00:00:01Z", 1)])
            let one = try await client.get("/devices/d?limit=1")
            #expect(try one.json["data"]?.keys?.count == 1)
            #expect(try one.json["next"]?.string != nil)
            #expect(try await client.get("/devices/d?limit=100000").status == .ok)
        }
    }

    @Test(
        arguments: Engine.allCases,
        [
            "1234", "with space", "a/b", "café", "cafe\u{301}", "a+b", "  padded  ", "🚀🛰️", "100%", "?#&=",
            String(repeating: "x", count: 128),
        ])
    func idsArePercentDecodedFromPaths(engine: Engine, id: String) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest(id, [("2023-01-01T00:00:00Z", 9)])
            let response = try await client.get("/devices/\(pathSegment(id))/cumulative_count")
            #expect(response.status == .ok)
            #expect(response.text == #"{"cumulative_count":9}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func idsAreComparedScalarByScalarWithoutNormalisation(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("caf\u{E9}", [("2023-01-01T00:00:00Z", 1)])
            _ = try await client.ingest("cafe\u{301}", [("2023-01-01T00:00:00Z", 2)])
            _ = try await client.ingest(" cafe\u{301}", [("2023-01-01T00:00:00Z", 4)])
            #expect(try await client.get("/devices/caf%C3%A9/cumulative_count").text == #"{"cumulative_count":1}"#)
            #expect(try await client.get("/devices/cafe%CC%81/cumulative_count").text == #"{"cumulative_count":2}"#)
            #expect(try await client.get("/devices/%20cafe%CC%81/cumulative_count").text == #"{"cumulative_count":4}"#)
            // `+` in a path is a literal plus, not a space.
            _ = try await client.ingest("a+b", [("2023-01-01T00:00:00Z", 8)])
            #expect(try await client.get("/devices/a+b/cumulative_count").text == #"{"cumulative_count":8}"#)
            #expect(try await client.get("/devices/a%20b/cumulative_count").status == .notFound)
        }
    }

    @Test(arguments: Engine.allCases, ["%", "%zz", "%C3", "%FF"])
    func undecodableIdIs400(engine: Engine, segment: String) async throws {
        try await withApp(engine) { client in
            let response = try await client.get("/devices/\(segment)/latest_timestamp")
            #expect(response.status == .badRequest)
            #expect(try response.json["error"]?["code"]?.string == "INVALID_DEVICE_ID")
            try await client.expectStillServing()
        }
    }
}
