/// Who belongs to a group: its voters, its learners, and (during a joint configuration) the
/// voters it is leaving. A membership is state, not configuration: it travels through the log
/// in ``Entry/Kind-swift.enum/membership`` entries, each carrying the whole resulting value,
/// and in snapshots; the engine's ``RaftConfiguration/voters`` only bootstraps a new group.
///
/// Joint consensus (thesis §4.3): while ``outgoingVoters`` is not empty, elections and commits
/// need a majority of ``voters`` *and* a majority of ``outgoingVoters``.
public struct Membership: Sendable, Hashable, CustomStringConvertible {
    /// The voters of the configuration the group is in, or entering when joint. Sorted.
    public private(set) var voters: [NodeID]
    /// The voters of the configuration the group is leaving; empty unless joint. Sorted.
    public private(set) var outgoingVoters: [NodeID]
    /// Members that receive the log but never vote nor count towards a quorum. Sorted.
    public private(set) var learners: [NodeID]
    /// Every node ever removed from the group. An id is never reused, so a removed node that
    /// comes back can be told it was removed instead of being mistaken for a new member.
    public private(set) var removed: [NodeID]
    /// The leader leaves this joint configuration on its own once it is applied.
    public private(set) var autoLeave: Bool
    /// The driver's data about the members (the host keeps their addresses here), carried
    /// with the membership through the log and snapshots; opaque to the engine.
    public var context: [UInt8]

    /// A simple (non-joint) membership of `voters` and `learners`.
    public init(voters: [NodeID], learners: [NodeID] = [], removed: [NodeID] = [], context: [UInt8] = []) {
        self.voters = Set(voters).sorted()
        self.outgoingVoters = []
        self.learners = Set(learners).subtracting(voters).sorted()
        self.removed = Set(removed).sorted()
        self.autoLeave = false
        self.context = context
    }

    /// The no-member membership of a node that joins an existing group: it learns the real
    /// one from the leader's log or snapshot.
    public static let unknown = Membership(voters: [])

    /// Whether the group is between two configurations.
    public var isJoint: Bool { !outgoingVoters.isEmpty }

    /// Whether `node` votes in either configuration.
    public func isVoter(_ node: NodeID) -> Bool {
        voters.contains(node) || outgoingVoters.contains(node)
    }

    public func isLearner(_ node: NodeID) -> Bool { learners.contains(node) }

    /// Whether `node` is a voter or a learner.
    public func contains(_ node: NodeID) -> Bool { isVoter(node) || isLearner(node) }

    /// Whether `node` was removed and no longer votes (during a joint configuration a removed
    /// voter still votes in the outgoing half).
    public func hasRemoved(_ node: NodeID) -> Bool { removed.contains(node) && !contains(node) }

    /// Every voter and learner, sorted: the nodes a leader replicates to.
    public var members: [NodeID] { Set(voters + outgoingVoters + learners).sorted() }

    public var description: String {
        var text = "voters=\(voters.map(\.description).joined(separator: ","))"
        if isJoint { text += " outgoing=\(outgoingVoters.map(\.description).joined(separator: ","))" }
        if !learners.isEmpty { text += " learners=\(learners.map(\.description).joined(separator: ","))" }
        if !removed.isEmpty { text += " removed=\(removed.map(\.description).joined(separator: ","))" }
        if autoLeave { text += " autoLeave" }
        return text
    }

    // MARK: - Quorums

    /// The highest value a majority of each configuration has reached (the lower of the two
    /// when joint).
    func majorityValue<Value: Comparable>(_ value: (NodeID) -> Value) -> Value {
        let incoming = Quorum.majorityValue(of: voters, value)
        guard isJoint else { return incoming }
        return min(incoming, Quorum.majorityValue(of: outgoingVoters, value))
    }

    /// A vote won in every configuration is won; lost in any, lost.
    func voteResult(_ vote: (NodeID) -> Bool?) -> Quorum.VoteResult {
        let incoming = Quorum.voteResult(of: voters, vote)
        guard isJoint else { return incoming }
        let outgoing = Quorum.voteResult(of: outgoingVoters, vote)
        if incoming == .lost || outgoing == .lost { return .lost }
        if incoming == .won && outgoing == .won { return .won }
        return .pending
    }

    // MARK: - Changes

