/// One setting of `serve`, declared once: its flag, environment variable, default, allowed
/// values and meaning. The help text, the environment lookup, validation, the table of
/// `docs/configuration.md` (a test compares them) and the tests' list of variables to clear all
/// come from ``Setting/all``.
struct Setting: Sendable, Hashable {
    /// What values the setting takes.
    enum Kind: Sendable, Hashable {
        /// Any text (a host, a URL, a path).
        case text
        /// A whole number in a range.
        case integer(ClosedRange<Int>)
        /// One of these words (any case).
        case choice([String])
        /// A duration such as `250ms`, `1s`, `10m`.
        case duration
        /// A size (`256MiB`, `1GB`, bytes), a duration (`10m`), or `off`.
        case sizeOrDuration
        /// A whole number of seconds, minutes, hours or days (`90d`), or `off`.
        case period
        /// A flag without a value; `true`/`false` in the environment.
        case boolean
        /// Repeatable flag; comma-separated in the environment.
        case list
    }

    /// The flag without its dashes: `port` for `--port`.
    let flag: String
    /// The environment variable (also read from `./.env`).
    let environment: String
    let kind: Kind
    /// The default as written in help and docs (`none` when there is none).
    let defaultText: String
    /// What the setting does, in one sentence or two (Markdown backquotes allowed).
    let meaning: String

    /// `--port`.
    var option: String { "--" + flag }

    static func == (a: Setting, b: Setting) -> Bool { a.flag == b.flag }
    func hash(into hasher: inout Hasher) { hasher.combine(flag) }
}

