import Foundation
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPersistence

/// The framing and record layers: checksums, torn and corrupt records, typed payloads.
@Suite struct RecordFormatTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // Slice-by-8 and the byte loop agree on every length and alignment.
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for length in 0...data.count {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in data[0..<length] {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            #expect(CRC32C.checksum(Array(data[0..<length])) == crc ^ 0xFFFF_FFFF)
        }
    }

    @Test func framedRecordsReadBackAndDamageIsDetected() {
        var bytes: [UInt8] = []
        RecordFrame.append(to: &bytes) { $0.append(contentsOf: [1, 2, 3]) }
        RecordFrame.append(to: &bytes) { $0.append(contentsOf: Array(repeating: 9, count: 100)) }
        bytes.withUnsafeBufferPointer { buffer in
            guard case .record(let first, let next) = RecordFrame.read(buffer, at: 0) else {
                Issue.record("first record unreadable")
                return
            }
            #expect(Array(buffer[first]) == [1, 2, 3])
            guard case .record(let second, let end) = RecordFrame.read(buffer, at: next) else {
                Issue.record("second record unreadable")
                return
            }
            #expect(second.count == 100)
            #expect(end == buffer.count)
        }
        // Every truncation of the second record is `.truncated`.
        for cut in 11..<bytes.count {
            Array(bytes[0..<cut]).withUnsafeBufferPointer { buffer in
                if case .truncated = RecordFrame.read(buffer, at: 11) {} else { Issue.record("cut at \(cut) not truncated") }
            }
        }
        // Any flipped payload bit is `.corrupt`.
        for position in 19..<bytes.count {
            var damaged = bytes
            damaged[position] ^= 0x10
            damaged.withUnsafeBufferPointer { buffer in
                if case .corrupt = RecordFrame.read(buffer, at: 11) {} else { Issue.record("flip at \(position) not detected") }
            }
        }
        // An impossible length is corrupt, not a huge allocation.
        ([0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0] as [UInt8]).withUnsafeBufferPointer { buffer in
            if case .corrupt = RecordFrame.read(buffer, at: 0) {} else { Issue.record("impossible length accepted") }
        }
    }

    @Test func readingsRecordsRoundTripAtTheExtremes() {
        let readings = [
            Reading(instant: .min, count: 0), Reading(instant: Instant(nanoseconds: -1), count: ReadingCount.max),
            Reading(instant: Instant(nanoseconds: 0), count: 1), Reading(instant: .max, count: 7),
        ]
        var outcomes: [IngestOutcome] = [.accepted, .duplicate, .accepted, .accepted]
        var payload: [UInt8] = []
        JournalRecord.encodeAccepted(device: device("é x/1"), readings: readings[...], outcomes: outcomes[...], into: &payload)
        let decoded = payload.withUnsafeBufferPointer { JournalRecord.decode($0) }
        #expect(decoded == .readings(device("é x/1"), [readings[0], readings[2], readings[3]]))
        outcomes = [.conflicting(existingCount: 1), .overflow, .duplicate, .tooOld]
        payload.removeAll()
        JournalRecord.encodeAccepted(device: device("d"), readings: readings[...], outcomes: outcomes[...], into: &payload)
        #expect(payload.withUnsafeBufferPointer { JournalRecord.decode($0) } == .readings(device("d"), []))
        // Trailing garbage or a cut payload is refused.
        #expect((payload + [0]).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
        #expect(Array(payload.dropLast()).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
    }

    @Test func deletedAndHorizonRecordsRoundTrip() {
        for horizon in [Instant.min, Instant(nanoseconds: -1), Instant(nanoseconds: 0), .max] {
            var payload: [UInt8] = []
            JournalRecord.encodeHorizon(horizon, into: &payload)
            #expect(payload.withUnsafeBufferPointer { JournalRecord.decode($0) } == .horizon(horizon))
            #expect((payload + [0]).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
        }
        var payload: [UInt8] = []
        JournalRecord.encodeDeleted(device("é x/1"), into: &payload)
        #expect(payload.withUnsafeBufferPointer { JournalRecord.decode($0) } == .deleted(device("é x/1")))
        #expect((payload + [0]).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
        #expect(Array(payload.dropLast()).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
        // An unknown type is refused.
        #expect(([9, 0] as [UInt8]).withUnsafeBufferPointer { JournalRecord.decode($0) } == nil)
    }
}
