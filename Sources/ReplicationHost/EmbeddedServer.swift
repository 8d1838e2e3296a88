public import ClusterConfig
public import Logging
public import StateMachineAPI

/// One replicated state machine served from your own process: the classic
/// `StartKVServer(servers, me, persister, maxraftstate)` shape on top of ``RaftNode``, for
/// any plugin.
///
/// ```swift
/// let server = try await EmbeddedServer.start(
///     serving: KeyValueStore.self, group: "kv", peers: nodes, me: 0, dataDirectory: "/var/lib/kv",
///     maxRaftState: 1 << 20, logger: logger)
/// // ... clients talk to server.endpoints.client with RaftClient / KeyValueClient ...
/// await server.kill()
/// ```
///
/// `start` returns as soon as the node listens (it does not wait for an election); the node
/// keeps its log and snapshots under `dataDirectory/<node id>/<group>` and resumes from them.
public final class EmbeddedServer: Sendable {
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

    /// Starts member `me` of a cluster whose members are `peers` (every member MUST be given
    /// the same list, in the same order), replicating one group that runs `stateMachine`.
    ///
    /// - Parameters:
    ///   - stateMachine: the plugin the group runs.
    ///   - group: the group's name, as clients address it.
    ///   - maxRaftState: snapshot when the persisted Raft state exceeds this many bytes; nil
    ///     never snapshots (the classic `-1`).
    ///   - raft: timing and replication settings.
    public static func start(
        serving stateMachine: any StateMachine.Type,
        group: String,
        clusterName: String = "kv",
        peers: [ClusterConfiguration.Node],
        me: Int,
        dataDirectory: String,
        maxRaftState: Int?,
        raft: ClusterConfiguration.Raft = ClusterConfiguration.Raft(),
        storage: ClusterConfiguration.Storage = ClusterConfiguration.Storage(),
        logger: Logger
    ) async throws -> EmbeddedServer {
        precondition(peers.indices.contains(me), "me must index peers")
        let configuration = ClusterConfiguration(
            name: clusterName,
            dataDirectory: dataDirectory,
            nodes: peers,
            groups: [
                ClusterConfiguration.Group(name: group, stateMachine: stateMachine.name, maxRaftState: maxRaftState)
            ],
            raft: raft,
            storage: storage
        )
        let node = try RaftNode(
            configuration: configuration,
            node: peers[me].id,
            registry: try StateMachineRegistry([stateMachine]),
            logger: logger
        )
        let endpoints = try await node.start()
        let serving = Task { try await node.run() }
        return EmbeddedServer(node: node, endpoints: endpoints, serving: serving)
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
