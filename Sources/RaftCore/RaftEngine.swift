/// The Raft consensus engine for one member of one group: a deterministic value type that
/// does no I/O.
///
/// The driver feeds it events — ``tick()``, ``step(_:)`` for a peer message, ``propose(_:)``,
/// ``requestRead(id:)``, ``compact(through:snapshotData:)`` — and collects the resulting work
/// with ``takeOutput()``. Time is counted in ticks and randomness comes from a generator
/// seeded by ``RaftConfiguration/randomSeed``, so the same inputs always give the same
/// outputs.
///
/// Invariants the engine keeps (Raft paper Figure 2, thesis chapter 3):
/// - at most one vote per term, and a vote is never answered before it is persisted;
/// - a leader only commits entries of its own term by counting replicas (§5.4.2, Figure 8);
///   entries of earlier terms commit with them;
/// - a follower never truncates a committed entry; conflicting suffixes are repaired with
///   conflict term/index hints so a leader needs about one round trip per divergent term;
/// - an entry is applied only once it is committed and durable on this node;
/// - a read is reported safe only after the leader has committed an entry of its term and a
///   quorum confirmed its leadership after the read arrived (ReadIndex, thesis §6.4).
///
/// Driver obligations (MUST): handle every ``RaftOutput`` as its documentation says — persist
/// before sending (except what ``Message/mayBeSentBeforePersisting`` allows a leader), call
/// ``didPersist(_:)`` when durable, apply committed entries in order exactly once; restart a
/// crashed node from exactly what was persisted (``init(configuration:persistentState:)``).
/// The driver SHOULD call ``tick()`` at a steady pace and ``takeOutput()`` after every batch
/// of inputs; several proposals between two `takeOutput()` calls travel in one message.
public struct RaftEngine: Sendable {
    public let configuration: RaftConfiguration
    public var id: NodeID { configuration.id }

    public private(set) var role: Role = .follower
    public private(set) var term: Term = 0
    public private(set) var vote: NodeID?
    /// The leader of `term` as far as this node knows.
    public private(set) var leader: NodeID?
    public private(set) var log: RaftLog
    public private(set) var commitIndex: LogIndex = 0
    /// Everything through this index has been handed to the driver to apply.
    public private(set) var appliedIndex: LogIndex = 0
    /// Everything through this index is durable on this node (see ``didPersist(_:)``).
    public private(set) var stableIndex: LogIndex = 0
    /// The latest snapshot this node holds: sent to followers that fall behind the log.
    public private(set) var snapshot: Snapshot?
    /// Reads this engine released from its lease, without a confirmation round (since start).
    public private(set) var leaseReadCount: UInt64 = 0

    private var electionElapsed = 0
    private var heartbeatElapsed = 0
    private var randomizedElectionTimeout = 0
    private var random: SeededGenerator
    private var votes: [NodeID: Bool] = [:]
    private var progress: [NodeID: Progress] = [:]
    /// Bytes proposed in this term and not yet committed (leader flow control).
    private var uncommittedBytes = 0

    /// A snapshot arriving from the leader in chunks.
    private var incomingSnapshot: (metadata: SnapshotMetadata, data: [UInt8])?

    // ReadIndex state (leader only).
    private var nextReadRound: UInt64 = 0
    private var pendingReads: [PendingRead] = []

    // Lease state. `ticks` counts every tick since this engine started.
    private var ticks = 0
    /// Heartbeat rounds not yet confirmed by a quorum, with the tick each was sent at.
    private var unconfirmedRounds: [(round: UInt64, sentAt: Int)] = []
    /// Lease reads are served while `ticks < leaseEnd` (leader only).
    private var leaseEnd = 0

    // Work accumulated for the next output.
    private var output = RaftOutput()
    private var unstableFrom: LogIndex?
    private var lastHardState: HardState
    private var lastSoftState: SoftState
    /// Followers need an append (new entries or a new commit index).
    private var broadcastPending = false

    private struct PendingRead: Sendable {
        var id: UInt64
        /// The commit index when the read arrived; 0 until the leader committed in its term.
        var index: LogIndex?
        var round: UInt64 = 0
    }

