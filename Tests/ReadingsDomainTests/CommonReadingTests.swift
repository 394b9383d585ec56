import ReadingsDomain
import Testing

@testable import ReadingsDomain

/// The parser's fast path for `{"timestamp":"YYYY-MM-DDTHH:MM:SSZ","count":N}` against the
/// general path: the same element with its two members swapped never takes the fast path, so
/// the two bodies must give the same verdicts and readings. Fields are drawn around every edge
/// (month 00 and 13, 29 February, hour 24, second 60, years outside the instant range, counts with
/// 15 and 16 digits or a leading zero), several to a body so that the remembered date is both
/// reused and replaced.
@Suite("CommonReading: the ingest parser's fast path")
struct CommonReadingTests {
    @Test("a body of common elements parses as the same elements with members swapped")
    func agreesWithGeneralPath() {
        var rng = SplitMix64(seed: 0xC0FF_EE11)
        var fastPathTaken = 0
        for _ in 0..<4_000 {
            let fields = (0..<Int.random(in: 1...8, using: &rng)).map { _ in RandomFields(&rng) }
            let common = parseIngest(ingestBody(fields.map(\.common).joined(separator: ",")))
            let swapped = parseIngest(ingestBody(fields.map(\.swapped).joined(separator: ",")))
            #expect(common.verdicts == swapped.verdicts, "\(fields.map(\.common))")
            #expect(common.body?.readings == swapped.body?.readings, "\(fields.map(\.common))")
            #expect(common.echoes == swapped.echoes)

            // The fast path takes every valid element it is meant for, and nothing else.
            for field in fields {
                let bytes = Array(field.common.utf8)
                var matcher = CommonReading()
                let match = bytes.withUnsafeBufferPointer { matcher.match($0, at: 0) }
                let verdict = parseIngest(ingestBody(field.swapped)).verdicts?.first
                let meantFor =
                    field.countDigits.count <= 15
                    && (field.countDigits.count == 1 || field.countDigits.first != "0")
                #expect((match != nil) == (verdict == .valid && meantFor), "\(field.common)")
                if match != nil {
                    #expect(match?.end == bytes.count)
                    fastPathTaken += 1
                }
            }
        }
        // The draw is meant to exercise both paths.
        #expect(fastPathTaken > 2_000)
    }

    @Test("a damaged common element is matched only if it is still exactly that shape and valid")
    func damagedElements() {
        var rng = SplitMix64(seed: 0xBAD5_EED5)
        let interesting = Array("0123456789-:TtZz \"\\.+},{x".utf8) + [0x00, 0x7F, 0x80, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            var bytes = Array(RandomFields(&rng).common.utf8)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &rng)] = interesting.randomElement(using: &rng)!
            case 1: bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            default: bytes.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0...bytes.count, using: &rng))
            }
            var matcher = CommonReading()
            guard let match = bytes.withUnsafeBufferPointer({ matcher.match($0, at: 0) }) else { continue }
            // A match means: the fixed parts are in place, the timestamp and the count are valid
            // by the general parsers, and they give the same values.
            let text = String(decoding: bytes[..<match.end], as: UTF8.self)
            #expect(text.hasPrefix(#"{"timestamp":""#) && text.hasSuffix("}"), "\(text)")
            #expect(Array(bytes[34..<44]) == Array(#"","count":"#.utf8), "\(text)")
            let timestamp = Array(bytes[14..<34])
            let literal = Array(bytes[44..<match.end - 1])
            #expect(timestamp.withUnsafeBufferPointer { Instant.parseRFC3339($0) } == .success(match.instant), "\(text)")
            #expect(literal.withUnsafeBufferPointer { ReadingCount.judge($0) } == .success(match.count), "\(text)")
            #expect(literal.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }, "\(text)")
        }
    }

    @Test("the remembered date is replaced, not reused, when the next date differs in any digit")
    func rememberedDate() {
        let body = ingestBody(
            #"{"timestamp":"2024-02-28T23:59:59Z","count":1}"#,
            #"{"timestamp":"2024-02-29T00:00:00Z","count":2}"#,
            #"{"timestamp":"2024-03-29T00:00:00Z","count":3}"#,
            #"{"timestamp":"2023-03-29T00:00:00Z","count":4}"#,
            #"{"timestamp":"2023-02-29T00:00:00Z","count":5}"#,
            #"{"timestamp":"2023-03-29T00:00:01Z","count":6}"#)
        let parsed = parseIngest(body)
        let expected = [
            "2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z", "2023-03-29T00:00:00Z",
            "2023-03-29T00:00:01Z",
        ].map { try! Instant.parseRFC3339($0).get() }
        #expect(parsed.body?.readings.map(\.instant) == expected)
        #expect(parsed.verdicts?[4] == .invalidTimestamp(.invalidDateTime))
    }
}

/// One element's fields, drawn near the edges of each.
private struct RandomFields {
    var timestamp: String
    var countDigits: String

    init(_ rng: inout SplitMix64) {
        func two(_ range: ClosedRange<Int>) -> String {
            let v = Int.random(in: range, using: &rng)
            return v < 10 ? "0\(v)" : "\(v)"
        }
        let year = [
            Int.random(in: 1970...2100, using: &rng), Int.random(in: 0...9999, using: &rng),
            [1677, 1678, 2261, 2262, 2000, 1900, 2100].randomElement(using: &rng)!,
        ].randomElement(using: &rng)!
        let yearText = String(repeating: "0", count: 4 - String(year).count) + String(year)
        let usual = Int.random(in: 0..<4, using: &rng) > 0
        let month = usual ? two(1...12) : two(0...13)
        let day = usual ? two(1...28) : two(0...32)
        let hour = usual ? two(0...23) : two(20...25)
        let minute = usual ? two(0...59) : two(55...61)
        let second = usual ? two(0...59) : two(58...61)
        timestamp = "\(yearText)-\(month)-\(day)T\(hour):\(minute):\(second)Z"
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: countDigits = "0"
        case 1: countDigits = String(repeating: "9", count: Int.random(in: 14...17, using: &rng))
        case 2: countDigits = "0" + String(Int.random(in: 0...99, using: &rng))
        default: countDigits = String(UInt64.random(in: 0...(1 << 53) + 10, using: &rng) >> Int.random(in: 0...50, using: &rng))
        }
    }

    var common: String { #"{"timestamp":"\#(timestamp)","count":\#(countDigits)}"# }
    var swapped: String { #"{"count":\#(countDigits),"timestamp":"\#(timestamp)"}"# }
}
