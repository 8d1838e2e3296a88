/// How one engine behaves. Times are in ticks: the driver calls ``RaftEngine/tick()`` at a
/// fixed real-time interval of its choosing (the host derives ticks from `raft.heartbeat`).
public struct RaftConfiguration: Sendable, Hashable {
    /// This node.
    public var id: NodeID
    /// Every voting member of the group, this node included.
    public var voters: [NodeID]
    /// A follower that hears nothing from a leader for a random time in
    /// `[electionTimeoutTicks, 2 * electionTimeoutTicks)` starts an election.
    public var electionTimeoutTicks: Int = 10
    /// A leader sends heartbeats this often. Must be well below `electionTimeoutTicks`.
    public var heartbeatTicks: Int = 1
    /// Pre-vote (thesis §9.6): a node first asks whether it could win before it increments
    /// its term, so a node returning from a partition does not depose a working leader.
    public var preVote: Bool = true
    /// A leader that has not heard from a quorum within an election timeout steps down, and
    /// followers that hear from a leader ignore vote requests within that time (thesis §6.2).
    public var checkQuorum: Bool = true
    /// Upper bound on the entry bytes of one append message (one entry is always sent).
    public var maxMessageBytes: Int = 1 << 20
    /// Append messages a leader may have in flight to one follower before it waits for acks.
    public var maxInflightMessages: Int = 256
    /// Bytes of snapshot data per InstallSnapshot chunk.
    public var snapshotChunkBytes: Int = 1 << 20
    /// Bytes of proposed but uncommitted entries a leader accepts before refusing proposals
    /// (flow control); 0 means no limit.
    public var maxUncommittedBytes: Int = 64 << 20
    /// Seeds the generator behind the randomized election timeouts.
    public var randomSeed: UInt64 = 0

    public init(id: NodeID, voters: [NodeID]) {
        self.id = id
        self.voters = voters
    }

    /// Number of voters that form a majority.
    public var quorum: Int { voters.count / 2 + 1 }
}
