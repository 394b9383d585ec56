// Benchmarks of the memory engine alone (no HTTP), run by the ordo-one benchmark plugin:
//
//     make bench                                   # all of them
//     swift package --disable-sandbox --scratch-path .build-benchmarks \
//         benchmark --target StorageBenchmarks --filter "insert in order"   # one (a regex)
//
// Throughput is per iteration; with `scalingFactor: .kilo` an iteration is 1000 logical
// operations (readings or lookups), so the scaled figures read as readings/s or lookups/s.
// `StorageFigures` prints the same kinds of figures on the full 50M-reading datasets without
// the framework.

import Benchmark
import ReadingsDomain
import ReadingsStorage
import StorageWorkloads

/// Registers every benchmark of this suite (called by the code the plugin generates).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        warmupIterations: 10,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )
    insertBenchmark("insert in order", shape: .regular)
    insertBenchmark("insert messy", shape: .messy)
    lookupBenchmarks()
    codecBenchmarks()
    fillBenchmark(shape: .regular)
    fillBenchmark(shape: .messy)
}

/// Devices the insert and lookup benchmarks spread their readings over.
let deviceCount = 10_000

/// Custom metrics (integers, so fractions are reported per 1000 readings).
enum StorageMetric {
    /// The engine's own estimate of its bytes (`statistics().memoryBytes`) per 1000 stored readings.
    static let bytesPerThousandReadings = BenchmarkMetric.custom(
        "engine bytes per 1000 readings", polarity: .prefersSmaller, useScalingFactor: false)
    /// Readings sent per second of ingest, whole dataset.
    static let readingsPerSecond = BenchmarkMetric.custom(
        "readings sent / s", polarity: .prefersLarger, useScalingFactor: false)
}

/// The state an insert benchmark keeps across iterations: one store that keeps filling, and each
/// device's stream, so every batch continues where that device's last one ended.
final class InsertState {
    /// The store being filled.
    let store = MemoryStore()
    /// The device ids, by device number.
    let devices = workloadDevices(deviceCount)
    /// Each device's stream, by device number.
    var streams: [DeviceStream]
    /// Iterations so far: the next batch is device `turn % deviceCount`'s.
    var turn = 0

    /// A new empty store and fresh streams of `shape`.
    init(shape: WorkloadShape) {
        streams = (0..<deviceCount).map { DeviceStream(device: $0, shape: shape) }
    }
}

/// One iteration is one batch of 1000 readings of one device (devices take turns), generated
/// outside the measured region.
func insertBenchmark(_ name: String, shape: WorkloadShape) {
    var state: InsertState?
    Benchmark(
        name,
        configuration: .init(scalingFactor: .kilo),
        closure: { benchmark in
            guard let state else { return }
            let device = state.turn % deviceCount
            state.turn += 1
            let batch = state.streams[device].next(1_000)
            benchmark.startMeasurement()
            blackHole(state.store.ingestNow(batch, for: state.devices[device]))
            benchmark.stopMeasurement()
        },
        setup: { state = InsertState(shape: shape) },
        teardown: { state = nil }
    )
}

/// `summary(of:)` and a 100-reading `readings(of:in:limit:)` on a store holding 10k devices ×
/// 2000 regular readings; one iteration is 1000 lookups of random devices.
func lookupBenchmarks() {
    /// The filled store and the 1000 queries of one iteration.
    final class LookupState {
        /// The store, filled once.
        let store = MemoryStore()
        /// What fills it.
        let dataset = Dataset(shape: .regular, devices: deviceCount, readingsPerDevice: 2_000, batchSize: 1_000)
        /// Random devices, each with a 100-minute range inside its readings.
        var queries: [(device: DeviceID, range: InstantRange)] = []

        /// Fills the store and draws the queries.
        init() {
            dataset.forEachBatch { _ = store.ingestNow($1, for: $0) }
            var random = WorkloadRandom(seed: 7)
            let minute: Int64 = 60_000_000_000
            let origin: Int64 = 1_735_689_600_000_000_000
            for _ in 0..<1_000 {
                let device = dataset.devices[random.below(deviceCount)]
                let from = origin + Int64(random.below(1_900)) * minute
                queries.append((device, InstantRange(from: Instant(nanoseconds: from), to: Instant(nanoseconds: from + 100 * minute))))
            }
        }
    }
    var state: LookupState?
    let setup: Benchmark.BenchmarkSetupHook = { state = LookupState() }
    let teardown: Benchmark.BenchmarkTeardownHook = { state = nil }
    Benchmark(
        "lookup summary", configuration: .init(scalingFactor: .kilo),
        closure: { _ in
            guard let state else { return }
            for query in state.queries { blackHole(state.store.summary(of: query.device)) }
        }, setup: setup, teardown: teardown)
    Benchmark(
        "lookup 100 readings", configuration: .init(scalingFactor: .kilo),
        closure: { _ in
            guard let state else { return }
            for query in state.queries { blackHole(state.store.readings(of: query.device, in: query.range, limit: 100)) }
        }, setup: setup, teardown: teardown)
}

/// `BlockCodec` on one block of 1024 regular readings; one iteration is one block.
func codecBenchmarks() {
    var stream = DeviceStream(device: 0, shape: .regular)
    let block = stream.next(1_024)
    let instants = block.map(\.instant.nanoseconds)
    let counts = block.map(\.count)
    var encoded: [UInt8] = []
    BlockCodec.encode(instants: instants, counts: counts, into: &encoded)

    Benchmark("block encode 1024") { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count * 2)
        benchmark.startMeasurement()
        BlockCodec.encode(instants: instants, counts: counts, into: &out)
        benchmark.stopMeasurement()
        blackHole(out)
    }
    Benchmark("block decode 1024") { benchmark in
        var decodedInstants: [Int64] = []
        var decodedCounts: [UInt64] = []
        decodedInstants.reserveCapacity(1_024)
        decodedCounts.reserveCapacity(1_024)
        encoded.withUnsafeBufferPointer { bytes in
            benchmark.startMeasurement()
            BlockCodec.decode(bytes, first: instants[0], count: 1_024, instants: &decodedInstants, counts: &decodedCounts)
            benchmark.stopMeasurement()
        }
        blackHole((decodedInstants, decodedCounts))
    }
}

/// Fills a fresh store with a whole dataset of the storage issue (50M readings over 10k
/// devices, generated up front) in one iteration, and reports readings/s and the engine's bytes
/// per stored reading (×1000).
func fillBenchmark(shape: WorkloadShape) {
    var batches: [(device: DeviceID, readings: [Reading])] = []
    let dataset = Dataset.issue(shape)
    Benchmark(
        "fill 50M \(shape)",
        configuration: .init(
            metrics: [.wallClock, StorageMetric.readingsPerSecond, StorageMetric.bytesPerThousandReadings],
            warmupIterations: 0,
            maxIterations: 1
        ),
        closure: { benchmark in
            let store = MemoryStore()
            let clock = ContinuousClock()
            let start = clock.now
            for batch in batches { blackHole(store.ingestNow(batch.readings, for: batch.device)) }
            let elapsed = clock.now - start
            benchmark.stopMeasurement()
            let statistics = store.statistics()
            let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) * 1e-9
            benchmark.measurement(StorageMetric.readingsPerSecond, Int(Double(dataset.readings) / nanoseconds * 1e9))
            benchmark.measurement(StorageMetric.bytesPerThousandReadings, statistics.memoryBytes * 1_000 / max(1, statistics.readings))
        },
        setup: { batches = dataset.allBatches() },
        teardown: { batches = [] }
    )
}
