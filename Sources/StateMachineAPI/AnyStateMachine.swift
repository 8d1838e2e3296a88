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
    private var base: any StateMachine

    /// Wraps `machine`, keeping its current state.
    public init(_ machine: some StateMachine) {
        base = machine
    }

    /// Creates the empty state of `type`.
    public init(emptyOf type: any StateMachine.Type) {
        base = type.init()
    }

    /// Restores a state of `type` from snapshot bytes.
    public init(type: any StateMachine.Type, snapshot: [UInt8]) throws {
        base = try type.init(snapshot: snapshot)
    }

    /// The concrete type of the state machine.
    public var machineType: any StateMachine.Type { type(of: base) }

    /// The registered name of the state machine (``StateMachine/name``).
    public var name: String { machineType.name }

    /// Decodes `encodedCommand`, applies it and returns the encoded response.
    ///
    /// A command that does not decode throws ``BinaryDecodingError`` and leaves the state
    /// unchanged. Every replica decodes the same bytes the same way, so a replicated entry
    /// that fails here fails everywhere: the host answers the client with an error and the
    /// replicas stay in agreement.
    public mutating func apply(
        encodedCommand: [UInt8],
        context: ApplyContext
    ) throws(BinaryDecodingError) -> [UInt8] {
        try Self.apply(to: &base, encodedCommand: encodedCommand, context: context)
    }

    /// Decodes `encoded` as a query, answers it and returns the encoded response.
    public func query(encoded: [UInt8], context: QueryContext) throws(BinaryDecodingError) -> [UInt8] {
        try Self.query(base, encoded: encoded, context: context)
    }

    /// An O(1) copy of the current state that can be serialized later, off the apply loop.
    public func capture() -> StateMachineCapture {
        StateMachineCapture(base: base)
    }

    /// Replaces the state with one restored from snapshot bytes of the same state machine
    /// type. On error the current state is kept.
    public mutating func restore(from snapshot: [UInt8]) throws {
        base = try machineType.init(snapshot: snapshot)
    }

    /// Serializes the current state now, on the caller's thread. The host prefers
    /// ``capture()`` so that a large state does not stall applying.
    public func snapshot() throws -> [UInt8] {
        try base.snapshot()
    }

    /// The wrapped state machine if it is a `Machine`, for tests and typed tooling.
    public func unwrap<Machine: StateMachine>(as type: Machine.Type = Machine.self) -> Machine? {
        base as? Machine
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
    private let base: any StateMachine

    fileprivate init(base: any StateMachine) {
        self.base = base
    }

    /// The registered name of the captured state machine.
    public var name: String { type(of: base).name }

    /// Serializes the captured state (``StateMachine/snapshot()``). May be slow for large
    /// states: call it off the apply loop.
    public func serialize() throws -> [UInt8] {
        try base.snapshot()
    }
}
