package import NIOCore
import NIOSSL
import NIOTLS

/// What a client of the cluster checks once its TLS handshake with a node's client or HTTP
/// port is done, before it writes anything: that the server presented a *node* certificate of
/// the cluster (`urn:rafthost:node:<id>`).
///
/// The CA verifies the chain, but the same CA signs client certificates too: without this
/// check, anyone holding a client certificate could pose as a node to raftctl, to the Swift
/// client or to another node forwarding a request, and collect their tokens and commands. The
/// peer port makes the stricter check (the node id claimed in its handshake) itself.
package final class ServerIdentityCheck: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    package typealias InboundIn = ByteBuffer

    private let handshake: EventLoopPromise<Void>

    /// A check for a channel of `eventLoop`; add it right after the `NIOSSLClientHandler`.
    package init(eventLoop: any EventLoop) {
        handshake = eventLoop.makePromise()
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshake.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.fireErrorCaught(error)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ServerIdentityError("the connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        handshake.fail(ServerIdentityError("the connection closed during the TLS handshake"))
    }

    /// Waits for the handshake of `channel`, then checks the server's certificate; closes the
    /// channel and throws ``ServerIdentityError`` when it names no node.
    package func verify(_ channel: any Channel) async throws {
        try await handshake.futureResult.get()
        let certificate = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.nioSSL_peerCertificate()
        }.get()
        let identities = certificate.map(CertificateIdentity.identities(of:)) ?? []
        guard identities.contains(where: \.isNode) else {
            channel.close(promise: nil)
            let named =
                identities.isEmpty
                ? "no identity of the cluster" : identities.map(\.description).joined(separator: ", ")
            throw ServerIdentityError(
                "the server's certificate is not a node's (it names \(named)); refusing to talk to it"
            )
        }
    }
}

/// A server that is not a node of the cluster (see ``ServerIdentityCheck``), or a handshake
/// that did not finish.
package struct ServerIdentityError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}

extension CertificateIdentity {
    /// Whether this names a node (not a client).
    package var isNode: Bool {
        if case .node = self { true } else { false }
    }
}
