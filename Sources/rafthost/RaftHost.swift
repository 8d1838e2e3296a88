import KeyValueStore
import LockService
import RaftHostCLI

/// `rafthost`: the stock RaftHost server, serving the `KeyValueStore` and `LockService` plugins.
@main
struct RaftHost {
    static func main() async {
        await RaftHostCommand.main(plugins: [KeyValueStore.self, LockService.self])
    }
}
