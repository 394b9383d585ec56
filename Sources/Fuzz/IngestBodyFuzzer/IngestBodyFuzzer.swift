import FuzzSupport
import ReadingsDomain

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ingest body fuzz target. For any bytes, with the default limit (100,000) and a small one
/// (3), `IngestBodyParser.parse` must:
/// - agree with ``ReferenceIngest`` (an independent JSON parser plus the contract's shape rules)
///   on the outcome: invalid JSON, the kind of whole-request error, or the body itself (device id
///   and its span, every item's verdict and timestamp span, the readings);
/// - keep its own invariants: `items.count` is the number of elements and at most the limit,
///   `readings.count` the number of `.valid` items, every span lies inside the body between two
///   quotes, the id obeys the id rules, and an error offset lies inside the body;
/// - be deterministic, and for a valid body: parsing again with the limit set to exactly the
///   number of elements gives the same body, one less gives `TOO_MANY_READINGS`, and the body
///   rebuilt from the result (id re-escaped, canonical timestamps, plain counts) parses to the
///   same device and readings.
enum IngestBodyFuzzTarget {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Array(input)
        let tree = ReferenceJSON.parse(bytes)
        for limit in [100_000, 3] {
            let result = parse(input, maxReadings: limit)
            compare(result, ReferenceIngest.expected(bytes, tree: tree, maxReadings: limit), bytes, limit)
            checkInvariants(result, bytes, limit)
            guard same(result, parse(input, maxReadings: limit)) else { fail("parsing twice differs", bytes) }
        }
    }

    static func parse(_ input: UnsafeBufferPointer<UInt8>, maxReadings: Int) -> Result<IngestBody, IngestBodyError> {
        Result { () throws(IngestBodyError) in try IngestBodyParser.parse(input, maxReadings: maxReadings) }
    }

    static func parse(_ bytes: [UInt8], maxReadings: Int) -> Result<IngestBody, IngestBodyError> {
        bytes.withUnsafeBufferPointer { parse($0, maxReadings: maxReadings) }
    }

    static func compare(
        _ result: Result<IngestBody, IngestBodyError>, _ expected: ReferenceIngest.Expected, _ bytes: [UInt8],
        _ limit: Int
    ) {
        switch (result, expected) {
        case (.failure(.invalidJSON), .invalidJSON), (.failure(.invalidRequest), .invalidRequest):
            return
        case (.failure(.invalidDeviceID(let a)), .invalidDeviceID(let b)) where a == b:
            return
        case (.failure(.tooManyReadings(let c1, let l1)), .tooManyReadings(let c2, let l2)) where c1 == c2 && l1 == l2:
            return
        case (.success(let body), .body(let id, let idSpan, let items, let readings)):
            guard body.deviceID.utf8 == id, body.deviceIDSpan == idSpan else {
                fail("device id \(body.deviceID.utf8) at \(body.deviceIDSpan), reference \(id) at \(idSpan)", bytes)
            }
            guard body.items.count == items.count else {
                fail("\(body.items.count) items, reference \(items.count) (limit \(limit))", bytes)
            }
            for (k, (item, reference)) in zip(body.items, items).enumerated() {
                guard item.verdict == reference.verdict, item.timestampSpan == reference.span else {
                    fail(
                        "item \(k): \(item.verdict) at \(String(describing: item.timestampSpan)), reference \(reference.verdict) at \(String(describing: reference.span))",
                        bytes)
                }
            }
            guard body.readings == readings else { fail("readings \(body.readings), reference \(readings)", bytes) }
        default:
            fail("outcome \(result), reference \(expected) (limit \(limit))", bytes)
        }
    }

    static func checkInvariants(_ result: Result<IngestBody, IngestBodyError>, _ bytes: [UInt8], _ limit: Int) {
        let body: IngestBody
        switch result {
        case .failure(.invalidJSON(let error)):
            guard error.offset >= 0 && error.offset <= bytes.count else { fail("error offset \(error.offset)", bytes) }
            return
        case .failure(.tooManyReadings(let count, let reportedLimit)):
            guard count > limit, reportedLimit == limit else { fail("too many: \(count) > \(reportedLimit)?", bytes) }
            return
        case .failure:
            return
        case .success(let value):
            body = value
        }
        let quote = UInt8(ascii: "\"")
        func inside(_ span: Range<Int>) -> Bool {
            span.lowerBound >= 1 && span.upperBound < bytes.count && bytes[span.lowerBound - 1] == quote
                && bytes[span.upperBound] == quote
        }
        guard !body.items.isEmpty, body.items.count <= limit else { fail("\(body.items.count) items, limit \(limit)", bytes) }
        guard body.readings.count == body.items.count(where: { $0.verdict == .valid }) else {
            fail("\(body.readings.count) readings for \(body.items.count(where: { $0.verdict == .valid })) valid items", bytes)
        }
        guard inside(body.deviceIDSpan) else { fail("id span \(body.deviceIDSpan) outside the body", bytes) }
        let scalars = Array(String(decoding: body.deviceID.utf8, as: UTF8.self).unicodeScalars)
        guard (1...128).contains(scalars.count),
            !scalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else { fail("device id \(scalars) breaks the id rules", bytes) }
        for item in body.items {
            switch (item.verdict, item.timestampSpan) {
            case (.notAnObject, nil), (.invalidTimestamp(.missing), nil), (.invalidTimestamp(.notAString), nil):
                continue
            case (.notAnObject, _), (.invalidTimestamp(.missing), _), (.invalidTimestamp(.notAString), _):
                fail("item \(item) has a span but no string timestamp", bytes)
            case (_, nil):
                fail("item \(item) has no span", bytes)
            case (_, let span?):
                guard inside(span) else { fail("timestamp span \(span) outside the body", bytes) }
            }
        }

        // Limits: exactly enough is the same body; one too few is refused.
        let n = body.items.count
        guard same(result, parse(bytes, maxReadings: n)) else { fail("limit \(n) changes the body", bytes) }
        guard case .failure(.tooManyReadings(n, n - 1)) = parse(bytes, maxReadings: n - 1) else {
            fail("limit \(n - 1) does not refuse \(n) readings", bytes)
        }

        // Rebuilt from the result: same device, same readings.
        guard !body.readings.isEmpty else { return }
        var rebuilt = Array(#"{"id":""#.utf8)
        for b in body.deviceID.utf8 {
            if b == quote || b == UInt8(ascii: "\\") { rebuilt.append(UInt8(ascii: "\\")) }
            rebuilt.append(b)
        }
        rebuilt += Array(#"","readings":["#.utf8)
        for (k, reading) in body.readings.enumerated() {
            if k > 0 { rebuilt.append(UInt8(ascii: ",")) }
            rebuilt += Array(#"{"count":\#(reading.count),"timestamp":"\#(reading.instant.canonical)"}"#.utf8)
        }
        rebuilt += Array("]}".utf8)
        guard case .success(let again) = parse(rebuilt, maxReadings: limit), again.deviceID == body.deviceID,
            again.readings == body.readings, again.items.allSatisfy({ $0.verdict == .valid })
        else { fail("rebuilt body \(String(decoding: rebuilt, as: UTF8.self)) parses differently", bytes) }
    }

    static func same(_ a: Result<IngestBody, IngestBodyError>, _ b: Result<IngestBody, IngestBodyError>) -> Bool {
        switch (a, b) {
        case (.failure(let x), .failure(let y)): x == y
        case (.success(let x), .success(let y)):
            x.deviceID == y.deviceID && x.deviceIDSpan == y.deviceIDSpan && x.items == y.items && x.readings == y.readings
        default: false
        }
    }

    static func fail(_ message: String, _ input: [UInt8]) -> Never {
        let shown = input.prefix(2000).map {
            $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "\\x\(String($0, radix: 16))"
        }
        fatalError("IngestBodyFuzzer: \(message); input \"\(shown.joined())\"")
    }
}

/// The libFuzzer entry point (also handed to the driver by ``FuzzMain``).
@_cdecl("LLVMFuzzerTestOneInput")
public func ingestBodyFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    IngestBodyFuzzTarget.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

@main
enum IngestBodyFuzzerMain {
    static func main() {
        FuzzMain.run(callback: ingestBodyFuzzerTestOneInput, target: IngestBodyFuzzTarget.run)
    }
}
