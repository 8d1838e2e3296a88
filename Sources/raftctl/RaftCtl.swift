import ArgumentParser

/// `raftctl`: the client and admin CLI of a RaftHost cluster.
///
/// Exit status: 0 success, 1 not found (a missing key, a compare-and-swap that did not swap),
/// 2 usage (bad arguments or configuration, unknown group), 3 unavailable (no node answered
/// before `--timeout`).
@main
struct RaftCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raftctl",
        abstract: "Talk to a RaftHost cluster.",
        discussion: "Exit status: 0 success, 1 not found, 2 usage, 3 unavailable.",
        subcommands: [KeyValue.self, Status.self, Bench.self]
    )

    // Declared here as well as on each command that uses them, so they may also come before
    // the subcommand: `raftctl --endpoints ... kv get k`.
    @OptionGroup var cluster: ClusterOptions

    /// Runs the command line with raftctl's exit statuses instead of the parser's defaults.
    static func main() async {
        let status = await execute(Array(CommandLine.arguments.dropFirst()))
        exit(withError: ExitCode(status.rawValue))
    }

    /// Parses and runs one command line, reports any error on standard error (help on
    /// standard output), and returns the exit status.
    static func execute(_ arguments: [String]) async -> RaftCtlStatus {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return .success
        } catch {
            let status = RaftCtlStatus(for: error)
            // The commands' own errors read better without the usage text the parser adds.
            let message = RaftCtlStatus.isCommandError(error) ? "raftctl: \(error)" : fullMessage(for: error)
            if status == .success {
                print(message)
            } else if !message.isEmpty {
                printError(message)
            }
            return status
        }
    }
}
