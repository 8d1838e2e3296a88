import ClusterConfig
import RaftSecurity
import Testing
import WasmPlugins

@Suite("Access policy")
struct AccessPolicyTests {
    @Test("a plugin deploy needs admin: the prefix the policy knows is WasmFromLog's deploy magic")
    func deployPrefix() {
        #expect(AccessPolicy.pluginDeployPrefix == WasmFromLog.deployMagic)
        let deploy = WasmFromLog.deployCommand(module: [1, 2, 3], fuel: 10, memoryBytes: 65536)
        #expect(AccessPolicy.role(forCommand: deploy) == .admin)
        #expect(AccessPolicy.role(forCommand: [0, 1, 2]) == .write)
    }

    @Test("tokens and certificates name clients; nodes may write; without auth anyone may do anything")
    func principals() {
        let auth = ClusterConfiguration.Auth(clients: [
            .init(name: "reader", role: .read, tokenSHA256: digest("r")),
            .init(name: "ops", role: .admin),
        ])
        let policy = AccessPolicy(auth: auth, nodes: ["n1"])
        #expect(policy.authenticate(token: "r", identities: []) == .known(name: "reader", role: .read))
        #expect(policy.authenticate(token: nil, identities: [.client("ops")]) == .known(name: "ops", role: .admin))
        #expect(policy.authenticate(token: nil, identities: [.node("n1")]) == .known(name: "node n1", role: .write))
        guard case .unauthenticated = policy.authenticate(token: "x", identities: [.client("ops")]) else {
            Issue.record("a wrong token is not outweighed by a certificate")
            return
        }
        guard case .unauthenticated = policy.authenticate(token: nil, identities: [.node("n9")]) else {
            Issue.record("a node of another cluster is unknown")
            return
        }
        #expect(AccessPolicy.decide(.known(name: "reader", role: .read), needs: .write) != .allowed)
        #expect(AccessPolicy.decide(.known(name: "ops", role: .admin), needs: .write) == .allowed)
        let open = AccessPolicy(auth: nil, nodes: [])
        #expect(AccessPolicy.decide(open.authenticate(token: nil, identities: []), needs: .admin) == .allowed)
    }

    private func digest(_ token: String) -> [UInt8] {
        let hex = Array(AccessPolicy.tokenDigest(token).utf8)
        return stride(from: 0, to: hex.count, by: 2).map {
            UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16) ?? 0
        }
    }
}
