import RaftCore
import RaftTesting
import SimulationThread
import Testing

/// Leadership transfer (thesis §3.10) in the simulator, whose invariants are checked after
/// every step.
@Suite("Leadership transfer scenarios", .onSimulationThread)
struct LeaderTransferScenarioTests {
    @Test("a transfer under client load hands leadership to the target, which then commits")
    func transferUnderLoad() throws {
        let sim = RaftSimulation(servers: 5, seed: scenarioSeed(90))
        let leader = try sim.checkOneLeader()
        let target = sim.node(leader, plus: 2)
        let startTerm = try sim.checkTerms()
        // A client proposes to whichever node leads, every 5 ms.
        var accepted = 0
        var refused = 0
        func load() {
            for id in sim.nodeIDs where sim.engine(id)?.role == .leader {
                if sim.start(id, sim.randomCommand()) != nil { accepted += 1 } else { refused += 1 }
            }
            sim.schedule(after: .milliseconds(5), load)
        }
        sim.schedule(after: 0, load)
        try sim.run(for: .milliseconds(200))
        let acceptedBefore = accepted
        #expect(acceptedBefore > 0)
        #expect(sim.transferLeadership(from: leader, to: target) == .started)
        #expect(sim.engine(leader)?.transferTarget == target)
        try sim.run(for: electionTimeout)
        #expect(try sim.checkOneLeader() == target)
        #expect(try sim.checkTerms() == startTerm + 1, "the target should win the very next term")
        #expect(sim.engine(leader)?.role == .follower)
        #expect(sim.engine(leader)?.leader == target)
        // The load goes on against the new leader.
        try sim.run(for: .milliseconds(200))
        #expect(accepted > acceptedBefore)
        let index = try sim.one(sim.randomCommand(), expectedServers: 5, retry: true)
        #expect(sim.engine(target)?.log.term(at: index) == startTerm + 1)
        try sim.checkLogsMatch()
    }

    @Test("a transfer to a partitioned target is abandoned and the leader takes proposals again")
    func transferAbandoned() throws {
        let sim = RaftSimulation(servers: 3, seed: scenarioSeed(91))
        let leader = try sim.checkOneLeader()
        let target = sim.node(leader, plus: 1)
        sim.disconnect(target)
        try sim.one(sim.randomCommand(), expectedServers: 2, retry: false)
        #expect(sim.transferLeadership(from: leader, to: target) == .started)
        #expect(sim.start(leader, sim.randomCommand()) == nil, "proposals are refused during a transfer")
        try sim.run(for: 2 * electionTimeout)
        #expect(sim.engine(leader)?.role == .leader)
        #expect(sim.engine(leader)?.transferTarget == nil)
        try sim.one(sim.randomCommand(), expectedServers: 2, retry: false)
        sim.connect(target)
        try sim.one(sim.randomCommand(), expectedServers: 3, retry: true)
    }
}
