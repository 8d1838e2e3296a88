package import Logging
package import NIOCore
package import NIOHTTP1
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
    /// More response headers, such as `allow` on a 405.
    package var headers: [(name: String, value: String)] = []

    package init(_ status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
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
package final class HTTPServer: Sendable {
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    package typealias Handler = @Sendable (HTTPRequest) async -> HTTPAnswer

    /// The listening socket: bind it before ``run()``; stop it through it.
    let listener: TCPListener<HTTPServerRequestPart, HTTPServerResponsePart>
    private let maxBodySize: Int
    private let handler: Handler
    private let logger: Logger
    /// Whether connections are TLS, so that a client certificate may name the client.
    private let isTLS: Bool

    package init(
        host: String,
        port: Int,
        maxBodySize: Int,
        eventLoopGroup: any EventLoopGroup,
        tls: TLSContextSource? = nil,
        logger: Logger,
        handler: @escaping Handler
    ) {
        let limiter = PortGuard.Limiter()
        self.listener = TCPListener(host: host, port: port, eventLoopGroup: eventLoopGroup) { channel in
            try channel.pipeline.syncOperations.addSecurityHandlers(
                tls: tls,
                port: "HTTP",
                limiter: limiter,
                logger: logger
            )
            // `serve` answers one request before it reads the next, so NIO's pipelining
            // buffer adds nothing; our response headers are fixed names with values we
            // build (never a client's bytes), so validating them again costs without use.
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false,
                withErrorHandling: true,
                withOutboundHeaderValidation: false
            )
            return try Connection(wrappingChannelSynchronously: channel)
        }
        self.maxBodySize = maxBodySize
        self.isTLS = tls != nil
        self.logger = logger
        self.handler = handler
    }

    /// Accepts and serves connections until the listener's `stopAccepting()` and
    /// `closeConnections()` have both been called.
    package func run() async throws {
        try await listener.run { await self.serve($0) }
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await serve(inbound: inbound, outbound: outbound, channel: channel)
            }
        } catch {
            logger.debug(
                "closing HTTP connection: \(error)",
                metadata: ["http.remote": "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"]
            )
        }
    }

    /// What the connection is reading.
    private enum Reading {
        case idle
        case body(HTTPRequestHead, ByteBuffer)
        /// A body over the limit was answered with 413; the rest of it is read and dropped (up
        /// to a bound) before the connection closes, so that the client sees the answer rather
        /// than a reset.
        case draining(remaining: Int)
    }

    private func serve(
        inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        channel: any Channel
    ) async throws {
        let allocator = channel.allocator
        var identities: [CertificateIdentity]?
        var reading = Reading.idle
        let drainLimit = max(maxBodySize, 1 << 20) * 4
        for try await part in inbound {
            switch (part, reading) {
            case (.head(let head), .idle):
                if let refusal = HTTPRequestLimits.check(head) {
                    try await write(refusal, to: head, keepAlive: false, outbound: outbound, allocator: allocator)
                    return
                }
                if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                    try await refuseTooLarge(head, outbound: outbound, allocator: allocator)
                    reading = .draining(remaining: drainLimit)
                } else {
                    if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                        // curl waits a second for this before sending a body over 1 KiB.
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
                    }
                    reading = .body(head, allocator.buffer(capacity: 0))
                }
            case (.body(var chunk), .body(let head, var body)):
                if body.readableBytes + chunk.readableBytes > maxBodySize {
                    try await refuseTooLarge(head, outbound: outbound, allocator: allocator)
                    reading = .draining(remaining: drainLimit - body.readableBytes - chunk.readableBytes)
                } else {
                    body.writeBuffer(&chunk)
                    reading = .body(head, body)
                }
            case (.end, .body(let head, let body)):
                reading = .idle
                if identities == nil {
                    if isTLS {
                        identities = await channel.peerIdentities()
                    } else {
                        identities = []
                    }
                }
                let request = HTTPRequest(
                    method: head.method,
                    uri: head.uri,
                    headers: head.headers,
                    body: body,
                    identities: identities ?? []
                )
                let answer = await handler(request)
                try await write(answer, to: head, keepAlive: head.isKeepAlive, outbound: outbound, allocator: allocator)
                guard head.isKeepAlive else { return }
            case (.body(let chunk), .draining(let remaining)):
                guard remaining > chunk.readableBytes else { return }
                reading = .draining(remaining: remaining - chunk.readableBytes)
            case (.end, .draining), (.head, .draining):
                return
            case (.head, .body), (.body, .idle), (.end, .idle):
                // NIO's HTTP decoder never produces these orders.
                throw HTTPSequenceError()
            }
        }
    }

    private struct HTTPSequenceError: Error, CustomStringConvertible {
        var description: String { "HTTP request parts out of order" }
    }

    private func refuseTooLarge(
        _ head: HTTPRequestHead,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        allocator: ByteBufferAllocator
    ) async throws {
        let answer = HTTPAnswer.error(
            .payloadTooLarge,
            "the request body exceeds http.maxBodySize (\(maxBodySize) bytes)"
        )
        try await write(answer, to: head, keepAlive: false, outbound: outbound, allocator: allocator)
    }

    private func write(
        _ answer: HTTPAnswer,
        to request: HTTPRequestHead,
        keepAlive: Bool,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        allocator: ByteBufferAllocator
    ) async throws {
        var headers = HTTPHeaders()
        headers.reserveCapacity(3 + answer.headers.count)
        headers.add(name: "content-type", value: answer.contentType)
        for (name, value) in answer.headers { headers.add(name: name, value: value) }
        headers.add(name: "content-length", value: String(answer.body.count))
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if request.version.major == 1 && request.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: answer.status, headers: headers)
        guard request.method != .HEAD else {
            try await outbound.write(contentsOf: [.head(head), .end(nil)])
            return
        }
        let body = allocator.buffer(bytes: answer.body)
        // One write and one flush: head and body leave in the same segment.
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(body)), .end(nil)])
    }
}
