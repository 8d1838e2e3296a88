// Leadership transfer (thesis §3.10, etcd's MsgTransferLeader and MsgTimeoutNow): the leader
// stops taking proposals, brings the target's log up to its own, then tells the target to
// campaign at once; the target's vote requests carry a flag that lets voters grant them
// despite check-quorum's lease. A transfer not finished within an election timeout is dropped.
extension RaftEngine {
    /// The outcome of ``transferLeadership(to:)``.
    public enum TransferResult: Sendable, Hashable {
        /// The transfer is pending (``transferTarget`` is set): the target gets a `timeoutNow`
        /// as soon as its log matches the leader's. It is abandoned after an election timeout.
        case started
        /// This node does not lead; `leaderHint` is the leader it knows of, if any.
        case notLeader(leaderHint: NodeID?)
        /// The target is not a voter, or is this leader itself.
        case invalidTarget
    }

    /// Asks this leader to hand its leadership to the voter `target`.
    ///
    /// Until the transfer ends (the leader steps down, or an election timeout passes) proposals
    /// are refused with ``ProposalResult/transferringLeadership(target:)``. A second call for
    /// the same target changes nothing; a call for another target replaces the pending one.
    public mutating func transferLeadership(to target: NodeID) -> TransferResult {
        guard role == .leader else { return .notLeader(leaderHint: leader) }
        wake()
        guard target != id, membership.voters.contains(target), progress[target] != nil else {
            return .invalidTarget
        }
        if transferTarget == target { return .started }
        transferTarget = target
        transferElapsed = 0
        if progress[target]?.match == log.lastIndex {
            sendTimeoutNow(to: target)
        } else {
            // The transfer has one election timeout: rather than wait for heartbeats to show
            // that appends in flight were lost, resend from the target's match index now.
            if var peer = progress[target], peer.state == .replicate {
                peer.becomeProbe()
                progress[target] = peer
            }
            sendAppend(to: target, sendEmpty: false)
        }
        return .started
    }

    /// Drops the pending transfer: the leader takes proposals again.
    mutating func abortTransfer() {
        transferTarget = nil
        transferElapsed = 0
    }

    /// Called by the leader after a message from `follower` was handled: once the transfer
    /// target holds the whole log, it is told to campaign.
    mutating func maybeSendTimeoutNow(afterHearingFrom follower: NodeID) {
        guard role == .leader, transferTarget == follower, progress[follower]?.match == log.lastIndex else { return }
        sendTimeoutNow(to: follower)
    }

    private mutating func sendTimeoutNow(to target: NodeID) {
        // Voters may grant the target's transfer vote within their lease promise to us: a
        // lease held now, or regained later in this term, would no longer be safe.
        leaseForfeited = true
        leaseEnd = 0
        unconfirmedRounds = []
        send(to: target, .timeoutNow)
    }
}

extension Message {
    /// A vote request of a campaign that a leadership transfer started.
    var isTransferVote: Bool {
        if case .vote(let request) = payload { return request.transfer }
        return false
    }
}
