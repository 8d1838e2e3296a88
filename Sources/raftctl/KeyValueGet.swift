import ArgumentParser
import KeyValueClient
import RaftClient

/// `raftctl kv get KEY`: prints the value; exit status 1 when the key is missing.
struct KeyValueGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value of a key (exit status 1 when it is missing)."
    )

    @OptionGroup var cluster: ClusterOptions

    @Flag(help: "Let the node asked answer from its own state, possibly behind, instead of a linearizable read.")
    var stale = false

    @Argument(help: "The key.")
    var key: String

    func run() async throws {
        let value = try await cluster.withKeyValueClient { kv, deadline in
            try await kv.get(key, consistency: stale ? .stale : .linearizable, deadline: deadline)
        }
        guard let value else {
            printError("raftctl: \(key): no such key")
            throw ExitCode(RaftCtlStatus.notFound.rawValue)
        }
        print(value)
    }
}
