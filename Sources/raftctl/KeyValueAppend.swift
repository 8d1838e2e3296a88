import ArgumentParser
import KeyValueClient

/// `raftctl kv append KEY VALUE`.
struct KeyValueAppend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append to the value of a key (a missing key acts as a put)."
    )

    @OptionGroup var cluster: ClusterOptions

    @Argument(help: "The key.")
    var key: String

    @Argument(help: "The value to append.")
    var value: String

    func run() async throws {
        try await cluster.withKeyValueClient { kv, deadline in
            try await kv.append(key, value: value, deadline: deadline)
        }
        print("OK")
    }
}
