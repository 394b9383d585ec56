import Foundation
import Testing

/// Resource limits of the real binary under abuse: a slow-drip client cut off by the idle
/// timeout while others are served, the connection cap, and the request-head size.
@Suite(.serialized) struct LimitsProcessTests {
    /// Whether the peer has closed `connection` (a zero-byte read), waiting at most `timeout`.
    static func isClosed(_ connection: RawConnection, within timeout: Duration) -> Bool {
        var pollDescriptor = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&pollDescriptor, 1, milliseconds) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(connection.fd, &byte, 1, Int32(MSG_PEEK)) == 0
    }

    /// Whether anything arrives on `connection` within `timeout`.
    static func hasData(_ connection: RawConnection, within timeout: Duration) -> Bool {
        var pollDescriptor = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return poll(&pollDescriptor, 1, milliseconds) == 1
    }

    /// Sends `bytes` on `connection` one every 100 ms until the server closes it (or all but the
    /// last are sent), checking once along the way that another client is served meanwhile.
    /// Returns whether it was closed and how long the drip lasted.
    static func drip(_ bytes: [UInt8], on connection: RawConnection, _ server: ServerProcess) async throws -> (
        closed: Bool, elapsed: Duration
    ) {
        let start = ContinuousClock.now
        for (sent, byte) in bytes.dropLast().enumerated() {
            connection.send([byte])
            if isClosed(connection, within: .milliseconds(100)) { return (true, ContinuousClock.now - start) }
            if sent == 2 {
                let (status, _) = try await server.request("GET", "/health")
                #expect(status == 200)
            }
        }
        return (false, ContinuousClock.now - start)
    }

    /// With `--max-inflight-bytes`, a request that would pass the budget gets 503 with
    /// Retry-After before its body is sent, and is served once the request holding the budget
    /// is answered.
    @Test func aRequestPastTheInflightBudgetGets503BeforeItsBodyIsRead() async throws {
        let server = try ServerProcess(arguments: ["--max-inflight-bytes", "1000000"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let readings = (0..<8000).map { #"{"timestamp":"2024-01-01T00:00:00.\#(String(100_000 + $0).dropFirst())Z","count":1}"# }
        let big = Array((#"{"id":"budget-a","readings":["# + readings.joined(separator: ",") + "]}").utf8)
        #expect(big.count > 300_000 && big.count < 500_000)
        // A: the head and the first bytes of a body of about 400 KB (a reservation of twice that).
        let holder = try server.connect()
        holder.send(
            Array("POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(big.count)\r\n\r\n".utf8)
                + big.prefix(10))
        #expect(try await server.request("GET", "/health").0 == 200)
        // B: a head for 200 KB more, and no body: answered at once, from the head alone.
        let small = Array(#"{"id":"budget-b","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":1}]}"#.utf8)
        let headB = "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n"
        var refused = ""
        for _ in 0..<3 where refused.isEmpty {
            let waiting = try server.connect()
            waiting.send(Array(headB.utf8))
            if Self.hasData(waiting, within: .seconds(2)) { refused = waiting.receiveResponse() }
        }
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
        #expect(refused.lowercased().contains("retry-after:"))
        #expect(refused.contains(#""code":"UNAVAILABLE""#))
        // A finishes and is answered; then B's body fits.
        holder.send(Array(big.dropFirst(10)))
        #expect(holder.receiveResponse().hasPrefix("HTTP/1.1 202"))
        let (status, _) = try await server.request("POST", "/ingest", body: String(decoding: small, as: UTF8.self))
        #expect(status == 202)
        #expect(try await server.stop() == 0)
    }

    @Test func aSlowDripClientIsCutOffWhileOthersAreServed() async throws {
        let server = try ServerProcess(arguments: ["--idle-timeout", "1"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let drip = try server.connect()
        let head = Array("POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8)
        // One byte of the request head every 100 ms: the head would take ~9 s to arrive.
        let (closed, elapsed) = try await Self.drip(head, on: drip, server)
        #expect(closed, "the drip connection was never closed")
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(6), "closed after \(elapsed)")
        let (status, _) = try await server.request("GET", "/health")
        #expect(status == 200)
        #expect(try await server.stop() == 0)
    }

    @Test func aSlowBodyIsCutOffByTheRequestTimeoutWhileOthersAreServed() async throws {
        let server = try ServerProcess(arguments: ["--request-timeout", "1", "--idle-timeout", "60"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        try await Self.expectSlowIngestCut(id: "slow", on: connection, server)
        #expect(try await server.stop() == 0)
    }

    /// Sends an ingest head for device `id` at once and then its body a byte every 100 ms, and
    /// expects the connection cut 1 to 6 s after the head (the tests run with a 1 s request
    /// timeout) with nothing of the request stored.
    static func expectSlowIngestCut(id: String, on connection: RawConnection, _ server: ServerProcess) async throws {
        let body = Array(#"{"id":"\#(id)","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#.utf8)
        connection.send(
            Array("POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
        let (closed, elapsed) = try await drip(body, on: connection, server)
        #expect(closed, "the slow body's connection was never closed")
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(6), "closed \(elapsed) after its head")
        #expect(try await server.request("GET", "/devices/\(id)").0 == 404)
    }

    /// The connection's timer is armed by its first request; a later slow request on the same
    /// connection is timed from its own head, not cut when that earlier timer fires.
    @Test func aSlowBodyLaterOnAKeptAliveConnectionIsTimedFromItsOwnHead() async throws {
        let server = try ServerProcess(arguments: ["--request-timeout", "1", "--idle-timeout", "60"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(connection.receiveResponse().hasPrefix("HTTP/1.1 200"))
        // The second request starts 0.6 s into the first one's second of timeout.
        try await Task.sleep(for: .milliseconds(600))
        try await Self.expectSlowIngestCut(id: "later", on: connection, server)
        #expect(try await server.stop() == 0)
    }

    @Test func connectionsPastTheCapWaitUntilOneCloses() async throws {
        let server = try ServerProcess(arguments: ["--max-connections", "2", "--idle-timeout", "60"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        // The health check's own connection closes; then two idle connections take both places.
        var first: RawConnection? = try server.connect()
        let second = try server.connect()
        try await first!.waitUntilServerHasRead()
        // A completed keep-alive exchange on each proves both are accepted and held.
        for connection in [first!, second] {
            connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(connection.receiveResponse().hasPrefix("HTTP/1.1 200"))
        }
        let third = try server.connect()
        third.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        #expect(!Self.hasData(third, within: .seconds(1)), "a third connection was served past the cap of 2")
        first = nil  // closes it
        #expect(Self.hasData(third, within: .seconds(10)))
        #expect(third.receiveResponse().hasPrefix("HTTP/1.1 200"))
        _ = second
        #expect(try await server.stop() == 0)
    }

    @Test func anOversizedRequestHeadIsRefusedAndTheServerStillServes() async throws {
        let server = try ServerProcess(arguments: ["--max-header-size", "1024"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n".utf8))
        let response = connection.receiveResponse()
        #expect(response.hasPrefix("HTTP/1.1 400"), "\(response)")
        #expect(Self.isClosed(connection, within: .seconds(5)))
        // Just under the limit is served.
        let fits = try server.connect()
        fits.send(
            Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: \(String(repeating: "a", count: 800))\r\n\r\n".utf8))
        #expect(fits.receiveResponse().hasPrefix("HTTP/1.1 200"))
        #expect(try await server.stop() == 0)
    }
}
