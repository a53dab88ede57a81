import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// How long a client may take, and how many may be connected at once. A connection that no one is using, or that
/// sends its request too slowly, is closed, so a stranger cannot hold sockets (and their kernel memory) open.
public struct HTTPLimits: Sendable, Equatable {
    /// A keep-alive connection with no request in progress is closed after this (Hummingbird's idle timeout).
    public var idleTimeout: Duration
    /// From the first byte of a request to its complete head.
    public var headerTimeout: Duration
    /// From a request's head to the end of its body.
    public var bodyTimeout: Duration
    /// Connections served at once; further ones wait in the listen backlog.
    public var maxConnections: Int
    /// After an answer that left the request body unread, this much more of it is read and discarded (so the
    /// client, which may still be sending, gets to read the answer) before the connection is closed.
    public var drainLimit: Int

    public init(idleTimeout: Duration = .seconds(60), headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(300),
                maxConnections: Int = 1024, drainLimit: Int = 32 << 20) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.drainLimit = drainLimit
    }

    /// The HTTP/1 server with these limits.
    var server: HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .init(idleTimeout))), limits: self)
        }
    }
}

/// Hummingbird's HTTP/1 channel with two handlers of Warden's around the HTTP codec: one watching raw bytes (a
/// request has begun), one watching requests and answers (its head and body arrived in time; an answer left the
/// body unread).
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let limits: HTTPLimits

    var responder: Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // Made and used on the channel's event loop only.
        let timers = NIOLoopBound(ConnectionTimers(limits: limits), eventLoop: channel.eventLoop)
        do {
            try channel.pipeline.syncOperations.addHandler(RequestStartHandler(timers: timers.value), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let state = try operations.handler(type: HTTPConnectionStateHandler.self)
            try operations.addHandler(RequestGuardHandler(timers: timers.value), position: .before(state))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// The state both handlers share. It lives on the connection's event loop and is touched only from there.
final class ConnectionTimers {
    let limits: HTTPLimits
    /// Requests whose head has arrived and whose answer has not ended.
    var requestsOpen = 0
    var headerDeadline: Scheduled<Void>?
    var bodyDeadline: Scheduled<Void>?

    init(limits: HTTPLimits) {
        self.limits = limits
    }

    func schedule(_ timeout: Duration, on context: ChannelHandlerContext) -> Scheduled<Void> {
        let channel = context.channel
        return context.eventLoop.scheduleTask(in: .init(timeout)) { channel.close(promise: nil) }
    }
}

/// First in the pipeline: bytes that arrive while no request is open begin one, and start its header deadline.
final class RequestStartHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let timers: ConnectionTimers

    init(timers: ConnectionTimers) {
        self.timers = timers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if timers.requestsOpen == 0, timers.headerDeadline == nil {
            timers.headerDeadline = timers.schedule(timers.limits.headerTimeout, on: context)
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timers.headerDeadline?.cancel()
        timers.bodyDeadline?.cancel()
    }
}

/// After the HTTP codec: a head ends the header deadline and starts the body's; an answer whose head goes out
/// before the request body was read is marked `Connection: close`, the rest of the body (up to the drain limit)
/// is read and discarded, and the connection is closed once the answer is written.
final class RequestGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timers: ConnectionTimers
    /// Requests read to their end, and answers begun. Answers go out in request order (pipelined requests
    /// included), so the request an answer is for has been read whole exactly when `requestsEnded >= answersBegun`.
    private var requestsEnded = 0
    private var answersBegun = 0
    private var bodyPending: Bool { requestsEnded < answersBegun }
    private var draining = false
    private var drained = 0
    private var answerWritten = false

    init(timers: ConnectionTimers) {
        self.timers = timers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if draining {
            switch part {
            case .head:
                context.close(promise: nil)
            case .body(let buffer):
                drained += buffer.readableBytes
                if drained > timers.limits.drainLimit, answerWritten { context.close(promise: nil) }
            case .end:
                requestsEnded += 1
                timers.bodyDeadline?.cancel()
                if answerWritten { context.close(promise: nil) }
            }
            return
        }
        switch part {
        case .head:
            timers.requestsOpen += 1
            timers.headerDeadline?.cancel()
            timers.headerDeadline = nil
            timers.bodyDeadline = timers.schedule(timers.limits.bodyTimeout, on: context)
        case .body:
            break
        case .end:
            requestsEnded += 1
            timers.bodyDeadline?.cancel()
            timers.bodyDeadline = nil
        }
        context.fireChannelRead(data)
    }

    /// While draining, this handler asks for more bytes itself: nothing after it is reading any more, and the
    /// async channel only asks on behalf of a consumer.
    func channelReadComplete(context: ChannelHandlerContext) {
        if draining { context.read() }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .head(let head) = part, head.status.code >= 200 { answersBegun += 1 }
        switch part {
        case .head(var head) where bodyPending && !draining && head.status.code >= 200:
            // The answer is decided without the body (413, 401, …): the client must not send another request on
            // this connection, and the unread rest of this one is discarded below.
            draining = true
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            timers.requestsOpen = max(0, timers.requestsOpen - 1)
            guard draining else {
                context.write(data, promise: promise)
                return
            }
            answerWritten = true
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            if !bodyPending || drained > timers.limits.drainLimit {
                let channel = context.channel
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.read()
            }
        default:
            context.write(data, promise: promise)
        }
    }
}

@available(*, unavailable)
extension ConnectionTimers: Sendable {}
