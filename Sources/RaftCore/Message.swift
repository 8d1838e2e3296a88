/// A message between two members of one Raft group.
///
/// Every message carries the sender's term. Requests and their responses are separate
/// messages; the transport may drop, delay, duplicate or reorder any of them.
public struct Message: Sendable, Hashable {
    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var payload: Payload

    public init(from: NodeID, to: NodeID, term: Term, payload: Payload) {
        self.from = from
        self.to = to
        self.term = term
        self.payload = payload
    }

    public enum Payload: Sendable, Hashable {
        /// Pre-vote (thesis §9.6): "would you vote for me in `term`?" The sender's term is
        /// not incremented and nobody records a vote.
        case preVote(VoteRequest)
        case preVoteResponse(VoteResponse)
        case vote(VoteRequest)
        case voteResponse(VoteResponse)
        case append(AppendRequest)
        case appendResponse(AppendResponse)
        case heartbeat(Heartbeat)
        case heartbeatResponse(HeartbeatResponse)
        case installSnapshot(SnapshotChunk)
        case installSnapshotResponse(SnapshotChunkResponse)
        /// Leadership transfer (thesis §3.10): the leader tells an up-to-date follower to start
        /// an election at once, without pre-vote, with ``VoteRequest/transfer`` set.
        case timeoutNow
        /// The sender's group removed the receiver (it sent to a member of the group after its
        /// removal was committed): the receiver stops taking part.
        case removed
    }

    /// True for the messages that answer a request (counted apart from requests by tests).
    public var isResponse: Bool {
        switch payload {
        case .preVoteResponse, .voteResponse, .appendResponse, .heartbeatResponse, .installSnapshotResponse:
            return true
        case .preVote, .vote, .append, .heartbeat, .installSnapshot, .timeoutNow, .removed:
            return false
        }
    }

    /// Bytes this message adds to the network, approximately (headers plus payload data).
    public var approximateByteSize: Int {
        switch payload {
        case .append(let request):
            return 48 + request.entries.reduce(0) { $0 + $1.approximateByteSize }
        case .installSnapshot(let chunk):
            return 64 + chunk.data.count + chunk.metadata.membership.encoded.count
        default:
            return 48
        }
    }
}

public struct VoteRequest: Sendable, Hashable {
    public var lastLogIndex: LogIndex
    public var lastLogTerm: Term
    /// The campaign follows a ``Message/Payload/timeoutNow`` from the leader of the previous
    /// term: voters grant it even while they still hear from that leader (check-quorum's lease,
    /// thesis §4.2.3 and §3.10), since the leader asked for it. Only votes carry it: a
    /// transfer campaign skips pre-vote.
    public var transfer: Bool

    public init(lastLogIndex: LogIndex, lastLogTerm: Term, transfer: Bool = false) {
        self.lastLogIndex = lastLogIndex
        self.lastLogTerm = lastLogTerm
        self.transfer = transfer
    }
}

public struct VoteResponse: Sendable, Hashable {
    public var granted: Bool

    public init(granted: Bool) {
        self.granted = granted
    }
}

public struct AppendRequest: Sendable, Hashable {
    public var prevLogIndex: LogIndex
    public var prevLogTerm: Term
    public var entries: [Entry]
    public var leaderCommit: LogIndex

    public init(prevLogIndex: LogIndex, prevLogTerm: Term, entries: [Entry], leaderCommit: LogIndex) {
        self.prevLogIndex = prevLogIndex
        self.prevLogTerm = prevLogTerm
        self.entries = entries
        self.leaderCommit = leaderCommit
    }
}

public struct AppendResponse: Sendable, Hashable {
    /// Whether the follower's log now matches the leader's up to `matchIndex`.
    public var success: Bool
    /// On success: the highest index known to match the leader's log. On rejection: the
    /// `prevLogIndex` of the rejected request (lets the leader ignore stale rejections).
    public var matchIndex: LogIndex
    /// On rejection, the fast-repair hint (thesis §5.3): the first index of `conflictTerm` in
    /// the follower's log, or the follower's last index + 1 when its log is too short.
    public var conflictIndex: LogIndex
    /// On rejection, the term of the follower's entry at `prevLogIndex`, or nil when the
    /// follower has no entry there.
    public var conflictTerm: Term?

    public init(success: Bool, matchIndex: LogIndex, conflictIndex: LogIndex = 0, conflictTerm: Term? = nil) {
        self.success = success
        self.matchIndex = matchIndex
        self.conflictIndex = conflictIndex
        self.conflictTerm = conflictTerm
    }
}

public struct Heartbeat: Sendable, Hashable {
    /// The leader's commit index, capped at what this follower is known to hold.
    public var commit: LogIndex
    /// The ReadIndex round this heartbeat confirms (0 when none).
    public var readRound: UInt64
    /// The leader stops sending heartbeats: the group is idle and every member is up to date
    /// (see ``RaftConfiguration/quiesceAfterTicks``). The follower stops its election timer.
    public var quiesce: Bool

    public init(commit: LogIndex, readRound: UInt64, quiesce: Bool = false) {
        self.commit = commit
        self.readRound = readRound
        self.quiesce = quiesce
    }
}

public struct HeartbeatResponse: Sendable, Hashable {
    public var readRound: UInt64

    public init(readRound: UInt64) {
        self.readRound = readRound
    }
}

/// One piece of a snapshot on its way to a follower that is behind the leader's log.
public struct SnapshotChunk: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    /// Byte offset of `data` within the whole snapshot.
    public var offset: UInt64
    /// Size of the whole snapshot in bytes.
    public var totalSize: UInt64
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, offset: UInt64, totalSize: UInt64, data: [UInt8]) {
        self.metadata = metadata
        self.offset = offset
        self.totalSize = totalSize
        self.data = data
    }

    public var isLast: Bool { offset + UInt64(data.count) >= totalSize }
}

public struct SnapshotChunkResponse: Sendable, Hashable {
    /// The snapshot being acknowledged.
    public var snapshotIndex: LogIndex
    public var snapshotTerm: Term
    /// The next byte the follower expects; the leader continues (or restarts) from there.
    public var nextOffset: UInt64
    /// True once the follower has the whole snapshot (or already had its index committed).
    public var done: Bool

    public init(snapshotIndex: LogIndex, snapshotTerm: Term, nextOffset: UInt64, done: Bool) {
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.nextOffset = nextOffset
        self.done = done
    }
}
