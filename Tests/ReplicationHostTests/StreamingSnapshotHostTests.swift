import ClusterConfig
import KeyValueStore
import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import Testing

@testable import ReplicationHost

@Suite("Streaming snapshots through the host")
struct StreamingSnapshotHostTests {
    @Test("a follower behind the compacted log gets a snapshot of many chunks from the leader's file and restores it")
    func multiChunkSnapshotReachesARestartedFollower() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let chunkSize = 4_096
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "big", stateMachine: StreamOnlyKeyValueStore.name, maxRaftState: 16_384)],
            raft: .init(
                heartbeat: .milliseconds(10),
                electionTimeout: .milliseconds(100),
                snapshotChunkSize: chunkSize
            ),
            plugins: [StreamOnlyKeyValueStore.self]
        )
        let recorder = LogRecorder()
        var sequence: UInt64 = 0
        func put(_ count: Int) async throws {
            for _ in 0..<count {
                sequence += 1
                let command = KeyValueStore.Command.put(
                    key: "key\(sequence % 150)",
                    value: String(repeating: "v", count: 300) + "\(sequence)"
                )
                let request = Replica.ClientCommand(clientID: 1, sequence: sequence, command: command.encoded())
                let response = try await cluster.submitToLeader(.command(request), group: "big")
                guard case .ok = response else { throw TimedOut(description: "write \(sequence): \(response)") }
            }
        }
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            try await put(3)
            let leaderID = try await eventually(within: .seconds(10), "a leader") { () -> String? in
                cluster.nodes.first { $0.value.status()[0].role == .leader }?.key
            }
            let followerID = try #require(["n1", "n2", "n3"].first { $0 != leaderID })
            try await cluster.crash(followerID)
            // About 45 KiB of state: a snapshot of a dozen chunks, which the leader takes past 16 KiB of log.
            try await put(300)
            let leader = try #require(cluster.nodes[leaderID])
            // Snapshots run on one thread per process, shared with other tests: wait for a late one.
            let compacted = try await eventually(within: .seconds(30), "the leader compacting") { () -> LogIndex? in
                let status = leader.status()[0]
                return status.snapshotIndex > 200 ? status.snapshotIndex : nil
            }

            let followerLog = LogRecorder()
            let follower = try await cluster.start(followerID, logger: followerLog.logger(label: followerID))
            try await put(5)
            let expected = String(repeating: "v", count: 300) + "\(sequence)"
            let key = "key\(sequence % 150)"
            let value = try await eventually(within: .seconds(20), "\(followerID) holding the last write") {
                () -> String? in
                let query = KeyValueStore.Query.get(key: key).encoded()
                guard case .ok(let bytes) = await follower.submit(.query(query, consistency: .stale), group: "big"),
                    case .value(let value) = try KeyValueStore.Response(decoding: bytes), value == expected
                else { return nil }
                return value
            }
            #expect(value == expected)
            let status = follower.status()[0]
            #expect(status.snapshotIndex >= compacted, "caught up by the leader's snapshot, not by its log")
            // The executor answers what the restore completed before it logs the restore.
            _ = try await eventually(within: .seconds(5), "\(followerID) logging the restore") {
                followerLog.count { $0.message == "snapshot restored" } >= 1 ? true : nil
            }
            let bytes = followerLog.records.first { $0.message == "restoring a snapshot from the leader" }?
                .metadata["raft.snapshotBytes"].flatMap { Int("\($0)") }
            #expect((bytes ?? 0) > 8 * chunkSize, "a snapshot of \(bytes ?? 0) bytes is not several chunks")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
