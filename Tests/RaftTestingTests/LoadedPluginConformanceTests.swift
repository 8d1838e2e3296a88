import RaftTesting
import StateMachineAPI
import Synchronization
import SimulationThread
import Testing

/// A byte-level plugin whose answers can be made to depend on something outside the log.
private struct Tally: DynamicStateMachine {
    /// Shared by every instance: reading it in `apply` is the bug the suite must catch.
    static let calls = Atomic<UInt64>(0)
    var leaksProcessState = false
    var total: UInt64 = 0
    var name: String { "Tally" }

    mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        total &+= UInt64(encodedCommand.first ?? 0)
        if leaksProcessState { total &+= Self.calls.add(1, ordering: .relaxed).newValue }
        return total.encoded()
    }

    func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] { total.encoded() }

    func snapshot() throws -> [UInt8] { total.encoded() }

    mutating func restore(from snapshot: [UInt8]) throws { total = try UInt64(decoding: snapshot) }
}

@Suite("Loaded plugin conformance", .onSimulationThread)
struct LoadedPluginConformanceTests {
    static let commands = (0..<50).map { [UInt8($0)] }

    @Test("a deterministic byte-level plugin passes every check", arguments: LoadedPluginConformance.checks)
    func passes(_ check: StateMachineConformanceCheck) throws {
        let suite = LoadedPluginConformance(
            make: { AnyStateMachine(dynamic: Tally()) },
            commands: Self.commands,
            queries: [[]]
        )
        try suite.run(check)
    }

    @Test("a plugin that reads process state fails determinism")
    func nondeterminismIsCaught() {
        let suite = LoadedPluginConformance(
            make: { AnyStateMachine(dynamic: Tally(leaksProcessState: true)) },
            commands: Self.commands,
            queries: [[]]
        )
        #expect(throws: StateMachineConformanceFailure.self) { try suite.run(.determinism) }
    }
}
