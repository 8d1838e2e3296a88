import ArgumentParser
import ClusterConfig
import KeyValueStore
import LockService
import StateMachineAPI
import Logging
import ReplicationHost
import ServiceLifecycle
import UnixSignals

/// `rafthost serve`: runs one node until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one node of the cluster.")

    @OptionGroup var options: CommonOptions

    @Option(help: "The id of the node to run (a nodes[].id of the configuration).")
    var node: String

    func run() async throws {
        let configuration = try ClusterConfiguration.load(path: options.config)
        options.bootstrapLogging()
        let logger = Logger(label: "rafthost")
        let raftNode = try RaftNode(
            configuration: configuration,
            node: node,
            registry: try StateMachineRegistry([KeyValueStore.self, LockService.self]),
            logger: logger
        )
        let services = ServiceGroup(
            services: [raftNode],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await services.run()
    }
}
