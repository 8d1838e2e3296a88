import ClusterConfig
import CoreMetrics
import KeyValueStore
import Logging
import MetricsTestKit
import NIOHTTP1
import Prometheus
import RaftCore
import StateMachineAPI
import Testing

@testable import RaftHostCLI
@testable import ReplicationHost

@Suite("Metrics through swift-metrics")
struct MetricsTests {
    /// Every metric of a one-node cluster, by name, with its Prometheus type (the README's list;
    /// `rafthost_replication_lag_entries` needs followers: `HTTPTests` checks it).
    static let families: [(name: String, type: String)] = [
        ("rafthost_term", "gauge"), ("rafthost_is_leader", "gauge"), ("rafthost_commit_index", "gauge"),
        ("rafthost_applied_index", "gauge"), ("rafthost_last_index", "gauge"), ("rafthost_snapshot_index", "gauge"),
        ("rafthost_fsyncs_total", "counter"), ("rafthost_proposals_total", "counter"),
        ("rafthost_applied_entries_total", "counter"), ("rafthost_elections_total", "counter"),
        ("rafthost_lease_reads_total", "counter"), ("rafthost_lease_stalls_total", "counter"),
        ("rafthost_snapshots_total", "counter"), ("rafthost_snapshot_bytes", "gauge"),
        ("rafthost_fsync_seconds", "histogram"),
    ]

    /// Runs a one-node KeyValueStore cluster recording through `factory` until it leads, then
    /// calls `body` with the node and its HTTP port.
    static func withLeadingNode(
        factory: any MetricsFactory,
        _ body: (RaftNode, Int) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = try await RaftHostCLITests.writeCluster(in: directory, stateMachine: "KeyValueStore")
        let configuration = try ClusterConfiguration.load(path: path)
        var logger = Logger(label: "metrics-test")
        logger.logLevel = .error
        let node = try RaftNode(
            configuration: configuration,
            node: "n1",
            registry: try StateMachineRegistry([KeyValueStore.self]),
            metricsFactory: factory,
            logger: logger
        )
        let http = try await node.start().http.port
        let task = Task { try await node.run() }
        defer { node.shutdown() }
        _ = try await eventually(within: .seconds(10), "n1 leads") {
            node.status().first?.role == .leader ? true : nil
        }
        try await body(node, http)
        node.shutdown()
        try await task.value
    }

    @Test("a host's own swift-metrics backend gets every instrument; /metrics says it exports nothing")
    func customBackend() async throws {
        let metrics = TestMetrics()
        try await Self.withLeadingNode(factory: metrics) { node, http in
            let dimensions = [("node", "n1"), ("group", "main")]
            _ = try await eventually(within: .seconds(10), "the leadership recorded") {
                try metrics.expectGauge("rafthost_is_leader", dimensions).lastValue == 1 ? true : nil
            }
            _ = try await eventually(within: .seconds(10), "the leader's no-op applied") {
                try metrics.expectCounter("rafthost_applied_entries_total", dimensions).totalValue >= 1 ? true : nil
            }
            // `fsync: never`: storage syncs nothing, yet each batch's write is timed.
            #expect(try metrics.expectCounter("rafthost_fsyncs_total", dimensions).totalValue == 0)
            #expect(try metrics.expectGauge("rafthost_term", dimensions).lastValue ?? 0 >= 1)
            #expect(try metrics.expectTimer("rafthost_fsync_seconds", dimensions).values.count >= 1)
            let answer = try await httpRequest(.GET, port: http, "/metrics")
            #expect(answer.status == 404)
            #expect(answer.body.contains("own swift-metrics backend (TestMetrics)"))
        }
    }

    @Test("with a Prometheus factory, /metrics renders its registry: every README name and type, node and group")
    func prometheus() async throws {
        let factory = RaftHostMetrics.prometheusFactory()
        try await Self.withLeadingNode(factory: factory) { node, http in
            let text = try await eventually(within: .seconds(10), "the leadership exported") {
                let answer = try await httpRequest(.GET, port: http, "/metrics")
                return answer.body.contains(#"rafthost_is_leader{node="n1",group="main"} 1"#) ? answer : nil
            }
            #expect(text.status == 200)
            #expect(text.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
            for family in Self.families {
                #expect(text.body.contains("# TYPE \(family.name) \(family.type)\n"), "\(family.name)")
            }
            #expect(text.body.contains(#"rafthost_fsync_seconds_bucket{node="n1",group="main",le="0.0005"}"#))
            #expect(text.body.contains(#"rafthost_fsync_seconds_bucket{node="n1",group="main",le="+Inf"}"#))
            #expect(text.body.contains(#"rafthost_fsync_seconds_count{node="n1",group="main"}"#))
            // The page is the registry rendered: equal to a rendering of the same moment (an
            // instrument may be recorded between a request and a rendering, so asked again).
            _ = try await eventually(within: .seconds(10), "/metrics equal to the registry's rendering") {
                let answer = try await httpRequest(.GET, port: http, "/metrics")
                return answer.body == factory.registry.emitToString() ? true : nil
            }
        }
    }
}
