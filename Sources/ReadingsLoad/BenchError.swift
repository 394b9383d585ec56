/// Why a bench run stopped short; each description is the message the user sees.
enum BenchError: Error, CustomStringConvertible {
    /// `--url` is not something the bench can send to.
    case invalidURL(String, reason: String)
    /// The host name did not resolve.
    case cannotResolve(host: String, reason: String)
    /// No TCP connection could be made (refused, unreachable, timed out).
    case cannotConnect(endpoint: String, reason: String)
    /// An established connection failed, or the server closed it mid-response.
    case connectionLost(endpoint: String, reason: String)
    /// Something answered, but not with HTTP/1.x.
    case notHTTP(endpoint: String, received: String)
    /// No answer within the I/O timeout.
    case timedOut(endpoint: String, seconds: Int)

    /// The message shown to the user.
    var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            "invalid --url '\(url)': \(reason)"
        case .cannotResolve(let host, let reason):
            "cannot resolve host '\(host)': \(reason)"
        case .cannotConnect(let endpoint, let reason):
            "cannot connect to \(endpoint): \(reason) (is the server running there?)"
        case .connectionLost(let endpoint, let reason):
            "connection to \(endpoint) failed: \(reason)"
        case .notHTTP(let endpoint, let received):
            "\(endpoint) did not answer with HTTP/1.1 (received \(received)); is --url pointing at the device-readings server?"
        case .timedOut(let endpoint, let seconds):
            "no answer from \(endpoint) within \(seconds) s"
        }
    }
}
