import ArgumentParser
import Logging
import Synchronization

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "The cluster configuration file.")
    var config: String = "cluster.yaml"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = LogLevel(.info)

    @Option(
        name: .customLong("log-format"),
        help: "text (one human-readable line per event) or json (one JSON object per line)."
    )
    var logFormat = LogFormat.text

    /// Whether a command of this process has bootstrapped the logging system, which may happen
    /// only once per process (tests run several commands in one).
    private static let loggingBootstrapped = Atomic(false)

    /// Sends log lines at `logLevel` and above to standard error, in `logFormat`. In JSON, every
    /// line of a process serving `node` has its `raft.node` field. A later command in the same
    /// process keeps the first one's logging.
    func bootstrapLogging(node: String? = nil) {
        guard !Self.loggingBootstrapped.exchange(true, ordering: .relaxed) else { return }
        let level = logLevel.level
        switch logFormat {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            let provider = node.map { node in Logger.MetadataProvider { ["raft.node": "\(node)"] } }
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }
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

/// How a command writes its log lines on standard error: `text`, swift-log's `StreamLogHandler`
/// (the default), or `json`, one object per line (`JSONLogHandler`).
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json
}
