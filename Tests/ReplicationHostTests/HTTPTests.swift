import ClusterConfig
import Foundation
import KeyValueStore
import LockService
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RaftCore
import RaftTransport
import StateMachineAPI
import Testing

@testable import ReplicationHost

/// Three in-process nodes (over `InProcessTransport`) whose HTTP APIs listen on loopback.
///
/// The HTTP API forwards through the nodes' native client ports, which it finds in the
/// configuration, so those ports are chosen before the nodes start (free ports found by
/// binding port 0); the HTTP ports are ephemeral unless `fixedHTTPPorts` (the cluster view of
/// `/v1/cluster` asks the other nodes at their configured HTTP addresses).
final class HTTPCluster {
    let configuration: ClusterConfiguration
    let hub: InProcessTransportHub
    private(set) var nodes: [String: RaftNode] = [:]
    private(set) var httpPorts: [String: Int] = [:]
    private var tasks: [String: Task<Void, any Error>] = [:]

    init(
        directory: TemporaryDirectory,
        groups: [ClusterConfiguration.Group],
        maxBodySize: Int,
        requestTimeout: Duration = .seconds(5),
        fixedHTTPPorts: Bool = false
    ) async throws {
        let clientPorts = try await freePorts(fixedHTTPPorts ? 6 : 3)
        let loopback = ClusterConfiguration.Address(host: "127.0.0.1", port: 0)
        configuration = ClusterConfiguration(
            name: "http",
            dataDirectory: directory.path,
            nodes: (1...3).map {
                .init(
                    id: "n\($0)",
                    numericID: UInt64($0),
                    peer: loopback,
                    client: .init(host: "127.0.0.1", port: clientPorts[$0 - 1]),
                    http: fixedHTTPPorts ? .init(host: "127.0.0.1", port: clientPorts[$0 + 2]) : loopback
                )
            },
            groups: groups,
            // Slower than the other in-process tests: fewer needless elections on a loaded machine.
            raft: .init(heartbeat: .milliseconds(20), electionTimeout: .milliseconds(300)),
            storage: .init(fsync: .never),
            http: .init(maxBodySize: maxBodySize),
            requestTimeout: requestTimeout
        )
        hub = InProcessTransportHub(clusterName: "http", groups: groups.map(\.name))
    }

    func start(_ id: String, logger: Logger) async throws {
        let member = try #require(configuration.node(id: id))
        let transport = hub.makeTransport(for: NodeID(member.numericID))
        let node = try RaftNode(
            configuration: configuration,
            node: id,
            transport: transport,
            startTransport: {},
            shutdownTransport: { transport.shutdown() },
            registry: try StateMachineRegistry([KeyValueStore.self, LockService.self]),
            // A registry per node: another test of this process may have bootstrapped the
            // process-wide backend, and its nodes have the same ids and group names.
            metricsFactory: RaftHostMetrics.prometheusFactory(),
            logger: logger
        )
        httpPorts[id] = try await node.start().http.port
        nodes[id] = node
        tasks[id] = Task { try await node.run() }
    }

    /// Stops node `id` (gracefully: its listeners close, a leader hands over first).
    func stop(_ id: String) async {
        nodes[id]?.shutdown()
        try? await tasks[id]?.value
        nodes[id] = nil
    }

    func stopAll() async {
        for (id, node) in nodes {
            node.shutdown()
            try? await tasks[id]?.value
        }
        nodes = [:]
    }

    /// The leader of each group, once `/v1/status` of every node agrees on it.
    func waitForLeaders() async throws -> [String: String] {
        try await eventually(within: .seconds(30), "one leader of every group, agreed on by all nodes") {
            var leaders: [String: Set<String>] = [:]
            for port in httpPorts.values {
                let status = try await httpRequest(.GET, port: port, "/v1/status")
                guard let json = try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any],
                    let groups = json["groups"] as? [[String: Any]]
                else { return nil }
                for group in groups {
                    guard let name = group["name"] as? String, let leader = group["leader"] as? String else {
                        return nil
                    }
                    leaders[name, default: []].insert(leader)
                }
            }
            guard leaders.count == configuration.groups.count, leaders.values.allSatisfy({ $0.count == 1 }) else {
                return nil
            }
            return leaders.compactMapValues(\.first)
        }
    }
}

struct HTTPResult: Sendable {
    var status: Int
    var contentType: String?
    var body: String
    var bytes: [UInt8] = []
    var headers = HTTPHeaders()
}

