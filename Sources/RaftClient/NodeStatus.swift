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

        package init(
            name: String,
            stateMachine: String,
            role: String,
            term: UInt64,
            leader: String?,
            commitIndex: UInt64,
            appliedIndex: UInt64,
            lastIndex: UInt64,
            snapshotIndex: UInt64
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
        }

        private enum CodingKeys: String, CodingKey {
            case name, stateMachine, role, term, leader, commitIndex, appliedIndex, lastIndex, snapshotIndex
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
