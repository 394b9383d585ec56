import ReadingsStorage

/// The framing shared by journal segments and snapshots: every record is
/// `length (u32 LE) | CRC-32C of payload (u32 LE) | payload`, so a torn or corrupt record is
/// recognised before its payload is read. See `docs/persistence.md`.
public enum RecordFrame {
    /// Bytes before the payload.
    public static let headerSize = 8
    /// Largest payload accepted when reading (a request is at most 100,000 readings plus an id).
    public static let maxPayload = 64 << 20

    /// Appends one record whose payload `writePayload` appends to `out`.
    @inline(__always)
    public static func append(to out: inout [UInt8], _ writePayload: (inout [UInt8]) -> Void) {
        let start = out.count
        out.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])
        writePayload(&out)
        let length = UInt32(out.count - start - headerSize)
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + headerSize)...])) }
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length.littleEndian, toByteOffset: start, as: UInt32.self)
            raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    /// What reading the record at an offset found.
    public enum ReadResult {
        /// A whole, intact record: its payload range and the offset after it.
        case record(payload: Range<Int>, next: Int)
        /// The buffer ends inside the record (header or payload).
        case truncated
        /// The length is impossible or the checksum does not match.
        case corrupt(reason: String)
    }

    /// Reads the record starting at `offset` in `bytes`.
    public static func read(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> ReadResult {
        guard offset + headerSize <= bytes.count else { return .truncated }
        var reader = LittleEndianReader(bytes: bytes, position: offset)
        let length = Int(reader.read(UInt32.self)!)
        let crc = reader.read(UInt32.self)!
        // Every record written has a payload; a zero length is a zero-filled region.
        guard length > 0, length <= maxPayload else { return .corrupt(reason: "record length \(length) is impossible") }
        let start = offset + headerSize
        guard start + length <= bytes.count else { return .truncated }
        let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<start + length]))
        guard actual == crc else { return .corrupt(reason: "checksum mismatch") }
        return .record(payload: start..<start + length, next: start + length)
    }
}
