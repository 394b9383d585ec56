/// One connection's requests, built one at a time while sending, with what the server should
/// hold for them kept up to date from the answers.
///
/// The connection owns devices `connection`, `connection + connections`, ... and works on at
/// most `devicesInFlight` of them at a time: their plans are made when they start and dropped
/// when their last request is answered, the next owned device taking the freed place. The devices
/// in flight take turns, one request each, as a fleet reporting over time would; each device's
/// requests go out in order, one answered before its next is built.
struct BenchRequestStream {
    /// Devices a connection interleaves at most.
    static let devicesInFlight = 4

    /// What a connection knows about a device it is sending.
    private struct Device {
        var cursor: BenchDeviceCursor
        var ledger = BenchDeviceLedger()
        let bodyStart: [UInt8]
    }

    private let workload: BenchWorkload
    private var nextDevice: Int
    private var inFlight: [Device] = []
    /// The place in `inFlight` whose turn is next.
    private var turn = 0
    /// The place of the device whose request was built last and awaits its answer.
    private var pending: Int?
    private var batch = BenchBatch()
    private var writer: BenchRequestWriter

    /// Expectations of the sampled devices whose last request was answered.
    private var finishedSample: [Int: BenchVerifier.Expectation] = [:]
    /// Totals over the devices whose last request was answered.
    private var finishedTotals = BenchVerifier.Expectation()

    /// The stream of connection `connection` of `workload`.
    init(workload: BenchWorkload, connection: Int) {
        self.workload = workload
        nextDevice = connection
        writer = workload.writerTemplate
        batch.sends.reserveCapacity(workload.shape.batch)
    }

    /// Readings in the request built last.
    var readingsInRequest: Int { batch.sends.count }

    /// Bytes of the request built last.
    var requestLength: Int { writer.requestLength }

    /// Builds the next request (the previous one must have been answered); false when every
    /// device of the connection is done.
    mutating func next() -> Bool {
        precondition(pending == nil, "the previous request was not answered")
        while inFlight.count < BenchRequestStream.devicesInFlight && nextDevice < workload.shape.devices {
            let plan = workload.plan(device: nextDevice)
            inFlight.append(
                Device(cursor: BenchDeviceCursor(plan: plan), bodyStart: BenchRequestWriter.bodyStart(id: plan.id)))
            nextDevice += workload.shape.connections
        }
        guard !inFlight.isEmpty else { return false }
        if turn >= inFlight.count { turn = 0 }
        inFlight[turn].cursor.next(into: &batch)
        writer.write(batch, plan: inFlight[turn].cursor.plan, bodyStart: inFlight[turn].bodyStart)
        pending = turn
        return true
    }

    /// Runs `body` with the bytes of the request built last.
    func withRequest<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try writer.withRequest(body)
    }

    /// Records the answer to the request built last: `acknowledged` when it was 2xx.
    mutating func answer(acknowledged: Bool) {
        guard let place = pending else { preconditionFailure("no request awaits an answer") }
        pending = nil
        let plan = inFlight[place].cursor.plan
        inFlight[place].ledger.record(batch, acknowledged: acknowledged, plan: plan)
        if inFlight[place].cursor.isFinished {
            finish(inFlight.remove(at: place))
            turn = place
        } else {
            turn = place + 1
        }
    }

    /// Expectations of the sampled devices this connection started (finished or still in flight);
    /// devices it never started hold nothing.
    var sampledExpectations: [Int: BenchVerifier.Expectation] {
        inFlight.reduce(into: finishedSample) { all, device in
            if workload.isSampled(device.cursor.plan.index) {
                all[device.cursor.plan.index] = device.ledger.expectation
            }
        }
    }

    /// Distinct readings stored and sends in acknowledged requests, over all devices started.
    var totals: BenchVerifier.Expectation {
        inFlight.reduce(into: finishedTotals) { $0.add($1.ledger.expectation) }
    }

    private mutating func finish(_ device: Device) {
        finishedTotals.add(device.ledger.expectation)
        if workload.isSampled(device.cursor.plan.index) {
            finishedSample[device.cursor.plan.index] = device.ledger.expectation
        }
    }
}
