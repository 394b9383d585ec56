/// Everything one connection sends, built byte for byte before the clock starts: the plans of
/// the devices it owns and their ingest requests, concatenated.
///
/// A device belongs to exactly one connection, and its batches appear in the stream in batch
/// order, so the server sees each device's requests in the planned order. Devices take turns
/// (batch 0 of each, then batch 1 of each, ...), as a fleet reporting over time would.
struct BenchRequestStream: Sendable {
    /// The devices this connection owns.
    let devices: [BenchDevicePlan]
    /// All requests (head and body), back to back.
    let bytes: [UInt8]
    /// Request `r` is `bytes[starts[r]..<starts[r + 1]]`.
    let starts: [Int]
    /// For request `r`: the owning device's position in `devices`.
    let requestDevice: [Int32]
    /// For request `r`: which of that device's batches it carries.
    let requestBatch: [Int32]

    /// The number of requests.
    var count: Int { starts.count - 1 }

    /// The number of readings request `r` carries.
    func readings(inRequest r: Int) -> Int {
        let plan = devices[Int(requestDevice[r])]
        let batch = Int(requestBatch[r])
        return plan.batchStarts[batch + 1] - plan.batchStarts[batch]
    }

    /// Builds the stream for `devices`. Each request is `headPrefix` (request line and headers,
    /// ending in `Content-Length: `), the body's length, CRLF, `extraHeaders` (whole header
    /// lines), CRLF, and the body.
    init(devices: [BenchDevicePlan], headPrefix: [UInt8], extraHeaders: [UInt8]) {
        var bytes: [UInt8] = []
        var starts: [Int] = [0]
        var requestDevice: [Int32] = []
        var requestBatch: [Int32] = []
        let estimated = devices.reduce(0) { $0 + $1.sendOrder.count * 48 + $1.batchCount * (headPrefix.count + 200) }
        bytes.reserveCapacity(estimated)
        var body: [UInt8] = []
        let rounds = devices.map(\.batchCount).max() ?? 0
        for round in 0..<rounds {
            for (slot, plan) in devices.enumerated() where round < plan.batchCount {
                body.removeAll(keepingCapacity: true)
                BenchRequestStream.appendBody(plan: plan, batch: round, to: &body)
                bytes.append(contentsOf: headPrefix)
                bytes.append(contentsOf: String(body.count).utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
                bytes.append(contentsOf: extraHeaders)
                bytes.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
                bytes.append(contentsOf: body)
                starts.append(bytes.count)
                requestDevice.append(Int32(slot))
                requestBatch.append(Int32(round))
            }
        }
        self.devices = devices
        self.bytes = bytes
        self.starts = starts
        self.requestDevice = requestDevice
        self.requestBatch = requestBatch
    }

    /// `{"id":"...","readings":[{"timestamp":"...","count":N},...]}` for one batch.
    private static func appendBody(plan: BenchDevicePlan, batch: Int, to body: inout [UInt8]) {
        body.append(contentsOf: #"{"id":""#.utf8)
        BenchWireEncoding.appendJSONStringContent(plan.id, to: &body)
        body.append(contentsOf: #"","readings":["#.utf8)
        var first = true
        for reading in plan.batch(batch) {
            if !first { body.append(UInt8(ascii: ",")) }
            first = false
            body.append(contentsOf: #"{"timestamp":""#.utf8)
            BenchTimestamp.append(offset: plan.offsets[Int(reading)], to: &body)
            body.append(contentsOf: #"","count":"#.utf8)
            let count = plan.counts[Int(reading)]
            if count >= 10 { body.append(UInt8(ascii: "0") + count / 10) }
            body.append(UInt8(ascii: "0") + count % 10)
            body.append(UInt8(ascii: "}"))
        }
        body.append(contentsOf: "]}".utf8)
    }
}
