import ArgumentParser
import Foundation

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
        subcommands: [KeyValue.self]
    )

    /// Runs the command line with raftctl's exit statuses instead of the parser's defaults.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let status = ExitStatus(for: error)
            if status == .success {
                // --help and friends: the parser prints them.
                exit(withError: error)
            }
            let message = ExitStatus.isCommandError(error) ? "raftctl: \(error)" : fullMessage(for: error)
            if !message.isEmpty {
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            exit(withError: ExitCode(status.rawValue))
        }
    }
}
