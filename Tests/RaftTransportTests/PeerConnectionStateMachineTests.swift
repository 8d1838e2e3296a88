import RaftCore
import Testing

@testable import RaftTransport

@Suite("Peer connection state machine")
struct PeerConnectionStateMachineTests {
    typealias Machine = PeerConnectionStateMachine

    let codec = FrameCodec()
    let serverIdentity = Machine.Identity(clusterName: "prod", node: NodeID(2), groups: ["kv", "q"])

    private func acceptor() -> Machine {
        .acceptor(identity: serverIdentity, knownPeers: [NodeID(1), NodeID(3)])
    }

    /// Passes a frame through the codec, as the wire would.
    private func wire(_ frame: Frame) throws -> Frame {
        try codec.decode(try codec.encode(frame))
    }

    @Test("a matching handshake is accepted and both sides are established")
    func success() throws {
        var client = Machine.initiator(
            identity: .init(clusterName: "prod", node: NodeID(1), groups: ["kv", "q"]),
            peer: NodeID(2)
        )
        var server = acceptor()
        guard case .write(let hello) = client.start() else {
            Issue.record("initiator did not write a handshake")
            return
        }
        guard case .accept(let peer, let reply) = server.received(try wire(hello)) else {
            Issue.record("acceptor did not accept")
            return
        }
        #expect(peer == NodeID(1))
        #expect(client.received(try wire(reply)) == .established(peer: NodeID(2)))
        #expect(client.establishedPeer == NodeID(2))
        #expect(server.establishedPeer == NodeID(1))

        let heartbeat = message(.heartbeat(Heartbeat(commit: 1, readRound: 0)), from: 1, to: 2)
        #expect(
            server.received(.raft(group: GroupID(1), message: heartbeat))
                == .deliver(group: GroupID(1), message: heartbeat)
        )
    }

    @Test(
        "a bad handshake is rejected with a reason",
        arguments: [
            (
                Handshake(clusterName: "staging", sender: NodeID(1), receiver: NodeID(2), groups: ["kv", "q"]),
                "cluster"
            ),
            (
                Handshake(clusterName: "prod", sender: NodeID(9), receiver: NodeID(2), groups: ["kv", "q"]),
                "unknown node"
            ),
            (
                Handshake(
                    protocolVersion: 99,
                    clusterName: "prod",
                    sender: NodeID(1),
                    receiver: NodeID(2),
                    groups: ["kv", "q"]
                ),
                "protocol version"
            ),
            (Handshake(clusterName: "prod", sender: NodeID(1), receiver: NodeID(3), groups: ["kv", "q"]), "is for n3"),
            (
                Handshake(clusterName: "prod", sender: NodeID(2), receiver: NodeID(2), groups: ["kv", "q"]),
                "unknown node"
            ),
            (
                Handshake(clusterName: "prod", sender: NodeID(1), receiver: NodeID(2), groups: ["q", "kv"]),
                "group lists"
            ),
        ]
    )
    func rejections(handshake: Handshake, expected: String) throws {
        var server = acceptor()
        guard case .reject(let reply, let reason) = server.received(try wire(.handshake(handshake))) else {
            Issue.record("handshake was not rejected")
            return
        }
        #expect(reason.contains(expected))
        #expect(reply == .handshakeReject(reason: reason))
        #expect(server.establishedPeer == nil)
        // Once rejected, nothing more is delivered.
        #expect(server.received(.raft(group: GroupID(0), message: ping())) == .none)
    }

    @Test("the initiator closes on a reject, a wrong node or a wrong version")
    func initiatorFailures() {
        let identity = Machine.Identity(clusterName: "prod", node: NodeID(1), groups: [])
        let replies: [(Frame, String)] = [
            (.handshakeReject(reason: "unknown node n1"), "rejected by n2: unknown node n1"),
            (.handshakeAccept(protocolVersion: FrameCodec.protocolVersion, node: NodeID(5)), "n5 answered"),
            (.handshakeAccept(protocolVersion: 7, node: NodeID(2)), "protocol version 7"),
            (.clientResponse(id: 1, payload: []), "client-response"),
        ]
        for (reply, expected) in replies {
            var client = Machine.initiator(identity: identity, peer: NodeID(2))
            _ = client.start()
            guard case .close(let reason) = client.received(reply) else {
                Issue.record("initiator accepted \(reply)")
                continue
            }
            #expect(reason.contains(expected))
        }
    }

    @Test("frames out of order close the connection")
    func protocolViolations() {
        var server = acceptor()
        guard case .close(let reason) = server.received(.raft(group: GroupID(0), message: ping())) else {
            Issue.record("raft frame before handshake was accepted")
            return
        }
        #expect(reason.contains("expected a handshake"))

        var established = acceptor()
        _ = established.received(
            .handshake(Handshake(clusterName: "prod", sender: NodeID(1), receiver: NodeID(2), groups: ["kv", "q"]))
        )
        guard case .close = established.received(.raft(group: GroupID(2), message: ping())) else {
            Issue.record("unknown group was accepted")
            return
        }

        var client = Machine.initiator(identity: serverIdentity, peer: NodeID(1))
        _ = client.start()
        _ = client.received(.handshakeAccept(protocolVersion: FrameCodec.protocolVersion, node: NodeID(1)))
        guard case .close = client.received(.raft(group: GroupID(0), message: ping())) else {
            Issue.record("send-only connection accepted a frame")
            return
        }
    }

    @Test("misaddressed messages are dropped, the connection stays")
    func misaddressed() {
        var server = acceptor()
        _ = server.received(
            .handshake(Handshake(clusterName: "prod", sender: NodeID(1), receiver: NodeID(2), groups: ["kv", "q"]))
        )
        guard case .drop = server.received(.raft(group: GroupID(0), message: ping(from: 3, to: 2)))
        else {
            Issue.record("spoofed sender was delivered")
            return
        }
        guard case .drop = server.received(.raft(group: GroupID(0), message: ping(from: 1, to: 3)))
        else {
            Issue.record("message for another node was delivered")
            return
        }
        let good = ping(from: 1, to: 2)
        #expect(server.received(.raft(group: GroupID(0), message: good)) == .deliver(group: GroupID(0), message: good))
    }

    @Test("a decoding error closes with the error as the reason")
    func decodingFailure() {
        var server = acceptor()
        let error = WireError(.oversized, "frame length 99 exceeds the limit of 10", offset: 0)
        guard case .close(let reason) = server.decodingFailed(error) else {
            Issue.record("decoding error did not close")
            return
        }
        #expect(reason.contains("oversized"))
        #expect(server.decodingFailed(error) == .none)
    }
}
