internal import CRaftHostPlugin
public import StateMachineAPI
import Synchronization

/// Exports `type` as the RaftHost native plugin of this shared library: returns the function
/// table of the plugin ABI (`include/rafthost_plugin.h`) for `rafthost_plugin_entry` to return.
///
/// One line in a library built with `type: .dynamic` makes any ``StateMachine`` a plugin that
/// the stock `rafthost` loads from `cluster.yaml` (`plugins: [{native: libCounter.so}]`):
///
/// ```swift
/// import RaftHostPluginExport
///
/// @_cdecl("rafthost_plugin_entry")
/// public func rafthostPluginEntry() -> UnsafeRawPointer { exportPlugin(Counter.self) }
/// ```
///
/// The plugin's name is ``StateMachine/name``; commands, queries and responses travel in the
/// type's binary encoding (``BinaryCodable``), and a command or snapshot that does not decode
/// is answered with an error, never a crash. Call it with one type per library: each library
/// links its own copy of this module, whose table serves the first type exported (a second,
/// different type is a programming error and traps).
public func exportPlugin<Machine: StateMachine>(_ type: Machine.Type) -> UnsafeRawPointer {
    exported.withLock { exported in
        if let exported {
            precondition(
                exported.type == ObjectIdentifier(Machine.self),
                "a RaftHost plugin library exports one state machine: \(exported.name) already, not \(Machine.self)"
            )
            return UnsafeRawPointer(exported.table)
        }
        let made = Exported(Machine.self)
        exported = made
        return UnsafeRawPointer(made.table)
    }
}

/// The exported type and its table: set once, by the first ``exportPlugin(_:)``.
private let exported = Mutex<Exported?>(nil)

/// The driver the C thunks dispatch to: the exported type, set before any thunk can run.
private var currentDriver: any Driver {
    guard let driver = exported.withLock({ $0?.driver }) else {
        preconditionFailure("a RaftHost plugin function was called before rafthost_plugin_entry")
    }
    return driver
}

private struct Exported: @unchecked Sendable {
    var type: ObjectIdentifier
    var name: String
    var driver: any Driver
    /// Allocated once and never freed: the host may use it for the life of the process.
    /// (`@unchecked Sendable` for this pointer, which nothing writes after `init`.)
    var table: UnsafeMutablePointer<rafthost_plugin>

    init<Machine: StateMachine>(_ type: Machine.Type) {
        self.type = ObjectIdentifier(type)
        name = Machine.name
        driver = TypedDriver<Machine>()
        let cName = Machine.name.utf8CString
        let name = UnsafeMutablePointer<CChar>.allocate(capacity: cName.count)
        cName.withUnsafeBufferPointer { name.initialize(from: $0.baseAddress!, count: $0.count) }
        table = .allocate(capacity: 1)
        table.initialize(to: Self.functions(name: name))
    }

    /// The C functions: thunks without context that dispatch through `currentDriver`.
    private static func functions(name: UnsafePointer<CChar>) -> rafthost_plugin {
        rafthost_plugin(
            abi_version: RAFTHOST_PLUGIN_ABI_VERSION,
            name: name,
            create: { state, error in
                guard let state else { return fail(error, "create: state is NULL") }
                state.pointee = currentDriver.create()
                return RAFTHOST_PLUGIN_OK
            },
            destroy: { state in
                if let state { currentDriver.destroy(state) }
            },
            apply: { state, command, count, index, time, output in
                guard let state else { return fail(output, "apply: state is NULL") }
                let context = ApplyContext(index: index, time: time)
                return answer(output, currentDriver.apply(state, bytes(command, count), context: context))
            },
            query: { state, query, count, index, time, output in
                guard let state else { return fail(output, "query: state is NULL") }
                let context = QueryContext(index: index, time: time)
                return answer(output, currentDriver.query(state, bytes(query, count), context: context))
            },
            snapshot: { state, output in
                guard let state else { return fail(output, "snapshot: state is NULL") }
                return answer(output, currentDriver.snapshot(state))
            },
            restore: { state, snapshot, count, error in
                guard let state else { return fail(error, "restore: state is NULL") }
                return answer(error, currentDriver.restore(state, bytes(snapshot, count)).map { [] })
            },
            free_buffer: { buffer in
                buffer.data?.deallocate()
            }
        )
    }
}

