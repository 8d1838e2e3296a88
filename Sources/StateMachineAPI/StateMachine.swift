/// Where and when a command is applied: the log index of its entry and the entry's log time.
///
/// Every replica applies the same entry with the same context, so a state machine that reads
/// the context stays deterministic.
public struct ApplyContext: Sendable, Hashable {
    /// The log index of the entry that carries the command. Strictly increasing from one
    /// command to the next (other entries in between are not shown to the state machine).
    public var index: UInt64

    /// Log time in milliseconds: stamped into the entry by the leader that appended it.
    ///
    /// All replicas see the same value, and it never decreases from one entry to the next (a
    /// new leader never stamps a time below the last entry of its log). It follows the
    /// leaders' clocks loosely; use it for leases and expiry, never the wall clock, which
    /// differs between replicas and between the first apply and a replay after a restart.
    public var time: UInt64

    public init(index: UInt64, time: UInt64) {
        self.index = index
        self.time = time
    }
}

/// The state a query reads: the last log entry applied and its log time.
///
/// A query runs on the state after entry `index` (ReadIndex: the replica has applied at least
/// the commit index the leader confirmed), so it sees the log time of that entry as "now".
public struct QueryContext: Sendable, Hashable {
    /// The index of the last entry applied to the state the query reads (any kind of entry).
    public var index: UInt64

    /// The log time of the entry at `index`, in milliseconds (see ``ApplyContext/time``).
    public var time: UInt64

    public init(index: UInt64, time: UInt64) {
        self.index = index
        self.time = time
    }
}

/// A deterministic state machine that RaftHost replicates: the type a plugin conforms.
///
/// Every replica starts from ``init()`` (or from ``init(snapshot:)``) and applies the same
/// commands in the same order with the same ``ApplyContext``; it must reach the same state and
/// return the same responses. So ``apply(_:context:)`` may depend on nothing but `self`, the
/// command and the context: no clock, no random numbers, no I/O, no iteration order of a
/// `Dictionary` or `Set` (it differs between processes and even between equal values).
///
/// ## Value semantics and snapshots
///
/// Conforming types must be value types whose copies are cheap: store the state in standard
/// library collections (`Dictionary`, `Array`, `String`, ...) or other copy-on-write storage.
/// The host takes a snapshot by copying the state on its apply loop, which is O(1), and
/// serializes the copy with ``writeSnapshot(to:)`` elsewhere while applying goes on (see
/// ``AnyStateMachine/capture()``). A class with shared mutable storage breaks this: the copy
/// would change under the serializer.
///
/// ## Codecs
///
/// Commands, queries and responses cross the network and the log as bytes, so their types
/// conform to ``BinaryCodable``. ``snapshot()`` must be deterministic too: equal states give
/// equal bytes (sort dictionary keys before writing them).
///
/// ## Registration
///
/// The host finds a plugin by ``name`` in a ``StateMachineRegistry``; the name is what
/// `cluster.yaml` writes under `stateMachine:`.
public protocol StateMachine: Sendable {
    /// A change to the state, written to the log.
    associatedtype Command: BinaryCodable & Sendable
    /// A read of the state, served without writing the log.
    associatedtype Query: BinaryCodable & Sendable
    /// The answer to a command or a query.
    associatedtype Response: BinaryCodable & Sendable

    /// The name `cluster.yaml` uses to select this state machine. Unique within a registry.
    static var name: String { get }

    /// The empty initial state, before any command.
    init()

    /// Applies `command`, the entry at `context.index`, and returns its response.
    ///
    /// Must be deterministic and must not fail: a command that cannot be carried out (a
    /// missing key, a lock held by someone else) returns a response that says so.
    mutating func apply(_ command: Command, context: ApplyContext) -> Response

    /// Answers `query` from the current state, without changing it.
    func query(_ query: Query, context: QueryContext) -> Response

    /// Serializes the whole state as one array. Equal states must give equal bytes.
    ///
    /// Implement either this or ``writeSnapshot(to:)``; each has a default that calls the other.
    func snapshot() throws -> [UInt8]

    /// Restores a state from the bytes of ``snapshot()``. Throws (never traps) on bytes that
    /// are not a valid snapshot, typically ``BinaryDecodingError``.
    ///
    /// Implement either this or ``init(snapshotStream:)``; each has a default that calls the
    /// other.
    init(snapshot: [UInt8]) throws

    /// Serializes the whole state piece by piece: what the host calls. Equal states must give
    /// equal bytes, the same as ``snapshot()``'s.
    ///
    /// Implement it for a state that may be large, so that the host never holds the
    /// serialized state as one array (the default calls ``snapshot()``).
    func writeSnapshot(to stream: inout SnapshotOutputStream) throws

    /// Restores a state from the stream of a snapshot, reading it to its end: what the host
    /// calls. Throws (never traps) on bytes that are not a valid snapshot.
    ///
    /// Implement it together with ``writeSnapshot(to:)`` (the default reads the whole
    /// stream into an array for ``init(snapshot:)``).
    init(snapshotStream stream: inout SnapshotInputStream) throws
}

// The byte form and the stream form default to each other, so a plugin implements one pair.
extension StateMachine {
    public func snapshot() throws -> [UInt8] {
        try SnapshotOutputStream.collect { try writeSnapshot(to: &$0) }
    }

    public init(snapshot: [UInt8]) throws {
        var stream = SnapshotInputStream(snapshot)
        try self.init(snapshotStream: &stream)
        try stream.finish()
    }

    public func writeSnapshot(to stream: inout SnapshotOutputStream) throws {
        try stream.writeRawBytes(snapshot())
    }

    public init(snapshotStream stream: inout SnapshotInputStream) throws {
        try self.init(snapshot: stream.readToEnd())
    }
}
