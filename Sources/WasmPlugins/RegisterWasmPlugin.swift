package import ClusterConfig
package import StateMachineAPI

/// Loads the WebAssembly plugin of a `plugins:` entry of `cluster.yaml` (`{ wasm: path, fuel: N,
/// memory: 16MiB }`) and registers it under the name it gives itself, so that
/// `groups[].stateMachine` can name it; every group running it gets a fresh instance.
///
/// Errors point at the entry: `cluster.yaml:12:5: plugins[1]: ...`.
package func registerWasmPlugin(
    _ plugin: ClusterConfiguration.Plugin,
    path: String,
    fuel: UInt64,
    memoryBytes: Int,
    into registry: inout StateMachineRegistry
) throws(ConfigurationError) {
    let module: WasmPluginModule
    do {
        module = try WasmPluginModule.load(path: path, fuel: fuel, memoryBytes: memoryBytes)
    } catch {
        throw plugin.error(error.message)
    }
    do {
        try registry.register(name: module.name, description: path) { try module.makeStateMachine() }
    } catch {
        throw plugin.error(error.message)
    }
}
