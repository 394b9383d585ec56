#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 client over one persistent (keep-alive) TCP connection, with plain blocking
/// POSIX sockets: it writes a pre-built request and reads one response, framed by
/// `Content-Length` (or chunked, or read-to-close, for servers other than ours).
///
/// Used by one thread at a time. When a reused connection turns out to have been closed by the
/// server before any byte of the answer arrived, it reconnects and sends the request once more,
/// as HTTP clients do for stale keep-alive connections.
final class BenchHTTPConnection {
    /// Longest wait for a connection to open.
    static let connectTimeoutSeconds = 10
    /// Longest wait for the server to take a request or produce the next bytes of an answer.
    static let ioTimeoutSeconds = 120

    private let target: BenchTarget
    private var socket: Int32 = -1
    /// Requests answered on the current socket.
    private var answered = 0
    private var inbound = [UInt8](repeating: 0, count: 64 * 1024)
    private var inboundStart = 0
    private var inboundEnd = 0
    /// The body of the last response.
    private(set) var body: [UInt8] = []

    /// A connection to `target`; it opens on `open()` or the first exchange.
    init(target: BenchTarget) {
        self.target = target
    }

    deinit { close() }

    /// The server closed the connection before answering at all.
    private struct ClosedBeforeAnswer: Error {
        var reason: String
    }

    /// Opens the TCP connection (closing any previous one).
    func open() throws {
        close()
        socket = try BenchHTTPConnection.dial(target)
    }

    /// Closes the connection, if open.
    func close() {
        if socket >= 0 {
            _ = systemClose(socket)
            socket = -1
        }
        answered = 0
        inboundStart = 0
        inboundEnd = 0
    }

    /// A `GET` of `path` (already percent-encoded, `basePath` not included); the answer's body is
    /// left in `body`.
    func get(_ path: String) throws -> Int {
        let request = "GET \(target.basePath)\(path) HTTP/1.1\r\nHost: \(target.authority)\r\nAccept: */*\r\n\r\n"
        return try Array(request.utf8).withUnsafeBytes { try exchange($0) }
    }

    /// Sends `request` (a complete HTTP/1.1 request) and reads the answer: returns its status
    /// and leaves its body in `body`.
    func exchange(_ request: UnsafeRawBufferPointer) throws -> Int {
        if socket < 0 { try open() }
        let reused = answered > 0
        do {
            return try attempt(request)
        } catch let closed as ClosedBeforeAnswer {
            guard reused else { throw BenchError.connectionLost(endpoint: target.description, reason: closed.reason) }
            do {
                try open()
            } catch BenchError.cannotConnect(_, let reason) {
                throw BenchError.connectionLost(
                    endpoint: target.description,
                    reason: "the server closed the connection, and reconnecting failed: \(reason)")
            }
            do {
                return try attempt(request)
            } catch let closed as ClosedBeforeAnswer {
                throw BenchError.connectionLost(endpoint: target.description, reason: closed.reason)
            }
        }
    }

    private func attempt(_ request: UnsafeRawBufferPointer) throws -> Int {
        try send(request)
        while true {
            let head = try readHead()
            body.removeAll(keepingCapacity: true)
            if (100..<200).contains(head.status) { continue }
            if head.chunked {
                try readChunkedBody()
            } else if let length = head.contentLength {
                try readBody(count: length)
            } else if head.status != 204 && head.status != 304 {
                try readBodyToClose()
                close()
                return head.status
            }
            answered += 1
            if head.closes { close() }
            return head.status
        }
    }

    // MARK: Writing

    private func send(_ request: UnsafeRawBufferPointer) throws {
        var sent = 0
        while sent < request.count {
            let n = systemSend(socket, request.baseAddress! + sent, request.count - sent, 0)
            if n > 0 {
                sent += n
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                throw BenchError.timedOut(endpoint: target.description, seconds: Self.ioTimeoutSeconds)
            }
            throw ClosedBeforeAnswer(reason: "sending the request: \(BenchHTTPConnection.message(code))")
        }
    }

    // MARK: Reading

