import Foundation
import Testing

/// The PostgreSQL engine when its database misbehaves: a database that stops answering (every
/// process of the cluster stopped with SIGSTOP), a row lock that another session keeps, TLS in
/// each `sslmode`, and passwords that must stay out of messages. Each test runs a cluster of its
/// own (``PrivatePostgresCluster``): freezing or reconfiguring the shared one would break the tests
/// beside it. Serialized, so that the timings measured here compete with less.
@Suite(
    .serialized,
    .enabled(
        if: PrivatePostgresCluster.binaries != nil || PrivatePostgresCluster.onCI,
        "PostgreSQL is not installed (apt-get install postgresql); with CI set its absence fails"))
struct PostgresFaultTests {
    /// The engine's deadline for a call (PostgresStore's default), and the slack allowed past it
    /// on a loaded machine.
    static let deadline = Duration.seconds(5)
    static let margin = Duration.milliseconds(1500)

    @Test func aFrozenDatabaseAnswers503WithinTheDeadlineAndNothingIsLostOrDoubled() async throws {
        let cluster = try PrivatePostgresCluster()
        defer { cluster.destroy() }
        let server = try ServerProcess(arguments: ["--postgres-url", cluster.url(), "--log-level", "warning"])
        try await waitUntilReady(server, timeout: .seconds(60))
        var ledger = FaultLedger(device: "frozen")
        ledger.record(try await ledger.post(Array(0..<10), to: server))
        #expect(ledger.answers.values.allSatisfy { $0 == [202] })

        cluster.freeze()
        let frozenAt = ContinuousClock.now
        // /ready is watched while the ingests wait. Three ingests at once, then one more once
        // those gave up and closed their connections.
        async let readyTurned = elapsedUntil(server, "/ready", answers: 503, since: frozenAt, within: .seconds(10))
        let during = try await ledger.post([10, 11, 12], to: server) + ledger.post([13], to: server)
        let readyAfter = try await readyTurned
        ledger.record(during)
        for answer in during {
            #expect(answer.status == 503, "reading \(answer.index) answered \(answer.status) from a frozen database")
            #expect(answer.elapsed < Self.deadline + Self.margin, "reading \(answer.index) answered after \(answer.elapsed)")
        }
        // About 1.25 s on an idle machine (a probe unanswered for 1 s, checked every 250 ms);
        // always before the first ingest's deadline, so a load balancer stops sending before
        // requests start failing by timeout.
        #expect(readyAfter < Self.deadline, "/ready turned 503 only \(readyAfter) after the freeze")
        #expect(server.log.contains("no answer from the database within"), "\(server.log)")
        #expect(try timedRequest(server, "GET", "/health").status == 200)
        print(
            "frozen database: ingest answered 503 after \(during.map { "\($0.elapsed)" }.joined(separator: ", ")); /ready 503 after \(readyAfter)"
        )

        cluster.thaw()
        let thawedAt = ContinuousClock.now
        let readyAgain = try await elapsedUntil(server, "/ready", answers: 200, since: thawedAt, within: .seconds(30))
        // The next reading is taken once the pool has reconnected.
        while true {
            let answer = try await ledger.post([14], to: server)
            ledger.record(answer)
            if answer[0].status != 503 { break }
            try #require(ContinuousClock.now < thawedAt + .seconds(30), "ingest still answers 503 30 s after the thaw")
        }
        let ingestAgain = ContinuousClock.now - thawedAt
        print("thawed database: /ready 200 after \(readyAgain), ingest accepted after \(ingestAgain)")
        try await ledger.settle(on: server)
        #expect(try await server.stop() == 0)
    }

    /// Another session holds the device's row lock (as an instance frozen mid-batch would): the
    /// server's `lock_timeout` ends the wait before the deadline, so the request gets 503 while
    /// the database itself stays ready, and the batch goes through once the lock is released.
    @Test func aRowLockHeldElsewhereAnswers503BeforeTheDeadline() async throws {
        let cluster = try PrivatePostgresCluster()
        defer { cluster.destroy() }
        let server = try ServerProcess(arguments: ["--postgres-url", cluster.url(), "--log-level", "warning"])
        try await waitUntilReady(server, timeout: .seconds(60))
        var ledger = FaultLedger(device: "locked")
        ledger.record(try await ledger.post([0], to: server))
        #expect(ledger.answers[0] == [202])

        try await cluster.holdRowLock(device: "locked")
        let held = try await ledger.post([1], to: server)
        ledger.record(held)
        #expect(held[0].status == 503)
        #expect(held[0].elapsed < Self.deadline, "the lock wait ended after \(held[0].elapsed), not by lock_timeout")
        #expect(server.log.contains("lock timeout"), "\(server.log)")
        #expect(try timedRequest(server, "GET", "/ready").status == 200)
        print("row lock held elsewhere: ingest answered 503 after \(held[0].elapsed)")

        try cluster.releaseRowLocks()
        try await ledger.settle(on: server)
        #expect(try await server.stop() == 0)
    }

