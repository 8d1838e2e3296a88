import ClusterConfig
import NIOCore
import NIOHTTP1
import RaftSecurity

/// Authentication and roles on the HTTP port (`auth` in `cluster.yaml`), in front of the API.
///
/// A request is made by the client its `Authorization: Bearer <token>` names, or else by the
/// client its TLS certificate names. What it needs:
/// - `admin`: any path with a `members`, `leader`, `transfer`, `snapshot` or `plugins`
///   segment (membership, leadership transfer, snapshots, plugins), and a command that deploys
///   WebAssembly code to a `WasmFromLog` group (`raftctl plugin deploy`);
/// - `read`: `GET` and `HEAD`, and `POST .../query`;
/// - `write`: everything else (commands: `PUT`, `POST`, `DELETE`).
///
/// Unknown or missing credentials are answered 401, a role that does not suffice 403, both
/// with a JSON `{"error": "..."}`.
struct HTTPAccess: Sendable {
    let policy: AccessPolicy

    static let adminSegments: Set<String> = ["members", "leader", "transfer", "snapshot", "snapshots", "plugins"]

    /// The role a request needs.
    static func requiredRole(method: HTTPMethod, uri: String, body: ByteBuffer) -> ClusterConfiguration.Role {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let segments = path.split(separator: "/").map(String.init)
        if segments.contains(where: adminSegments.contains) { return .admin }
        switch method {
        case .GET, .HEAD: return .read
        case .POST where segments.last == "query": return .read
        case .POST where segments.last == "command": return AccessPolicy.role(forCommand: body.readableBytesView)
        default: return .write
        }
    }

    /// `nil` when the request may go on, otherwise the 401 or 403 answer.
    func refusal(_ request: HTTPRequest) -> HTTPAnswer? {
        guard policy.isEnabled else { return nil }
        var token: String?
        if let authorization = request.headers.first(name: "authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return .error(.unauthorized, "the Authorization header must be 'Bearer <token>'")
            }
            token = String(parts[1]).trimmingSpaces()
        }
        let principal = policy.authenticate(token: token, identities: request.identities)
        switch AccessPolicy.decide(principal, needs: Self.requiredRole(method: request.method, uri: request.uri, body: request.body)) {
        case .allowed: return nil
        case .unauthenticated(let reason): return .error(.unauthorized, reason)
        case .forbidden(let reason): return .error(.forbidden, reason)
        }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