/// A copy of the bytes the host passed.
private func bytes(_ pointer: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// Hands `result` to the host: the bytes, or the error's description, in `output`.
private func answer(_ output: UnsafeMutablePointer<rafthost_buffer>?, _ result: Result<[UInt8], any Error>) -> Int32 {
    switch result {
    case .success(let bytes):
        output?.pointee = buffer(bytes)
        return RAFTHOST_PLUGIN_OK
    case .failure(let error):
        return fail(output, "\(error)")
    }
}

private func fail(_ output: UnsafeMutablePointer<rafthost_buffer>?, _ message: String) -> Int32 {
    output?.pointee = buffer(Array(message.utf8))
    return RAFTHOST_PLUGIN_ERROR
}

/// A buffer the host hands back to `free_buffer`; no allocation for no bytes.
private func buffer(_ bytes: [UInt8]) -> rafthost_buffer {
    guard !bytes.isEmpty else { return rafthost_buffer(data: nil, length: 0) }
    let data = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
    bytes.withUnsafeBufferPointer { data.initialize(from: $0.baseAddress!, count: $0.count) }
    return rafthost_buffer(data: data, length: bytes.count)
}

/// What the thunks call, with the exported type's generic code behind it.
private protocol Driver: Sendable {
    func create() -> UnsafeMutableRawPointer
    func destroy(_ state: UnsafeMutableRawPointer)
    func apply(
        _ state: UnsafeMutableRawPointer,
        _ command: [UInt8],
        context: ApplyContext
    ) -> Result<[UInt8], any Error>
    func query(_ state: UnsafeRawPointer, _ query: [UInt8], context: QueryContext) -> Result<[UInt8], any Error>
    func snapshot(_ state: UnsafeRawPointer) -> Result<[UInt8], any Error>
    func restore(_ state: UnsafeMutableRawPointer, _ snapshot: [UInt8]) -> Result<Void, any Error>
}

/// One plugin state: the host's `void *` is a retained reference to it.
private final class StateBox<Machine: StateMachine> {
    var machine = Machine()
}

private struct TypedDriver<Machine: StateMachine>: Driver {
    private func box(_ state: UnsafeRawPointer) -> StateBox<Machine> {
        Unmanaged<StateBox<Machine>>.fromOpaque(state).takeUnretainedValue()
    }

    func create() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(StateBox<Machine>()).toOpaque()
    }

    func destroy(_ state: UnsafeMutableRawPointer) {
        Unmanaged<StateBox<Machine>>.fromOpaque(state).release()
    }

    func apply(
        _ state: UnsafeMutableRawPointer,
        _ command: [UInt8],
        context: ApplyContext
    ) -> Result<[UInt8], any Error> {
        Result {
            let command = try Machine.Command(decoding: command)
            return box(state).machine.apply(command, context: context).encoded()
        }
    }

    func query(_ state: UnsafeRawPointer, _ query: [UInt8], context: QueryContext) -> Result<[UInt8], any Error> {
        Result { box(state).machine.query(try Machine.Query(decoding: query), context: context).encoded() }
    }

    func snapshot(_ state: UnsafeRawPointer) -> Result<[UInt8], any Error> {
        Result { try box(state).machine.snapshot() }
    }

    func restore(_ state: UnsafeMutableRawPointer, _ snapshot: [UInt8]) -> Result<Void, any Error> {
        Result { box(state).machine = try Machine(snapshot: snapshot) }
    }
}
