import KeyValueStore
import RaftCore
import SimulationThread
import StateMachineAPI
import Testing

@testable import RaftReplica

@Suite(.onSimulationThread) struct SnapshotPolicyTests {
    @Test func theClassicMaxRaftStateIgnoresTheSnapshotSize() {
        let policy = SnapshotPolicy.maxRaftState(1000)
        #expect(
            !policy.isDue(
                raftStateSize: 1000,
                appliedIndex: 9,
                snapshotIndex: 0,
                snapshotSize: 1 << 30,
                member: 1
            )
        )
        #expect(
            policy.isDue(raftStateSize: 1001, appliedIndex: 9, snapshotIndex: 0, snapshotSize: 1 << 30, member: 1)
        )
    }

    /// cluster.yaml's `maxraftstate`: the same for a small state; for a state many times larger,
    /// the log grows to a quarter of the last snapshot first.
    @Test func theHostsMaxRaftStateGrowsWithALargeState() {
        let policy = SnapshotPolicy(maxRaftState: 1 << 20)
        #expect(policy == .maxRaftState(1 << 20, snapshotRatio: SnapshotPolicy.defaultSnapshotRatio))
        let small = 4 << 20
        for member in 1...3 {
            #expect(
                policy.isDue(
                    raftStateSize: (1 << 20) + 1,
                    appliedIndex: 9,
                    snapshotIndex: 0,
                    snapshotSize: small,
                    member: member
                )
            )
        }
        let large = 800 << 20
        // Member 2 lets the log grow past a quarter of the state by 24 % of its excess over 1 MiB.
        #expect(
            !policy.isDue(
                raftStateSize: 246 << 20,
                appliedIndex: 9,
                snapshotIndex: 0,
                snapshotSize: large,
                member: 2
            )
        )
        #expect(
            policy.isDue(
                raftStateSize: 247 << 20,
                appliedIndex: 9,
                snapshotIndex: 0,
                snapshotSize: large,
                member: 2
            )
        )
        #expect(SnapshotPolicy(maxRaftState: nil) == .never)
    }

    /// The members of a group apply the same log: with the same trigger, all of them would
    /// serialize a large state at the same moment.
    @Test func theNodesOfAGroupSnapshotALargeStateAtDifferentSizes() {
        let policy = SnapshotPolicy(maxRaftState: 64 << 20)
        let large = 1 << 30
        func trigger(_ member: Int) -> Int {
            var size = large / SnapshotPolicy.defaultSnapshotRatio
            while !policy.isDue(
                raftStateSize: size,
                appliedIndex: 9,
                snapshotIndex: 0,
                snapshotSize: large,
                member: member
            ) {
                size += 1 << 20
            }
            return size
        }
        let triggers = (1...5).map { trigger($0) }
        let quarter = large / 4
        let excess = quarter - (64 << 20)
        #expect(triggers.allSatisfy { $0 > quarter && $0 <= quarter + excess + (1 << 20) })
        // In a group of three, a fifth of the excess apart at least: a 1 GB state's snapshots
        // (2.7 s) then start 38 MB of log apart, about 4 s at 10 MB/s.
        let three = triggers[0..<3].sorted()
        #expect(zip(three, three.dropFirst()).allSatisfy { $1 - $0 >= excess / 5 }, "\(triggers)")
        #expect(Set(triggers).count == 5)
    }

    /// The stagger goes by a member's place in the group, so that ids far apart as numbers
    /// but close as multiples of the golden ratio (1 and 22) still snapshot apart.
    @Test func membersAreStaggeredByTheirPlaceNotTheirId() throws {
        let voters = [NodeID(40), NodeID(1), NodeID(22)]
        let places = try voters.map { id in
            try Replica(
                configuration: RaftConfiguration(id: id, voters: voters),
                machine: AnyStateMachine(KeyValueStore()),
                snapshotPolicy: SnapshotPolicy(maxRaftState: 64 << 20)
            ).memberPlace
        }
        #expect(places == [3, 1, 2])
        let fractions = places.map { SnapshotPolicy.stagger(forMember: $0) }.sorted()
        #expect(zip(fractions, fractions.dropFirst()).allSatisfy { $1 - $0 > 0.2 }, "\(fractions)")
    }
}
