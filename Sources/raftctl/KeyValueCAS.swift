import ArgumentParser
import KeyValueClient

/// `raftctl kv cas KEY NEW (--expected OLD | --missing)`: exit status 1 when it did not swap,
/// with the current value on standard output.
struct KeyValueCAS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cas",
        abstract: "Compare and swap: set a key only if its value is the expected one.",
        discussion: """
            Exit status 1 when the value was not the expected one; the current value, if any, \
            is then printed.
            """
    )

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "The value the key must have.")
    var expected: String?

    @Flag(help: "The key must be missing.")
    var missing = false

    @Argument(help: "The key.")
    var key: String

    @Argument(help: "The new value.")
    var new: String

    func validate() throws {
        guard (expected != nil) != missing else {
            throw ValidationError("give exactly one of --expected VALUE and --missing")
        }
    }

    func run() async throws {
        let (swapped, current) = try await cluster.withKeyValueClient { kv, deadline in
            try await kv.compareAndSwap(key, expected: expected, new: new, deadline: deadline)
        }
        guard swapped else {
            if let current {
                print(current)
                printError("raftctl: \(key): not swapped; the current value is printed above")
            } else {
                printError("raftctl: \(key): not swapped; the key is missing")
            }
            throw ExitCode(RaftCtlStatus.notFound.rawValue)
        }
        print("OK")
    }
}
