import ClusterConfig
package import NIOCore
import NIOSSL

/// TLS for a client of the cluster (`RaftClient`, `raftctl`, a node forwarding requests):
/// trust the cluster's CA and, for client-certificate authentication, present a certificate.
///
/// Compared by identity, so that a client configuration holding one stays `Hashable`.
public final class ClientTLS: Sendable, Hashable {
    package let source: TLSContextSource

    /// - Parameters:
    ///   - caFile: PEM file of the cluster's CA (`tls.ca`).
    ///   - certificate: PEM file of the client's certificate, with `key`; `nil` for none.
    /// - Throws: `TLSMaterialError` naming the file that cannot be used.
    public init(caFile: String, certificate: String? = nil, key: String? = nil) throws {
        let files: ClusterConfiguration.CertificateFiles?
        switch (certificate, key) {
        case (let certificate?, let key?): files = .init(certificate: certificate, key: key)
        case (nil, nil): files = nil
        default: throw TLSMaterialError("a client certificate needs its key, and a key its certificate")
        }
        self.source = try TLSContextSource { try TLSMaterial.clientContext(ca: caFile, files: files) }
    }

    /// What a node dials other nodes' client ports with: its node certificate, reloaded with it.
    public init(node: NodeTLS) {
        self.source = node.client
    }

    public static func == (lhs: ClientTLS, rhs: ClientTLS) -> Bool { lhs === rhs }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(self))
    }
}

extension ClientTLS {
    /// Adds TLS and the check of the server's identity (``ServerIdentityCheck``) to a client
    /// connection's pipeline; call from its channel initializer, before any other handler.
    package func addClientHandlers(to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandlers(
            NIOSSLClientHandler(context: source.context, serverHostname: nil),
            ServerIdentityCheck(eventLoop: channel.eventLoop)
        )
    }

    /// Waits for the TLS handshake of a channel set up by ``addClientHandlers(to:)`` and checks
    /// that the server is a node of the cluster; throws (having closed it) when it is not.
    package static func verifyServer(of channel: any Channel) async throws {
        let check = try await channel.pipeline.handler(type: ServerIdentityCheck.self).get()
        try await check.verify(channel)
    }
}
