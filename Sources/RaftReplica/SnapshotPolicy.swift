public import RaftCore

/// When a replica captures its state into a snapshot and compacts its log.
public struct SnapshotPolicy: Sendable, Hashable, CustomStringConvertible {
    private enum Value: Sendable, Hashable {
        case never
        /// With a ratio: the trigger grows with the last snapshot (see ``maxRaftState(_:snapshotRatio:)``).
        case maxRaftState(Int, snapshotRatio: Int?)
        case everyEntries(LogIndex)
    }

    private let value: Value

    /// The log grows without bound.
    public static let never = SnapshotPolicy(value: .never)

    /// When the persisted Raft state (hard state and log, without the snapshot) exceeds
    /// `bytes`, whatever the size of the state: the classic `maxraftstate` (the lab's bound).
    public static func maxRaftState(_ bytes: Int) -> SnapshotPolicy {
        SnapshotPolicy(value: .maxRaftState(bytes, snapshotRatio: nil))
    }

    /// When the persisted Raft state exceeds `max(bytes, last snapshot size / snapshotRatio)`:
    /// `bytes` while the state is small, and for a state much larger than `bytes` a log of a
    /// fraction of it, so that the state is not rewritten for every `bytes` of log (snapshot
    /// writes stay within `snapshotRatio` bytes per byte of log). What `cluster.yaml`'s
    /// `maxraftstate` means to the host, with ``defaultSnapshotRatio``.
    ///
    /// Above `bytes`, that log size is staggered by member (``stagger(forMember:)``: up to
    /// twice as far above `bytes`), so that the members of a group, which apply the same log,
    /// do not all serialize a large state at the same moment on shared cores.
    public static func maxRaftState(_ bytes: Int, snapshotRatio: Int) -> SnapshotPolicy {
        precondition(snapshotRatio > 0, "a snapshot ratio must be positive")
        return SnapshotPolicy(value: .maxRaftState(bytes, snapshotRatio: snapshotRatio))
    }

    /// The host's ratio of snapshot size to log size: the log of a large state grows to a
    /// quarter of it before the next snapshot. (An eighth cost a 1 GB state a snapshot every
    /// 11 s on each node, 40 % of the put throughput on two cores.)
    public static let defaultSnapshotRatio = 4

    /// Every `entries` applied entries, whatever their size (the lab's Raft tests).
    public static func everyEntries(_ entries: LogIndex) -> SnapshotPolicy {
        precondition(entries > 0, "a snapshot interval must be positive")
        return SnapshotPolicy(value: .everyEntries(entries))
    }

    /// `maxraftstate` as `cluster.yaml` states it: nil (or -1 in the file) means never;
    /// otherwise ``maxRaftState(_:snapshotRatio:)`` with ``defaultSnapshotRatio``.
    public init(maxRaftState: Int?) {
        self = maxRaftState.map { Self.maxRaftState($0, snapshotRatio: Self.defaultSnapshotRatio) } ?? .never
    }

    private init(value: Value) {
        self.value = value
    }

    func isDue(
        raftStateSize: Int,
        appliedIndex: LogIndex,
        snapshotIndex: LogIndex,
        snapshotSize: Int,
        member: @autoclosure () -> Int
    ) -> Bool {
        switch value {
        case .never:
            return false
        case .maxRaftState(let limit, nil):
            return raftStateSize > limit
        case .maxRaftState(let limit, let ratio?):
            let log = snapshotSize / ratio
            guard log > limit else { return raftStateSize > limit }
            // The member's place is looked up only once the log is past the unstaggered size.
            guard raftStateSize > log else { return false }
            return raftStateSize > log + Int(Double(log - limit) * Self.stagger(forMember: member()))
        case .everyEntries(let interval):
            return appliedIndex >= snapshotIndex + interval
        }
    }

    /// How much further than `snapshot size / snapshotRatio` a member lets its log grow
    /// before a snapshot, as a fraction of that size's excess over `maxraftstate`: from 0 to
    /// 1, by the member's place in the group (1 for the lowest id): the fractional parts of
    /// its multiples of the golden ratio, which spread any number of members evenly (members
    /// 1, 2 and 3 get 0.62, 0.24 and 0.85). By place, not by id, so that ids such as 1 and 22
    /// (0.03 apart as multiples) still get far-apart fractions. A 1 GB state took 2.7 s to
    /// serialize and write on each of three nodes at once, and two cores served requests only
    /// in between.
    static func stagger(forMember member: Int) -> Double {
        let golden = 0.618_033_988_749_894_8
        let product = Double(member) * golden
        return product - product.rounded(.down)
    }

    public var description: String {
        switch value {
        case .never: "never"
        case .maxRaftState(let bytes, nil): "maxRaftState(\(bytes))"
        case .maxRaftState(let bytes, let ratio?): "maxRaftState(\(bytes), snapshotRatio: \(ratio))"
        case .everyEntries(let entries): "everyEntries(\(entries))"
        }
    }
}
