import RaftCore
import RaftTesting
import SimulationThread
import Testing

/// Quiescence (`RaftConfiguration.quiesceAfterTicks`) on virtual time: an idle group stops
/// sending anything, yet a leader that dies or is cut off while the group is quiescent is
/// replaced, because the driver's node-level liveness check wakes the group.
@Suite("Quiescence scenarios", .onSimulationThread)
struct QuiescenceScenarioTests {
    /// A cluster whose groups quiesce after 20 idle ticks (200 ms), with a command committed.
    private func quiescedCluster(seed: UInt64, testName: String = #function) throws -> (RaftSimulation, NodeID) {
        let sim = RaftSimulation(
            servers: 3,
            seed: scenarioSeed(seed),
            testName: testName,
            configure: { $0.quiesceAfterTicks = 20 }
        )
        let leader = try sim.checkOneLeader()
        try sim.one([1], expectedServers: 3, retry: true)
        let quiesced = try sim.run(atMost: .seconds(2)) {
            sim.nodeIDs.allSatisfy { sim.engine($0)?.isQuiescent == true }
        }
        #expect(quiesced, "seed \(sim.seed): the idle group did not quiesce")
        return (sim, leader)
    }

    @Test("an idle group goes quiet: no message for a minute, the same leader, and it serves at once after")
    func idleGroupSendsNothing() throws {
        let (sim, leader) = try quiescedCluster(seed: 301)
        let sent = sim.requestsSent + sim.responsesSent
        try sim.run(for: .seconds(60))
        #expect(sim.requestsSent + sim.responsesSent == sent, "seed \(sim.seed): a quiescent group sent messages")
        #expect(try sim.checkOneLeader() == leader)
        let term = sim.engine(leader)!.term
        try sim.one([2], expectedServers: 3, retry: false)
        #expect(sim.engine(leader)!.term == term, "seed \(sim.seed): waking the group changed the term")
    }

    @Test("a leader that crashes while its group is quiescent is replaced once liveness notices")
    func crashedQuiescentLeaderIsReplaced() throws {
        for round in 0..<4 {
            let (sim, leader) = try quiescedCluster(seed: 310 + UInt64(round))
            sim.crash(leader)
            let others = sim.nodeIDs.filter { $0 != leader }
            // Liveness takes an election timeout (300 ms), the election up to two more.
            let elected = try sim.run(atMost: .seconds(3)) {
                others.contains { sim.engine($0)?.role == .leader }
            }
            #expect(elected, "seed \(sim.seed): no new leader after the quiescent leader crashed")
            try sim.one([2], expectedServers: 2, retry: true)
        }
    }

    @Test("a leader cut off while quiescent: the majority elects another, and the old one steps down")
    func partitionedQuiescentLeader() throws {
        let (sim, old) = try quiescedCluster(seed: 320)
        let majority = sim.nodeIDs.filter { $0 != old }
        sim.partition([[old], majority])
        let elected = try sim.run(atMost: .seconds(3)) {
            majority.contains { sim.engine($0)?.role == .leader }
        }
        #expect(elected, "seed \(sim.seed): the majority elected no leader")
        let steppedDown = try sim.run(atMost: .seconds(3)) { sim.engine(old)?.role != .leader }
        #expect(steppedDown, "seed \(sim.seed): the cut-off quiescent leader still claims leadership")
        sim.healPartition()
        try sim.one([2], expectedServers: 3, retry: true)
    }

    @Test("a follower restarted while the group is quiescent rejoins without an election")
    func restartedFollowerRejoins() throws {
        let (sim, leader) = try quiescedCluster(seed: 330)
        let term = sim.engine(leader)!.term
        let follower = sim.nodeIDs.first { $0 != leader }!
        sim.restart(follower)
        try sim.run(for: .seconds(5))
        #expect(try sim.checkOneLeader() == leader)
        #expect(sim.engine(leader)!.term == term, "seed \(sim.seed): a restarted follower caused an election")
        try sim.one([2], expectedServers: 3, retry: false)
    }
}
