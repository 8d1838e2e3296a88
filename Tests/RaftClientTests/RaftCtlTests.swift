import ClusterConfig
import Foundation
import RaftClient
import Testing

@testable import raftctl

@Suite("raftctl", .timeLimit(.minutes(1)))
struct RaftCtlTests {
    @Test(
        "bad command lines exit with the usage status, help with success",
        arguments: [
            (["kv", "cas", "--endpoints", "127.0.0.1:1", "k", "v"], RaftCtlStatus.usage),
            (["kv", "cas", "--endpoints", "127.0.0.1:1", "--expected", "a", "--missing", "k", "v"], .usage),
            (["kv", "get", "--config", "c.yaml", "--endpoints", "127.0.0.1:1", "k"], .usage),
            (["kv", "get", "--endpoints", "127.0.0.1", "k"], .usage),
            (["kv", "get", "--timeout", "soon", "--endpoints", "127.0.0.1:1", "k"], .usage),
            (["kv", "frobnicate"], .usage),
            (["kv", "get", "--config", "/nonexistent/cluster.yaml", "k"], .usage),
            (["--help"], .success),
        ]
    )
    func usage(arguments: [String], status: RaftCtlStatus) async {
        #expect(await RaftCtl.execute(arguments) == status)
    }

    @Test("client errors map to exit statuses")
    func clientErrorStatuses() {
        #expect(RaftCtlStatus(for: RaftClientError(.unavailable, "")) == .unavailable)
        #expect(RaftCtlStatus(for: RaftClientError(.sessionExpired, "")) == .unavailable)
        #expect(RaftCtlStatus(for: RaftClientError(.unknownGroup, "")) == .usage)
        #expect(RaftCtlStatus(for: RaftClientError(.invalidResponse, "")) == .usage)
    }

    @Test("the /v1/status schema: the host's encoding, member for member, is what raftctl status decodes")
    func statusSchema() throws {
        let status = NodeStatus(
            node: "n1",
            groups: [
                NodeStatus.Group(
                    name: "kv",
                    stateMachine: "KeyValueStore",
                    role: "leader",
                    term: 3,
                    leader: "n1",
                    commitIndex: 9,
                    appliedIndex: 8,
                    lastIndex: 10,
                    snapshotIndex: 4
                ),
                NodeStatus.Group(
                    name: "locks",
                    stateMachine: "LockService",
                    role: "follower",
                    term: 2,
                    leader: nil,
                    commitIndex: 0,
                    appliedIndex: 0,
                    lastIndex: 0,
                    snapshotIndex: 0
                ),
            ]
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(status), as: UTF8.self)
        #expect(
            json == #"{"groups":[{"appliedIndex":8,"commitIndex":9,"lastIndex":10,"leader":"n1","name":"kv","#
                + #""role":"leader","snapshotIndex":4,"stateMachine":"KeyValueStore","term":3},"#
                + #"{"appliedIndex":0,"commitIndex":0,"lastIndex":0,"leader":null,"name":"locks","role":"follower","#
                + #""snapshotIndex":0,"stateMachine":"LockService","term":2}],"node":"n1"}"#
        )
        #expect(try JSONDecoder().decode(NodeStatus.self, from: Data(json.utf8)) == status)
    }

    @Test("durations and endpoint lists parse as documented")
    func argumentValues() throws {
        #expect(DurationArgument(argument: "500ms")?.duration == .milliseconds(500))
        #expect(DurationArgument(argument: "1.5s")?.duration == .milliseconds(1500))
        #expect(DurationArgument(argument: "2m")?.duration == .seconds(120))
        for bad in ["5", "-1s", "0s", "s", "1h"] {
            #expect(DurationArgument(argument: bad) == nil, "\(bad)")
        }
        let endpoints = try ClusterOptions.parseEndpoints("127.0.0.1:7201, [::1]:7202,localhost:7203")
        #expect(endpoints.map(\.description) == ["n1@127.0.0.1:7201", "n2@[::1]:7202", "n3@localhost:7203"])
        #expect(throws: (any Error).self) { try ClusterOptions.parseEndpoints("127.0.0.1:7201,,") }
        #expect(throws: (any Error).self) { try ClusterOptions.parseEndpoints(":7201") }
        #expect(throws: (any Error).self) { try ClusterOptions.parseEndpoints("h:70000") }
    }

    @Test("kv commands exit 0, 1 for a missing key or a failed swap, 2 for an unknown group, 3 when no node answers")
    func keyValueStatuses() async throws {
        let node = try await FakeNode(node: 1) { [backend = try KeyValueBackend()] in .respond(backend.handle($0)) }
        let cluster = ["--endpoints", "127.0.0.1:\(node.port)"]
        #expect(await RaftCtl.execute(["kv", "put"] + cluster + ["k", "v"]) == .success)
        #expect(await RaftCtl.execute(["kv", "append"] + cluster + ["k", "w"]) == .success)
        #expect(await RaftCtl.execute(["kv", "get"] + cluster + ["k"]) == .success)
        #expect(await RaftCtl.execute(["kv", "get", "--stale"] + cluster + ["missing"]) == .notFound)
        #expect(await RaftCtl.execute(["kv", "cas"] + cluster + ["--expected", "v", "k", "x"]) == .notFound)
        #expect(await RaftCtl.execute(["kv", "cas"] + cluster + ["--expected", "vw", "k", "x"]) == .success)
        #expect(await RaftCtl.execute(["kv", "cas"] + cluster + ["--missing", "new", "1"]) == .success)
        #expect(await RaftCtl.execute(["kv", "delete"] + cluster + ["k"]) == .success)
        #expect(await RaftCtl.execute(["kv", "delete"] + cluster + ["k"]) == .notFound)
        #expect(await RaftCtl.execute(["kv", "get", "--group", "other"] + cluster + ["k"]) == .usage)
        // The cluster options may also come before the subcommands.
        #expect(await RaftCtl.execute(cluster + ["kv", "put", "k2", "v"]) == .success)
        #expect(await RaftCtl.execute(["kv"] + cluster + ["get", "k2"]) == .success)
        try await node.stop()
        #expect(await RaftCtl.execute(["kv", "get", "--timeout", "200ms"] + cluster + ["k"]) == .unavailable)
    }
}
