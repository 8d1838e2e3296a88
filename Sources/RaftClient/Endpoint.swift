public import ClusterConfig
public import RaftCore
import RaftReplica
public import RaftSecurity

extension RaftClient {
    /// One node's client port.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// The node's id: its 1-based position in the cluster's `nodes` list. Leader hints name
        /// nodes by this number, so it must match the cluster's numbering.
        public var node: NodeID
        /// A host name or IP address.
        public var host: String
        /// The TCP port of the node's `client` address.
        public var port: Int

        /// Creates an endpoint from values.
        public init(node: NodeID, host: String, port: Int) {
            self.node = node
            self.host = host
            self.port = port
        }

        /// The client address of a configured node.
        public init(_ node: ClusterConfiguration.Node) {
            self.init(node: NodeID(node.numericID), host: node.client.host, port: node.client.port)
        }

        /// `n<id>@host:port`.
        public var description: String {
            "n\(node.rawValue)@" + (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        }
    }

    /// How a client retries. The defaults suit a cluster on one network.
    public struct Configuration: Sendable, Hashable {
        /// How long one attempt on one node may take (connecting included) before the client
        /// moves on to the next node. Default 1 s: longer than a healthy commit, shorter than
        /// most elections take to settle.
        public var attemptTimeout: Duration
        /// How long a call may take, from its start, when it passes no deadline of its own.
        /// Default `nil`: keep trying until the call succeeds, as the classic Clerk does.
        ///
        /// Keep it well under the group's session idle timeout (10 minutes by default): a
        /// command retried after its session expired could be applied twice.
        public var timeout: Duration?
        /// The pause after every node has failed once in a row, or after a node answered
        /// `leaderChanged` or `overloaded`, so that an election in progress is not met with a
        /// busy loop. Default 50 ms.
        public var retryBackoff: Duration
        /// The largest frame the client sends or accepts. Default 16 MiB, the nodes' default.
        public var maxFrameSize: Int
        /// TLS to the client ports (`tls` in `cluster.yaml`); `nil` (the default) is plaintext.
        public var tls: ClientTLS?
        /// The bearer token every connection presents (`auth` in `cluster.yaml`); default none.
        public var token: String?

        /// Creates a configuration; the defaults are documented on each property.
        public init(
            attemptTimeout: Duration = .seconds(1),
            timeout: Duration? = nil,
            retryBackoff: Duration = .milliseconds(50),
            maxFrameSize: Int = 16 << 20
        ) {
            precondition(attemptTimeout > .zero, "attemptTimeout must be positive")
            precondition(maxFrameSize >= 1 && maxFrameSize <= Int(UInt32.max), "maxFrameSize out of range")
            self.attemptTimeout = attemptTimeout
            self.timeout = timeout
            self.retryBackoff = retryBackoff
            self.maxFrameSize = maxFrameSize
        }
    }
}

extension RaftClient {
    /// How fresh a query's answer must be.
    public struct ReadConsistency: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case linearizable
            case stale
        }

        private var value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The leader confirms it still leads (a heartbeat round, no log entry) and answers once
        /// it has applied that far: the answer reflects every write acknowledged before the
        /// query began.
        public static let linearizable = ReadConsistency(.linearizable)
        /// The node the client tries serves its own state, which may be behind: no leader
        /// needed, so it answers during an election or in a minority partition.
        public static let stale = ReadConsistency(.stale)

        public var description: String {
            switch value {
            case .linearizable: "linearizable"
            case .stale: "stale"
            }
        }

        /// The wire form.
        var replicaConsistency: Replica.ReadConsistency {
            switch value {
            case .linearizable: .linearizable
            case .stale: .stale
            }
        }
    }
}
