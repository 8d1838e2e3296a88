import Foundation
import NIOHTTP1
import Testing

/// Membership changes of real processes under load (issue scenarios a and b): concurrent
/// Clerks and HTTP clients keep appending and reading while a dead follower is replaced by a
/// brand-new node and the cluster grows from three voters to five and shrinks back to three;
/// every acknowledged append is on every final member, and the whole history is linearizable.
@Suite("rafthost processes: membership changes")
struct ProcessMembershipTests {
    @Test("replace a SIGKILLed follower with an empty node, grow 3 -> 5, shrink 5 -> 3, under load")
    func replaceGrowShrink() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // Small snapshots: the new nodes catch up from a snapshot, not from the whole log.
        let cluster = try await ProcessCluster(directory: directory, joining: 3, maxRaftState: 16384)
        defer { cluster.killAll() }
        let founders = ["n1", "n2", "n3"]
        for id in founders { try cluster.start(id) }
        _ = try await eventually(within: .seconds(20), "a first leader") { await cluster.leader(among: founders) }
        let workload = ProcessWorkload(cluster: cluster)
        var changes: [String] = []
        do {
            try await workload.progress("writes before the first change")

            // (a) A follower dies for good: remove it, add a brand-new node with empty data.
            let leader = try await eventually(within: .seconds(20), "a leader") { await cluster.leader(among: founders) }
            let dead = founders.first { $0 != leader }!
            cluster.kill(dead)
            try await Self.change(.DELETE, "/v1/groups/kv/members/\(dead)", cluster)
            changes.append("remove \(dead)")
            try await workload.progress("writes after removing \(dead)")
            try cluster.start("n4")
            try await Self.change(.POST, "/v1/groups/kv/members", cluster, body: #"{"name":"n4"}"#)
            changes.append("add n4")
            try await workload.progress("writes after adding n4")
            var voters = founders.filter { $0 != dead } + ["n4"]
            try await Self.expectVoters(voters, cluster)

            // (b) Grow to five voters, then shrink to three (the founders left go).
            for newcomer in ["n5", "n6"] {
                try cluster.start(newcomer)
                try await Self.change(.POST, "/v1/groups/kv/members", cluster, body: #"{"name":"\#(newcomer)"}"#)
                changes.append("add \(newcomer)")
                voters.append(newcomer)
                try await workload.progress("writes after adding \(newcomer)")
            }
            try await Self.expectVoters(voters, cluster)
            for leaving in founders where leaving != dead {
                try await Self.change(.DELETE, "/v1/groups/kv/members/\(leaving)", cluster)
                changes.append("remove \(leaving)")
                voters.removeAll { $0 == leaving }
                try await workload.progress("writes after removing \(leaving)")
            }
            try await Self.expectVoters(voters, cluster)
            #expect(voters == ["n4", "n5", "n6"])
        } catch {
            await workload.stop()
            print(cluster.logs())
            throw error
        }
        await workload.stop()

        let finalMembers = cluster.nodes.filter { ["n4", "n5", "n6"].contains($0.id) }
        try await workload.expectEveryAppend(on: finalMembers, of: cluster)
        let summary = try workload.checkHistory()
        print(
            "rafthost processes, membership: \(changes.joined(separator: ", ")) under load; "
                + "\(summary.native) native and \(summary.http) HTTP operations (\(summary.appends) acknowledged "
                + "appends), history \(summary.verdict)"
        )
    }

    /// Sends a membership change to the nodes until one (the leader, or where a redirect points)
    /// answers 200; 503 is retried.
    static func change(_ method: HTTPMethod, _ path: String, _ cluster: ProcessCluster, body: String? = nil) async throws {
        var ports = cluster.nodes.map(\.http)
        _ = try await eventually(within: .seconds(30), "\(method) \(path)") { () async throws -> Bool? in
            for port in ports {
                guard let answer = try? await httpRequest(method, port: port, path, body: body) else { continue }
                switch answer.status {
                case 200:
                    return true
                case 307:
                    if let location = answer.headers.first(name: "location"),
                        let target = URL(string: location)?.port
                    {
                        ports = [target] + ports.filter { $0 != target }
                    }
                case 409:
                    Issue.record("\(method) \(path) refused: \(answer.body)")
                    return true
                default:
                    continue
                }
            }
            return nil
        }
    }

    /// Waits until the leader's member list has exactly `voters` as voters.
    static func expectVoters(_ voters: [String], _ cluster: ProcessCluster) async throws {
        struct Members: Decodable {
            struct Member: Decodable { var name: String; var role: String }
            var members: [Member]
        }
        _ = try await eventually(within: .seconds(20), "voters \(voters)") { () async throws -> Bool? in
            for node in cluster.nodes {
                guard let answer = try? await httpRequest(.GET, port: node.http, "/v1/groups/kv/members"),
                    answer.status == 200,
                    let view = try? JSONDecoder().decode(Members.self, from: Data(answer.body.utf8)),
                    view.members.contains(where: { _ in true })
                else { continue }
                let found = view.members.filter { $0.role == "voter" }.map(\.name).sorted()
                if found == voters.sorted() { return true }
            }
            return nil
        }
    }
}
