// swift-tools-version: 6.1
import PackageDescription

/// Layers, each depending only on those above it:
/// - `ReadingsDomain`: device ids, instants, RFC 3339, counts, the ingest body parser. No I/O.
/// - `ReadingsStorage`: the `ReadingStore` protocol and the memory engine.
/// - `ReadingsPersistence`: the journal, snapshots and recovery that make the memory engine durable.
/// - `ReadingsHTTP`: the HTTP/1.1 server on SwiftNIO, routes, request decoding and response encoding.
/// - `device-readings`: the executable (flags, logging, lifecycle).
// Linux only: the journal, snapshots and the data-directory lock call Glibc directly (fsync,
// fdatasync, flock, pread), and the executable refuses to build elsewhere.
let package = Package(
    name: "device-readings",
    products: [
        .executable(name: "device-readings", targets: ["device-readings"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // Benchmarks only. Its default RuntimeInterposer trait needs a package that is not available
        // here, so only MallocInterposer is enabled.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "ReadingsDomain"),
        .target(name: "ReadingsStorage", dependencies: ["ReadingsDomain"]),
        .target(
            name: "ReadingsPersistence",
            dependencies: [
                "ReadingsDomain",
                "ReadingsStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ReadingsPostgres",
            dependencies: [
                "ReadingsDomain",
                "ReadingsStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ReadingsHTTP",
            dependencies: [
                "ReadingsDomain",
                "ReadingsStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            resources: [
                .embedInCode("Resources/openapi.json"),
                .embedInCode("Resources/dashboard/index.html"),
                .embedInCode("Resources/dashboard/dashboard.css"),
                .embedInCode("Resources/dashboard/dashboard.js"),
            ]
        ),
        // The load generator (`device-readings bench`): an HTTP client of this API with its own
        // workload generator, sharing the domain's calendar, JSON writer and random generator.
        .target(
            name: "ReadingsLoad",
            dependencies: [
                "ReadingsDomain",
                "ReadingsHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "device-readings",
            dependencies: [
                "ReadingsLoad",
                "ReadingsHTTP",
                "ReadingsStorage",
                "ReadingsPersistence",
                "ReadingsPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // libFuzzer targets (scripts/fuzz.sh, docs/fuzzing.md); without -DFUZZING they replay files.
        .target(name: "FuzzSupport", path: "Sources/Fuzz/FuzzSupport"),
        .executableTarget(
            name: "IngestBodyFuzzer", dependencies: ["ReadingsDomain", "FuzzSupport"], path: "Sources/Fuzz/IngestBodyFuzzer"),
        .executableTarget(name: "TimestampFuzzer", dependencies: ["ReadingsDomain", "FuzzSupport"], path: "Sources/Fuzz/TimestampFuzzer"),
        // Engine-only benchmarks (Benchmarks/README.md): `make bench`, `make figures`.
        .target(name: "StorageWorkloads", dependencies: ["ReadingsDomain"], path: "Benchmarks/StorageWorkloads"),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                "ReadingsStorage",
                "ReadingsDomain",
                "StorageWorkloads",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The HTTP path without sockets, allocations counted per request (Benchmarks/README.md).
        .executableTarget(
            name: "HTTPBenchmarks",
            dependencies: [
                "ReadingsHTTP",
                "ReadingsStorage",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/HTTPBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StorageFigures",
            dependencies: ["ReadingsStorage", "ReadingsDomain", "StorageWorkloads"],
            path: "Benchmarks/StorageFigures"
        ),
        // SwiftNIO alone, answering a constant body: the stack's ceiling (scripts/bench-ceiling.sh).
        .executableTarget(
            name: "http-ceiling",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/HTTPCeiling"
        ),
        .testTarget(name: "ReadingsDomainTests", dependencies: ["ReadingsDomain"]),
        // Drives the built `device-readings` binary as a real process (flags, .env, signals).
        .testTarget(name: "DeviceReadingsExecutableTests", dependencies: ["device-readings", "ReadingsDomain"]),
        .testTarget(name: "ReadingsLoadTests", dependencies: ["ReadingsLoad", "ReadingsDomain"]),
        .testTarget(name: "ReadingsStorageTests", dependencies: ["ReadingsStorage"]),
        .testTarget(name: "ReadingsPersistenceTests", dependencies: ["ReadingsPersistence"]),
        .testTarget(
            name: "ReadingsHTTPTests",
            dependencies: [
                "ReadingsHTTP",
                "ReadingsPersistence",
                "ReadingsPostgres",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
