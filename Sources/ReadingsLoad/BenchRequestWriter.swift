import ReadingsDomain

/// Writes one `POST /ingest` request at a time (head and body) into a buffer it reuses, so a
/// connection holds one request's bytes, however long the run.
///
/// The body is `{"id":"...","readings":[{"timestamp":"...","count":N},...]}`. It is written first,
/// at a fixed distance from the buffer's start that leaves room for the longest head; the head,
/// whose `Content-Length` is then known, is written just in front of it, so nothing is copied.
struct BenchRequestWriter {
    /// Most bytes one reading takes in a body: `{"timestamp":"YYYY-MM-DDTHH:MM:SSZ","count":50},`.
    static let maxReadingBytes = 48

    /// The request line and headers up to `Content-Length: `.
    private let headPrefix: [UInt8]
    /// Whole header lines after `Content-Length` (authorization, preference), maybe none.
    private let extraHeaders: [UInt8]
    /// Where bodies start in `buffer`: room for the head with a 20-digit length.
    private let headRoom: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var end = 0
    private var timestamps = BenchTimestamp.Writer()

    /// A writer of requests to `basePath/ingest` at `authority`, with a bearer `apiKey` and
    /// `Prefer: return=minimal` when asked.
    init(basePath: String, authority: String, apiKey: String?, returnMinimal: Bool) {
        headPrefix = Array(
            "POST \(basePath)/ingest HTTP/1.1\r\nHost: \(authority)\r\nContent-Type: application/json\r\nContent-Length: "
                .utf8)
        var extra = ""
        if let apiKey { extra += "Authorization: Bearer \(apiKey)\r\n" }
        if returnMinimal { extra += "Prefer: return=minimal\r\n" }
        extraHeaders = Array(extra.utf8)
        headRoom = headPrefix.count + 20 + 2 + extraHeaders.count + 2
    }

    /// The start of every body of device `id`: `{"id":"<id as JSON string content>","readings":[`.
    static func bodyStart(id: String) -> [UInt8] {
        var bytes = Array(#"{"id":""#.utf8)
        bytes.appendJSONStringContent(id.utf8)
        bytes += #"","readings":["#.utf8
        return bytes
    }

    /// Bytes of the request written last.
    var requestLength: Int { end - start }

    /// Writes the request carrying `batch` of `plan`'s device, whose bodies begin with
    /// `bodyStart`, replacing the previous one.
    mutating func write(_ batch: BenchBatch, plan: BenchDevicePlan, bodyStart: [UInt8]) {
        let needed = headRoom + bodyStart.count + batch.sends.count * BenchRequestWriter.maxReadingBytes + 2
        if buffer.count < needed {
            buffer = [UInt8](repeating: 0, count: needed + needed / 8)
        }
        let headRoom = headRoom
        var timestamps = timestamps
        let bodyLength = buffer.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + headRoom
            var out = base
            bodyStart.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            out += bodyStart.count
            var first = true
            for send in batch.sends {
                if !first {
                    out.storeBytes(of: UInt8(ascii: ","), as: UInt8.self)
                    out += 1
                }
                first = false
                let (offset, count) = plan.value(of: send.reading)
                BenchRequestWriter.put(#"{"timestamp":""#, at: &out)
                timestamps.write(offset: offset, to: out)
                out += BenchTimestamp.length
                BenchRequestWriter.put(#"","count":"#, at: &out)
                if count >= 10 {
                    out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: count / 10), as: UInt8.self)
                    out += 1
                }
                out.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: count % 10), as: UInt8.self)
                out.storeBytes(of: UInt8(ascii: "}"), toByteOffset: 1, as: UInt8.self)
                out += 2
            }
            BenchRequestWriter.put("]}", at: &out)
            return out - base
        }
        self.timestamps = timestamps

        let length = Array(String(bodyLength).utf8)
        let headLength = headPrefix.count + length.count + 2 + extraHeaders.count + 2
        start = headRoom - headLength
        end = headRoom + bodyLength
        var head: [UInt8] = headPrefix
        head.reserveCapacity(headLength)
        head += length
        head += "\r\n".utf8
        head += extraHeaders
        head += "\r\n".utf8
        buffer.replaceSubrange(start..<headRoom, with: head)
    }

    /// Runs `body` with the bytes of the request written last.
    func withRequest<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    @inline(__always)
    private static func put(_ text: StaticString, at out: inout UnsafeMutableRawPointer) {
        out.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        out += text.utf8CodeUnitCount
    }
}
