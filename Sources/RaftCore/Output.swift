/// One batch of work the engine hands its driver (``RaftEngine/takeOutput()``).
///
/// The driver MUST handle a batch in this order:
/// 1. persist `snapshot` (then restore the state machine from it), `entries` (the first one
///    replaces any stored entry at its index and everything after it) and `hardState`, and
///    make them durable;
/// 2. send `messages` (a leader MAY send `.append`, `.heartbeat` and `.installSnapshot`
///    messages before step 1 completes: they depend only on its term, which it persisted when
///    it campaigned; see ``Message/mayBeSentBeforePersisting``);
/// 3. call ``RaftEngine/didPersist(_:)`` once step 1 is durable;
/// 4. apply `committedEntries` in order, then serve each of `readStates` once the state
///    machine has applied through its index; fail the reads in `failedReads`.
public struct RaftOutput: Sendable {
    public var hardState: HardState?
    /// A snapshot received from the leader that replaces the state machine and the log.
    public var snapshot: Snapshot?
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
        hardState == nil && snapshot == nil && entries.isEmpty && messages.isEmpty
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
