import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Every file operation of the journal, snapshots and recovery goes through this seam, so that a
/// test can make any one of them fail (ENOSPC, EIO, a short write) or stop the "process" after it
/// and look at what a crash or a power loss would leave. ``PosixFileSystem`` is the real one.
///
/// Errors are ``JournalError/io(operation:path:errno:)``. Paths are absolute file paths.
public protocol FileSystem: Sendable {
    /// Creates `path` and its parents if missing.
    func createDirectory(_ path: String) throws
    /// The names in a directory.
    func contentsOfDirectory(_ path: String) throws -> [String]
    /// Takes the exclusive lock on `path` (created if missing), or throws
    /// ``RecoveryError/locked(path:)`` if another holder has it. Released by ``unlock(_:)``,
    /// and by the system when the process dies.
    func lock(_ path: String) throws -> Int32
    func unlock(_ handle: Int32)
    /// Opens `path` for writing as `mode` says; returns a handle for the calls below.
    func open(_ path: String, _ mode: FileOpenMode) throws -> Int32
    /// Writes some of `bytes` at the end of the file; returns how many (at least one).
    func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws -> Int
    /// Makes the file's data durable (fdatasync).
    func sync(_ handle: Int32, path: String) throws
    /// Cuts the file to `length` bytes.
    func truncate(_ handle: Int32, to length: Int, path: String) throws
    func close(_ handle: Int32)
    /// Makes the creations, renames and removals in a directory durable (fsync of the directory).
    func syncDirectory(_ path: String) throws
    /// Replaces `destination` by `source` atomically.
    func rename(_ source: String, to destination: String) throws
    func remove(_ path: String) throws
    /// The whole file.
    func read(_ path: String) throws -> [UInt8]
}

/// How ``FileSystem/open(_:_:)`` opens a file.
public enum FileOpenMode: Sendable {
    /// Create a new file (it must not exist) and append to it: a journal segment.
    case createNew
    /// Create or empty the file: a snapshot's temporary file.
    case replace
    /// An existing file, to sync or truncate it.
    case existing
}

extension FileSystem {
    /// Writes all of `bytes` (retrying short writes), or throws.
    func writeAll(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            offset += try write(handle, UnsafeRawBufferPointer(rebasing: bytes[offset...]), path: path)
        }
    }

    /// Cuts an existing file to `length` bytes and makes that durable.
    func truncateDurably(_ path: String, to length: Int) throws {
        let handle = try open(path, .existing)
        defer { close(handle) }
        try truncate(handle, to: length, path: path)
        try sync(handle, path: path)
    }

    /// Makes an existing file's contents durable.
    func syncFile(_ path: String) throws {
        let handle = try open(path, .existing)
        defer { close(handle) }
        try sync(handle, path: path)
    }
}

/// The real file system, through POSIX calls.
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw JournalError.io(
                operation: "mkdir", path: path, errno: (error as NSError).code == NSFileWriteOutOfSpaceError ? ENOSPC : EIO)
        }
    }

    public func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw JournalError.io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func lock(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw RecoveryError.locked(path: path)
        }
        return fd
    }

    public func unlock(_ handle: Int32) {
        Glibc.close(handle)
    }

    public func open(_ path: String, _ mode: FileOpenMode) throws -> Int32 {
        let flags: Int32 =
            switch mode {
            case .createNew: O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC
            case .replace: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
            case .existing: O_WRONLY | O_CLOEXEC
            }
        let fd = Glibc.open(path, flags, 0o644)
        guard fd >= 0 else { throw JournalError.io(operation: mode == .existing ? "open" : "create", path: path, errno: errno) }
        return fd
    }

    public func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = Glibc.write(handle, bytes.baseAddress!, bytes.count)
            if n > 0 { return n }
            if n < 0 && errno == EINTR { continue }
            throw JournalError.io(operation: "write", path: path, errno: n < 0 ? errno : EIO)
        }
    }

    public func sync(_ handle: Int32, path: String) throws {
        guard fdatasync(handle) == 0 else { throw JournalError.io(operation: "fsync", path: path, errno: errno) }
    }

    public func truncate(_ handle: Int32, to length: Int, path: String) throws {
        guard ftruncate(handle, off_t(length)) == 0 else { throw JournalError.io(operation: "truncate", path: path, errno: errno) }
    }

    public func close(_ handle: Int32) {
        Glibc.close(handle)
    }

    public func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw JournalError.io(operation: "fsync", path: path, errno: errno) }
    }

    public func rename(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else { throw JournalError.io(operation: "rename", path: source, errno: errno) }
    }

    public func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw JournalError.io(operation: "unlink", path: path, errno: errno) }
    }

    public func read(_ path: String) throws -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.io(operation: "open", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw JournalError.io(operation: "stat", path: path, errno: errno) }
        var data = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            offset += n
        }
        if offset < data.count { data.removeSubrange(offset...) }
        return data
    }
}
