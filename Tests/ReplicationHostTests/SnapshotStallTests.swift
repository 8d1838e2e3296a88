import ClusterConfig
import Glibc
import RaftCore
import RaftReplica
import StateMachineAPI
import Synchronization
import Testing

@testable import ReplicationHost

/// A counter whose serialization is deliberately slow: it stands for a plugin with a state so
/// large that saving it takes several election timeouts.
struct SlowSnapshotCounter: StateMachine {
    static let name = "SlowSnapshotCounter"
    /// How long one `snapshot()` takes.
    static let serializationTime: Duration = .milliseconds(1500)
    /// Serializations running now, on any node of the process.
    static let serializing = Atomic<Int>(0)

    var value: Int64 = 0

    init() {}

    typealias Command = Int64
    typealias Query = Int64
    typealias Response = Int64

    mutating func apply(_ command: Int64, context: ApplyContext) -> Int64 {
        value &+= command
        return value
    }

    func query(_ query: Int64, context: QueryContext) -> Int64 {
        value
    }

    func snapshot() throws -> [UInt8] {
        Self.serializing.add(1, ordering: .sequentiallyConsistent)
        defer { Self.serializing.subtract(1, ordering: .sequentiallyConsistent) }
        blockThread(for: Self.serializationTime)
        return value.encoded()
    }

    init(snapshot: [UInt8]) throws {
        value = try Int64(decoding: snapshot)
    }
}

/// A counter whose restore from a snapshot is deliberately slow: a follower that installs its
/// leader's snapshot spends several election timeouts rebuilding the state.
struct SlowRestoreCounter: StateMachine {
    static let name = "SlowRestoreCounter"
    /// How long one `init(snapshot:)` takes.
    static let restoreTime: Duration = .milliseconds(1500)
    /// Restores running now, and restores finished, on any node of the process.
    static let restoring = Atomic<Int>(0)
    static let restored = Atomic<Int>(0)

    var value: Int64 = 0

    init() {}

    typealias Command = Int64
    typealias Query = Int64
    typealias Response = Int64

    mutating func apply(_ command: Int64, context: ApplyContext) -> Int64 {
        value &+= command
        return value
    }

    func query(_ query: Int64, context: QueryContext) -> Int64 {
        value
    }

    func snapshot() throws -> [UInt8] {
        value.encoded()
    }

    init(snapshot: [UInt8]) throws {
        Self.restoring.add(1, ordering: .sequentiallyConsistent)
        defer {
            Self.restoring.subtract(1, ordering: .sequentiallyConsistent)
            Self.restored.add(1, ordering: .sequentiallyConsistent)
        }
        blockThread(for: Self.restoreTime)
        value = try Int64(decoding: snapshot)
    }
}

/// Blocks the calling thread, as a plugin busy with a large state would.
private func blockThread(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
}

/// Three in-process nodes serving one group "slow" of a slow plugin, snapshotting past 1 KiB of
/// Raft state, with elections after 250 to 500 ms without a heartbeat (shorter timeouts would
/// also catch the log rewrite's few fsyncs at the end of a snapshot on a loaded machine, a disk
/// stall like any slow sync of the log); `add()` writes +1 as client 1.
private final class SlowGroup {
    static let raft = ClusterConfiguration.Raft(heartbeat: .milliseconds(25), electionTimeout: .milliseconds(250))
    let cluster: InProcessCluster
    let recorder = LogRecorder()
    private(set) var sequence: UInt64 = 0

    init(serving plugin: any StateMachine.Type, directory: TemporaryDirectory) async throws {
        cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "slow", stateMachine: plugin.name, maxRaftState: 1024)],
            raft: Self.raft,
            plugins: [plugin]
        )
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
    }

    /// Writes +1; false (with an issue recorded) when the write is refused.
    func add() async throws -> Bool {
        sequence += 1
        let command = Replica.ClientCommand(clientID: 1, sequence: sequence, command: Int64(1).encoded())
        let response = try await cluster.submitToLeader(.command(command), group: "slow")
        guard case .ok = response else {
            Issue.record("write \(sequence) failed: \(response)")
            return false
        }
        return true
    }
}

