// The HTTP path without sockets: request bytes in, response bytes out, through the handlers the
// server installs on every connection (NIO's HTTP/1.1 codec, the router, the memory engine) on
// an `EmbeddedChannel`. One iteration is one request, so the malloc counts read per request.
//
//     swift package --disable-sandbox --scratch-path .build-benchmarks \
//         benchmark --target HTTPBenchmarks
//
// What is counted is the server's own work per request: the client and the kernel are not in it.

import Benchmark
import Logging
import NIOCore
import NIOEmbedded
import ReadingsHTTP
import ReadingsStorage

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        warmupIterations: 100,
        maxDuration: .seconds(3),
        maxIterations: 200_000
    )

    Benchmark("POST /ingest, one reading per request") { benchmark in
        let channel = try connection(MemoryStore())
        // Each request a new reading of one of 100 devices, built before the measurement.
        let requests = (0..<benchmark.scaledIterations.count).map { i in
            let body = #"{"id":"device-\#(i % 100)","readings":[{"timestamp":"\#(timestamp(i))","count":\#(i % 50)}]}"#
            return ByteBuffer(
                string:
                    "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
        }
        benchmark.startMeasurement()
        for request in requests {
            try exchange(request, on: channel)
        }
        benchmark.stopMeasurement()
    }

    Benchmark("GET /devices/{id}/latest_timestamp") { benchmark in
        let store = MemoryStore()
        let channel = try connection(store)
        let body = #"{"id":"d","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":1}]}"#
        try exchange(
            ByteBuffer(string: "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"), on: channel)
        let request = ByteBuffer(string: "GET /devices/d/latest_timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try exchange(request, on: channel)
        }
        benchmark.stopMeasurement()
    }
}

/// A connection's handlers on an embedded channel, logging nothing.
func connection(_ store: MemoryStore) throws -> EmbeddedChannel {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let channel = EmbeddedChannel()
    try installHTTPHandlers(on: channel, configuration: ServerConfiguration(), store: store, logger: logger)
    return channel
}

/// Sends one request and drains its response.
func exchange(_ request: ByteBuffer, on channel: EmbeddedChannel) throws {
    try channel.writeInbound(request)
    var got = false
    while (try channel.readOutbound(as: IOData.self)) != nil { got = true }
    precondition(got, "no response")
}

/// A distinct RFC 3339 timestamp per `i` (one second apart from 2024-01-01).
func timestamp(_ i: Int) -> String {
    let day = i / 86_400
    let second = i % 86_400
    return
        "2024-01-\(String(format: "%02d", 1 + day % 28))T\(String(format: "%02d:%02d:%02d", second / 3600, second / 60 % 60, second % 60))Z"
}
