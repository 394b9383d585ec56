/// Cheap extraction of single members from the server's small JSON answers, without a JSON
/// parser: finds `"name"`, then `:`, then reads an integer or a string without escapes.
///
/// Ingest answers begin `{"accepted":A,"duplicates":D,"rejected":R,...`, so the totals are found
/// in the first bytes however long the `results` array is.
enum BenchResponseFields {
    /// The totals of one `POST /ingest` answer.
    struct IngestTotals {
        /// Readings stored and counted.
        var accepted = 0
        /// Readings refused as 409 (duplicate or conflicting).
        var duplicates = 0
        /// Readings refused as 422.
        var rejected = 0
    }

    /// The totals of an ingest answer, or nil when `body` does not carry them.
    static func ingestTotals(_ body: [UInt8]) -> IngestTotals? {
        body.withUnsafeBufferPointer { all in
            // The members lead the body; look in the first bytes, then (other servers) everywhere.
            for window in [UnsafeBufferPointer(rebasing: all.prefix(160)), all] {
                if let accepted = integer("accepted", in: window),
                    let duplicates = integer("duplicates", in: window)
                {
                    return IngestTotals(
                        accepted: accepted, duplicates: duplicates, rejected: integer("rejected", in: window) ?? 0)
                }
            }
            return nil
        }
    }

    /// The non-negative integer member `name` of `body`.
    static func integer(_ name: StaticString, in body: [UInt8]) -> Int? {
        body.withUnsafeBufferPointer { integer(name, in: $0) }
    }

    /// The string member `name` of `body` (its raw content; the server's timestamps need no
    /// escapes).
    static func string(_ name: StaticString, in body: [UInt8]) -> String? {
        body.withUnsafeBufferPointer { bytes in
            guard var i = valueStart(name, in: bytes), i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                return nil
            }
            i += 1
            guard let close = bytes[i...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<close]), as: UTF8.self)
        }
    }

    private static func integer(_ name: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard var i = valueStart(name, in: bytes) else { return nil }
        var value = 0
        let first = i
        while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]), i - first < 18 {
            value = value * 10 + Int(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        return i > first ? value : nil
    }

    /// The index just after `"name"`, the colon and any whitespace.
    private static func valueStart(_ name: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let key =
            [UInt8(ascii: "\"")] + UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            + [UInt8(ascii: "\"")]
        guard bytes.count >= key.count else { return nil }
        var start = 0
        while start + key.count <= bytes.count {
            guard let hit = bytes[start...(bytes.count - key.count)].firstIndex(of: key[0]) else { return nil }
            if bytes[hit..<(hit + key.count)].elementsEqual(key) {
                var i = hit + key.count
                while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                return i
            }
            start = hit + 1
        }
        return nil
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r")
    }
}
