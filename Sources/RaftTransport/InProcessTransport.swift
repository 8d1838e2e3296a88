public import RaftCore
import Synchronization

/// Connects the nodes of whole clusters inside one process, without sockets.
///
/// Every message goes through the same protocol as on TCP: each ordered pair of nodes runs the
/// handshake through the codec the first time it talks, and each message is encoded into a raft
/// frame and decoded again on the receiving side. Delivery is synchronous, so messages between
/// two nodes keep their order. Tests can cut links and isolate nodes, and heal them.
public final class InProcessTransportHub: Sendable {
    private struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    private struct State {
        var nodes: [NodeID: InboxRegistry] = [:]
        /// The acceptor side of each ordered pair that has completed its handshake.
        var connections: [Link: PeerConnectionStateMachine] = [:]
        var cut: Set<Link> = []
    }

    private let state = Mutex(State())
    private let codec: FrameCodec
    private let clusterName: String
    private let groups: [String]
    private let inboxCapacity: Int

    /// - Parameters:
    ///   - clusterName: presented in every handshake.
    ///   - groups: the group names in configuration order; `GroupID(i)` is `groups[i]`.
    ///   - maxFrameSize: messages whose frame exceeds it are dropped, as on TCP.
    ///   - inboxCapacity: messages each group inbox buffers before dropping the oldest.
    public init(
        clusterName: String = "in-process",
        groups: [String],
        maxFrameSize: Int = 16 << 20,
        inboxCapacity: Int = 4096
    ) {
        self.clusterName = clusterName
        self.groups = groups
        self.codec = FrameCodec(maxFrameSize: maxFrameSize)
        self.inboxCapacity = inboxCapacity
    }

    /// Creates the transport of `node` and attaches it to the hub (replacing an earlier one,
    /// as a restarted process would).
    public func makeTransport(for node: NodeID) -> InProcessTransport {
        let registry = InboxRegistry(capacity: inboxCapacity)
        let previous = state.withLock { state in
            defer {
                state.nodes[node] = registry
                state.connections = state.connections.filter { $0.key.from != node && $0.key.to != node }
            }
            return state.nodes[node]
        }
        previous?.close()
        return InProcessTransport(node: node, hub: self, registry: registry)
    }

    /// Stops all traffic between `a` and `b`, both ways, until `heal()` or `reconnect`.
    public func disconnect(_ a: NodeID, _ b: NodeID) {
        state.withLock { state in
            for link in [Link(from: a, to: b), Link(from: b, to: a)] {
                state.cut.insert(link)
                state.connections[link] = nil
            }
        }
    }

    /// Restores traffic between `a` and `b`.
    public func reconnect(_ a: NodeID, _ b: NodeID) {
        state.withLock { state in
            state.cut.remove(Link(from: a, to: b))
            state.cut.remove(Link(from: b, to: a))
        }
    }

    /// Cuts `node` off from every other attached node.
    public func isolate(_ node: NodeID) {
        let others = state.withLock { Array($0.nodes.keys) }
        for other in others where other != node {
            disconnect(node, other)
        }
    }

    /// Restores every cut link.
    public func heal() {
        state.withLock { $0.cut = [] }
    }

    fileprivate func detach(_ node: NodeID, registry: InboxRegistry) {
        state.withLock { state in
            guard state.nodes[node] === registry else { return }
            state.nodes[node] = nil
            state.connections = state.connections.filter { $0.key.from != node && $0.key.to != node }
        }
        registry.close()
    }

    /// Carries `messages` from `sender` (whose counters are `senderRegistry`) through the codec.
    fileprivate func route(_ messages: [Message], group: GroupID, from sender: NodeID, senderRegistry: InboxRegistry) {
        var sent: UInt64 = 0
        var dropped: [NodeID: UInt64] = [:]
        for message in messages {
            if message.to == sender {
                senderRegistry.deliver(message, group: group)
                continue
            }
            let frameBytes: [UInt8]
            do {
                frameBytes = try codec.encode(.raft(group: group, message: message))
            } catch {
                dropped[message.to, default: 0] += 1
                continue
            }
            if transfer(frameBytes, from: sender, to: message.to) {
                sent += 1
            } else {
                dropped[message.to, default: 0] += 1
            }
        }
        senderRegistry.update { statistics in
            statistics.messagesSent += sent
            for (peer, count) in dropped {
                statistics.outboundDropped += count
                statistics.outboundDroppedByPeer[peer, default: 0] += count
            }
        }
    }

