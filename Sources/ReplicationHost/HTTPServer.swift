package import Logging
package import NIOCore
package import NIOHTTP1
import NIOPosix
package import RaftSecurity

/// A request as the HTTP API sees it: the head and the whole body.
package struct HTTPRequest: Sendable {
    package var method: HTTPMethod
    /// The request target as sent: path and query string, still percent-encoded.
    package var uri: String
    package var headers: HTTPHeaders
    package var body: ByteBuffer
    /// What the client's TLS certificate names; empty without one.
    package var identities: [CertificateIdentity] = []
}

/// An answer of the HTTP API: a status, a content type and a body sent with a
/// `content-length`.
package struct HTTPAnswer: Sendable {
    package var status: HTTPResponseStatus
    package var contentType: String
    package var body: [UInt8]
    /// A body too large for one array (`body` is then empty), sent piece by piece.
    package var streamedBody: HTTPStreamedBody?
    /// More response headers, such as `allow` on a 405.
    package var headers: [(name: String, value: String)] = []

    package init(_ status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// A body of known length that is read in pieces as the connection takes them: one piece is
/// in memory at a time, whatever the length. Whatever backs it is released with the answer.
package struct HTTPStreamedBody: Sendable {
    package static let pieceSize = 1 << 20

    package var count: Int
    /// The bytes of `range`; called off the event loop, one piece at a time, in order.
    package var read: @Sendable (Range<Int>) throws -> [UInt8]

    package init(count: Int, read: @escaping @Sendable (Range<Int>) throws -> [UInt8]) {
        self.count = count
        self.read = read
    }
}

/// The HTTP/1.1 listener of a node (NIO's `NIOHTTP1`): keep-alive, `TCP_NODELAY`, each
/// response's head, body and end written and flushed together.
///
/// Requests on one connection are answered in order, one at a time (pipelined requests wait
/// for the previous answer); `Expect: 100-continue` is answered at once. A body larger than
/// `maxBodySize` is answered with 413 at once, and the connection closes after the rest of the
/// body (up to a bound) is read and dropped. Malformed HTTP is answered with 400 by NIO's
/// protocol error handler. Every request head is checked against ``HTTPRequestLimits``
/// first (400 without exactly one `Host` on HTTP/1.1, 431 for too many or too large headers),
/// and the connection closes after such an answer.
///
/// A channel handler serves each connection on its event loop (``HTTPConnectionHandler``): a
/// request goes first to the `immediate` handler, which answers without a task when it can (a
/// group's command or linearizable read, served here or sent to the leader), and otherwise to
/// `handler`, which the connection's task runs.
package final class HTTPServer: Sendable {
    package typealias Handler = @Sendable (HTTPRequest) async -> HTTPAnswer
    /// Takes a request it can answer without suspending: returns true and calls the reply
    /// exactly once, from any thread; false (the reply unused) leaves the request to `Handler`.
    package typealias ImmediateHandler = @Sendable (HTTPRequest, @escaping @Sendable (HTTPAnswer) -> Void) -> Bool

    /// The listening socket: bind it before ``run()``; stop it through it.
    let listener: TCPListener<HTTPChannel>

    package init(
        host: String,
        port: Int,
        maxBodySize: Int,
        eventLoopGroup: any EventLoopGroup,
        tls: TLSContextSource? = nil,
        logger: Logger,
        immediate: @escaping ImmediateHandler = { _, _ in false },
        handler: @escaping Handler
    ) {
        let limiter = PortGuard.Limiter()
        let serving = HTTPConnectionHandler.Serving(
            maxBodySize: maxBodySize,
            isTLS: tls != nil,
            logger: logger,
            immediate: immediate,
            handler: handler
        )
        self.listener = TCPListener(host: host, port: port, eventLoopGroup: eventLoopGroup) { channel in
            try channel.pipeline.syncOperations.addSecurityHandlers(
                tls: tls,
                port: "HTTP",
                limiter: limiter,
                logger: logger
            )
            // The connection handler answers one request before it reads the next, so NIO's
            // pipelining buffer adds nothing; our response headers are fixed names with values
            // we build (never a client's bytes), so validating them again costs without use.
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false,
                withErrorHandling: true,
                withOutboundHeaderValidation: false
            )
            let (fallbacks, continuation) = AsyncStream.makeStream(of: HTTPConnectionHandler.Fallback.self)
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionHandler(serving, fallbacks: continuation))
            return HTTPChannel(channel: channel, fallbacks: fallbacks)
        }
    }

    /// Accepts and serves connections until the listener's `stopAccepting()` and
    /// `closeConnections()` have both been called.
    package func run() async throws {
        // The handler serves the connection; its task runs what needs one, until it closes.
        try await listener.run { connection in
            for await fallback in connection.fallbacks {
                await fallback()
            }
        }
    }
}

