import ClusterConfig
import Foundation
import KeyValueStore
import LockService
import NIOHTTP1
import RaftCore
import RaftStorage
import Testing

@testable import ReplicationHost

@Suite("HTTP API: members, leader, snapshot")
struct MembershipHTTPTests {
    @Test(
        "members and leader over HTTP: list anywhere, 307 to the leader, transfer, 409 for a change that cannot be made, 405 with Allow, a backup that decodes"
    )
    func membershipRoutes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil)],
            maxBodySize: 1 << 20,
            requestTimeout: .seconds(10),
            fixedHTTPPorts: true
        )
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            let leader = try #require(try await cluster.waitForLeaders()["kv"])
            let leaderPort = try #require(cluster.httpPorts[leader])
            let follower = try #require(cluster.httpPorts.keys.sorted().first { $0 != leader })
            let followerPort = try #require(cluster.httpPorts[follower])

            var answer = try await httpRequest(.GET, port: followerPort, "/v1/groups/kv/members")
            #expect(answer.status == 200)
            let members = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
            let list = try #require(members["members"] as? [[String: Any]])
            #expect(list.map { $0["name"] as? String } == ["n1", "n2", "n3"])
            #expect(list.allSatisfy { $0["role"] as? String == "voter" })
            #expect(members["leader"] as? String == leader)

            // A follower redirects a change to the leader.
            answer = try await httpRequest(.POST, port: followerPort, "/v1/groups/kv/leader", body: "{}")
            #expect(answer.status == 307)
            #expect(answer.headers.first(name: "location") == "http://127.0.0.1:\(leaderPort)/v1/groups/kv/leader")

            // The leader hands over to the follower named, and answers once it leads.
            answer = try await httpRequest(
                .POST,
                port: leaderPort,
                "/v1/groups/kv/leader",
                body: #"{"to":"\#(follower)"}"#
            )
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.body.contains(#""leader":"\#(follower)""#))

            // `follower` leads now. Changes that cannot be made: 409 with the reason.
            answer = try await httpRequest(.POST, port: followerPort, "/v1/groups/kv/members", body: #"{"name":"n9"}"#)
            #expect(answer.status == 409 && answer.body.contains("peer, client and http"), "\(answer.body)")
            answer = try await httpRequest(.DELETE, port: followerPort, "/v1/groups/kv/members/nope")
            #expect(answer.status == 409, "\(answer.body)")
            answer = try await httpRequest(.POST, port: followerPort, "/v1/groups/kv/members", body: "not json")
            #expect(answer.status == 400)
            answer = try await httpRequest(.PUT, port: followerPort, "/v1/groups/kv/members", body: "{}")
            #expect(answer.status == 405)
            #expect(answer.headers.first(name: "allow").map { $0.contains("GET") && $0.contains("POST") } == true)

            // A backup from the (new) leader decodes, with the members and an index past the writes.
            answer = try await httpRequest(.PUT, port: followerPort, "/v1/kv/backed-up", body: "yes")
            #expect(answer.status == 200)
            answer = try await httpRequest(.GET, port: followerPort, "/v1/groups/kv/snapshot")
            #expect(answer.status == 200)
            #expect(answer.contentType == "application/octet-stream")
            let backup = try SnapshotFile.decode(answer.bytes)
            #expect(backup.metadata.index >= 3)
            #expect(backup.metadata.membership.voters.count == 3)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    /// A backup is streamed from a file, a piece at a time, not built as one array: several
    /// pieces' worth arrives whole and checksummed, and the file is gone once it is sent.
    @Test("a backup of several MiB is streamed in pieces, decodes, and leaves no file in the data directory")
    func largeBackupIsStreamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil)],
            maxBodySize: 1 << 20,
            requestTimeout: .seconds(10)
        )
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            let leader = try #require(try await cluster.waitForLeaders()["kv"])
            let port = try #require(cluster.httpPorts[leader])
            let value = String(repeating: "v", count: 500_000)
            for key in 0..<8 {
                let put = try await httpRequest(.PUT, port: port, "/v1/kv/large-\(key)", body: value)
                #expect(put.status == 200)
            }
            let answer = try await httpRequest(.GET, port: port, "/v1/groups/kv/snapshot")
            #expect(answer.status == 200)
            #expect(answer.bytes.count > 3 * HTTPStreamedBody.pieceSize)
            let backup = try SnapshotFile.decode(answer.bytes)
            #expect(backup.data.count > 8 * 500_000)
            #expect(backup.metadata.index >= 9)
            let left = try FileManager.default.subpathsOfDirectory(atPath: directory.path).filter {
                $0.contains("backup-")
            }
            #expect(left.isEmpty, "backup files left behind: \(left)")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
