import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import ReadingsHTTP

/// The files built into the binary: the OpenAPI document and the dashboard's files, and HEAD.
@Suite struct StaticFilesTests {
    @Test func openAPIDocumentParsesAndListsExactlyTheRegisteredRoutes() async throws {
        try await withApp(.memory) { client in
            let response = try await client.get("/openapi.json")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(
                paths.flatMap { path, operations in
                    operations.keys.filter { ["get", "post", "put", "delete", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
                })
            #expect(documented == Set(APIRoute.all.map(\.description)))
            // Every operation describes its responses.
            for (path, operations) in paths {
                for (method, operation) in operations where ["get", "post"].contains(method) {
                    let responses = (operation as? [String: Any])?["responses"] as? [String: Any]
                    #expect(responses?.isEmpty == false, "\(method) \(path)")
                }
            }
        }
    }

    @Test(arguments: [
        ("/", "text/html; charset=utf-8", "<!doctype html"), ("/dashboard.js", "text/javascript; charset=utf-8", ""),
        ("/dashboard.css", "text/css; charset=utf-8", ""),
    ])
    func dashboardFilesAreServedWithTypesAndRevalidation(path: String, type: String, start: String) async throws {
        try await withApp(.memory, .live) { client in
            let response = try await client.get(path)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == type)
            #expect(response.body.readableBytes > 100)
            #expect(response.text.lowercased().hasPrefix(start))
            #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(response.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'self'") == true)
            let etag = try #require(response.headers[.eTag])
            let again = try await client.execute(uri: path, method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            #expect(again.body.readableBytes == 0)
            let head = try await client.execute(uri: path, method: .head)
            #expect(head.status == .ok)
            #expect(head.headers[.contentLength] == String(response.body.readableBytes))
        }
    }

    @Test(arguments: Engine.allCases)
    func headAnswersEveryGetRouteWithoutABody(engine: Engine) async throws {
        try await withApp(engine, .live) { client in
            _ = try await client.ingest("h", [("2023-01-01T00:00:00Z", 1)])
            for path in ["/health", "/ready", "/devices", "/devices/h", "/devices/h/latest_timestamp", "/metrics"] {
                let head = try await client.execute(uri: path, method: .head)
                #expect(head.status == .ok, "\(path)")
                #expect(head.body.readableBytes == 0, "\(path)")
            }
            #expect(try await client.execute(uri: "/devices/nope", method: .head).status == .notFound)
        }
    }
}
