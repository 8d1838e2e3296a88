import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One request a fake HTTP node received, whole.
struct ReceivedHTTPRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// What a fake HTTP node answers.
struct HTTPReply: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    /// Sends the body in this many pieces, the first at once and one more every `every`.
    var trickle: (pieces: Int, every: TimeAmount)?

    /// A JSON answer (an error is `{"error":"..."}`).
    static func json(_ status: HTTPResponseStatus, _ text: String) -> HTTPReply {
        HTTPReply(status: status, contentType: "application/json", body: Array(text.utf8))
    }
}

/// A node's HTTP port in the test process: a real listener on loopback port 0 that records
/// every request and answers it as `script` says.
final class FakeHTTPNode: Sendable {
    let port: Int
    private let recorder: Recorder
    private let serverChannel: any Channel

    private final class Recorder: Sendable {
        let requests = Mutex<[ReceivedHTTPRequest]>([])
    }

    init(script: @escaping @Sendable (ReceivedHTTPRequest) -> HTTPReply) async throws {
        let recorder = Recorder()
        let record: @Sendable (ReceivedHTTPRequest) -> Void = { request in
            recorder.requests.withLock { $0.append(request) }
        }
        serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(script: script, record: record))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.port = serverChannel.localAddress?.port ?? 0
        self.recorder = recorder
    }

    /// `127.0.0.1:port`, for `--http-endpoints`.
    var address: String { "127.0.0.1:\(port)" }

    /// The requests answered so far, in order.
    var requests: [ReceivedHTTPRequest] {
        recorder.requests.withLock { $0 }
    }

    /// Stops listening: later connections are refused.
    func stop() async throws {
        try await serverChannel.close()
    }
}

/// Collects a request's parts, records it, and writes the scripted answer.
private final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let script: @Sendable (ReceivedHTTPRequest) -> HTTPReply
    private let record: @Sendable (ReceivedHTTPRequest) -> Void
    private var request: ReceivedHTTPRequest?

    init(
        script: @escaping @Sendable (ReceivedHTTPRequest) -> HTTPReply,
        record: @escaping @Sendable (ReceivedHTTPRequest) -> Void
    ) {
        self.script = script
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = ReceivedHTTPRequest(method: head.method, uri: head.uri, headers: head.headers, body: [])
        case .body(let chunk):
            request?.body += chunk.readableBytesView
        case .end:
            guard let request else { return }
            self.request = nil
            record(request)
            let reply = script(request)
            let headers = HTTPHeaders([
                ("content-type", reply.contentType), ("content-length", "\(reply.body.count)"),
                ("connection", "close"),
            ])
            let head = HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            guard let trickle = reply.trickle else {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            context.flush()
            let size = (reply.body.count + trickle.pieces - 1) / trickle.pieces
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            for piece in 0..<trickle.pieces {
                let bytes = Array(
                    reply.body[min(piece * size, reply.body.count)..<min((piece + 1) * size, reply.body.count)]
                )
                context.eventLoop.scheduleTask(in: trickle.every * Int64(piece)) {
                    let (handler, context) = bound.value
                    context.writeAndFlush(
                        handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))),
                        promise: nil
                    )
                    if piece == trickle.pieces - 1 {
                        context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    }
                }
            }
        }
    }
}
