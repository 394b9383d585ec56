import HTTPTypes
import HummingbirdTesting
import Testing

/// `X-Request-Id`: a good client id is echoed, anything else replaced by a generated one, on
/// successes and errors alike.
@Suite struct RequestIDTests {
    @Test(arguments: Engine.allCases)
    func requestIDsAreEchoedOrGenerated(engine: Engine) async throws {
        try await withApp(engine) { client in
            let name = HTTPField.Name("X-Request-Id")!
            for uri in ["/health", "/nope", "/devices/unknown"] {
                let echoed = try await client.execute(uri: uri, method: .get, headers: [name: "client-abc.123"])
                #expect(echoed.headers[name] == "client-abc.123", "\(uri)")
                let generated = try await client.execute(uri: uri, method: .get)
                let id = try #require(generated.headers[name])
                #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "\(uri): \(id)")
                let replaced = try await client.execute(uri: uri, method: .get, headers: [name: String(repeating: "x", count: 129)])
                #expect(replaced.headers[name]?.count == 32)
            }
            let ingest = try await client.ingest(
                "d", [("2024-01-01T00:00:00Z", 1)], headers: [.contentType: "application/json", name: "batch-7"])
            #expect(ingest.headers[name] == "batch-7")
            let refused = try await client.ingest("{", headers: [.contentType: "application/json", name: "batch-8"])
            #expect(refused.status == .badRequest)
            #expect(refused.headers[name] == "batch-8")
        }
    }
}
