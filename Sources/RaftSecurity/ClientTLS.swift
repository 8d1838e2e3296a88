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
    ///
    /// Keep the check it returns and call its ``ServerIdentityCheck/verify(_:)`` once connected:
    /// a failed handshake closes the channel and empties its pipeline, so the check could not be
    /// looked up there afterwards, and the handshake's own error (a certificate the CA did not
    /// sign, say) would be lost.
    package func addClientHandlers(to channel: any Channel) throws -> ServerIdentityCheck {
        let check = ServerIdentityCheck(eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandlers(
            NIOSSLClientHandler(context: source.context, serverHostname: nil),
            check
        )
        return check
    }
}
