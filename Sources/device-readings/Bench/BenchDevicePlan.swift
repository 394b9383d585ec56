/// One device's part of the workload: its readings in time order and the batches they are sent
/// in, with the requested share of out-of-order readings and exact retries worked in.
///
/// Readings: reading `k` is at `60·k + jitter` seconds after 2024-01-01T00:00:00Z, jitter a whole
/// number of seconds in 0...29 (so times stay distinct and ascending), count in 0...50.
///
/// Out of order: about `outOfOrderPercent` % of readings trade places with a reading at an
/// earlier position, in an earlier batch when there is one (else earlier in the same batch), so
/// later readings arrive before earlier ones.
///
/// Duplicates: about `duplicatePercent` % extra sends, each an exact repeat (same timestamp and
/// count) of a reading, placed at least one whole batch after the original, so it always lands in
/// a later request; repeats that would fall past the end go in trailing retry batches.
struct BenchDevicePlan: Sendable {
    /// The device's index in the run (0..<devices).
    let index: Int
    /// The device id (before JSON escaping or percent-encoding).
    let id: String
    /// Seconds after 2024-01-01T00:00:00Z of each reading, ascending.
    let offsets: [Int64]
    /// The count of each reading.
    let counts: [UInt8]
    /// Reading indices in the order they are sent, duplicates included.
    let sendOrder: [Int32]
    /// Batch `b` sends `sendOrder[batchStarts[b]..<batchStarts[b + 1]]`.
    let batchStarts: [Int]
    /// Readings that trade places to arrive out of time order.
    let outOfOrderReadings: Int
    /// Extra sends that repeat an earlier reading.
    let duplicateSends: Int

    /// The number of batches (requests) for this device.
    var batchCount: Int { batchStarts.count - 1 }

    /// Generates the plan for device `index` from the run's seed (independent of other devices).
    init(
        index: Int, id: String, readings: Int, batch: Int,
        duplicatePercent: Double, outOfOrderPercent: Double, seed: UInt64
    ) {
        self.index = index
        self.id = id
        var random = BenchRandom(seed: seed, stream: UInt64(index))
        var offsets = [Int64](repeating: 0, count: readings)
        var counts = [UInt8](repeating: 0, count: readings)
        for k in 0..<readings {
            offsets[k] = Int64(k) * 60 + Int64(random.below(30))
            counts[k] = UInt8(random.below(51))
        }

        var order = (0..<readings).map { Int32($0) }
        let moved = Int((Double(readings) * outOfOrderPercent / 100).rounded())
        var outOfOrder = 0
        if readings >= 2 {
            // Positions already swapped are avoided (a few tries), so the share comes out close.
            var touched = [Bool](repeating: false, count: readings)
            for _ in 0..<(moved + 1) / 2 {
                var later = 1 + random.below(readings - 1)
                for _ in 0..<8 where touched[later] { later = 1 + random.below(readings - 1) }
                let batchStart = later / batch * batch
                let bound = batchStart > 0 ? batchStart : later
                var earlier = random.below(bound)
                for _ in 0..<8 where touched[earlier] { earlier = random.below(bound) }
                order.swapAt(earlier, later)
                touched[earlier] = true
                touched[later] = true
            }
            outOfOrder = order.indices.reduce(0) { $0 + (order[$1] == Int32($1) ? 0 : 1) }
        }

        // Each repeat goes right after original position `after` ≥ source + batch, so at least
        // `batch` sends separate it from its original: never the same request.
        let repeats = Int((Double(readings) * duplicatePercent / 100).rounded())
        var inline: [(after: Int, reading: Int32)] = []
        var trailing: [(after: Int, reading: Int32)] = []
        for _ in 0..<repeats {
            let source = random.below(readings)
            let after = source + batch + random.below(batch)
            if after < readings {
                inline.append((after, order[source]))
            } else {
                trailing.append((after, order[source]))
            }
        }
        inline.sort { $0.after < $1.after }
        trailing.sort { $0.after < $1.after }

        var sendOrder: [Int32] = []
        sendOrder.reserveCapacity(readings + repeats)
        var next = 0
        for position in 0..<readings {
            sendOrder.append(order[position])
            while next < inline.count, inline[next].after == position {
                sendOrder.append(inline[next].reading)
                next += 1
            }
        }
        var batchStarts = Array(stride(from: 0, to: sendOrder.count, by: batch))
        let trailingStart = sendOrder.count
        sendOrder.append(contentsOf: trailing.map(\.reading))
        batchStarts.append(contentsOf: stride(from: trailingStart, to: sendOrder.count, by: batch))
        batchStarts.append(sendOrder.count)

        self.offsets = offsets
        self.counts = counts
        self.sendOrder = sendOrder
        self.batchStarts = batchStarts
        self.outOfOrderReadings = outOfOrder
        self.duplicateSends = repeats
    }

    /// The reading indices batch `b` sends.
    func batch(_ b: Int) -> ArraySlice<Int32> {
        sendOrder[batchStarts[b]..<batchStarts[b + 1]]
    }
}
