import Foundation
import Testing

/// `device-readings bench` against a real server process: it sends what it says, the server
/// counts it exactly, and the tool's own verification passes; against nothing it fails cleanly.
@Suite(.serialized) struct BenchCommandTests {
    @Test func benchSendsMessyLoadAndVerifiesIt() async throws {
        let server = try ServerProcess()
        try await server.waitUntilServing()
        let result = try ServerProcess.run([
            "bench", "--url", "http://127.0.0.1:\(server.port)", "--devices", "20", "--readings", "200",
            "--batch", "50", "--concurrency", "4", "--duplicates", "5", "--out-of-order", "10", "--id-prefix", "t-",
        ])
        #expect(result.status == 0)
        let summary = try BenchCommandTests.summary(result.output)
        #expect(summary["order"] as? String == "in")
        #expect(summary["accepted"] as? Int == 4000)
        #expect(summary["duplicates"] as? Int == 200)
        #expect(summary["verified"] as? Bool == true)
        // Memory per reading, from the server's /metrics (its store's growth during the run).
        let bytesPerReading = try #require(summary["bytes_per_reading"] as? Double)
        #expect(bytesPerReading > 0 && bytesPerReading < 1_000)
        // The server agrees independently of the tool.
        let (status, body) = try await server.request("GET", "/devices/t-0/cumulative_count")
        #expect(status == 200)
        #expect(body.hasPrefix(#"{"cumulative_count":"#))
        #expect(try await server.stop() == 0)
    }

    /// Shuffled and reversed histories, and late readings, with repeats: the server ends up holding
    /// every reading once, the repeats are answered as duplicates, and verification passes.
    @Test(arguments: ["shuffled", "reversed", "late"])
    func benchSendsEachOrderAndVerifiesIt(order: String) async throws {
        let server = try ServerProcess()
        try await server.waitUntilServing()
        // 9 devices over 2 connections: connection 0 owns 5, more than it keeps in flight.
        let result = try ServerProcess.run([
            "bench", "--url", "http://127.0.0.1:\(server.port)", "--devices", "9", "--readings", "300",
            "--batch", "40", "--concurrency", "2", "--duplicates", "10", "--order", order, "--id-prefix", "\(order)-",
        ])
        #expect(result.status == 0, "\(result.output)")
        let summary = try BenchCommandTests.summary(result.output)
        #expect(summary["order"] as? String == order)
        #expect(summary["out_of_order_percent"] as? Double == (order == "late" ? 10 : 0))
        #expect(summary["accepted"] as? Int == 9 * 300)
        #expect(summary["duplicates"] as? Int == 9 * 30)
        #expect(summary["requests"] as? Int == 9 * 9)
        #expect(summary["verified"] as? Bool == true)
        #expect(summary["verified_devices"] as? Int == 9)
        // Whatever the order, the newest reading (number 299, 299 minutes in) is the latest.
        let (status, body) = try await server.request("GET", "/devices/\(order)-4/latest_timestamp")
        #expect(status == 200)
        #expect(body.contains(#""latest_timestamp":"2024-01-01T04:59:"#), "\(body)")
        #expect(try await server.stop() == 0)
    }

    /// `--generate-only` builds the requests a run would send, needs no server, and says how fast.
    @Test func benchGenerateOnlyMeasuresTheGenerator() throws {
        let result = try ServerProcess.run([
            "bench", "--generate-only", "--url", "http://127.0.0.1:\(ServerProcess.freePort())", "--devices", "3",
            "--readings", "1000", "--batch", "100", "--order", "shuffled", "--duplicates", "10",
        ])
        #expect(result.status == 0, "\(result.output)")
        let summary = try BenchCommandTests.summary(result.output)
        #expect(summary["generate_only"] as? Bool == true)
        #expect(summary["order"] as? String == "shuffled")
        #expect(summary["readings"] as? Int == 3 * 1100)
        #expect(summary["requests"] as? Int == 3 * 11)
        #expect((summary["readings_per_second"] as? Double ?? 0) > 0)
    }

    @Test(arguments: [
        ["--order", "shuffled", "--out-of-order", "5"], ["--order", "reversed", "--out-of-order", "1"],
        ["--order", "late", "--out-of-order", "0"], ["--order", "sideways"], ["--readings", "100000001"],
    ])
    func benchRejectsFlagsThatDoNotFit(arguments: [String]) throws {
        let result = try ServerProcess.run(["bench", "--url", "http://127.0.0.1:\(ServerProcess.freePort())"] + arguments)
        #expect(result.status == 64, "\(result.output)")
    }

    @Test func benchAgainstNothingFailsWithAMessage() throws {
        let result = try ServerProcess.run([
            "bench", "--url", "http://127.0.0.1:\(ServerProcess.freePort())", "--devices", "1", "--readings", "1",
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("refused"))
    }

    /// The JSON line a bench run ends with.
    static func summary(_ output: String) throws -> [String: Any] {
        let json = try #require(output.split(separator: "\n").last(where: { $0.hasPrefix("{") }))
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
}