    /// Starts (or restarts) a node from what it had persisted.
    ///
    /// The driver MUST pass exactly what its storage holds: the hard state, the latest snapshot
    /// and the log after it. It restores its state machine from the snapshot itself; committed
    /// entries after the snapshot come out of ``takeOutput()`` again.
    public init(configuration: RaftConfiguration, persistentState: PersistentState = PersistentState()) {
        precondition(configuration.voters.contains(configuration.id), "a node must be one of the voters")
        precondition(
            configuration.heartbeatTicks >= 1 && configuration.electionTimeoutTicks > configuration.heartbeatTicks
        )
        precondition(
            configuration.leaseTicks == 0
                || (configuration.checkQuorum && configuration.leaseTicks < configuration.electionTimeoutTicks - 1),
            "lease reads need check-quorum and a lease shorter than the election timeout"
        )
        self.configuration = configuration
        random = SeededGenerator(seed: configuration.randomSeed ^ (configuration.id.rawValue &* 0x9E37_79B9))
        let snapshotIndex = persistentState.snapshot?.metadata.index ?? 0
        log = RaftLog(
            snapshotIndex: snapshotIndex,
            snapshotTerm: persistentState.snapshot?.metadata.term ?? 0,
            entries: persistentState.entries
        )
        snapshot = persistentState.snapshot
        term = persistentState.hardState.term
        vote = persistentState.hardState.vote
        commitIndex = min(max(persistentState.hardState.commit, snapshotIndex), log.lastIndex)
        appliedIndex = snapshotIndex
        stableIndex = log.lastIndex
        lastHardState = HardState(term: term, vote: vote, commit: commitIndex)
        lastSoftState = SoftState(role: .follower, term: term, leader: nil)
        resetElectionTimer()
    }

    // MARK: - Inputs

    /// Advances logical time by one tick: followers and candidates count towards an election,
    /// a leader sends heartbeats and checks that a quorum is still with it.
    public mutating func tick() {
        ticks += 1
        electionElapsed += 1
        switch role {
        case .follower, .preCandidate, .candidate:
            if electionElapsed >= randomizedElectionTimeout {
                campaign()
            }
        case .leader:
            heartbeatElapsed += 1
            if electionElapsed >= configuration.electionTimeoutTicks {
                electionElapsed = 0
                if configuration.checkQuorum && !quorumRecentlyActive() {
                    becomeFollower(term: term, leader: nil)
                    return
                }
                for peer in progress.keys {
                    progress[peer]?.recentActive = false
                }
            }
            if heartbeatElapsed >= configuration.heartbeatTicks {
                heartbeatElapsed = 0
                // With leases every heartbeat is a round of its own: its acknowledgements
                // extend the lease from the tick it was sent.
                if configuration.leaseTicks > 0 { nextReadRound += 1 }
                broadcastHeartbeat()
            }
        }
    }

    /// The outcome of a proposal.
    public enum ProposalResult: Sendable, Hashable {
        /// Appended at `index` in `term`. It is committed once an applied entry at `index`
        /// has this term; a different term there means it was lost to a leader change.
        case accepted(index: LogIndex, term: Term)
        /// This node does not lead; `leaderHint` is the leader it knows of, if any.
        case notLeader(leaderHint: NodeID?)
        /// Too many uncommitted bytes are in flight; retry later.
        case overloaded
    }

    /// Proposes a command. Only the leader accepts; others fail fast with a leader hint.
    public mutating func propose(_ data: [UInt8]) -> ProposalResult {
        propose(batch: CollectionOfOne(data))
    }

    /// Proposes several commands as consecutive entries; on success `index` is the first.
    public mutating func propose(batch commands: some Collection<[UInt8]>) -> ProposalResult {
        guard role == .leader else { return .notLeader(leaderHint: leader) }
        let bytes = commands.reduce(0) { $0 + $1.count + 24 }
        if configuration.maxUncommittedBytes > 0 && uncommittedBytes > 0
            && uncommittedBytes + bytes > configuration.maxUncommittedBytes
        {
            return .overloaded
        }
        let first = log.lastIndex + 1
        for data in commands {
            appendToLog(Entry(term: term, index: log.lastIndex + 1, kind: .command, data: data))
        }
        uncommittedBytes += bytes
        broadcastPending = true
        return .accepted(index: first, term: term)
    }

