import ClusterConfig
import KeyValueStore
import LockService
import Logging
import RaftCore
import RaftTransport
import ReplicationHost
import Testing

@Suite("Quiescent groups on a host")
struct QuiescenceHostTests {
    @Test(
        "idle groups go quiet on every node and send nothing; a write wakes them; a crashed quiescent leader is replaced"
    )
    func quiesceWakeAndFailover() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory,
            groups: [
                .init(name: "kv", stateMachine: KeyValueStore.name),
                .init(name: "locks", stateMachine: LockService.name),
            ],
            raft: .init(
                heartbeat: .milliseconds(50),
                electionTimeout: .milliseconds(500),
                quiesceAfter: .milliseconds(300)
            )
        )
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] { try await cluster.start(id, logger: recorder.logger(label: id)) }
        do {
            let put = try await cluster.submitToLeader(KV.put("k", "1", client: 1, sequence: 1), group: "kv")
            #expect(KV.response(put) == .ok)
            // Quiet: over ten more liveness pings from every peer, not one Raft message moves.
            // A node starved of CPU for an election timeout (a loaded CI machine) looks stopped to
            // its peers, which rightly wake their groups; such a window is measured again.
            func stoppedAnswering() -> Int { recorder.count { $0.message == "peer node stopped answering" } }
            var attempts = 0
            while true {
                attempts += 1
                try await Self.waitUntilQuiescent(cluster)
                let flaps = stoppedAnswering()
                let sent = cluster.transports.values.map { $0.statistics().messagesSent }.reduce(0, +)
                let start = ContinuousClock.now
                _ = try await eventually(within: .seconds(10), "ten more rounds of pings") {
                    cluster.transports.values.allSatisfy { transport in
                        let pings = transport.lastPings()
                        return pings.count == 2 && pings.values.allSatisfy { $0 > start + .milliseconds(500) }
                    } ? true : nil
                }
                let sentLater = cluster.transports.values.map { $0.statistics().messagesSent }.reduce(0, +)
                if sentLater != sent && stoppedAnswering() != flaps && attempts < 3 { continue }
                #expect(sentLater == sent, "quiescent groups sent \(sentLater - sent) Raft messages")
                break
            }

            // A write wakes the group, without an election.
            let leader = try #require(cluster.leader(of: "kv"))
            let term = try #require(leader.status().first { $0.name == "kv" }).term
            let second = try await cluster.submitToLeader(KV.put("k", "2", client: 1, sequence: 2), group: "kv")
            #expect(KV.response(second) == .ok)
            #expect(leader.status().first { $0.name == "kv" }?.term == term)
            #expect(leader.status().first { $0.name == "kv" }?.role == .leader)

            // Quiet again, the leader's node dies: liveness wakes the others, who elect.
            try await Self.waitUntilQuiescent(cluster)
            try await cluster.crash(leader.node.id)
            let successor = try await eventually(within: .seconds(10), "a new leader of kv") {
                cluster.leader(of: "kv")
            }
            #expect(successor.node.id != leader.node.id)
            let get = try await cluster.submitToLeader(KV.get("k"), group: "kv")
            #expect(KV.response(get) == .value("2"))
        } catch {
            // The nodes' own account of what happened, for a failure seen only on a loaded machine.
            for record in recorder.records.filter({ $0.level >= .info }).suffix(60) {
                print("quiescence test log: \(record.metadata) \(record.message)")
            }
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    private static func waitUntilQuiescent(_ cluster: InProcessCluster) async throws {
        _ = try await eventually(within: .seconds(10), "every group quiescent on every node") {
            cluster.nodes.values.allSatisfy { $0.status().allSatisfy(\.isQuiescent) } ? true : nil
        }
    }
}
