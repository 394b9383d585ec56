import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory (`flock` on `DIR/LOCK`), held for the process's life, so
/// that two servers never write one journal. The kernel releases it when the process dies, even
/// by `kill -9`.
final class DataDirectoryLock: Sendable {
    /// The locked file's descriptor, or -1 once released.
    private let fd: Mutex<Int32>

    /// Takes the lock or throws ``RecoveryError/locked(path:)`` at once.
    init(directory: URL) throws {
        let path = directory.appendingPathComponent("LOCK").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw RecoveryError.locked(path: path)
        }
        self.fd = Mutex(fd)
    }

    /// Gives the lock up (idempotent): when the store that held it has stopped.
    func release() {
        fd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}

/// Runs blocking file work on a thread of its own, so that it never stalls the event loops that
/// serve requests.
func onBlockingThread<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try work())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.name = name
        thread.start()
    }
}
