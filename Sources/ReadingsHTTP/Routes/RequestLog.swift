import HTTPTypes
import Logging
import Synchronization

/// One info line per request: method, path, status, duration and request id; never the body or
/// other headers. The request id is the client's `X-Request-Id` when it is 1 to 128 visible ASCII
/// characters, otherwise a new one (``RequestIDSource``); every response, errors included, echoes it.
enum RequestLog {
    static func log(
        _ logger: Logger, method: HTTPRequest.Method, path: Substring, status: Int, requestID: String, elapsed: Duration
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
                "http.request_id": .string(requestID),
            ])
    }

    /// Standard methods by name; anything else is `other`, so that no client can grow the label set.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace: method.rawValue
        default: "other"
        }
    }
}

enum RequestIDs {
    /// The client's id if acceptable, else a new one: 32 lower-case hex digits.
    static func requestID(_ given: String?) -> String {
        if let given, (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        let (high, low) = RequestIDSource.next()
        return String(unsafeUninitializedCapacity: 32) { out in
            let digits: StaticString = "0123456789abcdef"
            for i in 0..<32 {
                let word = i < 16 ? high : low
                out[i] = digits.utf8Start[Int(word >> UInt64(60 - 4 * (i % 16)) & 0xF)]
            }
            return 32
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
        var z = counter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (prefix, z ^ (z >> 31))
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`.
    static let requestID = HTTPField.Name("X-Request-Id")!
}
