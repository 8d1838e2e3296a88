/// A Raft term: a logical clock that increases with every election.
public typealias Term = UInt64

/// A position in the replicated log. Index 0 is the empty prefix; the first entry is 1.
public typealias LogIndex = UInt64

/// Identifies one member of a Raft group. The host maps configured node names to ids.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { "n\(rawValue)" }
}

/// One record of the replicated log.
public struct Entry: Sendable, Hashable {
    public enum Kind: UInt8, Sendable {
        /// An opaque command for the state machine.
        case command = 0
        /// The empty entry a new leader appends so that it can commit entries of earlier terms
        /// (Raft §5.4.2) and serve ReadIndex requests. State machines never see it.
        case noop = 1
        /// A new ``Membership`` (its ``Membership/encoded`` form), in force once applied.
        /// State machines never see it.
        case membership = 2
    }

    public var term: Term
    public var index: LogIndex
    public var kind: Kind
    public var data: [UInt8]

    public init(term: Term, index: LogIndex, kind: Kind = .command, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes this entry adds to messages and to the persisted log, header included. Used for
    /// message size limits and accounting; the storage and wire formats define the exact size.
    public var approximateByteSize: Int { Self.approximateByteSize(ofData: data) }

    /// ``approximateByteSize`` of an entry carrying `data`, for sizing commands before they
    /// become entries.
    static func approximateByteSize(ofData data: [UInt8]) -> Int { data.count + 24 }
}

/// The state a node MUST persist before it answers a message that depends on it.
public struct HardState: Sendable, Hashable {
    public var term: Term
    /// The candidate this node voted for in `term`, if any.
    public var vote: NodeID?
    /// The highest index known to be committed. Persisting it is an optimization (a restarted
    /// node can apply up to it at once); losing it is safe.
    public var commit: LogIndex

    public init(term: Term = 0, vote: NodeID? = nil, commit: LogIndex = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// What a snapshot covers: the log prefix up to `index` (whose entry had `term`), and the
/// membership in force at that point.
public struct SnapshotMetadata: Sendable, Hashable {
    public var index: LogIndex
    public var term: Term
    public var membership: Membership

    public init(index: LogIndex, term: Term, membership: Membership) {
        self.index = index
        self.term = term
        self.membership = membership
    }

    /// Metadata of a group whose membership is `voters` only.
    public init(index: LogIndex, term: Term, voters: [NodeID]) {
        self.init(index: index, term: term, membership: Membership(voters: voters))
    }
}

/// A state machine image at `metadata.index`, opaque to the engine.
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    public var data: SnapshotData

    public init(metadata: SnapshotMetadata, data: SnapshotData) {
        self.metadata = metadata
        self.data = data
    }

    /// A snapshot whose bytes are in memory.
    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.init(metadata: metadata, data: SnapshotData(data))
    }
}

/// Immutable bytes of a snapshot kept outside the engine, typically a synced file, read in
/// ranges. A read fails only when the storage does (the engine then sends nothing).
public protocol SnapshotDataSource: AnyObject, Sendable {
    /// The number of bytes.
    var count: Int { get }
    /// The bytes in `range`, which lies within `0..<count`.
    func read(_ range: Range<Int>) throws -> [UInt8]
}

/// The bytes of a snapshot: in memory, or in a ``SnapshotDataSource`` (a file) so that a large
/// state is not held as one array. The engine only needs their count and the ranges it sends.
public struct SnapshotData: Sendable, Hashable {
    private enum Storage: Sendable {
        case bytes([UInt8])
        case source(any SnapshotDataSource)
    }

    private let storage: Storage

    /// Bytes in memory.
    public init(_ bytes: [UInt8]) {
        storage = .bytes(bytes)
    }

    /// Bytes read from `source` when needed.
    public init(source: some SnapshotDataSource) {
        storage = .source(source)
    }

    /// `count` bytes the driver stored (the chunks of a received snapshot) and has not handed
    /// back yet: reading them fails.
    public static func stored(count: Int) -> SnapshotData {
        SnapshotData(source: StoredByDriver(count: count))
    }

    private final class StoredByDriver: SnapshotDataSource {
        struct NotHandedBack: Error {}

        let count: Int

        init(count: Int) {
            self.count = count
        }

        func read(_ range: Range<Int>) throws -> [UInt8] {
            throw NotHandedBack()
        }
    }

    public var count: Int {
        switch storage {
        case .bytes(let bytes): bytes.count
        case .source(let source): source.count
        }
    }

    /// The bytes if they are in memory.
    public var bytes: [UInt8]? {
        if case .bytes(let bytes) = storage { bytes } else { nil }
    }

    /// Whether these are the bytes of ``stored(count:)``, which only the driver has.
    public var isStoredByDriver: Bool {
        source is StoredByDriver
    }

    /// The source the bytes are read from, if they are not in memory.
    public var source: (any SnapshotDataSource)? {
        if case .source(let source) = storage { source } else { nil }
    }

    /// The bytes in `range` (clamped to the data).
    public func read(_ range: Range<Int>) throws -> [UInt8] {
        let range = range.clamped(to: 0..<count)
        switch storage {
        case .bytes(let bytes): return Array(bytes[range])
        case .source(let source): return range.isEmpty ? [] : try source.read(range)
        }
    }

    /// Every byte as one array: for small snapshots and tests.
    public func readAll() throws -> [UInt8] {
        try bytes ?? read(0..<count)
    }

    /// The same bytes, wherever they are: comparing data in a source reads it (for tests; a
    /// source that fails to read equals only itself).
    public static func == (lhs: SnapshotData, rhs: SnapshotData) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case (.bytes(let left), .bytes(let right)): left == right
        case (.source(let left), .source(let right)) where left === right: true
        default: lhs.count == rhs.count && (try? lhs.readAll()).map { $0 == (try? rhs.readAll()) } == true
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
    }
}

/// Everything a node had persisted, handed to the engine when it (re)starts.
public struct PersistentState: Sendable, Hashable {
    public var hardState: HardState
    public var snapshot: Snapshot?
    /// The log after the snapshot, contiguous, starting at `snapshot.metadata.index + 1` (or 1).
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}
