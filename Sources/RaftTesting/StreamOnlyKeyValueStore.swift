public import KeyValueStore
public import StateMachineAPI

/// The key/value store with the byte form of its snapshot refused: `snapshot()` and
/// `init(snapshot:)` throw. A host that is to stream snapshots (save them with
/// ``StateMachine/writeSnapshot(to:)`` and restore them with
/// ``StateMachine/init(snapshotStream:)``, never through one array) serves it like the store.
public struct StreamOnlyKeyValueStore: StateMachine {
    /// What the byte form throws.
    public struct ByteFormUsed: Error {}

    public static let name = "StreamOnlyKeyValueStore"

    /// The store behind it.
    public private(set) var store = KeyValueStore()

    public init() {}

    public mutating func apply(_ command: KeyValueStore.Command, context: ApplyContext) -> KeyValueStore.Response {
        store.apply(command, context: context)
    }

    public func query(_ query: KeyValueStore.Query, context: QueryContext) -> KeyValueStore.Response {
        store.query(query, context: context)
    }

    public func snapshot() throws -> [UInt8] { throw ByteFormUsed() }

    public init(snapshot: [UInt8]) throws { throw ByteFormUsed() }

    public func writeSnapshot(to stream: inout SnapshotOutputStream) throws {
        try store.writeSnapshot(to: &stream)
    }

    public init(snapshotStream stream: inout SnapshotInputStream) throws {
        store = try KeyValueStore(snapshotStream: &stream)
    }
}
