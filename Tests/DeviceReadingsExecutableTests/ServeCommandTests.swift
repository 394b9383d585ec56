import Foundation
import Testing

@testable import device_readings

/// The executable as an operator runs it: help text, flags over environment over `.env`,
/// validation of settings, and graceful shutdown on signals.
@Suite(.serialized) struct ServeCommandTests {
    @Test func helpExplainsEveryFlagWithItsEnvironmentVariable() throws {
        let root = try ServerProcess.run(["--help"])
        #expect(root.status == 0)
        #expect(root.output.contains("serve"))
        let serve = try ServerProcess.run(["serve", "--help"])
        #expect(serve.status == 0)
        // Each setting's line: flag, [VARIABLE], (default: …), as the catalogue says.
        let text = serve.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for setting in Setting.all {
            #expect(text.contains("\(setting.option) "), "\(setting.option)")
            #expect(text.contains("[\(setting.environment)] (default: \(setting.defaultText))"), "\(setting.environment)")
        }
    }

    @Test(arguments: [
        (["serve", "--port", "70000"], "port"),
        (["serve", "--data-dir", "/tmp/unused-dr", "--sync", "sometimes"], "--sync"),
        (["serve", "--data-dir", "/tmp/unused-dr", "--sync", "interval", "--sync-interval", "0s"], "--sync-interval"),
        (["serve", "--data-dir", "/tmp/unused-dr", "--snapshot-every", "0"], "--snapshot-every"),
        (["serve", "--data-dir", "/tmp/unused-dr", "--snapshot-every", "soon"], "--snapshot-every"),
        (["serve", "--api-key", ""], "--api-key"),
        (["serve", "--api-key", "k", "--read-api-key", ""], "--read-api-key"),
        (["serve", "--postgres-url", "postgres://nobody@127.0.0.1:1/none", "--postgres-batch-window", "2s"], "--postgres-batch-window"),
        (["serve", "--postgres-url", "postgres://nobody@127.0.0.1:1/none", "--postgres-batch-window", "soon"], "--postgres-batch-window"),
    ])
    func invalidSettingsStopTheStartWithAMessage(arguments: [String], mentions: String) throws {
        let result = try ServerProcess.run(arguments)
        #expect(result.status != 0)
        #expect(result.output.contains(mentions), "\(result.output)")
    }

    /// An empty variable is an unset one: `DATA_DIR=` beside `POSTGRES_URL` chooses PostgreSQL
    /// (here one that does not answer: the process serves `/health`, `/ready` says 503).
    @Test func anEmptyDataDirDoesNotConflictWithPostgres() async throws {
        let server = try ServerProcess(environment: ["DATA_DIR": "", "POSTGRES_URL": "postgres://nobody@127.0.0.1:1/none"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let (status, _) = try await server.request("GET", "/ready")
        #expect(status == 503)
        #expect(try await server.stop() == 0)
    }

    @Test func flagBeatsEnvironmentBeatsDotEnv() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // .env sets the port and a tiny readings limit; the environment overrides the limit.
        let port = ServerProcess.freePort()
        try "# settings\nPORT=\(port)\nexport MAX_READINGS=1\nMAX_BODY_SIZE=\"100000\"\n".write(
            to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let server = try ServerProcess(environment: ["MAX_READINGS": "2"], directory: directory, port: port)
        try await server.waitUntilServing()
        let two = #"{"id":"e","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1},{"timestamp":"2023-01-01T00:00:01Z","count":1}]}"#
        let three =
            #"{"id":"e","readings":[{"timestamp":"2023-01-01T00:00:02Z","count":1},{"timestamp":"2023-01-01T00:00:03Z","count":1},{"timestamp":"2023-01-01T00:00:04Z","count":1}]}"#
        #expect(try await server.request("POST", "/ingest", body: two).0 == 202)
        #expect(try await server.request("POST", "/ingest", body: three).0 == 413)
        #expect(try await server.stop() == 0)

        // A flag beats both.
        let flagged = try ServerProcess(
            arguments: ["--max-readings", "3"], environment: ["MAX_READINGS": "2"], directory: directory, port: port)
        try await flagged.waitUntilServing()
        #expect(try await flagged.request("POST", "/ingest", body: three).0 == 202)
        #expect(try await flagged.stop() == 0)
    }

    @Test func apiKeysComeFromTheEnvironmentAsACommaSeparatedList() async throws {
        let server = try ServerProcess(environment: ["API_KEYS": "first, second", "READ_API_KEYS": "reader"])
        try await server.waitUntilServing()
        #expect(try await server.request("GET", "/devices/x").0 == 401)
        for key in ["first", "second", "reader"] {
            let (head, _) = try server.exchange("GET", "/devices/x", body: "", authorization: "Bearer \(key)")
            #expect(head.hasPrefix("HTTP/1.1 404"), "\(key): \(head)")
        }
        #expect(server.log.contains("first") == false && server.log.contains("second") == false, "keys must not be logged")
        #expect(try await server.stop() == 0)
    }

    /// At the default level every request gets one line with its method, path, status and the
    /// id the response carried; at `warning` there is none.
    @Test func eachRequestIsLoggedWithItsIdAtInfoOnly() async throws {
        let server = try ServerProcess()
        try await server.waitUntilServing()
        let (head, _) = try server.exchange("GET", "/devices/logged", body: "")
        let id = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-request-id:") })
            .split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("http.request_id=\(id)") })
        for part in ["http.method=GET", "http.path=/devices/logged", "http.status=404", "http.duration_us=", "[ReadingsHTTP] request"] {
            #expect(line.contains(part), "\(line)")
        }
        #expect(try await server.stop() == 0)

        let quiet = try ServerProcess(arguments: ["--log-level", "warning"])
        try await quiet.waitUntilServing()
        _ = try quiet.exchange("GET", "/devices/logged", body: "")
        #expect(try await quiet.stop() == 0)
        #expect(!quiet.log.contains("http.request_id="), "\(quiet.log)")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func signalStopsGracefullyAfterInFlightRequests(signal: Int32) async throws {
        let server = try ServerProcess()
        try await server.waitUntilServing()
        // A request whose head and half its body the server has already read when the signal
        // arrives still gets its full answer; meanwhile new connections are refused and an idle
        // one is closed; then the process exits with status 0.
        let body = Array(#"{"id":"inflight","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":7}]}"#.utf8)
        let idle = try server.connect()
        let connection = try server.connect()
        connection.send(
            Array(
                "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
                + body[..<20])
        try await connection.waitUntilServerHasRead()
        kill(server.process.processIdentifier, signal)
        #expect(LimitsProcessTests.isClosed(idle, within: .seconds(10)), "an idle connection stayed open while draining")
        let refusedBy = ContinuousClock.now + .seconds(10)
        var refused = false
        while !refused && ContinuousClock.now < refusedBy {
            refused = (try? server.connect()) == nil
            if !refused { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(refused, "new connections were still accepted while draining")
        connection.send(Array(body[20...]))
        let response = connection.receiveResponse()
        #expect(response.hasPrefix("HTTP/1.1 202"))
        #expect(response.contains(#"{"accepted":1,"#))
        #expect(try await server.stop() == 0)
    }
}
