import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import ReadingsHTTP

/// API keys: every case of the Authorization header, read-only keys, open probes.
@Suite struct AuthTests {
    func withKeys(_ engine: Engine, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await withApp(
            engine,
            configure: {
                $0.apiKeys = ["write-key", "second-key"]
                $0.readAPIKeys = ["read-key"]
            }, body)
    }

    func headers(_ authorization: String?) -> HTTPFields {
        var headers = jsonHeaders
        if let authorization { headers[.authorization] = authorization }
        return headers
    }

    @Test(
        arguments: Engine.allCases,
        [
            nil, "Basic d3JpdGUta2V5", "Bearer", "Bearer wrong-key", "Bearer write-ke", "Bearer write-key2", "write-key",
            // A key followed by 256 bytes (or 512): once accepted, when length differences were folded into a byte.
            "Bearer write-key" + String(repeating: "x", count: 256), "Bearer read-key" + String(repeating: "y", count: 512),
        ])
    func missingOrWrongKeysAre401(engine: Engine, authorization: String?) async throws {
        try await withKeys(engine) { client in
            for (uri, method) in [
                ("/ingest", HTTPRequest.Method.post), ("/devices/d", .get), ("/devices/d/latest_timestamp", .get), ("/nope", .get),
            ] {
                let body = method == .post ? ByteBuffer(string: ingestBody("d", [("2024-01-01T00:00:00Z", 1)])) : nil
                let response = try await client.execute(uri: uri, method: method, headers: headers(authorization), body: body)
                #expect(response.status == .unauthorized, "\(method) \(uri) with \(authorization ?? "no header")")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(try response.json["error"]?["code"]?.string == "UNAUTHORIZED")
            }
            let stored = try await client.execute(uri: "/devices/d", method: .get, headers: headers("Bearer write-key"))
            #expect(stored.status == .notFound)
        }
    }

    @Test(arguments: Engine.allCases)
    func writeKeysIngestReadKeysOnlyRead(engine: Engine) async throws {
        try await withKeys(engine) { client in
            let body = ByteBuffer(string: ingestBody("d", [("2024-01-01T00:00:00Z", 4)]))
            let forbidden = try await client.execute(uri: "/ingest", method: .post, headers: headers("Bearer read-key"), body: body)
            #expect(forbidden.status == .forbidden)
            #expect(try forbidden.json["error"]?["code"]?.string == "FORBIDDEN")
            let accepted = try await client.execute(uri: "/ingest", method: .post, headers: headers("bearer second-key"), body: body)
            #expect(accepted.status == .accepted)
            for key in ["read-key", "write-key"] {
                let read = try await client.execute(uri: "/devices/d/cumulative_count", method: .get, headers: headers("Bearer \(key)"))
                #expect(read.text == #"{"cumulative_count":4}"#)
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func probesNeedNoKey(engine: Engine) async throws {
        try await withKeys(engine) { client in
            let health = try await client.get("/health")
            let ready = try await client.get("/ready")
            #expect(health.status == .ok)
            #expect(ready.status == .ok)
            // The API's description, the dashboard's files (the page asks for a key itself) and
            // /metrics without --metrics-auth are open too; the data routes are not.
            for path in ["/metrics", "/openapi.json", "/", "/dashboard.js", "/dashboard.css"] {
                #expect(try await client.get(path).status == .ok, "\(path)")
            }
            for path in ["/devices", "/devices/x", "/devices/x/buckets?from=2023-01-01T00:00:00Z&to=2023-01-02T00:00:00Z&step=1h"] {
                #expect(try await client.get(path).status == .unauthorized, "\(path)")
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func metricsAuthPutsMetricsBehindAKey(engine: Engine) async throws {
        try await withApp(
            engine,
            configure: {
                $0.apiKeys = ["write-key"]
                $0.readAPIKeys = ["read-key"]
                $0.metricsAuth = true
            }
        ) { client in
            let open = try await client.get("/metrics")
            #expect(open.status == .unauthorized)
            #expect(open.headers[.wwwAuthenticate] == "Bearer")
            let read = try await client.execute(uri: "/metrics", method: .get, headers: headers("Bearer read-key"))
            #expect(read.status == .ok)
            #expect(read.text.contains("readings_ingested_total"))
            #expect(try await client.get("/health").status == .ok)
        }
    }

    @Test func comparisonIsExact() {
        let keys = [Array("abc".utf8), Array("xyz1".utf8)]
        #expect(Auth.matchesAny(Array("abc".utf8), keys))
        #expect(Auth.matchesAny(Array("xyz1".utf8), keys))
        for wrong in ["ab", "abcd", "abd", "", "xyz", "xyz12", "ABC"] {
            #expect(!Auth.matchesAny(Array(wrong.utf8), keys), "\(wrong)")
        }
    }

    /// A configured empty key (only reachable in code: the command line refuses one) matches no token.
    @Test func anEmptyKeyMatchesNothing() {
        for length in [0, 1, 255, 256, 257, 512] {
            #expect(!Auth.matchesAny(Array(repeating: 0x41, count: length), [[]]))
        }
        #expect(Auth.matchesAny(Array("k".utf8), [[], Array("k".utf8)]))
    }
}
