import KeyValueStore
import RaftCore
import RaftReplica
import RaftStorage
import StateMachineAPI
import SimulationThread
import Testing

/// A single-node replica on memory storage: every proposal commits as soon as it is persisted.
private struct SingleNode {
    var replica: Replica
    let storage: MemoryStorage
    var finished: [UInt64: Result<[UInt8], ReplicaError>] = [:]

    /// Starts from what `storage` holds (a restart, when it is not empty).
    init(
        snapshotPolicy: SnapshotPolicy = .never,
        limits: SessionLimits = SessionLimits(),
        storage: MemoryStorage = MemoryStorage()
    ) throws {
        self.storage = storage
        replica = try Replica(
            configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
            machine: AnyStateMachine(KeyValueStore()),
            persistentState: try storage.load(),
            snapshotPolicy: snapshotPolicy,
            limits: limits
        )
        for _ in 0..<30 { replica.tick() }
        try drive()
    }

    mutating func drive() throws {
        for completion in try replica.drive(storage: storage) { finished[completion.requestID] = completion.result }
    }

    mutating func send(
        _ command: KeyValueStore.Command,
        client: UInt64,
        sequence: UInt64,
        id: UInt64,
        now: UInt64 = 0
    )
        throws -> KeyValueStore.Response?
    {
        replica.submitCommand(
            Replica.ClientCommand(clientID: client, sequence: sequence, command: command.encoded()),
            requestID: id,
            now: now
        )
        try drive()
        return try finished[id].map { try KeyValueStore.Response(decoding: $0.get()) }
    }

    mutating func get(_ key: String, id: UInt64) throws -> KeyValueStore.Response? {
        replica.submitQuery(KeyValueStore.Query.get(key: key).encoded(), requestID: id, consistency: .linearizable)
        try drive()
        return try finished[id].map { try KeyValueStore.Response(decoding: $0.get()) }
    }
}

@Suite("Replica", .onSimulationThread)
struct ReplicaTests {
    @Test("a retried command is answered from the session table, not applied twice")
    func retriesAreExactlyOnce() throws {
        var node = try SingleNode()
        #expect(try node.send(.append(key: "k", value: "x"), client: 1, sequence: 1, id: 1) == .ok)
        #expect(try node.send(.append(key: "k", value: "x"), client: 1, sequence: 1, id: 2) == .ok)
        #expect(try node.get("k", id: 3) == .value("x"))
        #expect(try node.send(.append(key: "k", value: "y"), client: 1, sequence: 2, id: 4) == .ok)
        #expect(try node.get("k", id: 5) == .value("xy"))
    }

    @Test("a request older than the client's latest is refused, never re-applied")
    func staleRequestsAreRefused() throws {
        var node = try SingleNode()
        _ = try node.send(.put(key: "k", value: "1"), client: 9, sequence: 5, id: 1)
        #expect(throws: ReplicaError.self) { try node.send(.put(key: "k", value: "0"), client: 9, sequence: 4, id: 2) }
        #expect(try node.get("k", id: 3) == .value("1"))
    }

    @Test("a missing key reads as ErrNoKey, distinct from an empty value")
    func missingKeyIsNoKey() throws {
        var node = try SingleNode()
        #expect(try node.get("absent", id: 1) == .noKey)
        _ = try node.send(.put(key: "empty", value: ""), client: 1, sequence: 1, id: 2)
        #expect(try node.get("empty", id: 3) == .value(""))
    }

    @Test("idle sessions expire by log time; the retry of an expired session's request is refused")
    func sessionsExpireByLogTime() throws {
        var limits = SessionLimits()
        limits.idleTimeout = 1_000
        var node = try SingleNode(limits: limits)
        _ = try node.send(.append(key: "k", value: "a"), client: 1, sequence: 1, id: 1, now: 10)
        // Another client's traffic moves log time far ahead.
        _ = try node.send(.put(key: "other", value: "v"), client: 2, sequence: 1, id: 2, now: 5_000)
        _ = try node.send(.put(key: "other", value: "w"), client: 2, sequence: 2, id: 3, now: 9_000)
        // Client 1's session is gone: its old request is new again, which is why clients
        // must not retry after the idle timeout (the Clerk gives up long before).
        #expect(try node.send(.append(key: "k", value: "b"), client: 1, sequence: 2, id: 4, now: 9_001) == .ok)
        #expect(try node.get("k", id: 5) == .value("ab"))
    }

    @Test("snapshots capture the session table: a retry after restore is still answered once")
    func snapshotKeepsSessions() throws {
        var node = try SingleNode(snapshotPolicy: .maxRaftState(1))
        _ = try node.send(.append(key: "k", value: "x"), client: 1, sequence: 1, id: 1)
        // The driver took the snapshot: the log is compacted through the applied command.
        let snapshotIndex = try #require(node.storage.syncedState.snapshot).metadata.index
        #expect(snapshotIndex == node.replica.appliedIndex)
        #expect(!node.replica.snapshotDue(raftStateSize: node.storage.persistedRaftStateSize))
        node.storage.crash()
        var restored = try SingleNode(storage: node.storage)
        #expect(try restored.send(.append(key: "k", value: "x"), client: 1, sequence: 1, id: 2) == .ok)
        #expect(try restored.get("k", id: 3) == .value("x"))
    }
}
