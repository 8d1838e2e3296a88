import RaftCore
import RaftTesting
import SimulationThread
import Testing

/// Lease reads (`raft.leaseReads`) on virtual time: the simulator checks every linearizable
/// read against the highest commit index any node knew when the read was asked, so a lease
/// that outlived the followers' promise shows up as a failed run with its seed.
@Suite("Lease read scenarios", .onSimulationThread)
struct LeaseReadScenarioTests {
    @Test("a leader cut off from the majority serves lease reads only until the majority may elect another")
    func partitionedLeaseHolder() throws {
        // Each seed cuts the leader off at another phase of its heartbeat and check-quorum timers.
        for round in 0..<8 {
            let sim = RaftSimulation(
                servers: 3,
                seed: scenarioSeed(70 + UInt64(round)),
                testName: "partitionedLeaseHolder",
                configure: {
                    $0.leaseTicks = RaftConfiguration.leaseTicks(
                        electionTimeoutTicks: $0.electionTimeoutTicks,
                        maxClockDrift: 0.1,
                        driverLagTicks: 0
                    )
                }
            )
            let old = try sim.checkOneLeader()
            try sim.one([1], expectedServers: 3, retry: true)
            try sim.run(for: .milliseconds(sim.randomNumber(below: 300)))
            let majority = sim.nodeIDs.filter { $0 != old }
            sim.partition([[old], majority])

            // A client keeps reading from the old leader all along.
            var reading = true
            var servedByOldLeader = 0
            func readFromOldLeader() {
                guard reading else { return }
                sim.requestRead(old) { served in if served { servedByOldLeader += 1 } }
                sim.schedule(after: .milliseconds(5), readFromOldLeader)
            }
            readFromOldLeader()

            let elected = try sim.run(atMost: .seconds(5)) {
                majority.contains { sim.engine($0)?.role == .leader }
            }
            #expect(elected, "seed \(sim.seed): the majority elected no leader")
            let newLeader = try #require(majority.first { sim.engine($0)?.role == .leader })
            let accepted = try #require(sim.start(newLeader, [2]))
            let committed = try sim.run(atMost: .seconds(2)) {
                ((try? sim.nCommitted(accepted.index))?.count ?? 0) >= 2
            }
            #expect(committed, "seed \(sim.seed): the majority did not commit")
            // Reads sent to the old leader after that commit must not be served from its lease.
            try sim.run(for: .seconds(1))
            reading = false
            #expect(servedByOldLeader > 0, "seed \(sim.seed): the lease served no read after the partition")
            #expect(sim.engine(old)?.role != .leader, "seed \(sim.seed): the old leader did not step down")
        }
    }
}