    /// Delivers one encoded raft frame; false when the link is down or the receiver is gone.
    fileprivate func ping(from sender: NodeID) {
        guard let ping = try? codec.encode(.ping) else { return }
        let peers = state.withLock { $0.nodes.keys.filter { $0 != sender } }
        for peer in peers {
            _ = transfer(ping, from: sender, to: peer)
        }
    }

    private func transfer(_ frameBytes: [UInt8], from sender: NodeID, to receiver: NodeID) -> Bool {
        let link = Link(from: sender, to: receiver)
        return state.withLock { state in
            guard !state.cut.contains(link), let registry = state.nodes[receiver] else { return false }
            var connection: PeerConnectionStateMachine
            if let established = state.connections[link] {
                connection = established
            } else {
                guard let handshaken = handshake(link, knownPeers: Set(state.nodes.keys)) else {
                    registry.update { $0.protocolErrors += 1 }
                    return false
                }
                connection = handshaken
            }
            let action: PeerConnectionStateMachine.Action
            do throws(WireError) {
                action = connection.received(try codec.decode(frameBytes))
            } catch {
                action = connection.decodingFailed(error)
            }
            switch action {
            case .deliver(let group, let message):
                state.connections[link] = connection
                return registry.deliver(message, group: group)
            case .heard(let peer):
                state.connections[link] = connection
                registry.recordPing(from: peer)
                return true
            case .drop:
                state.connections[link] = connection
                registry.update { $0.inboundDropped += 1 }
                return false
            case .close, .reject, .write, .accept, .established, .none:
                state.connections[link] = nil
                registry.update { $0.protocolErrors += 1 }
                return false
            }
        }
    }

    /// Runs the handshake of `link` through the codec; the acceptor's machine when it succeeds.
    private func handshake(_ link: Link, knownPeers: Set<NodeID>) -> PeerConnectionStateMachine? {
        var initiator = PeerConnectionStateMachine.initiator(
            identity: .init(clusterName: clusterName, node: link.from, groups: groups),
            peer: link.to
        )
        var acceptor = PeerConnectionStateMachine.acceptor(
            identity: .init(clusterName: clusterName, node: link.to, groups: groups),
            knownPeers: knownPeers
        )
        guard case .write(let hello) = initiator.start(),
            let helloBytes = try? codec.encode(hello),
            let decodedHello = try? codec.decode(helloBytes),
            case .accept(_, let reply) = acceptor.received(decodedHello),
            let replyBytes = try? codec.encode(reply),
            let decodedReply = try? codec.decode(replyBytes),
            case .established = initiator.received(decodedReply)
        else {
            return nil
        }
        return acceptor
    }
}

/// One node's endpoint on an `InProcessTransportHub`.
public final class InProcessTransport: PeerTransport {
    public let localNode: NodeID
    private let hub: InProcessTransportHub
    private let registry: InboxRegistry

    fileprivate init(node: NodeID, hub: InProcessTransportHub, registry: InboxRegistry) {
        self.localNode = node
        self.hub = hub
        self.registry = registry
    }

    public func send(_ messages: [Message], group: GroupID) {
        hub.route(messages, group: group, from: localNode, senderRegistry: registry)
    }

    public func inbox(for group: GroupID) -> AsyncStream<Message> {
        registry.inbox(for: group)
    }

    public func statistics() -> TransportStatistics {
        registry.statistics()
    }

    public func pingPeers() {
        hub.ping(from: localNode)
    }

    public func lastPings() -> [NodeID: ContinuousClock.Instant] {
        registry.lastPings()
    }

    /// Detaches from the hub (as if the process stopped) and finishes every inbox.
    public func shutdown() {
        hub.detach(localNode, registry: registry)
    }
}
