import ReadingsDomain

/// A request's query string, percent-decoded strictly (see ``PercentEncoding``).
///
/// A parameter given twice is refused (`INVALID_PARAMETER`) rather than one of its values
/// silently winning; parameters a route does not know are ignored.
struct QueryParameters {
    private var values: [String: [UInt8]] = [:]

    /// Parses `query` (without the `?`), or throws `INVALID_PARAMETER`.
    init(_ query: String?) throws(APIError) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let nameBytes = PercentEncoding.decode(parts[0]) else {
                throw .invalidParameter("query parameter name '\(parts[0])' is not valid percent-encoded UTF-8")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard let value = PercentEncoding.decode(parts.count > 1 ? parts[1] : "") else {
                throw .invalidParameter("\(name) is not valid percent-encoded UTF-8")
            }
            guard values.updateValue(value, forKey: name) == nil else {
                throw .invalidParameter("\(name) is given more than once")
            }
        }
    }

    /// The decoded value of `name` as text.
    func string(_ name: String) -> String? {
        values[name].map { String(decoding: $0, as: UTF8.self) }
    }

    /// `name` as an instant in the ingest timestamp grammar and range.
    func instant(_ name: String) throws(APIError) -> Instant? {
        guard let bytes = values[name] else { return nil }
        switch bytes.withUnsafeBufferPointer({ Instant.parseRFC3339($0) }) {
        case .success(let instant): return instant
        case .failure(let error):
            // Every timestamp message starts with the word "timestamp": name the parameter instead.
            let detail = name + error.message.dropFirst("timestamp".count)
            throw .invalidParameter(
                "\(detail) (got '\(String(decoding: bytes, as: UTF8.self))'; send '+' as %2B)")
        }
    }

    /// `name` as raw decoded bytes.
    func bytes(_ name: String) -> [UInt8]? {
        values[name]
    }

    /// `name` as a device id (checked against the id rules).
    func deviceID(_ name: String) throws(APIError) -> DeviceID? {
        guard let bytes = values[name] else { return nil }
        do throws(DeviceIDError) {
            return try DeviceID(validating: bytes)
        } catch {
            throw .invalidParameter("\(name) is not a device id: \(error.message)")
        }
    }

    /// `name` as a whole number in `range`, or `defaultValue` when absent.
    func integer(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws(APIError) -> Int {
        guard let bytes = values[name] else { return defaultValue }
        let text = String(decoding: bytes, as: UTF8.self)
        guard !bytes.isEmpty, bytes.count <= 18, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let value = Int(text), range.contains(value)
        else {
            throw .invalidParameter(
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound) (got '\(text)')")
        }
        return value
    }
}
