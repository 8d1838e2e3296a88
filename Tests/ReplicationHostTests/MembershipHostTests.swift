import ClusterConfig
import KeyValueStore
import Logging
import RaftCore
import RaftReplica
import Testing

@testable import ReplicationHost

@Suite("In-process host: membership changes")
struct MembershipHostTests {
    static let groups: [ClusterConfiguration.Group] = [
        // Small: the joining node catches up by snapshot.
        .init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: 2048)
    ]

    @Test(
        "a brand-new node joins as a learner and is promoted once caught up; a removed voter stops serving; the group keeps every write, across a restart of the new member"
    )
    func replaceAVoter() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(directory: directory, joining: 1, groups: Self.groups)
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3", "n4"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
        do {
            try await withTimeout(.seconds(20), "a leader") { await recorder.leaderElected(in: "kv") }
            for sequence in 1...40 {
                let response = try await cluster.submitToLeader(
                    KV.put("key\(sequence)", "value\(sequence)", client: 9, sequence: UInt64(sequence)),
                    group: "kv"
                )
                #expect(KV.response(response) == .ok)
            }
            // The joining node knows no members and serves nothing yet.
            let newcomer = try #require(cluster.nodes["n4"])
            #expect(newcomer.status().first?.membership.members == [])

            // Add n4 (as a learner, promoted once it holds what was committed).
            let leader = try #require(cluster.leader(of: "kv"))
            let added = await leader.perform(
                .add(MemberDirectory.Member(name: "n4", id: 0, peer: "", client: "", http: ""), asVoter: true),
                group: "kv"
            )
            guard case .done(let view) = added else {
                Issue.record("adding n4 failed: \(added)")
                return
            }
            #expect(view.members.map(\.name) == ["n1", "n2", "n3", "n4"])
            #expect(view.members.allSatisfy { $0.role == "voter" })
            // The membership shows as soon as n4 installs the leader's snapshot; what it applied
            // only once the restore, off its executor, is done.
            let n4Status = try await eventually(within: .seconds(10), "n4 applying the promotion") {
                newcomer.status().first.flatMap {
                    $0.membership.voters.contains(NodeID(4)) && $0.appliedIndex > 40 ? $0 : nil
                }
            }
            #expect(n4Status.appliedIndex > 40)

            // Remove n3: it stops serving the group and says why; the others keep going.
            let current = try #require(cluster.leader(of: "kv"))
            let removed = await current.perform(.remove(name: "n3"), group: "kv")
            guard case .done(let afterRemoval) = removed else {
                Issue.record("removing n3 failed: \(removed)")
                return
            }
            #expect(afterRemoval.members.map(\.name) == ["n1", "n2", "n4"])
            #expect(afterRemoval.removed == [3])
            // n3 learns it (from the commit, or from the `removed` answer to its campaign), says so
            // and, with no group left to serve, stops.
            try await withTimeout(.seconds(10), "n3 saying it was removed") {
                _ = await recorder.first {
                    $0.message.contains("this node was removed from the group") && $0.metadata["raft.node"] == "n3"
                }
            }
            let n3 = try #require(cluster.nodes["n3"])
            // An id is never reused (n3 may have led and handed over: ask the leader now).
            let leaderNow = try await eventually(within: .seconds(10), "a leader of {n1, n2, n4}") {
                cluster.leader(of: "kv").flatMap { $0 === n3 ? nil : $0 }
            }
            let reuse = await leaderNow.perform(
                .add(MemberDirectory.Member(name: "n3", id: 0, peer: "", client: "", http: ""), asVoter: false),
                group: "kv"
            )
            guard case .rejected(let reason) = reuse else {
                Issue.record("re-adding n3 was not refused: \(reuse)")
                return
            }
            #expect(reason.contains("never reused"))

            // Writes go on with {n1, n2, n4}, and survive a restart of n4 (its membership is in
            // its own log now, not in the file that says it joins).
            try await cluster.stop("n3")
            try await cluster.crash("n4")
            let restarted = try await cluster.start("n4", logger: recorder.logger(label: "n4"))
            for sequence in 41...50 {
                let response = try await cluster.submitToLeader(
                    KV.put("key\(sequence)", "value\(sequence)", client: 9, sequence: UInt64(sequence)),
                    group: "kv"
                )
                #expect(KV.response(response) == .ok)
            }
            _ = try await eventually(within: .seconds(10), "n4 back as a voter, applying") {
                restarted.status().first.flatMap {
                    $0.membership.voters == [NodeID(1), NodeID(2), NodeID(4)] && $0.appliedIndex > 50 ? true : nil
                }
            }
            let read = try await cluster.submitToLeader(KV.get("key1"), group: "kv")
            #expect(KV.response(read) == .value("value1"))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
