import ClusterConfig
import Foundation
import Logging
import RaftCore
import RaftSecurity
import Testing

@testable import RaftTransport

/// Certificates for nodes 1...3 (`n1`...`n3`) from one development CA, in a temporary directory.
private struct PeerCertificates {
    let directory: String
    let ca: DevelopmentCA

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rafthost-peer-tls-\(UUID().uuidString)").path
        ca = try DevelopmentCA.create(commonName: "peer test CA")
        try ca.write(certificate: "\(directory)/ca.pem", key: "\(directory)/ca-key.pem")
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes a certificate for `identity` from `issuer` (this CA by default) and returns the
    /// TLS material of `node` that presents it.
    func material(
        for node: String,
        presenting identity: CertificateIdentity,
        issuer: DevelopmentCA? = nil,
        notAfter: Date? = nil
    ) throws -> NodeTLS {
        let issued = try (issuer ?? ca).issue(
            identity,
            hosts: ["127.0.0.1"],
            notBefore: notAfter.map { $0.addingTimeInterval(-86400) },
            notAfter: notAfter
        )
        let name = "\(node)-as-\(identity.uri.split(separator: ":").last ?? "x")-\(UUID().uuidString)"
        let files = ClusterConfiguration.CertificateFiles(
            certificate: "\(directory)/\(name).pem",
            key: "\(directory)/\(name)-key.pem"
        )
        try DevelopmentCA.write(
            certificate: issued.certificate,
            key: issued.key,
            certificatePath: files.certificate,
            keyPath: files.key
        )
        let section = ClusterConfiguration.TLS(
            caFile: "\(directory)/ca.pem",
            caKeyFile: "\(directory)/ca-key.pem",
            nodes: [node: files]
        )
        return try NodeTLS(configuration: section, node: node)
    }
}

private let nodeNames: [NodeID: String] = [NodeID(1): "n1", NodeID(2): "n2", NodeID(3): "n3"]

private func makeTransport(node: UInt64, tls: NodeTLS, recorder: LogRecorder) -> NIOPeerTransport {
    var configuration = NIOPeerTransportConfiguration(
        clusterName: "test",
        localNode: NodeID(node),
        groups: ["kv"],
        listenAddress: PeerAddress(host: "127.0.0.1", port: 0)
    )
    configuration.reconnectBackoff.initial = .milliseconds(10)
    configuration.reconnectBackoff.maximum = .milliseconds(200)
    configuration.tls = PeerTLS(contexts: tls, nodeNames: nodeNames)
    return NIOPeerTransport(configuration: configuration, logger: recorder.logger(label: "n\(node)"))
}

/// Starts node 2 with its own certificate and node 1 with `dialer`'s, points node 1 at node 2,
/// runs `body`, and stops both.
private func withPair(
    dialer: NodeTLS,
    certificates: PeerCertificates,
    recorder: LogRecorder,
    _ body: (NIOPeerTransport, NIOPeerTransport) async throws -> Void
) async throws {
    let acceptor = makeTransport(node: 2, tls: try certificates.material(for: "n2", presenting: .node("n2")), recorder: recorder)
    let initiator = makeTransport(node: 1, tls: dialer, recorder: recorder)
    do {
        let address = try await acceptor.start()
        acceptor.setPeerAddress(try await initiator.start(), for: NodeID(1))
        initiator.setPeerAddress(address, for: NodeID(2))
        try await body(initiator, acceptor)
    } catch {
        await initiator.shutdown()
        await acceptor.shutdown()
        throw error
    }
    await initiator.shutdown()
    await acceptor.shutdown()
}

@Suite("Peer mutual TLS", .timeLimit(.minutes(1)))
struct PeerTLSTests {
    @Test("peers with certificates naming their node ids exchange messages over mutual TLS")
    func mutualTLS() async throws {
        let certificates = try PeerCertificates()
        defer { certificates.cleanUp() }
        let recorder = LogRecorder()
        let dialer = try certificates.material(for: "n1", presenting: .node("n1"))
        try await withPair(dialer: dialer, certificates: certificates, recorder: recorder) { initiator, acceptor in
            let inbox = acceptor.inbox(for: GroupID(0))
            initiator.send([ping(from: 1, to: 2)], group: GroupID(0))
            var iterator = inbox.makeAsyncIterator()
            let received = await iterator.next()
            #expect(received == ping(from: 1, to: 2))
        }
    }

    /// A valid certificate of the CA that names another node, or a client, is refused by the
    /// acceptor, which logs why.
    @Test(
        "a peer whose certificate names another identity than the node it claims is refused and logged",
        arguments: [CertificateIdentity.node("n3"), .client("n1")]
    )
    func wrongIdentity(_ presented: CertificateIdentity) async throws {
        let certificates = try PeerCertificates()
        defer { certificates.cleanUp() }
        let recorder = LogRecorder()
        let dialer = try certificates.material(for: "n1", presenting: presented)
        try await withPair(dialer: dialer, certificates: certificates, recorder: recorder) { _, _ in
            let refusal = await recorder.first {
                $0.message.hasPrefix("Refused peer: its certificate does not name")
            }
            let reason = "\(refusal.metadata["reason"] ?? "")"
            #expect(reason.contains("\(presented)"))
            #expect(reason.contains("not node n1"))
            #expect(recorder.count { $0.message == "Peer connected" && $0.metadata["raft.peer"] == "n1" } == 0)
        }
    }

    @Test("an expired certificate is refused in the TLS handshake, and logged")
    func expiredCertificate() async throws {
        let certificates = try PeerCertificates()
        defer { certificates.cleanUp() }
        let recorder = LogRecorder()
        let dialer = try certificates.material(
            for: "n1",
            presenting: .node("n1"),
            notAfter: Date().addingTimeInterval(-3600)
        )
        try await withPair(dialer: dialer, certificates: certificates, recorder: recorder) { _, _ in
            _ = await recorder.first { $0.message == "Refused peer: TLS handshake failed" }
            #expect(recorder.count { $0.message == "Peer connected" && $0.metadata["raft.peer"] == "n1" } == 0)
        }
    }

    @Test("a certificate from another CA is refused in the TLS handshake, and logged")
    func otherAuthority() async throws {
        let certificates = try PeerCertificates()
        defer { certificates.cleanUp() }
        let recorder = LogRecorder()
        let stranger = try DevelopmentCA.create(commonName: "another CA")
        let dialer = try certificates.material(for: "n1", presenting: .node("n1"), issuer: stranger)
        try await withPair(dialer: dialer, certificates: certificates, recorder: recorder) { _, _ in
            _ = await recorder.first { $0.message == "Refused peer: TLS handshake failed" }
            #expect(recorder.count { $0.message == "Peer connected" && $0.metadata["raft.peer"] == "n1" } == 0)
        }
    }
}
