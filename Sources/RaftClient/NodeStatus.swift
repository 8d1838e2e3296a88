/// The answer of a node's `GET /v1/status`: the node's id and, per group, its role, term,
/// leader and indexes. The host encodes it and `raftctl status` decodes it, so the schema is
/// written once.
package struct NodeStatus: Codable, Sendable, Hashable {
    /// One group as the node sees it.
    package struct Group: Codable, Sendable, Hashable {
        package var name: String
        /// The plugin's name, as in `cluster.yaml`.
        package var stateMachine: String
        /// `follower`, `preCandidate`, `candidate` or `leader` (`Role`'s raw value).
        package var role: String
        package var term: UInt64
        /// The leader's node id (`n1`); `null`, not a missing member, when none is known.
        package var leader: String?
        package var commitIndex: UInt64
        package var appliedIndex: UInt64
        package var lastIndex: UInt64
        package var snapshotIndex: UInt64
        /// Commands and queries handed to this node's replica of the group since the node
        /// started (counters; a console turns them into rates). Absent from older nodes.
        package var proposals: UInt64?
        package var reads: UInt64?
        /// On the leader: how many entries each follower (by node id) is behind the leader's
        /// last index; `{}` on other nodes.
        package var replicationLag: [String: UInt64]?
        /// The latest leaders this node learned of, oldest first.
        package var leaderChanges: [LeaderChange]?
        /// The group is idle and sends no heartbeats (`raft.quiesceAfter`). Absent from older
        /// nodes.
        package var quiescent: Bool?

        package init(
            name: String,
            stateMachine: String,
            role: String,
            term: UInt64,
            leader: String?,
            commitIndex: UInt64,
            appliedIndex: UInt64,
            lastIndex: UInt64,
            snapshotIndex: UInt64,
            proposals: UInt64? = nil,
            reads: UInt64? = nil,
            replicationLag: [String: UInt64]? = nil,
            leaderChanges: [LeaderChange]? = nil,
            quiescent: Bool? = nil
        ) {
            self.name = name
            self.stateMachine = stateMachine
            self.role = role
            self.term = term
            self.leader = leader
            self.commitIndex = commitIndex
            self.appliedIndex = appliedIndex
            self.lastIndex = lastIndex
            self.snapshotIndex = snapshotIndex
            self.proposals = proposals
            self.reads = reads
            self.replicationLag = replicationLag
            self.leaderChanges = leaderChanges
            self.quiescent = quiescent
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(stateMachine, forKey: .stateMachine)
            try container.encode(role, forKey: .role)
            try container.encode(term, forKey: .term)
            try container.encode(leader, forKey: .leader)
            try container.encode(commitIndex, forKey: .commitIndex)
            try container.encode(appliedIndex, forKey: .appliedIndex)
            try container.encode(lastIndex, forKey: .lastIndex)
            try container.encode(snapshotIndex, forKey: .snapshotIndex)
            try container.encodeIfPresent(proposals, forKey: .proposals)
            try container.encodeIfPresent(reads, forKey: .reads)
            try container.encodeIfPresent(replicationLag, forKey: .replicationLag)
            try container.encodeIfPresent(leaderChanges, forKey: .leaderChanges)
            try container.encodeIfPresent(quiescent, forKey: .quiescent)
        }

        private enum CodingKeys: String, CodingKey {
            case name, stateMachine, role, term, leader, commitIndex, appliedIndex, lastIndex, snapshotIndex
            case proposals, reads, replicationLag, leaderChanges, quiescent
        }
    }

    /// A leader a node learned of, and when (milliseconds since the Unix epoch, the node's clock).
    package struct LeaderChange: Codable, Sendable, Hashable {
        package var term: UInt64
        package var leader: String
        package var at: UInt64

        package init(term: UInt64, leader: String, at: UInt64) {
            self.term = term
            self.leader = leader
            self.at = at
        }
    }

    /// The node's id (`n1`).
    package var node: String
    package var groups: [Group]

    package init(node: String, groups: [Group]) {
        self.node = node
        self.groups = groups
    }
}
