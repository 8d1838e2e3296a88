import ClusterConfig
import KeyValueStore
import Logging
import ReplicationHost
import Testing

@Suite("Lease reads on a host")
struct LeaseReadHostTests {
    @Test("with raft.leaseReads the leader answers Gets from its lease, and they see the latest Put")
    func leaseReadsServeLatestWrite() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            // Production-like timing: 10 ms ticks under a fully loaded suite stretched elections past 10 s.
            raft: .init(heartbeat: .milliseconds(50), electionTimeout: .milliseconds(500), leaseReads: true)
        )
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] { try await cluster.start(id, logger: recorder.logger(label: id)) }
        do {
            for round in 1...20 {
                let put = try await cluster.submitToLeader(
                    KV.put("k", "v\(round)", client: 1, sequence: UInt64(round)),
                    group: "kv"
                )
                #expect(KV.response(put) == .ok)
                let get = try await cluster.submitToLeader(KV.get("k"), group: "kv")
                #expect(KV.response(get) == .value("v\(round)"))
            }
            let leader = try #require(cluster.leader(of: "kv"))
            let metrics = try #require(leader.status().first).metrics
            #expect(metrics.leaseReads > 0, "no Get was served from the lease: \(metrics)")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
