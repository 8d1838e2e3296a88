/// One batch of work the engine hands its driver (``RaftEngine/takeOutput()``).
///
/// The contract a driver MUST keep for every batch (the one driver step that keeps it lives in
/// `RaftReplica`: `Replica.beginStep()` takes a batch and says what to persist, send and apply,
/// `Replica.finishStep(_:)` completes it once the batch is durable):
///
/// - **Snapshot first.** Store `receivedSnapshotChunks`; if `snapshot` is set, install it
///   durably before anything else in the batch: persist it (it replaces the stored log) and
///   restore the state machine from it.
/// - **Persist** `entries` (the first one replaces any stored entry at its index and
///   everything after it) and `hardState`. When `mustSync` is set the write must be synced
///   before the batch counts as durable; a batch that only moves the commit index may be
///   written without a sync of its own.
/// - **Apply** `committedEntries` in order, exactly once. They may be applied before the sync
///   of this batch's entries: the engine hands out entries only through
///   `min(commitIndex, stableIndex)`, so every committed entry is already durable on this node
///   (written by an earlier batch whose ``RaftEngine/didPersist(_:)`` the engine has seen).
///   Then serve each of `readStates` once the state machine has applied through its index, and
///   fail the reads in `failedReads`.
/// - **Send** the `messages` for which ``Message/mayBeSentBeforePersisting`` is true (a
///   leader's appends, heartbeats and snapshot chunks) at once, before the sync; send all
///   others only once the batch is durable: votes and responses vouch for the term, vote and
///   entries the batch persists.
/// - **Acknowledge** with ``RaftEngine/didPersist(_:)`` once the batch is durable, in the order
///   the batches were taken.
///
/// `softState` reports a change of role, term or known leader; nothing needs to be done with it.
public struct RaftOutput: Sendable {
    public var hardState: HardState?
    /// A snapshot received from the leader that replaces the state machine and the log.
    public var snapshot: Snapshot?
    /// Chunks of a snapshot being received, in order, for the driver to store before
    /// `snapshot` (only with ``RaftConfiguration/driverStoresSnapshotChunks``): a chunk at offset
    /// 0 starts a new snapshot. They need no sync; installing the snapshot syncs it.
    public var receivedSnapshotChunks: [SnapshotChunk] = []
    public var entries: [Entry] = []
    public var messages: [Message] = []
    public var committedEntries: [Entry] = []
    public var readStates: [ReadState] = []
    /// Reads that can no longer be confirmed (this node stopped leading).
    public var failedReads: [UInt64] = []
    /// Set when role, term or known leader changed.
    public var softState: SoftState?
    /// Whether this batch must be durable (synced) before the messages that depend on it are
    /// sent: it carries a snapshot, new entries, or a new term or vote. A hard state that only
    /// moves the commit index may be written without a sync of its own (etcd's `MustSync`).
    public var mustSync = false

    public var isEmpty: Bool {
        hardState == nil && snapshot == nil && receivedSnapshotChunks.isEmpty && entries.isEmpty && messages.isEmpty
            && committedEntries.isEmpty && readStates.isEmpty && failedReads.isEmpty && softState == nil
    }
}

/// A read that is now linearizable: serve it once the state machine applied through `index`.
public struct ReadState: Sendable, Hashable {
    public var id: UInt64
    public var index: LogIndex

    public init(id: UInt64, index: LogIndex) {
        self.id = id
        self.index = index
    }
}

public enum Role: String, Sendable, Hashable {
    case follower
    case preCandidate
    case candidate
    case leader
}

/// Volatile state worth reporting: it changes with elections.
public struct SoftState: Sendable, Hashable {
    public var role: Role
    public var term: Term
    public var leader: NodeID?
}

extension Message {
    /// Whether a leader may send this message before its own batch is durable (thesis
    /// §10.2.1): appends, heartbeats and snapshot chunks carry only state the leader already
    /// persisted or that it does not count until persisted.
    public var mayBeSentBeforePersisting: Bool {
        switch payload {
        case .append, .heartbeat, .installSnapshot: return true
        default: return false
        }
    }
}
