import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ReadingsDomain
import Testing

@testable import ReadingsHTTP

/// `DELETE /devices/{id}`, `GET /devices/{id}/export` and `--retention`'s refusals through HTTP,
/// on every engine.
@Suite struct HousekeepingHTTPTests {
    @Test(arguments: Engine.allCases)
    func deleteAnswers204ThenTheDeviceIsGoneAndStartsAgainFromZero(engine: Engine) async throws {
        try await withApp(engine) { client in
            #expect(try await client.ingest("gone é", [("2024-01-01T00:00:00Z", 3), ("2024-01-01T00:00:01Z", 4)]).status == .accepted)
            #expect(try await client.ingest("stays", [("2024-01-01T00:00:00Z", 1)]).status == .accepted)
            let path = "/devices/" + pathSegment("gone é")
            let deleted = try await client.execute(uri: path, method: .delete)
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            let again = try await client.execute(uri: path, method: .delete)
            #expect(again.status == .notFound)
            #expect(try again.json["error"]?["code"]?.string == "DEVICE_NOT_FOUND")
            for uri in [path, path + "/latest_timestamp", path + "/cumulative_count", path + "/export"] {
                #expect(try await client.get(uri).status == .notFound, "\(uri)")
            }
            let listing = try await client.get("/devices")
            #expect(try listing.json["devices"]?.array?.compactMap { $0["id"]?.string } == ["stays"])
            // The same reading is new again, and the count starts from it.
            let reingest = try await client.ingest("gone é", [("2024-01-01T00:00:00Z", 3)])
            #expect(reingest.status == .accepted)
            #expect(try await client.get(path + "/cumulative_count").text == #"{"cumulative_count":3}"#)
            // A bad id is a 400, and the server still serves.
            let bad = try await client.execute(uri: "/devices/%FF", method: .delete)
            #expect(bad.status == .badRequest)
            #expect(try bad.json["error"]?["code"]?.string == "INVALID_DEVICE_ID")
            #expect(try await client.get("/metrics").text.contains("devices_deleted_total 1\n"))
            try await client.expectStillServing()
        }
    }