@Suite("Snapshots off the executor")
struct SnapshotStallTests {
    @Test("snapshots that serialize for six election timeouts cause no election, and commits go on meanwhile")
    func slowSerializationKeepsTheLeader() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // A serialization takes six election timeouts.
        let raft = SlowGroup.raft
        #expect(SlowSnapshotCounter.serializationTime > raft.electionTimeout * 5)
        let group = try await SlowGroup(serving: SlowSnapshotCounter.self, directory: directory)
        let (cluster, recorder) = (group.cluster, group.recorder)
        func add() async throws -> Bool { try await group.add() }
        do {
            try await withTimeout(.seconds(20), "a leader") { await recorder.leaderElected(in: "slow") }
            _ = try await add()
            // Every node knows the leader before the baseline is taken.
            let before = try await eventually(within: .seconds(10), "every node knowing the leader") {
                let statuses = cluster.nodes.mapValues { $0.status()[0] }
                return statuses.values.allSatisfy { $0.leader != nil } ? statuses : nil
            }
            let term = try #require(before.values.map(\.term).max())

            // Sequential writes until every node has taken a snapshot (three serializations on
            // the process's one snapshot thread: at least 4.5 s of writes).
            var acknowledgedWhileSerializing = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while cluster.nodes.values.contains(where: { $0.status()[0].metrics.snapshots < 1 }) {
                guard ContinuousClock.now < deadline else {
                    Issue.record("not every node took a snapshot within 60 s")
                    break
                }
                guard try await add() else { break }
                let serializing = SlowSnapshotCounter.serializing.load(ordering: .sequentiallyConsistent)
                if serializing > 0 {
                    acknowledgedWhileSerializing += 1
                }
            }

            let after = cluster.nodes.mapValues { $0.status()[0] }
            for (id, status) in after.sorted(by: { $0.key < $1.key }) {
                let earlier = try #require(before[id])
                #expect(status.term == term, "\(id): term \(term) -> \(status.term): an election happened")
                #expect(status.metrics.elections == earlier.metrics.elections, "\(id) campaigned")
                #expect(status.leader == earlier.leader, "\(id): the leader changed")
                #expect(status.snapshotIndex > 0)
            }
            // A write takes milliseconds; a stalled group would have held every one of them for
            // a whole serialization.
            #expect(
                acknowledgedWhileSerializing >= 5,
                "only \(acknowledgedWhileSerializing) writes acknowledged during serializations"
            )
            let durations = recorder.records.filter { $0.message == "snapshot taken" }
                .compactMap { $0.metadata["raft.snapshotMs"].flatMap { Int("\($0)") } }
            print(
                "slow snapshots: \(group.sequence) writes, \(durations.count) snapshots of \(durations.min() ?? 0)...\(durations.max() ?? 0) ms"
                    + " (serialization \(SlowSnapshotCounter.serializationTime), election timeout \(raft.electionTimeout)),"
                    + " \(acknowledgedWhileSerializing) writes acknowledged while one serialized, term \(term) throughout"
            )
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("a follower restoring its leader's snapshot for six election timeouts keeps stepping: no election")
    func slowRestoreKeepsTheLeader() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let raft = SlowGroup.raft
        #expect(SlowRestoreCounter.restoreTime > raft.electionTimeout * 5)
        let group = try await SlowGroup(serving: SlowRestoreCounter.self, directory: directory)
        let (cluster, recorder) = (group.cluster, group.recorder)
        func add() async throws -> Bool { try await group.add() }
        func status(_ id: String) -> GroupStatus? { cluster.nodes[id]?.status()[0] }
        do {
            try await withTimeout(.seconds(20), "a leader") { await recorder.leaderElected(in: "slow") }
            for _ in 0..<3 { guard try await add() else { throw TimedOut(description: "a write failed") } }
            let leaderID = try await eventually(within: .seconds(10), "every node knowing the leader") {
                () -> String? in
                let statuses = cluster.nodes.mapValues { $0.status()[0] }
                guard statuses.values.allSatisfy({ $0.leader != nil && $0.appliedIndex >= 4 }) else { return nil }
                return cluster.nodes.keys.first { statuses[$0]?.role == .leader }
            }
            let followerID = try #require(["n1", "n2", "n3"].first { $0 != leaderID })
            let held = try #require(status(followerID))
            #expect(held.snapshotIndex == 0, "the follower must restart without a snapshot of its own")

            // The follower is down while the others write on and compact past its log.
            try await cluster.crash(followerID)
            let deadline = ContinuousClock.now + .seconds(60)
            while (status(leaderID)?.snapshotIndex ?? 0) <= held.lastIndex + 5 {
                guard ContinuousClock.now < deadline else {
                    throw TimedOut(description: "the leader did not compact within 60 s")
                }
                guard try await add() else { throw TimedOut(description: "a write failed") }
            }
            let before = cluster.nodes.mapValues { $0.status()[0] }
            let term = try #require(before[leaderID]?.term)
            let restoresBefore = SlowRestoreCounter.restored.load(ordering: .sequentiallyConsistent)

            // Back up: it gets the leader's snapshot and restores it while writes go on.
            let followerLog = LogRecorder()
            try await cluster.start(followerID, logger: followerLog.logger(label: followerID))
            var lastIndexWhileRestoring: [LogIndex] = []
            var restoreSeen = false
            while true {
                guard ContinuousClock.now < deadline else {
                    Issue.record("the follower did not restore and catch up within 60 s")
                    break
                }
                guard try await add() else { break }
                let restoring = SlowRestoreCounter.restoring.load(ordering: .sequentiallyConsistent) > 0
                if restoring, let follower = status(followerID) {
                    restoreSeen = true
                    lastIndexWhileRestoring.append(follower.lastIndex)
                    #expect(follower.appliedIndex <= held.lastIndex, "applied past its old log during the restore")
                }
                let restored = SlowRestoreCounter.restored.load(ordering: .sequentiallyConsistent) > restoresBefore
                if restored, !restoring, let follower = status(followerID), let leader = status(leaderID),
                    follower.appliedIndex == leader.commitIndex
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(restoreSeen, "no restore of the leader's snapshot was observed")
            // The follower's executor stored appends while its restore ran.
            let distinct = Set(lastIndexWhileRestoring)
            #expect(
                distinct.count >= 3,
                "the follower's log moved only through \(distinct.sorted()) during its restore"
            )

            let after = cluster.nodes.mapValues { $0.status()[0] }
            for (id, status) in after.sorted(by: { $0.key < $1.key }) {
                #expect(status.term == term, "\(id): term \(term) -> \(status.term): an election happened")
                #expect(status.leader == before[leaderID]?.leader, "\(id): the leader changed")
                if let earlier = before[id] {
                    #expect(status.metrics.elections == earlier.metrics.elections, "\(id) campaigned")
                }
            }
            let follower = try #require(after[followerID])
            #expect(follower.metrics.elections == 0, "the restoring follower campaigned")
            #expect(follower.snapshotIndex > held.lastIndex)
            let campaigns = followerLog.count { $0.message.hasPrefix("role changed to") }
            #expect(campaigns == 0, "the restoring follower changed its role \(campaigns) times")
            #expect(followerLog.count { $0.message == "snapshot restored" } >= 1)

            // Every write is in the follower's own state, read locally once it caught up.
            let node = try #require(cluster.nodes[followerID])
            var value: Int64 = -1
            let caughtUp = try? await eventually(within: .seconds(10), "\(followerID) holding every write") {
                () -> Bool? in
                let response = await node.submit(.query(Int64(0).encoded(), consistency: .stale), group: "slow")
                guard case .ok(let bytes) = response else { return nil }
                value = try Int64(decoding: bytes)
                return value == Int64(group.sequence) ? true : nil
            }
            #expect(caughtUp == true, "\(followerID) holds \(value) of \(group.sequence) writes")
            let milliseconds = followerLog.records.filter { $0.message == "snapshot restored" }
                .compactMap { $0.metadata["raft.restoreMs"].flatMap { Int("\($0)") } }
            print(
                "slow restore: \(group.sequence) writes, follower \(followerID) restored in \(milliseconds) ms"
                    + " (restore \(SlowRestoreCounter.restoreTime), election timeout \(raft.electionTimeout)),"
                    + " its last index moved through \(distinct.count) values meanwhile, term \(term) throughout"
            )
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
