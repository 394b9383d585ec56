import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.1 as clients speak it, on the real binary over raw sockets: keep-alive, pipelined
/// requests answered in order, `Expect: 100-continue`, chunked bodies, `Connection: close`.
@Suite struct HTTP1ProcessTests {
    static func ingest(_ id: String, second: Int, count: Int = 1) -> String {
        #"{"id":"\#(id)","readings":[{"timestamp":"2024-01-01T00:00:\#(String(format: "%02d", second))Z","count":\#(count)}]}"#
    }

    static func post(_ body: String, extraHeaders: String = "") -> [UInt8] {
        Array(
            "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)"
                .utf8)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderOnOneConnection() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        // Six requests in one write: ingests, reads of what they stored, a 404 and a HEAD.
        var bytes: [UInt8] = []
        bytes += Self.post(Self.ingest("piped", second: 1, count: 5))
        bytes += Array("GET /devices/piped/cumulative_count HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        bytes += Self.post(Self.ingest("piped", second: 1, count: 5))
        bytes += Array("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        bytes += Array("HEAD /devices/piped/latest_timestamp HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        bytes += Array("GET /devices/piped/latest_timestamp HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        connection.send(bytes)
        var reader = ResponseReader(connection)
        let answers = try (0..<6).map { try reader.next(toHead: $0 == 4) }
        #expect(answers.map(\.status) == [202, 200, 207, 404, 200, 200], "\(answers)")
        #expect(answers[1].body == #"{"cumulative_count":5}"#)
        #expect(answers[2].body.contains("DUPLICATE_READING"))
        // HEAD: the GET's length, no body (the next answer starts right after the head).
        #expect(answers[4].header("content-length") == "\(answers[5].body.utf8.count)")
        #expect(answers[4].body.isEmpty)
        #expect(answers[5].body == #"{"latest_timestamp":"2024-01-01T00:00:01Z"}"#)
        // Every answer carries its own request id.
        #expect(Set(answers.compactMap { $0.header("x-request-id") }).count == 6)
        #expect(try await server.stop() == 0)
    }

    /// With the journal, an ingest is answered from its group commit, after the requests behind
    /// it have been read: they wait, and are answered in order once it is.
    @Test func pipelinedRequestsWaitForAnAnswerFromTheJournal() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess(arguments: ["--data-dir", directory.path, "--sync", "always"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        var bytes: [UInt8] = []
        for second in 0..<20 {
            bytes += Self.post(Self.ingest("journaled", second: second, count: second))
            bytes += Array("GET /devices/journaled/cumulative_count HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        }
        connection.send(bytes)
        var reader = ResponseReader(connection)
        for second in 0..<20 {
            #expect(try reader.next().status == 202)
            // Each read sees every ingest before it, and none after.
            #expect(try reader.next().body == #"{"cumulative_count":\#((0...second).reduce(0, +))}"#)
        }
        #expect(try await server.stop() == 0)
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let kept = try server.connect()
        var keptReader = ResponseReader(kept)
        for _ in 0..<2 {
            kept.send(Array("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".utf8))
            let answer = try keptReader.next()
            #expect(answer.status == 200)
            #expect(answer.header("connection") == nil)
        }
        #expect(!LimitsProcessTests.isClosed(kept, within: .milliseconds(200)))
        let closed = try server.connect()
        closed.send(Array("GET /health HTTP/1.0\r\n\r\n".utf8))
        var closedReader = ResponseReader(closed)
        let answer = try closedReader.next()
        #expect(answer.status == 200)
        #expect(answer.header("connection")?.lowercased() == "close")
        #expect(LimitsProcessTests.isClosed(closed, within: .seconds(5)))
        #expect(try await server.stop() == 0)
    }

    @Test func absoluteFormTargetsAreServedByTheirPath() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        connection.send(Self.post(Self.ingest("absolute", second: 4, count: 3)))
        var reader = ResponseReader(connection)
        #expect(try reader.next().status == 202)
        connection.send(Array("GET http://x/devices/absolute/cumulative_count HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try reader.next().body == #"{"cumulative_count":3}"#)
        connection.send(Array("GET http://x HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try reader.next().status == 200)  // the dashboard, at /
        #expect(try await server.stop() == 0)
    }

    @Test func whatDoesNotParseIs400AndClosedAndTheServerStillServes() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        for garbage in [
            "NOT HTTP AT ALL\r\n\r\n", "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /he alth HTTP/1.1\r\n\r\n",
        ] {
            let connection = try server.connect()
            connection.send(Array(garbage.utf8))
            var reader = ResponseReader(connection)
            let answer = try reader.next()
            #expect(answer.status == 400, "\(garbage)")
            #expect(answer.header("connection")?.lowercased() == "close")
            #expect(LimitsProcessTests.isClosed(connection, within: .seconds(5)))
        }
        let connection = try server.connect()
        connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        var reader = ResponseReader(connection)
        #expect(try reader.next().status == 200)
        #expect(try await server.stop() == 0)
    }

    @Test func expectContinueIsAnsweredBeforeTheBodyAndRefusalsComeAtOnce() async throws {
        let server = try ServerProcess(arguments: ["--max-body-size", "4096"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let body = Self.ingest("continued", second: 2)
        let connection = try server.connect()
        connection.send(
            Array(
                "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n"
                    .utf8))
        var reader = ResponseReader(connection)
        let interim = try reader.next(interim: true)
        #expect(interim.status == 100)
        connection.send(Array(body.utf8))
        #expect(try reader.next().status == 202)

        // Too large: 413 at once, no 100, and the body is never waited for.
        let refused = try server.connect()
        refused.send(
            Array(
                "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
                    .utf8))
        var refusedReader = ResponseReader(refused)
        let answer = try refusedReader.next()
        #expect(answer.status == 413)
        #expect(answer.body.contains("PAYLOAD_TOO_LARGE"))
        #expect(LimitsProcessTests.isClosed(refused, within: .seconds(5)))
        #expect(try await server.stop() == 0)
    }

    @Test func chunkedBodiesAreReadWholeAndHeldToTheLimit() async throws {
        let server = try ServerProcess(arguments: ["--max-body-size", "4096"])
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let body = Array(Self.ingest("chunked", second: 3, count: 7).utf8)
        var chunked: [UInt8] = []
        for piece in [body[0..<10], body[10..<11], body[11...]] {
            chunked += Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10]
        }
        chunked += Array("0\r\n\r\n".utf8)
        let connection = try server.connect()
        connection.send(
            Array("POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + chunked
        )
        var reader = ResponseReader(connection)
        #expect(try reader.next().status == 202)
        connection.send(Array("GET /devices/chunked/cumulative_count HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try reader.next().body == #"{"cumulative_count":7}"#)

        // Chunks past the limit: 413 as soon as the limit is passed, and the connection closed.
        let flood = try server.connect()
        flood.send(Array("POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        for _ in 0..<5 { flood.send(Array("400\r\n".utf8) + [UInt8](repeating: 0x20, count: 1024) + [13, 10]) }
        var floodReader = ResponseReader(flood)
        #expect(try floodReader.next().status == 413)
        #expect(LimitsProcessTests.isClosed(flood, within: .seconds(5)))
        #expect(try await server.stop() == 0)
    }

    @Test func connectionCloseIsHonouredAndKeepAliveIsTheDefault() async throws {
        let server = try ServerProcess()
        defer { _ = try? server.process.terminate() }
        try await server.waitUntilServing()
        let connection = try server.connect()
        var reader = ResponseReader(connection)
        for _ in 0..<3 {
            connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let answer = try reader.next()
            #expect(answer.status == 200)
            #expect(answer.header("connection") == nil)
        }
        #expect(!LimitsProcessTests.isClosed(connection, within: .milliseconds(200)))
        connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        let last = try reader.next()
        #expect(last.status == 200)
        #expect(last.header("connection")?.lowercased() == "close")
        #expect(LimitsProcessTests.isClosed(connection, within: .seconds(5)))
        #expect(try await server.stop() == 0)
    }
}

/// Reads responses one at a time from a connection, keeping what arrived past the current one.
struct ResponseReader {
    struct Answer: CustomStringConvertible {
        var status: Int
        var head: String
        var body: String

        func header(_ name: String) -> String? {
            for line in head.split(separator: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }

        var description: String { "\(status) \(body.prefix(120))" }
    }

    struct Closed: Error {}

    let connection: RawConnection
    private var buffer: [UInt8] = []

    init(_ connection: RawConnection) {
        self.connection = connection
    }

    /// The next response: `interim` for a 1xx one, `toHead` for the answer to a HEAD request
    /// (the GET's length, no body).
    mutating func next(interim: Bool = false, toHead: Bool = false) throws -> Answer {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd = 0
        while true {
            if buffer.count >= 4, let end = (0...(buffer.count - 4)).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) {
                headEnd = end
                break
            }
            try fill()
        }
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        var answer = Answer(status: Int(head.dropFirst(9).prefix(3)) ?? 0, head: head, body: "")
        let bodyStart = headEnd + 4
        if !toHead, answer.header("transfer-encoding")?.lowercased() == "chunked" {
            buffer.removeFirst(bodyStart)
            answer.body = String(decoding: try readChunks(), as: UTF8.self)
            return answer
        }
        if !toHead && !interim && answer.header("content-length") == nil && answer.header("connection")?.lowercased() == "close"
            && answer.status != 204
        {
            // Delimited by the end of the connection (a streamed answer to HTTP/1.0).
            buffer.removeFirst(bodyStart)
            while (try? fill()) != nil {}
            answer.body = String(decoding: buffer, as: UTF8.self)
            buffer.removeAll()
            return answer
        }
        let length = interim || toHead ? 0 : Int(answer.header("content-length") ?? "0") ?? 0
        while buffer.count < bodyStart + length { try fill() }
        answer.body = String(decoding: buffer[bodyStart..<bodyStart + length], as: UTF8.self)
        buffer.removeFirst(bodyStart + length)
        return answer
    }

    /// A chunked body from the buffer's start, its framing checked: hex size lines, CRLF after
    /// each chunk, the last chunk of size 0 and the blank line after it.
    private mutating func readChunks() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd: Int?
            while lineEnd == nil {
                lineEnd = buffer.count >= 2 ? (0..<(buffer.count - 1)).first { buffer[$0] == 13 && buffer[$0 + 1] == 10 } : nil
                if lineEnd == nil { try fill() }
            }
            guard let size = Int(String(decoding: buffer[..<lineEnd!], as: UTF8.self), radix: 16) else { throw Closed() }
            let start = lineEnd! + 2
            while buffer.count < start + size + 2 { try fill() }
            guard buffer[start + size] == 13, buffer[start + size + 1] == 10 else { throw Closed() }
            body += buffer[start..<start + size]
            buffer.removeFirst(start + size + 2)
            if size == 0 { return body }
        }
    }

    mutating func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Closed() }
        buffer += chunk[0..<n]
    }
}
