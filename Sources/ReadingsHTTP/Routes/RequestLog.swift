import Logging
import NIOCore
import NIOHTTP1
import ReadingsDomain
import Synchronization

/// One info line per request: method, path, status, duration and request id; never the body or
/// other headers. The request id is the client's `X-Request-Id` when it is 1 to 128 visible ASCII
/// characters, otherwise a new one (``RequestIDSource``); every response, errors included, echoes it.
enum RequestLog {
    static func log(
        _ logger: Logger, method: HTTPMethod, path: Substring, status: Int, requestID: RequestID, elapsed: Duration
    ) {
        guard logger.logLevel <= .info else { return }
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        logger.info(
            "request",
            metadata: [
                "http.method": .string(method.rawValue),
                "http.path": .string(String(path)),
                "http.status": .stringConvertible(status),
                "http.duration_us": .stringConvertible(micros),
                "http.request_id": .string(requestID.description),
            ])
    }

    /// Standard methods by name; anything else is `other`, so that no client can grow the label set.
    static func methodLabel(_ method: HTTPMethod) -> String {
        switch method {
        case .GET: "GET"
        case .HEAD: "HEAD"
        case .POST: "POST"
        case .PUT: "PUT"
        case .DELETE: "DELETE"
        case .PATCH: "PATCH"
        case .OPTIONS: "OPTIONS"
        case .CONNECT: "CONNECT"
        case .TRACE: "TRACE"
        default: "other"
        }
    }
}

/// A request's id: the client's `X-Request-Id` when acceptable, else a new one, written as 32
/// lower-case hex digits straight into the response (no string is made unless it is logged).
enum RequestID: CustomStringConvertible, Sendable {
    case given(String)
    case generated(UInt64, UInt64)

    init(given: String?) {
        if let given, (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            self = .given(given)
        } else {
            let (high, low) = RequestIDSource.next()
            self = .generated(high, low)
        }
    }

    func write(into buffer: inout ByteBuffer) {
        switch self {
        case .given(let id):
            buffer.writeString(id)
        case .generated(let high, let low):
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { out in
                Self.hex(high, low, into: out)
                return 32
            }
        }
    }

    var description: String {
        switch self {
        case .given(let id): id
        case .generated(let high, let low):
            String(unsafeUninitializedCapacity: 32) { out in
                Self.hex(high, low, into: UnsafeMutableRawBufferPointer(out))
                return 32
            }
        }
    }

    private static func hex(_ high: UInt64, _ low: UInt64, into out: UnsafeMutableRawBufferPointer) {
        let digits: StaticString = "0123456789abcdef"
        for i in 0..<32 {
            let word = i < 16 ? high : low
            out[i] = digits.utf8Start[Int(word >> UInt64(60 - 4 * (i % 16)) & 0xF)]
        }
    }
}

/// New request ids without a system call each: 64 random bits drawn once per process, then a
/// counter scrambled by a bijective mix (SplitMix64's finaliser), so ids never repeat within a
/// process, look random, and differ between processes with overwhelming likelihood. They
/// correlate log lines; they are not secrets.
enum RequestIDSource {
    private static let prefix: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> (UInt64, UInt64) {
        (prefix, SplitMix64.mix(counter.add(1, ordering: .relaxed).newValue &* SplitMix64.golden))
    }
}