extension Setting {
    static let host = Setting(
        flag: "host", environment: "HOST", kind: .text, defaultText: "127.0.0.1", meaning: "address to listen on")
    static let port = Setting(
        flag: "port", environment: "PORT", kind: .integer(0...65535), defaultText: "3000", meaning: "port to listen on (`0`: any free port)"
    )
    static let maxBodySize = Setting(
        flag: "max-body-size", environment: "MAX_BODY_SIZE", kind: .integer(1...(1 << 30)), defaultText: "16777216",
        meaning: "largest request body in bytes, this many allowed (`413 PAYLOAD_TOO_LARGE` above; also after gzip)")
    static let maxReadings = Setting(
        flag: "max-readings", environment: "MAX_READINGS", kind: .integer(1...10_000_000), defaultText: "100000",
        meaning: "most readings in one ingest request, this many allowed (`413 TOO_MANY_READINGS` above)")
    static let logLevel = Setting(
        flag: "log-level", environment: "LOG_LEVEL",
        kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]), defaultText: "info",
        meaning: "`info` logs one line per request (method, path, status, duration, request id; never bodies or keys)")
    static let dataDir = Setting(
        flag: "data-dir", environment: "DATA_DIR", kind: .text, defaultText: "none",
        meaning: "keep a journal and snapshots in this directory (the memory engine made durable); without it, memory only")
    static let sync = Setting(
        flag: "sync", environment: "SYNC", kind: .choice(["always", "interval", "off"]), defaultText: "always",
        meaning: "with `--data-dir`, when a journal write counts as durable: `always` (fsync before answering), `interval`, `off`")
    static let syncInterval = Setting(
        flag: "sync-interval", environment: "SYNC_INTERVAL", kind: .duration, defaultText: "1s",
        meaning: "with `--sync interval`: fsync at most this often (`250ms`, `1s`)")
    static let snapshotEvery = Setting(
        flag: "snapshot-every", environment: "SNAPSHOT_EVERY", kind: .sizeOrDuration, defaultText: "256MiB",
        meaning: "with `--data-dir`: snapshot after this much journal (`64MiB`, `1GB`) or this much time (`10m`); `off`: only at shutdown")
    static let retention = Setting(
        flag: "retention", environment: "RETENTION", kind: .period, defaultText: "off",
        meaning:
            "keep readings this long: older ones are removed in the background and refused at ingest (`422 READING_TOO_OLD`); cumulative counts stay all-time sums"
    )
    static let postgresURL = Setting(
        flag: "postgres-url", environment: "POSTGRES_URL", kind: .text, defaultText: "none",
        meaning:
            "use PostgreSQL (`postgres://user:password@host:5432/db?sslmode=MODE&sslrootcert=FILE`; sslmode `disable`, `prefer`, `require`, `verify-ca`, `verify-full`); many instances may share one database; not with `--data-dir`"
    )
    static let postgresPoolSize = Setting(
        flag: "postgres-pool-size", environment: "POSTGRES_POOL_SIZE", kind: .integer(1...1000), defaultText: "16",
        meaning: "most connections to PostgreSQL per instance")
    static let postgresBatchWindow = Setting(
        flag: "postgres-batch-window", environment: "POSTGRES_BATCH_WINDOW", kind: .duration, defaultText: "0s",
        meaning:
            "with `--postgres-url`: how long concurrent ingests gather before going to the database as one transaction (`0s`: as soon as a connection is free; requests that arrive while batches are being decided join the next one anyway); longer means fewer, larger transactions and that much more latency"
    )
    static let apiKey = Setting(
        flag: "api-key", environment: "API_KEYS", kind: .list, defaultText: "none",
        meaning:
            "require `Authorization: Bearer KEY` on every route but the probes, `/openapi.json`, the dashboard's files and `/metrics` (see `--metrics-auth`); without one, no key is needed"
    )
    static let readAPIKey = Setting(
        flag: "read-api-key", environment: "READ_API_KEYS", kind: .list, defaultText: "none",
        meaning: "a key that may read but not change data (`403` on `POST /ingest` and `DELETE /devices/{id}`)")
    static let metricsAuth = Setting(
        flag: "metrics-auth", environment: "METRICS_AUTH", kind: .boolean, defaultText: "false",
        meaning: "with keys, `/metrics` needs one too")
    static let idleTimeout = Setting(
        flag: "idle-timeout", environment: "IDLE_TIMEOUT", kind: .integer(0...86_400), defaultText: "30",
        meaning:
            "seconds a connection may wait with no request in progress, or while sending a request head (slowloris), before it is closed; `0`: never"
    )
    static let requestTimeout = Setting(
        flag: "request-timeout", environment: "REQUEST_TIMEOUT", kind: .integer(0...86_400), defaultText: "60",
        meaning: "seconds from a request's head to the end of its body before the connection is closed (a slow body); `0`: never")
    static let maxConnections = Setting(
        flag: "max-connections", environment: "MAX_CONNECTIONS", kind: .integer(0...1_000_000), defaultText: "1024",
        meaning: "connections served at once, the rest wait to be accepted; `0`: no limit")
    static let maxHeaderSize = Setting(
        flag: "max-header-size", environment: "MAX_HEADER_SIZE", kind: .integer(1024...(1 << 20)), defaultText: "16384",
        meaning: "largest request head (request line and headers) in bytes")
    static let maxInflightBytes = Setting(
        flag: "max-inflight-bytes", environment: "MAX_INFLIGHT_BYTES", kind: .integer(1...(1 << 50)),
        defaultText: "an eighth of RAM, at least 268435456",
        meaning:
            "memory that ingest requests in flight may hold at once, in bytes; a request that does not fit gets `503` before its body is read"
    )

    /// Every setting, in the order help and docs list them.
    static let all: [Setting] = [
        host, port, maxBodySize, maxReadings, logLevel, dataDir, sync, syncInterval, snapshotEvery, retention, postgresURL,
        postgresPoolSize, postgresBatchWindow, apiKey, readAPIKey, metricsAuth, idleTimeout, requestTimeout, maxConnections, maxHeaderSize,
        maxInflightBytes,
    ]

    /// What values the setting takes, for help and docs.
    var valuesText: String {
        switch kind {
        case .text: "text"
        case .integer(let range): "\(range.lowerBound)–\(range.upperBound)"
        case .choice(let words): words.joined(separator: ", ")
        case .duration: "duration (`250ms`, `1s`, `10m`, `1h`)"
        case .sizeOrDuration: "size (`64MiB`, `1GB`), duration (`10m`) or `off`"
        case .period: "`off`, or a whole number and s, m, h or d (`90d`, `12h`)"
        case .boolean: "flag; `true`/`false` in the environment"
        case .list: "repeatable; comma-separated in the environment"
        }
    }

    /// The `serve --help` text of every setting.
    static var helpText: String {
        var lines = [
            "Each setting is a flag, an environment variable (in brackets), or a line of ./.env; a flag wins over the environment, which wins over .env. An empty variable is an unset one.",
            "",
        ]
        for setting in all {
            let value = setting.kind == .boolean ? "" : " <value>"
            lines.append("  \(setting.option)\(value) [\(setting.environment)] (default: \(setting.defaultText))")
            lines.append(
                "      \(setting.meaning.replacingOccurrences(of: "`", with: "")); values: \(setting.valuesText.replacingOccurrences(of: "`", with: ""))"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The table of `docs/configuration.md`.
    static var markdownTable: String {
        var lines = ["| flag | environment | default | values | meaning |", "| --- | --- | --- | --- | --- |"]
        for setting in all {
            // A literal value in backquotes; `none` and descriptions as words.
            let literal = setting.defaultText != "none" && !setting.defaultText.contains(" ")
            let defaultText = literal ? "`\(setting.defaultText)`" : setting.defaultText
            lines.append("| `\(setting.option)` | `\(setting.environment)` | \(defaultText) | \(setting.valuesText) | \(setting.meaning) |")
        }
        return lines.joined(separator: "\n")
    }
}
