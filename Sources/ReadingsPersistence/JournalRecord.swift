import ReadingsDomain
import ReadingsStorage

/// The typed layer of the journal: what one framed record's payload means.
///
/// Type 1, readings: the readings of one device that one request had accepted, in decision order:
/// `1 | id length (varint) | id bytes | n (varint) | n × (instant delta (zigzag varint) | count (varint))`,
/// the first instant's delta taken from 0.
public enum JournalRecord {
    /// Payload type of an accepted-readings record.
    public static let readingsType: UInt8 = 1

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

    /// Decodes a readings payload; nil when it is not one or is malformed.
    public static func decode(_ payload: UnsafeBufferPointer<UInt8>) -> (DeviceID, [Reading])? {
        guard payload.first == readingsType else { return nil }
        var reader = VarIntReader(bytes: payload, position: 1)
        guard let idLength = reader.nextChecked(), idLength <= 1024, reader.position + Int(idLength) <= payload.count else {
            return nil
        }
        let idBytes = Array(payload[reader.position..<reader.position + Int(idLength)])
        reader.position += Int(idLength)
        guard let device = try? DeviceID(validating: idBytes), let n = reader.nextChecked(), n <= UInt64(payload.count) else {
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
        return (device, readings)
    }
}