    @Test func deletingNeedsAWriteKey() async throws {
        try await withApp(
            .memory,
            configure: {
                $0.apiKeys = ["write-key"]
                $0.readAPIKeys = ["read-key"]
            }
        ) { client in
            let write: HTTPFields = [.authorization: "Bearer write-key", .contentType: "application/json"]
            #expect(try await client.ingest("d", [("2024-01-01T00:00:00Z", 1)], headers: write).status == .accepted)
            #expect(try await client.execute(uri: "/devices/d", method: .delete).status == .unauthorized)
            let read = try await client.execute(uri: "/devices/d", method: .delete, headers: [.authorization: "Bearer read-key"])
            #expect(read.status == .forbidden)
            #expect(try read.json["error"]?["code"]?.string == "FORBIDDEN")
            // The read key still reads, and exports.
            #expect(
                try await client.execute(uri: "/devices/d/export", method: .get, headers: [.authorization: "Bearer read-key"]).status
                    == .ok)
            #expect(try await client.execute(uri: "/devices/d", method: .delete, headers: write).status == .noContent)
        }
    }

    /// More readings than one page of the export, sent newest half first: every one comes out,
    /// once, in time order, in both formats, and `from`/`to` bound it as everywhere else.
    @Test(arguments: Engine.allCases)
    func exportStreamsEveryReadingInTimeOrder(engine: Engine) async throws {
        let n = 40_000
        let base = Int64(1_704_067_200)
        @Sendable func timestamp(_ k: Int) -> String { Instant(nanoseconds: (base + Int64(k)) * 1_000_000_000).canonical }
        try await withApp(engine) { client in
            for range in [n / 2..<n, 0..<n / 2] {
                let status = try await client.ingest("exported", range.map { (timestamp($0), UInt64($0 % 5)) }).status
                #expect(status == .accepted)
            }
            let csv = try await client.get("/devices/exported/export")
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition] == "attachment; filename=\"readings.csv\"; filename*=UTF-8''exported.csv")
            #expect(csv.text == "timestamp,count\n" + (0..<n).map { "\(timestamp($0)),\($0 % 5)\n" }.joined())
            let ndjson = try await client.get("/devices/exported/export?format=ndjson&from=\(timestamp(100))&to=\(timestamp(103))")
            #expect(ndjson.headers[.contentType] == "application/x-ndjson")
            #expect(
                ndjson.text
                    == (100..<103).map { #"{"timestamp":"\#(timestamp($0))","count":\#($0 % 5)}"# + "\n" }.joined())
            // Empty ranges: the header alone.
            #expect(try await client.get("/devices/exported/export?from=\(timestamp(5))&to=\(timestamp(5))").text == "timestamp,count\n")
            for (uri, code) in [
                ("/devices/exported/export?format=xml", "INVALID_PARAMETER"),
                ("/devices/exported/export?from=yesterday", "INVALID_PARAMETER"),
                ("/devices/%FF/export", "INVALID_DEVICE_ID"),
            ] {
                let refused = try await client.get(uri)
                #expect(refused.status == .badRequest, "\(uri)")
                #expect(try refused.json["error"]?["code"]?.string == code, "\(uri)")
            }
            let unknown = try await client.get("/devices/nobody/export")
            #expect(unknown.status == .notFound)
            #expect(try unknown.json["error"]?["code"]?.string == "DEVICE_NOT_FOUND")
            try await client.expectStillServing()
        }
    }

    /// With a retention, a reading older than it is refused per reading (422 READING_TOO_OLD,
    /// neither stored nor counted); the others of the batch are decided as usual.
    @Test(arguments: Engine.allCases)
    func readingsOlderThanTheRetentionAreRefusedPerReading(engine: Engine) async throws {
        let now = Instant.now().nanoseconds
        @Sendable func ago(_ seconds: Int64) -> String { Instant(nanoseconds: now - seconds * 1_000_000_000).canonical }
        try await withApp(engine, configure: { $0.retention = Retention(nanoseconds: 3_600_000_000_000) }) { client in
            let response = try await client.ingest("kept-an-hour", [(ago(7200), 5), (ago(600), 2), (ago(600), 2)])
            #expect(response.status.code == 207)
            let results = try #require(try response.json["results"]?.array)
            #expect(results.map { $0["status"]?.int } == [422, 202, 409])
            #expect(results[0]["code"]?.string == "READING_TOO_OLD")
            #expect(try response.json["rejected"]?.int == 1)
            #expect(try await client.get("/devices/kept-an-hour/cumulative_count").text == #"{"cumulative_count":2}"#)
            // A device whose every reading is too old is not created.
            #expect(try await client.ingest("too-late", [(ago(7200), 1)]).status.code == 207)
            #expect(try await client.get("/devices/too-late").status == .notFound)
            try await client.expectStillServing()
        }
    }

    /// `--retention 10s`: readings of now are accepted (with room to spare on a loaded machine),
    /// then removed in the background
    /// (`readings_expired_total`), while the device keeps its latest timestamp and cumulative count
    /// with no reading left, and a late copy of a removed reading is refused, not counted again.
    @Test(arguments: Engine.allCases)
    func readingsExpireInTheBackgroundAndCountsStay(engine: Engine) async throws {
        try await withApp(engine, configure: { $0.retention = Retention(nanoseconds: 10_000_000_000) }) { client in
            let now = Instant.now().nanoseconds
            let stamps = (1...3).map { Instant(nanoseconds: now - Int64($0) * 1_000_000).canonical }
            #expect(try await client.ingest("brief", stamps.map { ($0, 4) }).status == .accepted)
            let deadline = ContinuousClock.now + .seconds(90)
            while try await !client.get("/metrics").text.contains("readings_expired_total 3\n") {
                try #require(ContinuousClock.now < deadline, "the readings did not expire")
                try await Task.sleep(for: .milliseconds(50))
            }
            let page = try await client.get("/devices/brief")
            #expect(try page.json["data"]?.keys == [])
            #expect(try page.json["cumulative_count"]?.int == 12)
            #expect(try page.json["latest_timestamp"]?.string == stamps[0])
            let listing = try await client.get("/devices?prefix=brief")
            #expect(try listing.json["devices"]?[0]?["readings"]?.int == 0)
            #expect(try await client.get("/devices/brief/export").text == "timestamp,count\n")
            let late = try await client.ingest("brief", [(stamps[0], 4)])
            #expect(try late.json["results"]?[0]?["code"]?.string == "READING_TOO_OLD")
            #expect(try await client.get("/devices/brief/cumulative_count").text == #"{"cumulative_count":12}"#)
        }
    }
}
