/// A point in time: signed nanoseconds since 1970-01-01T00:00:00Z.
///
/// Every instant representable in 64 bits is valid, which is exactly the range the contract
/// accepts: `1677-09-21T00:12:43.145224192Z` through `2262-04-11T23:47:16.854775807Z`.
/// Two timestamps spelled differently but denoting the same point are the same `Instant`.
public struct Instant: Hashable, Comparable, Sendable {
    /// Nanoseconds since the Unix epoch.
    public var nanoseconds: Int64

    /// Creates the instant `nanoseconds` after (or before, when negative) the Unix epoch.
    @inlinable
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The earliest representable instant.
    public static let min = Instant(nanoseconds: .min)
    /// The latest representable instant.
    public static let max = Instant(nanoseconds: .max)

    @inlinable
    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

/// Nanoseconds in one second.
@usableFromInline let nanosecondsPerSecond: Int64 = 1_000_000_000
