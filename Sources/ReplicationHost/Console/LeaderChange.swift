public import RaftCore

/// A leader a node learned of: who, in which term, and when (the node's wall clock).
///
/// Each group keeps the latest ``kept`` of them (``GroupMetrics/leaderChanges``); `/v1/status`
/// lists them and the console merges the lists of every node into the cluster's recent leader
/// changes.
public struct LeaderChange: Sendable, Hashable {
    /// How many changes a group keeps.
    public static let kept = 16

    public var term: Term
    public var leader: NodeID
    /// Milliseconds since the Unix epoch, when this node learned of the leader.
    public var at: UInt64

    public init(term: Term, leader: NodeID, at: UInt64) {
        self.term = term
        self.leader = leader
        self.at = at
    }

    /// `changes` with `change` appended, the oldest dropped past ``kept``.
    static func appending(_ change: LeaderChange, to changes: [LeaderChange]) -> [LeaderChange] {
        (changes + [change]).suffix(kept).map { $0 }
    }
}
