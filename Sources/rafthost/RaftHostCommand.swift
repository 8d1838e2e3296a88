public import ArgumentParser
public import Logging

/// `rafthost`: the RaftHost server.
@main
struct RaftHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rafthost",
        abstract: "Replicates state machines with Raft across the nodes of a cluster.yaml.",
        subcommands: [Serve.self, Up.self]
    )
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "The cluster configuration file.")
    var config: String = "cluster.yaml"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    /// Sends log lines at `logLevel` and above to standard error.
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
