import NIOCore
import ReadingsDomain
import ReadingsStorage

/// The body of `GET /devices/{id}/export`: every reading of a device in a range, in pages of
/// ``pageSize`` read one at a time from the engine (each page at its own moment, no lock or
/// transaction held across the response), each written as one piece of a streamed body. At most
/// two pieces and one page are held at once, whatever the size of the device.
///
/// - CSV (`text/csv`): a header line `timestamp,count`, then `2024-01-01T00:00:00Z,5` per reading.
/// - NDJSON (`application/x-ndjson`): `{"timestamp":"2024-01-01T00:00:00Z","count":5}` per line.
///
/// Timestamps are canonical UTC (as everywhere in the API), ascending. Readings ingested while an
/// export runs appear in it when they fall after the page being written; a device deleted while
/// it runs ends the export early (the body is still well formed).
struct ExportWriter<Store: ReadingStore>: Sendable {
    enum Format: String, Sendable {
        case csv
        case ndjson

        var contentType: String {
            switch self {
            case .csv: "text/csv; charset=utf-8"
            case .ndjson: "application/x-ndjson"
            }
        }
    }

    let store: Store
    let device: DeviceID
    let range: InstantRange
    let format: Format

    /// Readings per page (and per piece of the body).
    static var pageSize: Int { 16_384 }
    /// The longest line: `{"timestamp":"` + timestamp + `","count":` + 20 digits + `}\n`.
    private static var lineBound: Int { 16 + Instant.maxCanonicalLength + 10 + 20 + 2 }

    func write(to writer: BodyWriter) async throws {
        var from = range.from
        var header = format == .csv
        while true {
            let pageRange = InstantRange(from: from, to: range.to)
            guard let page = try await store.readings(of: device, in: pageRange, limit: Self.pageSize) else { break }
            var piece = writer.makeBuffer(capacity: 16 + page.readings.count * Self.lineBound)
            if header {
                piece.writeStaticString("timestamp,count\n")
                header = false
            }
            piece.writeWithUnsafeMutableBytes(minimumWritableBytes: page.readings.count * Self.lineBound) { raw in
                var out = RawJSONWriter(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
                switch format {
                case .csv:
                    for reading in page.readings {
                        out.putCanonical(reading.instant)
                        out.put(UInt8(ascii: ","))
                        out.putDecimal(reading.count)
                        out.put(UInt8(ascii: "\n"))
                    }
                case .ndjson:
                    for reading in page.readings {
                        out.put("{\"timestamp\":\"")
                        out.putCanonical(reading.instant)
                        out.put("\",\"count\":")
                        out.putDecimal(reading.count)
                        out.put("}\n")
                    }
                }
                return out.count
            }
            try await writer.write(piece)
            guard let next = page.next else { break }
            from = next
        }
        if header {
            // The device went before the first page: the header alone.
            var piece = writer.makeBuffer(capacity: 16)
            piece.writeStaticString("timestamp,count\n")
            try await writer.write(piece)
        }
    }
}
