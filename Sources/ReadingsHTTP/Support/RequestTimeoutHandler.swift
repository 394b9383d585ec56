import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request has not arrived whole within `timeout` of its head: a
/// client that sends a head and then drips the body (a slow-body slowloris) would otherwise hold
/// a connection, and a place under `--max-connections`, for as long as it likes. The idle
/// timeout covers the time before a head; this covers the time from head to end. Handling the
/// request after its end is not timed.
///
/// A request only notes when its head arrived; one timer per connection, armed when a head finds
/// none running, checks on firing and re-arms itself for the request then in progress. Steady
/// keep-alive traffic therefore schedules about one timer per `timeout` per connection instead of
/// scheduling and cancelling one per request.
final class RequestTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    /// When the head of the request in progress arrived; nil between requests.
    private var headArrival: NIODeadline?
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            let now = NIODeadline.now()
            headArrival = now
            if timer == nil { arm(context: context, at: now + timeout) }
        case .end:
            headArrival = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let headArrival else { return }  // between requests: the next head re-arms
            let due = headArrival + timeout
            if due <= NIODeadline.now() {
                context.close(promise: nil)
            } else {
                arm(context: context, at: due)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        headArrival = nil
    }
}
