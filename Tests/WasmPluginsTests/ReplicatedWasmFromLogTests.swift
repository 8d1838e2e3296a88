import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

/// Code through the log on three simulated nodes: the counter is deployed, then, while a
/// follower is cut off, the key/value store replaces it; the follower comes back through a
/// snapshot that carries the new code.
@Suite(.onSimulationThread) struct ReplicatedWasmFromLogTests {
    /// Which code gave an answer: the counter answers numbers and its errors name it, the
    /// key/value store answers `set` with the previous value (empty here) and its errors name it.
    static func code(of outcome: String) -> String {
        if outcome.hasPrefix("answer: deployed ") { return "deploy" }
        if outcome.contains("no module is deployed yet") { return "none" }
        if outcome.contains("WasmCounter: ") { return "counter" }
        if outcome.contains("WasmKeyValue: ") || outcome == "answer: " { return "kv" }
        if Int(outcome.dropFirst("answer: ".count)) != nil { return "counter" }
        return "unknown: \(outcome)"
    }

    @Test func anUpgradeSwitchesEveryReplicaAtTheSameIndex() throws {
        let outcomes = Outcomes()
        let sim = RaftSimulation(
            servers: 3,
            seed: 47,
            snapshots: .everyEntries(5),
            machine: {
                AnyStateMachine(dynamic: Recording(AnyStateMachine(dynamic: WasmFromLog()), outcomes: outcomes))
            }
        )
        var leader = try sim.checkOneLeader()
        var sequence: UInt64 = 0

        func submit(_ command: [UInt8]) throws -> Result<String, ReplicaError> {
            sequence += 1
            var answer: Result<[UInt8], ReplicaError>?
            sim.submit(to: leader, Replica.ClientCommand(clientID: 9, sequence: sequence, command: command)) {
                answer = $0
            }
            #expect(try sim.run(atMost: .seconds(5)) { answer != nil }, "no answer to command \(sequence)")
            return try #require(answer).map { String(decoding: $0, as: UTF8.self) }
        }
        /// The client's steady stream: an increment and a `set`, which each code answers its way.
        func send(_ count: Int) throws {
            for _ in 0..<count {
                _ = try submit(Array("1".utf8))
                _ = try submit(Array("set k\(sequence) v".utf8))
            }
        }
        /// The index a deploy answered it was applied at.
        func deploy(_ relative: String) throws -> LogIndex {
            let answer = try submit(try deployCommand(relative)).get()
            #expect(answer.hasPrefix("deployed "))
            return try #require(answer.split(separator: " ").last.flatMap { LogIndex($0) })
        }

        try send(2)
        let counterIndex = try deploy(Built.counter)
        try send(5)

        let follower = try #require(sim.nodeIDs.first { $0 != leader })
        sim.disconnect(follower)
        try send(3)
        let keyValueIndex = try deploy(Built.keyValue)
        try send(8)

        sim.connect(follower)
        #expect(try sim.run(atMost: .seconds(5)) { sim.lastApplied(follower) > keyValueIndex })
        leader = try sim.checkOneLeader()
        try send(3)
        let last = sim.lastApplied(leader)
        #expect(try sim.run(atMost: .seconds(5)) { sim.nodeIDs.allSatisfy { sim.lastApplied($0) == last } })

        // The follower never applied the upgrade itself: it installed a snapshot taken after it.
        let recorded = outcomes.all
        #expect(recorded[keyValueIndex]?.count == 2)
        let installed = try #require(sim.persistedSnapshot(follower))
        #expect(installed.metadata.index >= keyValueIndex)

        // Every replica that applied an index answered the same, with the code in place there.
        #expect(!recorded.isEmpty)
        for (index, answers) in recorded {
            #expect(Set(answers).count == 1, "index \(index): \(answers)")
            let expected =
                index == counterIndex || index == keyValueIndex
                ? "deploy" : index < counterIndex ? "none" : index < keyValueIndex ? "counter" : "kv"
            #expect(answers.allSatisfy { Self.code(of: $0) == expected }, "index \(index): \(answers)")
        }

        // Same code, same state on every node, the caught-up one included.
        let snapshots = try sim.nodeIDs.map { id in try #require(sim.stateMachine(id)).snapshot() }
        #expect(snapshots.allSatisfy { $0 == snapshots[0] })
        let state = try #require(sim.stateMachine(follower))
        let context = QueryContext(index: last, time: 0)
        #expect(try state.query(encoded: Array("count".utf8), context: context) == Array("11".utf8))
    }
}
