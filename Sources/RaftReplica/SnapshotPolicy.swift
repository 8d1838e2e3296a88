public import RaftCore

/// When a replica captures its state into a snapshot and compacts its log.
public struct SnapshotPolicy: Sendable, Hashable, CustomStringConvertible {
    private enum Value: Sendable, Hashable {
        case never
        case maxRaftState(Int)
        case everyEntries(LogIndex)
    }

    private let value: Value

    /// The log grows without bound.
    public static let never = SnapshotPolicy(value: .never)

    /// When the persisted Raft state (hard state and log, without the snapshot) exceeds
    /// `bytes`: the `maxraftstate` of `cluster.yaml`.
    public static func maxRaftState(_ bytes: Int) -> SnapshotPolicy {
        SnapshotPolicy(value: .maxRaftState(bytes))
    }

    /// Every `entries` applied entries, whatever their size (the lab's Raft tests).
    public static func everyEntries(_ entries: LogIndex) -> SnapshotPolicy {
        precondition(entries > 0, "a snapshot interval must be positive")
        return SnapshotPolicy(value: .everyEntries(entries))
    }

    /// `maxraftstate` as `cluster.yaml` states it: nil (or -1 in the file) means never.
    public init(maxRaftState: Int?) {
        self = maxRaftState.map(Self.maxRaftState) ?? .never
    }

    private init(value: Value) {
        self.value = value
    }

    func isDue(raftStateSize: Int, appliedIndex: LogIndex, snapshotIndex: LogIndex) -> Bool {
        switch value {
        case .never: false
        case .maxRaftState(let limit): raftStateSize > limit
        case .everyEntries(let interval): appliedIndex >= snapshotIndex + interval
        }
    }

    public var description: String {
        switch value {
        case .never: "never"
        case .maxRaftState(let bytes): "maxRaftState(\(bytes))"
        case .everyEntries(let entries): "everyEntries(\(entries))"
        }
    }
}
