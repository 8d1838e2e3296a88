import ArgumentParser

/// `raftctl kv`: the key/value group's operations.
struct KeyValue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "Read and write a KeyValueStore group.",
        subcommands: [KeyValueGet.self, KeyValuePut.self, KeyValueAppend.self, KeyValueDelete.self, KeyValueCAS.self]
    )

    // See RaftCtl: lets the cluster options come between `kv` and the operation too.
    @OptionGroup var cluster: ClusterOptions
}
