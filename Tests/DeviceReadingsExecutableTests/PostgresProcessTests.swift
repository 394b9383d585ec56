import Foundation
import ReadingsDomain
import Testing

/// The PostgreSQL engine as operators run it: real server processes on a real PostgreSQL.
/// Runs where PostgreSQL is installed (`make test` and `.ci/run` see to that).
@Suite(.serialized, .enabled(if: TestCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresProcessTests {
    @Test func twoInstancesOnOneDatabaseStoreEachInstantOnce() async throws {
        let cluster = try TestCluster()
        defer { cluster.destroy() }
        let first = try ServerProcess(arguments: ["--postgres-url", cluster.url, "--log-level", "warning"])
        let second = try ServerProcess(arguments: ["--postgres-url", cluster.url, "--log-level", "warning"])
        try await waitForReady(first)
        try await waitForReady(second)
        let servers = [first, second]
        let instants = 300
        // Eight clients, each sending every instant of the same device in its own order and
        // batch sizes, alternating between the two instances.
        let accepted = try await withThrowingTaskGroup(of: [Int: Int].self) { group in
            for client in 0..<8 {
                group.addTask {
                    var generator = SplitMix64(seed: UInt64(client))
                    let order = (0..<instants).shuffled(using: &generator)
                    var acceptedHere: [Int: Int] = [:]
                    var start = 0
                    var request = 0
                    while start < order.count {
                        let size = Int.random(in: 1...40, using: &generator)
                        let batch = Array(order[start..<min(start + size, order.count)])
                        start += size
                        request += 1
                        let body =
                            #"{"id":"shared","readings":["#
                            + batch.map { #"{"timestamp":"\#(instantSpelling($0, client))","count":\#($0 % 5)}"# }.joined(separator: ",")
                            + "]}"
                        let (head, text) = try servers[(client + request) % 2].exchange("POST", "/ingest", body: body)
                        #expect(head.hasPrefix("HTTP/1.1 202") || head.hasPrefix("HTTP/1.1 207"), "\(head)")
                        let results =
                            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])["results"]
                            as? [[String: Any]]
                        for (k, result) in (results ?? []).enumerated() where result["status"] as? Int == 202 {
                            acceptedHere[batch[k], default: 0] += 1
                        }
                    }
                    return acceptedHere
                }
            }
            var total: [Int: Int] = [:]
            for try await partial in group { total.merge(partial, uniquingKeysWith: +) }
            return total
        }
        #expect(accepted.count == instants)
        #expect(accepted.values.allSatisfy { $0 == 1 }, "an instant was accepted twice")
        let expected = (0..<instants).reduce(0) { $0 + $1 % 5 }
        for server in servers {
            let (status, body) = try await server.request("GET", "/devices/shared/cumulative_count")
            #expect(status == 200)
            #expect(body == #"{"cumulative_count":\#(expected)}"#)
        }
        #expect(try await first.stop() == 0)
        #expect(try await second.stop() == 0)
    }

    @Test func databaseOutageGives503AndTheServerRecoversWithoutARestart() async throws {
        let cluster = try TestCluster()
        defer { cluster.destroy() }
        let server = try ServerProcess(arguments: ["--postgres-url", cluster.url, "--log-level", "warning"])
        try await waitForReady(server)
        let before = #"{"id":"outage","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":2}]}"#
        #expect(try server.exchange("POST", "/ingest", body: before).head.hasPrefix("HTTP/1.1 202"))

        try cluster.stop()
        let during = #"{"id":"outage","readings":[{"timestamp":"2024-01-01T00:00:01Z","count":5}]}"#
        let (head, text) = try server.exchange("POST", "/ingest", body: during)
        #expect(head.hasPrefix("HTTP/1.1 503"))
        #expect(head.lowercased().contains("retry-after:"))
        #expect(text.contains(#""code":"UNAVAILABLE""#))
        try await waitForStatus(server, "/ready", 503)
        #expect(try await server.request("GET", "/health").0 == 200)

        try cluster.start()
        try await waitForStatus(server, "/ready", 200)
        let after = #"{"id":"outage","readings":[{"timestamp":"2024-01-01T00:00:02Z","count":7}]}"#
        #expect(try server.exchange("POST", "/ingest", body: after).head.hasPrefix("HTTP/1.1 202"))
        // The reading answered 503 was not stored; the others were.
        let (_, device) = try await server.request("GET", "/devices/outage")
        #expect(
            device
                == #"{"data":{"2024-01-01T00:00:00Z":2,"2024-01-01T00:00:02Z":7},"latest_timestamp":"2024-01-01T00:00:02Z","cumulative_count":9}"#
        )
        #expect(try await server.stop() == 0)
    }

    /// The goal's "DELETE then kill -9, restart" on PostgreSQL: the 204 is a committed
    /// transaction, so the device stays gone for a new instance; a new ingest starts from zero.
    @Test func aDeleteSurvivesKillNineOfTheInstance() async throws {
        let cluster = try TestCluster()
        defer { cluster.destroy() }
        let arguments = ["--postgres-url", cluster.url, "--log-level", "warning"]
        let first = try ServerProcess(arguments: arguments)
        defer { _ = try? first.process.terminate() }
        try await waitForReady(first)
        #expect(try await first.request("POST", "/ingest", body: HousekeepingProcessTests.body("doomed", 0..<1000)).0 == 202)
        #expect(try await first.request("DELETE", "/devices/doomed").0 == 204)
        _ = try await first.stop(signal: SIGKILL)
        let second = try ServerProcess(arguments: arguments)
        defer { _ = try? second.process.terminate() }
        try await waitForReady(second)
        #expect(try await second.request("GET", "/devices/doomed").0 == 404)
        #expect(try await second.request("POST", "/ingest", body: HousekeepingProcessTests.body("doomed", 5..<6)).0 == 202)
        #expect(try await second.request("GET", "/devices/doomed/cumulative_count").1 == #"{"cumulative_count":5}"#)
        #expect(try await second.stop() == 0)
    }
}

