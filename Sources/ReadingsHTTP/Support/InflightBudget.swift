import Synchronization

/// The memory that ingest requests in flight may hold at once (`--max-inflight-bytes`): their
/// bodies, inflated bodies and parsed readings, while they wait for storage (an fsync, a
/// database). Without it, 1,024 connections could each hold a 16 MiB body at the same time.
///
/// A request reserves before its body is read, and gives the reservation back when answered.
/// What it reserves is an upper bound: twice its body (the bytes, and what parsing them makes),
/// the body being its `Content-Length`, or the body limit when it has none or is gzip-compressed
/// (it may inflate up to that). A request that does not fit gets 503 `UNAVAILABLE` with
/// `Retry-After` at once, its body unread. One request is always admitted when nothing else is
/// in flight, so that a budget smaller than the largest body still serves it alone.
final class InflightBudget: Sendable {
    /// The budget in bytes.
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Reserves `bytes`, or returns false when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current == 0 || current + bytes <= limit else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back a reservation.
    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .acquiringAndReleasing)
    }

    /// Bytes reserved now.
    var inUse: Int { used.load(ordering: .relaxed) }
}