    /// Reads more bytes into `inbound`, compacting or growing it as needed. Returns false at end
    /// of stream.
    private func fill() throws -> Bool {
        if inboundStart == inboundEnd {
            inboundStart = 0
            inboundEnd = 0
        } else if inboundEnd == inbound.count {
            if inboundStart > 0 {
                inbound.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + inboundStart, inboundEnd - inboundStart)
                }
                inboundEnd -= inboundStart
                inboundStart = 0
            } else {
                inbound.append(contentsOf: repeatElement(0, count: inbound.count))
            }
        }
        while true {
            let n = inbound.withUnsafeMutableBytes { raw in
                systemRecv(socket, raw.baseAddress! + inboundEnd, raw.count - inboundEnd, 0)
            }
            if n > 0 {
                inboundEnd += n
                return true
            }
            if n == 0 { return false }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                throw BenchError.timedOut(endpoint: target.description, seconds: Self.ioTimeoutSeconds)
            }
            if code == ECONNRESET && inboundEnd == inboundStart {
                throw ClosedBeforeAnswer(reason: BenchHTTPConnection.message(code))
            }
            throw BenchError.connectionLost(endpoint: target.description, reason: BenchHTTPConnection.message(code))
        }
    }

    private func readHead() throws -> BenchHTTPResponseHead {
        var scanned = inboundStart
        var receivedAny = inboundEnd > inboundStart
        while true {
            try rejectIfNotHTTP()
            if let end = findHeadEnd(from: &scanned) {
                let head = inbound.withUnsafeBufferPointer { all in
                    BenchHTTPResponseHead(UnsafeBufferPointer(rebasing: all[inboundStart..<end.headEnd]))
                }
                guard let head else {
                    throw BenchError.notHTTP(endpoint: target.description, received: "a malformed response head")
                }
                inboundStart = end.bodyStart
                return head
            }
            if inboundEnd - inboundStart >= 64 * 1024 {
                throw BenchError.notHTTP(endpoint: target.description, received: "a response head over 64 KiB")
            }
            let oldStart = inboundStart
            guard try fill() else {
                if receivedAny {
                    throw BenchError.connectionLost(
                        endpoint: target.description, reason: "the server closed the connection mid-response")
                }
                throw ClosedBeforeAnswer(reason: "the server closed the connection without answering")
            }
            scanned -= oldStart - inboundStart
            receivedAny = true
        }
    }

    /// Throws `notHTTP` as soon as the first bytes cannot begin `HTTP/1.`.
    private func rejectIfNotHTTP() throws {
        let prefix = Array("HTTP/1.".utf8)
        let available = min(prefix.count, inboundEnd - inboundStart)
        guard available > 0 else { return }
        if !inbound[inboundStart..<(inboundStart + available)].elementsEqual(prefix[..<available]) {
            let sample = inbound[inboundStart..<min(inboundEnd, inboundStart + 40)]
            let printable = String(decoding: sample.map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw BenchError.notHTTP(endpoint: target.description, received: "'\(printable)'")
        }
    }

    /// Finds the blank line ending the head; `scanned` remembers how far earlier calls looked.
    private func findHeadEnd(from scanned: inout Int) -> (headEnd: Int, bodyStart: Int)? {
        var i = max(scanned, inboundStart)
        while i < inboundEnd {
            if inbound[i] == UInt8(ascii: "\n") {
                if i + 1 < inboundEnd, inbound[i + 1] == UInt8(ascii: "\n") {
                    return (i, i + 2)
                }
                if i + 2 < inboundEnd, inbound[i + 1] == UInt8(ascii: "\r"), inbound[i + 2] == UInt8(ascii: "\n") {
                    return (i, i + 3)
                }
                if i + 2 >= inboundEnd { break }
            }
            i += 1
        }
        scanned = max(inboundStart, i - 1)
        return nil
    }

    private func readBody(count: Int) throws {
        var remaining = count
        body.reserveCapacity(count)
        while remaining > 0 {
            if inboundStart == inboundEnd {
                guard try fill() else {
                    throw BenchError.connectionLost(
                        endpoint: target.description, reason: "the server closed the connection mid-body")
                }
            }
            let take = min(remaining, inboundEnd - inboundStart)
            body.append(contentsOf: inbound[inboundStart..<(inboundStart + take)])
            inboundStart += take
            remaining -= take
        }
    }

    private func readBodyToClose() throws {
        while true {
            body.append(contentsOf: inbound[inboundStart..<inboundEnd])
            inboundStart = inboundEnd
            guard try fill() else { return }
        }
    }

    private func readLine() throws -> ArraySlice<UInt8> {
        while true {
            if let newline = inbound[inboundStart..<inboundEnd].firstIndex(of: UInt8(ascii: "\n")) {
                var line = inbound[inboundStart..<newline]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                inboundStart = newline + 1
                return line
            }
            guard try fill() else {
                throw BenchError.connectionLost(
                    endpoint: target.description, reason: "the server closed the connection mid-body")
            }
        }
    }

    private func readChunkedBody() throws {
        while true {
            let line = try readLine()
            let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") }
            guard !digits.isEmpty, digits.count <= 15,
                let size = Int(String(decoding: digits, as: UTF8.self), radix: 16)
            else {
                throw BenchError.notHTTP(endpoint: target.description, received: "a malformed chunk size")
            }
            if size == 0 {
                while try !readLine().isEmpty {}
                return
            }
            try readBody(count: size)
            guard try readLine().isEmpty else {
                throw BenchError.notHTTP(endpoint: target.description, received: "a malformed chunk")
            }
        }
    }

    // MARK: Sockets

    /// Resolves and connects to `target`, trying each address in turn.
    private static func dial(_ target: BenchTarget) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if os(Linux)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard status == 0 else {
            throw BenchError.cannotResolve(host: target.host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var failure = "no address"
        var entry = list
        while let info = entry?.pointee {
            entry = info.ai_next
            let fd = systemSocket(info.ai_family, info.ai_socktype, info.ai_protocol)
            guard fd >= 0 else {
                failure = message(errno)
                continue
            }
            setTimeout(fd, option: SO_SNDTIMEO, seconds: connectTimeoutSeconds)
            if systemConnect(fd, info.ai_addr, info.ai_addrlen) == 0 {
                setTimeout(fd, option: SO_SNDTIMEO, seconds: ioTimeoutSeconds)
                setTimeout(fd, option: SO_RCVTIMEO, seconds: ioTimeoutSeconds)
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                #if canImport(Darwin)
                _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
                #endif
                return fd
            }
            let code = errno
            failure = code == EINPROGRESS || code == EAGAIN ? "timed out after \(connectTimeoutSeconds) s" : message(code)
            _ = systemClose(fd)
        }
        throw BenchError.cannotConnect(endpoint: target.description, reason: failure)
    }

    private static func setTimeout(_ fd: Int32, option: Int32, seconds: Int) {
        var time = timeval()
        time.tv_sec = .init(seconds)
        _ = setsockopt(fd, SOL_SOCKET, option, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func message(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

// The C functions under names that do not collide with this class's methods.
private func systemSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 { socket(domain, type, proto) }
private func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    send(fd, bytes, count, flags)
}
private func systemRecv(_ fd: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int, _ flags: Int32) -> Int {
    recv(fd, bytes, count, flags)
}
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
