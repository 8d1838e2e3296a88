public import RaftCore
public import RaftSecurity

/// Mutual TLS on the peer port: every connection, accepted or dialled, is TLS with a
/// certificate from the cluster's CA, and the certificate must name the node the other side
/// is (`urn:rafthost:node:<id>`): the id it claims in its handshake when it dialled us, the id
/// we dialled when we dialled it. A valid certificate of n2 cannot speak as n3, and a client
/// certificate cannot speak as a peer; such connections are refused and logged.
public struct PeerTLS: Sendable {
    /// The node's contexts; reloading them changes what new connections use.
    public var contexts: NodeTLS
    /// The node ids certificates name, by engine id. A node missing here is named by its number.
    public var nodeNames: [NodeID: String]

    public init(contexts: NodeTLS, nodeNames: [NodeID: String]) {
        self.contexts = contexts
        self.nodeNames = nodeNames
    }

    /// The identity a certificate of `node` must name.
    func identity(of node: NodeID) -> CertificateIdentity {
        .node(nodeNames[node] ?? "\(node.rawValue)")
    }

    /// `nil` when `identities` (from the other side's certificate) include `node`'s, otherwise
    /// why the connection is refused.
    func refusal(claimed node: NodeID, identities: [CertificateIdentity]) -> String? {
        let expected = identity(of: node)
        if identities.contains(expected) { return nil }
        let named = identities.isEmpty ? "no node" : identities.map(\.description).joined(separator: ", ")
        return "the TLS certificate names \(named), not \(expected)"
    }
}
