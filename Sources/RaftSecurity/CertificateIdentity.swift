package import NIOSSL
package import X509
import SwiftASN1

/// Who a certificate of the cluster's CA speaks for, as its URI subject alternative names say:
/// `urn:rafthost:node:<id>` for a node, `urn:rafthost:client:<name>` for a client.
///
/// The peer port accepts a connection only from a certificate that names the node id the peer
/// claims in its handshake; the client and HTTP ports take the client name as the client's
/// identity. A certificate can name several identities; `rafthost certs` gives each one.
package enum CertificateIdentity: Sendable, Hashable, CustomStringConvertible {
    case node(String)
    case client(String)

    package static let nodePrefix = "urn:rafthost:node:"
    package static let clientPrefix = "urn:rafthost:client:"

    /// The URI that names this identity in a certificate.
    package var uri: String {
        switch self {
        case .node(let id): Self.nodePrefix + id
        case .client(let name): Self.clientPrefix + name
        }
    }

    package var description: String {
        switch self {
        case .node(let id): "node \(id)"
        case .client(let name): "client \(name)"
        }
    }

    /// The identities `certificate` names; empty for one that names none (or cannot be read).
    package static func identities(of certificate: NIOSSLCertificate) -> [CertificateIdentity] {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return []
        }
        return identities(of: parsed)
    }

    /// The identities `certificate` names.
    package static func identities(of certificate: Certificate) -> [CertificateIdentity] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            guard case .uniformResourceIdentifier(let uri) = name else { return nil }
            if uri.hasPrefix(nodePrefix) { return .node(String(uri.dropFirst(nodePrefix.count))) }
            if uri.hasPrefix(clientPrefix) { return .client(String(uri.dropFirst(clientPrefix.count))) }
            return nil
        }
    }

    /// The common name of `certificate`, for logs.
    package static func subject(of certificate: NIOSSLCertificate) -> String {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return "?"
        }
        return "\(parsed.subject)"
    }
}
