/// A state machine of any type, driven with encoded commands, queries and responses.
///
/// The host keeps one per Raft group and never needs the plugin's concrete types: it applies
/// the bytes of committed entries and answers with the bytes of responses. Inside, each call
/// opens the existential once and runs the plugin's own generic code, so decoding, applying
/// and encoding are not dynamically dispatched step by step.
///
/// ```swift
/// var machine = try registry.make(named: "KeyValueStore")
/// let response = try machine.apply(encodedCommand: entry.data, context: context)
/// let capture = machine.capture()            // O(1), on the apply loop
/// let bytes = try capture.serialize()        // later, anywhere
/// ```
public struct AnyStateMachine: Sendable {
    private enum Base: Sendable {
        /// A Swift type compiled into the host.
        case typed(any StateMachine)
        /// A plugin loaded at run time, driven with bytes.
        case dynamic(any DynamicStateMachine)
    }

    private var base: Base

    /// Wraps `machine`, keeping its current state.
    public init(_ machine: some StateMachine) {
        base = .typed(machine)
    }

    /// Wraps a plugin loaded at run time (a native library or a WebAssembly module).
    public init(dynamic machine: some DynamicStateMachine) {
        base = .dynamic(machine)
    }

    /// Creates the empty state of `type`.
    public init(emptyOf type: any StateMachine.Type) {
        base = .typed(type.init())
    }

    /// Restores a state of `type` from snapshot bytes.
    public init(type: any StateMachine.Type, snapshot: [UInt8]) throws {
        base = .typed(try type.init(snapshot: snapshot))
    }

    /// The concrete Swift type of the state machine; nil for a plugin loaded at run time.
    public var machineType: (any StateMachine.Type)? {
        switch base {
        case .typed(let machine): type(of: machine)
        case .dynamic: nil
        }
    }

    /// The registered name of the state machine (``StateMachine/name``).
    public var name: String {
        switch base {
        case .typed(let machine): type(of: machine).name
        case .dynamic(let machine): machine.name
        }
    }

    /// Decodes `encodedCommand`, applies it and returns the encoded response.
    ///
    /// A command that does not decode throws ``BinaryDecodingError`` and leaves the state
    /// unchanged. Every replica decodes the same bytes the same way, so a replicated entry
    /// that fails here fails everywhere: the host answers the client with an error and the
    /// replicas stay in agreement.
    ///
    /// A plugin loaded at run time may also fail in its own way (it trapped, ran out of fuel or
    /// memory); it fails the same way on every replica, so the command is answered with that
    /// error and the state is as the plugin left it.
    public mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        switch base {
        case .typed(var machine):
            // Out of `base` while it changes, so the state stays uniquely referenced.
            base = .dynamic(Placeholder())
            defer { base = .typed(machine) }
            return try Self.apply(to: &machine, encodedCommand: encodedCommand, context: context)
        case .dynamic(var machine):
            base = .dynamic(Placeholder())
            defer { base = .dynamic(machine) }
            return try machine.apply(encodedCommand: encodedCommand, context: context)
        }
    }

    /// Decodes `encoded` as a query, answers it and returns the encoded response.
    public func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] {
        switch base {
        case .typed(let machine): try Self.query(machine, encoded: encoded, context: context)
        case .dynamic(let machine): try machine.query(encoded: encoded, context: context)
        }
    }

    /// A copy of the current state that can be serialized later, off the apply loop: O(1) for
    /// Swift plugins (copy-on-write); a plugin loaded at run time is serialized at once.
    public func capture() -> StateMachineCapture {
        switch base {
        case .typed(let machine):
            StateMachineCapture(name: name) { (stream: inout SnapshotOutputStream) in
                try machine.writeSnapshot(to: &stream)
            }
        case .dynamic(let machine):
            StateMachineCapture(name: name, serialized: Result { try machine.snapshot() })
        }
    }

    /// Replaces the state with one restored from a snapshot stream of the same state machine,
    /// read to its end. On error the current state is kept.
    public mutating func restore(from stream: inout SnapshotInputStream) throws {
        switch base {
        case .typed(let machine):
            base = .typed(try type(of: machine).init(snapshotStream: &stream))
        case .dynamic(var machine):
            try machine.restore(from: stream.readToEnd())
            base = .dynamic(machine)
        }
    }

    /// Replaces the state with one restored from snapshot bytes of the same state machine.
    /// On error the current state is kept.
    public mutating func restore(from snapshot: [UInt8]) throws {
        switch base {
        case .typed(let machine):
            base = .typed(try type(of: machine).init(snapshot: snapshot))
        case .dynamic(var machine):
            try machine.restore(from: snapshot)
            base = .dynamic(machine)
        }
    }

    /// Serializes the current state now, on the caller's thread. The host prefers
    /// ``capture()`` so that a large state does not stall applying.
    public func snapshot() throws -> [UInt8] {
        switch base {
        case .typed(let machine): try machine.snapshot()
        case .dynamic(let machine): try machine.snapshot()
        }
    }

    /// The wrapped state machine if it is a `Machine`, for tests and typed tooling.
    public func unwrap<Machine: StateMachine>(as type: Machine.Type = Machine.self) -> Machine? {
        guard case .typed(let machine) = base else { return nil }
        return machine as? Machine
    }

    private static func apply<Machine: StateMachine>(
        to machine: inout Machine,
        encodedCommand: [UInt8],
        context: ApplyContext
    ) throws(BinaryDecodingError) -> [UInt8] {
        let command = try Machine.Command(decoding: encodedCommand)
        return machine.apply(command, context: context).encoded()
    }

    private static func query<Machine: StateMachine>(
        _ machine: Machine,
        encoded: [UInt8],
        context: QueryContext
    ) throws(BinaryDecodingError) -> [UInt8] {
        let query = try Machine.Query(decoding: encoded)
        return machine.query(query, context: context).encoded()
    }
}

