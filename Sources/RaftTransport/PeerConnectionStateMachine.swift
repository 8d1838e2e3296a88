package import RaftCore

/// The protocol of one peer connection: the handshake, then raft frames one way.
///
/// A value type fed events (frames, decoding errors, a timeout) that returns the `Action` the
/// connection handler performs, so every rule of the handshake is testable without sockets.
/// The initiator writes a handshake; the acceptor checks it and answers accept or reject; after
/// that only the initiator sends (raft frames), and each direction of a peer pair has its own
/// connection.
package struct PeerConnectionStateMachine: Sendable {
    /// Who this node is, as the handshake presents and checks it.
    package struct Identity: Sendable, Hashable {
        package var clusterName: String
        package var node: NodeID
        package var groups: [String]

        package init(clusterName: String, node: NodeID, groups: [String]) {
            self.clusterName = clusterName
            self.node = node
            self.groups = groups
        }
    }

    package enum Action: Sendable, Hashable {
        /// Write this frame (the initiator's handshake).
        case write(Frame)
        /// The handshake succeeded: the acceptor writes `reply`; from now on frames come from `peer`.
        case accept(peer: NodeID, reply: Frame)
        /// The initiator's handshake was accepted: raft frames may now be written.
        case established(peer: NodeID)
        /// Write `reply` (a reject), then close the connection; log `reason`.
        case reject(reply: Frame, reason: String)
        /// Close the connection at once; log `reason` (a protocol error unless noted by the caller).
        case close(reason: String)
        /// Hand the message to the group's inbox.
        case deliver(group: GroupID, message: Message)
        /// A liveness ping arrived from the peer: record that it is alive.
        case heard(peer: NodeID)
        /// Drop this message (counted), keep the connection.
        case drop(reason: String)
        /// Nothing to do.
        case none
    }

    private enum State: Sendable {
        case acceptorAwaitingHandshake(knownPeers: Set<NodeID>)
        case initiatorIdle(peer: NodeID)
        case initiatorAwaitingAccept(peer: NodeID)
        case acceptorEstablished(peer: NodeID)
        case initiatorEstablished(peer: NodeID)
        case closed
    }

    private let identity: Identity
    private var state: State

    /// The side that accepted the TCP connection; `knownPeers` are the node ids it talks to.
    package static func acceptor(identity: Identity, knownPeers: Set<NodeID>) -> Self {
        Self(identity: identity, state: .acceptorAwaitingHandshake(knownPeers: knownPeers))
    }

    /// The side that dialled `peer`. Call `start()` once connected.
    package static func initiator(identity: Identity, peer: NodeID) -> Self {
        Self(identity: identity, state: .initiatorIdle(peer: peer))
    }

    private init(identity: Identity, state: State) {
        self.identity = identity
        self.state = state
    }

    /// The peer, once the handshake has succeeded.
    package var establishedPeer: NodeID? {
        switch state {
        case .acceptorEstablished(let peer), .initiatorEstablished(let peer): peer
        case .acceptorAwaitingHandshake, .initiatorIdle, .initiatorAwaitingAccept, .closed: nil
        }
    }

    /// The connection is up: the initiator sends its handshake.
    package mutating func start() -> Action {
        guard case .initiatorIdle(let peer) = state else { return .none }
        state = .initiatorAwaitingAccept(peer: peer)
        return .write(
            .handshake(
                Handshake(
                    clusterName: identity.clusterName,
                    sender: identity.node,
                    receiver: peer,
                    groups: identity.groups
                )
            )
        )
    }

    /// A frame arrived.
    package mutating func received(_ frame: Frame) -> Action {
        switch state {
        case .acceptorAwaitingHandshake(let knownPeers):
            guard case .handshake(let handshake) = frame else {
                return close("expected a handshake, got a \(frame.kindName) frame")
            }
            if let reason = rejection(of: handshake, knownPeers: knownPeers) {
                state = .closed
                return .reject(reply: .handshakeReject(reason: reason), reason: reason)
            }
            state = .acceptorEstablished(peer: handshake.sender)
            return .accept(
                peer: handshake.sender,
                reply: .handshakeAccept(protocolVersion: FrameCodec.protocolVersion, node: identity.node)
            )

        case .initiatorAwaitingAccept(let peer):
            switch frame {
            case .handshakeAccept(let version, let node):
                guard version == FrameCodec.protocolVersion else {
                    return close(
                        "peer accepted with protocol version \(version), this node speaks \(FrameCodec.protocolVersion)"
                    )
                }
                guard node == peer else {
                    return close("dialled \(peer) but \(node) answered")
                }
                state = .initiatorEstablished(peer: peer)
                return .established(peer: peer)
            case .handshakeReject(let reason):
                return close("rejected by \(peer): \(reason)")
            default:
                return close("expected a handshake answer, got a \(frame.kindName) frame")
            }

        case .acceptorEstablished(let peer):
            if case .ping = frame { return .heard(peer: peer) }
            guard case .raft(let group, let message) = frame else {
                return close("expected raft frames, got a \(frame.kindName) frame")
            }
            guard group.rawValue < identity.groups.count else {
                return close("raft frame for unknown group \(group)")
            }
            guard message.from == peer, message.to == identity.node else {
                return .drop(reason: "message \(message.from) -> \(message.to) on the connection from \(peer)")
            }
            return .deliver(group: group, message: message)

        case .initiatorEstablished:
            return close("peer sent a \(frame.kindName) frame on a send-only connection")

        case .initiatorIdle:
            return close("frame before the connection started")

        case .closed:
            return .none
        }
    }

    /// The bytes did not decode; the connection cannot be resynchronised.
    package mutating func decodingFailed(_ error: WireError) -> Action {
        if case .closed = state { return .none }
        return close("malformed frame: \(error)")
    }

    /// The handshake deadline passed.
    package mutating func timedOut() -> Action {
        switch state {
        case .acceptorAwaitingHandshake, .initiatorIdle, .initiatorAwaitingAccept:
            return close("handshake timed out")
        case .acceptorEstablished, .initiatorEstablished, .closed:
            return .none
        }
    }

    private mutating func close(_ reason: String) -> Action {
        state = .closed
        return .close(reason: reason)
    }

    private func rejection(of handshake: Handshake, knownPeers: Set<NodeID>) -> String? {
        if handshake.protocolVersion != FrameCodec.protocolVersion {
            return "protocol version \(handshake.protocolVersion) is not supported (this node speaks "
                + "\(FrameCodec.protocolVersion))"
        }
        if handshake.clusterName != identity.clusterName {
            return "node \(handshake.sender) belongs to cluster \"\(handshake.clusterName)\", "
                + "this is \"\(identity.clusterName)\""
        }
        if handshake.receiver != identity.node {
            return "handshake is for \(handshake.receiver), this is \(identity.node)"
        }
        if handshake.sender == identity.node || !knownPeers.contains(handshake.sender) {
            return "unknown node \(handshake.sender)"
        }
        if handshake.groups != identity.groups {
            return "group lists differ: peer has \(handshake.groups), this node has \(identity.groups)"
        }
        return nil
    }
}

extension Frame {
    /// A short name for log lines.
    package var kindName: String {
        switch self {
        case .handshake: "handshake"
        case .handshakeAccept: "handshake-accept"
        case .handshakeReject: "handshake-reject"
        case .raft: "raft"
        case .ping: "ping"
        case .clientRequest: "client-request"
        case .clientResponse: "client-response"
        case .clientCredentials: "client-credentials"
        }
    }
}
