import ReadingsDomain

/// The one interface every storage engine implements: memory, memory with a journal, PostgreSQL.
///
/// Engines are shared by all requests at once and may live in another process, so every method
/// is `async throws`. An engine that cannot take writes throws ``StorageError/unavailable(_:)``
/// and guarantees that nothing of that call was applied. Each method sees one device at one
/// consistent moment: a batch is decided atomically per device, and a read never observes half
/// of a batch.
public protocol ReadingStore: Sendable {
    /// Decides and stores `readings` of `device` in order: new readings are stored and counted,
    /// repeats of an instant already stored (earlier, or earlier in this batch) are duplicates or
    /// conflicts, and a new reading that would push the cumulative count past 2^63−1 is refused.
    /// Returns one outcome per reading, in order.
    func ingest(_ readings: [Reading], for device: DeviceID) async throws -> [IngestOutcome]

    /// The device's summary, or nil when it has no reading.
    func summary(of device: DeviceID) async throws -> DeviceSummary?

    /// The device's readings in `range`, ascending by instant, at most `limit` of them, with its
    /// summary at the same moment; nil when the device has no reading.
    func readings(of device: DeviceID, in range: InstantRange, limit: Int) async throws -> DeviceReadings?

    /// Whether the engine is open and recovered and can serve (for `/ready`).
    func isReady() async -> Bool
}

/// A page of one device's readings, read at one consistent moment.
public struct DeviceReadings: Hashable, Sendable {
    /// The whole device's summary (not just the page's).
    public var summary: DeviceSummary
    /// The readings of the page, ascending by instant.
    public var readings: [Reading]
    /// The instant of the first reading after the page, when more matched than the limit.
    public var next: Instant?

    /// Creates a page.
    public init(summary: DeviceSummary, readings: [Reading], next: Instant?) {
        self.summary = summary
        self.readings = readings
        self.next = next
    }
}

/// Failures an engine reports to its callers.
public enum StorageError: Error, Hashable, Sendable {
    /// The engine cannot serve now (database down, disk full); nothing of the call was applied.
    /// Retrying later may succeed.
    case unavailable(String)
}
