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
        let (seconds, attoseconds) = Self.serializationTime.components
        usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        return value.encoded()
    }

    init(snapshot: [UInt8]) throws {
        value = try Int64(decoding: snapshot)
    }
}

@Suite("Snapshots off the executor")
struct SnapshotStallTests {
    @Test("snapshots that serialize for six election timeouts cause no election, and commits go on meanwhile")
    func slowSerializationKeepsTheLeader() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // Elections after 250 to 500 ms without a heartbeat: a serialization takes six of them.
        // (Shorter timeouts would also catch the log rewrite's few fsyncs at the end of a
        // snapshot on a loaded machine, a disk stall like any slow sync of the log.)
        let raft = ClusterConfiguration.Raft(heartbeat: .milliseconds(25), electionTimeout: .milliseconds(250))
        #expect(SlowSnapshotCounter.serializationTime > raft.electionTimeout * 5)
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "slow", stateMachine: SlowSnapshotCounter.name, maxRaftState: 1024)],
            raft: raft,
            plugins: [SlowSnapshotCounter.self]
        )
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
        var sequence: UInt64 = 0
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
            #expect(acknowledgedWhileSerializing >= 5, "only \(acknowledgedWhileSerializing) writes acknowledged during serializations")
            let durations = recorder.records.filter { $0.message == "snapshot taken" }
                .compactMap { $0.metadata["raft.snapshotMs"].flatMap { Int("\($0)") } }
            print(
                "slow snapshots: \(sequence) writes, \(durations.count) snapshots of \(durations.min() ?? 0)...\(durations.max() ?? 0) ms"
                    + " (serialization \(SlowSnapshotCounter.serializationTime), election timeout \(raft.electionTimeout)),"
                    + " \(acknowledgedWhileSerializing) writes acknowledged while one serialized, term \(term) throughout"
            )
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
