import ArgumentParser
import ClusterConfig
import Foundation
import NIOHTTP1
import RaftClient
import StateMachineAPI
import Testing

@testable import RaftHostCLI

/// A plugin that no host ships: a running total. `Variant` only makes distinct types of the
/// same name.
struct Tally<Variant>: StateMachine {
    static var name: String { "Tally" }

    var total: UInt64 = 0

    init() {}

    mutating func apply(_ amount: UInt64, context: ApplyContext) -> UInt64 {
        total &+= amount
        return total
    }

    func query(_ query: UInt8, context: QueryContext) -> UInt64 {
        total
    }

    func snapshot() throws -> [UInt8] {
        total.encoded()
    }

    init(snapshot: [UInt8]) throws {
        total = try UInt64(decoding: snapshot)
    }
}

@Suite("The rafthost command line as a library")
struct RaftHostCLITests {
    enum First {}
    enum Second {}

    /// A one-node cluster whose group `main` runs `stateMachine`.
    static func writeCluster(in directory: TemporaryDirectory, stateMachine: String) async throws -> String {
        let ports = try await freePorts(3)
        let yaml = """
            cluster: cli-test
            data: \(directory.path)/data
            nodes:
              - id: n1
                peer: 127.0.0.1:\(ports[0])
                client: 127.0.0.1:\(ports[1])
                http: 127.0.0.1:\(ports[2])
            groups:
              - name: main
                stateMachine: \(stateMachine)
            raft:
              heartbeat: 50ms
              electionTimeout: 500ms
            storage:
              fsync: never

            """
        let path = directory.path + "/cluster.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func serve(_ path: String) -> [String] {
        ["serve", "--config", path, "--node", "n1", "--log-level", "error"]
    }

    @Test("serve runs a plugin of the host's list: status, metrics and commands reach it; cancelling stops it")
    func servesTheGivenPlugins() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = try await Self.writeCluster(in: directory, stateMachine: "Tally")
        let configuration = try ClusterConfiguration.load(path: path)
        let http = try #require(configuration.nodes.first).http.port
        let registry = try RaftHostCommand.registry(of: [Tally<First>.self])
        let serving = Task { try await RaftHostCommand.run(Self.serve(path), registry: registry) }
        defer { serving.cancel() }

        let status = try await eventually(within: .seconds(30), "n1 leads group main") { () -> NodeStatus.Group? in
            guard let answer = try? await httpRequest(.GET, port: http, "/v1/status") else { return nil }
            let group = try JSONDecoder().decode(NodeStatus.self, from: Data(answer.body.utf8)).groups.first
            return group?.leader == "n1" ? group : nil
        }
        #expect(status.name == "main")
        #expect(status.stateMachine == "Tally")
        let metrics = try await httpRequest(.GET, port: http, "/metrics")
        #expect(metrics.body.contains(#"rafthost_is_leader{node="n1",group="main"} 1"#))

        let client = RaftClient(cluster: configuration, configuration: .init(timeout: .seconds(10)))
        #expect(try await UInt64(decoding: client.submit(UInt64(5).encoded())) == 5)
        #expect(try await UInt64(decoding: client.submit(UInt64(7).encoded())) == 12)
        #expect(try await UInt64(decoding: client.query(UInt8(0).encoded())) == 12)
        await client.close()

        serving.cancel()
        try await withTimeout(.seconds(10), "serve stopping when cancelled") { _ = await serving.result }
    }

    @Test("a group naming a plugin the host lacks fails serve with an error naming the host's plugins")
    func unknownPlugin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = try await Self.writeCluster(in: directory, stateMachine: "KeyValueStore")
        let registry = try RaftHostCommand.registry(of: [Tally<First>.self])
        let error = await #expect(throws: (any Error).self) {
            try await RaftHostCommand.run(Self.serve(path), registry: registry)
        }
        let message = error.map { "\($0)" } ?? ""
        // WasmFromLog is every host's: it takes its code from the log.
        #expect(message.contains(#"no state machine named "KeyValueStore" (known: Tally, WasmFromLog)"#), "\(message)")
    }

    @Test("two plugins of one name are an error that exits with status 1, not a crash")
    func duplicateNames() throws {
        let error = #expect(throws: PluginListError.self) {
            try RaftHostCommand.registry(of: [Tally<First>.self, Tally<Second>.self])
        }
        let message = error.map { RootCommand.message(for: $0) } ?? ""
        #expect(message.contains(#"are both named "Tally""#), "\(message)")
        #expect(error.map { RootCommand.exitCode(for: $0) } == .failure)
    }
}
