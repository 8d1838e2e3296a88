import RaftCore
import RaftTransport
import Synchronization

/// Node-level liveness: once per heartbeat the node pings every peer node (one small frame per
/// node pair, whatever the number of groups) and compares who answered lately with the last
/// check. A change goes to every group (``GroupExecutor/livenessChanged(alive:)``): quiescent
/// groups send no heartbeats of their own, so they learn this way that a leader's node stopped
/// answering.
final class PeerLiveness: Sendable {
    private let transport: any PeerTransport
    /// A peer whose last ping is older than this counts as stopped.
    private let timeout: Duration
    private let alive = Mutex<Set<NodeID>>([])
    private let changed: @Sendable (_ alive: Set<NodeID>, _ stopped: Set<NodeID>, _ started: Set<NodeID>) -> Void

    init(
        transport: any PeerTransport,
        timeout: Duration,
        changed: @escaping @Sendable (_ alive: Set<NodeID>, _ stopped: Set<NodeID>, _ started: Set<NodeID>) -> Void
    ) {
        self.transport = transport
        self.timeout = timeout
        self.changed = changed
    }

    /// Pings every peer, then reports the peers that stopped or started answering.
    func check(now: ContinuousClock.Instant = .now) {
        transport.pingPeers()
        let current = Set(transport.lastPings().filter { now - $0.value < timeout }.keys)
        let previous = alive.withLock { alive in
            defer { alive = current }
            return alive
        }
        if current != previous {
            changed(current, previous.subtracting(current), current.subtracting(previous))
        }
    }
}
