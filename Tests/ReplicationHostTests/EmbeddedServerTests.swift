import ClusterConfig
import Foundation
import KeyValueClient
import KeyValueStore
import Logging
import NIOCore
import NIOPosix
import RaftClient
import ReplicationHost
import Testing

@Suite("Embedded key/value server")
struct EmbeddedServerTests {
    @Test("three embedded servers serve a client; one killed and restarted keeps its data")
    func embeddedServers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let ports = try await freePorts(9)
        var peers: [ClusterConfiguration.Node] = []
        for index in 0..<3 {
            let base = 3 * index
            peers.append(
                ClusterConfiguration.Node(
                    id: "n\(index + 1)",
                    numericID: UInt64(index + 1),
                    peer: ClusterConfiguration.Address(host: "127.0.0.1", port: ports[base]),
                    client: ClusterConfiguration.Address(host: "127.0.0.1", port: ports[base + 1]),
                    http: ClusterConfiguration.Address(host: "127.0.0.1", port: ports[base + 2])
                )
            )
        }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        var servers: [EmbeddedServer] = []
        for me in 0..<3 {
            servers.append(
                try await EmbeddedServer.start(
                    serving: KeyValueStore.self,
                    group: "kv",
                    peers: peers,
                    me: me,
                    dataDirectory: directory.path,
                    maxRaftState: 4096,
                    logger: logger
                )
            )
        }
        let client = KeyValueClient(
            RaftClient(
                endpoints: peers.map(RaftClient.Endpoint.init),
                group: "kv",
                configuration: RaftClient.Configuration(timeout: .seconds(20))
            )
        )
        try await client.put("a", value: "1")
        try await client.append("a", value: "2")
        #expect(try await client.get("a") == "12")
        #expect(try await client.get("missing") == nil)

        await servers[0].kill()
        try await client.put("b", value: "3")
        servers[0] = try await EmbeddedServer.start(
            serving: KeyValueStore.self,
            group: "kv",
            peers: peers,
            me: 0,
            dataDirectory: directory.path,
            maxRaftState: 4096,
            logger: logger
        )
        try await client.put("c", value: "4")
        // The restarted server catches up: its local (stale) read eventually sees every write.
        let local = KeyValueClient(
            RaftClient(
                endpoints: [RaftClient.Endpoint(peers[0])],
                group: "kv",
                configuration: RaftClient.Configuration(timeout: .seconds(20))
            )
        )
        let caughtUp = try await eventually(within: .seconds(20), "restarted server catches up") {
            () async throws -> Bool? in
            try await local.get("c", consistency: RaftClient.ReadConsistency.stale) == "4" ? true : nil
        }
        #expect(caughtUp)
        #expect(try await local.get("a", consistency: RaftClient.ReadConsistency.stale) == "12")
        await local.close()
        await client.close()
        for server in servers { await server.kill() }
    }

}
