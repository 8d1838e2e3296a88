public import RaftCore

/// A host and TCP port.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Settings of a `NIOPeerTransport`. Every field has a documented default except identity.
public struct NIOPeerTransportConfiguration: Sendable {
    /// Peers from another cluster are rejected in the handshake.
    public var clusterName: String
    /// This node.
    public var localNode: NodeID
    /// Group names in configuration order; `GroupID(i)` is `groups[i]`. Peers must agree.
    public var groups: [String]
    /// Where to accept peers. Port 0 picks a free port (`start()` returns it).
    public var listenAddress: PeerAddress
    /// The other nodes and where to reach them; only these may connect. More can be added with
    /// `NIOPeerTransport.setPeerAddress(_:for:)`.
    public var peers: [NodeID: PeerAddress]
    /// Largest frame accepted or sent, in bytes (type byte plus body). Default 16 MiB. A
    /// connection that announces a larger frame is closed; a larger outgoing message is dropped.
    public var maxFrameSize: Int = 16 << 20
    /// Messages queued per peer while it is slow or unreachable; beyond it the oldest are
    /// dropped. Default 1024.
    public var outboundQueueCapacity: Int = 1024
    /// Messages each group inbox buffers before dropping the oldest. Default 4096.
    public var inboxCapacity: Int = 4096
    /// How long a TCP connect may take. Default 1 s.
    public var connectTimeout: Duration = .seconds(1)
    /// How long a new connection may take to complete the handshake. Default 5 s.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Delays between reconnection attempts to a peer.
    public var reconnectBackoff: Backoff = Backoff()
    /// Mutual TLS with node identities; `nil` (the default) is plaintext.
    public var tls: PeerTLS?

    /// Exponential backoff with jitter: the n-th consecutive failure waits
    /// `min(maximum, initial * multiplier^(n-1))`, scaled by a random factor in
    /// `1 - jitter ... 1 + jitter`, so restarted clusters do not reconnect in lockstep.
    public struct Backoff: Sendable, Hashable {
        /// Default 50 ms.
        public var initial: Duration = .milliseconds(50)
        /// Default 1 s: a restarted peer hears from the others within about a second (each
        /// node sends only on the connection it dialled), for one cheap attempt per second
        /// against a peer that stays down.
        public var maximum: Duration = .seconds(1)
        /// Default 2.
        public var multiplier: Double = 2
        /// Fraction of the delay randomised either way, 0...1. Default 0.2.
        public var jitter: Double = 0.2

        public init() {}

        /// The delay after `failures` consecutive failures (at least 1).
        public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            let exponent = Double(max(failures, 1) - 1)
            let base = min(initial.seconds * power(multiplier, exponent), maximum.seconds)
            let spread = min(max(jitter, 0), 1)
            let factor = spread > 0 ? Double.random(in: (1 - spread)...(1 + spread), using: &generator) : 1
            return .nanoseconds(Int64(base * factor * 1e9))
        }
    }

    public init(
        clusterName: String,
        localNode: NodeID,
        groups: [String],
        listenAddress: PeerAddress,
        peers: [NodeID: PeerAddress] = [:]
    ) {
        self.clusterName = clusterName
        self.localNode = localNode
        self.groups = groups
        self.listenAddress = listenAddress
        self.peers = peers
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// `base` raised to `exponent` without importing Foundation or Glibc: the exponent is a small whole number.
private func power(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(min(exponent, 64))
    while remaining > 0 {
        result *= base
        remaining -= 1
    }
    return result
}
