import CompressNIO
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `Content-Encoding: gzip` on `/ingest`: the same answers as plain bodies, the body limit on the
/// decompressed size (a bomb gets 413, not an out-of-memory), and broken streams refused.
@Suite struct GzipIngestTests {
    static let gzipHeaders: HTTPFields = [.contentType: "application/json", .contentEncoding: "gzip"]

    static func gzip(_ text: String) throws -> ByteBuffer {
        var plain = ByteBuffer(string: text)
        return try plain.compress(with: .gzip())
    }

    @Test(arguments: Engine.allCases, ["gzip", "x-gzip", "GZIP"])
    func gzipBodiesAreIngestedLikePlainOnes(engine: Engine, coding: String) async throws {
        try await withApp(engine, .live) { client in
            let body = ingestBody("g", [("2023-01-01T00:00:00Z", 2), ("2023-01-01T00:00:00Z", 2), ("2023-01-01T00:00:01Z", 3)])
            let response = try await client.execute(
                uri: "/ingest", method: .post, headers: [.contentType: "application/json", .contentEncoding: coding],
                body: try Self.gzip(body))
            #expect(response.status.code == 207)
            #expect(try response.json["accepted"]?.int == 2)
            #expect(try response.json["duplicates"]?.int == 1)
            #expect(try await client.get("/devices/g/cumulative_count").text == #"{"cumulative_count":5}"#)
        }
    }

    @Test(arguments: Engine.allCases)
    func theLimitAppliesToTheDecompressedSizeExactly(engine: Engine) async throws {
        // Repetitive enough to compress well below its own size.
        let body = ingestBody("limit", (0..<50).map { (String(format: "2023-01-01T00:00:%02dZ", $0), UInt64(1)) })
        let size = body.utf8.count
        // Exactly the limit is allowed...
        try await withApp(engine, configure: { $0.maxBodySize = size }) { client in
            let response = try await client.execute(uri: "/ingest", method: .post, headers: Self.gzipHeaders, body: try Self.gzip(body))
            #expect(response.status == .accepted)
        }
        // ...one byte more is not, though the compressed body is far smaller than the limit.
        try await withApp(engine, configure: { $0.maxBodySize = size - 1 }) { client in
            let compressed = try Self.gzip(body)
            #expect(compressed.readableBytes < size - 1)
            let response = try await client.execute(uri: "/ingest", method: .post, headers: Self.gzipHeaders, body: compressed)
            #expect(response.status == .contentTooLarge)
            #expect(try response.json["error"]?["code"]?.string == "PAYLOAD_TOO_LARGE")
            #expect(try await client.get("/devices/limit").status == .notFound)
        }
    }

    @Test(arguments: Engine.allCases)
    func aGzipBombIs413AndTheServerStillServes(engine: Engine) async throws {
        // 1 GiB of spaces inside a valid document compresses to about 1 MiB.
        var plain = ByteBuffer(string: #"{"id":"bomb","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}"#)
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        var compressed = ByteBuffer()
        compressed.reserveCapacity(2 << 20)
        let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 20)
        try plain.compressStream(to: &compressed, with: compressor, flush: .no)
        for _ in 0..<1024 {
            var piece = chunk
            try piece.compressStream(to: &compressed, with: compressor, flush: .no)
        }
        var tail = ByteBuffer(string: "]}")
        try tail.compressStream(to: &compressed, with: compressor, flush: .finish)
        try compressor.finishStream()
        #expect(compressed.readableBytes < 16 << 20)
        let bomb = compressed
        try await withApp(engine, .live) { client in
            let response = try await client.execute(uri: "/ingest", method: .post, headers: Self.gzipHeaders, body: bomb)
            #expect(response.status == .contentTooLarge)
            #expect(try response.json["error"]?["code"]?.string == "PAYLOAD_TOO_LARGE")
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func brokenStreamsAre400(engine: Engine) async throws {
        let body = ingestBody("broken", [("2023-01-01T00:00:00Z", 1)])
        let whole = try Self.gzip(body)
        let truncated = whole.getSlice(at: whole.readerIndex, length: whole.readableBytes - 6)!
        var trailing = whole
        trailing.writeString("garbage")
        var corrupt = whole
        corrupt.setInteger(corrupt.getInteger(at: 20, as: UInt8.self)! ^ 0xFF, at: 20)
        let cases = [("truncated", truncated), ("trailing bytes", trailing), ("corrupt", corrupt), ("empty", ByteBuffer())]
        try await withApp(engine, .live) { client in
            for (name, broken) in cases {
                let response = try await client.execute(uri: "/ingest", method: .post, headers: Self.gzipHeaders, body: broken)
                #expect(response.status == .badRequest, "\(name)")
                #expect(try response.json["error"]?["code"]?.string == "INVALID_JSON", "\(name)")
            }
            #expect(try await client.get("/devices/broken").status == .notFound)
            try await client.expectStillServing()
        }
    }
}
