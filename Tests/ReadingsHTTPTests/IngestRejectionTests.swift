import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Whole-request failures of `POST /ingest`: each yields its documented status and code, stores
/// nothing, and leaves the server serving.
@Suite struct IngestRejectionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var body: [UInt8]
        var headers: HTTPFields = jsonHeaders
        var status: HTTPResponse.Status
        var code: String

        init(_ name: String, _ body: String, _ status: HTTPResponse.Status, _ code: String, headers: HTTPFields = jsonHeaders) {
            self.init(name, Array(body.utf8), status, code, headers: headers)
        }

        init(_ name: String, _ body: [UInt8], _ status: HTTPResponse.Status, _ code: String, headers: HTTPFields = jsonHeaders) {
            self.name = name
            self.body = body
            self.headers = headers
            self.status = status
            self.code = code
        }

        var testDescription: String { name }
    }

    static let valid = #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]"#

    static let cases: [Case] = [
        Case("empty body", "", .badRequest, "INVALID_JSON"),
        Case("whitespace only", "  \n", .badRequest, "INVALID_JSON"),
        Case("truncated", valid, .badRequest, "INVALID_JSON"),
        Case(
            "trailing comma in array", #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1},]}"#, .badRequest,
            "INVALID_JSON"),
        Case(
            "trailing comma in object", #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}],}"#, .badRequest,
            "INVALID_JSON"),
        Case(
            "comment", "{/* c */\"id\":\"victim\",\"readings\":[{\"timestamp\":\"2023-01-01T00:00:00Z\",\"count\":1}]}", .badRequest,
            "INVALID_JSON"),
        Case("NaN count", #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":NaN}]}"#, .badRequest, "INVALID_JSON"),
        Case("leading zero", #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":01}]}"#, .badRequest, "INVALID_JSON"),
        Case("single quotes", #"{'id':'victim','readings':[]}"#, .badRequest, "INVALID_JSON"),
        Case(
            "raw control character", "{\"id\":\"vic\ttim\",\"readings\":[{\"timestamp\":\"2023-01-01T00:00:00Z\",\"count\":1}]}",
            .badRequest, "INVALID_JSON"),
        Case(
            "lone surrogate", #"{"id":"victim\ud800","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#, .badRequest,
            "INVALID_JSON"),
        Case(
            "invalid UTF-8",
            Array(#"{"id":"victim"#.utf8) + [0xFF] + Array(#"","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#.utf8),
            .badRequest, "INVALID_JSON"),
        Case(
            "overlong UTF-8",
            Array(#"{"id":"victim"#.utf8) + [0xC0, 0xAF] + Array(#"","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#.utf8),
            .badRequest, "INVALID_JSON"),
        Case(
            "duplicate id member", #"{"id":"victim","id":"other","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
            .badRequest, "INVALID_JSON"),
        Case(
            "duplicate count member", #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1,"count":2}]}"#,
            .badRequest, "INVALID_JSON"),
        Case(
            "duplicate spelled with escape", #"{"id":"victim","\u0069d":"x","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
            .badRequest, "INVALID_JSON"),
        Case(
            "deep nesting",
            #"{"id":"victim","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}],"x":"# + String(repeating: "[", count: 100_000)
                + String(repeating: "]", count: 100_000) + "}", .badRequest, "INVALID_JSON"),
        Case("data after the value", valid + "}{}", .badRequest, "INVALID_JSON"),
        Case("byte-order mark", [0xEF, 0xBB, 0xBF] + Array((valid + "}").utf8), .badRequest, "INVALID_JSON"),
        Case("invalid JSON wins over a bad id", #"{"id":5,"readings":[}"#, .badRequest, "INVALID_JSON"),
        Case("top level array", "[1,2]", .badRequest, "INVALID_REQUEST"),
        Case("top level string", #""hello""#, .badRequest, "INVALID_REQUEST"),
        Case("readings missing", #"{"id":"victim"}"#, .badRequest, "INVALID_REQUEST"),
        Case(
            "readings not an array", #"{"id":"victim","readings":{"timestamp":"2023-01-01T00:00:00Z","count":1}}"#, .badRequest,
            "INVALID_REQUEST"),
        Case("readings empty", #"{"id":"victim","readings":[]}"#, .badRequest, "INVALID_REQUEST"),
        Case("id missing", #"{"readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#, .badRequest, "INVALID_DEVICE_ID"),
        Case("id a number", #"{"id":1234,"readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#, .badRequest, "INVALID_DEVICE_ID"),
        Case("id null", #"{"id":null,"readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#, .badRequest, "INVALID_DEVICE_ID"),
        Case("id empty", #"{"id":"","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#, .badRequest, "INVALID_DEVICE_ID"),
        Case(
            "id too long",
            "{\"id\":\"\(String(repeating: "é", count: 129))\",\"readings\":[{\"timestamp\":\"2023-01-01T00:00:00Z\",\"count\":1}]}",
            .badRequest, "INVALID_DEVICE_ID"),
        Case(
            "id with escaped control character", #"{"id":"a\u0001b","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}]}"#,
            .badRequest, "INVALID_DEVICE_ID"),
        Case(
            "id with C1 control character", "{\"id\":\"a\u{85}b\",\"readings\":[{\"timestamp\":\"2023-01-01T00:00:00Z\",\"count\":1}]}",
            .badRequest, "INVALID_DEVICE_ID"),
        Case("text/plain", valid + "}", .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", headers: [.contentType: "text/plain"]),
        Case(
            "form", valid + "}", .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
            headers: [.contentType: "application/x-www-form-urlencoded"]),
        Case("json-ish", valid + "}", .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", headers: [.contentType: "application/jsonx"]),
        Case(
            "br encoding", valid + "}", .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
            headers: [.contentType: "application/json", .contentEncoding: "br"]),
        Case(
            "two encodings", valid + "}", .unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
            headers: [.contentType: "application/json", .contentEncoding: "gzip, gzip"]),
        Case(
            "gzip header on a plain body", valid + "}", .badRequest, "INVALID_JSON",
            headers: [.contentType: "application/json", .contentEncoding: "gzip"]),
    ]

    @Test(arguments: Engine.allCases, cases)
    func refusedWholeAndServerStillServes(engine: Engine, testCase: Case) async throws {
        try await withApp(engine) { client in
            try await expectRefused(testCase, client)
        }
    }

    @Test(arguments: Engine.allCases, cases)
    func refusedWholeByALiveServerThatStillServes(engine: Engine, testCase: Case) async throws {
        try await withApp(engine, .live) { client in
            try await expectRefused(testCase, client)
        }
    }

    private func expectRefused(_ testCase: Case, _ client: any TestClientProtocol) async throws {
        do {
            let response = try await client.execute(
                uri: "/ingest", method: .post, headers: testCase.headers, body: ByteBuffer(bytes: testCase.body))
            #expect(response.status == testCase.status)
            let body = try response.json
            #expect(body["error"]?["code"]?.string == testCase.code)
            #expect(body["error"]?["message"]?.string?.isEmpty == false)
            #expect(body["results"] == nil)
            #expect(try await client.get("/devices/victim").status == .notFound)
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func bodyLimitAllowsExactlyTheLimit(engine: Engine) async throws {
        // Large enough for the probe in expectStillServing, small enough to be exceeded here.
        let body =
            #"{"id":"sized","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}],"pad":""# + String(repeating: "p", count: 200)
            + "\"}"
        let limit = body.utf8.count
        try await withApp(engine, .live, configure: { $0.maxBodySize = limit }) { client in
            let exact = try await client.ingest(body)
            #expect(exact.status == .accepted)
            let over = try await client.ingest(body + " ")
            #expect(over.status == .contentTooLarge)
            #expect(try over.json["error"]?["code"]?.string == "PAYLOAD_TOO_LARGE")
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func defaultBodyLimitIs16MiBAndEnforcedOnLiveServer(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            let prefix = #"{"id":"huge","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}],"pad":""#
            let suffix = "\"}"
            let exactPad = 16 * 1024 * 1024 - prefix.utf8.count - suffix.utf8.count
            let atLimit = try await client.ingest(prefix + String(repeating: "a", count: exactPad) + suffix)
            #expect(atLimit.status == .accepted)
            let over = try await client.ingest(prefix + String(repeating: "a", count: exactPad + 1) + suffix)
            #expect(over.status == .contentTooLarge)
            #expect(try over.json["error"]?["code"]?.string == "PAYLOAD_TOO_LARGE")
        }
        // A fresh connection: the server may close the one that sent too much.
        try await withApp(engine, .live) { client in try await client.expectStillServing() }
    }

    @Test(arguments: Engine.allCases)
    func readingsLimitAllowsExactlyTheLimit(engine: Engine) async throws {
        try await withApp(engine, configure: { $0.maxReadings = 3 }) { client in
            let readings = (0..<4).map { ("2023-01-01T00:00:0\($0)Z", UInt64(1)) }
            let exact = try await client.ingest("n", Array(readings.prefix(3)))
            #expect(exact.status == .accepted)
            let over = try await client.ingest("m", readings)
            #expect(over.status == .contentTooLarge)
            #expect(try over.json["error"]?["code"]?.string == "TOO_MANY_READINGS")
            #expect(try await client.get("/devices/m").status == .notFound)
            try await client.expectStillServing()
        }
    }

    @Test(arguments: Engine.allCases)
    func defaultReadingsLimitIs100000(engine: Engine) async throws {
        try await withApp(engine) { client in
            let element = #"{"timestamp":"2023-01-01T00:00:00Z","count":1}"#
            let atLimit = "{\"id\":\"many\",\"readings\":[" + Array(repeating: element, count: 100_000).joined(separator: ",") + "]}"
            let response = try await client.ingest(atLimit)
            #expect(response.status == .init(code: 207))  // all but the first are duplicates
            #expect(try response.json["duplicates"]?.int == 99_999)
            let over = "{\"id\":\"many2\",\"readings\":[" + Array(repeating: element, count: 100_001).joined(separator: ",") + "]}"
            let refused = try await client.ingest(over)
            #expect(refused.status == .contentTooLarge)
            #expect(try refused.json["error"]?["code"]?.string == "TOO_MANY_READINGS")
        }
    }
}
