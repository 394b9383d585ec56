import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import ReadingsPersistence
import ReadingsPostgres
import ReadingsStorage
import Testing

@testable import ReadingsHTTP

/// `GET /metrics` after known traffic: exact counter values, bounded labels, store gauges, and
/// the journal's and PostgreSQL's figures when those engines run.
@Suite struct MetricsTests {
    @Test(arguments: Engine.allCases)
    func countersMoveExactlyWithKnownTraffic(engine: Engine) async throws {
        try await withApp(engine) { client in
            let response = try await client.ingest(
                "m",
                [
                    ("2023-01-01T00:00:00Z", 1), ("2023-01-01T00:00:01Z", 2), ("2023-01-01T00:00:02Z", 3),
                    ("2023-01-01T00:00:00Z", 1), ("2023-01-01T00:00:01Z", 9), ("2023-02-30T00:00:00Z", 1),
                ])
            #expect(response.status.code == 207)
            _ = try await client.ingest("m", [("2023-01-01T00:00:03Z", 4)])
            for _ in 0..<2 { #expect(try await client.get("/devices/m").status == .ok) }
            #expect(try await client.get("/devices/\(pathSegment("secret id 42"))").status == .notFound)
            #expect(try await client.get("/no/such/route").status == .notFound)
            #expect(try await client.execute(uri: "/health", method: .delete).status == .methodNotAllowed)

            let metrics = try await client.get("/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let samples = Samples(metrics.text)
            #expect(samples[#"readings_ingested_total{outcome="accepted"}"#] == 4)
            #expect(samples[#"readings_ingested_total{outcome="duplicate"}"#] == 1)
            #expect(samples[#"readings_ingested_total{outcome="conflicting"}"#] == 1)
            #expect(samples[#"readings_ingested_total{outcome="rejected"}"#] == 1)
            #expect(samples[#"http_requests_total{method="POST",route="/ingest",status="207"}"#] == 1)
            #expect(samples[#"http_requests_total{method="POST",route="/ingest",status="202"}"#] == 1)
            #expect(samples[#"http_requests_total{method="GET",route="/devices/{id}",status="200"}"#] == 2)
            #expect(samples[#"http_requests_total{method="GET",route="/devices/{id}",status="404"}"#] == 1)
            #expect(samples[#"http_requests_total{method="GET",route="unmatched",status="404"}"#] == 1)
            #expect(samples[#"http_requests_total{method="DELETE",route="/health",status="405"}"#] == 1)
            #expect(samples[#"http_request_duration_seconds_count{method="GET",route="/devices/{id}"}"#] == 3)
            #expect(samples[#"http_request_duration_seconds_count{method="POST",route="/ingest"}"#] == 2)
            // Never a raw id or path in a label.
            #expect(!metrics.text.contains("secret") && !metrics.text.contains("/no/such"))
            #expect(samples["devices_stored"] == 1)
            #expect(samples["readings_stored"] == 4)
            let bytes = try #require(samples["store_memory_bytes"])
            #expect(engine == .postgres ? bytes == 0 : bytes > 0)
        }
    }

    @Test func journalSyncsAndAppendsAreCounted() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let metrics = ServiceMetrics()
        let store = try JournaledStore(
            directory: directory, policy: .always, metrics: JournalMetrics(factory: metrics.factory), logger: quietLogger)
        let app = buildApplication(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0), store: store, services: [store], metrics: metrics,
            logger: quietLogger)
        try await app.test(.router) { client in
            while try await client.get("/ready").status != .ok { try await Task.sleep(for: .milliseconds(10)) }
            for second in 0..<5 {
                let response = try await client.ingest("j", [(String(format: "2023-01-01T00:00:%02dZ", second), 1)])
                #expect(response.status == .accepted)
            }
            // A repeat appends nothing but still waits for durability.
            #expect(try await client.ingest("j", [("2023-01-01T00:00:00Z", 1)]).status.code == 207)
            let samples = Samples(try await client.get("/metrics").text)
            #expect(samples["journal_appends_total"] == 5)
            // sync=always: at least one fsync per acknowledged batch may be shared (group commit),
            // but never fewer than one, and every one is timed.
            let syncs = try #require(samples["journal_syncs_total"])
            #expect(syncs >= 1 && syncs <= 6)
            #expect(samples["journal_sync_duration_seconds_count"] == syncs)
            #expect(samples["readings_stored"] == 5)
        }
    }

    @Test(.enabled(if: Engine.postgresURL != nil, "needs POSTGRES_TEST_URL (make test starts a throwaway server)"))
    func postgresPoolFiguresAreExposed() async throws {
        let metrics = ServiceMetrics()
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let store = try PostgresStore(
            url: Engine.postgresURL!, poolSize: 3, schema: schema, timeout: .seconds(30), readinessTimeout: .seconds(30),
            metrics: metrics.factory, logger: quietLogger)
        let app = buildApplication(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0), store: store, services: [store], metrics: metrics,
            logger: quietLogger)
        try await app.test(.router) { client in
            while try await client.get("/ready").status != .ok { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await client.ingest("p", [("2023-01-01T00:00:00Z", 1)]).status == .accepted)
            #expect(try await client.get("/devices/p").status == .ok)
            let samples = Samples(try await client.get("/metrics").text)
            #expect(samples["postgres_pool_connections_max"] == 3)
            // The ingest, the read, and the statistics of this scrape are in flight or done.
            #expect((samples["postgres_call_duration_seconds_count"] ?? 0) >= 2)
            #expect(samples["postgres_call_failures_total"] == 0)
            #expect(samples["devices_stored"] == 1)
        }
    }
}

/// The samples of a Prometheus text exposition, by series (name with labels as written).
struct Samples {
    private var values: [String: Double] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
    }

    subscript(_ series: String) -> Double? { values[series] }
}
