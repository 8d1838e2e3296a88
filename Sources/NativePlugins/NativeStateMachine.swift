import CRaftHostPlugin
import StateMachineAPI
import Synchronization

/// One state of a native plugin (the pointer its `create` gave), destroyed with the object.
///
/// `@unchecked Sendable`: every call into the plugin holds `lock`, so the plugin never sees two
/// calls on one state at once, as the ABI promises.
final class NativePluginState: @unchecked Sendable {
    let library: NativePluginLibrary
    private let pointer: UnsafeMutableRawPointer
    private let lock = Mutex(())

    init(library: NativePluginLibrary, pointer: UnsafeMutableRawPointer) {
        self.library = library
        self.pointer = pointer
    }

    deinit {
        library.table.destroy(pointer)
    }

    private var table: NativePluginLibrary.Table { library.table }

    func apply(_ command: [UInt8], context: ApplyContext) throws(NativePluginError) -> [UInt8] {
        try call(with: command) { table.apply(pointer, $0, $1, context.index, context.time, $2) }
    }

    func query(_ query: [UInt8], context: QueryContext) throws(NativePluginError) -> [UInt8] {
        try call(with: query) { table.query(pointer, $0, $1, context.index, context.time, $2) }
    }

    func snapshot() throws(NativePluginError) -> [UInt8] {
        try call(with: [], doing: "snapshot") { _, _, output in table.snapshot(pointer, output) }
    }

    func restore(from snapshot: [UInt8]) throws(NativePluginError) {
        _ = try call(with: snapshot, doing: "restore a snapshot") { table.restore(pointer, $0, $1, $2) }
    }

    /// Calls `function` with `input` under the lock; its error status throws the plugin's message.
    private func call(
        with input: [UInt8],
        doing what: String? = nil,
        _ function: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<rafthost_buffer>) -> Int32
    ) throws(NativePluginError) -> [UInt8] {
        let result = lock.withLock { _ in
            input.withUnsafeBufferPointer { input in
                table.call { output in function(input.baseAddress, input.count, output) }
            }
        }
        switch result {
        case .success(let bytes):
            return bytes
        case .failure(let message):
            let prefix = what.map { "\(library.name) could not \($0): " } ?? "\(library.name): "
            throw NativePluginError(.pluginError, prefix + message.text)
        }
    }

    /// An independent state equal to this one (through a snapshot).
    func copy() throws(NativePluginError) -> NativePluginState {
        let copy = try library.makeState()
        try copy.restore(from: try snapshot())
        return copy
    }
}

/// A native plugin's state as the host drives it: a value, like every state machine.
///
/// Copies share one plugin state until one of them changes: `apply` and `restore` on a shared
/// state first give this copy a state of its own (through a snapshot), so a copy kept aside
/// never changes under its holder.
struct NativeStateMachine: DynamicStateMachine {
    private var state: NativePluginState

    init(state: NativePluginState) {
        self.state = state
    }

    var name: String { state.library.name }

    /// Applies the command; an error status from the plugin throws its message, which is what
    /// the replica answers that command with.
    mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        if !isKnownUniquelyReferenced(&state) {
            state = try state.copy()
        }
        return try state.apply(encodedCommand, context: context)
    }

    func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] {
        try state.query(encoded, context: context)
    }

    func snapshot() throws -> [UInt8] {
        try state.snapshot()
    }

    mutating func restore(from snapshot: [UInt8]) throws {
        let target = isKnownUniquelyReferenced(&state) ? state : try state.library.makeState()
        try target.restore(from: snapshot)
        state = target
    }
}
