import Dispatch
import Synchronization

/// The whole run's traffic, generated before the timed part: device `i` belongs to connection
/// `i % connections` and is that connection's device number `i / connections`.
struct BenchWorkload: Sendable {
    /// What to generate.
    struct Shape: Sendable {
        /// Devices in the run.
        var devices: Int
        /// Readings per device.
        var readings: Int
        /// Readings per request.
        var batch: Int
        /// Percent of readings sent again as exact retries.
        var duplicatePercent: Double
        /// Percent of readings sent out of time order.
        var outOfOrderPercent: Double
        /// The seed of every random choice.
        var seed: UInt64
        /// Device `i` is named `idPrefix + String(i)`.
        var idPrefix: String
        /// Connections (≤ devices).
        var connections: Int
    }

    /// One stream per connection.
    let streams: [BenchRequestStream]

    /// Generates the plans and request bytes, one connection's share per task, on all cores.
    init(shape: Shape, target: BenchTarget, apiKey: String?, returnMinimal: Bool) {
        let headPrefix = Array(
            "POST \(target.basePath)/ingest HTTP/1.1\r\nHost: \(target.authority)\r\nContent-Type: application/json\r\nContent-Length: "
                .utf8)
        var extra = ""
        if let apiKey { extra += "Authorization: Bearer \(apiKey)\r\n" }
        if returnMinimal { extra += "Prefer: return=minimal\r\n" }
        let extraHeaders = Array(extra.utf8)

        let built = Mutex<[BenchRequestStream?]>(Array(repeating: nil, count: shape.connections))
        DispatchQueue.concurrentPerform(iterations: shape.connections) { connection in
            let plans = stride(from: connection, to: shape.devices, by: shape.connections).map { index in
                BenchDevicePlan(
                    index: index, id: shape.idPrefix + String(index), readings: shape.readings, batch: shape.batch,
                    duplicatePercent: shape.duplicatePercent, outOfOrderPercent: shape.outOfOrderPercent,
                    seed: shape.seed)
            }
            let stream = BenchRequestStream(devices: plans, headPrefix: headPrefix, extraHeaders: extraHeaders)
            built.withLock { $0[connection] = stream }
        }
        streams = built.withLock { $0.map { $0! } }
    }

    /// The plan of device `index`.
    func plan(device index: Int) -> BenchDevicePlan {
        streams[index % streams.count].devices[index / streams.count]
    }

    /// Requests in the whole run.
    var requestCount: Int { streams.reduce(0) { $0 + $1.count } }

    /// Readings sent in the whole run, repeats included.
    var sendCount: Int { streams.reduce(0) { $0 + $1.devices.reduce(0) { $0 + $1.sendOrder.count } } }

    /// Readings that trade places to arrive out of time order, over all devices.
    var outOfOrderCount: Int { streams.reduce(0) { $0 + $1.devices.reduce(0) { $0 + $1.outOfOrderReadings } } }

    /// Repeated sends over all devices.
    var duplicateCount: Int { streams.reduce(0) { $0 + $1.devices.reduce(0) { $0 + $1.duplicateSends } } }

    /// Bytes of request data held in memory.
    var byteCount: Int { streams.reduce(0) { $0 + $1.bytes.count } }
}
