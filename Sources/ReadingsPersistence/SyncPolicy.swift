/// When a journal write counts as durable, and so when a request may be answered.
public enum SyncPolicy: Hashable, Sendable, CustomStringConvertible {
    /// fsync before answering: an acknowledged reading survives a crash or a power loss.
    case always
    /// Answer after the write reaches the OS; fsync at most every `interval`: a power loss may
    /// lose up to `interval` of acknowledged readings, a process crash loses nothing.
    case interval(Duration)
    /// Answer after the write reaches the OS and never fsync: a process crash loses nothing, a
    /// power loss may lose whatever the OS had not written back yet.
    case off

    public var description: String {
        switch self {
        case .always: "always"
        case .interval(let every): "interval (\(every))"
        case .off: "off"
        }
    }
}
