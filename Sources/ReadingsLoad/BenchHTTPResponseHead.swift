/// The parts of an HTTP/1.x response head the bench needs: the status and how the body is framed.
struct BenchHTTPResponseHead {
    /// The status code.
    var status: Int
    /// `Content-Length`, when sent.
    var contentLength: Int?
    /// `Transfer-Encoding: chunked`.
    var chunked = false
    /// The server closes the connection after this response (`Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`).
    var closes = false

    /// Parses a head (status line and header lines, up to but excluding the blank line); nil when
    /// it is not an HTTP/1.x response head.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var lines = BenchHTTPResponseHead.lines(bytes)
        guard let statusLine = lines.next(), statusLine.count >= 12,
            Array(statusLine.prefix(7)) == Array("HTTP/1.".utf8),
            statusLine[statusLine.startIndex + 8] == UInt8(ascii: " ")
        else { return nil }
        let digits = statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        status = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let isHTTP10 = statusLine[statusLine.startIndex + 7] == UInt8(ascii: "0")
        var keepAlive = false
        closes = isHTTP10

        while let line = lines.next() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            let name = line[..<colon]
            let value = BenchHTTPResponseHead.trimmed(line[(colon + 1)...])
            if BenchHTTPResponseHead.equalsIgnoringCase(name, "content-length") {
                guard !value.isEmpty, value.count <= 18,
                    value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
                else { return nil }
                contentLength = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            } else if BenchHTTPResponseHead.equalsIgnoringCase(name, "transfer-encoding") {
                chunked = BenchHTTPResponseHead.containsIgnoringCase(value, "chunked")
            } else if BenchHTTPResponseHead.equalsIgnoringCase(name, "connection") {
                if BenchHTTPResponseHead.containsIgnoringCase(value, "close") { closes = true }
                if BenchHTTPResponseHead.containsIgnoringCase(value, "keep-alive") { keepAlive = true }
            }
        }
        if isHTTP10 && keepAlive { closes = false }
    }

    /// Splits on CRLF (a bare LF is tolerated).
    private static func lines(_ bytes: UnsafeBufferPointer<UInt8>) -> some IteratorProtocol<Slice<UnsafeBufferPointer<UInt8>>> {
        var position = bytes.startIndex
        return AnyIterator {
            guard position < bytes.endIndex else { return nil }
            let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            var line = bytes[position..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            position = end == bytes.endIndex ? end : end + 1
            return line
        }
    }

    private static func trimmed(_ value: Slice<UnsafeBufferPointer<UInt8>>) -> Slice<UnsafeBufferPointer<UInt8>> {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = value.firstIndex(where: { !isSpace($0) }) else { return value[value.endIndex...] }
        let last = value.lastIndex(where: { !isSpace($0) })!
        return value[first...last]
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    private static func equalsIgnoringCase(_ bytes: Slice<UnsafeBufferPointer<UInt8>>, _ name: StaticString) -> Bool {
        let name = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return bytes.count == name.count && zip(bytes, name).allSatisfy { lowered($0) == $1 }
    }

    private static func containsIgnoringCase(_ bytes: Slice<UnsafeBufferPointer<UInt8>>, _ word: StaticString) -> Bool {
        let word = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count >= word.count else { return false }
        let lowered = bytes.map(lowered)
        return (0...(lowered.count - word.count)).contains { start in
            lowered[start..<(start + word.count)].elementsEqual(word)
        }
    }
}
