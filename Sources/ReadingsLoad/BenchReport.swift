import Foundation
import ReadingsDomain

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
    /// What the load run did.
    var outcome: BenchLoadRunner.Outcome
    /// `GET /metrics` before and after the run, when the server has those metrics.
    var metricsBefore: BenchMetrics?
    /// See `metricsBefore`.
    var metricsAfter: BenchMetrics?
    /// The read-back verdict; nil when the run failed before it.
    var verification: BenchVerifier.Report?

    private var requests: Int { outcome.connections.reduce(0) { $0 + $1.latency.count } }
    private var readingsSent: Int { outcome.connections.reduce(0) { $0 + $1.readingsSent } }
    private var seconds: Double { Double(outcome.elapsedNanoseconds) / 1e9 }
    private var latency: BenchLatency {
        BenchLatency(outcome.connections.reduce(into: BenchLatencyHistogram()) { $0.merge($1.latency) })
    }
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
            "  order       \(shape.order.rawValue): " + orderText(percent(plannedOutOfOrder, readingsTotal)),
            "              \(plannedDuplicates) repeats (\(percent(plannedDuplicates, readingsTotal))%): "
                + "\(plannedSends) readings in \(plannedRequests) requests, built while sending "
                + "(at most \(BenchRequestStream.devicesInFlight) devices in flight per connection)",
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
            ("url", url.jsonQuoted),
            ("devices", "\(shape.devices)"),
            ("readings_per_device", "\(shape.readings)"),
            ("batch", "\(shape.batch)"),
            ("order", shape.order.rawValue.jsonQuoted),
            ("concurrency", "\(shape.connections)"),
            ("duplicates_percent", "\(shape.duplicatePercent)"),
            ("out_of_order_percent", "\(shape.outOfOrderPercent)"),
            ("seed", "\(shape.seed)"),
            ("id_prefix", shape.idPrefix.jsonQuoted),
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

    /// What `--order` did, for the summary; `outOfOrderPercent` is the share of swapped readings.
    private func orderText(_ outOfOrderPercent: String) -> String {
        switch shape.order {
        case .in, .late:
            "time order, \(plannedOutOfOrder) readings out of order (\(outOfOrderPercent)%)"
        case .shuffled:
            "each device's history in a seeded random order"
        case .reversed:
            "each device's history newest first"
        }
    }

    /// The summary and JSON line of `--generate-only`: how fast requests were built.
    static func generationLines(_ generation: BenchLoadRunner.Generation, shape: BenchWorkload.Shape) -> [String] {
        let seconds = Double(generation.elapsedNanoseconds) / 1e9
        let perSecond = { (amount: Int) in seconds > 0 ? Double(amount) / seconds : 0 }
        let format = BenchReport.decimal
        return [
            "device-readings bench --generate-only: nothing sent",
            "  workload    \(shape.devices) devices × \(shape.readings) readings, \(shape.batch) per request, "
                + "order \(shape.order.rawValue), seed \(shape.seed)",
            "  built       \(generation.readings) readings in \(generation.requests) requests "
                + "(\(generation.bytes) bytes) in \(format(seconds, 3)) s on \(generation.threads) threads",
            "  speed       \(format(perSecond(generation.readings), 0)) readings/s, "
                + "\(format(perSecond(generation.bytes) / 1_048_576, 1)) MiB/s",
            "{\"generate_only\":true,\"devices\":\(shape.devices),\"readings_per_device\":\(shape.readings),"
                + "\"batch\":\(shape.batch),\"order\":\(shape.order.rawValue.jsonQuoted),"
                + "\"threads\":\(generation.threads),\"readings\":\(generation.readings),\"requests\":\(generation.requests),"
                + "\"bytes\":\(generation.bytes),\"seconds\":\(format(seconds, 3)),"
                + "\"readings_per_second\":\(format(perSecond(generation.readings), 1))}",
        ]
    }

    private func rate(_ amount: Int) -> Double {
        seconds > 0 ? Double(amount) / seconds : 0
    }

    private func fixed(_ value: Double, _ digits: Int) -> String {
        BenchReport.decimal(value, digits)
    }

    /// `value` with `digits` decimals.
    private static func decimal(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
