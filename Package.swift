// swift-tools-version: 6.1
import PackageDescription

/// Layers, each depending only on those above it:
/// - `ReadingsDomain`: device ids, instants, RFC 3339, counts, the ingest body parser. No I/O.
/// - `ReadingsStorage`: the `ReadingStore` protocol and its engines.
/// - `ReadingsHTTP`: routes, request decoding and response encoding on Hummingbird.
/// - `device-readings`: the executable (flags, logging, lifecycle).
let package = Package(
    name: "device-readings",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "device-readings", targets: ["device-readings"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "ReadingsDomain"),
        .target(name: "ReadingsStorage", dependencies: ["ReadingsDomain"]),
        .target(
            name: "ReadingsHTTP",
            dependencies: [
                "ReadingsDomain",
                "ReadingsStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "device-readings",
            dependencies: [
                "ReadingsHTTP",
                "ReadingsStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // libFuzzer targets (scripts/fuzz.sh, docs/fuzzing.md); without -DFUZZING they replay files.
        .executableTarget(name: "IngestBodyFuzzer", dependencies: ["ReadingsDomain"], path: "Sources/Fuzz/IngestBodyFuzzer"),
        .executableTarget(name: "TimestampFuzzer", dependencies: ["ReadingsDomain"], path: "Sources/Fuzz/TimestampFuzzer"),
        .testTarget(name: "ReadingsDomainTests", dependencies: ["ReadingsDomain"]),
        // Drives the built `device-readings` binary as a real process (flags, .env, signals).
        .testTarget(name: "DeviceReadingsExecutableTests", dependencies: ["device-readings"]),
        .testTarget(name: "ReadingsStorageTests", dependencies: ["ReadingsStorage"]),
        .testTarget(
            name: "ReadingsHTTPTests",
            dependencies: [
                "ReadingsHTTP",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
