/// A device identifier: 1 to 128 Unicode scalars, no control characters, kept verbatim.
///
/// Stored as its UTF-8 bytes and compared byte by byte, which is scalar-by-scalar comparison
/// with no Unicode normalisation: `"café"` in NFC and in NFD are two devices (Swift's
/// `String ==` would merge them). Byte order is also Unicode scalar order, the order of
/// `GET /devices`.
public struct DeviceID: Hashable, Comparable, Sendable {
    /// The id's UTF-8 bytes, exactly as received.
    public let utf8: [UInt8]

    /// The largest number of Unicode scalars an id may have.
    public static let maxScalars = 128

    /// Validates `utf8` (which must already be well-formed UTF-8) against the id rules.
    public init(validating utf8: [UInt8]) throws(DeviceIDError) {
        try DeviceID.validate(utf8.withUnsafeBufferPointer { $0 })
        self.utf8 = utf8
    }

    /// Validates a string against the id rules.
    public init(_ string: String) throws(DeviceIDError) {
        try self.init(validating: Array(string.utf8))
    }

    /// The id as a Swift string (for messages and logs; never for comparison).
    public var string: String { String(decoding: utf8, as: UTF8.self) }

    /// Byte order, compared over the two arrays' storage directly (listings compare ids by the
    /// million: the generic `lexicographicallyPrecedes` cost several times as much).
    @inlinable
    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool {
        lhs.utf8.withUnsafeBufferPointer { a in
            rhs.utf8.withUnsafeBufferPointer { b in
                let common = Swift.min(a.count, b.count)
                var i = 0
                while i < common {
                    if a[i] != b[i] { return a[i] < b[i] }
                    i += 1
                }
                return a.count < b.count
            }
        }
    }

    /// Checks the id rules on well-formed UTF-8: 1...128 scalars; no U+0000–U+001F,
    /// U+007F–U+009F.
    static func validate(_ bytes: UnsafeBufferPointer<UInt8>) throws(DeviceIDError) {
        var scalars = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x20 || b == 0x7F { throw .controlCharacter }
            // U+0080–U+009F are encoded as C2 80 ... C2 9F.
            if b == 0xC2, i + 1 < bytes.count, bytes[i + 1] <= 0x9F { throw .controlCharacter }
            if b & 0xC0 != 0x80 { scalars += 1 }
            i += 1
        }
        if scalars == 0 { throw .empty }
        if scalars > maxScalars { throw .tooLong(scalars: scalars) }
    }
}

extension DeviceID: CustomStringConvertible {
    /// The id as text.
    public var description: String { string }
}

/// Why a device id was refused (`INVALID_DEVICE_ID`).
public enum DeviceIDError: Error, Hashable, Sendable {
    /// The id is the empty string.
    case empty
    /// More than ``DeviceID/maxScalars`` Unicode scalars.
    case tooLong(scalars: Int)
    /// A control character (U+0000–U+001F or U+007F–U+009F).
    case controlCharacter
    /// Not a JSON string.
    case notAString
    /// No `id` member.
    case missing

    /// The explanation for the error body.
    public var message: String {
        switch self {
        case .empty: "id must not be empty"
        case .tooLong(let scalars): "id must be at most 128 Unicode scalars long (got \(scalars))"
        case .controlCharacter: "id must not contain control characters (U+0000-U+001F, U+007F-U+009F)"
        case .notAString: "id must be a JSON string"
        case .missing: "id is missing: the body must have a string member \"id\""
        }
    }
}
