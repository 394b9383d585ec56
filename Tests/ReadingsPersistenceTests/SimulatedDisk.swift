import Foundation
import Synchronization

@testable import ReadingsPersistence

#if canImport(Glibc)
import Glibc
#endif

/// A disk in memory behind the ``FileSystem`` seam, in the spirit of SQLite's fault-injecting
/// file system: every file keeps what was written (`current`) apart from what a sync made durable
/// (`durable`), and the directory keeps its entries apart from the entries a directory sync made
/// durable. One operation, chosen by its number, can fail (an errno, or a short write followed by
/// a full disk) or be the last the "process" does: after a crash every operation fails and
/// nothing more reaches the disk. ``afterProcessCrash()`` and ``afterPowerLoss()`` give the disk
/// a restarted process would find.
final class SimulatedDisk: FileSystem, @unchecked Sendable {
    /// What happens at the chosen operation.
    enum Fault: Hashable, CustomStringConvertible {
        /// The operation fails with this errno and changes nothing.
        case error(Int32)
        /// A write stores half its bytes; the next write fails with ENOSPC. Other operations fail
        /// with ENOSPC.
        case shortWrite
        /// The operation is done, then the process stops.
        case crash

        var description: String {
            switch self {
            case .error(let code): "error \(code == ENOSPC ? "ENOSPC" : code == EIO ? "EIO" : String(code))"
            case .shortWrite: "short write"
            case .crash: "crash"
            }
        }
    }

    private struct Inode {
        var current: [UInt8] = []
        var durable: [UInt8] = []
    }

    private struct State {
        var inodes: [Int: Inode] = [:]
        var nextInode = 0
        /// Directory entries: path → inode, as the running process sees them and as a directory
        /// sync made them durable.
        var names: [String: Int] = [:]
        var durableNames: [String: Int] = [:]
        var handles: [Int32: (inode: Int, path: String)] = [:]
        var nextHandle: Int32 = 3
        var locks: Set<String> = []
        /// Operations done so far (those that can fail); the fault's target.
        var operations = 0
        var fault: (at: Int, kind: Fault)?
        var failNextWrite = false
        var crashed = false
        /// The name of every operation counted, in order.
        var log: [String] = []
        /// Operations of this name on paths with this suffix fail with this errno until cleared.
        var persistentFailure: (operation: String, pathSuffix: String, errno: Int32)?
    }

    private let state: Mutex<State>

    init(fault: (at: Int, kind: Fault)? = nil) {
        state = Mutex(State(fault: fault))
    }

    private init(state: State) {
        self.state = Mutex(state)
    }

    /// Operations done so far.
    var operations: Int { state.withLock { $0.operations } }
    /// Makes every `operation` on paths ending in `pathSuffix` fail with `code`, or (nil) stops it.
    func failAlways(_ failure: (operation: String, pathSuffix: String, errno: Int32)?) {
        state.withLock { $0.persistentFailure = failure }
    }

    /// The names of the files in the directory now.
    var names: [String] { state.withLock { $0.names.keys.map { ($0 as NSString).lastPathComponent }.sorted() } }

    /// The names of the operations done so far, in order.
    var operationLog: [String] { state.withLock { $0.log } }
    /// Whether the process has stopped.
    var hasCrashed: Bool { state.withLock { $0.crashed } }

    /// The disk a process restarted after a crash finds: everything written, durable or not
    /// (the operating system still has it), and no locks or handles. With `keepingFault`, the
    /// operation count and a fault still ahead carry over, so that one fault can be aimed at any
    /// operation of a workload that restarts.
    func afterProcessCrash(keepingFault: Bool = false) -> SimulatedDisk {
        state.withLock { old in
            var new = State(inodes: old.inodes, nextInode: old.nextInode, names: old.names, durableNames: old.durableNames)
            if keepingFault {
                new.operations = old.operations
                new.fault = old.fault
                new.log = old.log
            }
            return SimulatedDisk(state: new)
        }
    }

    /// Takes `other`'s files, entries and operation log: the disk a workload ended on, when it
    /// restarted on a copy.
    func adopt(_ other: SimulatedDisk) {
        let adopted = other.state.withLock { $0 }
        state.withLock { $0 = adopted }
    }

    /// The disk after a power loss: only durable entries and durable contents. With `torn`,
    /// a file that grew since its last sync keeps half of what it grew by, as a disk that wrote
    /// some pages of it.
    func afterPowerLoss(torn: Bool = false) -> SimulatedDisk {
        state.withLock { old in
            var inodes: [Int: Inode] = [:]
            for (id, inode) in old.inodes {
                var kept = inode.durable
                if torn, inode.current.count > kept.count, inode.current.starts(with: kept) {
                    kept = Array(inode.current.prefix(kept.count + (inode.current.count - kept.count) / 2))
                }
                inodes[id] = Inode(current: kept, durable: kept)
            }
            return SimulatedDisk(
                state: State(inodes: inodes, nextInode: old.nextInode, names: old.durableNames, durableNames: old.durableNames))
        }
    }

    /// Whether every file's contents and every directory entry are durable.
    var everythingIsDurable: Bool {
        state.withLock { state in
            state.names == state.durableNames && state.names.values.allSatisfy { state.inodes[$0]!.current == state.inodes[$0]!.durable }
        }
    }