/// The same instant spelled three ways (UTC, +02:00, -0300).
private func instantSpelling(_ index: Int, _ variant: Int) -> String {
    let minute = index / 60
    let second = index % 60
    switch variant % 3 {
    case 0: return String(format: "2024-03-01T00:%02d:%02dZ", minute, second)
    case 1: return String(format: "2024-03-01T02:%02d:%02d+02:00", minute, second)
    default: return String(format: "2024-02-29T21:%02d:%02d-0300", minute, second)
    }
}

private func waitForReady(_ server: ServerProcess) async throws {
    try await server.waitUntilServing()
    try await waitForStatus(server, "/ready", 200)
}

/// Polls `path` until it answers `status` (bounded).
private func waitForStatus(_ server: ServerProcess, _ path: String, _ status: Int, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await server.request("GET", path).0 != status {
        try #require(ContinuousClock.now < deadline, "\(path) did not answer \(status) within \(timeout)")
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// A throwaway PostgreSQL cluster on a loopback port that a test can stop and start.
final class TestCluster: Sendable {
    let directory: String
    let port: Int
    let bin: String

    /// The folder of `initdb` and `pg_ctl`, if PostgreSQL is installed.
    static let binaries: String? = (12...30).reversed().lazy
        .map { "/usr/lib/postgresql/\($0)/bin" }
        .first { access("\($0)/initdb", X_OK) == 0 }

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    init() throws {
        bin = try #require(TestCluster.binaries)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try ServerProcess.runTool("/bin/chown", ["postgres", directory])
        try runPostgresTool("initdb", bin: bin, ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "--no-locale"])
        // A port free a moment ago may be taken by another test's server meanwhile: a start
        // that fails is tried again on another port.
        var chosen = 0
        for attempt in 1...3 {
            chosen = ServerProcess.freePort()
            do {
                try TestCluster.start(directory: directory, port: chosen, bin: bin)
                break
            } catch  where attempt < 3 {
                continue
            }
        }
        port = chosen
    }

    /// Starts the server again (after ``stop()``), on its port.
    func start() throws {
        try TestCluster.start(directory: directory, port: port, bin: bin)
    }

    /// Starts the server; a start that fails says why with the end of the server's log. The
    /// server inherits the test process's open descriptors (sockets of tests running beside it)
    /// and counts only up to `max_files_per_process` of them: raised, so that it starts whatever
    /// else is open.
    private static func start(directory: String, port: Int, bin: String) throws {
        do {
            try runPostgresTool(
                "pg_ctl", bin: bin,
                [
                    "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-o",
                    "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_files_per_process=10000", "start",
                ])
        } catch let error as TestClusterError {
            let log = (try? String(contentsOfFile: "\(directory)/log", encoding: .utf8)) ?? ""
            throw TestClusterError(message: error.message + "\nserver log:\n" + log.suffix(2000))
        }
    }

    func stop() throws {
        try run("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
    }

    func destroy() {
        _ = try? run("pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        _ = try runPostgresTool(tool, bin: bin, arguments)
    }
}

struct TestClusterError: Error {
    var message: String
}
