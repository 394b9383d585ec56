import Logging
import ReadingsDomain
import ReadingsStorage
import ServiceLifecycle

/// Runs a retention's removal in the background: as soon as the store can serve, then every
/// ``interval(for:)``, each run the engine's ``ReadingStore/removeExpiredReadings()`` (bounded
/// steps, see the engines). Counts what went in `readings_expired_total`. A run the store refuses
/// (recovering, database down) is tried again at the next tick.
struct RetentionSweeper<Store: ReadingStore>: Service {
    let store: Store
    let retention: Retention
    let metrics: ServiceMetrics
    let logger: Logger

    /// A hundredth of the period, between 1 s and 1 min: readings outlive the period by at most
    /// that much, and a short period (tests) is kept closely.
    static func interval(for retention: Retention) -> Duration {
        let hundredth = Duration.nanoseconds(retention.nanoseconds / 100)
        return min(max(hundredth, .seconds(1)), .seconds(60))
    }

    func run() async throws {
        let interval = Self.interval(for: retention)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Until the store can serve (recovering, database not reached yet), look again soon.
            guard await store.isReady() else {
                try? await gracefulShutdownAwareSleep(min(interval, .milliseconds(100)))
                continue
            }
            let start = ContinuousClock.now
            do {
                let removed = try await store.removeExpiredReadings()
                metrics.recordExpired(removed)
                if removed > 0 {
                    logger.notice(
                        "removed expired readings",
                        metadata: [
                            "retention.removed": "\(removed)", "retention.seconds": "\((ContinuousClock.now - start) / .seconds(1))",
                        ])
                }
            } catch {
                logger.warning("removing expired readings failed; trying again later", metadata: ["error": "\(error)"])
            }
            try? await gracefulShutdownAwareSleep(interval)
        }
    }

    private func gracefulShutdownAwareSleep(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown {
            try await Task.sleep(for: duration)
        }
    }
}
