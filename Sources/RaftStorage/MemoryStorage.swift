public import RaftCore
import Synchronization

/// `PersistentStorage` in memory, for the simulator and tests.
///
/// It keeps two copies of the state: what has been written and what has been synced. `crash()`
/// throws away the difference, as a power loss would. A final class around a `Mutex` (rather than
/// an actor) so that it conforms to the synchronous protocol and can be shared with the simulator.
public final class MemoryStorage: PersistentStorage {
    private struct Model: Sendable {
        var hardState = HardState()
        var snapshot: Snapshot?
        var log = LogWindow<Entry>()

        var persistentState: PersistentState {
            PersistentState(hardState: hardState, snapshot: snapshot, entries: Array(log.elements))
        }
    }

    private struct State: Sendable {
        var written = Model()
        var synced = Model()
        var statistics = StorageStatistics()
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
            for entry in entries {
                state.written.log.put(entry, at: entry.index)
                state.statistics.bytesWritten += Format.entryRecordSize(entry)
            }
            state.statistics.writes += 1
        }
    }

    public func saveHardState(_ hardState: HardState) throws(StorageError) {
        state.withLock { state in
            state.written.hardState = hardState
            state.statistics.writes += 1
            state.statistics.bytesWritten += Format.hardStateRecordSize
        }
    }

    public func installSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try state.withLock { (state) throws(StorageError) in
            try Self.checkNewer(snapshot, than: state.written)
            state.written.snapshot = snapshot
            state.written.log.rebase(index: snapshot.metadata.index, term: snapshot.metadata.term)
            Self.sync(&state)
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
            state.written.snapshot = snapshot
            state.written.log.rebase(index: index, term: snapshot.metadata.term)
            Self.sync(&state)
        }
    }

    public func sync() throws(StorageError) {
        state.withLock { Self.sync(&$0) }
    }

    /// Hard state plus live entries, sized as `DiskStorage` encodes them (without the garbage a log
    /// file keeps until its next rewrite).
    public var persistedRaftStateSize: Int {
        state.withLock { state in
            state.written.log.elements.reduce(Format.hardStateRecordSize) { $0 + Format.entryRecordSize($1) }
        }
    }

    public var snapshotSize: Int {
        state.withLock { $0.written.snapshot.map(Format.snapshotFileSize) ?? 0 }
    }

    public var statistics: StorageStatistics {
        state.withLock { $0.statistics }
    }

    /// Simulates a power loss: everything written since the last sync is forgotten.
    public func crash() {
        state.withLock { $0.written = $0.synced }
    }

    /// What would survive a crash now.
    public var syncedState: PersistentState {
        state.withLock { $0.synced.persistentState }
    }

    private static func sync(_ state: inout State) {
        state.synced = state.written
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
