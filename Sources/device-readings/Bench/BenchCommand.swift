import ArgumentParser
import Foundation

/// `device-readings bench`: a load generator for sizing a deployment, in the manner of pgbench
/// or redis-benchmark. It generates every device's readings and request bodies up front, sends
/// them over persistent HTTP/1.1 connections from dedicated threads, times every request, prints
/// a summary and one JSON line, then reads devices back to verify the server kept exactly what it
/// acknowledged.
struct BenchCommand: ParsableCommand {
    /// The subcommand's name and help.
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a running server: ingest generated readings, report throughput and latency, verify the result.",
        discussion: """
            Readings: each device reports every 60 s from 2024-01-01T00:00:00Z with 0-29 s of whole-second \
            jitter, counts 0-50, all derived from --seed. Request bodies are built before the clock starts. \
            Each device belongs to one connection, which sends its batches in order; devices on a connection \
            take turns. Repeats (--duplicates) are exact copies of readings sent at least one request \
            earlier; out-of-order readings (--out-of-order) trade places with readings in earlier requests.

            Output: a summary, then one JSON line (readings/s, requests/s, latency percentiles, answers by \
            status, accepted/duplicate totals from the answers, bytes per reading from GET /metrics when the \
            server reports readings_stored and store_memory_bytes).

            Verification: for every device (at most 2000, evenly spread), cumulative_count must equal the sum \
            of the counts of the distinct readings in acknowledged requests, and latest_timestamp their \
            greatest timestamp. Exit status: 0 when all matches, 1 on an error (connection refused, not HTTP), \
            2 when verification finds a mismatch, 64 for bad flags.
            """
    )

    /// Where the server listens.
    @Option(help: "Base URL of the server (http://HOST[:PORT][/PATH]).")
    var url = "http://127.0.0.1:3000"

    /// How many devices to simulate.
    @Option(help: "Devices to simulate.")
    var devices = 1000

    /// Readings generated for each device.
    @Option(help: "Readings per device.")
    var readings = 1000

    /// Readings in each ingest request.
    @Option(help: "Readings per request.")
    var batch = 1000

    /// Connections (and sending threads).
    @Option(help: "Concurrent keep-alive connections, each on its own thread.")
    var concurrency = 16

    /// Share of readings repeated later as exact retries.
    @Option(help: "Percent of readings sent again, in a later request, as exact retries (0-100).")
    var duplicates = 0.0

    /// Share of readings sent out of time order.
    @Option(help: "Percent of readings sent out of time order (0-100).")
    var outOfOrder = 0.0

    /// Time limit for sending, in seconds.
    @Option(help: "Stop sending new requests after this many seconds (default: until all readings are sent).")
    var duration: Double?

    /// Seed of the generated workload.
    @Option(help: "Seed for the generated readings.")
    var seed: UInt64 = 42

    /// Prefix of every device id.
    @Option(help: "Device id prefix; ids are PREFIX0, PREFIX1, ... (default: bench-<random>-, fresh for each run).")
    var idPrefix: String?

    /// Bearer key for servers that require one.
    @Option(help: "Send 'Authorization: Bearer KEY' (for servers started with --api-key). (default: none)")
    var apiKey: String?

    /// Ask for minimal ingest answers.
    @Flag(help: "Send 'Prefer: return=minimal' so answers list only readings not accepted. (default: off)")
    var returnMinimal = false

    /// Checks the flags before anything is sent.
    func validate() throws {
        try require(devices, in: 1...10_000_000, "--devices")
        try require(readings, in: 1...10_000_000, "--readings")
        try require(batch, in: 1...10_000_000, "--batch")
        try require(concurrency, in: 1...4096, "--concurrency")
        guard (0...100).contains(duplicates) else { throw ValidationError("--duplicates must be a percentage, 0-100") }
        guard (0...100).contains(outOfOrder) else { throw ValidationError("--out-of-order must be a percentage, 0-100") }
        if let duration, !(duration > 0 && duration < 1e9) {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        if let idPrefix {
            let longest = idPrefix.unicodeScalars.count + String(devices - 1).count
            guard longest <= 128 else {
                throw ValidationError("--id-prefix is too long: device ids may have at most 128 Unicode scalars")
            }
            guard !idPrefix.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
            else { throw ValidationError("--id-prefix must not contain control characters") }
        }
        _ = try BenchTarget(url: url)
        let bytesNeeded = estimatedBytes
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        if memory > 0 && bytesNeeded > memory * 0.7 {
            throw ValidationError(
                "pre-building \(devices) × \(readings) readings needs about \(Int(bytesNeeded / 1_073_741_824)) GiB, "
                    + "more than this machine can spare; use fewer --devices or --readings")
        }
    }

    /// Checks the server answers, generates the workload, sends it, reports, verifies.
    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let target = try BenchTarget(url: url)
        let shape = BenchWorkload.Shape(
            devices: devices, readings: readings, batch: batch, duplicatePercent: duplicates,
            outOfOrderPercent: outOfOrder, seed: seed, idPrefix: idPrefix ?? BenchCommand.freshPrefix(),
            connections: min(concurrency, devices))

        // Fails fast, before generating, when nothing (or no HTTP server) listens at --url.
        let metricsBefore = try BenchMetrics.fetch(from: target)

        let estimate = estimatedBytes / 1_048_576
        progress("generating \(devices * readings) readings for \(devices) devices (about \(Int(estimate.rounded(.up))) MiB in memory)...")
        let generationStart = BenchThreads.now()
        let workload = BenchWorkload(shape: shape, target: target, apiKey: apiKey, returnMinimal: returnMinimal)
        let generationSeconds = Double(BenchThreads.now() - generationStart) / 1e9

        progress(
            "sending \(workload.sendCount) readings in \(workload.requestCount) requests over \(shape.connections) connections"
                + (duration.map { " (at most \($0) s)" } ?? "") + "...")
        let outcome = BenchLoadRunner.run(workload, target: target, duration: duration)

        var report = BenchReport(
            url: url, shape: shape, plannedRequests: workload.requestCount, plannedSends: workload.sendCount,
            plannedDuplicates: workload.duplicateCount, plannedOutOfOrder: workload.outOfOrderCount,
            generationSeconds: generationSeconds, outcome: outcome, metricsBefore: metricsBefore, metricsAfter: nil,
            verification: nil)
        if let error = outcome.error {
            print(report.text)
            print(report.jsonLine)
            fflush(nil)
            throw error
        }
        report.metricsAfter = (try? BenchMetrics.fetch(from: target)) ?? nil

        progress("verifying...")
        report.verification = try BenchVerifier.verify(
            workload, outcome: outcome, target: target, threads: min(shape.connections, 8))
        print(report.text)
        print(report.jsonLine)
        if report.verification?.mismatches.isEmpty == false {
            throw ExitCode(2)
        }
    }

    /// Memory the pre-built workload takes, roughly: ~60 bytes per reading sent (JSON and
    /// plan), ~180 per request (head, framing, bookkeeping).
    private var estimatedBytes: Double {
        let sendsPerDevice = (Double(readings) * (1 + duplicates / 100)).rounded(.up)
        let requests = Double(devices) * (sendsPerDevice / Double(batch)).rounded(.up)
        return Double(devices) * sendsPerDevice * 60 + requests * 180
    }

    /// `bench-` and eight random base-36 characters and `-`: a prefix no earlier run used.
    private static func freshPrefix() -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var generator = SystemRandomNumberGenerator()
        let suffix = (0..<8).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
        return "bench-" + String(suffix) + "-"
    }

    private func require(_ value: Int, in range: ClosedRange<Int>, _ flag: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    private func progress(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
