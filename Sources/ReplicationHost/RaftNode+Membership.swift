package import ClusterConfig
import Foundation
import Logging
import NIOPosix
import RaftClient
package import RaftCore
import RaftReplica
import RaftStorage
import RaftTransport
import Synchronization

/// Each member's name and addresses, carried in the group's membership (``Membership/context``)
/// through the log and snapshots: what a node dials, whatever its `cluster.yaml` says about
/// nodes added later. The founding membership has none: its members are `cluster.yaml`'s
/// founding nodes.
package struct MemberDirectory: Codable, Sendable, Hashable {
    package struct Member: Codable, Sendable, Hashable {
        package var name: String
        package var id: UInt64
        package var peer: String
        package var client: String
        package var http: String

        package init(_ node: ClusterConfiguration.Node) {
            name = node.id
            id = node.numericID
            peer = node.peer.description
            client = node.client.description
            http = node.http.description
        }

        package init(name: String, id: UInt64, peer: String, client: String, http: String) {
            self.name = name
            self.id = id
            self.peer = peer
            self.client = client
            self.http = http
        }
    }

    package var members: [Member]

    /// The directory a membership carries, else the founding nodes of `configuration` that
    /// belong to it.
    package init(of membership: Membership, configuration: ClusterConfiguration) {
        if !membership.context.isEmpty,
            let decoded = try? JSONDecoder().decode(MemberDirectory.self, from: Data(membership.context))
        {
            self = decoded
            return
        }
        members = configuration.nodes
            .filter { membership.contains(NodeID($0.numericID)) }
            .map(Member.init)
    }

    package init(members: [Member]) {
        self.members = members
    }

    /// The JSON bytes stored in a membership entry.
    package var encoded: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? Array(encoder.encode(self))) ?? []
    }

    package func member(named name: String) -> Member? { members.first { $0.name == name } }
    package func member(id: NodeID) -> Member? { members.first { $0.id == id.rawValue } }
}

/// One member as `GET /v1/groups/{group}/members` and `raftctl member list` show it.
package struct MemberView: Codable, Sendable, Hashable {
    package var name: String
    package var id: UInt64
    /// `voter`, `learner`, or `outgoing` (a voter of the configuration being left).
    package var role: String
    package var isLeader: Bool
    package var peer: String
    package var client: String
    package var http: String
    /// On the leader: the highest log index the member holds.
    package var matchIndex: UInt64?
}

/// `GET /v1/groups/{group}/members`.
package struct MembersView: Codable, Sendable, Hashable {
    package var group: String
    package var leader: String?
    package var joint: Bool
    package var members: [MemberView]
    /// Ids that were removed and are never used again.
    package var removed: [UInt64]
}

/// What an operator asks of a group's membership or leadership.
package enum MembershipOperation: Sendable, Hashable {
    /// Adds a member: as a learner, or (`asVoter`) as a learner that is promoted once it has
    /// caught up, so the quorum never waits for an empty node.
    case add(MemberDirectory.Member, asVoter: Bool)
    case promote(name: String)
    case remove(name: String)
    case transferLeadership(to: String?)
}

/// How a ``MembershipOperation`` ended.
package enum MembershipOutcome: Error, Sendable {
    case done(MembersView)
    /// This node does not lead the group: ask the leader (its name, when known).
    case notLeader(leader: String?, http: String?)
    case unknownGroup
    /// Cannot be done as asked; retrying will not help.
    case rejected(String)
    /// May work later.
    case unavailable(String)
}

extension RaftNode {
    /// The members of `group` as this node sees them; nil for an unknown group.
    package func members(of group: String) -> MembersView? {
        guard let status = status().first(where: { $0.name == group }) else { return nil }
        return view(of: status)
    }

    private func view(of status: GroupStatus) -> MembersView {
        let directory = MemberDirectory(of: status.membership, configuration: configuration)
        let membership = status.membership
        let members = membership.members.map { id -> MemberView in
            let entry = directory.member(id: id)
            let role =
                membership.voters.contains(id) ? "voter" : membership.isLearner(id) ? "learner" : "outgoing"
            let match: UInt64? =
                status.role == .leader
                ? (id == NodeID(node.numericID) ? status.lastIndex : status.followerMatch[id]) : nil
            return MemberView(
                name: entry?.name ?? id.description,
                id: id.rawValue,
                role: role,
                isLeader: status.leader == id,
                peer: entry?.peer ?? "",
                client: entry?.client ?? "",
                http: entry?.http ?? "",
                matchIndex: match
            )
        }
        let leaderName = status.leader.map { directory.member(id: $0)?.name ?? $0.description }
        return MembersView(
            group: status.name,
            leader: leaderName,
            joint: membership.isJoint,
            members: members,
            removed: membership.removed.map(\.rawValue)
        )
    }