    /// The membership `changes` lead to, or why they cannot be made from this one. One voter
    /// changed (or learners only) takes the one-step path; more go through a joint
    /// configuration that the leader leaves on its own. No changes at all leaves a joint
    /// configuration.
    public func applying(_ changes: [MembershipChange], context newContext: [UInt8]) throws(RaftError) -> Membership {
        if changes.isEmpty {
            guard isJoint else { throw RaftError(.invalidMembershipChange, "there is no joint configuration to leave") }
            var left = self
            left.outgoingVoters = []
            left.autoLeave = false
            left.context = newContext
            return left
        }
        guard !isJoint else {
            throw RaftError(.invalidMembershipChange, "the group is in a joint configuration; it must leave it first")
        }
        var newVoters = Set(voters)
        var newLearners = Set(learners)
        var newRemoved = Set(removed)
        var touched: Set<NodeID> = []
        for change in changes {
            let node = change.node
            guard touched.insert(node).inserted else {
                throw RaftError(.invalidMembershipChange, "\(node) appears twice in one change")
            }
            guard !newRemoved.contains(node) else {
                throw RaftError(.invalidMembershipChange, "\(node) was removed from the group; an id is never reused")
            }
            switch change {
            case .addVoter:
                guard !newVoters.contains(node) else {
                    throw RaftError(.invalidMembershipChange, "\(node) is a voter already")
                }
                newLearners.remove(node)
                newVoters.insert(node)
            case .addLearner:
                guard !newVoters.contains(node) else {
                    throw RaftError(
                        .invalidMembershipChange,
                        "\(node) is a voter; remove it before it can be a learner"
                    )
                }
                guard !newLearners.contains(node) else {
                    throw RaftError(.invalidMembershipChange, "\(node) is a learner already")
                }
                newLearners.insert(node)
            case .remove:
                guard newVoters.contains(node) || newLearners.contains(node) else {
                    throw RaftError(.invalidMembershipChange, "\(node) is not a member")
                }
                newVoters.remove(node)
                newLearners.remove(node)
                newRemoved.insert(node)
            }
        }
        guard !newVoters.isEmpty else {
            throw RaftError(.invalidMembershipChange, "a group needs at least one voter")
        }
        var next = Membership(
            voters: Array(newVoters),
            learners: Array(newLearners),
            removed: Array(newRemoved),
            context: newContext
        )
        if Set(voters).symmetricDifference(newVoters).count > 1 {
            next.outgoingVoters = voters
            next.autoLeave = true
        }
        return next
    }

    // MARK: - Encoding

    private static let formatVersion: UInt8 = 1

    /// The binary form stored in membership entries, snapshots and snapshot messages:
    /// `version u8 | flags u8 (bit 0: autoLeave) | 4 x (count u32 | ids u64...) for voters,
    /// outgoing voters, learners and removed | context length u32 | context`, little-endian.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [Self.formatVersion, autoLeave ? 1 : 0]
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        for list in [voters, outgoingVoters, learners, removed] {
            append(UInt32(list.count))
            for node in list { append(node.rawValue) }
        }
        append(UInt32(context.count))
        bytes.append(contentsOf: context)
        return bytes
    }

    /// Decodes ``encoded``; throws with the offset of the first byte that does not fit.
    public init(decoding bytes: some Collection<UInt8>) throws(RaftError) {
        let bytes = Array(bytes)
        var offset = 0
        func fail(_ what: String) -> RaftError {
            RaftError(.malformedMembership, "membership: \(what) at offset \(offset) of \(bytes.count) bytes")
        }
        func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(RaftError) -> T {
            guard bytes.count - offset >= MemoryLayout<T>.size else { throw fail("truncated \(what)") }
            var value: T = 0
            for byte in 0..<MemoryLayout<T>.size {
                value |= T(bytes[offset + byte]) << (8 * byte)
            }
            offset += MemoryLayout<T>.size
            return value
        }
        guard try read(UInt8.self, "version") == Self.formatVersion else { throw fail("unknown version") }
        let flags = try read(UInt8.self, "flags")
        guard flags & ~1 == 0 else { throw fail("unknown flags \(flags)") }
        var lists: [[NodeID]] = []
        for name in ["voters", "outgoing voters", "learners", "removed"] {
            let count = Int(try read(UInt32.self, "\(name) count"))
            guard count <= (bytes.count - offset) / 8 else { throw fail("\(name) count \(count) beyond the data") }
            var list: [NodeID] = []
            for _ in 0..<count { list.append(NodeID(try read(UInt64.self, name))) }
            lists.append(list)
        }
        let contextCount = Int(try read(UInt32.self, "context length"))
        guard contextCount == bytes.count - offset else { throw fail("context length \(contextCount) does not match") }
        self.init(voters: lists[0], learners: lists[2], removed: lists[3], context: Array(bytes[offset...]))
        outgoingVoters = Set(lists[1]).sorted()
        autoLeave = flags & 1 != 0
        // One membership, one encoding: unsorted or repeated ids, or a learner that votes, are
        // damage, not another spelling.
        guard encoded == bytes else {
            offset = 2
            throw fail("ids not strictly ascending, or a learner that is also a voter")
        }
    }
}

/// One step of a membership change (see ``RaftEngine/proposeMembershipChange(_:context:)``).
public enum MembershipChange: Sendable, Hashable {
    /// Adds a voter, or promotes a learner.
    case addVoter(NodeID)
    /// Adds a non-voting member.
    case addLearner(NodeID)
    /// Removes a voter or a learner; its id can never be used again in the group.
    case remove(NodeID)

    public var node: NodeID {
        switch self {
        case .addVoter(let node), .addLearner(let node), .remove(let node): node
        }
    }
}