/// One HTTP/1.1 request on a fresh connection. `connected` runs once the connection is up,
/// just before the request is written (a request that never connected reached no server).
func httpRequest(
    _ method: HTTPMethod,
    port: Int,
    _ path: String,
    body: String? = nil,
    bytes: [UInt8]? = nil,
    headers extraHeaders: [(String, String)] = [],
    tls: NIOSSLContext? = nil,
    connected: @Sendable () -> Void = {}
) async throws -> HTTPResult {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                }
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                    wrappingChannelSynchronously: channel
                )
            }
        }
    connected()
    return try await channel.executeThenClose { inbound, outbound in
        var headers = HTTPHeaders([("host", "127.0.0.1:\(port)")] + extraHeaders)
        let payload = bytes.map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: body ?? "")
        if body != nil || bytes != nil || method == .PUT || method == .POST {
            headers.add(name: "content-length", value: "\(payload.readableBytes)")
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(payload)), .end(nil)])
        var result = HTTPResult(status: 0, contentType: nil, body: "")
        var received = ByteBuffer()
        for try await part in inbound {
            switch part {
            case .head(let head):
                result.status = Int(head.status.code)
                result.contentType = head.headers.first(name: "content-type")
                result.headers = head.headers
            case .body(var chunk):
                received.writeBuffer(&chunk)
            case .end:
                result.body = String(buffer: received)
                result.bytes = Array(received.readableBytesView)
                return result
            }
        }
        throw TimedOut(description: "the connection closed before the response ended")
    }
}

