import Foundation

@testable import device_readings

/// A `device-readings` process started from the build folder, talking over loopback.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    /// The process's stdout and stderr go to a file, not a pipe: a pipe nobody reads fills up
    /// and blocks a server that logs a line per request.
    private let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("dr-server-\(UUID().uuidString).log")

    /// The binary built next to the test runner (`swift build --build-tests` builds both).
    static var executable: URL {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let besideRunner = runner.deletingLastPathComponent().appendingPathComponent("device-readings")
        if FileManager.default.isExecutableFile(atPath: besideRunner.path) { return besideRunner }
        // Fallback: the package's default debug build folder.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/device-readings")
    }

    /// Runs `device-readings` with `arguments` to completion and returns its exit status and output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runTool(executable.path, arguments)
    }

    /// Starts `serve` on a free port with `arguments` and `environment` in `directory`.
    init(arguments: [String] = [], environment: [String: String] = [:], directory: URL? = nil, port: Int? = nil) throws {
        self.port = port ?? ServerProcess.freePort()
        process.executableURL = ServerProcess.executable
        process.arguments =
            ["serve"] + (arguments.contains("--port") || environment["PORT"] != nil ? [] : ["--port", "\(self.port)"]) + arguments
        var env = ProcessInfo.processInfo.environment
        // Every setting's variable, from the catalogue: the test's own settings only.
        for setting in Setting.all {
            env[setting.environment] = nil
        }
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = output
        process.standardError = output
        try launching { try process.run() }
        // The child has its own copy; ours would stay open for the life of the test process.
        try? output.close()
    }

    /// Waits until `/health` answers (or the process exits), for at most `timeout`.
    func waitUntilServing(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ServerError.exited(process.terminationStatus) }
            if let (status, _) = try? await request("GET", "/health"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerError.timeout
    }

    /// Sends one HTTP/1.1 request over a fresh loopback connection; returns status and body. The
    /// blocking socket calls run on a thread of their own: on the few threads of the concurrency
    /// pool, dozens of tests polling servers at once would starve every other test.
    func request(_ method: String, _ path: String, body: String? = nil, prefer: String? = nil) async throws -> (Int, String) {
        try await onThreadOfItsOwn { try self.requestBlocking(method, path, body: body, prefer: prefer) }
    }

    /// ``request(_:_:body:prefer:)`` for callers on threads of their own (it blocks in socket calls).
    func requestBlocking(_ method: String, _ path: String, body: String? = nil, prefer: String? = nil) throws -> (Int, String) {
        let connection = try connect()
        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let prefer { head += "Prefer: \(prefer)\r\n" }
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        connection.send(Array((head + "\r\n").utf8) + payload)
        let response = connection.receiveResponse()
        guard response.hasPrefix("HTTP/1.1 "), let status = Int(response.dropFirst(9).prefix(3)) else {
            throw ServerError.exited(-1)
        }
        let bodyStart = response.range(of: "\r\n\r\n").map { response[$0.upperBound...] } ?? ""
        return (status, String(bodyStart))
    }

    /// Sends `signal` and waits for the process to exit; returns its exit status.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32 {
        // Only while it runs: once reaped, its PID may already belong to another process (PIDs
        // wrap at 32,768 here, and the suite starts thousands of processes and threads).
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw ServerError.timeout
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Everything the process wrote so far.
    var log: String {
        String(decoding: (try? Data(contentsOf: outputFile)) ?? Data(), as: UTF8.self)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outputFile)
    }

    /// A port that was free a moment ago (bound to port 0 and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Opens a raw loopback connection to the server.
    func connect() throws -> RawConnection {
        try RawConnection(port: port)
    }

    enum ServerError: Error {
        case exited(Int32)
        case timeout
    }
}

/// A blocking TCP connection for requests that must be caught half-sent.
final class RawConnection {
    let fd: Int32
    let serverPort: Int
    let localPort: Int

    init(port: Int) throws {
        serverPort = port
        // Close-on-exec: servers and databases the tests start must not inherit it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw ServerProcess.ServerError.exited(-1)
        }
        // A server that never answers fails the test instead of hanging the suite (tests that
        // need a shorter limit set their own).
        var limit = timeval(tv_sec: 300, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        localPort = Int(UInt16(bigEndian: local.sin_port))
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Reads until the peer closes the connection or `Content-Length` bytes of body arrived.
    func receiveResponse() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data += buffer[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            if let headEnd = text.range(of: "\r\n\r\n"),
                let lengthLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("content-length:")
                }),
                let length = Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)),
                text.utf8.count - text[..<headEnd.upperBound].utf8.count >= length
            {
                break
            }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Waits (bounded) until the server process has read everything sent on this connection:
    /// the kernel's receive queue of the server's end, seen in /proc/net/tcp, is empty.
    func waitUntilServerHasRead(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        let local = String(format: "%04X", serverPort)
        let remote = String(format: "%04X", localPort)
        while ContinuousClock.now < deadline {
            let table = readProcFile("/proc/net/tcp")
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 4, fields[1].hasSuffix(":" + local), fields[2].hasSuffix(":" + remote) else { continue }
                let queues = fields[4].split(separator: ":")
                if queues.count == 2, Int(queues[1], radix: 16) == 0 { return }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw ServerProcess.ServerError.timeout
    }

    deinit { close(fd) }
}

/// Reads a procfs file with plain read(2) calls: procfs reports a size of 0, which some file
/// APIs take literally.
func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        data += buffer[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
}

/// A new, empty directory under the system's temporary directory (for a server's `--data-dir`).
func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-process-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Child processes of the tests are started one at a time. Foundation's `Process.run()` crashed
/// once (a bad read in its memmove while building the child) with several tests starting servers
/// at the same moment; starting them under one lock costs nothing measurable.
private let launchLock = NSLock()

func launching<T>(_ body: () throws -> T) rethrows -> T {
    launchLock.lock()
    defer { launchLock.unlock() }
    return try body()
}
