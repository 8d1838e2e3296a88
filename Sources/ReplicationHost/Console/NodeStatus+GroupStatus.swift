import ClusterConfig
import RaftClient
import RaftCore

extension NodeStatus {
    /// What `/v1/status` answers: node `node`'s groups, with node ids by their names in
    /// `configuration`.
    init(node: String, groups: [GroupStatus], configuration: ClusterConfiguration) {
        self.init(
            node: node,
            groups: groups.map { group in
                // Members added after the file was written are named by the group's membership.
                let directory = MemberDirectory(of: group.membership, configuration: configuration)
                func name(_ id: NodeID) -> String {
                    directory.member(id: id)?.name
                        ?? configuration.nodes.first { $0.numericID == id.rawValue }?.id ?? "\(id.rawValue)"
                }
                return NodeStatus.Group(
                    name: group.name,
                    stateMachine: configuration.groups.first { $0.name == group.name }?.stateMachine ?? "",
                    role: group.role.rawValue,
                    term: group.term,
                    leader: group.leader.map(name),
                    commitIndex: group.commitIndex,
                    appliedIndex: group.appliedIndex,
                    lastIndex: group.lastIndex,
                    snapshotIndex: group.snapshotIndex,
                    proposals: group.metrics.proposals,
                    reads: group.metrics.reads,
                    replicationLag: Dictionary(
                        group.replicationLag.map { (name($0.key), $0.value) },
                        uniquingKeysWith: max
                    ),
                    leaderChanges: group.metrics.leaderChanges.map {
                        NodeStatus.LeaderChange(term: $0.term, leader: name($0.leader), at: $0.at)
                    },
                    quiescent: group.isQuiescent
                )
            }
        )
    }
}
