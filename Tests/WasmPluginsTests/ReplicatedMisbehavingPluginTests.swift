import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

/// The misbehaving module replicated on three simulated nodes: a command that loops forever,
/// traps or grows its memory past the cap is answered with the same error on every replica,
/// the group keeps running and the next command is applied normally everywhere (issue 15).
@Suite(.onSimulationThread) struct ReplicatedMisbehavingPluginTests {
    static let failures: [(command: String, message: String)] = [
        ("loop", "Misbehaving: rh_apply ran out of fuel (its limit is 100000 instructions)"),
        ("trap", "Misbehaving: rh_apply trapped: unreachable"),
        ("grow", "Misbehaving: rh_apply needed 67239936 bytes of memory, past its limit of 2097152"),
    ]

    @Test(arguments: failures)
    func aFailingCommandFailsAlikeEverywhereAndTheNextIsApplied(failure: (command: String, message: String)) throws {
        let module = try Built.load(Built.misbehaving, fuel: 100_000, memoryBytes: 2 << 20)
        let outcomes = Outcomes()
        let seed: UInt64 = 67
        let sim = RaftSimulation(
            servers: 3,
            seed: seed,
            machine: {
                // The module loaded and instantiated once already, so this does not fail.
                let machine = (try? module.makeStateMachine()) ?? AnyStateMachine(CommandRecorder())
                return AnyStateMachine(dynamic: Recording(machine, outcomes: outcomes))
            }
        )
        let leader = try sim.checkOneLeader()
        var sequence: UInt64 = 0

        /// Submits `command` to the leader; its answer and the index it was applied at.
        func submit(_ command: String) throws -> (Result<[UInt8], ReplicaError>, LogIndex) {
            sequence += 1
            var answer: Result<[UInt8], ReplicaError>?
            let request = Replica.ClientCommand(clientID: 5, sequence: sequence, command: Array(command.utf8))
            sim.submit(to: leader, request) { answer = $0 }
            #expect(try sim.run(atMost: .seconds(5)) { answer != nil }, "no answer to \(command), seed \(seed)")
            return (try #require(answer), sim.lastApplied(leader))
        }
        /// Runs until every node applied what the leader did; that index.
        func settle() throws -> LogIndex {
            let last = sim.lastApplied(leader)
            #expect(
                try sim.run(atMost: .seconds(5)) { sim.nodeIDs.allSatisfy { sim.lastApplied($0) == last } },
                "the replicas did not catch up to \(last), seed \(seed)\n\(sim.clusterDescription)"
            )
            return last
        }
        /// Every replica's state machine: up, the same snapshot, the same answer to a query.
        func expectReplicasAgree(count: UInt8) throws {
            let last = try settle()
            #expect(sim.nodeIDs.allSatisfy { sim.isUp($0) }, "a node stopped, seed \(seed)")
            let machines = try sim.nodeIDs.map { id in try #require(sim.stateMachine(id)) }
            let context = QueryContext(index: last, time: 0)
            for machine in machines {
                #expect(try machine.snapshot() == [count], "seed \(seed)")
                #expect(try machine.query(encoded: Array("count".utf8), context: context) == [count], "seed \(seed)")
            }
        }

        #expect(try submit("one").0.get() == [1])
        #expect(try submit("two").0.get() == [2])
        try expectReplicasAgree(count: 2)

        let (failed, failedIndex) = try submit(failure.command)
        #expect(failed == .failure(ReplicaError(.invalidRequest, failure.message)), "seed \(seed)")
        try expectReplicasAgree(count: 2)
        #expect(try sim.checkOneLeader() == leader, "the group lost its leader, seed \(seed)")

        let (next, nextIndex) = try submit("three")
        #expect(try next.get() == [3], "seed \(seed)")
        try expectReplicasAgree(count: 3)

        // A follower that restarts replays the log from the start (no snapshots here): the
        // failing command fails on it again the same way.
        let follower = try #require(sim.nodeIDs.first { $0 != leader })
        sim.restart(follower)
        #expect(try submit("four").0.get() == [4])
        try expectReplicasAgree(count: 4)

        let recorded = outcomes.all
        #expect(
            recorded[failedIndex] == Array(repeating: "error: \(failure.message)", count: 4),
            "seed \(seed): \(recorded[failedIndex] ?? [])"
        )
        #expect(recorded[nextIndex] == Array(repeating: "answer: \u{3}", count: 4), "seed \(seed)")
        for (index, answers) in recorded {
            #expect(Set(answers).count == 1, "index \(index): \(answers), seed \(seed)")
        }
    }
}
