package import ClusterConfig
import Crypto

/// Who may do what on the client and HTTP ports: the `auth` section of `cluster.yaml`.
///
/// Without an `auth` section everyone may do everything. With one, a request needs a known
/// client: a bearer token whose SHA-256 the file lists, or a client certificate from the CA
/// naming a listed client (`urn:rafthost:client:<name>`). The nodes of the cluster, by their
/// own certificates, may send commands and queries (forwarding between nodes), nothing more.
package struct AccessPolicy: Sendable {
    /// The outcome of checking a request's credentials.
    package enum Principal: Sendable, Hashable, CustomStringConvertible {
        /// Authentication is off: every operation is allowed.
        case anyone
        /// A known client or node, acting within `role`.
        case known(name: String, role: ClusterConfiguration.Role)
        /// Credentials are missing or not recognised (HTTP 401).
        case unauthenticated(reason: String)

        package var description: String {
            switch self {
            case .anyone: "anyone"
            case .known(let name, let role): "\(name) (\(role.rawValue))"
            case .unauthenticated(let reason): "unauthenticated: \(reason)"
            }
        }
    }

    /// Whether an operation needing a role may go ahead.
    package enum Decision: Sendable, Hashable {
        case allowed
        /// HTTP 401: who is asking is not known.
        case unauthenticated(String)
        /// HTTP 403: known, but the role does not allow it.
        case forbidden(String)
    }

    private let clients: [ClusterConfiguration.Client]
    private let nodes: Set<String>
    /// Whether requests need credentials.
    package let isEnabled: Bool

    package init(auth: ClusterConfiguration.Auth?, nodes: [String]) {
        self.clients = auth?.clients ?? []
        self.nodes = Set(nodes)
        self.isEnabled = auth != nil
    }

    /// Who presents `token` (an `Authorization: Bearer` value, or the native protocol's) or a
    /// certificate naming `identities`. A token, when given, decides alone.
    package func authenticate(token: String?, identities: [CertificateIdentity]) -> Principal {
        guard isEnabled else { return .anyone }
        if let token {
            let digest = Array(SHA256.hash(data: Array(token.utf8)))
            for client in clients {
                if let expected = client.tokenSHA256, constantTimeEqual(expected, digest) {
                    return .known(name: client.name, role: client.role)
                }
            }
            return .unauthenticated(reason: "unknown bearer token")
        }
        for identity in identities {
            switch identity {
            case .client(let name):
                if let client = clients.first(where: { $0.name == name }) {
                    return .known(name: client.name, role: client.role)
                }
            case .node(let id):
                if nodes.contains(id) { return .known(name: "node \(id)", role: .write) }
            }
        }
        if !identities.isEmpty {
            return .unauthenticated(reason: "the certificate names no configured client")
        }
        return .unauthenticated(reason: "no credentials: send a bearer token or a client certificate")
    }

    /// Whether `principal` may perform an operation that needs `role`.
    package static func decide(_ principal: Principal, needs role: ClusterConfiguration.Role) -> Decision {
        switch principal {
        case .anyone:
            return .allowed
        case .unauthenticated(let reason):
            return .unauthenticated(reason)
        case .known(let name, let granted):
            if granted >= role { return .allowed }
            return .forbidden("\(name) has role \(granted.rawValue); this operation needs \(role.rawValue)")
        }
    }

    /// The first bytes of a command that deploys WebAssembly code to a `WasmFromLog` group
    /// (`WasmFromLog.deployMagic`, kept equal by a test): such a command needs `admin`.
    package static let pluginDeployPrefix: [UInt8] = [0] + Array("RAFTHOST-DEPLOY".utf8)

    /// The role a command with these bytes needs: `admin` for a plugin deploy, else `write`.
    package static func role(forCommand bytes: some Sequence<UInt8>) -> ClusterConfiguration.Role {
        bytes.starts(with: pluginDeployPrefix) ? .admin : .write
    }

    /// The SHA-256 of a token as 64 hex digits: what `auth.clients[].tokenSHA256` holds.
    package static func tokenDigest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices {
            difference |= a[index] ^ b[index]
        }
        return difference == 0
    }
}
