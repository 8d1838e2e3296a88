// Replication: appends and their answers, conflict repair with term/index hints, the
// leader's view of each follower (probe, replicate, snapshot), heartbeats and the commit
// index (Raft §5.3, §5.4, thesis §3.5, §10.2).
extension RaftEngine {
    // MARK: - Follower

    mutating func stepFollower(_ message: Message) {
        switch message.payload {
        case .append(let request):
            electionElapsed = 0
            leader = message.from
            handleAppend(from: message.from, request)
        case .heartbeat(let heartbeat):
            electionElapsed = 0
            leader = message.from
            // The leader caps the commit index at what it knows this follower holds.
            if heartbeat.commit > commitIndex {
                commitIndex = min(heartbeat.commit, log.lastIndex)
            }
            send(to: message.from, .heartbeatResponse(HeartbeatResponse(readRound: heartbeat.readRound)))
            if heartbeat.quiesce { isQuiescent = true }
        case .installSnapshot(let chunk):
            electionElapsed = 0
            leader = message.from
            handleSnapshotChunk(from: message.from, chunk)
        case .timeoutNow:
            // The leader of our term hands over (messages of stale terms never get here):
            // campaign now, without pre-vote; the leader steps down when it sees our vote request.
            becomeCandidate(transfer: true)
        default:
            break
        }
    }

    private mutating func handleAppend(from leaderID: NodeID, _ request: AppendRequest) {
        var prevIndex = request.prevLogIndex
        var prevTerm = request.prevLogTerm
        var entries = request.entries[...]
        // Entries through our commit index are committed, so they are the leader's too
        // (leader completeness): skip them, never compare or truncate them.
        if prevIndex < commitIndex {
            let skip = Int(min(commitIndex - prevIndex, LogIndex(entries.count)))
            entries = entries.dropFirst(skip)
            prevIndex += LogIndex(skip)
            if prevIndex < commitIndex {
                send(to: leaderID, .appendResponse(AppendResponse(success: true, matchIndex: commitIndex)))
                return
            }
            // Our entry at our commit index is the leader's, so the check below passes.
            prevTerm = log.term(at: prevIndex) ?? prevTerm
        }
        guard let localTerm = log.term(at: prevIndex) else {
            send(
                to: leaderID,
                .appendResponse(
                    AppendResponse(success: false, matchIndex: request.prevLogIndex, conflictIndex: log.lastIndex + 1)
                )
            )
            return
        }
        guard localTerm == prevTerm else {
            let conflictIndex = max(log.firstIndex(ofTermContaining: prevIndex), commitIndex + 1)
            send(
                to: leaderID,
                .appendResponse(
                    AppendResponse(
                        success: false,
                        matchIndex: request.prevLogIndex,
                        conflictIndex: conflictIndex,
                        conflictTerm: localTerm
                    )
                )
            )
            return
        }
        for entry in entries {
            if let existing = log.term(at: entry.index) {
                if existing == entry.term { continue }
                precondition(entry.index > commitIndex, "a committed entry would be overwritten at \(entry.index)")
                log.truncate(from: entry.index)
                stableIndex = min(stableIndex, entry.index - 1)
                unstableFrom = min(unstableFrom ?? entry.index, entry.index)
            }
            appendToLog(entry)
        }
        let lastNew = prevIndex + LogIndex(entries.count)
        if request.leaderCommit > commitIndex {
            commitIndex = max(commitIndex, min(request.leaderCommit, lastNew))
        }
        send(to: leaderID, .appendResponse(AppendResponse(success: true, matchIndex: lastNew)))
    }

    // MARK: - Leader

    mutating func stepLeader(_ message: Message) {
        guard var peer = progress[message.from] else { return }
        peer.recentActive = true
        peer.lastHeardTick = ticks
        switch message.payload {
        case .appendResponse(let response):
            peer.heartbeatsSinceProgress = 0
            progress[message.from] = peer
            handleAppendResponse(from: message.from, response)
            if response.success { maybeSendTimeoutNow(afterHearingFrom: message.from) }
        case .installSnapshotResponse(let response):
            peer.heartbeatsSinceProgress = 0
            progress[message.from] = peer
            handleSnapshotResponse(from: message.from, response)
        case .heartbeatResponse(let response):
            peer.heartbeatsSinceProgress += 1
            peer.readRoundAck = max(peer.readRoundAck, response.readRound)
            // Two heartbeat rounds with nothing in flight answered: assume it was lost.
            let stalled = peer.heartbeatsSinceProgress >= 2 && peer.match < log.lastIndex
            if stalled { peer.heartbeatsSinceProgress = 0 }
            switch peer.state {
            case .probe:
                peer.probeSent = false
                progress[message.from] = peer
                if peer.match < log.lastIndex { sendAppend(to: message.from, sendEmpty: false) }
            case .replicate:
                if stalled { peer.becomeProbe() }
                progress[message.from] = peer
                if peer.match < log.lastIndex { sendAppend(to: message.from, sendEmpty: false) }
            case .snapshot(let transfer):
                progress[message.from] = peer
                guard stalled else { break }
                // Lost, or the follower restarted: a newer snapshot replaces one that made no
                // progress (pinning protects only a transfer that advances).
                if let snapshot, snapshot.metadata.index > transfer.index {
                    startSnapshotTransfer(to: message.from)
                } else {
                    sendSnapshotChunk(to: message.from)
                }
            }
            advanceReads()
        default:
            progress[message.from] = peer
        }
    }

