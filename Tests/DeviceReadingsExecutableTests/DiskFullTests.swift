import Foundation
import Testing

/// A journal on a real, full file system (a small tmpfs this test mounts): requests that cannot be
/// made durable get 503 with Retry-After, nothing acknowledged is lost, the server recovers by
/// itself once space returns, and a server killed while the disk is full to the last byte starts
/// again once space is freed. Snapshots every 16 KiB make it rotate segments and write snapshots
/// while full. Mounting needs root, as CI has; elsewhere the test is skipped and says so.
@Suite(.serialized) struct DiskFullTests {
    @Test(
        .enabled(
            if: getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil,
            "mounting a tmpfs needs root (CI runs as root, and fails this test without it)"))
    func fullDiskGives503AndTheServerRecoversWhenSpaceReturns() async throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("dr-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mount = try ServerProcess.runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint.path])
        try #require(mount.status == 0, "mounting a tmpfs failed: \(mount.output)")
        defer {
            _ = try? ServerProcess.runTool("/bin/umount", [mountPoint.path])
            try? FileManager.default.removeItem(at: mountPoint)
        }
        // Leave about 96 KiB free: room for the first requests' journal records and snapshots.
        let filler = mountPoint.appendingPathComponent("filler")
        try Data(count: 4 * 1024 * 1024 - 96 * 1024).write(to: filler)
        let data = mountPoint.appendingPathComponent("data")
        let arguments = ["--data-dir", data.path, "--snapshot-every", "16KiB", "--log-level", "warning"]
        let server = try ServerProcess(arguments: arguments)
        try await server.waitUntilServing()

        var ledger = FullDiskLedger()
        // Fill the disk: batches of 500 readings of one device, each about 3.5 KiB of journal.
        let refused = try #require(try ledger.ingestUntilRefused(server), "the disk never filled")
        #expect(refused.head.hasPrefix("HTTP/1.1 503"))
        #expect(refused.head.lowercased().contains("retry-after:"))
        #expect(refused.body.contains(#""code":"UNAVAILABLE""#))
        #expect(!ledger.acknowledged.isEmpty)
        // While there is no space the server refuses writes and is not ready.
        #expect(try await server.request("GET", "/ready").0 == 503)
        #expect(try await server.request("GET", "/health").0 == 200)

        // Space returns: the server rebuilds from disk and serves again by itself.
        try FileManager.default.removeItem(at: filler)
        try await waitUntilReady(server, within: .seconds(30))
        try await ledger.expectEverythingAcknowledged(on: server)
        try ledger.resendLastBatch(server)

        // Full to the last byte, with segments rotating and snapshots failing, then killed: once
        // space is freed the data directory starts again, with nothing acknowledged lost.
        let lastByte = mountPoint.appendingPathComponent("last-byte")
        fillToTheLastByte(lastByte)
        _ = try ledger.ingestUntilRefused(server)
        for _ in 0..<20 {
            let (head, _) = try server.exchange("POST", "/ingest", body: ledger.nextBody())
            #expect(head.hasPrefix("HTTP/1.1 503"), "\(head)")
        }
        _ = try await server.stop(signal: SIGKILL)
        try FileManager.default.removeItem(at: lastByte)
        let restarted = try ServerProcess(arguments: arguments)
        try await restarted.waitUntilServing()
        try await waitUntilReady(restarted, within: .seconds(30))
        try await ledger.expectEverythingAcknowledged(on: restarted)
        try ledger.resendLastBatch(restarted)
        #expect(try await restarted.stop() == 0)
    }

    /// Waits until `/ready` answers 200.
    private func waitUntilReady(_ server: ServerProcess, within timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while (try? await server.request("GET", "/ready"))?.0 != 200 {
            try #require(ContinuousClock.now < deadline, "the server was not ready within \(timeout): \(server.log.suffix(2000))")
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Writes zeros to `path` until the file system has no byte left.
    private func fillToTheLastByte(_ url: URL) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        let page = [UInt8](repeating: 0, count: 4096)
        while page.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        while page.withUnsafeBytes({ write(fd, $0.baseAddress!, 1) }) > 0 {}
    }
}

/// What the clients of the full-disk test sent and were told.
private struct FullDiskLedger {
    var acknowledged: [String: Int] = [:]
    var sent: [[String]] = []
    var batch = 0