    /// SIGTERM ends the server however the database behaves: frozen while the server still
    /// migrates at start (its connection waits for an answer), and frozen while requests and
    /// the readiness probe wait on pooled connections. The shutdown closes those connections
    /// instead of waiting for answers that will not come.
    @Test func aServerStopsOnSIGTERMWhileItsDatabaseIsFrozen() async throws {
        let cluster = try PrivatePostgresCluster()
        defer { cluster.destroy() }
        let limit = Duration.seconds(10)

        cluster.freeze()
        let starting = try ServerProcess(arguments: ["--postgres-url", cluster.url(), "--log-level", "warning"])
        try await starting.waitUntilServing()
        #expect(try timedRequest(starting, "GET", "/ready").status == 503)
        var start = ContinuousClock.now
        #expect(try await starting.stop(timeout: limit) == 0, "\(starting.log)")
        let whileMigrating = ContinuousClock.now - start
        cluster.thaw()

        let serving = try ServerProcess(arguments: ["--postgres-url", cluster.url(), "--log-level", "warning"])
        try await waitUntilReady(serving, timeout: .seconds(60))
        var ledger = FaultLedger(device: "stopping")
        ledger.record(try await ledger.post([0], to: serving))
        cluster.freeze()
        // A request waits on the frozen database while the server is told to stop.
        async let waiting = ledger.post([1], to: serving)
        try await Task.sleep(for: .milliseconds(500))
        start = ContinuousClock.now
        #expect(try await serving.stop(timeout: limit) == 0, "\(serving.log)")
        let whileServing = ContinuousClock.now - start
        let answer = try await waiting
        #expect(answer[0].status == 503 || answer[0].status == 0, "\(answer)")
        print("SIGTERM with a frozen database: exited after \(whileMigrating) while migrating, \(whileServing) while serving")
    }

    /// `require`, `verify-ca` and `verify-full` connect over TLS, and so does the default
    /// (`prefer`) when the server offers it; `disable` does not. PostgreSQL's own view of the
    /// server's connections (pg_stat_ssl) says which.
    @Test func sslModesConnectWithTheExpectedEncryption() async throws {
        let cluster = try PrivatePostgresCluster.withTLS()
        defer { cluster.destroy() }
        let root = "\(cluster.directory)/data/server.crt"
        let cases: [(url: String, ssl: String)] = [
            (cluster.url(query: "sslmode=require"), "true"),
            (cluster.url(query: "sslmode=verify-full&sslrootcert=\(root)"), "true"),
            // 127.0.0.2 is not a name in the certificate; verify-ca does not look at names.
            (cluster.url(host: "127.0.0.2", query: "sslmode=verify-ca&sslrootcert=\(root)"), "true"),
            (cluster.url(), "true"),
            (cluster.url(query: "sslmode=disable"), "false"),
        ]
        for (number, (url, ssl)) in cases.enumerated() {
            let server = try ServerProcess(arguments: ["--postgres-url", url, "--log-level", "warning"])
            try await waitUntilReady(server, timeout: .seconds(60))
            let answer = try await FaultLedger(device: "tls").post([number], to: server)
            #expect(answer[0].status == 202, "\(url): \(server.log)")
            #expect(try cluster.encryptionOfServerConnections() == ssl, "\(url)")
            #expect(try await server.stop() == 0)
            try await cluster.waitUntilNoServerConnections()
        }
    }

