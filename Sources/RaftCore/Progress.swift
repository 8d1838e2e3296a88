/// What a leader knows about one follower's log, and how it is sending to it.
struct Progress: Sendable {
    enum State: Sendable, Equatable {
        /// One append at a time until the leader finds where the logs match.
        case probe
        /// The logs match up to `match`; appends are pipelined up to the in-flight window.
        case replicate
        /// The follower needs entries the leader has compacted; a snapshot is being sent.
        case snapshot(SnapshotTransfer)
    }

    struct SnapshotTransfer: Sendable, Equatable {
        /// The snapshot being sent, pinned: if the leader compacts again meanwhile, restarting
        /// with the newer one could starve a slow follower forever.
        var snapshot: Snapshot
        /// The next byte the follower asked for.
        var offset: UInt64

        var index: LogIndex { snapshot.metadata.index }
        var term: Term { snapshot.metadata.term }
    }

    var match: LogIndex = 0
    var next: LogIndex
    var state: State = .probe
    /// In probe state: an append is outstanding, wait for its answer or the next heartbeat.
    var probeSent = false
    /// Last index of each append in flight, oldest first (replicate state).
    var inflight: [LogIndex] = []
    /// Set on any message from the follower; check-quorum clears it every election timeout.
    var recentActive = false
    /// The leader's tick count when this follower was last heard from (quiescence asks for
    /// every member to have answered recently).
    var lastHeardTick = 0
    /// Heartbeat answers since the last append sent, or append or snapshot answer: when
    /// several arrive and the follower is still behind, something in flight was lost and the
    /// leader resends.
    var heartbeatsSinceProgress = 0
    /// Highest ReadIndex round this follower confirmed.
    var readRoundAck: UInt64 = 0

    init(next: LogIndex) {
        self.next = next
    }

    mutating func becomeProbe() {
        state = .probe
        next = match + 1
        probeSent = false
        inflight.removeAll()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = max(next, match + 1)
        probeSent = false
        inflight.removeAll()
    }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflight.count >= maxInflight
        case .snapshot: return true
        }
    }
}
