import ReadingsDomain
import ReadingsStorage

/// The typed layer of the journal: what one framed record's payload means.
///
/// - Type 1, readings: the readings of one device that one request had accepted, in decision
///   order: `1 | id length (varint) | id bytes | n (varint) | n × (instant delta (zigzag varint) | count (varint))`,
///   the first instant's delta taken from 0.
/// - Type 2, device deleted: `2 | id length (varint) | id bytes`.
/// - Type 3, retention horizon: `3 | horizon (zigzag varint, nanoseconds)`: readings before it
///   were removed, and none before it is accepted any more.
public enum JournalRecord: Equatable {
    case readings(DeviceID, [Reading])
    case deleted(DeviceID)
    case horizon(Instant)

    /// Payload type of an accepted-readings record.
    public static let readingsType: UInt8 = 1
    /// Payload type of a device-deleted record.
    public static let deletedType: UInt8 = 2
    /// Payload type of a horizon record.
    public static let horizonType: UInt8 = 3

    /// Appends the payload of a device-deleted record.
    public static func encodeDeleted(_ device: DeviceID, into out: inout [UInt8]) {
        out.append(deletedType)
        VarInt.append(UInt64(device.utf8.count), to: &out)
        out.append(contentsOf: device.utf8)
    }

    /// Appends the payload of a horizon record.
    public static func encodeHorizon(_ horizon: Instant, into out: inout [UInt8]) {
        out.append(horizonType)
        VarInt.append(VarInt.zigzag(horizon.nanoseconds), to: &out)
    }

    /// Appends the payload for the accepted readings among `readings` (by `outcomes`).
    public static func encodeAccepted(
        device: DeviceID, readings: ArraySlice<Reading>, outcomes: ArraySlice<IngestOutcome>, into out: inout [UInt8]
    ) {
        out.append(readingsType)
        VarInt.append(UInt64(device.utf8.count), to: &out)
        out.append(contentsOf: device.utf8)
        var accepted = 0
        for outcome in outcomes where outcome == .accepted { accepted += 1 }
        VarInt.append(UInt64(accepted), to: &out)
        var previous: Int64 = 0
        for (reading, outcome) in zip(readings, outcomes) where outcome == .accepted {
            let t = reading.instant.nanoseconds
            VarInt.append(VarInt.zigzag(t &- previous), to: &out)
            VarInt.append(reading.count, to: &out)
            previous = t
        }
    }

    /// Decodes a payload; nil when it is malformed or of an unknown type.
    public static func decode(_ payload: UnsafeBufferPointer<UInt8>) -> JournalRecord? {
        var reader = VarIntReader(bytes: payload, position: 1)
        switch payload.first {
        case readingsType:
            guard let device = readDevice(payload, &reader), let n = reader.nextChecked(), n <= UInt64(payload.count) else {
                return nil
            }
            var readings: [Reading] = []
            readings.reserveCapacity(Int(n))
            var previous: Int64 = 0
            for _ in 0..<n {
                guard let delta = reader.nextChecked(), let count = reader.nextChecked(), count <= ReadingCount.max else {
                    return nil
                }
                previous = previous &+ VarInt.unzigzag(delta)
                readings.append(Reading(instant: Instant(nanoseconds: previous), count: count))
            }
            guard reader.position == payload.count else { return nil }
            return .readings(device, readings)
        case deletedType:
            guard let device = readDevice(payload, &reader), reader.position == payload.count else { return nil }
            return .deleted(device)
        case horizonType:
            guard let value = reader.nextChecked(), reader.position == payload.count else { return nil }
            return .horizon(Instant(nanoseconds: VarInt.unzigzag(value)))
        default:
            return nil
        }
    }

    /// A device id: its length (varint) and bytes.
    private static func readDevice(_ payload: UnsafeBufferPointer<UInt8>, _ reader: inout VarIntReader) -> DeviceID? {
        guard let idLength = reader.nextChecked(), idLength <= 1024, reader.position + Int(idLength) <= payload.count else {
            return nil
        }
        let idBytes = Array(payload[reader.position..<reader.position + Int(idLength)])
        reader.position += Int(idLength)
        return try? DeviceID(validating: idBytes)
    }
}
