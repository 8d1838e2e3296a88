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
@Suite("rafthost processes under faults")
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
        let all = cluster.nodes.map(\.id)
        for id in all { try cluster.start(id) }
        _ = try await eventually(within: .seconds(20), "a first leader") { await cluster.leader(among: all) }

        let endpoints = cluster.nodes.enumerated().map { index, node in
            RaftClient.Endpoint(node: NodeID(UInt64(index + 1)), host: "127.0.0.1", port: node.client)
        }
        let recorder = Recorder()
        let shared = SharedWorkload()
        let nativeClients = 4
        let httpClients = 2
        let clientCount = nativeClients + httpClients
        let httpPorts = cluster.nodes.map(\.http)
        let httpSecurity = HTTPSecurity(tls: cluster.httpTLS, token: cluster.token)
        let workload = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in nativeClients..<clientCount {
                    group.addTask {
                        await Self.runHTTPClient(
                            client, ports: httpPorts, security: httpSecurity, recorder: recorder, shared: shared)
                    }
                }
                for client in 0..<nativeClients {
                    group.addTask {
                        let kv = KeyValueClient(
                            RaftClient(
                                endpoints: endpoints,
                                group: "kv",
                                configuration: cluster.clientConfiguration(
                                    RaftClient.Configuration(attemptTimeout: .milliseconds(300)))
                            )
                        )
                        var n = 0
                        while !shared.stop.load(ordering: .relaxed) {
                            let key = "k\(client)"
                            if n % 3 == 2 {
                                let ticket = recorder.call(client: client, .get(key))
                                guard let value = try? await kv.get(key) else { continue }
                                recorder.returned(ticket, .value(value))
                            } else {
                                let value = "x \(client) \(n) y"
                                let ticket = recorder.call(client: client, .append(key, value))
                                do {
                                    try await kv.append(key, value: value)
                                    recorder.returned(ticket, .ok)
                                    shared.acknowledged.withLock { $0[client, default: []].append(value) }
                                } catch {
                                    // Unknown outcome: it may or may not have been applied.
                                }
                            }
                            n += 1
                        }
                        await kv.close()
                    }
                }
            }
        }

        // Faults are spaced by progress, not by the clock: each step waits until the clients
        // got more writes acknowledged (so each fault lands on a cluster under load).
        func progress(_ what: String) async throws {
            let target = shared.acknowledgedCount + 150
            _ = try await eventually(within: .seconds(30), what) { shared.acknowledgedCount >= target ? true : nil }
        }
        var kills = 0
        var pauses = 0
        for round in 0..<2 {
            try await progress("writes before round \(round)")
            let leader = try await eventually(within: .seconds(20), "a leader (round \(round))") {
                await cluster.leader(among: all)
            }
            cluster.kill(leader)
            kills += 1
            try await progress("writes after killing \(leader)")
            try cluster.start(leader)
            try await progress("writes after restarting \(leader)")
            let paused = all[(all.firstIndex(of: leader)! + 1 + round) % all.count]
            cluster.signal(paused, SIGSTOP)
            pauses += 1
            try await progress("writes while \(paused) is stopped")
            cluster.signal(paused, SIGCONT)
        }
        try await progress("writes after the last fault")
        shared.stop.store(true, ordering: .relaxed)
        await workload.value

        // Every node holds every acknowledged append, once and in order.
        let expected = shared.acknowledged.withLock { $0 }
        for (index, node) in cluster.nodes.enumerated() {
            let local = KeyValueClient(
                RaftClient(
                    endpoints: [
                        RaftClient.Endpoint(node: NodeID(UInt64(index + 1)), host: "127.0.0.1", port: node.client)
                    ],
                    group: "kv",
                    configuration: cluster.clientConfiguration(RaftClient.Configuration(timeout: .seconds(20)))
                )
            )
            for client in 0..<clientCount {
                let values = expected[client] ?? []
                let holds = try await eventually(within: .seconds(20), "\(node.id) holds client \(client)'s appends") {
                    () async throws -> Bool? in
                    let stored = try await local.get("k\(client)", consistency: .stale) ?? ""
                    return Self.containsInOrder(stored, values) ? true : nil
                }
                #expect(holds)
            }
            await local.close()
        }
        // The whole history, Clerks and HTTP clients alike. An HTTP request that timed out
        // (to a stopped node) stays an operation of unknown outcome.
        let history = recorder.history()
        let model = try #require(AppendOnlyKeyValueModel(history: history))
        let result = LinearizabilityChecker(model: model, timeLimit: .seconds(60)).check(history)
        #expect(result.verdict == .linearizable, "\(result)")
        let httpOperations = history.filter { $0.client >= nativeClients }.count
        let appends = expected.values.reduce(0) { $0 + $1.count }
        print(
            "rafthost processes under faults: \(history.count - httpOperations) native and \(httpOperations) HTTP operations "
                + "(\(appends) acknowledged appends), \(kills) leader kills, \(pauses) pauses, "
                + "history \(result.verdict)"
        )
        #expect(appends > 0)
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
    let acknowledged = Mutex<[Int: [String]]>([:])

    var acknowledgedCount: Int { acknowledged.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
