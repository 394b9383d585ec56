import HTTPTypes
import HummingbirdTesting
import NIOCore
import ReadingsDomain
import Testing

/// Input crafted to break the server: mutated and truncated bodies, huge literals, deep
/// nesting, sent to a live server. Only documented 4xx answers are allowed, never a 5xx, and the
/// server keeps serving.
@Suite struct HostileInputTests {
    static let seed =
        #"{"id":"fuzz","readings":[{"timestamp":"2023-01-01T00:00:00.5+01:00","count":3},{"timestamp":"2023-01-01T00:00:01Z","count":4e0}],"meta":{"a":[true,false,null,-1.5e-3,"\u00e9\ud83d\ude80"]}}"#

    @Test(arguments: Engine.allCases)
    func mutatedBodiesNeverCauseA5xx(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            var generator = SplitMix64(seed: 42)
            let original = Array(Self.seed.utf8)
            let interesting: [UInt8] = [
                0x00, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x30, 0x2D, 0x65, 0x2E, 0xFF, 0xC3, 0xED, 0x20,
            ]
            var statuses: Set<Int> = []
            for round in 0..<400 {
                var body = original
                switch round % 4 {
                case 0: body = Array(body.prefix(Int.random(in: 0..<body.count, using: &generator)))
                case 1:
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        body[Int.random(in: 0..<body.count, using: &generator)] = interesting.randomElement(using: &generator)!
                    }
                case 2:
                    body.insert(interesting.randomElement(using: &generator)!, at: Int.random(in: 0...body.count, using: &generator))
                default:
                    body.remove(at: Int.random(in: 0..<body.count, using: &generator))
                }
                let response = try await client.execute(uri: "/ingest", method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: body))
                statuses.insert(response.status.code)
                #expect([202, 207, 400].contains(response.status.code), "body: \(String(decoding: body, as: UTF8.self))")
                if response.status.code == 400 {
                    #expect(try response.json["error"]?["code"]?.string != nil)
                }
            }
            #expect(statuses.contains(400) && statuses.contains(202))
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func hugeLiteralsAreRefusedPerReading(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            let hugeNumber = "1" + String(repeating: "0", count: 200_000)
            let hugeExponent = "1e" + String(repeating: "9", count: 10_000)
            let tinyFraction = "0." + String(repeating: "0", count: 10_000) + "1"
            let longTimestamp = "2023-01-01T00:00:00." + String(repeating: "0", count: 100_000) + "Z"
            let body = """
                {"id":"huge","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":\(hugeNumber)},\
                {"timestamp":"2023-01-01T00:00:01Z","count":\(hugeExponent)},\
                {"timestamp":"2023-01-01T00:00:02Z","count":\(tinyFraction)},\
                {"timestamp":"\(longTimestamp)","count":1},\
                {"timestamp":"2023-01-01T00:00:03Z","count":1}]}
                """
            let response = try await client.ingest(body)
            #expect(response.status == .init(code: 207))
            let codes = try response.json["results"]?.array?.map { $0["code"]?.string ?? "ok" }
            #expect(codes == ["INVALID_COUNT", "INVALID_COUNT", "INVALID_COUNT", "INVALID_TIMESTAMP", "ok"])
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func deepNestingInsideAReadingIsRefusedWhole(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            let nested = String(repeating: "{\"a\":", count: 70) + "1" + String(repeating: "}", count: 70)
            let response = try await client.ingest(
                #"{"id":"deep","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"x":"# + nested + "}]}")
            #expect(response.status == .badRequest)
            #expect(try response.json["error"]?["code"]?.string == "INVALID_JSON")
            let shallow = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
            let accepted = try await client.ingest(
                #"{"id":"deep","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"x":"# + shallow + "}]}")
            #expect(accepted.status == .accepted)
            try await client.expectStillServing()
        }
    }
}
