import ClusterConfig
import Logging
import ReplicationHost
import Testing

@Suite("Configuration support")
struct ConfigurationSupportTests {
    @Test("a node refuses raft.leaseReads instead of silently ignoring it")
    func leaseReadsAreRefused() throws {
        let address = ClusterConfiguration.Address(host: "127.0.0.1", port: 1)
        let configuration = ClusterConfiguration(
            name: "c", dataDirectory: "/nonexistent",
            nodes: [ClusterConfiguration.Node(id: "n1", numericID: 1, peer: address, client: address, http: address)],
            groups: [ClusterConfiguration.Group(name: "kv", stateMachine: "KeyValueStore")],
            raft: ClusterConfiguration.Raft(leaseReads: true))
        let error = #expect(throws: HostError.self) {
            _ = try RaftNode(configuration: configuration, node: "n1", logger: Logger(label: "test"))
        }
        #expect(error?.code == .unsupported)
        #expect(error?.description.contains("raft.leaseReads") == true)
    }
}
