import Logging

/// swift-log's `StreamLogHandler` (same output, same lines) with its logger metadata kept aside
/// and formatted only when a line is written.
///
/// `StreamLogHandler` formats its whole metadata into a string whenever metadata is set, and the
/// framework sets a request id on a fresh logger for every request: a profile at one reading per
/// request showed about 3 % of the server's time spent formatting metadata for lines that the
/// log level then dropped. Here setting metadata only stores it; a line that is written passes
/// it along with the line's own metadata, and the stream handler formats the two together
/// (sorted by key, as it always does).
struct DeferredMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(_ stream: StreamLogHandler) {
        self.stream = stream
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        }
        stream.log(event: event)
    }
}