    /// verify-full checks the certificate against trusted roots and the host name: without
    /// `sslrootcert` (the system's roots do not know a self-signed certificate), or for a host
    /// the certificate does not name, there is no connection, and the log says why.
    @Test func verifyFullRefusesAnUntrustedCertificateAndAnotherHostName() async throws {
        let cluster = try PrivatePostgresCluster.withTLS()
        defer { cluster.destroy() }
        let root = "\(cluster.directory)/data/server.crt"
        let cases: [(url: String, reason: String)] = [
            (cluster.url(query: "sslmode=verify-full"), "CERTIFICATE_VERIFY_FAILED"),
            (cluster.url(host: "127.0.0.2", query: "sslmode=verify-full&sslrootcert=\(root)"), "failedToValidateHostname"),
        ]
        for (url, reason) in cases {
            let server = try ServerProcess(arguments: ["--postgres-url", url, "--log-level", "warning"])
            try await server.waitUntilServing()
            let deadline = ContinuousClock.now + .seconds(30)
            while !server.log.contains(reason) {
                try #require(ContinuousClock.now < deadline, "no \(reason) in the log: \(server.log)")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(server.log.contains("cannot connect to the database or migrate the schema yet"), "\(server.log)")
            #expect(try timedRequest(server, "GET", "/ready").status == 503)
            let answer = try await FaultLedger(device: "refused").post([0], to: server)
            #expect(answer[0].status == 503)
            #expect(try await server.stop() == 0)
        }
    }

    /// The password never shows: not in the error for a URL that cannot be used, not in the log
    /// of a server whose password is refused, not in a trace-level log of one that connects.
    @Test func noPasswordInErrorsOrLogs() async throws {
        let secret = "s3cret-\(UUID().uuidString.prefix(8))"
        // Each refused at start, most quoting the URL.
        for (url, quoted) in [
            ("postgres://reader:\(secret)@127.0.0.1:notaport/db", true),
            ("postgres://reader:\(secret)@127.0.0.1/db?sslmode=sometimes", true),
            ("postgres://reader:\(secret)@127.0.0.1/db?password=\(secret)", true),
            ("mysql://reader:\(secret)@127.0.0.1/db", true),
            ("postgres://reader:\(secret)@127.0.0.1/db?sslmode=verify-full&sslrootcert=/nonexistent/root.crt", false),
        ] {
            let (status, output) = try await refusedStart(["--postgres-url", url])
            #expect(status != 0, "\(output)")
            #expect(!output.contains(secret), "\(output)")
            #expect(output.contains(quoted ? "reader:***@" : "/nonexistent/root.crt"), "\(output)")
        }

        let cluster = try PrivatePostgresCluster()
        defer { cluster.destroy() }
        let refused = try ServerProcess(arguments: ["--postgres-url", cluster.url(password: secret), "--log-level", "trace"])
        try await refused.waitUntilServing()
        let deadline = ContinuousClock.now + .seconds(30)
        while !refused.log.contains("password authentication failed") {
            try #require(ContinuousClock.now < deadline, "no authentication failure in the log: \(refused.log)")
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await FaultLedger(device: "secret").post([0], to: refused)[0].status == 503)
        #expect(try await refused.stop() == 0)
        #expect(!refused.log.contains(secret))

        let accepted = try ServerProcess(arguments: ["--postgres-url", cluster.url(), "--log-level", "trace"])
        try await waitUntilReady(accepted, timeout: .seconds(60))
        #expect(try await FaultLedger(device: "secret").post([0], to: accepted)[0].status == 202)
        #expect(try await accepted.stop() == 0)
        #expect(!accepted.log.isEmpty)
        #expect(!accepted.log.contains(cluster.password))
    }
}

/// What the server answered for each reading of one device, one reading per request: reading `i`
/// is at `2024-05-01T00:00:00Z` plus `i` seconds with count `i % 7 + 1`.
struct FaultLedger {
    let device: String
    /// Each reading's answers in order: 202 accepted, 409 already stored (a retry of a request
    /// that committed), 503 unavailable, 0 no answer at all.
    var answers: [Int: [Int]] = [:]

    struct Answer: Sendable {
        var index: Int
        var status: Int
        var elapsed: Duration
    }

    static func timestamp(_ index: Int) -> String {
        String(format: "2024-05-01T%02d:%02d:%02dZ", index / 3600, index / 60 % 60, index % 60)
    }

    static func count(_ index: Int) -> Int { index % 7 + 1 }