    private mutating func handleAppendResponse(from follower: NodeID, _ response: AppendResponse) {
        guard var peer = progress[follower] else { return }
        if response.success {
            if response.matchIndex > peer.match {
                peer.match = response.matchIndex
                peer.next = max(peer.next, peer.match + 1)
            }
            peer.inflight.removeAll { $0 <= response.matchIndex }
            switch peer.state {
            case .probe:
                peer.becomeReplicate()
            case .snapshot(let transfer) where peer.match >= transfer.index:
                peer.becomeProbe()
            default:
                break
            }
            progress[follower] = peer
            maybeCommit()
            // Keep the pipeline full: send what is waiting for this follower, up to the
            // in-flight window (one message each when messages are small), whether or not the
            // commit index moved.
            while let current = progress[follower], current.state == .replicate, current.next <= log.lastIndex,
                !current.isPaused(maxInflight: configuration.maxInflightMessages),
                sendAppend(to: follower, sendEmpty: false)
            {}
            return
        }
        // A rejection. Ignore it when it answers an append we no longer care about.
        switch peer.state {
        case .replicate:
            guard response.matchIndex > peer.match else { return }
        case .probe:
            guard response.matchIndex == peer.next - 1 else { return }
        case .snapshot:
            return
        }
        var next = response.conflictIndex
        if let conflictTerm = response.conflictTerm, let ours = log.lastIndex(ofTerm: conflictTerm) {
            // We have that term: the follower's entries of it may match ours up to our last one.
            next = ours + 1
        }
        peer.becomeProbe()
        peer.next = max(min(next, response.matchIndex), peer.match + 1)
        progress[follower] = peer
        sendAppend(to: follower, sendEmpty: false)
    }

    /// Sends the follower what it is missing. With `sendEmpty`, an empty append still goes
    /// out (it carries a new commit index). Returns whether an append went out.
    @discardableResult
    mutating func sendAppend(to follower: NodeID, sendEmpty: Bool) -> Bool {
        guard var peer = progress[follower], !peer.isPaused(maxInflight: configuration.maxInflightMessages) else {
            return false
        }
        let prevIndex = peer.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            // Only to a follower heard from within the election timeout (as etcd does): a
            // transfer started to a crashed node would pin the snapshot of that moment, and the
            // node would come back to a stale one and need another.
            if peer.recentActive { startSnapshotTransfer(to: follower) }
            return false
        }
        let entries = log.entries(from: peer.next, through: log.lastIndex, maxBytes: configuration.maxMessageBytes)
        if peer.state == .replicate {
            if entries.isEmpty && !sendEmpty { return false }
            // Room for more while an append is unanswered: it waits for the answer and leaves
            // with whatever gathers meanwhile (``RaftConfiguration/coalescesAppends``).
            if configuration.coalescesAppends, !peer.inflight.isEmpty, entries.last?.index == log.lastIndex,
                entries.reduce(0, { $0 + $1.approximateByteSize }) < configuration.maxMessageBytes
            {
                return false
            }
        }
        send(
            to: follower,
            .append(
                AppendRequest(
                    prevLogIndex: prevIndex,
                    prevLogTerm: prevTerm,
                    entries: Array(entries),
                    leaderCommit: commitIndex
                )
            )
        )
        // Heartbeats answered before this append arrives prove nothing lost.
        peer.heartbeatsSinceProgress = 0
        switch peer.state {
        case .replicate:
            if let last = entries.last {
                peer.next = last.index + 1
                peer.inflight.append(last.index)
            }
        case .probe:
            peer.probeSent = true
        case .snapshot:
            break
        }
        progress[follower] = peer
        return true
    }

    /// With `quiesce`, the heartbeat also tells followers that the group goes quiet (see
    /// ``RaftConfiguration/quiesceAfterTicks``); it confirms no lease round then.
    mutating func broadcastHeartbeat(quiesce: Bool = false) {
        if !quiesce && configuration.leaseTicks > 0 && unconfirmedRounds.last?.round != nextReadRound {
            unconfirmedRounds.append((nextReadRound, ticks))
        }
        for peer in replicationPeers {
            guard let state = progress[peer] else { continue }
            send(
                to: peer,
                .heartbeat(
                    Heartbeat(commit: min(state.match, commitIndex), readRound: nextReadRound, quiesce: quiesce)
                )
            )
        }
    }

    /// Advances the commit index to the highest index a quorum holds, if that entry is of the
    /// current term (Figure 8: never by counting replicas of an older term's entry).
    @discardableResult
    mutating func maybeCommit() -> Bool {
        // This node counts only what it made durable itself (thesis §10.2.1).
        let candidate = membership.majorityValue { voter in
            voter == id ? stableIndex : progress[voter]?.match ?? 0
        }
        guard candidate > commitIndex, log.term(at: candidate) == term else { return false }
        let committedBytes = log.entries(from: commitIndex + 1, through: candidate)
            .reduce(0) { $0 + $1.approximateByteSize }
        uncommittedBytes = max(0, uncommittedBytes - committedBytes)
        commitIndex = candidate
        // No append of its own: the new commit index reaches followers with the next entries
        // or the next heartbeat (every tick). Under load that halves the messages per batch;
        // idle, a follower applies at most a heartbeat interval later.
        advanceReads()
        return true
    }
}
