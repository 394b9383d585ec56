import FuzzSupport
import ReadingsDomain

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The timestamp fuzz target. For any bytes:
/// - `Instant.parseRFC3339` agrees with ``ReferenceTimestamp`` on accept/refuse, on the instant,
///   and reports one of the errors the reference allows;
/// - an accepted timestamp's canonical form matches the contract's canonical grammar, fits
///   `Instant.maxCanonicalLength`, equals `canonical`, and re-parses (by both parsers) to the
///   same instant;
/// - the first 8 bytes read as Int64 nanoseconds (every instant is in range) round-trip through
///   the canonical form the same way.
enum TimestampFuzzTarget {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        let ours = Instant.parseRFC3339(input)
        let reference = ReferenceTimestamp.parse(input)
        switch (ours, reference) {
        case (.success(let instant), .accepted(let nanoseconds)):
            guard instant.nanoseconds == nanoseconds else {
                fail("instant \(instant.nanoseconds) != reference \(nanoseconds)", input)
            }
            checkCanonical(instant, input)
        case (.failure(let error), .rejected(let allowed)):
            guard allowed.contains(error) else { fail("error \(error), reference allows \(allowed)", input) }
        case (.success(let instant), .rejected(let allowed)):
            fail("accepted as \(instant.nanoseconds), reference refuses with \(allowed)", input)
        case (.failure(let error), .accepted(let nanoseconds)):
            fail("refused with \(error), reference accepts as \(nanoseconds)", input)
        }

        if input.count >= 8 {
            var raw: UInt64 = 0
            for k in 0..<8 { raw |= UInt64(input[k]) << (8 * k) }
            checkCanonical(Instant(nanoseconds: Int64(bitPattern: raw)), input)
        }
    }

    /// The canonical form of `instant` is canonical, and both parsers read it back as `instant`.
    static func checkCanonical(_ instant: Instant, _ input: UnsafeBufferPointer<UInt8>) {
        // An exact-size heap buffer, so that the address sanitizer sees any write past it.
        let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Instant.maxCanonicalLength)
        defer { out.deallocate() }
        let length = instant.writeCanonical(into: out)
        guard length > 0 && length <= Instant.maxCanonicalLength else { fail("canonical length \(length)", input) }
        let written = UnsafeBufferPointer(rebasing: out[0..<length])
        let text = String(decoding: written, as: UTF8.self)
        guard ReferenceTimestamp.isCanonical(written) else { fail("\(text) is not canonical", input) }
        guard instant.canonical == text else { fail("canonical \(instant.canonical) != written \(text)", input) }
        guard case .success(let back) = Instant.parseRFC3339(written), back == instant else {
            fail("canonical \(text) of \(instant.nanoseconds) does not re-parse to it", input)
        }
        guard ReferenceTimestamp.parse(written) == .accepted(instant.nanoseconds) else {
            fail("canonical \(text) of \(instant.nanoseconds) denotes another instant", input)
        }
    }

    static func fail(_ message: String, _ input: UnsafeBufferPointer<UInt8>) -> Never {
        let shown = input.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "\\x\(String($0, radix: 16))" }
        fatalError("TimestampFuzzer: \(message); input \"\(shown.joined())\"")
    }
}

/// The libFuzzer entry point (also handed to the driver by ``FuzzMain``).
@_cdecl("LLVMFuzzerTestOneInput")
public func timestampFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    TimestampFuzzTarget.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

@main
enum TimestampFuzzerMain {
    static func main() {
        FuzzMain.run(callback: timestampFuzzerTestOneInput, target: TimestampFuzzTarget.run)
    }
}
