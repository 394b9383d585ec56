/// LEB128 variable-length integers and zigzag signed mapping: small magnitudes take one byte.
public enum VarInt {
    /// Appends `value` as LEB128 (7 bits per byte, high bit = more).
    @inlinable @inline(__always)
    public static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Bytes `value` takes as LEB128.
    @inlinable @inline(__always)
    public static func size(_ value: UInt64) -> Int {
        // 1 + floor(bits / 7), with 0 taking one byte.
        let bits = 64 - value.leadingZeroBitCount
        return bits == 0 ? 1 : (bits + 6) / 7
    }

    /// Maps a signed value to unsigned so that small magnitudes stay small.
    @inlinable @inline(__always)
    public static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Inverse of ``zigzag(_:)``.
    @inlinable @inline(__always)
    public static func unzigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}

/// Reads LEB128 values from a byte buffer.
public struct VarIntReader {
    /// The buffer.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    public var position: Int

    /// Creates a reader at `position`.
    @inlinable
    public init(bytes: UnsafeBufferPointer<UInt8>, position: Int) {
        self.bytes = bytes
        self.position = position
    }

    /// The next value (the buffer must hold a whole varint; see ``nextChecked()``).
    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// The next value, or nil when the buffer ends first or the varint is longer than 64 bits.
    @inlinable
    public mutating func nextChecked() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }
}
