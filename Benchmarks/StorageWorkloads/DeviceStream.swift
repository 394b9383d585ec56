import ReadingsDomain

/// The two workloads of the storage figures (both at one reading per minute per device, counts
/// 0–50).
public enum WorkloadShape: String, CaseIterable, Sendable {
    /// In order, at whole seconds: the 60 s period plus 0–2 s of jitter.
    case regular
    /// Millisecond instants (period plus 0–1999 ms of jitter); 10 % of new readings arrive late
    /// by 1 to 5 minutes (after up to 5 newer ones); 5 % of the readings sent are exact repeats
    /// of one of the last 16 sent (a client retry).
    case messy
}

/// One device's readings in the order a device would send them, batch after batch,
/// deterministic for a given device index, shape and seed.
public struct DeviceStream: Sendable {
    /// Nanoseconds in a second.
    static let second: Int64 = 1_000_000_000
    /// 2025-01-01T00:00:00Z.
    static let origin: Int64 = 1_735_689_600 * second
    /// The reading period.
    static let period: Int64 = 60 * second

    /// The shape of the stream.
    public let shape: WorkloadShape
    private var random: WorkloadRandom
    /// The nominal instant of the next new reading.
    private var nominal: Int64
    /// Late readings held back, with the number of new readings still to send before each.
    private var held: [(reading: Reading, after: Int)] = []
    /// The last readings sent, for repeats (messy only), used as a ring.
    private var recent: [Reading] = []
    private var sent = 0

    /// The stream of device number `device`; devices start staggered over the first minute.
    public init(device: Int, shape: WorkloadShape, seed: UInt64 = 42) {
        self.shape = shape
        self.random = WorkloadRandom(seed: seed, stream: UInt64(device))
        self.nominal = Self.origin + Int64(device % 60) * Self.second
    }

    /// The next `count` readings the device sends.
    public mutating func next(_ count: Int) -> [Reading] {
        var batch: [Reading] = []
        batch.reserveCapacity(count)
        for _ in 0..<count { batch.append(next()) }
        return batch
    }

    /// The next reading the device sends.
    public mutating func next() -> Reading {
        switch shape {
        case .regular:
            let jitter = Int64(random.below(3)) * Self.second
            defer { nominal += Self.period }
            return Reading(instant: Instant(nanoseconds: nominal + jitter), count: UInt64(random.below(51)))
        case .messy:
            let reading = nextMessy()
            if recent.count < 16 { recent.append(reading) } else { recent[sent & 15] = reading }
            sent += 1
            return reading
        }
    }

    private mutating func nextMessy() -> Reading {
        if !recent.isEmpty && random.percent(5) {
            return recent[random.below(recent.count)]
        }
        if let due = held.firstIndex(where: { $0.after <= 0 }) {
            return held.remove(at: due).reading
        }
        while true {
            let jitter = Int64(random.below(2000)) * 1_000_000
            let reading = Reading(instant: Instant(nanoseconds: nominal + jitter), count: UInt64(random.below(51)))
            nominal += Self.period
            for i in held.indices { held[i].after -= 1 }
            if random.percent(10) {
                held.append((reading, 1 + random.below(5)))
            } else {
                return reading
            }
        }
    }
}

/// The ids `device-00000`, `device-00001`, …
public func workloadDevices(_ count: Int) -> [DeviceID] {
    (0..<count).map { index in
        let digits = String(index)
        // Valid by construction: printable ASCII, well under 128 scalars.
        return try! DeviceID("device-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits)
    }
}
