import Foundation
import ReadingsDomain
import Synchronization
import Testing

/// One device larger than any single snapshot or journal record may be (its snapshot form is
/// over 64 MiB, the largest record the persistence layer reads), stored by the real binary with
/// `--data-dir`, sent in random order, and read back exactly after every way of stopping: kill -9
/// (recovery replays the journal), SIGTERM (recovery loads the snapshot alone), and kill -9
/// after that snapshot with more readings in the journal.
@Suite(.serialized) struct LargeDeviceProcessTests {
    /// 7,000,000 readings of high entropy (nanosecond instants over ten years, counts below
    /// 2^40, so that the cumulative count stays below 2^63): about 12 bytes each in the block
    /// format, over 80 MiB in all.
    static let readingCount = 7_000_000

    init() {
        signal(SIGPIPE, SIG_IGN)
    }

    @Test func aDeviceOverSixtyFourMiBSurvivesKillNineSigtermAndBoth() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-large-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 2026)
        let start: Int64 = 1_704_067_200_000_000_000  // 2024-01-01T00:00:00Z
        let slot: Int64 = 315_360_000_000_000_000 / Int64(Self.readingCount)  // ten years
        var expected = (0..<Self.readingCount).map { i in
            Reading(
                instant: Instant(nanoseconds: start + Int64(i) * slot + Int64(random.next() % UInt64(slot))),
                count: random.next() >> 24)
        }
        let arrival = expected.shuffled(using: &random)
        let model = Model(readings: expected)

        let first = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(first, timeout: .seconds(60))
        for batchStart in stride(from: 0, to: arrival.count, by: 100_000) {
            let batch = arrival[batchStart..<min(batchStart + 100_000, arrival.count)]
            let (status, body) = try await first.request("POST", "/ingest", body: Self.body("giant", batch), prefer: "return=minimal")
            try #require(status == 202, "batch at \(batchStart): \(body.prefix(300))")
        }
        try await model.check(first)

        // kill -9: no snapshot yet, so the whole device comes back from the journal.
        _ = try await first.stop(signal: SIGKILL)
        let second = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(second, timeout: .seconds(300))
        try await model.check(second)

        // SIGTERM: the final snapshot holds the device in one go, well past 64 MiB.
        #expect(try await second.stop(signal: SIGTERM, timeout: .seconds(300)) == 0)
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".snap") }
        try #require(snapshots.count == 1, "\(snapshots)")
        let size = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(snapshots[0]).path)[.size] as? Int ?? 0
        #expect(size > 64 << 20, "snapshot is \(size) bytes")
        let third = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(third, timeout: .seconds(300))
        let recovery = try #require(recoveryLine(in: third.log))
        #expect(recovery["recovery.snapshot_readings"] == "\(Self.readingCount)")
        #expect(recovery["recovery.replayed_readings"] == "0")
        try await model.check(third)

        // kill -9 after the snapshot, with late readings in the journal on top of it.
        let extra = (0..<1000).map { i in
            Reading(instant: Instant(nanoseconds: start + Int64(i) * slot * 3 + slot / 2 + 1), count: UInt64(i))
        }.filter { r in !model.contains(r.instant.nanoseconds) }
        let (status, body) = try await third.request("POST", "/ingest", body: Self.body("giant", extra[...]), prefer: "return=minimal")
        try #require(status == 202, "\(body.prefix(300))")
        _ = try await third.stop(signal: SIGKILL)
        expected += extra
        let fourth = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(fourth, timeout: .seconds(300))
        try await Model(readings: expected).check(fourth)
        #expect(try await fourth.stop(signal: SIGTERM, timeout: .seconds(300)) == 0)
    }

    /// A device's whole history arriving shuffled in batches of 100,000 (each reading late,
    /// landing all over the device) while another client keeps reading 64 other devices and
    /// `/metrics`: they keep being answered while the backfill is in flight, none of them
    /// waiting for a whole batch (the server decides a batch in pieces, releasing its shard
    /// between them). Self-calibrating rather than a fixed time: the slowest read must take
    /// less than half of the fastest backfill request.
    @Test func otherDevicesAreServedWhileAHugeShuffledBackfillIsIngested() async throws {
        let server = try ServerProcess()
        try await server.waitUntilServing()
        let others = (0..<64).map { "other-\($0)" }
        let start: Int64 = 1_704_067_200_000_000_000
        for id in others {
            let (status, _) = try await server.request(
                "POST", "/ingest", body: Self.body(id, [Reading(instant: Instant(nanoseconds: start), count: 1)]))
            try #require(status == 202)
        }
        var random = SplitMix64(seed: 5)
        let history = (0..<600_000).map { Reading(instant: Instant(nanoseconds: start + Int64($0) * 60_000_000_000), count: 1) }
            .shuffled(using: &random)
        let bodies = stride(from: 0, to: history.count, by: 100_000).map { Self.body("backfill", history[$0..<$0 + 100_000]) }
        let state = Mutex(BackfillState())
        await onThreads(2) { client in
            let clock = ContinuousClock()
            if client == 0 {
                state.withLock { $0.inFlight = true }
                for body in bodies {
                    let began = clock.now
                    let answer = try? server.requestBlocking("POST", "/ingest", body: body, prefer: "return=minimal")
                    let took = clock.now - began
                    state.withLock { state in
                        state.batchDurations.append(took)
                        if answer?.0 != 202 { state.failures.append("ingest: \(answer?.0 ?? -1)") }
                    }
                }
                state.withLock { $0.finished = true }
                return
            }
            var k = 0
            while !state.withLock({ $0.finished }) {
                let path = k % 65 == 64 ? "/metrics" : "/devices/\(others[k % 65])/latest_timestamp"
                let began = clock.now
                let answer = try? server.requestBlocking("GET", path)
                let took = clock.now - began
                state.withLock { state in
                    if answer?.0 != 200 { state.failures.append("\(path): \(answer?.0 ?? -1)") }
                    if state.inFlight && !state.finished {
                        state.answeredDuring += 1
                        state.slowestRead = max(state.slowestRead, took)
                    }
                }
                k += 1
            }
        }
        let final = state.withLock { $0 }
        #expect(final.failures.isEmpty, "\(final.failures.prefix(5))")
        let fastestBatch = try #require(final.batchDurations.min())
        #expect(final.answeredDuring >= 6, "only \(final.answeredDuring) reads were answered during the backfill")
        #expect(final.slowestRead < fastestBatch / 2, "slowest read \(final.slowestRead), fastest backfill request \(fastestBatch)")
        let (_, count) = try await server.request("GET", "/devices/backfill/cumulative_count")
        #expect(count == "{\"cumulative_count\":600000}")
        _ = try await server.stop()
    }

    /// What the two clients of the backfill test share.
    struct BackfillState {
        var inFlight = false
        var finished = false
        var answeredDuring = 0
        var slowestRead: Duration = .zero
        var batchDurations: [Duration] = []
        var failures: [String] = []
    }

    /// An ingest body for `readings` of `id`, timestamps in canonical form.
    static func body(_ id: String, _ readings: ArraySlice<Reading>) -> String {
        var out = "{\"id\":\"\(id)\",\"readings\":["
        out.reserveCapacity(readings.count * 72 + 32)
        for (k, r) in readings.enumerated() {
            if k > 0 { out += "," }
            out += "{\"timestamp\":\"\(r.instant.canonical)\",\"count\":\(r.count)}"
        }
        return out + "]}"
    }

    /// What the server must answer for the device.
    struct Model {
        let sorted: [Reading]
        let sum: UInt64
        let instants: Set<Int64>

        init(readings: [Reading]) {
            sorted = readings.sorted { $0.instant < $1.instant }
            sum = readings.reduce(0) { $0 + $1.count }
            instants = Set(readings.map(\.instant.nanoseconds))
        }

        func contains(_ t: Int64) -> Bool { instants.contains(t) }

        /// Summary, listing and pages spread over the whole device.
        func check(_ server: ServerProcess) async throws {
            let (_, count) = try await server.request("GET", "/devices/giant/cumulative_count")
            #expect(count == "{\"cumulative_count\":\(sum)}")
            let (_, latest) = try await server.request("GET", "/devices/giant/latest_timestamp")
            #expect(latest == "{\"latest_timestamp\":\"\(sorted.last!.instant.canonical)\"}")
            let (_, listing) = try await server.request("GET", "/devices?prefix=giant")
            #expect(listing.contains("\"readings\":\(sorted.count)"), "\(listing)")
            var random = SplitMix64(seed: UInt64(sorted.count))
            for k in 0..<8 {
                // The first page, the last, and pages from random places.
                let from = k == 0 ? 0 : k == 1 ? sorted.count - 500 : Int(random.next() % UInt64(sorted.count - 500))
                let page = sorted[from..<from + 500]
                let query = "from=\(page.first!.instant.canonical)&limit=500"
                let (status, body) = try await server.request("GET", "/devices/giant?\(query)")
                #expect(status == 200)
                let data = page.map { "\"\($0.instant.canonical)\":\($0.count)" }.joined(separator: ",")
                #expect(body.contains("{\"data\":{\(data)}"), "page at reading \(from) differs")
            }
        }
    }
}
