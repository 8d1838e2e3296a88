import ClusterConfig
import Foundation
import Testing

private let tlsSection = """
    tls:
      ca: certs/ca.pem
      clientCertificates: require
      nodes:
        n1: {cert: certs/n1.pem, key: certs/n1-key.pem}

    """

@Suite("tls and auth sections, and the file's encoding")
struct SecurityConfigurationTests {
    @Test("tls paths resolve against the file's directory; caKey defaults beside ca")
    func tls() throws {
        let configuration = try ClusterConfiguration.parse(yaml: minimalYAML + tlsSection, baseDirectory: "/etc/raft")
        let tls = try #require(configuration.tls)
        #expect(tls.caFile == "/etc/raft/certs/ca.pem")
        #expect(tls.caKeyFile == "/etc/raft/certs/ca-key.pem")
        #expect(tls.clientCertificates == .require)
        #expect(tls.nodes["n1"] == .init(certificate: "/etc/raft/certs/n1.pem", key: "/etc/raft/certs/n1-key.pem"))
        #expect(configuration.auth == nil)
    }

    @Test("auth: roles, token hashes, client certificates")
    func auth() throws {
        let digest = String(repeating: "ab", count: 32)
        let yaml =
            minimalYAML + """
                auth:
                  clients:
                    - {name: ops, role: admin, cert: c/ops.pem, key: c/ops-key.pem}
                    - {name: dash, role: read, tokenSHA256: \(digest)}

                """
        let auth = try #require(try ClusterConfiguration.parse(yaml: yaml, baseDirectory: "/x").auth)
        #expect(auth.clients.map(\.name) == ["ops", "dash"])
        #expect(auth.clients[0].role == .admin)
        #expect(auth.clients[0].certificate?.certificate == "/x/c/ops.pem")
        #expect(auth.clients[1].tokenSHA256 == Array(repeating: 0xAB, count: 32))
        #expect(ClusterConfiguration.Role.read < .write && ClusterConfiguration.Role.write < .admin)
    }

    @Test(
        "invalid tls and auth sections name the key, line and column",
        arguments: [
            (
                "tls:\n  ca: ca.pem\n  nodes: {}\n",
                "cluster.yaml:12:10: tls.nodes: node n1 has no certificate; every node needs cert and key"
            ),
            (
                "tls:\n  ca: ca.pem\n  clientCertificates: maybe\n  nodes: {n1: {cert: a, key: b}}\n",
                "cluster.yaml:12:23: tls.clientCertificates: unknown mode 'maybe'; expected none, optional or require"
            ),
            (
                "tls:\n  ca: ca.pem\n  nodes: {n1: {cert: a, key: b}, n9: {cert: a, key: b}}\n",
                "cluster.yaml:12:34: tls.nodes.n9: unknown key; did you mean 'n1'?"
            ),
            (
                "auth:\n  clients:\n    - {name: a, role: root}\n",
                "cluster.yaml:12:23: auth.clients[0].role: unknown role 'root'; expected read, write or admin"
            ),
            (
                "auth:\n  clients:\n    - {name: a, role: read, tokenSHA256: secret}\n",
                "cluster.yaml:12:42: auth.clients[0].tokenSHA256: expected the SHA-256 of the token as 64 hex digits "
                    + "(printf %s TOKEN | sha256sum)"
            ),
        ]
    )
    func invalid(yaml: String, expected: String) {
        #expect(throws: ConfigurationError.self) {
            try ClusterConfiguration.parse(yaml: minimalYAML + yaml)
        }
        do {
            _ = try ClusterConfiguration.parse(yaml: minimalYAML + yaml)
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("a byte that is not UTF-8 is refused with its line and column")
    func notUTF8() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = Array("cluster: dé".utf8)
        bytes.append(0xFF)
        bytes += Array("mo\nnodes: []\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ClusterConfiguration.load(path: path)
            Issue.record("a file with a \\xff byte was accepted")
        } catch {
            #expect(error.code == .syntax)
            #expect(error.line == 1)
            #expect(error.column == 12)
            #expect(error.description.contains("not valid UTF-8"))
        }
    }
}
