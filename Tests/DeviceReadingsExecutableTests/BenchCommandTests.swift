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
        let json = try #require(result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
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

    @Test func benchAgainstNothingFailsWithAMessage() throws {
        let result = try ServerProcess.run(["bench", "--url", "http://127.0.0.1:\(ServerProcess.freePort())", "--devices", "1", "--readings", "1"])
        #expect(result.status == 1)
        #expect(result.output.contains("refused"))
    }
}
