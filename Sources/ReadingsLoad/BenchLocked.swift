import Synchronization

/// A value shared between the bench's threads, behind a lock; a class so escaping thread
/// closures can capture it.
final class BenchLocked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    /// Shares `value`.
    init(_ value: Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with the value locked.
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}
