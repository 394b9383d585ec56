import Foundation
import ReadingsDomain

/// What the HTTP layer needs to know, whatever the source (flags, environment, `.env`, tests).
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on (0: any free port).
    public var port: Int
    /// Largest accepted request body in bytes; this many is allowed.
    public var maxBodySize: Int
    /// Largest number of readings in one ingest request; this many is allowed.
    public var maxReadings: Int
    /// API keys that may use every route; with these and ``readAPIKeys`` both empty, no key is
    /// needed.
    public var apiKeys: [String] = []
    /// API keys that may read but not change data (ingest, delete).
    public var readAPIKeys: [String] = []
    /// Whether `GET /metrics` needs a key too (when keys are configured).
    public var metricsAuth = false
    /// A connection with no request in progress for this long is closed; this includes a
    /// client still sending a request's head (slowloris). nil: never.
    public var idleTimeout: Duration? = .seconds(30)
    /// Time from a request's head to the end of its body; a connection still receiving the body
    /// after this is closed (a slow-body slowloris). nil: never.
    public var requestTimeout: Duration? = .seconds(60)
    /// Connections served at once; more wait in the kernel's accept queue. nil: no limit.
    public var maxConnections: Int? = 1024
    /// Largest request head (request line and headers) in bytes.
    public var maxHeaderSize = 16 * 1024
    /// Memory that ingest requests in flight may hold at once (see `InflightBudget`); a request
    /// that does not fit gets 503 before its body is read. Default: an eighth of physical memory,
    /// at least 256 MiB.
    public var maxInflightBytes = ServerConfiguration.defaultMaxInflightBytes
    /// How long readings are kept (nil: forever). The engine is given the same retention; the
    /// application runs its removal in the background (see `RetentionSweeper`).
    public var retention: Retention?

    /// An eighth of physical memory, at least 256 MiB.
    public static var defaultMaxInflightBytes: Int {
        max(256 << 20, Int(clamping: ProcessInfo.processInfo.physicalMemory / 8))
    }

    /// The contract's defaults: 127.0.0.1:3000, 16 MiB bodies, 100,000 readings per request.
    public init(
        host: String = "127.0.0.1",
        port: Int = 3000,
        maxBodySize: Int = 16 * 1024 * 1024,
        maxReadings: Int = 100_000
    ) {
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
        self.maxReadings = maxReadings
    }
}
