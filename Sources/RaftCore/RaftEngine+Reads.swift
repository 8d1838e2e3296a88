// Reads: ReadIndex (a read is served at the commit index once a quorum confirmed the
// leadership after it arrived) and leases (reads served without a round while a recent
// heartbeat round's quorum still holds) (thesis §6.4, §6.4.1).
extension RaftEngine {
    /// A read waiting for its confirmation round (leader only).
    struct PendingRead: Sendable {
        /// The driver's id of the read.
        var id: UInt64
        /// The index the state machine must reach before the read is served: nil until the read
        /// is given its round, then the commit index at that moment. Rounds are assigned by the
        /// first ``RaftEngine/takeOutput()`` after the read arrived at which the leader has
        /// committed an entry of its term.
        var index: LogIndex?
        /// The heartbeat round whose acknowledgement by a quorum releases the read; 0 until
        /// assigned.
        var round: UInt64 = 0
    }

    /// Whether this leader may serve reads from its lease now (see ``RaftConfiguration/leaseTicks``).
    public var hasLease: Bool {
        role == .leader && ticks < leaseEnd && !leaseForfeited
    }

    // MARK: - ReadIndex

    var hasUnassignedReads: Bool {
        pendingReads.contains { $0.round == 0 } && log.term(at: commitIndex) == term
    }

    /// Gives every read that arrived since the last output one new confirmation round, and
    /// sends that round to the followers: reads arriving together share one heartbeat round.
    mutating func assignReadRounds() {
        guard log.term(at: commitIndex) == term, pendingReads.contains(where: { $0.round == 0 }) else { return }
        nextReadRound += 1
        for i in pendingReads.indices where pendingReads[i].round == 0 {
            pendingReads[i].index = commitIndex
            pendingReads[i].round = nextReadRound
        }
        if replicationPeers.isEmpty {
            advanceReads()
            return
        }
        heartbeatElapsed = 0
        broadcastHeartbeat()
    }

    /// Releases reads whose round a quorum has confirmed.
    mutating func advanceReads() {
        guard role == .leader, !pendingReads.isEmpty || !unconfirmedRounds.isEmpty else { return }
        let confirmed = membership.majorityValue { voter in
            voter == id ? nextReadRound : progress[voter]?.readRoundAck ?? 0
        }
        extendLease(confirmedRound: confirmed)
        var remaining: [PendingRead] = []
        for read in pendingReads {
            if read.round != 0 && read.round <= confirmed, let index = read.index {
                output.readStates.append(ReadState(id: read.id, index: index))
            } else {
                remaining.append(read)
            }
        }
        pendingReads = remaining
    }

    /// A quorum acknowledged every round through `confirmedRound`: none of its members will
    /// vote for anyone else until an election timeout after it received that heartbeat.
    private mutating func extendLease(confirmedRound: UInt64) {
        var newestSentAt: Int?
        while let first = unconfirmedRounds.first, first.round <= confirmedRound {
            newestSentAt = first.sentAt
            unconfirmedRounds.removeFirst()
        }
        if let sentAt = newestSentAt {
            leaseEnd = max(leaseEnd, sentAt + configuration.leaseTicks)
        }
    }
}
