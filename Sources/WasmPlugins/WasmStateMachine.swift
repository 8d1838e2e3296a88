package import StateMachineAPI
import Synchronization

/// One group's instance of a WebAssembly plugin, driven with bytes.
///
/// A failed call (a trap, fuel or memory used up, an error answered by the plugin) throws a
/// ``WasmPluginError`` whose text is the same on every replica; the host answers the command
/// with it. The instance is then kept as the failed call left it: whatever the call wrote
/// before it stopped stays written, and the next command runs on that memory. The interpreter
/// is deterministic, so every replica is left in the same place. A snapshot restores into a
/// fresh instance.
///
/// Copies share the instance (it is a reference, as a native library's state would be):
/// the host keeps one per group and applies to it from one executor at a time; a lock makes
/// a query from another thread wait for the command being applied.
package struct WasmStateMachine: DynamicStateMachine {
    private let module: WasmPluginModule
    private var instance: Box

    init(module: WasmPluginModule, instance: sending WasmPluginInstance) {
        self.module = module
        self.instance = Box(instance)
    }

    package var name: String { module.name }

    package mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        try instance.withLock { instance throws(WasmPluginError) in
            try instance.apply(encodedCommand, index: context.index, time: context.time)
        }
    }

    package func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] {
        try instance.withLock { instance throws(WasmPluginError) in
            try instance.query(encoded, index: context.index, time: context.time)
        }
    }

    package func snapshot() throws -> [UInt8] {
        try instance.withLock { instance throws(WasmPluginError) in try instance.snapshot() }
    }

    /// Restores into a fresh instance, so that the state after a restore depends on the snapshot
    /// bytes only; on error the current instance is kept.
    package mutating func restore(from snapshot: [UInt8]) throws {
        let fresh = try module.instantiate(as: module.name)
        try fresh.restore(snapshot)
        instance = Box(fresh)
    }

    /// The instance under a lock.
    private final class Box: Sendable {
        private let mutex: Mutex<WasmPluginInstance>

        init(_ instance: consuming sending WasmPluginInstance) {
            mutex = Mutex(instance)
        }

        func withLock<Result: Sendable>(
            _ body: (WasmPluginInstance) throws(WasmPluginError) -> Result
        ) throws(WasmPluginError) -> Result {
            try mutex.withLock { instance throws(WasmPluginError) in try body(instance) }
        }
    }
}