    /// Counts one operation and applies the fault if it is this one: returns the fault to apply
    /// (after the caller decides what a short write means), or throws.
    private func begin(_ state: inout State, _ operation: String, _ path: String, isWrite: Bool = false) throws -> Fault? {
        if state.crashed { throw JournalError.io(operation: operation, path: path, errno: EIO) }
        if isWrite && state.failNextWrite {
            state.failNextWrite = false
            throw JournalError.io(operation: operation, path: path, errno: ENOSPC)
        }
        if let failure = state.persistentFailure, failure.operation == operation, path.hasSuffix(failure.pathSuffix) {
            throw JournalError.io(operation: operation, path: path, errno: failure.errno)
        }
        state.log.append(operation)
        defer { state.operations += 1 }
        guard let fault = state.fault, fault.at == state.operations else { return nil }
        switch fault.kind {
        case .error(let code): throw JournalError.io(operation: operation, path: path, errno: code)
        case .shortWrite where !isWrite: throw JournalError.io(operation: operation, path: path, errno: ENOSPC)
        case .shortWrite, .crash: return fault.kind
        }
    }

    private func end(_ state: inout State, _ fault: Fault?) {
        if fault == .crash { state.crashed = true }
    }

    // MARK: FileSystem

    func createDirectory(_ path: String) throws {}

    func contentsOfDirectory(_ path: String) throws -> [String] {
        try state.withLock { state in
            let fault = try begin(&state, "opendir", path)
            defer { end(&state, fault) }
            return state.names.keys.filter { ($0 as NSString).deletingLastPathComponent == path }.map { ($0 as NSString).lastPathComponent }
        }
    }

    func lock(_ path: String) throws -> Int32 {
        try state.withLock { state in
            guard state.locks.insert(path).inserted else { throw RecoveryError.locked(path: path) }
            state.nextHandle += 1
            state.handles[state.nextHandle] = (-1, path)
            return state.nextHandle
        }
    }

    func unlock(_ handle: Int32) {
        state.withLock { state in
            if let entry = state.handles.removeValue(forKey: handle) { state.locks.remove(entry.path) }
        }
    }

    func open(_ path: String, _ mode: FileOpenMode) throws -> Int32 {
        try state.withLock { state in
            let fault = try begin(&state, "open", path)
            defer { end(&state, fault) }
            let inode: Int
            switch (mode, state.names[path]) {
            case (.createNew, .some): throw JournalError.io(operation: "create", path: path, errno: EEXIST)
            case (.existing, .none): throw JournalError.io(operation: "open", path: path, errno: ENOENT)
            case (.existing, .some(let existing)):
                inode = existing
            case (.replace, .some(let existing)):
                inode = existing
                state.inodes[inode]!.current = []
            case (.createNew, .none), (.replace, .none):
                inode = state.nextInode
                state.nextInode += 1
                state.inodes[inode] = Inode()
                state.names[path] = inode
            }
            state.nextHandle += 1
            state.handles[state.nextHandle] = (inode, path)
            return state.nextHandle
        }
    }

    func write(_ handle: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws -> Int {
        try state.withLock { state in
            let fault = try begin(&state, "write", path, isWrite: true)
            defer { end(&state, fault) }
            guard let inode = state.handles[handle]?.inode else { throw JournalError.io(operation: "handle", path: path, errno: EBADF) }
            var count = bytes.count
            if fault == .shortWrite {
                guard count > 1 else { throw JournalError.io(operation: "write", path: path, errno: ENOSPC) }
                count /= 2
                state.failNextWrite = true
            }
            state.inodes[inode]!.current.append(contentsOf: bytes.prefix(count))
            return count
        }
    }

    func sync(_ handle: Int32, path: String) throws {
        try state.withLock { state in
            let fault = try begin(&state, "fsync", path)
            defer { end(&state, fault) }
            guard let inode = state.handles[handle]?.inode else { throw JournalError.io(operation: "handle", path: path, errno: EBADF) }
            state.inodes[inode]!.durable = state.inodes[inode]!.current
        }
    }

    func truncate(_ handle: Int32, to length: Int, path: String) throws {
        try state.withLock { state in
            let fault = try begin(&state, "truncate", path)
            defer { end(&state, fault) }
            guard let inode = state.handles[handle]?.inode else { throw JournalError.io(operation: "handle", path: path, errno: EBADF) }
            var contents = state.inodes[inode]!.current
            if contents.count > length {
                contents.removeSubrange(length...)
            } else {
                contents.append(contentsOf: [UInt8](repeating: 0, count: length - contents.count))
            }
            state.inodes[inode]!.current = contents
        }
    }

    func close(_ handle: Int32) {
        state.withLock { _ = $0.handles.removeValue(forKey: handle) }
    }

    func syncDirectory(_ path: String) throws {
        try state.withLock { state in
            let fault = try begin(&state, "fsync", path)
            defer { end(&state, fault) }
            state.durableNames = state.names
        }
    }

    func rename(_ source: String, to destination: String) throws {
        try state.withLock { state in
            let fault = try begin(&state, "rename", source)
            defer { end(&state, fault) }
            guard let inode = state.names.removeValue(forKey: source) else {
                throw JournalError.io(operation: "rename", path: source, errno: ENOENT)
            }
            state.names[destination] = inode
        }
    }

    func remove(_ path: String) throws {
        try state.withLock { state in
            let fault = try begin(&state, "unlink", path)
            defer { end(&state, fault) }
            state.names.removeValue(forKey: path)
        }
    }

    func read(_ path: String) throws -> [UInt8] {
        try state.withLock { state in
            let fault = try begin(&state, "read", path)
            defer { end(&state, fault) }
            guard let inode = state.names[path] else { throw JournalError.io(operation: "open", path: path, errno: ENOENT) }
            return state.inodes[inode]!.current
        }
    }
}
