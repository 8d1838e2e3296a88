package import ClusterConfig
import NativePlugins
package import StateMachineAPI
import WasmPlugins

extension StateMachineRegistry {
    /// Loads every entry of `plugins` (cluster.yaml's `plugins:`) and registers it under the
    /// plugin's name.
    ///
    /// Throws at the first entry that cannot be served, located at that entry
    /// (`cluster.yaml:12:5: plugins[0]: ...`): a file that is missing or does not load, a
    /// library or module that is not a plugin of this ABI version, a module that imports
    /// anything, a name that a plugin of the host or an earlier entry already has.
    ///
    /// `WasmFromLog` is always registered too (unless the registry already has it): a group
    /// whose WebAssembly module is deployed through its log (`raftctl plugin deploy`).
    package mutating func register(plugins: [ClusterConfiguration.Plugin]) throws(ConfigurationError) {
        if !names.contains(WasmFromLog.name) {
            // Cannot fail: the name is free.
            try? register(name: WasmFromLog.name, description: "code through the log (built in)") {
                AnyStateMachine(dynamic: WasmFromLog())
            }
        }
        for plugin in plugins {
            switch plugin.kind {
            case .native(let path): try registerNative(path: path, at: plugin)
            case .wasm(let path, let fuel, let memoryBytes):
                try registerWasmPlugin(plugin, path: path, fuel: fuel, memoryBytes: memoryBytes, into: &self)
            }
        }
    }

    private mutating func registerNative(
        path: String,
        at plugin: ClusterConfiguration.Plugin
    ) throws(ConfigurationError) {
        let library: NativePluginLibrary
        do {
            library = try NativePluginLibrary.open(path: path)
        } catch {
            throw plugin.error(error.message)
        }
        do {
            try register(name: library.name, description: path) { try library.makeStateMachine() }
        } catch {
            throw plugin.error(error.message)
        }
    }
}