    /// Runs `operation` on this node, which must lead `group`.
    package func perform(_ operation: MembershipOperation, group: String) async -> MembershipOutcome {
        guard let executor = executor(named: group) else { return .unknownGroup }
        let status = executor.status
        guard status.role == .leader else {
            let directory = MemberDirectory(of: status.membership, configuration: configuration)
            let leader = status.leader.flatMap { directory.member(id: $0) }
            return .notLeader(leader: leader?.name, http: leader?.http)
        }
        var directory = MemberDirectory(of: status.membership, configuration: configuration)
        func lookUp(_ name: String) -> MemberDirectory.Member? {
            directory.member(named: name)
        }
        let result: AdminResult
        switch operation {
        case .add(var member, let asVoter):
            if let known = configuration.node(id: member.name) {
                // A node of the file keeps its number; the file's addresses fill what was not given.
                member.id = known.numericID
                if member.peer.isEmpty { member.peer = known.peer.description }
                if member.client.isEmpty { member.client = known.client.description }
                if member.http.isEmpty { member.http = known.http.description }
            } else if member.id == 0 {
                let used = status.membership.members + status.membership.removed
                member.id = max(used.map(\.rawValue).max() ?? 0, UInt64(configuration.nodes.count)) + 1
            }
            guard !member.peer.isEmpty, !member.client.isEmpty, !member.http.isEmpty else {
                return .rejected(
                    "\(member.name) is not in \(configuration.name)'s file: give its peer, client and http addresses"
                )
            }
            if let clash = directory.members.first(where: { $0.name == member.name && $0.id != member.id }) {
                return .rejected("the name \(member.name) belongs to member \(clash.id)")
            }
            directory.members.removeAll { $0.id == member.id }
            directory.members.append(member)
            let id = NodeID(member.id)
            result = await executor.admin(.changeMembership([.addLearner(id)], context: directory.encoded))
            guard asVoter, case .membershipChanged = result else { break }
            // Promote once the learner holds what the leader had committed when it was added.
            let target = executor.status.commitIndex
            let deadline = ContinuousClock.now.advanced(by: configuration.requestTimeout * 3)
            while ContinuousClock.now < deadline {
                let current = executor.status
                if current.role != .leader {
                    return .unavailable(
                        "this node lost the leadership while \(member.name) caught up; it stays a learner: run promote at the new leader"
                    )
                }
                if (current.followerMatch[id] ?? 0) >= target { break }
                try? await Task.sleep(for: configuration.raft.heartbeat)
            }
            guard (executor.status.followerMatch[id] ?? 0) >= target else {
                return .unavailable(
                    "\(member.name) did not catch up within \(configuration.requestTimeout * 3); it stays a learner until promoted"
                )
            }
            return await finish(
                executor.admin(.changeMembership([.addVoter(id)], context: directory.encoded)),
                executor
            )
        case .promote(let name):
            guard let member = lookUp(name), status.membership.isLearner(NodeID(member.id)) else {
                return .rejected("\(name) is not a learner of group \(group)")
            }
            let lag = status.lastIndex - min(status.followerMatch[NodeID(member.id)] ?? 0, status.lastIndex)
            guard lag <= 1000 else {
                return .unavailable("\(name) is \(lag) entries behind the leader; promote it once it has caught up")
            }
            result = await executor.admin(.changeMembership([.addVoter(NodeID(member.id))], context: directory.encoded))
        case .remove(let name):
            guard let member = lookUp(name) ?? configuration.node(id: name).map(MemberDirectory.Member.init) else {
                return .rejected("\(name) is not a member of group \(group)")
            }
            // Idempotent, as a DELETE is: an answer lost with a leader that removed itself is
            // asked again.
            if status.membership.hasRemoved(NodeID(member.id)) { return .done(view(of: status)) }
            guard status.membership.contains(NodeID(member.id)) else {
                return .rejected("\(name) is not a member of group \(group)")
            }
            directory.members.removeAll { $0.id == member.id }
            result = await executor.admin(.changeMembership([.remove(NodeID(member.id))], context: directory.encoded))
        case .transferLeadership(let name):
            var target: NodeID?
            if let name {
                guard let member = lookUp(name) else { return .rejected("\(name) is not a member of group \(group)") }
                target = NodeID(member.id)
            }
            result = await executor.admin(.transferLeadership(to: target))
        }
        return await finish(result, executor)
    }

