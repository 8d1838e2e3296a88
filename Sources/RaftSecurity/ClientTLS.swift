import ClusterConfig

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
