import Logging
import NIOCore
import NIOSSL
import RaftSecurity

/// Serves one accepted peer connection: runs the acceptor side of `PeerConnectionStateMachine`
/// and performs its actions on the event loop.
///
/// Accepted connections use a handler rather than `NIOAsyncChannel` because NIO's async server
/// API can drop (and trap on) a connection accepted while the listener closes; with a handler
/// there is no hand-off to lose.
final class InboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private var machine: PeerConnectionStateMachine
    private let codec: FrameCodec
    private let registry: InboxRegistry
    private let handshakeTimeout: TimeAmount
    private var logger: Logger
    private var timeout: Scheduled<Void>?
    private let tls: PeerTLS?

    init(
        machine: PeerConnectionStateMachine,
        codec: FrameCodec,
        registry: InboxRegistry,
        handshakeTimeout: TimeAmount,
        tls: PeerTLS?,
        logger: Logger
    ) {
        self.tls = tls
        self.machine = machine
        self.codec = codec
        self.registry = registry
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        logger[metadataKey: "raft.remote"] = "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) {
            self.perform(self.machine.timedOut(), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.received(unwrapInboundIn(data)), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? WireError {
            perform(machine.decodingFailed(error), context: context)
        } else if error is NIOSSLError || error is BoringSSLError {
            // A certificate from another CA, an expired one, none at all, or not TLS.
            registry.update { $0.protocolErrors += 1 }
            logger.warning("Refused peer: TLS handshake failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        } else {
            logger.debug("Peer connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if machine.establishedPeer != nil {
            logger.info("Peer disconnected")
        }
        context.fireChannelInactive()
    }

    private func perform(_ action: PeerConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .accept(let peer, let reply):
            if let tls {
                let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
                let identities = certificate.map(CertificateIdentity.identities(of:)) ?? []
                if let reason = tls.refusal(claimed: peer, identities: identities) {
                    timeout?.cancel()
                    registry.update { $0.protocolErrors += 1 }
                    logger.warning(
                        "Refused peer: its certificate does not name the node it claims to be",
                        metadata: ["raft.claimed": "\(peer)", "reason": "\(reason)"]
                    )
                    let channel = context.channel
                    write(.handshakeReject(reason: reason), context: context).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                    return
                }
            }
            timeout?.cancel()
            logger[metadataKey: "raft.peer"] = "\(peer)"
            logger.info("Peer connected")
            write(reply, context: context)
        case .deliver(let group, let message):
            registry.deliver(message, group: group)
        case .heard(let peer):
            registry.recordPing(from: peer)
        case .drop(let reason):
            registry.update { $0.inboundDropped += 1 }
            logger.debug("Dropped misaddressed message", metadata: ["reason": "\(reason)"])
        case .reject(let reply, let reason):
            registry.update { $0.protocolErrors += 1 }
            logger.warning("Rejected peer handshake", metadata: ["reason": "\(reason)"])
            let channel = context.channel
            write(reply, context: context).whenComplete { _ in channel.close(promise: nil) }
        case .close(let reason):
            registry.update { $0.protocolErrors += 1 }
            logger.warning("Closing peer connection", metadata: ["reason": "\(reason)"])
            context.close(promise: nil)
        case .write, .established, .none:
            // Only an initiator writes first or becomes established; nothing else to do.
            break
        }
    }

    @discardableResult
    private func write(_ frame: Frame, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try codec.encode(frame, into: &buffer)
        } catch {
            // Handshake answers are a few bytes; only a pathological frame limit gets here.
            logger.error("Cannot encode a handshake answer", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return context.eventLoop.makeFailedFuture(error)
        }
        return context.writeAndFlush(wrapOutboundOut(buffer))
    }
}
