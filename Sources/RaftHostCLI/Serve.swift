import ArgumentParser
import ClusterConfig
import Logging
import ReplicationHost
import ServiceLifecycle
import UnixSignals

/// `rafthost serve`: runs one node, serving the plugins of the host, until SIGTERM or SIGINT;
/// SIGHUP reloads its TLS certificates and keys.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one node of the cluster.")

    /// How long SIGTERM may take before the node is cancelled (`TimeoutStopSec` of the systemd unit is above it).
    static let gracefulStopLimit: Duration = .seconds(20)

    @OptionGroup var options: CommonOptions

    @Option(help: "The id of the node to run (a nodes[].id of the configuration).")
    var node: String

    func run() async throws {
        let configuration = try ClusterConfiguration.load(path: options.config)
        // Plugins the file lists load before anything starts; one that cannot stops the node.
        var registry = RootCommand.registry
        try registry.register(plugins: configuration.plugins)
        options.bootstrapLogging(node: node)
        // Every swift-metrics instrument of the process, the node's included, at /metrics.
        RaftHostMetrics.bootstrapPrometheus()
        let logger = Logger(label: "rafthost")
        let raftNode = try RaftNode(
            configuration: configuration,
            node: node,
            registry: registry,
            logger: logger
        )
        var group = ServiceGroupConfiguration(
            services: [raftNode, CertificateReloader(node: raftNode, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // A graceful stop takes at most a leadership hand-off and a sync; one that hangs must
        // not keep a supervisor (systemd, `rafthost up`, a rolling restart) waiting forever: it
        // is cancelled, and a cancellation that hangs too ends the process with an error.
        group.maximumGracefulShutdownDuration = Self.gracefulStopLimit
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }
}
