import ArgumentParser
import KeyValueClient

/// `raftctl kv put KEY VALUE`.
struct KeyValuePut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Set a key to a value.")

    @OptionGroup var cluster: ClusterOptions

    @Argument(help: "The key.")
    var key: String

    @Argument(help: "The value.")
    var value: String

    func run() async throws {
        try await cluster.withKeyValueClient { kv, deadline in
            try await kv.put(key, value: value, deadline: deadline)
        }
        print("OK")
    }
}
