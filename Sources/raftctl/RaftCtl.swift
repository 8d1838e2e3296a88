import ArgumentParser

/// `raftctl`: the client and admin CLI of a RaftHost cluster.
///
/// `kv` speaks the native client protocol to a key/value group; `call` reaches the state machine
/// of any group through the nodes' HTTP API (JSON or the plugin's binary encoding); `plugin
/// deploy` replaces the WebAssembly code of a `WasmFromLog` group through its log; `status`
/// asks every node's HTTP API; `bench` measures a key/value group.
///
/// Exit status: 0 success, 1 not found (a missing key, a compare-and-swap that did not swap;
/// never from `call`, whose plugins answer "not found" inside their answer), 2 usage (bad
/// arguments or configuration, unknown group, a request a node refused), 3 unavailable (no node
/// answered before `--timeout`), 4 denied (the cluster's `auth` refused the credentials or the
/// client's role: HTTP 401 or 403, or the same answers on the client port).
@main
struct RaftCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raftctl",
        abstract: "Talk to a RaftHost cluster.",
        discussion: """
            kv reads and writes a key/value group; call sends a command or a query, as JSON or \
            binary, to the state machine of any group. Exit status: 0 success, 1 not found (kv), \
            2 usage, 3 unavailable, 4 denied (authentication or role).
            """,
        subcommands: [KeyValue.self, Call.self, Plugin.self, Status.self, Member.self, Leader.self, SnapshotCommand.self, Bench.self]
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
