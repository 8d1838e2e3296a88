import NativePlugins
import RaftTesting
import StateMachineAPI
import Testing

/// RaftTesting's conformance suite for plugins known only as bytes, on both example libraries.
@Suite("Native plugins: conformance")
struct NativeConformanceTests {
    @Test("the Swift counter library", arguments: LoadedPluginConformance.checks)
    func counter(_ check: StateMachineConformanceCheck) throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        let suite = LoadedPluginConformance(
            make: { try library.makeStateMachine() },
            commands: NativePluginLibraryTests.commands,
            queries: [[]]
        )
        try suite.run(check)
    }

    @Test("the C key/value library", arguments: LoadedPluginConformance.checks)
    func keyValue(_ check: StateMachineConformanceCheck) throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.cKeyValue())
        let suite = LoadedPluginConformance(
            make: { try library.makeStateMachine() },
            commands: (0..<120).map { Array("k\($0 % 7)=v\($0)".utf8) },
            queries: [Array("k1".utf8), Array("k6".utf8)]
        )
        try suite.run(check)
    }
}
