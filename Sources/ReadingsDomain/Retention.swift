#if canImport(Glibc)
import Glibc
#endif

/// How long readings are kept (`--retention`): readings older than now minus the period are
/// removed in the background, and a reading that arrives already older than that is refused
/// (``IngestOutcome/tooOld``). A device's cumulative count stays the all-time sum of the counts
/// it accepted, a counter that never goes down; only the readings themselves go.
///
/// Engines keep a *horizon* that never moves back, the greatest `now − period` they have
/// removed readings before, and refuse readings before the greater of it and the present
/// `now − period`. That is what keeps "exactly once" exact: a reading that was removed can never
/// be accepted again as new, not even when the wall clock steps back.
public struct Retention: Hashable, Sendable {
    /// The period in nanoseconds (positive).
    public let nanoseconds: Int64

    /// A period of `nanoseconds` (at least 1).
    public init(nanoseconds: Int64) {
        precondition(nanoseconds > 0, "a retention period is positive")
        self.nanoseconds = nanoseconds
    }

    /// The instant before which readings are not kept at `now`: `now − period`, or the earliest
    /// instant when that is not representable.
    @inlinable
    public func horizon(at now: Instant) -> Instant {
        let (value, overflow) = now.nanoseconds.subtractingReportingOverflow(nanoseconds)
        return overflow ? .min : Instant(nanoseconds: value)
    }

    /// ``horizon(at:)`` for the present moment of the wall clock.
    public func horizonNow() -> Instant { horizon(at: .now()) }
}

extension Instant {
    /// The wall clock's present instant (`CLOCK_REALTIME`).
    public static func now() -> Instant {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Instant(nanoseconds: Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec))
    }
}
