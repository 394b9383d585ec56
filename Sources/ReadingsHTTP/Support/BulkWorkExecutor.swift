import Dispatch

/// Where the CPU-heavy part of a large request runs: inflating, parsing, deciding and answering a
/// big batch. The server's event loops are also Swift's global executor and serve every
/// connection; a batch of 100,000 late readings decided there would keep the other connections
/// of that loop waiting for it. Large bodies (see ``IngestController``) hop to Dispatch's
/// threads for that part instead, and the event loops stay free for small requests.
final class BulkWorkExecutor: TaskExecutor, @unchecked Sendable {
    /// The one instance (its threads are Dispatch's).
    static let shared = BulkWorkExecutor()

    /// Bodies at least this large are worked on here: about 30,000 readings, whose late readings
    /// can take tens of milliseconds. Smaller batches stay on their event loop: the hop to
    /// another thread cost about a quarter of the in-order throughput at 10,000 readings per
    /// request (measured side by side, `scripts/bench-order.sh`).
    static let threshold = 2 << 20

    private let queue = DispatchQueue(label: "device-readings.bulk", qos: .userInitiated, attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
