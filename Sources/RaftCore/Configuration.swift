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
    /// Whether a leader holds back an append that would not be full (below
    /// ``maxMessageBytes``) while another append to the same follower is unanswered, and
    /// sends what gathered meanwhile when the answer comes, as Nagle's algorithm does for small
    /// segments. A leader whose own log writes are pipelined otherwise sends a small append
    /// per batch of proposals: each costs a message, a follower write and fsync, and an
    /// answer. Full appends still pipeline up to ``maxInflightMessages``, so a follower far
    /// behind is not held to one message per round trip. The cost: a proposal that arrives
    /// while an append is unanswered waits for that answer before it leaves (up to one round
    /// trip and a follower fsync).
    public var coalescesAppends: Bool = true
    /// Bytes of snapshot data per InstallSnapshot chunk.
    public var snapshotChunkBytes: Int = 1 << 20
    /// Whether the driver stores the chunks of a snapshot received from the leader
    /// (``RaftOutput/receivedSnapshotChunks``) instead of the engine gathering them in memory;
    /// the installed snapshot's data is then ``SnapshotData/stored(count:)`` until the driver
    /// hands the stored bytes back (``RaftEngine/useStoredSnapshotData(_:for:)``).
    public var driverStoresSnapshotChunks = false
    /// Bytes of proposed but uncommitted entries a leader accepts before refusing proposals
    /// (flow control); 0 means no limit.
    public var maxUncommittedBytes: Int = 64 << 20
    /// Lease reads (thesis §6.4.1): after a quorum acknowledged a heartbeat round that the
    /// leader sent at tick `t`, it serves linearizable reads without a round of its own until
    /// tick `t + leaseTicks`. 0 (the default) turns lease reads off; reads then use ReadIndex.
    ///
    /// Safe only with ``checkQuorum`` (followers that heard from a leader refuse votes for an
    /// election timeout) and while every node's ticks advance at rates close enough that
    /// `leaseTicks` of the leader's ticks pass before `electionTimeoutTicks - 1` of any
    /// follower's. Use ``leaseTicks(electionTimeoutTicks:maxClockDrift:driverLagTicks:)``.
    public var leaseTicks: Int = 0
    /// Quiescence (as dragonboat and TiKV's hibernating regions do it): a leader whose group has
    /// had nothing to do for this many ticks — every member holds the whole log and answered
    /// recently, nothing uncommitted, no reads, transfer or membership change in flight — tells
    /// its followers and stops sending heartbeats; they stop counting towards an election. An
    /// idle group then costs nothing per tick. 0 (the default) turns quiescence off.
    ///
    /// Any request from a peer, a proposal or a read wakes the group again. A quiescent follower
    /// cannot notice that its leader died, so the driver MUST run a liveness check per node
    /// (not per group) and call ``RaftEngine/livenessChanged(alive:)`` when its view changes.
    public var quiesceAfterTicks: Int = 0
    /// Seeds the generator behind the randomized election timeouts.
    public var randomSeed: UInt64 = 0

    public init(id: NodeID, voters: [NodeID]) {
        self.id = id
        self.voters = voters
    }

    /// The longest safe lease for an election timeout, when tick rates on different nodes may
    /// differ by the ratio `maxClockDrift` (0.1: 10 %) and the leader's driver may deliver a
    /// tick up to `driverLagTicks` late. A follower refuses votes for at least
    /// `electionTimeoutTicks - 1` of its ticks after a heartbeat; the leader's lease must end
    /// before that in real time, a tick of rounding and the driver's lag included.
    public static func leaseTicks(electionTimeoutTicks: Int, maxClockDrift: Double, driverLagTicks: Int) -> Int {
        let followerTicks = Double(electionTimeoutTicks - 1) * (1 - maxClockDrift)
        return max(0, Int(followerTicks.rounded(.down)) - 1 - driverLagTicks)
    }

    /// Number of voters that form a majority.
    public var quorum: Int { Quorum.size(of: voters.count) }
}
