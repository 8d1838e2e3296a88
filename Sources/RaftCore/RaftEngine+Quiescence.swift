// Quiescence: an idle group stops its heartbeats and election timers, so a node with many idle
// groups spends nothing per group per tick (dragonboat's quiesce, TiKV's hibernating regions).
// The leader decides, tells its followers with a flagged heartbeat, and anything that needs the
// group wakes it; the driver wakes it when a member's node stops or starts answering.
extension RaftEngine {
    /// Resumes a quiescent group: ticks count again, a follower restarts its election timer
    /// (it cannot tell how long its leader has been gone), a leader sends heartbeats again from
    /// its next tick on, which wakes its followers. Does nothing unless ``isQuiescent``.
    ///
    /// The driver may call it at any time (``livenessChanged(alive:)`` calls it when needed);
    /// messages, proposals, reads, transfers and membership changes call it themselves.
    public mutating func wake() {
        guard isQuiescent else { return }
        isQuiescent = false
        idleRounds = 0
        electionElapsed = 0
        guard role == .leader else { return }
        heartbeatElapsed = configuration.heartbeatTicks - 1
        // Check-quorum judges the next election timeout by the answers from now on.
        for peer in progress.keys {
            progress[peer]?.recentActive = false
        }
    }

    /// The driver's node-level liveness check changed its view: `alive` are the peer nodes that
    /// answer now. A quiescent follower wakes when its leader's node is not among them (so that
    /// it counts towards an election again); a quiescent leader wakes when the voters alive no
    /// longer make a quorum (so that check-quorum can step it down). Other changes need no wake:
    /// a node that comes back campaigns, and its vote requests wake whom they reach.
    public mutating func livenessChanged(alive: Set<NodeID>) {
        guard isQuiescent else { return }
        if role == .leader {
            if membership.voteResult({ $0 == id || alive.contains($0) }) != .won { wake() }
        } else if leader.map({ !alive.contains($0) }) ?? true {
            wake()
        }
    }

    /// Counts a heartbeat round of this leader; true once the group has been idle for
    /// ``RaftConfiguration/quiesceAfterTicks``.
    mutating func countIdleTick() -> Bool {
        guard configuration.quiesceAfterTicks > 0, isIdle else {
            idleRounds = 0
            return false
        }
        idleRounds += 1
        return idleRounds * configuration.heartbeatTicks >= configuration.quiesceAfterTicks
    }

    /// Nothing for the group to do: the whole log is committed and durable here and held by every
    /// member, every member answered within the last two heartbeats, and no read, transfer or
    /// membership change waits.
    private var isIdle: Bool {
        guard role == .leader, transferTarget == nil, pendingReads.isEmpty,
            commitIndex == log.lastIndex, stableIndex == log.lastIndex, log.term(at: commitIndex) == term,
            pendingMembershipIndex <= commitIndex, !membership.isJoint
        else { return false }
        let recent = ticks - 2 * configuration.heartbeatTicks
        return progress.values.allSatisfy { peer in
            peer.state == .replicate && peer.match == log.lastIndex && peer.lastHeardTick >= recent
        }
    }

    /// Tells the followers that the group goes quiet, and stops counting.
    mutating func quiesce() {
        isQuiescent = true
        idleRounds = 0
        // The lease is counted in ticks this leader stops counting: give it up. A read after
        // waking confirms a round first.
        leaseEnd = 0
        unconfirmedRounds = []
        broadcastHeartbeat(quiesce: true)
    }
}
