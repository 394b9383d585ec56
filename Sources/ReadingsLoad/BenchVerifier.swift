import ReadingsDomain
import ReadingsHTTP

/// After the run, checks the server holds exactly what it acknowledged: for each device (all of
/// them, or an evenly spread sample), `cumulative_count` is the sum of the counts of the distinct
/// readings in acknowledged requests and `latest_timestamp` their greatest timestamp (a device
/// with no acknowledged request must be unknown: 404). Device ids are fresh for each run, so every
/// distinct reading should have been accepted once; the ingest answers' totals are checked too.
///
/// The expectations are not worked out here from stored plans: each connection keeps them up to
/// date as answers arrive (`BenchDeviceLedger`), for every device in totals and for the sampled
/// devices one by one, so memory stays bounded however large the run.
enum BenchVerifier {
    /// Most devices read back.
    static let sampleLimit = 2000

    /// What the server should hold for one device (or, summed, for many).
    struct Expectation: Sendable, Equatable {
        /// Sum of the counts of the distinct readings acknowledged.
        var cumulativeCount = 0
        /// Offset of the greatest acknowledged timestamp; nil when nothing was acknowledged.
        var latestOffset: Int64?
        /// Distinct readings acknowledged.
        var distinct = 0
        /// Readings in acknowledged requests, repeats included.
        var sends = 0

        /// Adds `other`'s readings (the latest of both is kept).
        mutating func add(_ other: Expectation) {
            cumulativeCount += other.cumulativeCount
            distinct += other.distinct
            sends += other.sends
            if let offset = other.latestOffset { latestOffset = max(latestOffset ?? .min, offset) }
        }
    }

    /// The verdict.
    struct Report: Sendable {
        /// Devices read back.
        var checkedDevices = 0
        /// Every mismatch, as a sentence, devices in index order.
        var mismatches: [String] = []
    }

    /// The devices read back after a run of `devices`: all of them, or `sampleLimit` evenly
    /// spread; ascending.
    static func sample(devices: Int) -> [Int] {
        devices <= sampleLimit ? Array(0..<devices) : (0..<sampleLimit).map { $0 * devices / sampleLimit }
    }

    /// Reads back the workload's sample of devices and compares; connection failures are thrown.
    static func verify(
        _ workload: BenchWorkload, outcome: BenchLoadRunner.Outcome, target: BenchTarget, threads: Int
    ) throws -> Report {
        var report = Report()

        var expected = Expectation()
        for connection in outcome.connections { expected.add(connection.expected) }
        let expectedAccepted = expected.distinct
        let expectedDuplicates = expected.sends - expected.distinct
        let accepted = outcome.connections.reduce(0) { $0 + $1.accepted }
        let duplicates = outcome.connections.reduce(0) { $0 + $1.duplicates }
        let rejected = outcome.connections.reduce(0) { $0 + $1.rejected }
        let unreadable = outcome.connections.reduce(0) { $0 + $1.unreadableAnswers }
        if unreadable > 0 {
            report.mismatches.append("\(unreadable) ingest answers had no \"accepted\"/\"duplicates\" totals")
        } else if accepted != expectedAccepted || duplicates != expectedDuplicates || rejected != 0 {
            report.mismatches.append(
                "ingest answers totalled accepted \(accepted), duplicates \(duplicates), rejected \(rejected); "
                    + "expected \(expectedAccepted), \(expectedDuplicates), 0 "
                    + "(was --id-prefix reused? The server then already holds these devices)")
        }

        // Devices no connection started hold nothing: the default expectation.
        let expectations = outcome.connections.reduce(into: [Int: Expectation]()) { all, connection in
            all.merge(connection.sampled) { first, _ in first }
        }
        let sample = workload.sample
        let threads = max(1, min(threads, sample.count))
        let found = BenchLocked<[(device: Int, message: String)]>([])
        let failure = BenchLocked<BenchError?>(nil)
        BenchThreads.run(count: threads) { thread in
            let connection = BenchHTTPConnection(target: target)
            defer { connection.close() }
            for position in stride(from: thread, to: sample.count, by: threads) {
                let device = sample[position]
                do {
                    let messages = try check(
                        id: workload.shape.deviceID(device), expected: expectations[device] ?? Expectation(),
                        over: connection)
                    if !messages.isEmpty {
                        found.withLock { $0 += messages.map { (device, $0) } }
                    }
                } catch {
                    let benchError =
                        error as? BenchError ?? .connectionLost(endpoint: target.description, reason: "\(error)")
                    failure.withLock { if $0 == nil { $0 = benchError } }
                    return
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        report.checkedDevices = sample.count
        report.mismatches += found.withLock { $0 }.sorted { $0.device < $1.device }.map(\.message)
        return report
    }

    /// Reads one device back; returns its mismatches.
    private static func check(
        id: String, expected: Expectation, over connection: BenchHTTPConnection
    ) throws -> [String] {
        let path = "/devices/\(PercentEncoding.encode(id.utf8))"
        var messages: [String] = []
        let name = "device \(id.jsonQuoted)"

        let countStatus = try connection.get(path + "/cumulative_count")
        let countBody = String(decoding: connection.body.prefix(200), as: UTF8.self)
        if expected.latestOffset == nil {
            if countStatus != 404 {
                messages.append("\(name): nothing acknowledged, yet cumulative_count answered \(countStatus) \(countBody)")
            }
        } else if countStatus != 200 {
            messages.append("\(name): cumulative_count answered \(countStatus) \(countBody)")
        } else if let count = BenchResponseFields.integer("cumulative_count", in: connection.body) {
            if count != expected.cumulativeCount {
                messages.append("\(name): cumulative_count \(count), expected \(expected.cumulativeCount)")
            }
        } else {
            messages.append("\(name): unreadable cumulative_count answer \(countBody)")
        }

        let latestStatus = try connection.get(path + "/latest_timestamp")
        let latestBody = String(decoding: connection.body.prefix(200), as: UTF8.self)
        if let offset = expected.latestOffset {
            let want = BenchTimestamp.string(offset: offset)
            if latestStatus != 200 {
                messages.append("\(name): latest_timestamp answered \(latestStatus) \(latestBody)")
            } else if let latest = BenchResponseFields.string("latest_timestamp", in: connection.body) {
                if latest != want {
                    messages.append("\(name): latest_timestamp \(latest), expected \(want)")
                }
            } else {
                messages.append("\(name): unreadable latest_timestamp answer \(latestBody)")
            }
        } else if latestStatus != 404 {
            messages.append("\(name): nothing acknowledged, yet latest_timestamp answered \(latestStatus) \(latestBody)")
        }
        return messages
    }
}
