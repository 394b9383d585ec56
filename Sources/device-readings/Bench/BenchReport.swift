import Foundation

/// The end of a run, written twice: a summary for people and one JSON line for scripts.
struct BenchReport {
    /// The URL the run was sent to.
    var url: String
    /// The generated workload's shape.
    var shape: BenchWorkload.Shape
    /// Requests and readings planned.
    var plannedRequests: Int
    /// See `plannedRequests`.
    var plannedSends: Int
    /// Repeats and out-of-order readings planned.
    var plannedDuplicates: Int
    /// See `plannedDuplicates`.
    var plannedOutOfOrder: Int
    /// Seconds spent generating (not part of the measurement).
    var generationSeconds: Double
    /// What the load run did.
    var outcome: BenchLoadRunner.Outcome
    /// `GET /metrics` before and after the run, when the server has those metrics.
    var metricsBefore: BenchMetrics?
    /// See `metricsBefore`.
    var metricsAfter: BenchMetrics?
    /// The read-back verdict; nil when the run failed before it.
    var verification: BenchVerifier.Report?

    private var requests: Int { outcome.connections.reduce(0) { $0 + $1.latencies.count } }
    private var readingsSent: Int { outcome.connections.reduce(0) { $0 + $1.readingsSent } }
    private var seconds: Double { Double(outcome.elapsedNanoseconds) / 1e9 }
    private var latency: BenchLatency { BenchLatency(nanoseconds: outcome.connections.flatMap(\.latencies)) }
    private var statuses: [Int: Int] {
        outcome.connections.reduce(into: [:]) { all, connection in all.merge(connection.statuses, uniquingKeysWith: +) }
    }
    private var accepted: Int { outcome.connections.reduce(0) { $0 + $1.accepted } }
    private var duplicates: Int { outcome.connections.reduce(0) { $0 + $1.duplicates } }
    private var rejected: Int { outcome.connections.reduce(0) { $0 + $1.rejected } }

    /// Bytes per stored reading and how it was worked out; nil when `/metrics` lacks the numbers.
    private var bytesPerReading: (value: Double, basis: String)? {
        guard let after = metricsAfter else { return nil }
        if let before = metricsBefore, after.readingsStored > before.readingsStored {
            return (
                (after.memoryBytes - before.memoryBytes) / (after.readingsStored - before.readingsStored),
                "growth of store_memory_bytes / growth of readings_stored during this run"
            )
        }
        guard after.readingsStored > 0 else { return nil }
        return (after.memoryBytes / after.readingsStored, "store_memory_bytes / readings_stored")
    }

