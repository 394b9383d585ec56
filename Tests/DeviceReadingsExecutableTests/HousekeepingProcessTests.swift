import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fleet housekeeping on the real binary: an export streamed in chunks (pipelined requests wait
/// for it; HTTP/1.0 gets it up to the close; a client leaving mid-way costs nothing), a delete
/// that survives `kill -9`, and readings expiring in the background under `--retention`.
@Suite struct HousekeepingProcessTests {
    /// `n` readings of `id`, one a second from 2024-01-01, count `k % 7`, as one ingest body.
    static func body(_ id: String, _ range: Range<Int>) -> String {
        let readings = range.map { k in #"{"timestamp":"\#(timestamp(k))","count":\#(k % 7)}"# }
        return #"{"id":"\#(id)","readings":[\#(readings.joined(separator: ","))]}"#
    }

    static func timestamp(_ k: Int) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: 1_704_067_200 + Double(k)))
    }

    @Test func anExportIsChunkedAndThePipelinedRequestsBehindItWait() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let n = 40_000
        // Newest half first: the export still comes out in time order.
        for range in [n / 2..<n, 0..<n / 2] {
            #expect(try await server.request("POST", "/ingest", body: Self.body("big", range)).0 == 202)
        }
        let connection = try server.connect()
        connection.send(
            Array(
                "GET /devices/big/export HTTP/1.1\r\nHost: x\r\n\r\nGET /devices/big/export?format=ndjson&from=2024-01-01T00:00:10Z&to=2024-01-01T00:00:12Z HTTP/1.1\r\nHost: x\r\n\r\nGET /devices/big/cumulative_count HTTP/1.1\r\nHost: x\r\n\r\n"
                    .utf8))
        var reader = ResponseReader(connection)
        let csv = try reader.next()
        #expect(csv.status == 200)
        #expect(csv.header("transfer-encoding") == "chunked")
        #expect(csv.header("content-type") == "text/csv; charset=utf-8")
        #expect(csv.header("content-disposition") == "attachment; filename=\"readings.csv\"; filename*=UTF-8''big.csv")
        let lines = csv.body.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "timestamp,count")
        #expect(lines.count == n + 2)
        #expect(lines.last == "")
        let expected = ["timestamp,count"] + (0..<n).map { "\(Self.timestamp($0)),\($0 % 7)" } + [""]
        #expect(lines.map(String.init) == expected)
        let ndjson = try reader.next()
        #expect(ndjson.header("content-type") == "application/x-ndjson")
        #expect(
            ndjson.body == #"{"timestamp":"2024-01-01T00:00:10Z","count":3}"# + "\n" + #"{"timestamp":"2024-01-01T00:00:11Z","count":4}"#
                + "\n")
        let count = try reader.next()
        #expect(count.body == #"{"cumulative_count":\#((0..<n).reduce(0) { $0 + $1 % 7 })}"#)
        #expect(try await server.stop() == 0)
    }

    @Test func http10GetsTheExportUpToTheCloseAndALeavingClientCostsNothing() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        #expect(try await server.request("POST", "/ingest", body: Self.body("old-client", 0..<50_000)).0 == 202)
        let old = try server.connect()
        old.send(Array("GET /devices/old-client/export HTTP/1.0\r\n\r\n".utf8))
        var reader = ResponseReader(old)
        let answer = try reader.next()
        #expect(answer.header("transfer-encoding") == nil)
        #expect(answer.header("connection")?.lowercased() == "close")
        #expect(answer.body.split(separator: "\n").count == 50_001)
        // A client that asks for an export and leaves after the head: the server goes on serving.
        for _ in 0..<5 {
            let leaving = try server.connect()
            leaving.send(Array("GET /devices/old-client/export HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            var partial = ResponseReader(leaving)
            try partial.fill()
            shutdown(leaving.fd, Int32(SHUT_RDWR))
        }
        #expect(try await server.request("GET", "/devices/old-client/cumulative_count").0 == 200)
        #expect(try await server.stop() == 0)
    }

    /// The goal's "DELETE then kill -9, restart": under `--sync always` the 204 is durable, and the
    /// device's old readings do not come back; a new ingest of the same id starts from zero.
    @Test func aDeleteSurvivesKillNine() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["--data-dir", directory.path, "--sync", "always"]
        let first = try ServerProcess(arguments: arguments)
        defer { _ = try? first.process.terminate() }
        try await first.waitUntilServing()
        #expect(try await first.request("POST", "/ingest", body: Self.body("doomed", 0..<1000)).0 == 202)
        #expect(try await first.request("POST", "/ingest", body: Self.body("kept", 0..<10)).0 == 202)
        #expect(try await first.request("DELETE", "/devices/doomed").0 == 204)
        _ = try await first.stop(signal: SIGKILL)
        let second = try ServerProcess(arguments: arguments)
        defer { _ = try? second.process.terminate() }
        try await second.waitUntilServing()
        #expect(try await second.request("GET", "/devices/doomed").0 == 404)
        #expect(try await second.request("GET", "/devices/kept/cumulative_count").1 == #"{"cumulative_count":24}"#)
        #expect(try await second.request("POST", "/ingest", body: Self.body("doomed", 5..<6)).0 == 202)
        #expect(try await second.request("GET", "/devices/doomed/cumulative_count").1 == #"{"cumulative_count":5}"#)
        #expect(try await second.stop() == 0)
    }

    /// `--retention 3s`: readings a second old are accepted, expire in the background (counted in
    /// `readings_expired_total`), and leave the device's summary; older ones are refused at once.
    @Test func readingsExpireInTheBackground() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess(arguments: ["--retention", "3s", "--data-dir", directory.path])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions.insert(.withFractionalSeconds)
        let now = Date()
        let fresh = (1...5).map { formatter.string(from: now.addingTimeInterval(-Double($0) / 10)) }
        let stale = formatter.string(from: now.addingTimeInterval(-60))
        let readings = fresh.map { #"{"timestamp":"\#($0)","count":2}"# } + [#"{"timestamp":"\#(stale)","count":9}"#]
        let (status, answer) = try await server.request(
            "POST", "/ingest", body: #"{"id":"brief","readings":[\#(readings.joined(separator: ","))]}"#)
        #expect(status == 207)
        #expect(answer.contains(#""status":422,"success":false,"code":"READING_TOO_OLD""#))
        let deadline = ContinuousClock.now + .seconds(30)
        while try await server.request("GET", "/metrics").1.contains("readings_expired_total 5") == false {
            try #require(ContinuousClock.now < deadline, "the readings did not expire")
            try await Task.sleep(for: .milliseconds(100))
        }
        let (_, listing) = try await server.request("GET", "/devices")
        #expect(listing.contains(#""cumulative_count":10,"readings":0"#), "\(listing)")
        #expect(try await server.request("GET", "/devices/brief/export").1.hasSuffix("timestamp,count\n\r\n0\r\n\r\n"))
        // After a restart the device is still there, without readings.
        #expect(try await server.stop() == 0)
        let again = try ServerProcess(arguments: ["--data-dir", directory.path])
        defer { _ = try? again.process.terminate() }
        try await again.waitUntilServing()
        #expect(try await again.request("GET", "/devices").1.contains(#""cumulative_count":10,"readings":0"#))
        #expect(try await again.stop() == 0)
    }
}
