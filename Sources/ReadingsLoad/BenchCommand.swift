import ArgumentParser
import Foundation

/// `device-readings bench`: a load generator for sizing a deployment, in the manner of pgbench
/// or redis-benchmark. It sends generated readings over persistent HTTP/1.1 connections from
/// dedicated threads, building each request just before sending it (so a run of a billion
/// readings takes no more memory than one of a thousand), times every request, prints a summary
/// and one JSON line, then reads devices back to verify the server kept exactly what it
/// acknowledged.
public struct BenchCommand: ParsableCommand {
    /// The subcommand's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a running server: ingest generated readings, report throughput and latency, verify the result.",
        discussion: """
            Readings: each device reports every 60 s from 2024-01-01T00:00:00Z with 0-29 s of whole-second \
            jitter, counts 0-50, all derived from --seed. Each device belongs to one connection, which sends \
            its requests in order; a connection works on at most \(BenchRequestStream.devicesInFlight) of its \
            devices at a time, which take turns, and builds each request just before sending it, so memory \
            depends on --batch and --concurrency, not on --devices or --readings.

            Order (--order): in sends each device's history in time order, with --out-of-order P % of its \
            readings trading places with others (so newer readings arrive before older ones, usually in a \
            much later request); late is in with --out-of-order defaulting to 10; shuffled sends each \
            device's whole history in a seeded pseudo-random order; reversed sends it newest first. \
            --out-of-order applies to in and late only. With every order, repeats (--duplicates) are exact \
            copies of readings first sent in an earlier request of the same device.

            Output: a summary, then one JSON line (order, readings/s, requests/s, latency percentiles, answers \
            by status, accepted/duplicate totals from the answers, bytes per reading from GET /metrics when the \
            server reports readings_stored and store_memory_bytes). --generate-only builds every request \
            without sending any and reports how fast the generator is (no server needed).

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
    @Option(help: "Devices to simulate (1-100000000).")
    var devices = 1000

    /// Readings generated for each device.
    @Option(help: "Readings per device (1-100000000).")
    var readings = 1000

    /// Readings in each ingest request.
    @Option(help: "Readings per request (1-10000000).")
    var batch = 1000

    /// Connections (and sending threads).
    @Option(help: "Concurrent keep-alive connections, each on its own thread.")
    var concurrency = 16

    /// The order each device's readings are sent in.
    @Option(
        help: ArgumentHelp(
            "Order of each device's readings: in (time order, with --out-of-order), late (in, with --out-of-order "
                + "10 unless given), shuffled (seeded random order), reversed (newest first).",
            valueName: "order"))
    var order = BenchOrder.in

    /// Share of readings repeated later as exact retries.
    @Option(help: "Percent of readings sent again, in a later request, as exact retries (0-100).")
    var duplicates = 0.0

    /// Share of readings sent out of time order (nil: the order's default).
    @Option(help: "Percent of readings sent out of time order (0-100; --order in and late only). (default: 0, 10 with --order late)")
    var outOfOrder: Double?

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

    /// Measure the generator alone.
    @Flag(help: "Build every request as a run would, send nothing, and report the generator's speed. (default: off)")
    var generateOnly = false

    /// Checks the flags before anything is sent.
    public func validate() throws {
        try require(devices, in: 1...100_000_000, "--devices")
        // 100,000,000 readings a minute apart end in 2214, well inside the server's range (to 2262).
        try require(readings, in: 1...100_000_000, "--readings")
        try require(batch, in: 1...10_000_000, "--batch")
        try require(concurrency, in: 1...4096, "--concurrency")
        guard (0...100).contains(duplicates) else { throw ValidationError("--duplicates must be a percentage, 0-100") }
        if let outOfOrder {
            guard (0...100).contains(outOfOrder) else {
                throw ValidationError("--out-of-order must be a percentage, 0-100")
            }
            guard order.takesOutOfOrder || outOfOrder == 0 else {
                throw ValidationError("--out-of-order applies to --order in and late, not \(order.rawValue)")
            }
            guard order != .late || outOfOrder > 0 else {
                throw ValidationError("--order late sends readings out of order: give --out-of-order above 0, or use --order in")
            }
        }
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
        // Each connection holds one request at a time: its body and the list of its sends.
        let bytesPerConnection = Double(batch) * Double(BenchRequestWriter.maxReadingBytes + MemoryLayout<BenchSend>.stride)
        let bytesNeeded = Double(min(concurrency, devices)) * bytesPerConnection
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        if memory > 0 && bytesNeeded > memory * 0.7 {
            throw ValidationError(
                "\(min(concurrency, devices)) connections building requests of \(batch) readings need about "
                    + "\(Int(bytesNeeded / 1_073_741_824)) GiB, more than this machine can spare; "
                    + "use a smaller --batch or --concurrency")
        }
    }

    /// Checks the server answers, then sends the workload, reports, verifies.
    public init() {}

    public func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let target = try BenchTarget(url: url)
        let shape = BenchWorkload.Shape(
            devices: devices, readings: readings, batch: batch, order: order, duplicatePercent: duplicates,
            outOfOrderPercent: outOfOrder ?? order.defaultOutOfOrderPercent, seed: seed,
            idPrefix: idPrefix ?? BenchCommand.freshPrefix(), connections: min(concurrency, devices))
        let workload = BenchWorkload(shape: shape, target: target, apiKey: apiKey, returnMinimal: returnMinimal)

        if generateOnly {
            progress(
                "building \(workload.sendCount) readings in \(workload.requestCount) requests on \(shape.connections) threads, sending nothing..."
            )
            let generation = BenchLoadRunner.generate(workload, duration: duration)
            for line in BenchReport.generationLines(generation, shape: shape) { print(line) }
            return
        }

        // Fails fast, before sending, when nothing (or no HTTP server) listens at --url.
        let metricsBefore = try BenchMetrics.fetch(from: target)

        progress(
            "sending \(workload.sendCount) readings (order \(order.rawValue)) in \(workload.requestCount) requests "
                + "over \(shape.connections) connections" + (duration.map { " (at most \($0) s)" } ?? "") + "...")
        let outcome = BenchLoadRunner.run(workload, target: target, duration: duration)

        var report = BenchReport(
            url: url, shape: shape, plannedRequests: workload.requestCount, plannedSends: workload.sendCount,
            plannedDuplicates: workload.duplicateCount, plannedOutOfOrder: workload.outOfOrderCount,
            outcome: outcome, metricsBefore: metricsBefore, metricsAfter: nil, verification: nil)
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