    /// The multi-line summary.
    var text: String {
        let statuses = statuses
        let latency = latency
        let other = statuses.filter { $0.key != 202 && $0.key != 207 }.sorted { $0.key < $1.key }
        let otherText = other.isEmpty ? "0" : other.map { "\($0.value) × \($0.key)" }.joined(separator: ", ")
        let percent = { (part: Int, whole: Int) in whole == 0 ? "0" : fixed(100 * Double(part) / Double(whole), 1) }
        let readingsTotal = shape.devices * shape.readings
        var lines = [
            "device-readings bench → \(url)",
            "  workload    \(shape.devices) devices × \(shape.readings) readings, \(shape.batch) per request, "
                + "\(shape.connections) connections, seed \(shape.seed), ids \(shape.idPrefix)N",
            "              \(plannedDuplicates) repeats (\(percent(plannedDuplicates, readingsTotal))%), "
                + "\(plannedOutOfOrder) readings out of order (\(percent(plannedOutOfOrder, readingsTotal))%): "
                + "\(plannedSends) readings in \(plannedRequests) requests, generated in \(fixed(generationSeconds, 2)) s (not timed)",
            "  sent        \(readingsSent) readings in \(requests) requests in \(fixed(seconds, 3)) s"
                + (outcome.complete ? "" : " (stopped early: \(plannedRequests - requests) requests unsent)"),
            "  throughput  \(fixed(rate(readingsSent), 0)) readings/s, \(fixed(rate(requests), 0)) requests/s",
            "  latency     p50 \(fixed(latency.p50, 3)) ms, p90 \(fixed(latency.p90, 3)) ms, p99 \(fixed(latency.p99, 3)) ms, "
                + "p99.9 \(fixed(latency.p999, 3)) ms, max \(fixed(latency.max, 3)) ms",
            "  answers     202: \(statuses[202] ?? 0), 207: \(statuses[207] ?? 0), other: \(otherText)",
            "  ingested    accepted \(accepted), duplicates \(duplicates), rejected \(rejected)",
        ]
        if let memory = bytesPerReading {
            lines.append("  memory      \(fixed(memory.value, 1)) bytes per reading (\(memory.basis))")
        } else {
            lines.append("  memory      bytes per reading not available (no GET /metrics with readings_stored and store_memory_bytes)")
        }
        if let verification {
            if verification.mismatches.isEmpty {
                lines.append("  verify      OK: \(verification.checkedDevices) devices read back match what was acknowledged")
            } else {
                lines.append(
                    "  verify      FAILED: \(verification.mismatches.count) mismatches (\(verification.checkedDevices) devices read back)")
                lines += verification.mismatches.prefix(20).map { "    \($0)" }
                if verification.mismatches.count > 20 {
                    lines.append("    ... and \(verification.mismatches.count - 20) more")
                }
            }
        } else {
            lines.append("  verify      skipped: the run failed")
        }
        return lines.joined(separator: "\n")
    }

    /// One line of JSON with every number of the summary.
    var jsonLine: String {
        let statuses = statuses
        let latency = latency
        let other = statuses.reduce(0) { $0 + ($1.key == 202 || $1.key == 207 ? 0 : $1.value) }
        let memory = bytesPerReading.map { fixed($0.value, 1) } ?? "null"
        let verified = verification.map { $0.mismatches.isEmpty ? "true" : "false" } ?? "null"
        let fields: [(String, String)] = [
            ("url", BenchWireEncoding.jsonString(url)),
            ("devices", "\(shape.devices)"),
            ("readings_per_device", "\(shape.readings)"),
            ("batch", "\(shape.batch)"),
            ("concurrency", "\(shape.connections)"),
            ("duplicates_percent", "\(shape.duplicatePercent)"),
            ("out_of_order_percent", "\(shape.outOfOrderPercent)"),
            ("seed", "\(shape.seed)"),
            ("id_prefix", BenchWireEncoding.jsonString(shape.idPrefix)),
            ("complete", outcome.complete ? "true" : "false"),
            ("readings_sent", "\(readingsSent)"),
            ("requests", "\(requests)"),
            ("seconds", fixed(seconds, 3)),
            ("readings_per_second", fixed(rate(readingsSent), 1)),
            ("requests_per_second", fixed(rate(requests), 1)),
            (
                "latency_ms",
                "{\"p50\":\(fixed(latency.p50, 3)),\"p90\":\(fixed(latency.p90, 3)),\"p99\":\(fixed(latency.p99, 3)),"
                    + "\"p99_9\":\(fixed(latency.p999, 3)),\"max\":\(fixed(latency.max, 3))}"
            ),
            ("status", "{\"202\":\(statuses[202] ?? 0),\"207\":\(statuses[207] ?? 0),\"other\":\(other)}"),
            ("accepted", "\(accepted)"),
            ("duplicates", "\(duplicates)"),
            ("rejected", "\(rejected)"),
            ("bytes_per_reading", memory),
            ("verified_devices", "\(verification?.checkedDevices ?? 0)"),
            ("mismatches", "\(verification?.mismatches.count ?? 0)"),
            ("verified", verified),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    private func rate(_ amount: Int) -> Double {
        seconds > 0 ? Double(amount) / seconds : 0
    }

    private func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
