/// What the server should hold for one device, brought up to date as each of its requests is
/// answered, in O(1) memory when every request is acknowledged.
///
/// An acknowledged (2xx) request stores each of its readings the server does not hold yet; others
/// store nothing. A first send (original) is stored exactly when its request is acknowledged. A
/// repeat copies a reading of the device's `source` request (`BenchBatch.source`): when that
/// request was acknowledged the copy is a duplicate; when it was not, the copy is stored by the
/// first acknowledged request carrying it, so only then are the source's readings stored since
/// remembered (at most one request's worth, dropped when a newer request with originals becomes
/// the source). Requests of a device are answered one at a time, in order.
struct BenchDeviceLedger: Sendable {
    /// What the acknowledged requests stored so far.
    private(set) var expectation = BenchVerifier.Expectation()
    /// Whether the device's current source request was acknowledged.
    private var sourceAcknowledged = true
    /// Readings of an unacknowledged source request stored since by acknowledged repeats.
    private var storedSinceSource: Set<Int> = []

    /// Records the answer to the device's latest request, `batch` as `BenchDeviceCursor` filled it.
    mutating func record(_ batch: BenchBatch, acknowledged: Bool, plan: BenchDevicePlan) {
        if acknowledged {
            expectation.sends += batch.sends.count
            for send in batch.sends {
                if send.isRepeat && (sourceAcknowledged || !storedSinceSource.insert(send.reading).inserted) {
                    continue
                }
                let (offset, count) = plan.value(of: send.reading)
                expectation.distinct += 1
                expectation.cumulativeCount += count
                expectation.latestOffset = max(expectation.latestOffset ?? .min, offset)
            }
        }
        if !batch.originals.isEmpty {
            sourceAcknowledged = acknowledged
            storedSinceSource.removeAll()
        }
    }
}
