public import RaftCore
import Synchronization

/// `PersistentStorage` in memory, for the simulator and tests.
///
/// It keeps two copies of the state: what has been written and what has been synced. `crash()`
/// throws away the difference, as a power loss would. Writes since the last sync are kept as a
/// list of operations that `sync()` replays on the synced copy, so neither copy is ever copied
/// whole on the way (the simulator syncs after nearly every write). A final class around a
/// `Mutex` (rather than an actor) so that it conforms to the synchronous protocol and can be
/// shared with the simulator.
public final class MemoryStorage: PersistentStorage {
    private struct Model: Sendable {
        var hardState = HardState()
        var snapshot: Snapshot?
        var log = LogWindow<Entry>()
        /// Encoded bytes of the hard state and the live entries, kept as the log changes.
        var raftStateSize = Format.hardStateRecordSize

        var persistentState: PersistentState {
            PersistentState(hardState: hardState, snapshot: snapshot, entries: Array(log.elements))
        }

        mutating func perform(_ operation: Operation) {
            switch operation {
            case .append(let entries):
                guard let first = entries.first else { return }
                if first.index <= log.lastIndex {
                    raftStateSize -= log.elements[Int(first.index - log.baseIndex - 1)...]
                        .reduce(0) { $0 + Format.entryRecordSize($1) }
                }
                for entry in entries {
                    log.put(entry, at: entry.index)
                    raftStateSize += Format.entryRecordSize(entry)
                }
            case .hardState(let newHardState):
                hardState = newHardState
            case .snapshot(let newSnapshot):
                snapshot = newSnapshot
                log.rebase(index: newSnapshot.metadata.index, term: newSnapshot.metadata.term)
                raftStateSize = log.elements.reduce(Format.hardStateRecordSize) { $0 + Format.entryRecordSize($1) }
            }
        }
    }

    private enum Operation: Sendable {
        case append([Entry])
        case hardState(HardState)
        case snapshot(Snapshot)
    }

    private struct State: Sendable {
        var written = Model()
        var synced = Model()
        /// What `written` has and `synced` has not, in order.
        var unsynced: [Operation] = []
        var statistics = StorageStatistics()
        /// The chunks of the snapshot being received, gone in a crash like unsynced writes.
        var incoming: (metadata: SnapshotMetadata, bytes: [UInt8])?

        mutating func perform(_ operation: Operation) {
            written.perform(operation)
            unsynced.append(operation)
        }
    }

    private let state = Mutex(State())

    /// An empty storage: no hard state, no snapshot, no entries.
    public init() {}

    public func load() throws(StorageError) -> PersistentState {
        state.withLock { $0.written.persistentState }
    }

    public func append(_ entries: [Entry]) throws(StorageError) {
        try state.withLock { (state) throws(StorageError) in
            try state.written.log.validate(entries)
            state.perform(.append(entries))
            state.statistics.bytesWritten += entries.reduce(0) { $0 + Format.entryRecordSize($1) }
            state.statistics.writes += 1
        }
    }

    public func saveHardState(_ hardState: HardState) throws(StorageError) {
        state.withLock { state in
            state.perform(.hardState(hardState))
            state.statistics.writes += 1
            state.statistics.bytesWritten += Format.hardStateRecordSize
        }
    }

    public func installSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try state.withLock { (state) throws(StorageError) in
            try Self.checkNewer(snapshot, than: state.written)
            var snapshot = snapshot
            if snapshot.data.isStoredByDriver {
                guard let incoming = state.incoming, incoming.metadata == snapshot.metadata,
                    incoming.bytes.count == snapshot.data.count
                else {
                    throw StorageError(
                        .invalidArgument,
                        "the chunks of snapshot \(snapshot.metadata.index) were not received"
                    )
                }
                snapshot.data = SnapshotData(incoming.bytes)
                state.incoming = nil
            }
            state.perform(.snapshot(snapshot))
            Self.sync(&state)
        }
    }

    public func receiveSnapshotChunk(_ chunk: SnapshotChunk) throws(StorageError) {
        try state.withLock { (state) throws(StorageError) in
            if chunk.offset == 0 {
                state.incoming = (chunk.metadata, [])
            }
            guard var incoming = state.incoming, incoming.metadata == chunk.metadata,
                UInt64(incoming.bytes.count) == chunk.offset
            else {
                throw StorageError(
                    .invalidArgument,
                    "snapshot chunk at offset \(chunk.offset) does not continue the one received"
                )
            }
            state.incoming = nil  // keeps the bytes uniquely referenced while appending
            incoming.bytes.append(contentsOf: chunk.data)
            state.incoming = incoming
            state.statistics.bytesWritten += chunk.data.count
        }
    }

    public func storedSnapshotData(for metadata: SnapshotMetadata) throws(StorageError) -> SnapshotData? {
        state.withLock { state in
            state.written.snapshot.flatMap { $0.metadata == metadata ? $0.data : nil }
        }
    }

    public func compact(to snapshot: Snapshot) throws(StorageError) {
        try state.withLock { (state) throws(StorageError) in
            try Self.checkNewer(snapshot, than: state.written)
            let index = snapshot.metadata.index
            guard state.written.log.term(at: index) == snapshot.metadata.term else {
                throw StorageError(
                    .invalidArgument,
                    "compaction at index \(index) term \(snapshot.metadata.term), which the log does not hold"
                )
            }
            state.perform(.snapshot(snapshot))
            Self.sync(&state)
        }
    }

    public func sync() throws(StorageError) {
        state.withLock { Self.sync(&$0) }
    }

    /// Hard state plus live entries, sized as `DiskStorage` encodes them (without the garbage a log
    /// file keeps until its next rewrite).
    public var persistedRaftStateSize: Int {
        state.withLock { $0.written.raftStateSize }
    }

    public var snapshotSize: Int {
        state.withLock { $0.written.snapshot.map(Format.snapshotFileSize) ?? 0 }
    }

    public var statistics: StorageStatistics {
        state.withLock { $0.statistics }
    }

    /// Simulates a power loss: everything written since the last sync is forgotten.
    public func crash() {
        state.withLock { state in
            state.written = state.synced
            state.unsynced = []
            state.incoming = nil
        }
    }

    /// Whether a crash now would keep the entry `(index, term)`: it is synced, or covered by the
    /// synced snapshot.
    public func hasSynced(index: LogIndex, term: Term) -> Bool {
        state.withLock { state in
            index <= (state.synced.snapshot?.metadata.index ?? 0) || state.synced.log.term(at: index) == term
        }
    }

    /// What would survive a crash now.
    public var syncedState: PersistentState {
        state.withLock { $0.synced.persistentState }
    }

    private static func sync(_ state: inout State) {
        for operation in state.unsynced {
            state.synced.perform(operation)
        }
        state.unsynced = []
        state.statistics.syncs += 1
    }

    private static func checkNewer(_ snapshot: Snapshot, than model: Model) throws(StorageError) {
        let current = model.snapshot?.metadata.index ?? 0
        guard snapshot.metadata.index > current else {
            throw StorageError(
                .staleSnapshot,
                "snapshot at index \(snapshot.metadata.index) is not newer than \(current)"
            )
        }
    }
}
