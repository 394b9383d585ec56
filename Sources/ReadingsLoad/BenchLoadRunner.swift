import Dispatch
import Synchronization

/// Sends the workload: one dedicated thread per connection, each with its own keep-alive
/// connection, all released at once after every connection is open. Each thread builds its
/// requests as it goes (`BenchRequestStream`) and times every exchange (building a request is
/// not part of its latency, but is part of the run's elapsed time).
enum BenchLoadRunner {
    /// What one connection did.
    struct ConnectionOutcome: Sendable {
        /// Latency of each answered request.
        var latency = BenchLatencyHistogram()
        /// Answers by status code.
        var statuses: [Int: Int] = [:]
        /// Readings in answered requests, repeats included.
        var readingsSent = 0
        /// Totals summed over the answers' bodies.
        var accepted = 0
        /// See `accepted`.
        var duplicates = 0
        /// See `accepted`.
        var rejected = 0
        /// 2xx answers whose body had no totals.
        var unreadableAnswers = 0
        /// What the acknowledged requests should have stored, over all this connection's devices
        /// (distinct readings stored, sends in acknowledged requests).
        var expected = BenchVerifier.Expectation()
        /// What each sampled device this connection started should hold.
        var sampled: [Int: BenchVerifier.Expectation] = [:]
        /// Whether every request of the connection's devices was sent and answered.
        var finished = false
    }

    /// What the whole run did.
    struct Outcome: Sendable {
        /// Per connection.
        var connections: [ConnectionOutcome]
        /// From the release of the connections to the last answer, in nanoseconds.
        var elapsedNanoseconds: UInt64
        /// Whether every request was sent (false when `--duration` or an error stopped the run).
        var complete: Bool
        /// The first error that stopped a connection, if any.
        var error: BenchError?
    }

    /// What `generate` did.
    struct Generation: Sendable {
        /// Requests built.
        var requests = 0
        /// Readings in them, repeats included.
        var readings = 0
        /// Bytes of the requests, heads included.
        var bytes = 0
        /// Wall time, in nanoseconds.
        var elapsedNanoseconds: UInt64 = 0
        /// Threads that built them.
        var threads = 0
    }

    /// Shared between the threads of one run.
    private final class Control: Sendable {
        let stop = Atomic<Bool>(false)
        /// Monotonic nanoseconds after which no new request starts; 0 = no limit.
        let deadline = Atomic<UInt64>(0)
        let firstError = Mutex<BenchError?>(nil)
        let results: Mutex<[ConnectionOutcome?]>

        init(connections: Int) {
            results = Mutex(Array(repeating: nil, count: connections))
        }

        func fail(_ error: Error) {
            let benchError =
                error as? BenchError ?? .connectionLost(endpoint: "server", reason: String(describing: error))
            firstError.withLock { if $0 == nil { $0 = benchError } }
            stop.store(true, ordering: .relaxed)
        }
    }

    /// Runs `workload` against `target`, stopping new requests after `duration` seconds if given.
    static func run(_ workload: BenchWorkload, target: BenchTarget, duration: Double?) -> Outcome {
        let count = workload.shape.connections
        let control = Control(connections: count)
        let opened = DispatchGroup()
        let finished = DispatchGroup()
        let release = DispatchSemaphore(value: 0)

        for index in 0..<count {
            opened.enter()
            BenchThreads.spawn(in: finished) {
                let connection = BenchHTTPConnection(target: target)
                do {
                    try connection.open()
                } catch {
                    control.fail(error)
                }
                opened.leave()
                release.wait()
                var stream = BenchRequestStream(workload: workload, connection: index)
                let outcome = send(&stream, over: connection, control: control)
                connection.close()
                control.results.withLock { $0[index] = outcome }
            }
        }
        opened.wait()
        let start = BenchThreads.now()
        if let duration {
            control.deadline.store(start + UInt64(duration * 1e9), ordering: .relaxed)
        }
        for _ in 0..<count { release.signal() }
        finished.wait()
        let elapsed = BenchThreads.now() - start

        let connections = control.results.withLock { $0.map { $0 ?? ConnectionOutcome() } }
        let error = control.firstError.withLock { $0 }
        return Outcome(
            connections: connections, elapsedNanoseconds: elapsed,
            complete: error == nil && connections.allSatisfy(\.finished), error: error)
    }

    /// Builds every request of `workload` as `run` would, without sending any (each taken as
    /// acknowledged), on one thread per connection: the generator's own speed.
    static func generate(_ workload: BenchWorkload, duration: Double?) -> Generation {
        let count = workload.shape.connections
        let results = BenchLocked(Generation())
        let start = BenchThreads.now()
        let deadline = duration.map { start + UInt64($0 * 1e9) } ?? .max
        BenchThreads.run(count: count) { index in
            var stream = BenchRequestStream(workload: workload, connection: index)
            var built = Generation()
            while BenchThreads.now() < deadline, stream.next() {
                built.requests += 1
                built.readings += stream.readingsInRequest
                built.bytes += stream.requestLength
                stream.answer(acknowledged: true)
            }
            results.withLock {
                $0.requests += built.requests
                $0.readings += built.readings
                $0.bytes += built.bytes
            }
        }
        var generation = results.withLock { $0 }
        generation.elapsedNanoseconds = BenchThreads.now() - start
        generation.threads = count
        return generation
    }

    /// One connection's loop: build each request in turn, send it, time it, tally the answer.
    private static func send(
        _ stream: inout BenchRequestStream, over connection: BenchHTTPConnection, control: Control
    ) -> ConnectionOutcome {
        var outcome = ConnectionOutcome()
        let deadline = control.deadline.load(ordering: .relaxed)
        while !control.stop.load(ordering: .relaxed) {
            if deadline != 0 && BenchThreads.now() >= deadline { break }
            guard stream.next() else {
                outcome.finished = true
                break
            }
            let begin = BenchThreads.now()
            let status: Int
            do {
                status = try stream.withRequest { try connection.exchange($0) }
            } catch {
                control.fail(error)
                break
            }
            outcome.latency.record(BenchThreads.now() - begin)
            outcome.statuses[status, default: 0] += 1
            outcome.readingsSent += stream.readingsInRequest
            let acknowledged = (200..<300).contains(status)
            stream.answer(acknowledged: acknowledged)
            guard acknowledged else { continue }
            if let totals = BenchResponseFields.ingestTotals(connection.body) {
                outcome.accepted += totals.accepted
                outcome.duplicates += totals.duplicates
                outcome.rejected += totals.rejected
            } else {
                outcome.unreadableAnswers += 1
            }
        }
        outcome.expected = stream.totals
        outcome.sampled = stream.sampledExpectations
        return outcome
    }
}
