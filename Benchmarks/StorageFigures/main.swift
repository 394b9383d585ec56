// Plain measurements of the memory engine, single-threaded, without the benchmark framework:
// fills a store with each dataset of the storage issue and prints throughput and the engine's
// own bytes per stored reading, then block encode/decode rates.
//
//     swift run -c release StorageFigures [--devices N] [--per-device N] [--only regular|messy]
//
// Defaults: 10,000 devices × 5,000 readings = 50M readings per dataset, both datasets.

import ReadingsDomain
import ReadingsStorage
import StorageWorkloads

#if canImport(Glibc)
import Glibc
#endif

/// The value of `--name N` on the command line, or `fallback`.
func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count, let value = Int(arguments[at + 1]) else {
        return fallback
    }
    return value
}

/// Seconds in `duration`.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// The process's resident set in bytes (Linux; 0 elsewhere): a rough check on the engine's own
/// estimate, allocator overhead included. Only the first store of a process is measured this way:
/// later ones reuse the memory freed by earlier ones.
func residentBytes() -> Int {
    #if os(Linux)
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return 0 }
    let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    #else
    return 0
    #endif
}

/// Formats `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return String(rounded)
}

/// Devices per dataset (`--devices`).
let devices = option("--devices", 10_000)
/// Readings each device sends (`--per-device`).
let perDevice = option("--per-device", 5_000)
/// The datasets to run: both, or the one named by `--only regular|messy`.
let shapes =
    CommandLine.arguments.firstIndex(of: "--only").flatMap { at in
        at + 1 < CommandLine.arguments.count ? WorkloadShape(rawValue: CommandLine.arguments[at + 1]).map { [$0] } : nil
    } ?? WorkloadShape.allCases
print("memory engine, single thread, \(devices) devices × \(perDevice) readings, batches of 1000")

for shape in shapes {
    let dataset = Dataset(shape: shape, devices: devices, readingsPerDevice: perDevice, batchSize: min(1_000, perDevice))
    let store = MemoryStore()
    let clock = ContinuousClock()
    var elapsed = Duration.zero
    var accepted = 0
    let residentBefore = residentBytes()
    dataset.forEachBatch { device, batch in
        let start = clock.now
        let outcomes = store.ingestNow(batch, for: device)
        elapsed += clock.now - start
        for outcome in outcomes where outcome == .accepted { accepted += 1 }
    }
    let statistics = store.statistics()
    let residentGrowth = residentBytes() - residentBefore
    let time = seconds(elapsed)
    print(
        """

        \(shape) dataset:
          readings sent      \(dataset.readings)
          readings stored    \(statistics.readings) (accepted \(accepted), others repeats)
          ingest seconds     \(fixed(time, 3))
          readings/s         \(Int(Double(dataset.readings) / time)) (sent, single thread)
          engine bytes       \(statistics.memoryBytes) in \(statistics.blocks) blocks
          bytes per reading  \(fixed(Double(statistics.memoryBytes) / Double(max(1, statistics.readings)))) (engine estimate, per stored reading)
        """)
    if shape == shapes.first {
        print(
            "  RSS growth         \(fixed(Double(residentGrowth) / Double(max(1, statistics.readings)))) bytes per stored reading (process, first dataset only)"
        )
    }
    withExtendedLifetime(store) {}
}

// One device's whole history in each arrival order, batches of 100,000 (the engine's own
// ceiling for `scripts/bench-order.sh`, without HTTP): `--history N` readings (default 10M).
let history = option("--history", 10_000_000)
if history > 0 {
    var historyStream = DeviceStream(device: 0, shape: .regular)
    let inOrder = historyStream.next(history)
    var generator = SplitMix64(seed: 42)
    print("\none device, \(history) regular readings, batches of 100,000, single thread:")
    for (name, readings) in [
        ("in order", inOrder), ("shuffled", inOrder.shuffled(using: &generator)), ("reversed", Array(inOrder.reversed())),
    ] {
        let store = MemoryStore()
        let device = try! DeviceID("history")
        let clock = ContinuousClock()
        let time = clock.measure {
            for start in stride(from: 0, to: readings.count, by: 100_000) {
                _ = store.ingestNow(Array(readings[start..<min(start + 100_000, readings.count)]), for: device)
            }
        }
        let statistics = store.statistics()
        precondition(statistics.readings == history, "\(name): stored \(statistics.readings)")
        print(
            "  \(name + String(repeating: " ", count: 9 - name.count))  \(Int(Double(history) / seconds(time))) readings/s, \(fixed(Double(statistics.memoryBytes) / Double(history))) bytes per reading"
        )
    }
}

// Block codec: one block of 1024 regular readings, encoded and decoded repeatedly.
var stream = DeviceStream(device: 0, shape: .regular)
let block = stream.next(1_024)
let instants = block.map(\.instant.nanoseconds)
let counts = block.map(\.count)
var bytes: [UInt8] = []
let rounds = 20_000
let clock = ContinuousClock()
let encodeTime = clock.measure {
    for _ in 0..<rounds {
        bytes.removeAll(keepingCapacity: true)
        BlockCodec.encode(instants: instants, counts: counts, into: &bytes)
    }
}
var decodedInstants: [Int64] = []
var decodedCounts: [UInt64] = []
decodedInstants.reserveCapacity(1_024)
decodedCounts.reserveCapacity(1_024)
let decodeTime = bytes.withUnsafeBufferPointer { buffer in
    clock.measure {
        for _ in 0..<rounds {
            decodedInstants.removeAll(keepingCapacity: true)
            decodedCounts.removeAll(keepingCapacity: true)
            BlockCodec.decode(buffer, first: instants[0], count: 1_024, instants: &decodedInstants, counts: &decodedCounts)
        }
    }
}
precondition(decodedInstants == instants && decodedCounts == counts, "codec round trip failed")
let readings = Double(rounds * 1_024)
print(
    """

    block codec, 1024 regular readings (\(bytes.count) bytes, \(fixed(Double(bytes.count) / 1_024)) bytes per reading):
      encode  \(Int(readings / seconds(encodeTime))) readings/s (\(Int(seconds(encodeTime) / Double(rounds) * 1e9)) ns per block)
      decode  \(Int(readings / seconds(decodeTime))) readings/s (\(Int(seconds(decodeTime) / Double(rounds) * 1e9)) ns per block)
    """)
