import ArgumentParser
import Logging
import Synchronization

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "The cluster configuration file.")
    var config: String = "cluster.yaml"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = LogLevel(.info)

    /// Whether a command of this process has bootstrapped the logging system, which may happen
    /// only once per process (tests run several commands in one).
    private static let loggingBootstrapped = Atomic(false)

    /// Sends log lines at `logLevel` and above to standard error. A later command in the same
    /// process keeps the first one's logging.
    func bootstrapLogging() {
        guard !Self.loggingBootstrapped.exchange(true, ordering: .relaxed) else { return }
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// A `Logger.Level` as a command-line argument, by its name. (A library must not make
/// swift-log's type conform to ArgumentParser's protocol: every client would see it.)
struct LogLevel: ExpressibleByArgument {
    var level: Logger.Level

    init(_ level: Logger.Level) {
        self.level = level
    }

    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument) else { return nil }
        self.level = level
    }

    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }

    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }

    var defaultValueDescription: String { level.rawValue }
}
