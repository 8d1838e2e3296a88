public import RaftCore
import Synchronization

/// Identifies a Raft group on the wire: its position in the configured `groups:` list.
///
/// A small integer keeps raft frames short; the handshake exchanges the group names in order,
/// so two nodes whose lists differ refuse to talk instead of delivering to the wrong group.
public struct GroupID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public static func < (lhs: GroupID, rhs: GroupID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { "g\(rawValue)" }
}

/// Moves Raft messages between the nodes of a cluster, for every group at once.
///
/// Delivery is best effort, as Raft expects: messages may be dropped (full queues, unreachable
/// peers, restarts) but are never corrupted, and messages from one node to another in one group
/// arrive in the order they were sent, or not at all.
public protocol PeerTransport: Sendable {
    /// The node this transport speaks for.
    var localNode: NodeID { get }

    /// Queues `messages` of `group`, each for its `to` node, and returns at once.
    ///
    /// Never waits for a peer: when a peer's queue is full its oldest messages are dropped and
    /// counted. Messages to `localNode` are delivered to the local inbox.
    func send(_ messages: [Message], group: GroupID)

    /// The messages that arrive for `group`, from any peer.
    ///
    /// The stream buffers a bounded number of messages and drops the oldest (counted in
    /// `statistics()`) when its consumer falls behind. Asking again for the same group finishes
    /// the previous stream. Messages for a group without an inbox are dropped and counted. All
    /// streams finish when the transport shuts down.
    func inbox(for group: GroupID) -> AsyncStream<Message>

    /// Counters since the transport was created.
    func statistics() -> TransportStatistics

    /// Sends a liveness ping (node-level, not per group) to every peer with a known address.
    /// The driver calls it once per heartbeat; quiescent groups rely on it to notice a node that
    /// stopped answering.
    func pingPeers()

    /// When a liveness ping last arrived from each peer (peers never heard from are absent).
    func lastPings() -> [NodeID: ContinuousClock.Instant]
}

/// What a transport has done so far, for metrics and tests.
public struct TransportStatistics: Sendable, Hashable {
    /// Messages handed to the network (written to a connection or to the in-process hub).
    public var messagesSent: UInt64 = 0
    /// Messages delivered to an inbox.
    public var messagesReceived: UInt64 = 0
    /// Outbound messages dropped: queue overflow, no known address, or too large to frame.
    public var outboundDropped: UInt64 = 0
    /// Inbound messages dropped: inbox full or missing, or misaddressed.
    public var inboundDropped: UInt64 = 0
    /// Connections closed because the peer broke the protocol (bad frame or handshake).
    public var protocolErrors: UInt64 = 0
    /// Outbound drops per destination node.
    public var outboundDroppedByPeer: [NodeID: UInt64] = [:]

    public init() {}
}

/// The per-group inboxes and counters shared by every transport implementation.
final class InboxRegistry: Sendable {
    private struct State {
        var inboxes: [GroupID: AsyncStream<Message>.Continuation] = [:]
        var closed = false
        var statistics = TransportStatistics()
        var lastPings: [NodeID: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "inbox capacity must be positive")
        self.capacity = capacity
    }

    func inbox(for group: GroupID) -> AsyncStream<Message> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: Message.self,
            bufferingPolicy: .bufferingNewest(capacity)
        )
        let (previous, closed) = state.withLock { state -> (AsyncStream<Message>.Continuation?, Bool) in
            guard !state.closed else { return (nil, true) }
            defer { state.inboxes[group] = continuation }
            return (state.inboxes[group], false)
        }
        previous?.finish()
        if closed {
            continuation.finish()
        }
        return stream
    }

    /// Hands `message` to the group's inbox; returns false (and counts) when it was dropped.
    @discardableResult
    func deliver(_ message: Message, group: GroupID) -> Bool {
        // Yielding under the lock keeps the stream's order equal to the order of deliveries.
        state.withLock { state in
            guard let continuation = state.inboxes[group] else {
                state.statistics.inboundDropped += 1
                return false
            }
            switch continuation.yield(message) {
            case .enqueued:
                state.statistics.messagesReceived += 1
                return true
            case .dropped:
                // The oldest buffered message made room for this one.
                state.statistics.messagesReceived += 1
                state.statistics.inboundDropped += 1
                return true
            case .terminated:
                state.statistics.inboundDropped += 1
                return false
            @unknown default:
                state.statistics.inboundDropped += 1
                return false
            }
        }
    }

    func update(_ body: (inout TransportStatistics) -> Void) {
        state.withLock { body(&$0.statistics) }
    }

    func statistics() -> TransportStatistics {
        state.withLock { $0.statistics }
    }

    func recordPing(from peer: NodeID) {
        let now = ContinuousClock.now
        state.withLock { $0.lastPings[peer] = now }
    }

    func lastPings() -> [NodeID: ContinuousClock.Instant] {
        state.withLock { $0.lastPings }
    }

    /// Finishes every inbox; later `inbox(for:)` calls return finished streams.
    func close() {
        let continuations = state.withLock { state in
            state.closed = true
            defer { state.inboxes = [:] }
            return Array(state.inboxes.values)
        }
        for continuation in continuations {
            continuation.finish()
        }
    }
}
