import CoreMetrics
import Prometheus
import ReadingsStorage
import Synchronization

/// The service's metrics, served by `GET /metrics` in Prometheus text format.
///
/// One registry per application (tests build many side by side). The HTTP layer's own metrics are
/// made on the registry directly, with help texts; ``factory`` hands the same registry to the
/// storage engines through the swift-metrics API (journal syncs, PostgreSQL calls). Store
/// figures (devices, readings, bytes) are read from the engine at each scrape.
///
/// Label sets stay bounded: `route` is the matched route's template (`/devices/{id}`, never a raw
/// id; `unmatched` for unknown paths), `method` one of the standard methods or `other`.
public final class ServiceMetrics: Sendable {
    /// Where every metric lives.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory over ``registry``, for the storage engines.
    public let factory: PrometheusMetricsFactory

    private let accepted: Prometheus.Counter
    private let duplicate: Prometheus.Counter
    private let conflicting: Prometheus.Counter
    private let rejected: Prometheus.Counter
    private let devicesStored: Prometheus.Gauge
    private let readingsStored: Prometheus.Gauge
    private let memoryBytes: Prometheus.Gauge
    private let expired: Prometheus.Counter
    private let deleted: Prometheus.Counter
    /// Each (method, route)'s series, found with one lookup under one lock per request.
    private let routes = Mutex<[RouteKey: RouteSeries]>([:])

    private struct RouteKey: Hashable {
        var method: String
        var route: String
    }

    /// A (method, route)'s duration histogram and its request counters by status.
    private struct RouteSeries {
        var duration: DurationHistogram
        var requests: [Int: Prometheus.Counter] = [:]
    }

    /// Buckets of `http_request_duration_seconds`.
    static let requestBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// Buckets of storage timers (fsyncs, database calls): finer at the low end.
    static let storageBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
    ]

    /// Creates the metrics on a new registry.
    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.storageBuckets
        self.factory = factory
        let ingested = describe(
            "readings_ingested_total", "Readings posted to /ingest, by outcome (duplicate and conflicting are the two 409s).")
        accepted = registry.makeCounter(descriptor: ingested, labels: [("outcome", "accepted")])
        duplicate = registry.makeCounter(descriptor: ingested, labels: [("outcome", "duplicate")])
        conflicting = registry.makeCounter(descriptor: ingested, labels: [("outcome", "conflicting")])
        rejected = registry.makeCounter(descriptor: ingested, labels: [("outcome", "rejected")])
        devicesStored = registry.makeGauge(descriptor: describe("devices_stored", "Devices with at least one reading."))
        readingsStored = registry.makeGauge(descriptor: describe("readings_stored", "Readings stored."))
        memoryBytes = registry.makeGauge(
            descriptor: describe(
                "store_memory_bytes", "Bytes the storage engine's structures occupy in this process (0 on PostgreSQL)."))
        expired = registry.makeCounter(
            descriptor: describe("readings_expired_total", "Readings this instance removed because they were older than --retention."))
        deleted = registry.makeCounter(
            descriptor: describe("devices_deleted_total", "Devices deleted through DELETE /devices/{id} on this instance."))
    }

    /// Counts readings a retention removed.
    func recordExpired(_ count: Int) {
        if count > 0 { expired.increment(by: Int64(count)) }
    }

    /// Counts one deleted device.
    func recordDeleted() {
        deleted.increment()
    }

    /// Counts one ingest request's readings.
    func recordIngest(accepted: Int, duplicate: Int, conflicting: Int, rejected: Int) {
        if accepted > 0 { self.accepted.increment(by: Int64(accepted)) }
        if duplicate > 0 { self.duplicate.increment(by: Int64(duplicate)) }
        if conflicting > 0 { self.conflicting.increment(by: Int64(conflicting)) }
        if rejected > 0 { self.rejected.increment(by: Int64(rejected)) }
    }

    /// Counts one answered request and records how long it took.
    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let key = RouteKey(method: method, route: route)
        let (counter, histogram) = routes.withLock { routes in
            if let series = routes[key], let counter = series.requests[status] { return (counter, series.duration) }
            // The first answer with this method, route and status: register its series.
            var series =
                routes[key]
                ?? RouteSeries(
                    duration: registry.makeDurationHistogram(
                        descriptor: describe(
                            "http_request_duration_seconds",
                            "Time from a request's head to its response, by method and route template."),
                        labels: [("method", method), ("route", route)], buckets: Self.requestBuckets))
            let counter = registry.makeCounter(
                descriptor: describe("http_requests_total", "HTTP requests answered, by method, route template and status."),
                labels: [("method", method), ("route", route), ("status", String(status))])
            series.requests[status] = counter
            routes[key] = series
            return (counter, series.duration)
        }
        counter.increment()
        histogram.record(duration)
    }

    /// The text exposition, with the store's figures as of now.
    func render(_ statistics: StoreStatistics?) -> [UInt8] {
        if let statistics {
            devicesStored.set(Int64(statistics.devices))
            readingsStored.set(Int64(statistics.readings))
            memoryBytes.set(Int64(statistics.memoryBytes))
        }
        return registry.emitToBuffer()
    }
}

/// A metric's full name and help text.
private func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
