import Foundation
import Hummingbird
import NIOCore
import NIOPosix

/// What Hummingbird alone reaches on this machine: `POST /ingest` reads the whole body (as the
/// service does) and answers a constant body from a file, with nothing parsed or stored. Run the
/// same way as the service (NIO's event loops as the global executor; start it with the
/// service's allocator thresholds in the environment), it measures the framework's share of a
/// request, so that `scripts/bench-ceiling.sh` can tell it apart from the service's own work.
///
/// usage: http-ceiling PORT ANSWER_FILE
@main
enum HTTPCeiling {
    static func main() async throws {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let arguments = CommandLine.arguments
        guard arguments.count == 3, let port = Int(arguments[1]) else {
            FileHandle.standardError.write(Data("usage: http-ceiling PORT ANSWER_FILE\n".utf8))
            exit(2)
        }
        let answer = ByteBuffer(data: try Data(contentsOf: URL(fileURLWithPath: arguments[2])))
        let router = Router()
        router.post("/ingest") { request, _ in
            _ = try await request.body.collect(upTo: 16 << 20)
            return Response(
                status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
