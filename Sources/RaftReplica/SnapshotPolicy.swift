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
    /// `bytes`: the `maxraftstate` of `cluster.yaml`. Once the last snapshot is more than
    /// ``snapshotToLogRatio`` times `bytes`, when the Raft state exceeds that fraction of it.
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

    /// With a `maxraftstate` policy, a log this many times smaller than the last snapshot is not
    /// worth a new one: the trigger is `max(maxraftstate, snapshotSize / 8)`, so that a state
    /// much larger than `maxraftstate` is not rewritten for every `maxraftstate` bytes of log
    /// (snapshot writes stay within 8 bytes per byte of log, the log within an eighth of the state).
    public static let snapshotToLogRatio = 8

    func isDue(raftStateSize: Int, appliedIndex: LogIndex, snapshotIndex: LogIndex, snapshotSize: Int) -> Bool {
        switch value {
        case .never: false
        case .maxRaftState(let limit): raftStateSize > max(limit, snapshotSize / Self.snapshotToLogRatio)
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
