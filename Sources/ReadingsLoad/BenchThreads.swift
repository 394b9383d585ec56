import Dispatch
import Foundation

/// Dedicated OS threads for blocking socket work, kept off Swift's cooperative thread pool.
enum BenchThreads {
    /// Starts `body` on a new thread and returns at once; `group` is entered now and left when
    /// `body` returns.
    static func spawn(in group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread {
            body()
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `body(i)` for every `i` in `0..<count`, each on its own thread, and waits for all.
    static func run(count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            spawn(in: group) { body(i) }
        }
        group.wait()
    }

    /// Nanoseconds on a monotonic clock.
    static func now() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }
}
