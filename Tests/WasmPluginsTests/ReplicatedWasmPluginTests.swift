import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

/// The WebAssembly key/value store replicated on three simulated nodes, with a command in the
/// middle that runs out of fuel and a follower that restarts from its snapshot.
@Suite(.onSimulationThread) struct ReplicatedWasmPluginTests {
    @Test func aCommandOutOfFuelFailsTheSameWayOnEveryReplica() throws {
        let module = try Built.load(Built.keyValue, fuel: 50_000, memoryBytes: 4 << 20)
        let sim = RaftSimulation(
            servers: 3,
            seed: 31,
            snapshots: .everyEntries(4),
            machine: {
                // The module loaded and instantiated once already, so this does not fail.
                (try? module.makeStateMachine()) ?? AnyStateMachine(CommandRecorder())
            }
        )
        var leader = try sim.checkOneLeader()
        var sequence: UInt64 = 0

        func submit(_ command: String) throws -> Result<[UInt8], ReplicaError> {
            sequence += 1
            var answer: Result<[UInt8], ReplicaError>?
            let request = Replica.ClientCommand(clientID: 7, sequence: sequence, command: Array(command.utf8))
            sim.submit(to: leader, request) { answer = $0 }
            #expect(try sim.run(atMost: .seconds(5)) { answer != nil }, "no answer to \(command)")
            return try #require(answer)
        }

        for key in 0..<5 {
            #expect(try submit("set k\(key) v\(key)").get() == [])
        }
        // Copying 20,000 bytes one by one takes more than 50,000 instructions.
        let tooLong = try submit("set big " + String(repeating: "x", count: 20_000))
        guard case .failure(let error) = tooLong else {
            Issue.record("a command past its fuel was applied: \(tooLong)")
            return
        }
        #expect("\(error)".contains("WasmKeyValue: rh_apply ran out of fuel (its limit is 50000 instructions)"))

        let follower = try #require(sim.nodeIDs.first { $0 != leader })
        sim.crash(follower)
        for key in 5..<10 {
            #expect(try submit("set k\(key) v\(key)").get() == [])
        }
        #expect(try submit("set k0 again").get() == Array("v0".utf8))
        sim.restart(follower)
        leader = try sim.checkOneLeader()
        let last = sim.lastApplied(leader)
        #expect(try sim.run(atMost: .seconds(5)) { sim.nodeIDs.allSatisfy { sim.lastApplied($0) == last } })
        #expect(sim.snapshotCount(follower) > 0 || sim.persistedSnapshot(follower) != nil)

        let snapshots = try sim.nodeIDs.map { id in try #require(sim.stateMachine(id)).snapshot() }
        #expect(snapshots.allSatisfy { $0 == snapshots[0] })
        // The failed command stays as far as it got, on every replica alike: the key was added,
        // its value never copied.
        let state = try #require(sim.stateMachine(leader))
        let context = QueryContext(index: last, time: 0)
        #expect(try state.query(encoded: Array("count".utf8), context: context) == Array("11".utf8))
        #expect(try state.query(encoded: Array("get big".utf8), context: context) == [])
    }
}