    public enum ReadRequestResult: Sendable, Hashable {
        /// The read will come out in ``RaftOutput/readStates`` (or ``RaftOutput/failedReads``).
        case pending
        case notLeader(leaderHint: NodeID?)
    }

    /// Asks for a linearizable read point (ReadIndex). `id` is the driver's; it comes back in a
    /// ``ReadState`` whose index the state machine must reach before the read is served.
    public mutating func requestRead(id: UInt64) -> ReadRequestResult {
        guard role == .leader else { return .notLeader(leaderHint: leader) }
        if hasLease && log.term(at: commitIndex) == term {
            leaseReadCount += 1
            output.readStates.append(ReadState(id: id, index: commitIndex))
            return .pending
        }
        pendingReads.append(PendingRead(id: id, index: nil))
        return .pending
    }

    /// Whether this leader may serve reads from its lease now (see ``RaftConfiguration/leaseTicks``).
    public var hasLease: Bool {
        role == .leader && ticks < leaseEnd
    }

    /// Tells the engine that its ticks stopped tracking real time (the process or its tick
    /// loop stalled): it gives up its read lease, since the time it counted is less than the
    /// time that passed. The next quorum-acknowledged heartbeat grants a new one.
    public mutating func clockStalled() {
        leaseEnd = 0
        unconfirmedRounds = []
    }

    /// Handles a message from a peer.
    public mutating func step(_ message: Message) {
        guard message.to == id, message.from != id, configuration.voters.contains(message.from) else { return }

        if message.term > term {
            switch message.payload {
            case .preVote, .vote:
                // A follower that recently heard from a leader ignores campaigns (thesis §4.2.3):
                // it keeps a removed or partitioned node from disrupting a working cluster.
                if configuration.checkQuorum && leader != nil && electionElapsed < configuration.electionTimeoutTicks {
                    return
                }
                // A lease granted before this node restarted may still run: it may have acked
                // that heartbeat just before it crashed. Wait one election timeout after boot.
                if configuration.leaseTicks > 0 && ticks < configuration.electionTimeoutTicks {
                    return
                }
            default:
                break
            }
            switch message.payload {
            case .preVote:
                break  // a pre-vote does not change anyone's term
            case .preVoteResponse(let response) where response.granted:
                break  // granted pre-votes carry the term we would campaign in
            case .append, .heartbeat, .installSnapshot:
                becomeFollower(term: message.term, leader: message.from)
            default:
                becomeFollower(term: message.term, leader: nil)
            }
        } else if message.term < term {
            switch message.payload {
            case .append, .heartbeat:
                if configuration.checkQuorum || configuration.preVote {
                    // A stale leader that never hears a higher term would keep its followers'
                    // leases alive forever; tell it about our term so it steps down.
                    send(to: message.from, .appendResponse(AppendResponse(success: false, matchIndex: 0)))
                }
            case .preVote:
                send(to: message.from, .preVoteResponse(VoteResponse(granted: false)))
            default:
                break
            }
            return
        }

        switch message.payload {
        case .preVote(let request), .vote(let request):
            handleVoteRequest(message, request)
            return
        default:
            break
        }

        switch role {
        case .follower:
            stepFollower(message)
        case .preCandidate, .candidate:
            stepCandidate(message)
        case .leader:
            stepLeader(message)
        }
    }

    /// Records that the driver made `output`'s snapshot, entries and hard state durable.
    public mutating func didPersist(_ persisted: RaftOutput) {
        if let last = persisted.entries.last {
            didPersistEntries(through: last.index, term: last.term)
        }
    }

    /// Records that entries through `index` (whose entry has `term`) are durable. Ignored if the
    /// log changed at that index since (the newer entries come in a later output).
    public mutating func didPersistEntries(through index: LogIndex, term entryTerm: Term) {
        guard index > stableIndex, log.term(at: index) == entryTerm else { return }
        stableIndex = index
        if role == .leader {
            maybeCommit()
        }
    }

