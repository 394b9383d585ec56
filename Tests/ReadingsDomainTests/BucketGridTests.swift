import ReadingsDomain
import Testing

/// Bucket steps and grids: the step grammar, alignment to the epoch (also before 1970), the cap,
/// and the edges of the range of instants.
@Suite struct BucketGridTests {
    @Test(arguments: [("1s", Int64(1_000_000_000)), ("15m", 900_000_000_000), ("2h", 7_200_000_000_000), ("1d", 86_400_000_000_000)])
    func stepsParse(text: String, nanoseconds: Int64) {
        #expect(BucketStep(text)?.nanoseconds == nanoseconds)
        #expect(BucketStep(text)?.text == text)
    }

    @Test(arguments: ["", "s", "0s", "01m", "1", "1w", "1H", "+1h", "-1h", " 1h", "1h ", "1.0h", "106752d", "9999999999999999999s"])
    func badStepsAreRefused(text: String) {
        #expect(BucketStep(text) == nil)
    }

    @Test func gridAlignsToTheEpochAndCoversTheRange() throws {
        let hour = try #require(BucketStep("1h"))
        let grid = try BucketGrid(from: Instant(nanoseconds: -1), to: Instant(nanoseconds: 1), step: hour)
        #expect(grid.start.nanoseconds == -hour.nanoseconds)
        #expect(grid.count == 2)
        #expect(grid.bucket(of: -1) == 0 && grid.bucket(of: 0) == 1)
        #expect(grid.start(ofBucket: 1).nanoseconds == 0)
        // Aligned both ends: exactly (to - from) / step buckets.
        let aligned = try BucketGrid(from: Instant(nanoseconds: 0), to: Instant(nanoseconds: 3 * hour.nanoseconds), step: hour)
        #expect(aligned.count == 3)
        let empty = try BucketGrid(from: Instant(nanoseconds: 5), to: Instant(nanoseconds: 5), step: hour)
        #expect(empty.count == 0)
    }

    @Test func capAndEarliestInstant() throws {
        let second = try #require(BucketStep("1s"))
        #expect(
            try BucketGrid(from: Instant(nanoseconds: 0), to: Instant(nanoseconds: 10_000 * second.nanoseconds), step: second).count
                == 10_000)
        #expect(throws: BucketGridError.tooManyBuckets(10_001)) {
            try BucketGrid(from: Instant(nanoseconds: 0), to: Instant(nanoseconds: 10_000 * second.nanoseconds + 1), step: second)
        }
        #expect(throws: BucketGridError.startsBeforeRange) {
            try BucketGrid(from: Instant(nanoseconds: .min), to: Instant(nanoseconds: .min + 1), step: second)
        }
        // The last instant is always reachable: the grid's arithmetic does not overflow.
        let grid = try BucketGrid(from: Instant(nanoseconds: .max - 1), to: Instant(nanoseconds: .max), step: second)
        #expect(grid.count == 1 && grid.bucket(of: .max - 1) == 0)
    }
}
