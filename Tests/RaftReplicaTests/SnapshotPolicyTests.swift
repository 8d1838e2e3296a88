import SimulationThread
import Testing

@testable import RaftReplica

@Suite(.onSimulationThread) struct SnapshotPolicyTests {
    @Test func theClassicMaxRaftStateIgnoresTheSnapshotSize() {
        let policy = SnapshotPolicy.maxRaftState(1000)
        #expect(!policy.isDue(raftStateSize: 1000, appliedIndex: 9, snapshotIndex: 0, snapshotSize: 1 << 30))
        #expect(policy.isDue(raftStateSize: 1001, appliedIndex: 9, snapshotIndex: 0, snapshotSize: 1 << 30))
    }

    /// cluster.yaml's `maxraftstate`: the same for a small state; for a state many times larger,
    /// the log grows to a quarter of the last snapshot first.
    @Test func theHostsMaxRaftStateGrowsWithALargeState() {
        let policy = SnapshotPolicy(maxRaftState: 1 << 20)
        #expect(policy == .maxRaftState(1 << 20, snapshotRatio: SnapshotPolicy.defaultSnapshotRatio))
        let small = 4 << 20
        #expect(policy.isDue(raftStateSize: (1 << 20) + 1, appliedIndex: 9, snapshotIndex: 0, snapshotSize: small))
        let large = 800 << 20
        #expect(!policy.isDue(raftStateSize: 199 << 20, appliedIndex: 9, snapshotIndex: 0, snapshotSize: large))
        #expect(policy.isDue(raftStateSize: (200 << 20) + 1, appliedIndex: 9, snapshotIndex: 0, snapshotSize: large))
        #expect(SnapshotPolicy(maxRaftState: nil) == .never)
    }
}