    /// Compacts the log through `index` into a snapshot of the state machine taken right after
    /// it applied `index`. The driver MUST persist the returned snapshot before it removes
    /// the covered log prefix from storage.
    public mutating func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftError) -> Snapshot {
        guard index > log.snapshotIndex else {
            throw RaftError(
                .compactionBehindSnapshot,
                "index \(index) is already compacted (snapshot at \(log.snapshotIndex))"
            )
        }
        guard index <= appliedIndex, let entryTerm = log.term(at: index) else {
            throw RaftError(.compactionBeyondApplied, "index \(index) is beyond the applied index \(appliedIndex)")
        }
        let newSnapshot = Snapshot(
            metadata: SnapshotMetadata(index: index, term: entryTerm, voters: configuration.voters),
            data: snapshotData
        )
        log.compact(through: index)
        snapshot = newSnapshot
        return newSnapshot
    }

    /// Collects the work produced since the last call. See ``RaftOutput`` for what the driver
    /// must do with it.
    public mutating func takeOutput() -> RaftOutput {
        if role == .leader {
            assignReadRounds()
            if broadcastPending {
                broadcastPending = false
                for peer in configuration.voters where peer != id {
                    sendAppend(to: peer, sendEmpty: true)
                }
            }
        }
        if let from = unstableFrom {
            output.entries = Array(log.entries(from: from, through: log.lastIndex))
            unstableFrom = nil
        }
        let hardState = HardState(term: term, vote: vote, commit: commitIndex)
        if hardState != lastHardState {
            // A new term or vote must be durable before any message that depends on it; a
            // moved commit index alone need not be (a restarted node learns it again).
            if hardState.term != lastHardState.term || hardState.vote != lastHardState.vote {
                output.mustSync = true
            }
            output.hardState = hardState
            lastHardState = hardState
        }
        if output.snapshot != nil || !output.entries.isEmpty {
            output.mustSync = true
        }
        let softState = SoftState(role: role, term: term, leader: leader)
        if softState != lastSoftState {
            output.softState = softState
            lastSoftState = softState
        }
        let applyLimit = min(commitIndex, stableIndex)
        if applyLimit > appliedIndex {
            output.committedEntries = Array(log.entries(from: appliedIndex + 1, through: applyLimit))
            appliedIndex = applyLimit
        }
        let result = output
        output = RaftOutput()
        return result
    }

    /// Whether ``takeOutput()`` would return work.
    public var hasOutput: Bool {
        !output.isEmpty || unstableFrom != nil || (role == .leader && (broadcastPending || hasUnassignedReads))
            || HardState(term: term, vote: vote, commit: commitIndex) != lastHardState
            || SoftState(role: role, term: term, leader: leader) != lastSoftState
            || min(commitIndex, stableIndex) > appliedIndex
    }

    /// Replication state of each follower, as the leader sees it (empty on other roles).
    public var followerMatchIndexes: [NodeID: LogIndex] {
        progress.mapValues(\.match)
    }

    // MARK: - Roles

    private mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID?) {
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
    }

    private mutating func campaign() {
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

    private mutating func becomeCandidate() {
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
        requestVotes(preVote: false)
    }

    private mutating func requestVotes(preVote: Bool) {
        let request = VoteRequest(lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm)
        for peer in configuration.voters where peer != id {
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
        for peer in configuration.voters where peer != id {
            progress[peer] = Progress(next: log.lastIndex + 1)
        }
        // Committing an entry of its own term is how a new leader learns what is committed
        // (§5.4.2) and what makes ReadIndex safe (§6.4).
        appendToLog(Entry(term: term, index: log.lastIndex + 1, kind: .noop))
        broadcastPending = true
    }

    private enum VoteTally { case won, lost, pending }

    private func tallyVotes() -> VoteTally {
        let granted = votes.values.filter { $0 }.count
        if granted >= configuration.quorum { return .won }
        if votes.count - granted >= configuration.quorum { return .lost }
        return .pending
    }

    private mutating func resetElectionTimer() {
        let base = configuration.electionTimeoutTicks
        randomizedElectionTimeout = base + Int(random.next() % UInt64(base))
    }

    private func quorumRecentlyActive() -> Bool {
        var active = 1
        for peer in configuration.voters where peer != id {
            if progress[peer]?.recentActive == true { active += 1 }
        }
        return active >= configuration.quorum
    }

    // MARK: - Votes

    private mutating func handleVoteRequest(_ message: Message, _ request: VoteRequest) {
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

    // MARK: - Follower

    private mutating func stepFollower(_ message: Message) {
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
        case .installSnapshot(let chunk):
            electionElapsed = 0
            leader = message.from
            handleSnapshotChunk(from: message.from, chunk)
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

    private mutating func handleSnapshotChunk(from leaderID: NodeID, _ chunk: SnapshotChunk) {
        let metadata = chunk.metadata
        if metadata.index <= commitIndex {
            incomingSnapshot = nil
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: chunk.totalSize, done: true)
            return
        }
        if incomingSnapshot?.metadata != metadata {
            guard chunk.offset == 0 else {
                sendSnapshotResponse(to: leaderID, metadata, nextOffset: 0, done: false)
                return
            }
            incomingSnapshot = (metadata, [])
        }
        guard var incoming = incomingSnapshot, chunk.offset == UInt64(incoming.data.count) else {
            let expected = UInt64(incomingSnapshot?.data.count ?? 0)
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: expected, done: false)
            return
        }
        incomingSnapshot = nil  // keeps `incoming.data` uniquely referenced while appending
        incoming.data.append(contentsOf: chunk.data)
        guard chunk.isLast else {
            incomingSnapshot = incoming
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: UInt64(incoming.data.count), done: false)
            return
        }
        if log.term(at: metadata.index) == metadata.term {
            // We already hold the snapshot's last entry: keep the log, just learn the commit.
            commitIndex = metadata.index
        } else {
            let installed = Snapshot(metadata: metadata, data: incoming.data)
            log.reset(toSnapshotIndex: metadata.index, term: metadata.term)
            commitIndex = metadata.index
            appliedIndex = metadata.index
            stableIndex = metadata.index
            unstableFrom = nil
            snapshot = installed
            output.snapshot = installed
        }
        sendSnapshotResponse(to: leaderID, metadata, nextOffset: chunk.totalSize, done: true)
    }

    private mutating func sendSnapshotResponse(
        to leaderID: NodeID,
        _ metadata: SnapshotMetadata,
        nextOffset: UInt64,
        done: Bool
    ) {
        send(
            to: leaderID,
            .installSnapshotResponse(
                SnapshotChunkResponse(
                    snapshotIndex: metadata.index,
                    snapshotTerm: metadata.term,
                    nextOffset: nextOffset,
                    done: done
                )
            )
        )
    }

    // MARK: - Candidate

    private mutating func stepCandidate(_ message: Message) {
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

    // MARK: - Leader

    private mutating func stepLeader(_ message: Message) {
        guard var peer = progress[message.from] else { return }
        peer.recentActive = true
        switch message.payload {
        case .appendResponse(let response):
            peer.heartbeatsSinceProgress = 0
            progress[message.from] = peer
            handleAppendResponse(from: message.from, response)
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
            case .snapshot:
                progress[message.from] = peer
                if stalled { sendSnapshotChunk(to: message.from) }
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
                !current.isPaused(maxInflight: configuration.maxInflightMessages)
            {
                sendAppend(to: follower, sendEmpty: false)
            }
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

    private mutating func handleSnapshotResponse(from follower: NodeID, _ response: SnapshotChunkResponse) {
        guard var peer = progress[follower], case .snapshot(var transfer) = peer.state,
            response.snapshotIndex == transfer.index, response.snapshotTerm == transfer.term
        else { return }
        if response.done {
            peer.match = max(peer.match, response.snapshotIndex)
            peer.becomeProbe()
            progress[follower] = peer
            sendAppend(to: follower, sendEmpty: false)
            return
        }
        transfer.offset = response.nextOffset
        peer.state = .snapshot(transfer)
        progress[follower] = peer
        sendSnapshotChunk(to: follower)
    }

    /// Sends the follower what it is missing. With `sendEmpty`, an empty append still goes
    /// out (it carries a new commit index).
    private mutating func sendAppend(to follower: NodeID, sendEmpty: Bool) {
        guard var peer = progress[follower], !peer.isPaused(maxInflight: configuration.maxInflightMessages) else {
            return
        }
        let prevIndex = peer.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            startSnapshotTransfer(to: follower)
            return
        }
        let entries = log.entries(from: peer.next, through: log.lastIndex, maxBytes: configuration.maxMessageBytes)
        if entries.isEmpty && !sendEmpty && peer.state == .replicate { return }
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
    }

    private mutating func startSnapshotTransfer(to follower: NodeID) {
        guard let snapshot, var peer = progress[follower] else { return }
        peer.state = .snapshot(Progress.SnapshotTransfer(snapshot: snapshot, offset: 0))
        peer.inflight.removeAll()
        progress[follower] = peer
        sendSnapshotChunk(to: follower)
    }

    private mutating func sendSnapshotChunk(to follower: NodeID) {
        guard let peer = progress[follower], case .snapshot(let transfer) = peer.state else { return }
        let data = transfer.snapshot.data
        let start = min(Int(transfer.offset), data.count)
        let end = min(start + configuration.snapshotChunkBytes, data.count)
        send(
            to: follower,
            .installSnapshot(
                SnapshotChunk(
                    metadata: transfer.snapshot.metadata,
                    offset: UInt64(start),
                    totalSize: UInt64(data.count),
                    data: Array(data[start..<end])
                )
            )
        )
    }

    private mutating func broadcastHeartbeat() {
        if configuration.leaseTicks > 0 && unconfirmedRounds.last?.round != nextReadRound {
            unconfirmedRounds.append((nextReadRound, ticks))
        }
        for peer in configuration.voters where peer != id {
            guard let state = progress[peer] else { continue }
            send(
                to: peer,
                .heartbeat(Heartbeat(commit: min(state.match, commitIndex), readRound: nextReadRound))
            )
        }
    }

    /// Advances the commit index to the highest index a quorum holds, if that entry is of the
    /// current term (Figure 8: never by counting replicas of an older term's entry).
    @discardableResult
    private mutating func maybeCommit() -> Bool {
        var matches = [stableIndex]
        for peer in configuration.voters where peer != id {
            matches.append(progress[peer]?.match ?? 0)
        }
        matches.sort(by: >)
        let candidate = matches[configuration.quorum - 1]
        guard candidate > commitIndex, log.term(at: candidate) == term else { return false }
        let committedBytes = log.entries(from: commitIndex + 1, through: candidate)
            .reduce(0) { $0 + $1.data.count + 24 }
        uncommittedBytes = max(0, uncommittedBytes - committedBytes)
        commitIndex = candidate
        // No append of its own: the new commit index reaches followers with the next entries
        // or the next heartbeat (every tick). Under load that halves the messages per batch;
        // idle, a follower applies at most a heartbeat interval later.
        advanceReads()
        return true
    }

    // MARK: - ReadIndex

    private var hasUnassignedReads: Bool {
        pendingReads.contains { $0.round == 0 } && log.term(at: commitIndex) == term
    }

    /// Gives every read that arrived since the last output one new confirmation round, and
    /// sends that round to the followers: reads arriving together share one heartbeat round.
    private mutating func assignReadRounds() {
        guard log.term(at: commitIndex) == term, pendingReads.contains(where: { $0.round == 0 }) else { return }
        nextReadRound += 1
        for i in pendingReads.indices where pendingReads[i].round == 0 {
            pendingReads[i].index = commitIndex
            pendingReads[i].round = nextReadRound
        }
        if configuration.voters.count == 1 {
            advanceReads()
            return
        }
        heartbeatElapsed = 0
        broadcastHeartbeat()
    }

    /// Releases reads whose round a quorum has confirmed.
    private mutating func advanceReads() {
        guard role == .leader, !pendingReads.isEmpty || !unconfirmedRounds.isEmpty else { return }
        var acks = [nextReadRound]
        for peer in configuration.voters where peer != id {
            acks.append(progress[peer]?.readRoundAck ?? 0)
        }
        acks.sort(by: >)
        let confirmed = acks[configuration.quorum - 1]
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

    // MARK: - Helpers

    private mutating func appendToLog(_ entry: Entry) {
        log.append(entry)
        unstableFrom = min(unstableFrom ?? entry.index, entry.index)
    }

    private mutating func send(to peer: NodeID, _ payload: Message.Payload) {
        output.messages.append(Message(from: id, to: peer, term: term, payload: payload))
    }
}

/// An error from a call the driver made at the wrong time.
public struct RaftError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case compactionBehindSnapshot
            case compactionBeyondApplied
        }
        fileprivate var value: Value
        public static let compactionBehindSnapshot = Code(value: .compactionBehindSnapshot)
        public static let compactionBeyondApplied = Code(value: .compactionBeyondApplied)
        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
