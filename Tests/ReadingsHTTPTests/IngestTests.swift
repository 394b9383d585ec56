import HTTPTypes
import HummingbirdTesting
import Testing

/// `POST /ingest` results: per-reading statuses, codes, messages, totals, echoes and
/// `Prefer: return=minimal`.
@Suite struct IngestTests {
    @Test(arguments: Engine.allCases)
    func allAcceptedIs202WithOneResultPerReading(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(
                "1234", [("2023-01-01T00:00:00Z", 3), ("2023-01-01T00:01:00Z", 4)])
            #expect(response.status == .accepted)
            #expect(response.headers[.contentType] == "application/json")
            let body = try response.json
            #expect(body["accepted"]?.int == 2)
            #expect(body["duplicates"]?.int == 0)
            #expect(body["rejected"]?.int == 0)
            let first = try #require(body["results"]?[0])
            #expect(first["index"]?.int == 0)
            #expect(first["id"]?.string == "1234")
            #expect(first["timestamp"]?.string == "2023-01-01T00:00:00Z")
            #expect(first["status"]?.int == 202)
            #expect(first["success"]?.bool == true)
            #expect(first["code"] == nil)
            #expect(body["results"]?[1]?["index"]?.int == 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func sameInstantSpelledDifferentlyIsADuplicate(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 3)])
            let response = try await client.ingest(
                "d",
                [
                    ("2023-01-01T01:00:00+01:00", 3), ("2023-01-01T00:00:00.000Z", 3), ("2023-01-01 00:00:00z", 3),
                    ("2022-12-31T19:00:00-0500", 3), ("2023-01-01T00:00:00-00:00", 3),
                ])
            #expect(response.status == .init(code: 207))
            let body = try response.json
            #expect(body["accepted"]?.int == 0)
            #expect(body["duplicates"]?.int == 5)
            let first = try #require(body["results"]?[0])
            #expect(first["status"]?.int == 409)
            #expect(first["success"]?.bool == false)
            #expect(first["code"]?.string == "DUPLICATE_READING")
            #expect(first["timestamp"]?.string == "2023-01-01T01:00:00+01:00")
            #expect(
                first["error"]?.string
                    == "A reading for device d at 2023-01-01T01:00:00+01:00 has already been recorded. Duplicates are not allowed.")
            let count = try await client.get("/devices/d/cumulative_count")
            #expect(try count.json["cumulative_count"]?.int == 3)
        }
    }

    @Test(arguments: Engine.allCases)
    func duplicateWithinOneBatchIsCountedOnce(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(
                "d", [("2023-01-01T00:00:00Z", 3), ("2023-01-01T00:00:01Z", 1), ("2023-01-01T00:00:00Z", 3)])
            let body = try response.json
            #expect(response.status == .init(code: 207))
            #expect(body["accepted"]?.int == 2)
            #expect(body["duplicates"]?.int == 1)
            #expect(body["results"]?[2]?["code"]?.string == "DUPLICATE_READING")
            #expect(try await client.get("/devices/d/cumulative_count").json["cumulative_count"]?.int == 4)
        }
    }

    @Test(arguments: Engine.allCases)
    func differentCountAtSameInstantConflictsAndFirstStays(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 3)])
            let response = try await client.ingest("d", [("2023-01-01T00:00:00Z", 5)])
            let result = try #require(try response.json["results"]?[0])
            #expect(response.status == .init(code: 207))
            #expect(try response.json["duplicates"]?.int == 1)
            #expect(result["status"]?.int == 409)
            #expect(result["code"]?.string == "CONFLICTING_READING")
            let message = try #require(result["error"]?.string)
            #expect(message.contains("count 3") && message.contains("count 5"))
            #expect(try await client.get("/devices/d/cumulative_count").json["cumulative_count"]?.int == 3)
        }
    }

    @Test(arguments: Engine.allCases)
    func eachInvalidReadingGetsItsCodeAndTheRestProceed(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(
                """
                {"id": "d", "readings": [
                  {"timestamp": "2023-01-01T00:00:00Z", "count": 1},
                  42,
                  {"count": 1},
                  {"timestamp": 5, "count": 1},
                  {"timestamp": "2023-01-01T00:00:00", "count": 1},
                  {"timestamp": "2023-01-01T00:00:00.1234567891Z", "count": 1},
                  {"timestamp": "2023-01-01T00:00:60Z", "count": 1},
                  {"timestamp": "2023-02-30T00:00:00Z", "count": 1},
                  {"timestamp": "2262-04-11T23:47:16.854775808Z", "count": 1},
                  {"timestamp": "2023-01-01T00:00:02Z"},
                  {"timestamp": "2023-01-01T00:00:03Z", "count": -1},
                  {"timestamp": "2023-01-01T00:00:04Z", "count": "3"},
                  {"timestamp": "2023-01-01T00:00:05Z", "count": true},
                  {"timestamp": "2023-01-01T00:00:06Z", "count": null},
                  {"timestamp": "2023-01-01T00:00:07Z", "count": 3.5},
                  {"timestamp": "2023-01-01T00:00:08Z", "count": 3.0000000000000001},
                  {"timestamp": "2023-01-01T00:00:09Z", "count": 1e-400},
                  {"timestamp": "2023-01-01T00:00:10Z", "count": 1e400},
                  {"timestamp": "2023-01-01T00:00:11Z", "count": 1000000000000000000000000000000},
                  {"timestamp": "2023-01-01T00:00:12Z", "count": 9007199254740992},
                  {"timestamp": "bad", "count": "bad"},
                  {"timestamp": "2023-01-01T00:00:13Z", "count": 3.0},
                  {"timestamp": "2023-01-01T00:00:14Z", "count": 3e0},
                  {"timestamp": "2023-01-01T00:00:15Z", "count": -0},
                  {"timestamp": "2023-01-01T00:00:16Z", "count": 9007199254740991}
                ]}
                """)
            #expect(response.status == .init(code: 207))
            let body = try response.json
            let results = try #require(body["results"]?.array)
            let codes = results.map { $0["code"]?.string ?? "ok" }
            #expect(
                codes == [
                    "ok", "INVALID_READING", "INVALID_TIMESTAMP", "INVALID_TIMESTAMP", "INVALID_TIMESTAMP",
                    "INVALID_TIMESTAMP", "INVALID_TIMESTAMP", "INVALID_TIMESTAMP", "INVALID_TIMESTAMP",
                    "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT",
                    "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT",
                    "INVALID_COUNT", "INVALID_TIMESTAMP", "ok", "ok", "ok", "ok",
                ])
            #expect(results.allSatisfy { ($0["status"]?.int == 202) == ($0["code"] == nil) })
            #expect(results.filter { $0["code"] != nil }.allSatisfy { $0["status"]?.int == 422 && $0["error"]?.string?.isEmpty == false })
            #expect(body["accepted"]?.int == 5)
            #expect(body["rejected"]?.int == 20)
            #expect(body["duplicates"]?.int == 0)
            // Timestamps are echoed when they were strings, omitted otherwise.
            #expect(results[1]["timestamp"] == nil)
            #expect(results[2]["timestamp"] == nil)
            #expect(results[3]["timestamp"] == nil)
            #expect(results[4]["timestamp"]?.string == "2023-01-01T00:00:00")
            #expect(results[4]["error"]?.string?.contains("offset") == true)
            #expect(results[20]["timestamp"]?.string == "bad")
            let sum = try await client.get("/devices/d/cumulative_count")
            #expect(sum.text == "{\"cumulative_count\":\(1 + 3 + 3 + 0 + 9_007_199_254_740_991)}")
        }
    }

    @Test(arguments: Engine.allCases)
    func cumulativeCountIsExactUpTo2To63AndOverflowIsRefused(engine: Engine) async throws {
        try await withApp(engine) { client in
            let max = UInt64(9_007_199_254_740_991)
            // 1024 readings of 2^53-1 sum to 2^63 - 1024: below the limit.
            let readings = (0..<1024).map { ("2023-01-01T00:00:00.\(String(format: "%04d", $0))Z", max) }
            let first = try await client.ingest("big", readings)
            #expect(first.status == .accepted)
            let response = try await client.ingest(
                "big", [("2024-01-01T00:00:00Z", 1023), ("2024-01-01T00:00:01Z", 2), ("2024-01-01T00:00:02Z", 0)])
            let body = try response.json
            #expect(response.status == .init(code: 207))
            #expect(body["results"]?[0]?["status"]?.int == 202)
            #expect(body["results"]?[1]?["status"]?.int == 422)
            #expect(body["results"]?[1]?["code"]?.string == "COUNT_OVERFLOW")
            #expect(body["results"]?[2]?["status"]?.int == 202)
            #expect(body["rejected"]?.int == 1)
            let count = try await client.get("/devices/big/cumulative_count")
            #expect(count.text == "{\"cumulative_count\":9223372036854775807}")
        }
    }

    @Test(arguments: Engine.allCases)
    func duplicateCheckComesBeforeOverflow(engine: Engine) async throws {
        try await withApp(engine) { client in
            let max = UInt64(9_007_199_254_740_991)
            let readings = (0..<1024).map { ("2023-01-01T00:00:00.\(String(format: "%04d", $0))Z", max) }
            _ = try await client.ingest("big", readings)
            _ = try await client.ingest("big", [("2024-01-01T00:00:00Z", 1023)])
            let response = try await client.ingest("big", [("2023-01-01T00:00:00.0000Z", max), ("2023-01-01T00:00:00.0001Z", 5)])
            let results = try #require(try response.json["results"]?.array)
            #expect(results.map { $0["code"]?.string } == ["DUPLICATE_READING", "CONFLICTING_READING"])
        }
    }

    @Test(arguments: Engine.allCases)
    func returnMinimalListsOnlyTheReadingsNotAccepted(engine: Engine) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("d", [("2023-01-01T00:00:00Z", 3)])
            let preferences = [
                "return=minimal", "RETURN=Minimal", "respond-async, return=minimal", "return = \"minimal\"; x=y", "wait=10,return=minimal",
            ]
            for (second, prefer) in preferences.enumerated() {
                var headers = jsonHeaders
                headers[.init("Prefer")!] = prefer
                let response = try await client.ingest(
                    "d", [("2023-01-01T00:00:00Z", 3), ("2023-01-01T00:00:0\(second + 1)Z", 1)], headers: headers)
                #expect(response.headers[.init("Preference-Applied")!] == "return=minimal", "\(prefer)")
                let body = try response.json
                #expect(body["accepted"]?.int == 1)
                #expect(body["duplicates"]?.int == 1)
                let results = try #require(body["results"]?.array)
                #expect(results.count == 1)
                #expect(results.first?["index"]?.int == 0)
            }
            var headers = jsonHeaders
            headers[.init("Prefer")!] = "return=representation"
            let full = try await client.ingest("d", [("2023-01-01T00:00:00Z", 3)], headers: headers)
            #expect(full.headers[.init("Preference-Applied")!] == nil)
            #expect(try full.json["results"]?.array?.count == 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func minimalWithEverythingAcceptedHasEmptyResults(engine: Engine) async throws {
        try await withApp(engine) { client in
            var headers = jsonHeaders
            headers[.init("Prefer")!] = "return=minimal"
            let response = try await client.ingest("d", [("2023-01-01T00:00:00Z", 3)], headers: headers)
            #expect(response.status == .accepted)
            #expect(response.text == "{\"accepted\":1,\"duplicates\":0,\"rejected\":0,\"results\":[]}")
        }
    }

    @Test(arguments: Engine.allCases)
    func noneAcceptedIsStill207(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(#"{"id":"d","readings":[{"timestamp":"x","count":1}]}"#)
            #expect(response.status == .init(code: 207))
            #expect(try await client.get("/devices/d").status == .notFound)
        }
    }

    @Test(arguments: Engine.allCases)
    func idAndTimestampAreEchoedAsSent(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(
                #"{"readings":[{"count":1,"timestamp":"2023-01-01t00:00:00.10z","extra":[1,{"a":null}]}],"id":" caf\u00e9 \"x\" ","meta":{}}"#
            )
            #expect(response.status == .accepted)
            let result = try #require(try response.json["results"]?[0])
            #expect(result["id"]?.string == " café \"x\" ")
            #expect(result["timestamp"]?.string == "2023-01-01t00:00:00.10z")
            let latest = try await client.get("/devices/\(pathSegment(" café \"x\" "))/latest_timestamp")
            #expect(latest.text == "{\"latest_timestamp\":\"2023-01-01T00:00:00.1Z\"}")
        }
    }

    @Test(arguments: Engine.allCases)
    func contentTypesThatAreJSONOrAbsentAreAccepted(engine: Engine) async throws {
        try await withApp(engine) { client in
            for contentType in [
                "application/json", "APPLICATION/JSON", "application/json; charset=utf-8", "application/vnd.readings+json", nil,
            ] {
                var headers: HTTPFields = [:]
                if let contentType { headers[.contentType] = contentType }
                let response = try await client.ingest(
                    "ct-\(contentType ?? "none")", [("2023-01-01T00:00:00Z", 1)], headers: headers)
                #expect(response.status == .accepted, "\(contentType ?? "none")")
            }
        }
    }
}