/// An accepted HTTP connection, served by its ``HTTPConnectionHandler``.
struct HTTPChannel: AcceptedConnection {
    let channel: any Channel
    /// The requests the handler leaves to the async handler, one at a time; it finishes once
    /// the connection is closed.
    let fallbacks: AsyncStream<HTTPConnectionHandler.Fallback>
}

/// Serves one HTTP connection on its event loop, after NIO's HTTP codec: assembles each request
/// (``HTTPRequestAssembler``), hands it to the server's handlers and writes the answer.
///
/// One request at a time: while one is being answered, or while the client does not read
/// what was written (the channel is not writable), the parts that arrive wait in a queue and
/// the channel stops reading (after at most one more read while answering), so answers leave
/// in order and a client that only sends cannot make the node buffer answers without bound.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// A request for the server's async handler, and the writing of its answer.
    typealias Fallback = @Sendable () async -> Void

    /// What every connection of a server shares.
    struct Serving: Sendable {
        var maxBodySize: Int
        /// Whether connections are TLS, so that a client certificate may name the client.
        var isTLS: Bool
        var logger: Logger
        var immediate: HTTPServer.ImmediateHandler
        var handler: HTTPServer.Handler
    }

    private let serving: Serving
    /// To the connection's task, which runs them in order.
    private let fallbacks: AsyncStream<Fallback>.Continuation
    private var assembler: HTTPRequestAssembler
    /// A request was handed on and its answer is not written yet.
    private var answering = false
    /// The last answer filled the channel's outbound buffer: wait until it drains.
    private var awaitingWritability = false
    /// Parts that arrived while paused.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A read was held back while paused.
    private var readPending = false
    /// Closed or closing: nothing more is read or written.
    private var closed = false
    private var identities: [CertificateIdentity]?

    init(_ serving: Serving, fallbacks: AsyncStream<Fallback>.Continuation) {
        self.serving = serving
        self.fallbacks = fallbacks
        self.assembler = HTTPRequestAssembler(maxBodySize: serving.maxBodySize)
    }

    private var isPaused: Bool { answering || awaitingWritability }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if isPaused {
            queued.append(part)
        } else {
            receive(part, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        // While an answer is pending, one more read is still let through: most clients send
        // their next request only after the answer, so nothing arrives, and holding the read
        // would cost two `epoll_ctl` calls per request (NIO drops read interest while no read
        // is pending). Whatever that read brings is queued and holds the reads after it.
        if awaitingWritability || (answering && !queued.isEmpty) {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if awaitingWritability && context.channel.isWritable {
            awaitingWritability = false
            resume(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        fallbacks.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        fallbacks.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context, reason: error)
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        guard !closed else { return }
        switch assembler.receive(part) {
        case .none:
            break
        case .sendContinue(let version):
            // curl waits a second for this before sending a body over 1 KiB.
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .continue))),
                promise: nil
            )
        case .refuse(let answer, let head, let thenClose):
            if thenClose {
                closeAfter(write(answer, to: head, keepAlive: false, context: context), context: context)
            } else {
                write(answer, to: head, keepAlive: false, context: context)
            }
        case .request(let head, let body):
            answer(head, body: body, context: context)
        case .close:
            close(context: context, reason: nil)
        case .outOfOrder:
            close(context: context, reason: HTTPSequenceError())
        }
    }

    private struct HTTPSequenceError: Error, CustomStringConvertible {
        var description: String { "HTTP request parts out of order" }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        answering = true
        if identities == nil {
            identities = serving.isTLS ? context.pipeline.syncOperations.peerIdentities() : []
        }
        let request = HTTPRequest(
            method: head.method,
            uri: head.uri,
            headers: head.headers,
            body: body,
            identities: identities ?? []
        )
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: eventLoop)
        // Always through the event loop's queue, even from it: the answer is written after
        // this read's handling is over, never inside it.
        let reply: @Sendable (HTTPAnswer) -> Void = { answer in
            eventLoop.execute { bound.value.handler.answered(answer, to: head, context: bound.value.context) }
        }
        if serving.immediate(request, reply) { return }
        let handler = serving.handler
        // Dropped only once the connection is closed, when there is no one to answer.
        fallbacks.yield { reply(await handler(request)) }
    }

    private func answered(_ answer: HTTPAnswer, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard !closed else { return }
        if let body = answer.streamedBody, head.method != .HEAD {
            // Still answering (reads stay paused) until the last piece has left.
            writeHead(answer, to: head, keepAlive: head.isKeepAlive, context: context)
            stream(body, from: 0, to: head, context: context)
            return
        }
        answering = false
        guard head.isKeepAlive else {
            closeAfter(write(answer, to: head, keepAlive: false, context: context), context: context)
            return
        }
        write(answer, to: head, keepAlive: true, context: context)
        awaitingWritability = !context.channel.isWritable
        resume(context: context)
    }

    /// Goes on with the queued parts, then reads again, unless paused anew.
    private func resume(context: ChannelHandlerContext) {
        while !isPaused && !closed, let part = queued.popFirst() {
            receive(part, context: context)
        }
        if !isPaused && !closed && readPending {
            readPending = false
            context.read()
        }
    }

    /// Sends `body` from `offset` on, then ends the answer: each piece is read on the thread
    /// pool and written once the one before has left, so one piece is held at a time. A failed
    /// read or write closes the connection (the client sees fewer bytes than announced).
    private func stream(
        _ body: HTTPStreamedBody,
        from offset: Int,
        to request: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        guard !closed else { return }
        guard offset < body.count else {
            answering = false
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if request.isKeepAlive {
                awaitingWritability = !context.channel.isWritable
                resume(context: context)
            } else {
                closeAfter(written, context: context)
            }
            return
        }
        let range = offset..<min(offset + HTTPStreamedBody.pieceSize, body.count)
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { try body.read(range) }
            .flatMap { bytes in
                let (handler, context) = bound.value
                let piece = context.channel.allocator.buffer(bytes: bytes)
                return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(piece))))
            }
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success:
                    handler.stream(body, from: range.upperBound, to: request, context: context)
                case .failure(let error):
                    handler.close(context: context, reason: error)
                }
            }
    }

    /// Writes `answer`'s head to `request` (not flushed).
    private func writeHead(
        _ answer: HTTPAnswer,
        to request: HTTPRequestHead,
        keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(3 + answer.headers.count)
        headers.add(name: "content-type", value: answer.contentType)
        for (name, value) in answer.headers { headers.add(name: name, value: value) }
        headers.add(name: "content-length", value: String(answer.streamedBody?.count ?? answer.body.count))
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if request.version.major == 1 && request.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: answer.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    /// Writes and flushes `answer` to `request` in one go: head, body (none for `HEAD`) and end.
    @discardableResult
    private func write(
        _ answer: HTTPAnswer,
        to request: HTTPRequestHead,
        keepAlive: Bool,
        context: ChannelHandlerContext
    ) -> EventLoopFuture<Void>? {
        writeHead(answer, to: request, keepAlive: keepAlive, context: context)
        if request.method != .HEAD {
            let body = context.channel.allocator.buffer(bytes: answer.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        // A future only where the connection closes after the write.
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return nil
        }
        return context.writeAndFlush(wrapOutboundOut(.end(nil)))
    }

    /// Closes the connection once `written` (the last answer) has left.
    private func closeAfter(_ written: EventLoopFuture<Void>?, context: ChannelHandlerContext) {
        closed = true
        let channel = context.channel
        if let written {
            written.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    private func close(context: ChannelHandlerContext, reason: (any Error)?) {
        if let reason {
            serving.logger.debug(
                "closing HTTP connection: \(reason)",
                metadata: ["http.remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")"]
            )
        }
        guard !closed else { return }
        closed = true
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTPConnectionHandler: Sendable {}

/// Assembles requests from the HTTP codec's parts within the server's limits: a state machine
/// fed each part, returning what the connection does next.
struct HTTPRequestAssembler {
    enum Action {
        case none
        /// `Expect: 100-continue`: answer 100 now.
        case sendContinue(HTTPVersion)
        /// Answer `head` with `answer` (with `connection: close`); close after it when `thenClose`,
        /// else the rest of the body is read and dropped first.
        case refuse(HTTPAnswer, HTTPRequestHead, thenClose: Bool)
        /// A whole request.
        case request(HTTPRequestHead, ByteBuffer)
        case close
        /// Parts in an order NIO's decoder never produces.
        case outOfOrder
    }

    private enum State {
        case idle
        case body(HTTPRequestHead, ByteBuffer)
        /// A body over the limit was answered with 413; the rest of it is read and dropped (up
        /// to a bound) before the connection closes, so that the client sees the answer rather
        /// than a reset.
        case draining(remaining: Int)
    }

    private let maxBodySize: Int
    private let drainLimit: Int
    private var state = State.idle

    init(maxBodySize: Int) {
        self.maxBodySize = maxBodySize
        self.drainLimit = max(maxBodySize, 1 << 20) * 4
    }

    mutating func receive(_ part: HTTPServerRequestPart) -> Action {
        switch (part, state) {
        case (.head(let head), .idle):
            if let refusal = HTTPRequestLimits.check(head) {
                state = .draining(remaining: 0)
                return .refuse(refusal, head, thenClose: true)
            }
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                state = .draining(remaining: drainLimit)
                return .refuse(tooLarge, head, thenClose: false)
            }
            state = .body(head, ByteBuffer())
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                return .sendContinue(head.version)
            }
            return .none
        case (.body(var chunk), .body(let head, var body)):
            if body.readableBytes + chunk.readableBytes > maxBodySize {
                state = .draining(remaining: drainLimit - body.readableBytes - chunk.readableBytes)
                return .refuse(tooLarge, head, thenClose: false)
            }
            // Out of `state` first, so that the buffer is appended to in place.
            state = .idle
            body.writeBuffer(&chunk)
            state = .body(head, body)
            return .none
        case (.end, .body(let head, let body)):
            state = .idle
            return .request(head, body)
        case (.body(let chunk), .draining(let remaining)):
            guard remaining > chunk.readableBytes else { return .close }
            state = .draining(remaining: remaining - chunk.readableBytes)
            return .none
        case (.end, .draining), (.head, .draining):
            return .close
        case (.head, .body), (.body, .idle), (.end, .idle):
            return .outOfOrder
        }
    }

    private var tooLarge: HTTPAnswer {
        .error(.payloadTooLarge, "the request body exceeds http.maxBodySize (\(maxBodySize) bytes)")
    }
}
