public import RaftCore

/// The durable state of one node in one Raft group: log, hard state and latest snapshot.
///
/// Writes (`append`, `saveHardState`) may be buffered; they are durable once `sync()` returns.
/// `installSnapshot` and `compact` are durable when they return, together with every write
/// before them. The host calls one instance from one serial executor; implementations are
/// nevertheless safe to share between tasks.
///
/// Contract for callers (the engine keeps it; violations throw `.invalidArgument`):
/// - appended entries are contiguous and their first index is in `snapshotIndex + 1 ... lastIndex + 1`;
///   an append starting at or below the last index replaces the stored suffix from there on;
/// - snapshots only move forward.
public protocol PersistentStorage: AnyObject, Sendable {
    /// Everything stored: hard state, latest snapshot and the log after it.
    func load() throws(StorageError) -> PersistentState

    /// Appends `entries`, first replacing any stored entries from `entries.first.index` on.
    func append(_ entries: [Entry]) throws(StorageError)

    /// Records the current term, vote and commit index.
    func saveHardState(_ hardState: HardState) throws(StorageError)

    /// Stores a snapshot received from the leader. The log prefix it covers is dropped; the entries
    /// after it are kept only if the log holds the snapshot's `(index, term)`, otherwise the whole
    /// log is dropped (Raft §7). Durable on return. A snapshot whose data is
    /// ``RaftCore/SnapshotData/stored(count:)`` is made of the chunks received
    /// (``receiveSnapshotChunk(_:)``).
    func installSnapshot(_ snapshot: Snapshot) throws(StorageError)

    /// Stores the next chunk of a snapshot being received from the leader
    /// (``RaftCore/RaftOutput/receivedSnapshotChunks``), not synced: a chunk at offset 0 starts a
    /// new snapshot, any other continues the one being received (else `.invalidArgument`).
    func receiveSnapshotChunk(_ chunk: SnapshotChunk) throws(StorageError)

    /// Stores a snapshot the local state machine captured at `snapshot.metadata.index`, which must be
    /// in the stored log with the same term, and removes the log prefix up to it. Durable on return.
    func compact(to snapshot: Snapshot) throws(StorageError)

    /// Makes every write so far durable.
    func sync() throws(StorageError)

    /// Writes the data of a snapshot with `metadata`, which `write` streams to its sink piece by
    /// piece, for a later `compact(to:)` of a snapshot with that metadata and the returned data.
    /// Stores nothing yet. On disk the pieces go straight to a synced temporary file, which the
    /// returned data is read from, so the whole state is never one array; the default collects
    /// them in memory.
    func writeSnapshot(
        _ metadata: SnapshotMetadata,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> SnapshotData

    /// Forgets data that ``writeSnapshot(_:data:)`` wrote for a snapshot that will not be
    /// stored (a newer one was installed meanwhile): on disk, removes its temporary file.
    func discardSnapshot(_ data: SnapshotData)

    /// The data of the stored snapshot if it has `metadata`, read from where it is stored;
    /// nil if it is not stored or is in memory anyway (the default).
    func storedSnapshotData(for metadata: SnapshotMetadata) throws(StorageError) -> SnapshotData?

    /// Bytes of hard state and log, not counting the snapshot: what a `maxraftstate` policy compares
    /// against. Includes writes not yet synced.
    var persistedRaftStateSize: Int { get }

    /// Bytes of the stored snapshot (0 without one), for status reports.
    var snapshotSize: Int { get }

    /// Counters for metrics and benchmarks.
    var statistics: StorageStatistics { get }
}

extension PersistentStorage {
    public func writeSnapshot(
        _ metadata: SnapshotMetadata,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> SnapshotData {
        var bytes: [UInt8] = []
        try write { bytes.append(contentsOf: $0) }
        return SnapshotData(bytes)
    }

    public func storedSnapshotData(for metadata: SnapshotMetadata) throws(StorageError) -> SnapshotData? {
        nil
    }

    public func discardSnapshot(_ data: SnapshotData) {}
}

/// Counters kept by a storage since it was opened.
public struct StorageStatistics: Sendable, Hashable {
    /// Syncs that made the log durable (one `fdatasync` each on disk).
    public var syncs: Int = 0
    /// Write system calls to the log (or, in memory, write operations).
    public var writes: Int = 0
    /// Bytes written to the log and snapshots.
    public var bytesWritten: Int = 0

    public init(syncs: Int = 0, writes: Int = 0, bytesWritten: Int = 0) {
        self.syncs = syncs
        self.writes = writes
        self.bytesWritten = bytesWritten
    }
}
