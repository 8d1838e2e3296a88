// Elections: roles and their transitions, campaigns with and without pre-vote, vote requests
// and responses, and the leader's check-quorum (Raft §5.2, thesis §4.2.3, §6.2, §9.6).
extension RaftEngine {
    // MARK: - Roles

    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID?) {
        if newTerm > term {
            term = newTerm
            vote = nil
        }
        role = .follower
        leader = newLeader
        resetRoleState()
    }

    private mutating func resetRoleState() {
        electionElapsed = 0
        heartbeatElapsed = 0
        resetElectionTimer()
        votes = [:]
        progress = [:]
        uncommittedBytes = 0
        broadcastPending = false
        output.failedReads.append(contentsOf: pendingReads.map(\.id))
        pendingReads = []
        unconfirmedRounds = []
        leaseEnd = 0
        leaseForfeited = false
        transferTarget = nil
        transferElapsed = 0
        isQuiescent = false
        idleRounds = 0
    }

    mutating func campaign() {
        if configuration.preVote {
            becomePreCandidate()
        } else {
            becomeCandidate()
        }
    }

    private mutating func becomePreCandidate() {
        role = .preCandidate
        leader = nil
        resetRoleState()
        votes[id] = true
        if tallyVotes() == .won {
            becomeCandidate()
            return
        }
        requestVotes(preVote: true)
    }

    /// `transfer`: the leader asked for this campaign (``Message/Payload/timeoutNow``); its
    /// vote requests say so, and it skips pre-vote.
    mutating func becomeCandidate(transfer: Bool = false) {
        role = .candidate
        term += 1
        vote = id
        leader = nil
        resetRoleState()
        votes[id] = true
        if tallyVotes() == .won {
            becomeLeader()
            return
        }
        requestVotes(preVote: false, transfer: transfer)
    }

    private mutating func requestVotes(preVote: Bool, transfer: Bool = false) {
        let request = VoteRequest(lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm, transfer: transfer)
        for peer in Set(membership.voters + membership.outgoingVoters).sorted() where peer != id {
            if preVote {
                // Asks for the term it would campaign in without adopting it.
                output.messages.append(Message(from: id, to: peer, term: term + 1, payload: .preVote(request)))
            } else {
                send(to: peer, .vote(request))
            }
        }
    }

    private mutating func becomeLeader() {
        role = .leader
        leader = id
        resetRoleState()
        for peer in replicationPeers {
            progress[peer] = Progress(next: log.lastIndex + 1)
        }
        // An earlier leader's membership entry may still be uncommitted: no change until the
        // log through here is applied.
        pendingMembershipIndex = log.lastIndex
        // Committing an entry of its own term is how a new leader learns what is committed
        // (§5.4.2) and what makes ReadIndex safe (§6.4).
        appendToLog(Entry(term: term, index: log.lastIndex + 1, kind: .noop))
        broadcastPending = true
    }

    private func tallyVotes() -> Quorum.VoteResult {
        membership.voteResult { votes[$0] }
    }

    mutating func resetElectionTimer() {
        let base = configuration.electionTimeoutTicks
        randomizedElectionTimeout = base + Int(random.next() % UInt64(base))
    }

    /// Check-quorum: whether a majority, this leader included, was heard from since the flags
    /// were last cleared.
    func quorumRecentlyActive() -> Bool {
        membership.voteResult { voter in
            voter == id || progress[voter]?.recentActive == true
        } == .won
    }

    // MARK: - Votes

    mutating func handleVoteRequest(_ message: Message, _ request: VoteRequest) {
        let isPreVote: Bool
        if case .preVote = message.payload { isPreVote = true } else { isPreVote = false }
        let canVote =
            vote == message.from
            || (vote == nil && leader == nil)
            || (isPreVote && message.term > term)
        if canVote && log.isUpToDate(lastIndex: request.lastLogIndex, lastTerm: request.lastLogTerm) {
            if isPreVote {
                output.messages.append(
                    Message(
                        from: id,
                        to: message.from,
                        term: message.term,
                        payload: .preVoteResponse(VoteResponse(granted: true))
                    )
                )
            } else {
                electionElapsed = 0
                vote = message.from
                send(to: message.from, .voteResponse(VoteResponse(granted: true)))
            }
        } else {
            send(
                to: message.from,
                isPreVote ? .preVoteResponse(VoteResponse(granted: false)) : .voteResponse(VoteResponse(granted: false))
            )
        }
    }

    // MARK: - Candidate

    mutating func stepCandidate(_ message: Message) {
        switch message.payload {
        case .append, .heartbeat, .installSnapshot:
            // A leader exists in our term (or the term we would campaign in).
            becomeFollower(term: message.term, leader: message.from)
            stepFollower(message)
        case .preVoteResponse(let response) where role == .preCandidate && message.term == term + 1:
            votes[message.from] = response.granted
            switch tallyVotes() {
            case .won: becomeCandidate()
            case .lost: becomeFollower(term: term, leader: nil)
            case .pending: break
            }
        case .preVoteResponse(let response) where role == .preCandidate && !response.granted:
            votes[message.from] = false
            if tallyVotes() == .lost { becomeFollower(term: term, leader: nil) }
        case .voteResponse(let response) where role == .candidate:
            votes[message.from] = response.granted
            switch tallyVotes() {
            case .won: becomeLeader()
            case .lost: becomeFollower(term: term, leader: nil)
            case .pending: break
            }
        default:
            break
        }
    }
}
