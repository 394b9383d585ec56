/// The `POST /ingest` body parser: one strict pass over the bytes that validates the whole body
/// as JSON and produces the device id and judged readings directly, with instants parsed to
/// nanoseconds and counts judged on their literals.
///
/// A body that is not JSON is refused as a whole (`INVALID_JSON`) whatever else is wrong with
/// it; then, for valid JSON, the shape is checked in this order: top level an object, `readings`
/// present, an array and non-empty (`INVALID_REQUEST`), then `id` (`INVALID_DEVICE_ID`), then the
/// number of readings (`TOO_MANY_READINGS`). Unknown members are validated and ignored.
public enum IngestBodyParser {
    /// Parses `bytes` allowing at most `maxReadings` elements in `readings`.
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        maxReadings: Int
    ) throws(IngestBodyError) -> IngestBody {
        // Spans are kept as 32-bit offsets; servers cap bodies far below this.
        guard bytes.count < Int(Int32.max) else {
            throw .invalidJSON(JSONSyntaxError(offset: 0, reason: "bodies of 2 GiB or more are not read"))
        }
        var state = State(maxReadings: maxReadings)
        var scanner = JSONScanner(bytes)
        do throws(JSONSyntaxError) {
            try state.parseDocument(&scanner)
        } catch {
            throw .invalidJSON(error)
        }
        return try state.finish()
    }

    /// What the pass has found so far.
    private struct State {
        let maxReadings: Int
        var topLevelKind: JSONValueKind = .object
        var idResult: Result<(DeviceID, Range<Int>), DeviceIDError> = .failure(.missing)
        var readingsKind: JSONValueKind? = nil
        var elementCount = 0
        var items: [IngestItem] = []
        var readings: [Reading] = []
        var common = CommonReading()

        init(maxReadings: Int) {
            self.maxReadings = maxReadings
        }

        mutating func parseDocument(_ scanner: inout JSONScanner) throws(JSONSyntaxError) {
            scanner.skipWhitespace()
            if scanner.isAtEnd { throw scanner.error("the body is empty") }
            if scanner.next == UInt8(ascii: "{") {
                try parseTopLevelObject(&scanner)
            } else {
                topLevelKind = try scanner.skipValue(depth: 1)
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw scanner.error("unexpected data after the JSON value") }
        }

        mutating func parseTopLevelObject(_ scanner: inout JSONScanner) throws(JSONSyntaxError) {
            var sawID = false
            var others = MemberNames()
            try scanner.readObject(depth: 1) { (scanner, name) throws(JSONSyntaxError) in
                if scanner.token(name, equals: "id") {
                    if sawID { throw scanner.duplicateName(name) }
                    sawID = true
                    try parseID(&scanner)
                } else if scanner.token(name, equals: "readings") {
                    if readingsKind != nil { throw scanner.duplicateName(name) }
                    if scanner.next == UInt8(ascii: "[") {
                        readingsKind = .array
                        try parseReadings(&scanner)
                    } else {
                        readingsKind = try scanner.skipValue(depth: 2)
                    }
                } else {
                    try others.insert(name, in: scanner)
                    _ = try scanner.skipValue(depth: 2)
                }
            }
        }

        mutating func parseID(_ scanner: inout JSONScanner) throws(JSONSyntaxError) {
            guard scanner.next == UInt8(ascii: "\"") else {
                idResult = .failure(.notAString)
                _ = try scanner.skipValue(depth: 2)
                return
            }
            let token = try scanner.readString()
            do throws(DeviceIDError) {
                idResult = .success((try DeviceID(validating: scanner.decoded(token)), token.start..<token.end))
            } catch {
                idResult = .failure(error)
            }
        }

        mutating func parseReadings(_ scanner: inout JSONScanner) throws(JSONSyntaxError) {
            // A body of n bytes holds at most n/16 well-formed readings; reserve for the common case.
            let estimate = min(maxReadings, scanner.bytes.count / 40 + 1)
            items.reserveCapacity(estimate)
            readings.reserveCapacity(estimate)
            try scanner.readArray(depth: 2) { (scanner) throws(JSONSyntaxError) in
                elementCount += 1
                let item = try parseReading(&scanner)
                // Past the limit the body is refused; keep validating, stop collecting.
                if elementCount <= maxReadings { items.append(item) }
            }
        }

        /// Parses one element of `readings`, appending its reading when valid.
        @inline(__always)
        mutating func parseReading(_ scanner: inout JSONScanner) throws(JSONSyntaxError) -> IngestItem {
            guard scanner.next == UInt8(ascii: "{") else {
                let kind = try scanner.skipValue(depth: 3)
                return IngestItem(timestampStart: -1, timestampLength: 0, verdict: .notAnObject(kind))
            }
            let start = scanner.position
            if let match = common.match(scanner.bytes, at: start) {
                scanner.position = match.end
                if elementCount <= maxReadings { readings.append(Reading(instant: match.instant, count: match.count)) }
                return IngestItem(
                    timestampStart: Int32(truncatingIfNeeded: start + CommonReading.timestampOffset),
                    timestampLength: Int32(CommonReading.timestampLength), verdict: .valid)
            }
            var timestamp: JSONScanner.StringToken? = nil
            var timestampKind: JSONValueKind? = nil
            var countResult: Result<UInt64, CountError>? = nil
            var others = MemberNames()
            try scanner.readObject(depth: 3) { (scanner, name) throws(JSONSyntaxError) in
                if scanner.token(name, equals: "timestamp") {
                    if timestampKind != nil { throw scanner.duplicateName(name) }
                    if scanner.next == UInt8(ascii: "\"") {
                        timestampKind = .string
                        timestamp = try scanner.readString()
                    } else {
                        timestampKind = try scanner.skipValue(depth: 4)
                    }
                } else if scanner.token(name, equals: "count") {
                    if countResult != nil { throw scanner.duplicateName(name) }
                    if let b = scanner.next, b == UInt8(ascii: "-") || (b &- UInt8(ascii: "0")) < 10 {
                        let literal = try scanner.readNumber()
                        countResult = ReadingCount.judge(UnsafeBufferPointer(rebasing: scanner.bytes[literal]))
                    } else {
                        countResult = .failure(.notANumber(try scanner.skipValue(depth: 4)))
                    }
                } else {
                    try others.insert(name, in: scanner)
                    _ = try scanner.skipValue(depth: 4)
                }
            }

            var item = IngestItem(timestampStart: -1, timestampLength: 0, verdict: .valid)
            guard let timestamp else {
                item.verdict = .invalidTimestamp(timestampKind.map { .notAString($0) } ?? .missing)
                return item
            }
            item.timestampStart = Int32(truncatingIfNeeded: timestamp.start)
            item.timestampLength = Int32(truncatingIfNeeded: timestamp.count)
            let parsed: Result<Instant, TimestampError>
            if timestamp.hasEscapes {
                parsed = scanner.decoded(timestamp).withUnsafeBufferPointer { Instant.parseRFC3339($0) }
            } else {
                parsed = Instant.parseRFC3339(UnsafeBufferPointer(rebasing: scanner.bytes[timestamp.start..<timestamp.end]))
            }
            let instant: Instant
            switch parsed {
            case .success(let value): instant = value
            case .failure(let error):
                item.verdict = .invalidTimestamp(error)
                return item
            }
            switch countResult {
            case .none: item.verdict = .invalidCount(.missing)
            case .failure(let error): item.verdict = .invalidCount(error)
            case .success(let count):
                if elementCount <= maxReadings { readings.append(Reading(instant: instant, count: count)) }
            }
            return item
        }

        func finish() throws(IngestBodyError) -> IngestBody {
            guard topLevelKind == .object else {
                throw .invalidRequest("the body must be a JSON object, not \(topLevelKind.phrase)")
            }
            guard let readingsKind else {
                throw .invalidRequest("readings is missing: the body must have an array member \"readings\"")
            }
            guard readingsKind == .array else {
                throw .invalidRequest("readings must be an array, not \(readingsKind.phrase)")
            }
            guard elementCount > 0 else { throw .invalidRequest("readings must not be empty") }
            let (deviceID, span): (DeviceID, Range<Int>)
            switch idResult {
            case .success(let value): (deviceID, span) = value
            case .failure(let error): throw .invalidDeviceID(error)
            }
            guard elementCount <= maxReadings else {
                throw .tooManyReadings(count: elementCount, limit: maxReadings)
            }
            return IngestBody(deviceID: deviceID, deviceIDSpan: span, items: items, readings: readings)
        }
    }
}