@Suite("HTTP API")
struct HTTPTests {
    static let groups: [ClusterConfiguration.Group] = [
        .init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil),
        .init(name: "locks", stateMachine: LockService.name, maxRaftState: nil),
    ]

    /// Starts three nodes running ``groups``, waits for the kv group's leader and runs `body`
    /// with its id and the HTTP ports of the leader and of a follower; stops the nodes however
    /// `body` ends.
    private static func withThreeNodes(
        _ body: (_ leaderID: String, _ leader: Int, _ follower: Int) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // A generous request timeout: the whole suite runs CPU-bound tests on the same two cores.
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: groups,
            maxBodySize: 1024,
            requestTimeout: .seconds(20)
        )
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            let leaderID = try #require(try await cluster.waitForLeaders()["kv"])
            let leader = try #require(cluster.httpPorts[leaderID])
            let follower = try #require(cluster.httpPorts.first { $0.key != leaderID }?.value)
            try await body(leaderID, leader, follower)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("key/value, locks, status and metrics over HTTP on a three-node cluster, through any node")
    func api() async throws {
        try await Self.withThreeNodes { leaderID, leader, follower in

            // Writes on the leader, reads on a follower (forwarded, linearizable).
            var result = try await httpRequest(.PUT, port: leader, "/v1/kv/greeting", body: "hello")
            #expect(result.status == 200)
            result = try await httpRequest(.GET, port: follower, "/v1/kv/greeting")
            #expect(result.status == 200 && result.body == "hello")
            #expect(result.contentType == "application/octet-stream")

            // Writes on a follower are forwarded too; keys are percent-decoded.
            result = try await httpRequest(.POST, port: follower, "/v1/kv/greeting/append", body: ", world")
            #expect(result.status == 200)
            result = try await httpRequest(.PUT, port: follower, "/v1/kv/a%2Fb%20c", body: "slash")
            #expect(result.status == 200)
            result = try await httpRequest(.GET, port: leader, "/v1/kv/a%2Fb%20c")
            #expect(result.status == 200 && result.body == "slash")
            result = try await httpRequest(.GET, port: leader, "/v1/groups/kv/kv/greeting")
            #expect(result.status == 200 && result.body == "hello, world")

            // A stale read on the follower catches up with the commit.
            let stale = try await eventually(within: .seconds(20), "the follower applies the append") {
                let read = try await httpRequest(.GET, port: follower, "/v1/kv/greeting?consistency=stale")
                return read.body == "hello, world" ? read : nil
            }
            #expect(stale.status == 200)

            // Missing keys.
            result = try await httpRequest(.GET, port: follower, "/v1/kv/missing")
            #expect(result.status == 404 && result.body.contains(#""error":"ErrNoKey""#))
            result = try await httpRequest(.DELETE, port: follower, "/v1/kv/missing")
            #expect(result.status == 404 && result.body.contains("ErrNoKey"))

            // Compare-and-swap.
            result = try await httpRequest(
                .POST,
                port: follower,
                "/v1/kv/greeting/cas",
                body: #"{"expected":"hello, world","new":"bye"}"#
            )
            #expect(result.status == 200)
            #expect(result.body.contains(#""swapped":true"#) && result.body.contains(#""current":"bye""#))
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/kv/greeting/cas",
                body: #"{"expected":"hello, world","new":"again"}"#
            )
            #expect(result.status == 409)
            #expect(result.body.contains(#""swapped":false"#) && result.body.contains(#""current":"bye""#))
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/kv/fresh/cas",
                body: #"{"expected":null,"new":"1"}"#
            )
            #expect(result.status == 200)
            result = try await httpRequest(.POST, port: leader, "/v1/kv/greeting/cas", body: #"{"expected": 3"#)
            #expect(result.status == 400 && result.body.contains("error"))

            // Delete.
            result = try await httpRequest(.DELETE, port: follower, "/v1/kv/greeting")
            #expect(result.status == 200)
            result = try await httpRequest(.GET, port: leader, "/v1/kv/greeting")
            #expect(result.status == 404)

            // Limits and errors.
            result = try await httpRequest(.PUT, port: leader, "/v1/kv/big", body: String(repeating: "x", count: 2048))
            #expect(result.status == 413)
            result = try await httpRequest(
                .PUT,
                port: leader,
                "/v1/kv/small",
                body: String(repeating: "x", count: 1024)
            )
            #expect(result.status == 200)
            result = try await httpRequest(.PATCH, port: leader, "/v1/kv/small")
            #expect(result.status == 405)
            result = try await httpRequest(.GET, port: leader, "/v2/nothing")
            #expect(result.status == 404)
            result = try await httpRequest(.GET, port: leader, "/v1/groups/nope/kv/k")
            #expect(result.status == 404)
            result = try await httpRequest(.GET, port: leader, "/v1/kv/k?consistency=sometimes")
            #expect(result.status == 400)
            result = try await httpRequest(.GET, port: leader, "/v1/kv/%zz")
            #expect(result.status == 400)
            result = try await httpRequest(.GET, port: leader, "/v1/groups/locks/kv/k")
            #expect(result.status == 404)

            // Locks.
            result = try await httpRequest(
                .POST,
                port: follower,
                "/v1/groups/locks/locks/printer/acquire",
                body: #"{"owner":"alice","leaseMs":60000}"#
            )
            #expect(result.status == 200 && result.body.contains(#""owner":"alice""#))
            let granted = try #require(
                try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
            )
            let token = try #require(granted["token"] as? Int)
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/locks/locks/printer/acquire",
                body: #"{"owner":"bob","leaseMs":60000}"#
            )
            #expect(result.status == 409 && result.body.contains(#""error":"held""#))
            result = try await httpRequest(.GET, port: follower, "/v1/groups/locks/locks/printer")
            #expect(result.status == 200 && result.body.contains("alice"))
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/locks/locks/printer/release",
                body: #"{"owner":"alice","token":\#(token)}"#
            )
            #expect(result.status == 200)
            result = try await httpRequest(.GET, port: leader, "/v1/groups/locks/locks/printer")
            #expect(result.status == 404)
            result = try await httpRequest(.POST, port: leader, "/v1/groups/locks/locks/printer/acquire", body: "{}")
            #expect(result.status == 400)

            // Status and metrics.
            result = try await httpRequest(.GET, port: follower, "/v1/status")
            #expect(result.status == 200 && result.contentType == "application/json")
            let status = try #require(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])
            let groups = try #require(status["groups"] as? [[String: Any]])
            #expect(groups.map { $0["name"] as? String } == ["kv", "locks"])
            #expect(groups.allSatisfy { $0["leader"] is String && $0["term"] is Int && $0["commitIndex"] is Int })
            let roles: Set<String> = ["follower", "preCandidate", "candidate", "leader"]
            #expect(groups.allSatisfy { roles.contains($0["role"] as? String ?? "") })
            result = try await httpRequest(.GET, port: leader, "/metrics")
            #expect(result.status == 200)
            #expect(result.body.contains(#"rafthost_commit_index{node="\#(leaderID)",group="kv"}"#))
            #expect(result.body.contains(#"rafthost_is_leader{node="\#(leaderID)",group="kv"} "#))
            #expect(result.body.contains("# TYPE rafthost_fsyncs_total counter"))
            // The leader proposed the writes above, synced them, and sees both followers' lag.
            #expect(!result.body.contains(#"rafthost_proposals_total{node="\#(leaderID)",group="kv"} 0"#))
            #expect(result.body.contains(#"rafthost_fsync_seconds_bucket{node="\#(leaderID)",group="kv",le="+Inf"}"#))
            #expect(result.body.contains("# TYPE rafthost_fsync_seconds histogram"))
            #expect(result.body.contains(#"rafthost_replication_lag_entries{node="\#(leaderID)",group="kv",peer=""#))
            #expect(result.body.contains("# TYPE rafthost_elections_total counter"))
        }
    }

    @Test("any plugin through POST /v1/groups/{group}/command and /query: binary, JSON, exactly-once headers, errors")
    func genericEndpoints() async throws {
        try await Self.withThreeNodes { leaderID, leader, follower in
            let json = [("content-type", "application/json")]
            let binary = [("content-type", "application/octet-stream")]

            // JSON: the Codable shapes of KeyValueStore's Command, Query and Response.
            var result = try await httpRequest(
                .POST,
                port: follower,
                "/v1/groups/kv/command",
                body: #"{"put":{"key":"j","value":"1"}}"#,
                headers: json
            )
            #expect(result.status == 200 && result.contentType == "application/json")
            #expect(result.body == #"{"ok":{}}"# + "\n")
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/kv/query",
                body: #"{"get":{"key":"j"}}"#,
                headers: json
            )
            #expect(result.status == 200 && result.body == #"{"value":{"_0":"1"}}"# + "\n")

            // Binary: the plugin's own encoding, answered in kind.
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/kv/command",
                bytes: KeyValueStore.Command.append(key: "j", value: "2").encoded(),
                headers: binary
            )
            #expect(result.status == 200 && result.contentType == "application/octet-stream")
            #expect(try KeyValueStore.Response(decoding: result.bytes) == .ok)

            // The same client id and sequence number, sent twice to two nodes: applied once.
            let once = json + [("Raft-Client-ID", "4242"), ("Raft-Sequence", "1")]
            for port in [follower, leader] {
                result = try await httpRequest(
                    .POST,
                    port: port,
                    "/v1/groups/kv/command",
                    body: #"{"append":{"key":"j","value":"3"}}"#,
                    headers: once
                )
                #expect(result.status == 200)
            }
            result = try await httpRequest(.GET, port: follower, "/v1/kv/j")
            #expect(result.body == "123")

            // Refusals change nothing.
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/kv/command",
                body: #"{"put":{"key":"j"}}"#,
                headers: json
            )
            #expect(result.status == 400 && result.body.contains("not a KeyValueStore command in JSON"))
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/kv/command",
                body: #"{"put":{"key":"j","value":"x"}}"#,
                headers: json + [("Raft-Client-ID", "7")]
            )
            #expect(result.status == 400 && result.body.contains("Raft-Sequence"))
            result = try await httpRequest(
                .POST,
                port: leader,
                "/v1/groups/locks/command",
                body: #"{"acquire":{}}"#,
                headers: json
            )
            #expect(result.status == 415 && result.body.contains("LockService"))
            #expect(result.body.contains("application/octet-stream"))
            result = try await httpRequest(.POST, port: leader, "/v1/groups/kv/command", body: "put j x")
            #expect(result.status == 415)
            result = try await httpRequest(.POST, port: leader, "/v1/groups/nope/command", body: "{}", headers: json)
            #expect(result.status == 404 && result.body.contains("nope"))
            result = try await httpRequest(.GET, port: leader, "/v1/groups/kv/command")
            #expect(result.status == 405)
            result = try await httpRequest(.GET, port: leader, "/v1/kv/j")
            #expect(result.body == "123")
        }
    }

    @Test("a write that cannot commit is answered 503 before the request timeout, never 200")
    func noQuorum() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(
            directory: directory,
            groups: Self.groups,
            maxBodySize: 1024,
            requestTimeout: .milliseconds(500)
        )
        let recorder = LogRecorder()
        do {
            // One node of three: no leader can be elected, nothing can commit.
            try await cluster.start("n1", logger: recorder.logger(label: "n1"))
            let port = try #require(cluster.httpPorts["n1"])
            let started = ContinuousClock.now
            let result = try await httpRequest(.PUT, port: port, "/v1/kv/k", body: "v")
            #expect(result.status == 503)
            #expect(result.body.contains(#""error":"unavailable: "#))
            // Well before a client would give up, even on a busy machine.
            #expect(ContinuousClock.now - started < .seconds(30))
            let read = try await httpRequest(.GET, port: port, "/v1/kv/k")
            #expect(read.status == 503)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("raftctl status reads every node's /v1/status; exit 0 with leaders, 3 once no group can have one")
    func raftctlStatus() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(directory: directory, groups: Self.groups, maxBodySize: 1024)
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            _ = try await cluster.waitForLeaders()
            let endpoints = ["n1", "n2", "n3"].compactMap { cluster.httpPorts[$0].map { "127.0.0.1:\($0)" } }
                .joined(separator: ",")
            let json = try await runRaftctl(["status", "--http-endpoints", endpoints, "--json", "--timeout", "30s"])
            #expect(json.status == 0)
            let output = try #require(
                try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
            )
            #expect(output["healthy"] as? Bool == true)
            let nodes = try #require(output["nodes"] as? [[String: Any]])
            #expect(nodes.map { $0["node"] as? String } == ["n1", "n2", "n3"])
            let table = try await runRaftctl(["status", "--http-endpoints", endpoints, "--timeout", "30s"])
            #expect(table.status == 0)
            #expect(table.output.contains("| NODE | ADDRESS"))
            // Exit status 0: a leader of each group answered (two groups, so at least two rows).
            #expect(table.output.components(separatedBy: "| leader ").count - 1 >= 2)
            #expect(["n1", "n2", "n3"].allSatisfy { table.output.contains("| \($0)   | 127.0.0.1:") })

            // Two nodes of three down: the last one cannot lead (check-quorum steps a leader down).
            let survivor = "n3"
            for id in ["n1", "n2"] {
                cluster.nodes[id]?.shutdown()
            }
            let unhealthy = try await eventually(within: .seconds(30), "raftctl status exits with 3") {
                let result = try await runRaftctl(["status", "--http-endpoints", endpoints, "--timeout", "5s"])
                return result.status == 3 ? result : nil
            }
            #expect(unhealthy.output.contains("unreachable"))
            #expect(unhealthy.output.contains("| \(survivor) "))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test(
        "raftctl bench: every append of a --total run is applied exactly once, and the summary says how long they took"
    )
    func raftctlBench() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await HTTPCluster(directory: directory, groups: Self.groups, maxBodySize: 1 << 20)
        let recorder = LogRecorder()
        do {
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: recorder.logger(label: id))
            }
            _ = try await cluster.waitForLeaders()
            let endpoints = cluster.configuration.nodes.map { "\($0.client.host):\($0.client.port)" }
                .joined(separator: ",")
            let total = 300
            let result = try await runRaftctl([
                "bench", "--endpoints", endpoints, "--op", "append", "--clients", "4", "--conns", "2", "--keys", "1",
                "--value-size", "3", "--total", "\(total)", "--json", "--timeout", "30s",
            ])
            #expect(result.status == 0)
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            )
            #expect(summary["requests"] as? Int == total)
            #expect(summary["errors"] as? Int == 0)
            let percentiles = ["mean_ms", "p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms"].compactMap {
                summary[$0] as? Double
            }
            #expect(percentiles.count == 6 && percentiles.allSatisfy { $0 > 0 })
            #expect(
                percentiles[1] <= percentiles[2] && percentiles[2] <= percentiles[3] && percentiles[3] <= percentiles[5]
            )
            // Retried appends carry the same session ids: the key holds each of them once.
            let port = try #require(cluster.httpPorts["n1"])
            let read = try await httpRequest(.GET, port: port, "/v1/kv/bench-00000001")
            #expect(read.status == 200)
            #expect(read.body.utf8.count == total * 3, "\(read.body.utf8.count) bytes for \(total) appends of 3")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test(
        "path segments are percent-decoded",
        arguments: [
            ("abc", "abc"), ("a%2Fb", "a/b"), ("%E2%82%AC", "€"), ("a%20b", "a b"), ("%zz", nil), ("%E2%82", nil),
            ("%4", nil),
        ] as [(String, String?)]
    )
    func percentDecoding(encoded: String, decoded: String?) {
        #expect(HTTPAPI.percentDecoded(encoded[...]) == decoded)
    }
}

/// Runs the `raftctl` built next to this test bundle; its exit status and standard output.
func runRaftctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    var candidates: [String] = []
    if let bundle = Bundle.main.executableURL {
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("raftctl").path)
    }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(packageRoot.appendingPathComponent(".build/debug/raftctl").path)
    guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TimedOut(description: "no raftctl executable in \(candidates); run `swift build` first")
    }
    // Standard output goes to a file, read once raftctl has exited: reading a pipe would block
    // a thread of the cooperative pool that the in-process nodes need to answer raftctl.
    let directory = try TemporaryDirectory()
    defer { directory.cleanUp() }
    let outputPath = directory.path + "/stdout"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    let exited = AsyncStream<Int32>.makeStream()
    process.terminationHandler = { process in
        exited.continuation.yield(process.terminationStatus)
        exited.continuation.finish()
    }
    try process.run()
    try output.close()
    var status: Int32 = -1
    for await code in exited.stream { status = code }
    let text = try String(contentsOfFile: outputPath, encoding: .utf8)
    return (status, text)
}