    /// Posts each reading in a request of its own, all at once, each on a thread of its own;
    /// returns the answers with the time each took.
    func post(_ indices: [Int], to server: ServerProcess) async throws -> [Answer] {
        let device = device
        return try await withThrowingTaskGroup(of: Answer.self) { group in
            for index in indices {
                group.addTask {
                    try await onThreadOfItsOwn {
                        let body =
                            #"{"id":"\#(device)","readings":[{"timestamp":"\#(FaultLedger.timestamp(index))","count":\#(FaultLedger.count(index))}]}"#
                        let start = ContinuousClock.now
                        let (status, text) = try timedRequest(server, "POST", "/ingest", body: body)
                        let elapsed = ContinuousClock.now - start
                        guard status == 207 else { return Answer(index: index, status: status, elapsed: elapsed) }
                        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                        let result = (object?["results"] as? [[String: Any]])?.first
                        return Answer(index: index, status: result?["status"] as? Int ?? 207, elapsed: elapsed)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.index < $1.index }
        }
    }

    mutating func record(_ answered: [Answer]) {
        for answer in answered { answers[answer.index, default: []].append(answer.status) }
    }

    /// Checks that what is stored is exactly what was acknowledged: every reading answered 202 is
    /// there; one that only got 503 is there or not (its commit may have landed unconfirmed),
    /// and its retry says which (409 when there, 202 when not); after those retries every
    /// reading is there once, and the device's count and sum are exact.
    mutating func settle(on server: ServerProcess) async throws {
        let before = try stored(on: server)
        for (index, statuses) in answers.sorted(by: { $0.key < $1.key }) {
            #expect(statuses.allSatisfy { [202, 409, 503].contains($0) }, "reading \(index) answered \(statuses)")
            let present = before.data[FaultLedger.timestamp(index)]
            if let present { #expect(present == FaultLedger.count(index), "reading \(index) is stored with count \(present)") }
            if statuses.contains(202) || statuses.contains(409) {
                #expect(present != nil, "reading \(index) answered \(statuses) but is not stored")
                continue
            }
            let retry = try await post([index], to: server)
            record(retry)
            #expect(
                retry[0].status == (present == nil ? 202 : 409),
                "reading \(index): stored \(present != nil), retry answered \(retry[0].status)")
        }
        let after = try stored(on: server)
        #expect(Set(after.data.keys) == Set(answers.keys.map(FaultLedger.timestamp)))
        #expect(after.readings == answers.count)
        #expect(after.cumulative == answers.keys.reduce(0) { $0 + FaultLedger.count($1) })
    }

    /// The device's readings (timestamp → count), number of readings and cumulative count.
    private func stored(on server: ServerProcess) throws -> (data: [String: Int], readings: Int, cumulative: Int) {
        let (status, page) = try timedRequest(server, "GET", "/devices/\(device)?limit=100000")
        try #require(status == 200, "GET /devices/\(device) answered \(status)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(page.utf8)) as? [String: Any])
        let data = try #require(object["data"] as? [String: Int])
        let (_, list) = try timedRequest(server, "GET", "/devices?prefix=\(device)")
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String: Any])
        let entry = try #require((listed["devices"] as? [[String: Any]])?.first { $0["id"] as? String == device })
        return (data, try #require(entry["readings"] as? Int), try #require(object["cumulative_count"] as? Int))
    }
}

/// Starts `serve` with `arguments`, which it must refuse: returns the exit status and output, or
/// fails (and the server is killed) when it is still running after 30 s.
func refusedStart(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let server = try ServerProcess(arguments: arguments)
    let deadline = ContinuousClock.now + .seconds(30)
    while server.process.isRunning {
        try #require(ContinuousClock.now < deadline, "the server started with \(arguments): \(server.log)")
        try await Task.sleep(for: .milliseconds(20))
    }
    return (server.process.terminationStatus, server.log)
}

/// One request on a fresh connection that gives up after `timeout` without an answer; returns
/// the status (0 when there was none) and the body. A server that hangs fails the test instead of
/// hanging it.
func timedRequest(_ server: ServerProcess, _ method: String, _ path: String, body: String? = nil, timeout: Duration = .seconds(20)) throws
    -> (status: Int, body: String)
{
    let connection = try server.connect()
    var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
    setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    let payload = Array((body ?? "").utf8)
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
    connection.send(Array((head + "\r\n").utf8) + payload)
    let response = connection.receiveResponse()
    guard response.hasPrefix("HTTP/1.1 "), let status = Int(response.dropFirst(9).prefix(3)) else { return (0, "") }
    return (status, response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? "")
}

/// Runs blocking `work` on a thread of its own, off the concurrency pool's few threads.
func onThreadOfItsOwn<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Polls `path` until it answers `status`; returns how long after `start` that was.
func elapsedUntil(
    _ server: ServerProcess, _ path: String, answers status: Int, since start: ContinuousClock.Instant, within limit: Duration
) async throws -> Duration {
    while true {
        let answer = try await onThreadOfItsOwn { try timedRequest(server, "GET", path, timeout: .seconds(2)) }
        if answer.status == status { return ContinuousClock.now - start }
        try #require(ContinuousClock.now < start + limit, "\(path) did not answer \(status) within \(limit)")
        try await Task.sleep(for: .milliseconds(20))
    }
}