/// A frozen copy of a state machine's state, taken by ``AnyStateMachine/capture()``.
///
/// Taking it costs a copy of a value type, O(1) with copy-on-write storage; the apply loop
/// then goes on mutating its own copy while this one is serialized on another task or thread.
public struct StateMachineCapture: Sendable {
    private enum Content: Sendable {
        case pending(@Sendable (inout SnapshotOutputStream) throws -> Void)
        case serialized(Result<[UInt8], any Error>)
    }

    /// The registered name of the captured state machine.
    public let name: String
    private let content: Content

    fileprivate init(name: String, write: @escaping @Sendable (inout SnapshotOutputStream) throws -> Void) {
        self.name = name
        content = .pending(write)
    }

    fileprivate init(name: String, serialized: Result<[UInt8], any Error>) {
        self.name = name
        content = .serialized(serialized)
    }

    /// Serializes the captured state as one array (``StateMachine/snapshot()``). May be slow
    /// for large states: call it off the apply loop.
    public func serialize() throws -> [UInt8] {
        switch content {
        case .pending(let write): try SnapshotOutputStream.collect(write)
        case .serialized(let result): try result.get()
        }
    }

    /// Writes the captured state to `stream` (``StateMachine/writeSnapshot(to:)``): the same
    /// bytes as ``serialize()``, never held as one array by a plugin that streams. May be slow
    /// for large states: call it off the apply loop.
    public func write(to stream: inout SnapshotOutputStream) throws {
        switch content {
        case .pending(let write): try write(&stream)
        case .serialized(let result): try stream.writeRawBytes(result.get())
        }
    }
}

/// Stands in for a state machine while ``AnyStateMachine`` hands its state to a mutating call.
private struct Placeholder: DynamicStateMachine {
    var name: String { "" }
    func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] { [] }
    func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] { [] }
    func snapshot() throws -> [UInt8] { [] }
    func restore(from snapshot: [UInt8]) throws {}
}

/// A state machine the host drives with bytes only, whose name is known at run time: what a
/// plugin loaded from a native library or a WebAssembly module is. Swift plugins conform to
/// ``StateMachine`` instead.
///
/// The same rules hold as for ``StateMachine``: `apply` is deterministic, and a failure (a
/// trap, running out of fuel or memory) must be the same on every replica; it is answered as
/// that command's error.
public protocol DynamicStateMachine: Sendable {
    /// The name `cluster.yaml` uses in `groups[].stateMachine`.
    var name: String { get }
    /// Applies an encoded command and returns the encoded response.
    mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8]
    /// Answers an encoded query without changing the state.
    func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8]
    /// The state as bytes; equal states give equal bytes.
    func snapshot() throws -> [UInt8]
    /// Replaces the state with one from ``snapshot()`` bytes; on error the state is kept.
    mutating func restore(from snapshot: [UInt8]) throws
}
