import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// What SwiftNIO alone reaches on this machine: NIO's HTTP/1.1 request decoder and one handler
/// that reads every request whole and answers it with a constant response (status line, two
/// headers and the body from a file, written as one buffer), with nothing routed, parsed or
/// stored. Same event loops as the service (one per core). `scripts/bench-ceiling.sh` and
/// `scripts/bench-reads.sh` run it beside the service, so that the service's own share of a
/// request can be told apart from the stack's.
///
/// usage: http-ceiling PORT STATUS ANSWER_FILE     e.g. http-ceiling 8080 202 answer.json
@main
enum HTTPCeiling {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 4, let port = Int(arguments[1]), let status = Int(arguments[2]) else {
            FileHandle.standardError.write(Data("usage: http-ceiling PORT STATUS ANSWER_FILE\n".utf8))
            exit(2)
        }
        let body = try Data(contentsOf: URL(fileURLWithPath: arguments[3]))
        var answer = ByteBuffer()
        answer.writeString(
            "HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
        answer.writeBytes(body)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [answer] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ConstantAnswer(answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        try channel.closeFuture.wait()
    }
}

/// Answers each request, once read whole, with the same bytes; closes on `Connection: close`.
final class ConstantAnswer: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let answer: ByteBuffer
    private var keepAlive = true

    init(answer: ByteBuffer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            if keepAlive {
                context.write(wrapOutboundOut(answer), promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in context.close(promise: nil) }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
