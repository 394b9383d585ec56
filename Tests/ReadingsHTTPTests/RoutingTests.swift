import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import ReadingsHTTP

/// Unknown routes, wrong methods, and the operational routes.
@Suite struct RoutingTests {
    @Test(
        arguments: Engine.allCases,
        [
            "/nope", "/devices/x/y", "/devices/x/buckets/y", "/ingest/extra", "/devices/x/latest",
            // Empty segments: never another route (a device named latest_timestamp exists here).
            "/devices/", "/devices//latest_timestamp", "//devices", "/health/", "/devices/latest_timestamp/",
        ])
    func unknownRouteListsEveryRoute(engine: Engine, path: String) async throws {
        try await withApp(engine) { client in
            _ = try await client.ingest("latest_timestamp", [("2023-01-01T00:00:00Z", 1)])
            let response = try await client.get(path)
            #expect(response.status == .notFound)
            let body = try response.json
            #expect(body["error"]?["code"]?.string == "RESOURCE_NOT_FOUND")
            #expect(body["error"]?["message"]?.string == "Not Found")
            #expect(body["routes"]?.array?.compactMap(\.string) == APIRoute.all.map(\.description))
            #expect(body["routes"]?.array?.compactMap(\.string).contains("GET /devices/{id}/latest_timestamp") == true)
        }
    }

    @Test(arguments: Engine.allCases)
    func knownRouteWithOtherMethodIs405WithAllow(engine: Engine) async throws {
        try await withApp(engine) { client in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/ingest", .get, "POST"), ("/ingest", .put, "POST"), ("/ingest", .delete, "POST"),
                ("/devices/x", .post, "GET, DELETE, HEAD"), ("/devices/x/latest_timestamp", .delete, "GET, HEAD"),
                ("/devices/x/export", .delete, "GET, HEAD"),
                ("/devices/x/cumulative_count", .patch, "GET, HEAD"), ("/health", .post, "GET, HEAD"),
                ("/devices", .post, "GET, HEAD"), ("/devices/x/buckets", .put, "GET, HEAD"),
            ]
            for (path, method, allow) in cases {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                #expect(response.headers[.allow] == allow, "\(method) \(path)")
                #expect(try response.json["error"]?["code"]?.string == "METHOD_NOT_ALLOWED")
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func healthAndReadyAnswer200(engine: Engine) async throws {
        try await withApp(engine) { client in
            let health = try await client.get("/health")
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)
            let ready = try await client.get("/ready")
            #expect(ready.status == .ok)
        }
    }
}
