import Dispatch
import Synchronization

/// Sends the workload: one dedicated thread per connection, each with its own keep-alive
/// connection, all released at once after every connection is open; each thread times every
/// request it sends.
enum BenchLoadRunner {
    /// What one connection did.
    struct ConnectionOutcome: Sendable {
        /// Latency of each answered request, in nanoseconds, in sending order.
        var latencies: [UInt64] = []
        /// `acknowledged[r]`: request `r` of the stream got a 2xx answer.
        var acknowledged: [Bool] = []
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
    }

    /// What the whole run did.
    struct Outcome: Sendable {
        /// Per connection, in stream order.
        var connections: [ConnectionOutcome]
        /// From the release of the connections to the last answer, in nanoseconds.
        var elapsedNanoseconds: UInt64
        /// Whether every request was sent (false when `--duration` or an error stopped the run).
        var complete: Bool
        /// The first error that stopped a connection, if any.
        var error: BenchError?
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
        let count = workload.streams.count
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
                let outcome = send(workload.streams[index], over: connection, control: control)
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
        let answered = connections.reduce(0) { $0 + $1.latencies.count }
        return Outcome(
            connections: connections, elapsedNanoseconds: elapsed, complete: answered == workload.requestCount,
            error: control.firstError.withLock { $0 })
    }

    /// One connection's loop: send each request in order, time it, tally the answer.
    private static func send(
        _ stream: BenchRequestStream, over connection: BenchHTTPConnection, control: Control
    ) -> ConnectionOutcome {
        var outcome = ConnectionOutcome()
        outcome.latencies.reserveCapacity(stream.count)
        outcome.acknowledged = Array(repeating: false, count: stream.count)
        let deadline = control.deadline.load(ordering: .relaxed)
        stream.bytes.withUnsafeBytes { bytes in
            for r in 0..<stream.count {
                if control.stop.load(ordering: .relaxed) { break }
                let begin = BenchThreads.now()
                if deadline != 0 && begin >= deadline { break }
                let request = UnsafeRawBufferPointer(rebasing: bytes[stream.starts[r]..<stream.starts[r + 1]])
                let status: Int
                do {
                    status = try connection.exchange(request)
                } catch {
                    control.fail(error)
                    break
                }
                outcome.latencies.append(BenchThreads.now() - begin)
                outcome.statuses[status, default: 0] += 1
                outcome.readingsSent += stream.readings(inRequest: r)
                guard (200..<300).contains(status) else { continue }
                outcome.acknowledged[r] = true
                if let totals = BenchResponseFields.ingestTotals(connection.body) {
                    outcome.accepted += totals.accepted
                    outcome.duplicates += totals.duplicates
                    outcome.rejected += totals.rejected
                } else {
                    outcome.unreadableAnswers += 1
                }
            }
        }
        return outcome
    }
}