    /// The count sent with reading `timestamp`: irregular, so that snapshots do not compress
    /// the device to nothing and the disk does fill.
    static func count(_ timestamp: String) -> Int {
        timestamp.unicodeScalars.reduce(7) { ($0 &* 31 &+ Int($1.value)) % 1_000_003 } % 997 + 1
    }

    static func body(_ spelled: [String]) -> String {
        #"{"id":"full","readings":["# + spelled.map { #"{"timestamp":"\#($0)","count":\#(count($0))}"# }.joined(separator: ",") + "]}"
    }

    /// The next batch of 500 new readings of device `full`.
    mutating func nextBody() -> String {
        let spelled = (0..<500).map { k in secondsSpelled(batch * 500 + k) }
        batch += 1
        sent.append(spelled)
        return Self.body(spelled)
    }

    /// Ingests new batches until one is refused; returns that answer.
    mutating func ingestUntilRefused(_ server: ServerProcess) throws -> (head: String, body: String)? {
        for _ in 0..<1000 {
            let body = nextBody()
            let (head, text) = try server.exchange("POST", "/ingest", body: body)
            guard head.hasPrefix("HTTP/1.1 202") else { return (head, text) }
            for timestamp in sent.last! { acknowledged[timestamp] = Self.count(timestamp) }
        }
        return nil
    }

    /// Every acknowledged reading is stored once, and nothing else is counted.
    func expectEverythingAcknowledged(on server: ServerProcess) async throws {
        let (status, device) = try await server.request("GET", "/devices/full?limit=100000")
        #expect(status == 200)
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(device.utf8)) as? [String: Any])
        let storedData = try #require(stored["data"] as? [String: Int])
        let lost = acknowledged.filter { storedData[$0.key] != $0.value }.keys
        #expect(lost.isEmpty, "acknowledged readings lost: \(lost.sorted().prefix(5))")
        #expect(stored["cumulative_count"] as? Int == storedData.values.reduce(0, +))
        let everSent = Set(sent.joined())
        #expect(storedData.allSatisfy { everSent.contains($0.key) && $0.value == Self.count($0.key) })
    }

    /// Writes are durable again, and re-sending the refused batch never double counts.
    func resendLastBatch(_ server: ServerProcess) throws {
        let (head, _) = try server.exchange("POST", "/ingest", body: Self.body(sent.last!))
        #expect(head.hasPrefix("HTTP/1.1 202") || head.hasPrefix("HTTP/1.1 207"), "\(head)")
    }
}

/// The timestamp `second` seconds after 2024-01-01T00:00:00Z (within January).
private func secondsSpelled(_ second: Int) -> String {
    let day: Int = second / 86_400 + 1
    let hour: Int = second / 3600 % 24
    let minute: Int = second / 60 % 60
    let s: Int = second % 60
    return String(format: "2024-01-%02d", day) + String(format: "T%02d:%02d:%02dZ", hour, minute, s)
}

extension ServerProcess {
    /// Runs a program to completion; returns its exit status and everything it printed. It is
    /// spawned and reaped directly (posix_spawn, waitpid), with output through a file rather than
    /// a pipe: a program that leaves a daemon behind (`pg_ctl start`) would keep a pipe open.
    static func runTool(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("dr-tool-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = launching { posix_spawn(&pid, path, &actions, nil, argv, environ) }
        guard spawned == 0 else { throw TestClusterError(message: "cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data(), as: UTF8.self)
        // Exit status when it exited normally; 128 + signal otherwise.
        let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (exitStatus, output)
    }

    /// One request on a fresh connection; returns the response head (status line and headers)
    /// and body.
    func exchange(_ method: String, _ path: String, body: String, authorization: String? = nil) throws -> (head: String, body: String) {
        let connection = try connect()
        let payload = Array(body.utf8)
        let auth = authorization.map { "Authorization: \($0)\r\n" } ?? ""
        let head =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\(auth)Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
        connection.send(Array(head.utf8) + payload)
        let response = connection.receiveResponse()
        guard let split = response.range(of: "\r\n\r\n") else { return (response, "") }
        return (String(response[..<split.lowerBound]), String(response[split.upperBound...]))
    }
}
