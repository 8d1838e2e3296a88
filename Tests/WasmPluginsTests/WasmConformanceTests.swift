import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

/// RaftTesting's conformance suite for plugins known only as bytes, on both example modules.
@Suite("WebAssembly plugins: conformance", .onSimulationThread)
struct WasmConformanceTests {
    @Test("the C key/value module", arguments: LoadedPluginConformance.checks)
    func keyValue(_ check: StateMachineConformanceCheck) throws {
        let module = try Built.load(Built.keyValue)
        let commands = (0..<120).map { index in
            Array((index % 5 == 4 ? "del k\(index % 7)" : "set k\(index % 7) v\(index)").utf8)
        }
        let suite = LoadedPluginConformance(
            make: { try module.makeStateMachine() },
            commands: commands,
            queries: [Array("get k1".utf8), Array("get k6".utf8)]
        )
        try suite.run(check)
    }

    @Test("the Embedded Swift counter module", arguments: LoadedPluginConformance.checks)
    func counter(_ check: StateMachineConformanceCheck) throws {
        let module = try Built.load(Built.counter)
        let suite = LoadedPluginConformance(
            make: { try module.makeStateMachine() },
            commands: (0..<120).map { Array("\($0 % 11 - 5)".utf8) },
            queries: [[]]
        )
        try suite.run(check)
    }
}
