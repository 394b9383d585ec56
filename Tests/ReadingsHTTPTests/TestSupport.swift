import Foundation
import HTTPTypes
// Its `TestClient` only: an HTTP/1.1 client over a real socket.
import HummingbirdTesting
import Logging
import NIOCore
import ReadingsDomain
import ReadingsPersistence
import ReadingsPostgres
import ReadingsStorage
import ServiceLifecycle
import Testing

@testable import ReadingsHTTP

/// The storage engines the HTTP suite runs against: every HTTP-level test takes one as its
/// argument, so a new engine joins the whole suite by being added here.
///
/// PostgreSQL joins when `POSTGRES_TEST_URL` names a server (`make test` starts a throwaway one
/// when PostgreSQL is installed); each test then gets a schema of its own.
enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    /// The memory engine with its journal (`--data-dir`, `--sync always`) in a new directory.
    case journaled
    case postgres

    static var allCases: [Engine] {
        postgresURL == nil ? [.memory, .journaled] : [.memory, .journaled, .postgres]
    }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["POSTGRES_TEST_URL"] }

    var testDescription: String { rawValue }

    /// A fresh, empty store, the services it needs running, and what removes it afterwards.
    func makeStore(retention: Retention? = nil) throws -> (any ReadingStore, [any Service], cleanup: @Sendable () -> Void) {
        switch self {
        case .memory:
            return (MemoryStore(retention: retention), [], {})
        case .journaled:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dr-http-\(UUID().uuidString)")
            let store = try JournaledStore(directory: directory, policy: .always, retention: retention, logger: quietLogger)
            return (store, [store], { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            // Dozens of these run at once against one server: a small pool each keeps them under
            // its connection limit, and a generous deadline keeps a loaded machine from turning
            // slow answers into 503s or a flapping /ready (both are tested on a private cluster).
            let store = try PostgresStore(
                url: Engine.postgresURL!, poolSize: 3, schema: schema, retention: retention, timeout: .seconds(30),
                readinessTimeout: .seconds(30), logger: quietLogger)
            return (store, [store], {})
        }
    }
}

/// Runs `body` against an application on `engine`: a real server on a free loopback port, and a
/// client connected to it. (`setup` says whether the test also needs the port, for connections
/// of its own; both run the same server.)
func withApp<T: Sendable>(
    _ engine: Engine,
    _ setup: TestingSetup = .router,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
    // Clients here may wait long between requests when the whole suite runs on two cores; the
    // idle timeout is tested on the binary (LimitsProcessTests).
    configuration.idleTimeout = .seconds(600)
    configure(&configuration)
    let (store, services, cleanup) = try engine.makeStore(retention: configuration.retention)
    defer { cleanup() }
    let app = buildApplication(configuration: configuration, store: store, services: services, logger: quietLogger)
    return try await app.test(setup) { client in
        // Engines with a service (migrations) answer once ready.
        let deadline = ContinuousClock.now + .seconds(60)
        while try await client.get("/ready").status != .ok {
            try #require(ContinuousClock.now < deadline, "the \(engine) engine did not become ready")
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await body(client)
    }
}

/// How a test talks to the server; both set-ups run a real server on a loopback port.
enum TestingSetup {
    /// Through the client given to the test.
    case router
    /// The same, and the test opens connections of its own to `client.port`.
    case live
}

/// A whole response as a test sees it.
struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: ByteBuffer
}

/// A client of the server under test.
protocol TestClientProtocol: Sendable {
    /// The server's port.
    var port: Int? { get }
    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse
}

extension TestClientProtocol {
    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws
        -> TestResponse
    {
        try await execute(uri: uri, method: method, headers: headers, body: body)
    }
}

/// One keep-alive connection to the server.
private struct LiveClient: TestClientProtocol {
    let client: TestClient
    let port: Int?

    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = try await client.execute(.init(uri, method: method, headers: headers, body: body))
        return TestResponse(status: response.status, headers: response.headers, body: response.body ?? ByteBuffer())
    }
}

extension Application {
    /// Starts the application on its (free) port, runs `body` with a client connected to it,
    /// then shuts the application down gracefully and waits for it.
    func test<T: Sendable>(_ setup: TestingSetup, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        onListening { port in
            listening.yield(port)
            listening.finish()
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: self)], logger: quietLogger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { listening.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await tasks.waitForAll()
                throw CancellationError()
            }
            let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(60)))
            client.connect()
            let result: Result<T, any Error>
            do {
                result = .success(try await body(LiveClient(client: client, port: port)))
            } catch {
                result = .failure(error)
            }
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }
}

let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .error
    return logger
}()

/// A response body parsed as JSON.
struct JSONBody: @unchecked Sendable {
    let value: Any

    init(_ buffer: ByteBuffer) throws {
        value = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [.fragmentsAllowed])
    }

    subscript(_ key: String) -> JSONBody? {
        guard let object = value as? [String: Any], let member = object[key] else { return nil }
        return JSONBody(raw: member)
    }

    subscript(_ index: Int) -> JSONBody? {
        guard let array = value as? [Any], array.indices.contains(index) else { return nil }
        return JSONBody(raw: array[index])
    }

    private init(raw: Any) { value = raw }

    var string: String? { value as? String }
    var int: Int64? { (value as? NSNumber).map { $0.int64Value } }
    var bool: Bool? { (value as? NSNumber).map { $0.boolValue } }
    var array: [JSONBody]? { (value as? [Any])?.map { JSONBody(raw: $0) } }
    var keys: [String]? { (value as? [String: Any]).map { Array($0.keys) } }
    var isNull: Bool { value is NSNull }
}

extension TestResponse {
    /// The body as JSON (fails the test when it is not).
    var json: JSONBody {
        get throws { try JSONBody(body) }
    }

    /// The body as text.
    var text: String { String(buffer: body) }
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestClientProtocol {
    /// POSTs `body` to `/ingest`.
    func ingest(_ body: String, headers: HTTPFields = jsonHeaders) async throws -> TestResponse {
        try await execute(uri: "/ingest", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// POSTs readings of one device, given as (timestamp, count) pairs.
    func ingest(_ id: String, _ readings: [(String, UInt64)], headers: HTTPFields = jsonHeaders) async throws
        -> TestResponse
    {
        try await ingest(ingestBody(id, readings), headers: headers)
    }

    /// GETs `uri`.
    func get(_ uri: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get)
    }

    /// Checks that the server still serves: health answers and a fresh ingest is accepted.
    func expectStillServing(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let health = try await get("/health")
        #expect(health.status == .ok, sourceLocation: sourceLocation)
        let id = "alive-\(UInt64.random(in: 0...UInt64.max))"
        // A reading of now, so that it is accepted under any retention too.
        let response = try await ingest(id, [(Instant.now().canonical, 1)])
        #expect(response.status == .accepted, sourceLocation: sourceLocation)
        let count = try await get("/devices/\(id)/cumulative_count")
        #expect(try count.json["cumulative_count"]?.int == 1, sourceLocation: sourceLocation)
    }
}

/// A JSON ingest body for `id` (escaped) with (timestamp, count) readings.
func ingestBody(_ id: String, _ readings: [(String, UInt64)]) -> String {
    let elements = readings.map { "{\"timestamp\":\(jsonString($0.0)),\"count\":\($0.1)}" }
    return "{\"id\":\(jsonString(id)),\"readings\":[\(elements.joined(separator: ","))]}"
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var out = ByteBuffer()
    out.writeJSONString(text)
    return String(buffer: out)
}

/// `text` percent-encoded for a path segment.
func pathSegment(_ text: String) -> String {
    PercentEncoding.encode(text.utf8)
}
