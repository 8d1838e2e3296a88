import ClusterConfig
package import Logging
package import NIOCore
import RaftReplica
package import RaftSecurity
import RaftTransport
import StateMachineAPI

/// The native client port of a node: `clientRequest` frames in, `clientResponse` frames out.
///
/// Many requests may be in flight on one connection; each answer carries its request's id and
/// answers leave in the order they finish. A request for a group the node does not run is
/// answered with `unknownGroup`. A malformed, truncated or oversized frame, or a frame that is
/// not a client request, closes that connection with a logged reason; the others carry on.
///
/// Each connection is served on its event loop by a ``ClientConnectionHandler``, without a task
/// per request: requests go from the loop to the group's executor, and the answers that finish
/// together reach the loop in one hop and leave in one write.
package final class ClientServer: Sendable {
    /// The listening socket: bind it before ``run()``; stop it through it.
    let listener: TCPListener<ClientChannel>

    package init(
        host: String,
        port: Int,
        executors: [String: GroupExecutor],
        maxFrameSize: Int,
        eventLoopGroup: any EventLoopGroup,
        tls: TLSContextSource? = nil,
        access: AccessPolicy = AccessPolicy(auth: nil, nodes: []),
        logger: Logger
    ) {
        let codec = FrameCodec(maxFrameSize: maxFrameSize)
        let limiter = PortGuard.Limiter()
        let serving = ClientConnectionHandler.Serving(
            executors: executors,
            codec: codec,
            access: access,
            logger: logger
        )
        self.listener = TCPListener(host: host, port: port, eventLoopGroup: eventLoopGroup) { channel in
            try channel.pipeline.syncOperations.addSecurityHandlers(
                tls: tls,
                port: "client",
                limiter: limiter,
                logger: logger
            )
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
            try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(serving))
            return ClientChannel(channel: channel)
        }
    }

    /// Accepts and serves connections until the listener's `stopAccepting()` and
    /// `closeConnections()` have both been called.
    package func run() async throws {
        // The handler serves the connection; its task only waits for it to close.
        try await listener.run { connection in
            try? await connection.channel.closeFuture.get()
        }
    }
}

/// An accepted connection of the client port, served by its ``ClientConnectionHandler``.
struct ClientChannel: AcceptedConnection {
    let channel: any Channel
}

/// Serves one client-port connection on its event loop, after the frame decoder: each request
/// is checked (group, encoding, access) and handed to its group's executor; answers come back
/// from the executors' threads and leave together, one write per burst.
///
/// While the client does not read its answers (the channel is not writable), the handler stops
/// reading requests, so a client that only sends cannot make the node queue answers without
/// bound.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What every connection of the port shares.
    struct Serving: Sendable {
        var executors: [String: GroupExecutor]
        var codec: FrameCodec
        var access: AccessPolicy
        var logger: Logger
    }

    private let serving: Serving
    private var logger: Logger
    /// Answers finished on the executors' threads, written together on the loop.
    private var outbox: EventLoopBatcher<Frame>?
    /// Who the connection speaks for: its certificate, or the token it sent last.
    private var identities: [CertificateIdentity]?
    private var token: String?
    /// A read was held back while the channel was not writable.
    private var readPending = false
    private var closed = false

    init(_ serving: Serving) {
        self.serving = serving
        self.logger = serving.logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        logger[metadataKey: "client.remote"] = "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")"
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        outbox = EventLoopBatcher(eventLoop: context.eventLoop) { frames in
            bound.value.handler.write(frames, context: bound.value.context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        // The outbox's writer refers to this handler: let both go.
        outbox = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed, let outbox else { return }
        switch unwrapInboundIn(data) {
        case .clientCredentials(let sent):
            token = sent
        case .clientRequest(let id, let group, let payload):
            serve(id: id, group: group, payload: payload, outbox: outbox, context: context)
        case let frame:
            close(context: context, reason: "expected a client request frame, got \(frame.kindName)")
        }
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readPending && context.channel.isWritable {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context, reason: "\(error)")
    }

    private func serve(
        id: UInt64,
        group: String,
        payload: [UInt8],
        outbox: EventLoopBatcher<Frame>,
        context: ChannelHandlerContext
    ) {
        let reply: GroupExecutor.Reply = { response in
            outbox.send(.clientResponse(id: id, payload: response.encoded()))
        }
        guard let executor = serving.executors[group] else {
            return reply(.unknownGroup("this cluster has no group named \"\(group)\""))
        }
        let request: ClientRequest
        do {
            request = try ClientRequest(decoding: payload)
        } catch {
            // The frame itself was sound, so the client can be told what is wrong.
            return reply(.error(ReplicaError(.invalidRequest, "undecodable client request: \(error)")))
        }
        if serving.access.isEnabled {
            if identities == nil {
                identities = context.pipeline.syncOperations.peerIdentities()
            }
            let principal = serving.access.authenticate(token: token, identities: identities ?? [])
            let needed: ClusterConfiguration.Role
            switch request {
            case .command(let command): needed = AccessPolicy.role(forCommand: command.command)
            case .query: needed = .read
            }
            switch AccessPolicy.decide(principal, needs: needed) {
            case .allowed:
                break
            case .unauthenticated(let reason):
                return reply(.error(ReplicaError(.unauthenticated, reason)))
            case .forbidden(let reason):
                return reply(.error(ReplicaError(.forbidden, reason)))
            }
        }
        executor.submit(request, reply: reply)
    }

    /// Writes `frames` in one buffer and flushes once.
    private func write(_ frames: [Frame], context: ChannelHandlerContext) {
        guard !closed else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64 * frames.count)
        for frame in frames {
            do {
                try serving.codec.encode(frame, into: &buffer)
            } catch {
                return close(context: context, reason: "cannot send an answer: \(error)")
            }
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func close(context: ChannelHandlerContext, reason: String) {
        guard !closed else { return }
        closed = true
        logger.warning("closing client connection: \(reason)")
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