    /// A consistent backup of `group` (``SnapshotFile``): the state once this leader applied
    /// everything committed before the call, with its index, term and members. Streamed into a
    /// file in the group's data directory on the snapshot thread, never held as one array, and
    /// read from there as it is sent (`SnapshotFile.Detached`).
    package func backup(of group: String) async -> Result<HTTPStreamedBody, MembershipOutcome> {
        guard let executor = executor(named: group) else { return .failure(.unknownGroup) }
        switch await executor.admin(.backup) {
        case .backup(let capture, let term, let membership):
            let metadata = SnapshotMetadata(index: capture.index, term: term, membership: membership)
            // Unique in the process; a `.tmp` left by a crash before it is opened is removed by
            // storage recovery.
            let number = Self.backupsWritten.add(1, ordering: .relaxed).newValue
            let path = configuration.dataDirectory(for: node) + "/\(group)/backup-\(getpid())-\(number).tmp"
            do {
                let file = try await SnapshotJob.threadPool.runIfActive {
                    _ = try capture.writeFile(metadata, to: path)
                    return try SnapshotFile.Detached(opening: path)
                }
                logger.info(
                    "backup taken",
                    metadata: [
                        "raft.group": "\(group)", "raft.index": "\(capture.index)",
                        "raft.snapshotBytes": "\(file.count)",
                    ]
                )
                return .success(HTTPStreamedBody(count: file.count) { try file.read($0) })
            } catch {
                _ = unlink(path)
                return .failure(.unavailable("the backup could not be written: \(error)"))
            }
        case let other:
            return .failure(await finish(other, executor))
        }
    }

    private static let backupsWritten = Atomic<Int>(0)

    private func finish(_ result: AdminResult, _ executor: GroupExecutor) async -> MembershipOutcome {
        switch result {
        case .membershipChanged, .leadershipTransferred, .backup:
            return .done(view(of: executor.status))
        case .notLeader(let hint):
            let directory = MemberDirectory(of: executor.status.membership, configuration: configuration)
            let leader = hint.flatMap { directory.member(id: $0) }
            return .notLeader(leader: leader?.name, http: leader?.http)
        case .rejected(let reason):
            return .rejected(reason)
        case .retry(let reason):
            return .unavailable(reason)
        }
    }

    /// Where the HTTP API forwards a group's requests: the client port of every node of the
    /// file and of every member of the group (this node at the port it bound).
    static func forwardingEndpoints(
        of status: GroupStatus,
        configuration: ClusterConfiguration,
        node: ClusterConfiguration.Node,
        clientPort: Int
    ) -> [RaftClient.Endpoint] {
        var endpoints: [NodeID: RaftClient.Endpoint] = [:]
        for member in configuration.nodes {
            endpoints[NodeID(member.numericID)] = RaftClient.Endpoint(
                node: NodeID(member.numericID),
                host: member.client.host,
                port: member.id == node.id ? clientPort : member.client.port
            )
        }
        for member in MemberDirectory(of: status.membership, configuration: configuration).members
        where member.id != node.numericID {
            guard let address = ClusterConfiguration.Address(parsing: member.client) else { continue }
            endpoints[NodeID(member.id)] = RaftClient.Endpoint(
                node: NodeID(member.id),
                host: address.host,
                port: address.port
            )
        }
        return endpoints.keys.sorted().map { endpoints[$0]! }
    }

    /// After a group applied a membership: the transport learns every member's peer address,
    /// and the group's HTTP forwarding every member's client address.
    func membershipChanged(_ status: GroupStatus) {
        if let (router, clientPort) = router(of: status.name) {
            router.updateEndpoints(
                Self.forwardingEndpoints(of: status, configuration: configuration, node: node, clientPort: clientPort)
            )
        }
        guard let setPeerAddress else { return }
        let directory = MemberDirectory(of: status.membership, configuration: configuration)
        for member in directory.members where member.id != node.numericID {
            guard let address = ClusterConfiguration.Address(parsing: member.peer) else {
                logger.warning("member \(member.name) has an unusable peer address \(member.peer)")
                continue
            }
            setPeerAddress(PeerAddress(host: address.host, port: address.port), NodeID(member.id))
        }
    }
}
