import NIOHTTP1

/// Every error code the server answers with: whole-request failures (in the error body
/// `{"error": {"code": …}}`, with the status here) and per-reading results of `POST /ingest`
/// (in `results`, with their own `status`). The one list of codes: `docs/api.md` and
/// `openapi.json` name exactly these (a test compares them), and no code is written elsewhere.
public enum ErrorCode: String, CaseIterable, Sendable {
    // Whole requests.
    case invalidJSON = "INVALID_JSON"
    case invalidRequest = "INVALID_REQUEST"
    case invalidDeviceID = "INVALID_DEVICE_ID"
    case invalidParameter = "INVALID_PARAMETER"
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case deviceNotFound = "DEVICE_NOT_FOUND"
    case resourceNotFound = "RESOURCE_NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case tooManyReadings = "TOO_MANY_READINGS"
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    case internalError = "INTERNAL_ERROR"
    case unavailable = "UNAVAILABLE"
    // One reading of a batch.
    case duplicateReading = "DUPLICATE_READING"
    case conflictingReading = "CONFLICTING_READING"
    case invalidReading = "INVALID_READING"
    case invalidTimestamp = "INVALID_TIMESTAMP"
    case invalidCount = "INVALID_COUNT"
    case countOverflow = "COUNT_OVERFLOW"
    case readingTooOld = "READING_TOO_OLD"

    /// The status that goes with the code: the response's for a whole request, the result's
    /// for a reading.
    public var status: HTTPResponseStatus {
        switch self {
        case .invalidJSON, .invalidRequest, .invalidDeviceID, .invalidParameter: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .deviceNotFound, .resourceNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .payloadTooLarge, .tooManyReadings: .payloadTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .internalError: .internalServerError
        case .unavailable: .serviceUnavailable
        case .duplicateReading, .conflictingReading: .conflict
        case .invalidReading, .invalidTimestamp, .invalidCount, .countOverflow, .readingTooOld: .unprocessableEntity
        }
    }

    /// Whether the code is a reading's result rather than a whole request's.
    public var isPerReading: Bool {
        switch self {
        case .duplicateReading, .conflictingReading, .invalidReading, .invalidTimestamp, .invalidCount, .countOverflow, .readingTooOld:
            true
        default: false
        }
    }
}
