import ReadingsDomain
import Testing

@testable import ReadingsHTTP

@Suite("RawJSONWriter")
struct RawJSONWriterTests {
    /// Every length from 1 to 20 digits, each power of ten and its neighbours, and random values.
    @Test("putDecimal writes what String(_:) writes")
    func decimals() {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 999, 1000, 9999, 10_000, 99_999, 100_000, .max, .max - 1]
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            values += [power - 1, power, power + 1]
        }
        var rng = SplitMix64(seed: 7)
        values += (0..<2_000).map { _ in rng.next() >> (rng.next() % 64) }
        var buffer = [UInt8](repeating: 0, count: 32)
        for value in values {
            let written = buffer.withUnsafeMutableBufferPointer { out in
                var writer = RawJSONWriter(out.baseAddress!)
                writer.putDecimal(value)
                return writer.count
            }
            #expect(String(decoding: buffer[..<written], as: UTF8.self) == String(value))
        }
    }
}
