import Testing

@testable import ReadingsDomain

/// Judges a JSON number literal given as text.
private func judge(_ literal: String) -> Result<UInt64, CountError> {
    Array(literal.utf8).withUnsafeBufferPointer { ReadingCount.judge($0) }
}

/// Covers `ReadingCount.judge`: integrality decided on the decimal literal (not a rounded
/// Double), the 0...2^53−1 range, and the exact `CountError` of every refusal.
@Suite("ReadingCount.judge")
struct ReadingCountTests {
    @Test("the limit is 2^53-1")
    func limit() {
        #expect(ReadingCount.max == 9_007_199_254_740_991)
        #expect(ReadingCount.max == UInt64(1) << 53 - 1)
    }

    static let acceptedCases: [(String, UInt64)] = [
        ("0", UInt64(0)),
        ("3", 3),
        ("3.0", 3),
        ("3.000000000000000000000000", 3),
        ("3e0", 3),
        ("3E0", 3),
        ("3e+0", 3),
        ("3e-0", 3),
        ("30e-1", 3),
        ("300e-2", 3),
        ("0.3e1", 3),
        ("0.03E+2", 3),
        ("-0", 0),
        ("-0.0", 0),
        ("-0e5", 0),
        ("0e400", 0),
        ("0e-400", 0),
        ("0.000", 0),
        ("0E99999999999999999999", 0),
        ("1E2", 100),
        ("1e0000000000000000000001", 10),
        ("1e-0000000000000000000000", 1),
        ("5E+00000000000000000000000000000002", 500),
        ("1e2", 100),
        ("1.5e1", 15),
        ("12.50e1", 125),
        ("100", 100),
        ("1000000", 1_000_000),
        ("1e15", 1_000_000_000_000_000),
        ("10000000000000000e-1", 1_000_000_000_000_000),
        ("1000000000000000000000e-21", 1),
        ("0.0000000000000000000000001e25", 1),
        ("9007199254740991", 9_007_199_254_740_991),
        ("9007199254740991.0", 9_007_199_254_740_991),
        ("9.007199254740991e15", 9_007_199_254_740_991),
        ("90071992547409910e-1", 9_007_199_254_740_991),
        ("0.9007199254740991e16", 9_007_199_254_740_991),
        ("9007199254740990", 9_007_199_254_740_990),
        ("4503599627370496", 4_503_599_627_370_496),
        ("1234567890123456", 1_234_567_890_123_456),
    ]

    @Test("integral literals in range are counts", arguments: acceptedCases)
    func accepted(_ literal: String, _ expected: UInt64) {
        #expect(judge(literal) == .success(expected))
    }

    static let refusedCases: [(String, CountError)] = [
        ("-1", CountError.negative),
        ("-3.0", .negative),
        ("-1e2", .negative),
        ("-0.5", .negative),
        ("-9007199254740991", .negative),
        ("3.5", .notInteger),
        ("0.5", .notInteger),
        ("3.0000000000000001", .notInteger),
        ("1e-400", .notInteger),
        ("1e-1", .notInteger),
        ("31e-1", .notInteger),
        ("1e-99999999999999999999", .notInteger),
        ("9007199254740991.5", .notInteger),
        ("0.000000000000000000000001", .notInteger),
        ("9007199254740992", .tooLarge),
        ("9007199254740993", .tooLarge),
        ("9999999999999999", .tooLarge),
        ("10000000000000000", .tooLarge),
        ("18446744073709551615", .tooLarge),
        ("18446744073709551616", .tooLarge),
        ("9.007199254740992e15", .tooLarge),
        ("9007199254740992.0", .tooLarge),
        ("1e16", .tooLarge),
        ("1e30", .tooLarge),
        ("1e400", .tooLarge),
        ("1E400", .tooLarge),
        ("1e+400", .tooLarge),
        ("1e99999999999999999999", .tooLarge),
        ("1.5e99999999999999999999", .tooLarge),
        ("1000000000000000000000000000000", .tooLarge),
    ]

    @Test("refusals carry the exact CountError", arguments: refusedCases)
    func refused(_ literal: String, _ error: CountError) {
        #expect(judge(literal) == .failure(error))
    }

    @Test("a 400-digit integer is too large, a 400-digit fraction is not an integer")
    func hugeLiterals() {
        #expect(judge("1" + String(repeating: "0", count: 399)) == .failure(.tooLarge))
        #expect(judge(String(repeating: "9", count: 400)) == .failure(.tooLarge))
        #expect(judge("0." + String(repeating: "0", count: 399) + "1") == .failure(.notInteger))
        #expect(judge("3." + String(repeating: "0", count: 400)) == .success(3))
        #expect(judge("1" + String(repeating: "0", count: 400) + "e-400") == .success(1))
        #expect(judge("-" + String(repeating: "9", count: 400)) == .failure(.negative))
    }

    @Test("every integer literal 0...2000 and around 2^53 is judged exactly")
    func exhaustiveSmallAndEdge() {
        for value in UInt64(0)...2_000 {
            #expect(judge(String(value)) == .success(value))
            #expect(judge(String(value) + ".0") == .success(value))
            if value > 0 { #expect(judge(String(value) + "0e-1") == .success(value)) }
        }
        for value in (ReadingCount.max - 100)...(ReadingCount.max + 100) {
            let expected: Result<UInt64, CountError> = value <= ReadingCount.max ? .success(value) : .failure(.tooLarge)
            #expect(judge(String(value)) == expected)
        }
    }

    @Test("messages name the problem")
    func messages() {
        #expect(CountError.notANumber(.string).message == "count must be a JSON number, not a string")
        #expect(CountError.notANumber(.null).message == "count must be a JSON number, not null")
        #expect(CountError.notANumber(.object).message == "count must be a JSON number, not an object")
        #expect(CountError.tooLarge.message.contains("9007199254740991"))
    }
}
