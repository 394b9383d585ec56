import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory (`flock` on `DIR/LOCK` through the ``FileSystem``),
/// held for the process's life, so that two servers never write one journal. The kernel releases
/// it when the process dies, even by `kill -9`.
final class DataDirectoryLock: Sendable {
    private let fileSystem: any FileSystem
    /// The locked file's handle, or -1 once released.
    private let handle: Mutex<Int32>

    /// Takes the lock or throws ``RecoveryError/locked(path:)`` at once.
    init(directory: URL, fileSystem: any FileSystem) throws {
        self.fileSystem = fileSystem
        self.handle = Mutex(try fileSystem.lock(directory.appendingPathComponent("LOCK").path))
    }

    /// Gives the lock up (idempotent): when the store that held it has stopped.
    func release() {
        handle.withLock { handle in
            if handle >= 0 { fileSystem.unlock(handle) }
            handle = -1
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
