import KeyValueStore
import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing

/// The driver step applies committed entries before it syncs the batch's new ones. That is
/// safe only because an entry commits once it is durable on a majority, the leader's own copy
/// counting only after its sync. These scenarios crash every node in the middle of a slow
/// sync and check that no client was told of a write the crash could take back.
@Suite("Durability", .onSimulationThread)
struct DurabilityScenarioTests {
    @Test("AnsweredWriteSurvivesCrashDuringSync", arguments: [1, 3, 5])
    func answeredWriteSurvivesCrashDuringSync(servers: Int) throws {
        let sim = RaftSimulation(
            servers: servers,
            seed: 4_200 + UInt64(servers),
            machine: { AnyStateMachine(KeyValueStore()) }
        )
        let leader = try sim.checkOneLeader()
        for id in sim.nodeIDs { sim.diskLatency[id] = .milliseconds(200) }

        var answer: Result<[UInt8], ReplicaError>?
        let put = KeyValueStore.Command.put(key: "k", value: "v").encoded()
        sim.submit(to: leader, Replica.ClientCommand(clientID: 7, sequence: 1, command: put)) { answer = $0 }
        // Every node is still syncing the entry: nothing may be answered yet.
        try sim.run(for: .milliseconds(150))
        #expect(answer == nil, "answered \(String(describing: answer)) before the write was durable on a majority")

        let answeredBeforeCrash = answer
        for id in sim.nodeIDs { sim.crash(id) }
        sim.diskLatency = [:]
        for id in sim.nodeIDs { sim.restart(id) }
        let newLeader = try sim.checkOneLeader()

        var read: Result<[UInt8], ReplicaError>?
        sim.query(to: newLeader, KeyValueStore.Query.get(key: "k").encoded(), consistency: .linearizable) {
            read = $0
        }
        #expect(try sim.run(atMost: .seconds(5)) { read != nil })
        let value = try KeyValueStore.Response(decoding: try #require(read).get())
        if case .success = answeredBeforeCrash {
            #expect(value == .value("v"), "an acknowledged write was lost in the crash")
        }
    }
}
