import ArgumentParser
public import StateMachineAPI

/// The `rafthost` command line as a library: `serve` runs one node of a `cluster.yaml`, `up`
/// runs every node of it on this machine, and both serve the plugins the host registers.
///
/// A custom host is one file:
///
/// ```swift
/// import KeyValueStore
/// import RaftHostCLI
///
/// @main
/// struct CounterHost {
///     static func main() async {
///         await RaftHostCommand.main(plugins: [Counter.self, KeyValueStore.self])
///     }
/// }
/// ```
///
/// It has the flags, configuration, logging, metrics and graceful shutdown of the stock
/// `rafthost` (which is this file with `KeyValueStore` and `LockService`), and its `up` runs
/// copies of the host itself as the nodes.
public enum RaftHostCommand {
    /// Runs the command that the process's arguments name, serving `plugins`.
    ///
    /// Returns when the command finished successfully. Never returns on a failure: like
    /// ArgumentParser's `main()`, it prints the error (or the help asked for) and exits the
    /// process with the matching status: 64 for a usage error, 1 for any other failure. Two
    /// plugins with the same ``StateMachine/name`` are such a failure.
    ///
    /// - Parameter plugins: the state machines a group of `cluster.yaml` may name under
    ///   `stateMachine:`.
    public static func main(plugins: [any StateMachine.Type]) async {
        let registry: StateMachineRegistry
        do {
            registry = try Self.registry(of: plugins)
        } catch {
            RootCommand.exit(withError: error)
        }
        await main(registry: registry)
    }

    /// Runs the command that the process's arguments name, serving the plugins of `registry`.
    ///
    /// Returns when the command finished successfully; on a failure it prints the error and
    /// exits the process, as ``main(plugins:)`` does.
    public static func main(registry: StateMachineRegistry) async {
        do {
            try await run(nil, registry: registry)
        } catch {
            RootCommand.exit(withError: error)
        }
    }

    /// The registry of `plugins`; throws if two of them share a name.
    package static func registry(
        of plugins: [any StateMachine.Type]
    ) throws(PluginListError) -> StateMachineRegistry {
        do {
            return try StateMachineRegistry(plugins)
        } catch {
            throw PluginListError(underlying: error)
        }
    }

    /// Parses `arguments` (the process's when `nil`) and runs the command they name, serving the
    /// plugins of `registry`. Throws what ``main(registry:)`` reports before it exits, help
    /// requests included (ArgumentParser's `CleanExit`).
    package static func run(_ arguments: [String]?, registry: StateMachineRegistry) async throws {
        try await RootCommand.$registry.withValue(registry) {
            var command = try await RootCommand.asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        }
    }
}

/// Two plugins of a host share a name.
package struct PluginListError: Error, CustomStringConvertible {
    /// The registry's error, which names both types.
    package var underlying: StateMachineRegistryError

    package var description: String {
        "cannot serve these plugins: \(underlying.message)"
    }
}

/// The root command: `serve` and `up`.
struct RootCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: programName,
            abstract: "Replicates state machines with Raft across the nodes of a cluster.yaml.",
            subcommands: [Serve.self, Up.self, Certs.self, Restore.self]
        )
    }

    /// The plugins `serve` runs, set by ``RaftHostCommand/run(_:registry:)`` for the time of one
    /// command: ArgumentParser makes the command itself, by parsing, so nothing can be handed
    /// to it.
    @TaskLocal static var registry = StateMachineRegistry()

    /// The name the process was started as (`rafthost` for the stock server), for the usage lines:
    /// a custom host's help names the custom host.
    private static var programName: String {
        CommandLine.arguments.first?.split(separator: "/").last.map(String.init) ?? "rafthost"
    }
}
