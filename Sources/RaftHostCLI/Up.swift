import ArgumentParser
import ClusterConfig
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `rafthost up`: runs every node of the configuration as a child `serve` process of this same
/// executable (a custom host runs copies of itself, with its plugins), waits until every group
/// has a leader, prints the endpoints, and stops the nodes on SIGINT or SIGTERM.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start every node of the cluster on this machine and wait for a leader in every group."
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "Seconds to wait for a leader in every group before giving up.")
    var startupTimeout: Int = 30

    func run() async throws {
        let configuration = try ClusterConfiguration.load(path: options.config)
        // Every child would fail on a plugin that cannot load: fail once, before starting any.
        var registry = RootCommand.registry
        try registry.register(plugins: configuration.plugins)
        options.bootstrapLogging()
        let logger = Logger(label: "rafthost.up")
        let configPath = URL(fileURLWithPath: options.config).standardizedFileURL.path
        let supervisor = ClusterSupervisor(
            configuration: configuration,
            configPath: configPath,
            executable: Bundle.main.executablePath ?? CommandLine.arguments[0],
            logLevel: options.logLevel.level,
            logFormat: options.logFormat,
            startupTimeout: .seconds(startupTimeout),
            logger: logger
        )
        let services = ServiceGroup(
            services: [supervisor],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await services.run()
    }
}
