// Membership changes (thesis ch. 4, etcd's ConfChangeV2): a change is a log entry carrying
// the whole new membership, in force once applied; one change at a time; changes of more
// than one voter go through a joint configuration that the leader leaves on its own. A leader
// that is no longer a voter hands over and steps down; a removed node is told so.
extension RaftEngine {
    /// The outcome of ``proposeMembershipChange(_:context:)``.
    public enum MembershipChangeResult: Sendable, Hashable {
        /// Appended at `index` in `term`; in force once that entry is applied.
        case accepted(index: LogIndex, term: Term)
        /// This node does not lead; `leaderHint` is the leader it knows of, if any.
        case notLeader(leaderHint: NodeID?)
        /// An earlier change (at `index`) is not applied yet; retry once it is.
        case changeInProgress(index: LogIndex)
        /// This leader is handing its leadership over; retry at the new leader.
        case transferringLeadership(target: NodeID)
        /// The change cannot be made from the current membership (the reason says why).
        case rejected(reason: String)
    }

    /// Proposes a membership change (see ``Membership/applying(_:context:)``). `context` is
    /// the driver's data about the resulting members (the host's address book); it replaces
    /// the current ``Membership/context``. An empty change leaves a joint configuration.
    public mutating func proposeMembershipChange(
        _ changes: [MembershipChange],
        context: [UInt8]
    ) -> MembershipChangeResult {
        guard role == .leader else { return .notLeader(leaderHint: leader) }
        wake()
        if let target = transferTarget { return .transferringLeadership(target: target) }
        // A joint configuration is left on its own: a new change waits for that.
        if membership.isJoint && !changes.isEmpty { return .changeInProgress(index: pendingMembershipIndex) }
        // A change that can never be made is refused as such, even while another is pending;
        // "never" is judged against the membership the log will put in force (a new leader's
        // log may hold a committed removal it has not applied yet).
        let next: Membership
        do {
            next = try membershipAtEndOfLog().applying(changes, context: context)
        } catch {
            return .rejected(reason: error.message)
        }
        guard pendingMembershipIndex <= appliedIndex else { return .changeInProgress(index: pendingMembershipIndex) }
        let index = appendMembership(next)
        return .accepted(index: index, term: term)
    }

    /// The membership of the last membership entry in the log, applied or not.
    private func membershipAtEndOfLog() -> Membership {
        guard pendingMembershipIndex > appliedIndex else { return membership }
        let unapplied = log.entries(from: appliedIndex + 1, through: log.lastIndex)
        guard let entry = unapplied.last(where: { $0.kind == .membership }),
            let pending = try? Membership(decoding: entry.data)
        else { return membership }
        return pending
    }

    private mutating func appendMembership(_ next: Membership) -> LogIndex {
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: .membership, data: next.encoded)
        appendToLog(entry)
        uncommittedBytes += entry.approximateByteSize
        pendingMembershipIndex = entry.index
        broadcastPending = true
        return entry.index
    }

    /// The membership in force right after `index` was applied (`index` at or after the
    /// snapshot, at or before the applied index).
    func membership(at index: LogIndex) -> Membership {
        membershipHistory.last { $0.index <= index }?.membership
            ?? snapshot?.metadata.membership
            ?? Membership(voters: configuration.voters)
    }

    /// Puts the membership of a committed entry in force.
    mutating func adoptMembership(from entry: Entry) {
        guard let next = try? Membership(decoding: entry.data) else {
            // Only engines write these entries, and the log and the wire are checksummed:
            // undecodable bytes here are a bug, and guessing a membership would be worse.
            preconditionFailure("membership entry \(entry.index) does not decode")
        }
        membership = next
        membershipIndex = entry.index
        membershipHistory.append((entry.index, next))
        // Removed in the joint configuration, a node still votes in it until the group leaves it.
        if next.hasRemoved(id) {
            isRemoved = true
        }
        guard role == .leader else {
            if isRemoved { becomeFollower(term: term, leader: nil) }
            return
        }
        // The lease was granted by the previous voters' promises; new voters made none, and
        // could elect a leader while it ran. The next round acknowledged under the new
        // membership grants a new one.
        leaseEnd = 0
        unconfirmedRounds = []
        for peer in replicationPeers where progress[peer] == nil {
            progress[peer] = Progress(next: log.lastIndex + 1)
        }
        for peer in progress.keys where !next.contains(peer) {
            progress[peer] = nil
        }
        if let target = transferTarget, !next.voters.contains(target) {
            abortTransfer()
        }
        guard next.isVoter(id) else {
            handOverAfterRemoval()
            return
        }
        // A smaller or different quorum may already hold more of the log.
        maybeCommit()
        broadcastPending = true
    }

    /// A leader leaves an automatic joint configuration as soon as everything it proposed
    /// before is applied: also a leader elected after the joint entry was applied elsewhere.
    mutating func leaveJointConfigurationIfDue() {
        guard role == .leader, membership.isJoint, membership.autoLeave, pendingMembershipIndex <= appliedIndex,
            let left = try? membership.applying([], context: membership.context)
        else { return }
        _ = appendMembership(left)
    }

    /// This leader applied a membership it does not vote in: it tells the most up-to-date
    /// voter to campaign at once (no election timeout without a leader), then steps down.
    private mutating func handOverAfterRemoval() {
        let successor = membership.voters
            .filter { progress[$0]?.match == log.lastIndex }
            .first
        if let successor {
            send(to: successor, .timeoutNow)
        }
        becomeFollower(term: term, leader: nil)
    }
}
