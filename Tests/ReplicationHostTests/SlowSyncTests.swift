import ClusterConfig
import Foundation
import KeyValueStore
import RaftCore
import RaftStorage
import ReplicationHost
import Synchronization
import Testing

/// A leader's own fsync runs while its executor goes on (see `GroupExecutor.PersistPipeline`):
/// a disk that stalls on the leader for longer than an election timeout neither stops its
/// heartbeats nor, with followers that still write, its commits.
@Suite("Slow syncs on the leader")
struct SlowSyncTests {
    @Test("a leader whose every fsync takes three election timeouts keeps leading, and writes go on committing")
    func stalledLeaderSync() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            raft: .init(heartbeat: .milliseconds(50), electionTimeout: .milliseconds(500))
        )
        let stalled = StalledNodes()
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: LogRecorder().logger(label: id)) { _, storage in
                StallingStorage(storage, node: id, stalled: stalled)
            }
        }
        do {
            let first = try await cluster.submitToLeader(KV.put("k", "0", client: 1, sequence: 1), group: "kv")
            #expect(KV.response(first) == .ok)
            let leader = try #require(cluster.leader(of: "kv"))
            let term = try #require(leader.status().first).term

            stalled.stall(leader.node.id, for: .milliseconds(1500))
            let started = ContinuousClock.now
            for sequence in UInt64(2)...4 {
                let put = try await cluster.submitToLeader(
                    KV.put("k", "\(sequence)", client: 1, sequence: sequence),
                    group: "kv"
                )
                #expect(KV.response(put) == .ok)
            }
            let elapsed = ContinuousClock.now - started
            let stalls = stalled.stalls
            stalled.stall(leader.node.id, for: nil)

            // The stall was real: syncs of the leader took 1.5 s each while the writes ran.
            #expect(stalls >= 2, "only \(stalls) stalled syncs")
            #expect(elapsed >= .milliseconds(1500))
            for node in cluster.nodes.values {
                let status = try #require(node.status().first)
                #expect(status.term == term, "\(node.node.id) moved to term \(status.term)")
            }
            #expect(leader.status().first?.role == .leader)
            let get = try await cluster.submitToLeader(KV.get("k"), group: "kv")
            #expect(KV.response(get) == .value("4"))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}

/// Which node's syncs stall, and for how long; counts the stalled syncs.
private final class StalledNodes: Sendable {
    private let state = Mutex<(node: String?, duration: Duration, stalls: Int)>((nil, .zero, 0))

    func stall(_ node: String, for duration: Duration?) {
        state.withLock { $0 = (duration == nil ? nil : node, duration ?? .zero, $0.stalls) }
    }

    var stalls: Int { state.withLock { $0.stalls } }

    /// How long a sync of `node` must stall now (and counts it), or nil.
    func stallTime(of node: String) -> Duration? {
        state.withLock { state in
            guard state.node == node else { return nil }
            state.stalls += 1
            return state.duration
        }
    }
}

/// A node's storage whose `sync()` blocks its thread first while the node is stalled, as a
/// saturated or failing disk does.
private final class StallingStorage: PersistentStorage {
    private let base: any PersistentStorage
    private let node: String
    private let stalled: StalledNodes

    init(_ base: any PersistentStorage, node: String, stalled: StalledNodes) {
        self.base = base
        self.node = node
        self.stalled = stalled
    }

    func sync() throws(StorageError) {
        if let duration = stalled.stallTime(of: node) {
            let (seconds, attoseconds) = duration.components
            usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        try base.sync()
    }

    func load() throws(StorageError) -> PersistentState { try base.load() }
    func append(_ entries: [Entry]) throws(StorageError) { try base.append(entries) }
    func saveHardState(_ hardState: HardState) throws(StorageError) { try base.saveHardState(hardState) }
    func installSnapshot(_ snapshot: Snapshot) throws(StorageError) { try base.installSnapshot(snapshot) }
    func receiveSnapshotChunk(_ chunk: SnapshotChunk) throws(StorageError) { try base.receiveSnapshotChunk(chunk) }
    func compact(to snapshot: Snapshot) throws(StorageError) { try base.compact(to: snapshot) }

    func writeSnapshot(
        _ metadata: SnapshotMetadata,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> SnapshotData {
        try base.writeSnapshot(metadata, data: write)
    }

    func discardSnapshot(_ data: SnapshotData) { base.discardSnapshot(data) }

    func storedSnapshotData(for metadata: SnapshotMetadata) throws(StorageError) -> SnapshotData? {
        try base.storedSnapshotData(for: metadata)
    }

    var persistedRaftStateSize: Int { base.persistedRaftStateSize }
    var snapshotSize: Int { base.snapshotSize }
    var statistics: StorageStatistics { base.statistics }
}
