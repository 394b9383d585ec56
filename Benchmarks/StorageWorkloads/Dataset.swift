import ReadingsDomain

/// A whole dataset: `devices` devices sending `readingsPerDevice` readings each, in batches of
/// `batchSize` readings of one device, devices taking turns (round robin), as many devices
/// reporting at once would.
public struct Dataset: Sendable {
    /// The shape of every device's stream.
    public let shape: WorkloadShape
    /// The device ids.
    public let devices: [DeviceID]
    /// Readings each device sends (repeats included).
    public let readingsPerDevice: Int
    /// Readings per batch.
    public let batchSize: Int

    /// The dataset of the storage issue: 50M readings over 10k devices, in batches of 1000.
    public static func issue(_ shape: WorkloadShape) -> Dataset {
        Dataset(shape: shape, devices: 10_000, readingsPerDevice: 5_000, batchSize: 1_000)
    }

    /// Creates a dataset.
    public init(shape: WorkloadShape, devices: Int, readingsPerDevice: Int, batchSize: Int) {
        precondition(readingsPerDevice % batchSize == 0, "whole batches only")
        self.shape = shape
        self.devices = workloadDevices(devices)
        self.readingsPerDevice = readingsPerDevice
        self.batchSize = batchSize
    }

    /// Readings sent in all.
    public var readings: Int { devices.count * readingsPerDevice }

    /// Calls `body` with each batch in sending order, generating the readings as it goes.
    public func forEachBatch(_ body: (DeviceID, [Reading]) throws -> Void) rethrows {
        var streams = devices.indices.map { DeviceStream(device: $0, shape: shape) }
        for _ in 0..<(readingsPerDevice / batchSize) {
            for index in devices.indices {
                try body(devices[index], streams[index].next(batchSize))
            }
        }
    }

    /// Every batch in sending order, generated up front (16 bytes a reading).
    public func allBatches() -> [(device: DeviceID, readings: [Reading])] {
        var batches: [(device: DeviceID, readings: [Reading])] = []
        batches.reserveCapacity(readings / batchSize)
        forEachBatch { batches.append(($0, $1)) }
        return batches
    }
}
