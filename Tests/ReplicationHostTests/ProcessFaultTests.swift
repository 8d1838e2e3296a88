import Foundation
import KeyValueClient
import KeyValueStore
import NIOHTTP1
import NIOSSL
import RaftClient
import RaftCore
import RaftTesting
import Synchronization
import Testing

/// Real processes under faults, with real clients: concurrent Clerks (native protocol) and
/// HTTP clients (each request to a random node, which forwards it) keep appending and reading
/// while the leader is SIGKILLed and restarted and a node is paused with SIGSTOP and resumed
/// with SIGCONT. Afterwards every acknowledged append is on every node exactly once,
/// in order, and the whole history is linearizable.
@Suite("rafthost processes under faults", .timeLimit(.minutes(5)))
struct ProcessFaultTests {
    typealias Recorder = LinearizabilityRecorder<KeyValueModel.Input, KeyValueStore.Response>

    /// The second case runs it on the cluster of cluster-tls.yaml: TLS on every port, peers
    /// bound to their node ids, and clients with a token of role write. The cases run one after
    /// the other: each ends with a linearizability check that holds a thread of the (two-thread)
    /// concurrency pool for up to a minute, and two at once would starve every other test.
    @Test(
        "no acknowledged write is lost through SIGKILL, restart, SIGSTOP and SIGCONT",
        .serialized,
        arguments: [false, true]
    )
    func faultsLoseNothing(tls: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = try await ProcessCluster(directory: directory, tls: tls)
        defer { cluster.killAll() }
        let all = try await cluster.startFounders()
        try await Self.expectClusterViewReachesEveryNode(cluster)

        let workload = ProcessWorkload(cluster: cluster)
        var kills = 0
        var pauses = 0
        for round in 0..<2 {
            try await workload.progress("writes before round \(round)")
            let leader = try await eventually(within: .seconds(20), "a leader (round \(round))") {
                await cluster.leader(among: all)
            }
            await cluster.kill(leader)
            kills += 1
            try await workload.progress("writes after killing \(leader)")
            try cluster.start(leader)
            try await workload.progress("writes after restarting \(leader)")
            let paused = all[(all.firstIndex(of: leader)! + 1 + round) % all.count]
            cluster.signal(paused, SIGSTOP)
            pauses += 1
            try await workload.progress("writes while \(paused) is stopped")
            cluster.signal(paused, SIGCONT)
        }
        try await workload.progress("writes after the last fault")
        await workload.stop()

        try await workload.expectEveryAppend(on: cluster.nodes, of: cluster)
        let summary = try await workload.checkHistory()
        print(
            "rafthost processes under faults\(tls ? " (TLS, tokens)" : ""): \(summary.native) native and \(summary.http) HTTP operations "
                + "(\(summary.appends) acknowledged appends), \(kills) leader kills, \(pauses) pauses, "
                + "history \(summary.verdict)"
        )
    }

    /// Appends and reads over HTTP, each request to a random node. A request that fails or
    /// times out has an unknown outcome: it stays open in the history and is not counted as
    /// acknowledged (HTTP requests are not retried with the same session id).
    static func runHTTPClient(
        _ client: Int,
        ports: [Int],
        security: HTTPSecurity,
        recorder: Recorder,
        shared: SharedWorkload
    ) async {
        var n = 0
        while !shared.stop.load(ordering: .relaxed) {
            let key = "k\(client)"
            let port = ports.randomElement()!
            let isRead = n % 3 == 2
            let value = "x \(client) \(n) y"
            let input: KeyValueModel.Input = isRead ? .get(key) : .append(key, value)
            // The call is recorded once the connection is up: a refused connection (a killed
            // node) reached no server and is no operation at all.
            let ticket = Mutex<Recorder.Ticket?>(nil)
            let result = try? await withTimeout(.seconds(3), "HTTP request") {
                try await httpRequest(
                    isRead ? .GET : .POST,
                    port: port,
                    isRead ? "/v1/kv/\(key)" : "/v1/kv/\(key)/append",
                    body: isRead ? nil : value,
                    headers: security.token.map { [("authorization", "Bearer \($0)")] } ?? [],
                    tls: security.tls,
                    connected: { ticket.withLock { $0 = recorder.call(client: client, input) } }
                )
            }
            if let ticket = ticket.withLock({ $0 }), let result {
                switch (isRead, result.status) {
                case (true, 200): recorder.returned(ticket, .value(result.body))
                case (true, 404): recorder.returned(ticket, .noKey)
                case (false, 200):
                    recorder.returned(ticket, .ok)
                    shared.acknowledged.withLock { $0[client, default: []].append(value) }
                default: break  // 503 and the like: the outcome stays unknown
                }
            }
            n += 1
        }
    }

    /// The console's cluster view, asked of n1, shows every node reachable: over HTTPS with
    /// n1's node certificate on the TLS cluster.
    static func expectClusterViewReachesEveryNode(_ cluster: ProcessCluster) async throws {
        let headers = cluster.token.map { [("authorization", "Bearer \($0)")] } ?? []
        var last = ""
        let reachable = try? await eventually(within: .seconds(15), "every node reachable in n1's /v1/cluster") {
            guard
                let view = try? await httpRequest(
                    .GET,
                    port: cluster.nodes[0].http,
                    "/v1/cluster",
                    headers: headers,
                    tls: cluster.httpTLS
                )
            else { return nil as Bool? }
            last = view.body
            let object = try? JSONSerialization.jsonObject(with: Data(view.body.utf8)) as? [String: Any]
            let nodes = object?["nodes"] as? [[String: Any]] ?? []
            return nodes.count == 3 && nodes.allSatisfy { $0["reachable"] as? Bool == true } ? true : nil
        }
        #expect(reachable == true, "\(last)")
    }

    /// Whether `stored` contains each of `values` exactly once, in order.
    static func containsInOrder(_ stored: String, _ values: [String]) -> Bool {
        var rest = stored[...]
        for value in values {
            guard stored.ranges(of: value).count == 1, let range = rest.range(of: value) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }
}

/// How the HTTP clients reach a cluster with TLS and auth.
struct HTTPSecurity: Sendable {
    var tls: NIOSSLContext?
    var token: String?
}

/// What the client tasks share with the test: when to stop, and what was acknowledged.
final class SharedWorkload: Sendable {
    let stop = Atomic<Bool>(false)
    /// Set once every client task has returned.
    let finished = Atomic<Bool>(false)
    let acknowledged = Mutex<[Int: [String]]>([:])

    var acknowledgedCount: Int { acknowledged.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
