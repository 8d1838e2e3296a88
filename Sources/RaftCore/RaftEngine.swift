// The engine is split by concern: this file holds its state, its inputs and its output;
// RaftEngine+Election.swift (roles, campaigns, votes, check-quorum), RaftEngine+Replication.swift
// (appends, log repair, follower progress, commit), RaftEngine+Snapshot.swift (compaction,
// snapshot transfer and install) and RaftEngine+Reads.swift (ReadIndex and leases) hold the
// rules; Quorum.swift does the majority counting for all of them.

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

    public internal(set) var role: Role = .follower
    public internal(set) var term: Term = 0
    public internal(set) var vote: NodeID?
    /// The leader of `term` as far as this node knows.
    public internal(set) var leader: NodeID?
    public internal(set) var log: RaftLog
    public internal(set) var commitIndex: LogIndex = 0
    /// Everything through this index has been handed to the driver to apply.
    public internal(set) var appliedIndex: LogIndex = 0
    /// Everything through this index is durable on this node (see ``didPersist(_:)``).
    public internal(set) var stableIndex: LogIndex = 0
    /// The latest snapshot this node holds: sent to followers that fall behind the log.
    public internal(set) var snapshot: Snapshot?
    /// Reads this engine released from its lease, without a confirmation round (since start).
    public private(set) var leaseReadCount: UInt64 = 0
    /// The group's members as of the last applied membership entry (or snapshot, or the
    /// bootstrap ``RaftConfiguration/voters``).
    public internal(set) var membership: Membership
    /// The index of the entry (or snapshot) ``membership`` comes from.
    public internal(set) var membershipIndex: LogIndex = 0
    /// This node learned that the group removed it: it never campaigns again and the driver
    /// should stop serving the group.
    public internal(set) var isRemoved = false
    /// Memberships applied after the snapshot, oldest first: a compaction records the one in
    /// force at its index.
    var membershipHistory: [(index: LogIndex, membership: Membership)] = []
    /// The leader's latest membership entry; no other change is proposed until it is applied.
    var pendingMembershipIndex: LogIndex = 0

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var random: SeededGenerator
    var votes: [NodeID: Bool] = [:]
    var progress: [NodeID: Progress] = [:]
    /// Bytes proposed in this term and not yet committed (leader flow control).
    var uncommittedBytes = 0

    /// The voter this leader is handing its leadership to (see ``transferLeadership(to:)``),
    /// nil when no transfer is pending. Proposals are refused while it is set.
    public internal(set) var transferTarget: NodeID?
    /// Ticks since the pending transfer started; it is abandoned after an election timeout.
    var transferElapsed = 0
    /// This leader sent a `timeoutNow` in its term: voters may have granted a transfer vote
    /// despite their lease promise, so it serves no more lease reads in this term.
    var leaseForfeited = false

    /// The group is quiescent (see ``RaftConfiguration/quiesceAfterTicks``): ticks count nothing
    /// until ``wake()``. A driver may stop ticking the engine meanwhile.
    public internal(set) var isQuiescent = false
    /// Heartbeat rounds in a row at which this leader found its group idle.
    var idleRounds = 0

    /// A snapshot arriving from the leader in chunks.
    var incomingSnapshot: (metadata: SnapshotMetadata, data: [UInt8], received: UInt64)?

    // ReadIndex state (leader only).
    var nextReadRound: UInt64 = 0
    var pendingReads: [PendingRead] = []

    // Lease state. `ticks` counts every tick since this engine started.
    var ticks = 0
    /// Heartbeat rounds not yet confirmed by a quorum, with the tick each was sent at.
    var unconfirmedRounds: [(round: UInt64, sentAt: Int)] = []
    /// Lease reads are served while `ticks < leaseEnd` (leader only).
    var leaseEnd = 0

    // Work accumulated for the next output.
    var output = RaftOutput()
    var unstableFrom: LogIndex?
    private var lastHardState: HardState
    private var lastSoftState: SoftState
    /// Followers need an append (new entries or a new commit index).
    var broadcastPending = false

    /// Starts (or restarts) a node from what it had persisted.
    ///
    /// The driver MUST pass exactly what its storage holds: the hard state, the latest snapshot
    /// and the log after it. It restores its state machine from the snapshot itself; committed
    /// entries after the snapshot come out of ``takeOutput()`` again.
    public init(configuration: RaftConfiguration, persistentState: PersistentState = PersistentState()) {
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
        membership = persistentState.snapshot?.metadata.membership ?? Membership(voters: configuration.voters)
        membershipIndex = snapshotIndex
        term = persistentState.hardState.term
        vote = persistentState.hardState.vote
        commitIndex = min(max(persistentState.hardState.commit, snapshotIndex), log.lastIndex)
        appliedIndex = snapshotIndex
        stableIndex = log.lastIndex
        lastHardState = HardState(term: term, vote: vote, commit: commitIndex)
        lastSoftState = SoftState(role: .follower, term: term, leader: nil)
        // Committed memberships are in force already; the entries themselves are handed out
        // for applying again like any committed entry.
        for entry in log.entries(from: snapshotIndex + 1, through: commitIndex) where entry.kind == .membership {
            adoptMembership(from: entry)
        }
        resetElectionTimer()
    }

    // MARK: - Inputs

    /// Advances logical time by one tick: followers and candidates count towards an election,
    /// a leader sends heartbeats and checks that a quorum is still with it.
    public mutating func tick() {
        ticks += 1
        // A quiescent group counts nothing: no heartbeats, no election timer (it is woken).
        if isQuiescent { return }
        electionElapsed += 1
        switch role {
        case .follower, .preCandidate, .candidate:
            if electionElapsed >= randomizedElectionTimeout {
                // Learners, joining and removed nodes never campaign.
                if membership.isVoter(id) && !isRemoved {
                    campaign()
                } else {
                    electionElapsed = 0
                }
            }
        case .leader:
            heartbeatElapsed += 1
            if transferTarget != nil {
                transferElapsed += 1
                if transferElapsed >= configuration.electionTimeoutTicks {
                    abortTransfer()
                }
            }
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
                if countIdleTick() {
                    quiesce()
                } else {
                    heartbeatRound()
                }
            }
        }
    }

    /// Sends a heartbeat to every follower.
    mutating func heartbeatRound() {
        // With leases every heartbeat is a round of its own: its acknowledgements extend the
        // lease from the tick it was sent.
        if configuration.leaseTicks > 0 { nextReadRound += 1 }
        broadcastHeartbeat()
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
        /// This leader is handing its leadership to `target` (see ``transferLeadership(to:)``);
        /// retry later, here if the transfer fails or at `target` once it leads.
        case transferringLeadership(target: NodeID)
    }

    /// Proposes a command. Only the leader accepts; others fail fast with a leader hint.
    public mutating func propose(_ data: [UInt8]) -> ProposalResult {
        propose(batch: CollectionOfOne(data))
    }

    /// Proposes several commands as consecutive entries; on success `index` is the first.
    public mutating func propose(batch commands: some Collection<[UInt8]>) -> ProposalResult {
        guard role == .leader else { return .notLeader(leaderHint: leader) }
        wake()
        if let target = transferTarget { return .transferringLeadership(target: target) }
        let bytes = commands.reduce(0) { $0 + Entry.approximateByteSize(ofData: $1) }
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
        wake()
        if hasLease && log.term(at: commitIndex) == term {
            leaseReadCount += 1
            output.readStates.append(ReadState(id: id, index: commitIndex))
            return .pending
        }
        pendingReads.append(PendingRead(id: id, index: nil))
        return .pending
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
        guard message.to == id, message.from != id else { return }
        // A request wakes a quiescent node (answers to its own heartbeats do not); the
        // heartbeat that quiesces the group quiesces this node again after it is handled.
        if isQuiescent && !message.isResponse { wake() }
        // Messages from nodes this one does not know as members are handled: a node behind on
        // membership changes (or joining) must hear from a leader it has not learned of yet.
        // Pre-vote and check-quorum keep non-members from disrupting; removed nodes are told.
        if case .removed = message.payload {
            if !isRemoved {
                isRemoved = true
                becomeFollower(term: term, leader: nil)
            }
            return
        }
        if membership.hasRemoved(message.from) {
            if !message.isResponse { send(to: message.from, .removed) }
            return
        }

        if message.term > term {
            switch message.payload {
            case .preVote, .vote:
                // A follower that recently heard from a leader ignores campaigns (thesis §4.2.3):
                // it keeps a removed or partitioned node from disrupting a working cluster. A
                // campaign the leader itself asked for (leadership transfer) is the exception.
                if configuration.checkQuorum && leader != nil && electionElapsed < configuration.electionTimeoutTicks
                    && !message.isTransferVote
                {
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
                // A stale leader must hear our term and step down (Figure 2): with check-quorum
                // it would otherwise keep its followers' leases alive forever, and a node that
                // cannot campaign (a learner, a joining node) would never hear a leader again.
                send(to: message.from, .appendResponse(AppendResponse(success: false, matchIndex: 0)))
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

    /// Records that the driver made `persisted`, a batch an earlier ``takeOutput()`` returned,
    /// durable. Batches are made durable in the order they were taken.
    ///
    /// Only the batch's last entry matters to the engine: ``stableIndex`` moves to it (through
    /// ``didPersistEntries(through:term:)``, so nothing happens if the log changed at that index
    /// since), which lets committed entries through it be applied and lets a leader count its
    /// own copy towards the commit index. A batch without entries changes nothing: a snapshot
    /// counts as stable from the moment the engine installs it (the driver makes it durable
    /// before it handles the rest of its batch), and the hard state needs no acknowledgement
    /// (the driver sends the messages that depend on it only once it is durable).
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

    /// Collects the work produced since the last call. See ``RaftOutput`` for what the driver
    /// must do with it.
    public mutating func takeOutput() -> RaftOutput {
        // First: applying a membership may change who the leader sends to.
        let applyLimit = min(commitIndex, stableIndex)
        if applyLimit > appliedIndex {
            output.committedEntries = Array(log.entries(from: appliedIndex + 1, through: applyLimit))
            appliedIndex = applyLimit
            for entry in output.committedEntries where entry.kind == .membership && entry.index > membershipIndex {
                adoptMembership(from: entry)
            }
            leaveJointConfigurationIfDue()
        }
        if role == .leader {
            assignReadRounds()
            if broadcastPending {
                broadcastPending = false
                for peer in replicationPeers {
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

    // MARK: - Helpers

    /// Every member but this node: whom a leader replicates to. Sorted, so that message order
    /// does not depend on hashing.
    var replicationPeers: [NodeID] {
        membership.members.filter { $0 != id }
    }

    mutating func appendToLog(_ entry: Entry) {
        log.append(entry)
        unstableFrom = min(unstableFrom ?? entry.index, entry.index)
    }

    mutating func send(to peer: NodeID, _ payload: Message.Payload) {
        output.messages.append(Message(from: id, to: peer, term: term, payload: payload))
    }
}
