public import ClusterConfig
public import Logging

/// A key/value server embedded in your own process: the classic
/// `StartKVServer(servers, me, persister, maxraftstate)` shape on top of ``RaftNode``.
///
/// ```swift
/// let server = try await KeyValueServer.start(peers: nodes, me: 0, dataDirectory: "/var/lib/kv", maxRaftState: 1 << 20)
/// // ... clients talk to server.endpoints.client with RaftClient / KeyValueClient ...
/// await server.kill()
/// ```
///
/// `start` returns as soon as the node listens (it does not wait for an election); the node
/// keeps its log and snapshots under `dataDirectory/<node id>/kv` and resumes from them.
public final class KeyValueServer: Sendable {
    /// The running node (status, in-process requests).
    public let node: RaftNode
    /// Where this server listens.
    public let endpoints: RaftNode.Endpoints
    private let serving: Task<Void, any Error>

    private init(node: RaftNode, endpoints: RaftNode.Endpoints, serving: Task<Void, any Error>) {
        self.node = node
        self.endpoints = endpoints
        self.serving = serving
    }

    /// Starts member `me` of a key/value cluster whose members are `peers` (every member
    /// MUST be given the same list, in the same order).
    ///
    /// - Parameters:
    ///   - maxRaftState: snapshot when the persisted Raft state exceeds this many bytes; nil
    ///     never snapshots (the classic `-1`).
    ///   - raft: timing and replication settings.
    public static func start(
        clusterName: String = "kv",
        peers: [ClusterConfiguration.Node],
        me: Int,
        dataDirectory: String,
        maxRaftState: Int?,
        raft: ClusterConfiguration.Raft = ClusterConfiguration.Raft(),
        storage: ClusterConfiguration.Storage = ClusterConfiguration.Storage(),
        logger: Logger
    ) async throws -> KeyValueServer {
        precondition(peers.indices.contains(me), "me must index peers")
        let configuration = ClusterConfiguration(
            name: clusterName,
            dataDirectory: dataDirectory,
            nodes: peers,
            groups: [ClusterConfiguration.Group(name: "kv", stateMachine: "KeyValueStore", maxRaftState: maxRaftState)],
            raft: raft,
            storage: storage
        )
        let node = try RaftNode(configuration: configuration, node: peers[me].id, logger: logger)
        let endpoints = try await node.start()
        let serving = Task { try await node.run() }
        return KeyValueServer(node: node, endpoints: endpoints, serving: serving)
    }

    /// Kills the server as a crash would and returns once it is gone: connections close at
    /// once and requests in flight get no answer, writes not yet synced are lost, and the data
    /// directory is released, so a server started on it resumes from what was synced. Only a
    /// write or sync already running completes, as the kernel would complete it for a killed
    /// process. See `RaftNode.crash()`.
    public func kill() async {
        node.crash()
        _ = await serving.result
    }
}
