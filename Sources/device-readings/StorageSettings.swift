import ArgumentParser
import ReadingsPersistence

/// Parsing of the storage flags' values.
enum StorageSettings {
    /// `always`, `interval` (with `interval`), or `off`.
    static func syncPolicy(_ text: String, interval: String) throws -> SyncPolicy {
        switch text.lowercased() {
        case "always": return .always
        case "off": return .off
        case "interval":
            guard let every = duration(interval), every > .zero else {
                throw ValidationError("--sync-interval must be a duration such as 1s or 250ms, got '\(interval)'")
            }
            return .interval(every)
        default:
            throw ValidationError("--sync must be always, interval or off, got '\(text)'")
        }
    }

    /// A size (`256MiB`, `1GB`, `1000000`) or a duration (`10m`, `30s`, `1h`), or `off`.
    static func snapshotTrigger(_ text: String) throws -> SnapshotTrigger {
        if text.lowercased() == "off" { return SnapshotTrigger(bytes: nil, interval: nil) }
        if let every = duration(text), every > .zero { return SnapshotTrigger(bytes: nil, interval: every) }
        if let bytes = size(text), bytes > 0 { return SnapshotTrigger(bytes: bytes, interval: nil) }
        throw ValidationError(
            "--snapshot-every must be a positive size such as 256MiB, a positive duration such as 10m, or off; got '\(text)'")
    }

    /// `250ms`, `1s`, `10m`, `1h`.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Duration)] = [("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600))]
        for (suffix, unit) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return unit * value
        }
        return nil
    }

    /// `1000`, `64KiB`, `256MiB`, `1GiB`, `1KB`, `1MB`, `1GB`.
    static func size(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        for (suffix, unit) in units where text.hasSuffix(suffix) {
            guard let value = UInt64(text.dropLast(suffix.count)) else { return nil }
            return value * unit
        }
        return UInt64(text)
    }
}
