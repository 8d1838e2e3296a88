import ArgumentParser
import KeyValueClient

/// `raftctl kv delete KEY`: exit status 1 when the key was missing.
struct KeyValueDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove a key (exit status 1 when it was missing)."
    )

    @OptionGroup var cluster: ClusterOptions

    @Argument(help: "The key.")
    var key: String

    func run() async throws {
        let existed = try await cluster.withKeyValueClient { kv, deadline in
            try await kv.delete(key, deadline: deadline)
        }
        guard existed else {
            printError("raftctl: \(key): no such key")
            throw ExitCode(RaftCtlStatus.notFound.rawValue)
        }
        print("OK")
    }
}
