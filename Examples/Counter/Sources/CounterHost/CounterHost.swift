import Counter
import KeyValueStore
import RaftHostCLI

/// `counter-host serve` / `counter-host up`: the `rafthost` commands, with this binary's plugins.
@main
struct CounterHost {
    static func main() async {
        await RaftHostCommand.main(plugins: [Counter.self, KeyValueStore.self])
    }
}
