/// Where and why a body is not JSON as RFC 8259 (plus I-JSON's unique member names) defines it.
public struct JSONSyntaxError: Error, Hashable, Sendable {
    /// Byte offset of the problem in the body.
    public var offset: Int
    /// What is wrong there.
    public var reason: String

    /// Creates an error.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// "invalid JSON at byte N: reason".
    public var message: String { "invalid JSON at byte \(offset): \(reason)" }
}
