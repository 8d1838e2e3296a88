package import StateMachineAPI
@_spi(Fuzzing) import WasmKit
import WasmParser

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A WebAssembly plugin, loaded and checked once, from which each Raft group running it gets an
/// instance of its own (``makeStateMachine()``).
///
/// The module must speak ABI version 1 (`Docs.docc/WasmPluginABI.md`): export `memory` and the
/// `rh_*` functions, and import nothing at all, so that nothing but its inputs (the command, the
/// log index and the log time) can change what it computes. Every call runs with `fuel`
/// instructions and the memory capped at `memoryBytes`.
package struct WasmPluginModule: Sendable {
    /// The name the plugin gives itself (`rh_name`): what `groups[].stateMachine` names.
    package private(set) var name: String
    /// Where it was loaded from, for messages.
    package let path: String
    /// Instructions per call (roughly one unit of fuel per WebAssembly operator).
    package let fuel: UInt64
    /// The most memory an instance may have, in bytes.
    package let memoryBytes: Int

    private let module: Module
    private let engine: Engine

    /// The ABI version this host speaks.
    package static let abiVersion: UInt32 = 1

    /// Reads, validates and checks the module at `path`, and asks it its name.
    package static func load(path: String, fuel: UInt64, memoryBytes: Int) throws(WasmPluginError) -> Self {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw WasmPluginError(.unreadable, "cannot read \(path): \(error)")
        }
        return try load(bytes: bytes, path: path, fuel: fuel, memoryBytes: memoryBytes)
    }

    /// Validates and checks the module in `bytes` (read from `path`), and asks it its name.
    package static func load(
        bytes: [UInt8],
        path: String,
        fuel: UInt64,
        memoryBytes: Int
    ) throws(WasmPluginError) -> Self {
        let module: Module
        do {
            module = try parseWasm(bytes: bytes)
        } catch {
            throw WasmPluginError(.invalidModule, "\(path) is not a valid WebAssembly module: \(error)")
        }
        if !module.imports.isEmpty {
            let names = module.imports.map { "\($0.module).\($0.name)" }.joined(separator: ", ")
            throw WasmPluginError(
                .forbiddenImport,
                "\(path) imports \(names); a plugin may import nothing (the host offers no functions, "
                    + "so that every replica computes the same)"
            )
        }
        let exported = Set(module.exports.map(\.name))
        let missing = ["memory"] + WasmPluginExports.signatures.map(\.name)
        let absent = missing.filter { !exported.contains($0) }
        if !absent.isEmpty {
            throw WasmPluginError(
                .missingExport,
                "\(path) lacks the export\(absent.count == 1 ? "" : "s") \(absent.joined(separator: ", ")) "
                    + "of the RaftHost WebAssembly plugin ABI version \(abiVersion)"
            )
        }
        // Eager compilation validates every function now rather than at its first call.
        let engine = Engine(configuration: EngineConfiguration(compilationMode: .eager, fuelMetering: true))
        var loaded = WasmPluginModule(
            name: "",
            path: path,
            fuel: fuel,
            memoryBytes: memoryBytes,
            module: module,
            engine: engine
        )
        let probe = try loaded.instantiate(as: path)
        let version = try probe.abiVersion()
        guard version == abiVersion else {
            throw WasmPluginError(
                .unsupportedABI,
                "\(path) speaks the plugin ABI version \(version); this host speaks version \(abiVersion)"
            )
        }
        loaded.name = try probe.name()
        return loaded
    }

    /// A fresh instance, empty, as a state machine for one group.
    package func makeStateMachine() throws(WasmPluginError) -> AnyStateMachine {
        AnyStateMachine(dynamic: try makeWasmStateMachine())
    }

    /// A fresh instance, empty.
    package func makeWasmStateMachine() throws(WasmPluginError) -> WasmStateMachine {
        WasmStateMachine(module: self, instance: try instantiate(as: name))
    }

    /// A new instance in a store of its own, its memory capped; `label` names it in errors.
    func instantiate(as label: String) throws(WasmPluginError) -> WasmPluginInstance {
        let store = Store(engine: engine)
        store.resourceLimiter = MemoryCap(bytes: memoryBytes)
        // A start function, if any, runs under the same budget as a call.
        store.fuel = Fuel(remaining: fuel)
        let instance: Instance
        do {
            instance = try module.instantiate(store: store)
        } catch {
            throw WasmPluginInstance.failure(of: error, calling: "instantiation", label: label, limits: self)
        }
        return try WasmPluginInstance(label: label, store: store, instance: instance, limits: self)
    }
}

/// Refuses memory growth past the configured cap by stopping the call (rather than letting
/// `memory.grow` answer -1), so that the command fails with a message naming the cap.
private final class MemoryCap: ResourceLimiter {
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
    }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        guard desired <= bytes else { throw MemoryCapExceeded(desired: desired, cap: bytes) }
        return true
    }

    /// Tables hold function references; 65,536 is far more than a compiler emits.
    func limitTableGrowth(to desired: Int) throws -> Bool {
        desired <= 1 << 16
    }
}

struct MemoryCapExceeded: Error {
    var desired: Int
    var cap: Int
}
