/// The whole run's traffic, as rules: device `i` belongs to connection `i % connections`, and its
/// plan (`BenchDevicePlan`) is made when the connection starts it. Nothing is generated ahead:
/// each connection builds its requests while sending (`BenchRequestStream`), so memory depends on
/// `--batch` and `--concurrency`, not on `--devices × --readings`. All counts of the run are
/// known in advance, since every device has the same number of readings, repeats and swaps.
struct BenchWorkload: Sendable {
    /// What to generate.
    struct Shape: Sendable {
        /// Devices in the run.
        var devices: Int
        /// Readings per device.
        var readings: Int
        /// Readings per request.
        var batch: Int
        /// The order each device's readings are sent in.
        var order: BenchOrder
        /// Percent of readings sent again as exact retries.
        var duplicatePercent: Double
        /// Percent of readings sent out of time order (`in` and `late` only).
        var outOfOrderPercent: Double
        /// The seed of every random choice.
        var seed: UInt64
        /// Device `i` is named `idPrefix + String(i)`.
        var idPrefix: String
        /// Connections (≤ devices).
        var connections: Int

        /// The id of device `index` (before JSON escaping or percent-encoding).
        func deviceID(_ index: Int) -> String { idPrefix + String(index) }

        /// Exact retries of each device.
        var repeatsPerDevice: Int { Int((Double(readings) * duplicatePercent / 100).rounded()) }

        /// Pairs of readings of each device that trade places.
        var swappedPairsPerDevice: Int {
            guard order.takesOutOfOrder else { return 0 }
            let moved = Int((Double(readings) * outOfOrderPercent / 100).rounded())
            return min((moved + 1) / 2, readings / 2)
        }

        /// Readings each device sends, repeats included.
        var sendsPerDevice: Int { readings + repeatsPerDevice }

        /// Requests of each device: the first (originals only), then the rest in batches.
        var requestsPerDevice: Int {
            let later = sendsPerDevice - min(readings, batch)
            return 1 + (later + batch - 1) / batch
        }
    }

    /// The run's shape.
    let shape: Shape
    /// Writes requests to the target (copied by each connection, which reuses its buffer).
    let writerTemplate: BenchRequestWriter
    /// The devices read back after the run (`BenchVerifier.sample`), ascending.
    let sample: [Int]
    private let sampled: Set<Int>

    /// The workload of `shape`, sent to `target`.
    init(shape: Shape, target: BenchTarget, apiKey: String?, returnMinimal: Bool) {
        self.shape = shape
        writerTemplate = BenchRequestWriter(
            basePath: target.basePath, authority: target.authority, apiKey: apiKey, returnMinimal: returnMinimal)
        sample = BenchVerifier.sample(devices: shape.devices)
        sampled = Set(sample)
    }

    /// The plan of device `index`.
    func plan(device index: Int) -> BenchDevicePlan {
        BenchDevicePlan(index: index, shape: shape)
    }

    /// Whether device `index` is read back after the run.
    func isSampled(_ index: Int) -> Bool { sampled.contains(index) }

    /// Requests in the whole run.
    var requestCount: Int { shape.devices * shape.requestsPerDevice }

    /// Readings sent in the whole run, repeats included.
    var sendCount: Int { shape.devices * shape.sendsPerDevice }

    /// Readings that trade places to arrive out of time order, over all devices.
    var outOfOrderCount: Int { shape.devices * 2 * shape.swappedPairsPerDevice }

    /// Repeated sends over all devices.
    var duplicateCount: Int { shape.devices * shape.repeatsPerDevice }
}
