import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import ReadingsPersistence
import Testing

@testable import ReadingsHTTP

/// What clients see while storage is not open: a journaled store before its recovery has run
/// answers `/ready` 503 and every storage call `503 UNAVAILABLE` with `Retry-After`; `/health`
/// still answers 200. Then, once recovered, it serves.
@Suite struct StorageAvailabilityTests {
    @Test func beforeRecoveryEverythingButHealthIs503ThenItServes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-http-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try JournaledStore(directory: directory, logger: quietLogger)
        let app = buildApplication(configuration: ServerConfiguration(port: 0), store: store, logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.get("/health").status == .ok)
            #expect(try await client.get("/ready").status == .serviceUnavailable)
            for response in [
                try await client.ingest("d", [("2024-01-01T00:00:00Z", 1)]),
                try await client.get("/devices/d"),
                try await client.get("/devices/d/latest_timestamp"),
            ] {
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(try response.json["error"]?["code"]?.string == "UNAVAILABLE")
            }
            let running = Task { try await store.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while try await client.get("/ready").status != .ok {
                try #require(ContinuousClock.now < deadline, "recovery of an empty directory did not finish")
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await client.ingest("d", [("2024-01-01T00:00:00Z", 1)]).status == .accepted)
            running.cancel()
            try await running.value
        }
    }
}
