import Dispatch

/// Where the CPU-heavy part of a large request runs: inflating, parsing, deciding and answering a
/// big batch. The server's event loops are also Swift's global executor and serve every
/// connection; a batch of 100,000 late readings decided there would keep the other connections
/// of that loop waiting for it. Large bodies (see ``IngestController``) hop to Dispatch's
/// threads for that part instead, and the event loops stay free for small requests.
final class BulkWorkExecutor: TaskExecutor, @unchecked Sendable {
    /// The one instance (its threads are Dispatch's).
    static let shared = BulkWorkExecutor()

    /// Bodies at least this large are worked on here: about 4,000 readings, where the work of a
    /// batch starts to be measured in milliseconds.
    static let threshold = 256 << 10

    private let queue = DispatchQueue(label: "device-readings.bulk", qos: .userInitiated, attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
