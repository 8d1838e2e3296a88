import Foundation
import KeyValueClient
import KeyValueStore
import RaftClient
import RaftCore
import RaftTesting
import Synchronization
import Testing

/// Concurrent clients of a process cluster's `kv` group: Clerks (native protocol, following the
/// leader) and HTTP clients (each request to a random node, which forwards it) keep appending
/// and reading, and every call is recorded for the linearizability checker.
final class ProcessWorkload: Sendable {
    typealias Recorder = LinearizabilityRecorder<KeyValueModel.Input, KeyValueStore.Response>

    let recorder = Recorder()
    let shared = SharedWorkload()
    let nativeClients: Int
    let clientCount: Int
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// Starts the clients on every node of `cluster` (nodes not running, or not members yet,
    /// simply fail their requests).
    init(cluster: ProcessCluster, nativeClients: Int = 4, httpClients: Int = 2) {
        self.nativeClients = nativeClients
        clientCount = nativeClients + httpClients
        let endpoints = cluster.nodes.enumerated().map { index, node in
            RaftClient.Endpoint(node: NodeID(UInt64(index + 1)), host: "127.0.0.1", port: node.client)
        }
        let httpPorts = cluster.nodes.map(\.http)
        let security = HTTPSecurity(tls: cluster.httpTLS, token: cluster.token)
        let configuration = cluster.clientConfiguration(RaftClient.Configuration(attemptTimeout: .milliseconds(300)))
        let (recorder, shared, clientCount) = (recorder, shared, clientCount)
        task.withLock {
            $0 = Task {
                await withTaskGroup(of: Void.self) { group in
                    for client in nativeClients..<clientCount {
                        group.addTask {
                            await ProcessFaultTests.runHTTPClient(
                                client,
                                ports: httpPorts,
                                security: security,
                                recorder: recorder,
                                shared: shared
                            )
                        }
                    }
                    for client in 0..<nativeClients {
                        group.addTask {
                            await Self.runClerk(
                                client,
                                endpoints: endpoints,
                                configuration: configuration,
                                recorder: recorder,
                                shared: shared
                            )
                        }
                    }
                }
                shared.finished.store(true, ordering: .relaxed)
            }
        }
    }

    private static func runClerk(
        _ client: Int,
        endpoints: [RaftClient.Endpoint],
        configuration: RaftClient.Configuration,
        recorder: Recorder,
        shared: SharedWorkload
    ) async {
        let kv = KeyValueClient(RaftClient(endpoints: endpoints, group: "kv", configuration: configuration))
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

    /// Waits until `count` more writes were acknowledged: faults are spaced by progress, so each
    /// lands on a cluster under load.
    func progress(_ what: String, count: Int = 150) async throws {
        let target = shared.acknowledgedCount + count
        _ = try await eventually(within: .seconds(30), what) { shared.acknowledgedCount >= target ? true : nil }
    }

    /// Stops the clients and waits for them. A clerk retries until it succeeds, so one whose
    /// cluster no longer answers (after a failed step of the test) is cancelled after 10 s
    /// instead of holding the test forever.
    func stop() async {
        shared.stop.store(true, ordering: .relaxed)
        guard let task = task.withLock({ $0 }) else { return }
        let finished = try? await eventually(within: .seconds(10), "the clients stopping") {
            shared.finished.load(ordering: .relaxed) ? true : nil
        }
        if finished == nil { task.cancel() }
        await task.value
    }

    /// Every acknowledged append is on each of `nodes` exactly once, in order (read locally).
    func expectEveryAppend(on nodes: [ProcessCluster.Node], of cluster: ProcessCluster) async throws {
        let expected = shared.acknowledged.withLock { $0 }
        for node in nodes {
            let index = cluster.nodes.firstIndex { $0.id == node.id }!
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
                    return ProcessFaultTests.containsInOrder(stored, values) ? true : nil
                }
                #expect(holds)
            }
            await local.close()
        }
    }

    /// Checks the whole history (an HTTP request that timed out stays of unknown outcome);
    /// returns the operation counts and the verdict for the test's summary line.
    func checkHistory() async throws -> (native: Int, http: Int, appends: Int, verdict: String) {
        let history = recorder.history()
        let model = try #require(AppendOnlyKeyValueModel(history: history))
        let result = await LinearizabilityChecker(model: model, timeLimit: .seconds(60)).checkOnDedicatedThread(history)
        #expect(result.verdict == .linearizable, "\(result)")
        let http = history.filter { $0.client >= nativeClients }.count
        let appends = shared.acknowledged.withLock { $0.values.reduce(0) { $0 + $1.count } }
        #expect(appends > 0)
        return (history.count - http, http, appends, "\(result.verdict)")
    }
}
