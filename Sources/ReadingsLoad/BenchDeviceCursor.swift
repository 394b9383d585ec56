import ReadingsDomain

/// One send of a request: which reading it carries and whether it repeats an earlier send.
struct BenchSend: Sendable, Equatable {
    /// The reading (index into the device's history, `0..<readings`).
    var reading: Int
    /// An exact retry of a reading first sent in an earlier request.
    var isRepeat: Bool
}

/// The sends of one request of one device, filled by `BenchDeviceCursor.next(into:)`. One is
/// reused for every request of a connection.
struct BenchBatch: Sendable {
    /// The readings sent, in order.
    var sends: [BenchSend] = []
    /// The original positions this request's first sends cover (its non-repeat sends, in order).
    var originals: Range<Int> = 0..<0
    /// The original positions the repeats copy from: those of the device's most recent earlier
    /// request that had any originals.
    var source: Range<Int> = 0..<0
}

/// Walks one device's plan request by request, in O(1) memory.
///
/// The first request holds the first `min(readings, batch)` originals. After it, the remaining
/// `readings - firstRequestSends + repeats` sends are cut into requests of `batch`; which of them
/// are repeats is chosen by sequential selection sampling (Knuth's algorithm S: each send is a
/// repeat with probability repeats-still-to-place / sends-still-to-come), which places exactly
/// `repeats` of them, uniformly, without storing anything. A repeat is an exact copy of a reading
/// first sent in the device's most recent earlier request that had originals (`BenchBatch.source`;
/// usually the previous request), picked uniformly: always a later request than its original,
/// never the same one. Every count is fixed in advance, so the requests of a run are known
/// without generating them (`BenchWorkload.Shape`).
struct BenchDeviceCursor: Sendable {
    /// The plan walked.
    let plan: BenchDevicePlan
    private var random: SplitMix64
    private var nextPosition = 0
    private var sent = 0
    private var repeatsLeft: Int
    private var source: Range<Int> = 0..<0

    /// A cursor at the device's first request.
    init(plan: BenchDevicePlan) {
        self.plan = plan
        random = plan.scheduleRandom
        repeatsLeft = plan.repeats
    }

    /// Whether every request has been produced.
    var isFinished: Bool { sent == plan.sends }

    /// Fills `batch` with the device's next request (the cursor must not be finished).
    mutating func next(into batch: inout BenchBatch) {
        precondition(!isFinished)
        batch.sends.removeAll(keepingCapacity: true)
        batch.source = source
        let first = nextPosition
        let size = sent == 0 ? plan.firstRequestSends : min(plan.batch, plan.sends - sent)
        // Sends after the first request, where repeats may go.
        let laterSends = plan.sends - plan.firstRequestSends
        for _ in 0..<size {
            let later = sent - plan.firstRequestSends
            if repeatsLeft > 0 && later >= 0 && random.below(laterSends - later) < repeatsLeft {
                repeatsLeft -= 1
                let copied = source.lowerBound + random.below(source.count)
                batch.sends.append(BenchSend(reading: plan.reading(at: copied), isRepeat: true))
            } else {
                batch.sends.append(BenchSend(reading: plan.reading(at: nextPosition), isRepeat: false))
                nextPosition += 1
            }
            sent += 1
        }
        batch.originals = first..<nextPosition
        if !batch.originals.isEmpty { source = batch.originals }
    }
}
