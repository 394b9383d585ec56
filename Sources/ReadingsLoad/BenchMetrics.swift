/// The server's own view of its storage, from `GET /metrics` (Prometheus text format):
/// `readings_stored` and `store_memory_bytes`, each summed over its series.
struct BenchMetrics: Sendable {
    /// Readings the server holds.
    var readingsStored: Double
    /// Bytes the store says it uses.
    var memoryBytes: Double

    /// Fetches the metrics; nil when the route is missing or lacks either metric. Connection
    /// failures are thrown.
    static func fetch(from target: BenchTarget) throws -> BenchMetrics? {
        let connection = BenchHTTPConnection(target: target)
        defer { connection.close() }
        guard try connection.get("/metrics") == 200 else { return nil }
        return parse(String(decoding: connection.body, as: UTF8.self))
    }

    /// Reads both metrics out of Prometheus text; nil when either is absent.
    static func parse(_ text: String) -> BenchMetrics? {
        var stored: Double?
        var memory: Double?
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let nameEnd = line.firstIndex { $0 == "{" || $0 == " " || $0 == "\t" } ?? line.endIndex
            let name = line[..<nameEnd]
            guard name == "readings_stored" || name == "store_memory_bytes" else { continue }
            var rest = line[nameEnd...]
            if rest.hasPrefix("{") {
                guard let close = rest.lastIndex(of: "}") else { continue }
                rest = rest[rest.index(after: close)...]
            }
            guard let token = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).first,
                let value = Double(token)
            else { continue }
            if name == "readings_stored" {
                stored = (stored ?? 0) + value
            } else {
                memory = (memory ?? 0) + value
            }
        }
        guard let stored, let memory else { return nil }
        return BenchMetrics(readingsStored: stored, memoryBytes: memory)
    }
}
