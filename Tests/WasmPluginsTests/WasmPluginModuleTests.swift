import ClusterConfig
import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The modules `make wasm-examples` builds, by path from the repository root.
enum Built {
    static let counter = "Examples/WasmCounter/build/counter.wasm"
    static let keyValue = "Examples/WasmKeyValue/build/kv.wasm"
    static let misbehaving = "Tests/WasmPluginsTests/Modules/build/misbehaving.wasm"
    static let importsClock = "Tests/WasmPluginsTests/Modules/build/imports-clock.wasm"
    static let missingSnapshot = "Tests/WasmPluginsTests/Modules/build/missing-snapshot.wasm"

    /// The absolute path of a built module; fails the test, saying how to build it, when absent.
    static func path(_ relative: String, filePath: String = #filePath) throws -> String {
        var root = URL(fileURLWithPath: filePath)
        for _ in 0..<3 {
            root.deleteLastPathComponent()
        }
        let path = root.appendingPathComponent(relative).path
        try #require(
            FileManager.default.fileExists(atPath: path),
            "\(relative) is not built: run `make wasm-examples` (make test runs it before swift test)"
        )
        return path
    }

    static func load(
        _ relative: String,
        fuel: UInt64 = 1_000_000,
        memoryBytes: Int = 4 << 20
    ) throws -> WasmPluginModule {
        try WasmPluginModule.load(path: try path(relative), fuel: fuel, memoryBytes: memoryBytes)
    }
}

func apply(_ machine: inout AnyStateMachine, _ command: String, index: UInt64 = 1) throws -> String {
    let answer = try machine.apply(encodedCommand: Array(command.utf8), context: ApplyContext(index: index, time: 0))
    return String(decoding: answer, as: UTF8.self)
}

func query(_ machine: AnyStateMachine, _ query: String) throws -> String {
    let answer = try machine.query(encoded: Array(query.utf8), context: QueryContext(index: 0, time: 0))
    return String(decoding: answer, as: UTF8.self)
}

/// The error `body` throws, as a ``WasmPluginError``.
func pluginError(_ body: () throws -> Void) throws -> WasmPluginError {
    let error = try #require(throws: WasmPluginError.self) { try body() }
    return error
}

@Suite(.onSimulationThread) struct ExamplePluginTests {
    @Test func counterAppliesQueriesAndRoundTripsItsSnapshot() throws {
        let module = try Built.load(Built.counter)
        #expect(module.name == "WasmCounter")
        var machine = try module.makeStateMachine()
        #expect(machine.name == "WasmCounter")
        #expect(try apply(&machine, "5") == "5")
        #expect(try apply(&machine, "-12") == "-7")
        #expect(try query(machine, "value") == "-7")

        let error = try pluginError { _ = try apply(&machine, "five") }
        #expect(error.code == .rejected)
        #expect(error.message == "WasmCounter: a command is a decimal integer of at most 18 digits")
        #expect(try apply(&machine, "10") == "3")

        let snapshot = try machine.snapshot()
        #expect(snapshot == [3, 0, 0, 0, 0, 0, 0, 0])
        var restored = try module.makeStateMachine()
        try restored.restore(from: snapshot)
        #expect(try query(restored, "value") == "3")
        #expect(try apply(&restored, "1") == "4")
        #expect(try query(machine, "value") == "3", "instances are independent")

        #expect(throws: WasmPluginError.self) { try restored.restore(from: [1, 2, 3]) }
        #expect(try query(restored, "value") == "4", "a rejected snapshot keeps the state")
    }

    @Test func keyValueAppliesQueriesAndRoundTripsItsSnapshot() throws {
        let module = try Built.load(Built.keyValue)
        #expect(module.name == "WasmKeyValue")
        var machine = try module.makeStateMachine()
        #expect(try apply(&machine, "set a 1") == "")
        #expect(try apply(&machine, "set b two words") == "")
        #expect(try apply(&machine, "set a 10") == "1")
        #expect(try query(machine, "get a") == "10")
        #expect(try query(machine, "get b") == "two words")
        #expect(try query(machine, "count") == "2")
        #expect(try apply(&machine, "del a") == "10")
        #expect(try apply(&machine, "del a") == "")
        #expect(try pluginError { _ = try query(machine, "get a") }.message == "WasmKeyValue: no such key")
        #expect(try pluginError { _ = try apply(&machine, "put a") }.code == .rejected)
        #expect(try apply(&machine, "set c 3") == "")

        let snapshot = try machine.snapshot()
        var restored = try module.makeStateMachine()
        try restored.restore(from: snapshot)
        #expect(try restored.snapshot() == snapshot)
        #expect(try query(restored, "get b") == "two words")
        #expect(try query(restored, "get c") == "3")
        #expect(try query(restored, "count") == "2")
        #expect(throws: WasmPluginError.self) { try restored.restore(from: [9, 0, 0, 0, 1]) }
        #expect(try query(restored, "count") == "2")
    }

    @Test func twoInstancesGivenTheSameCommandsAgree() throws {
        let module = try Built.load(Built.keyValue)
        var first = try module.makeStateMachine()
        var second = try module.makeStateMachine()
        for index in 1...500 {
            let key = index * 7 % 40
            let command =
                index % 4 == 0 ? "del k\(key)" : "set k\(key) " + String(repeating: "v", count: index * 37 % 300)
            let answers = [first, second].indices.map { which in
                Result {
                    which == 0
                        ? try apply(&first, command, index: UInt64(index))
                        : try apply(&second, command, index: UInt64(index))
                }
            }
            #expect(try answers[0].get() == answers[1].get())
        }
        #expect(try first.snapshot() == second.snapshot())
        #expect(try query(first, "count") == query(second, "count"))
    }
}

@Suite(.onSimulationThread) struct MisbehavingPluginTests {
    static let failures: [(command: String, code: WasmPluginError.Code, message: String)] = [
        ("loop", .outOfFuel, "Misbehaving: rh_apply ran out of fuel (its limit is 100000 instructions)"),
        ("trap", .trapped, "Misbehaving: rh_apply trapped: unreachable"),
        ("oob", .trapped, "Misbehaving: rh_apply trapped: out of bounds memory access"),
        ("grow", .memoryLimit, "Misbehaving: rh_apply needed 67239936 bytes of memory, past its limit of 2097152"),
    ]

    @Test(arguments: failures)
    func aFailedCommandIsAnErrorAndTheNextIsApplied(
        failure: (command: String, code: WasmPluginError.Code, message: String)
    ) throws {
        let module = try Built.load(Built.misbehaving, fuel: 100_000, memoryBytes: 2 << 20)
        #expect(module.name == "Misbehaving")
        var replicas = [try module.makeStateMachine(), try module.makeStateMachine()]
        for replica in replicas.indices {
            #expect(try apply(&replicas[replica], "one", index: 1) == "\u{1}")
            let error = try pluginError { _ = try apply(&replicas[replica], failure.command, index: 2) }
            #expect(error.code == failure.code)
            #expect(error.message == failure.message)
            #expect(try apply(&replicas[replica], "two", index: 3) == "\u{2}")
        }
        #expect(try replicas[0].snapshot() == replicas[1].snapshot())
    }
}

@Suite(.onSimulationThread) struct LoadingTests {
    @Test func aModuleImportingTheWASIClockIsRefused() throws {
        let error = try pluginError { _ = try Built.load(Built.importsClock) }
        #expect(error.code == .forbiddenImport)
        #expect(error.message.contains("imports wasi_snapshot_preview1.clock_time_get;"))
    }

    @Test func aModuleMissingAnExportIsRefusedNamingIt() throws {
        let error = try pluginError { _ = try Built.load(Built.missingSnapshot) }
        #expect(error.code == .missingExport)
        #expect(
            error.message.hasSuffix(" lacks the export rh_snapshot of the RaftHost WebAssembly plugin ABI version 1")
        )
    }

    @Test func bytesThatAreNotWebAssemblyAreRefused() throws {
        let error = try pluginError {
            _ = try WasmPluginModule.load(bytes: Array("hello".utf8), path: "x.wasm", fuel: 1, memoryBytes: 1 << 20)
        }
        #expect(error.code == .invalidModule)
        #expect(error.message.hasPrefix("x.wasm is not a valid WebAssembly module"))
    }

    @Test func anInitialMemoryPastTheCapIsRefused() throws {
        let error = try pluginError { _ = try Built.load(Built.keyValue, memoryBytes: 65_536) }
        #expect(error.code == .memoryLimit)
    }

    @Test func aConfigurationEntryRegistersThePluginUnderItsName() throws {
        var registry = StateMachineRegistry()
        try register(Built.keyValue, entry: 0, line: 4, into: &registry)
        #expect(registry.names == ["WasmKeyValue"])
        var machine = try registry.make(named: "WasmKeyValue")
        #expect(try apply(&machine, "set a 1") == "")
    }

    @Test func aConfigurationEntryThatCannotLoadPointsAtTheEntry() throws {
        var registry = StateMachineRegistry()
        let error = try #require(throws: ConfigurationError.self) {
            try register(Built.importsClock, entry: 1, line: 7, into: &registry)
        }
        #expect("\(error)".hasPrefix("cluster.yaml:7:5: plugins[1]: "))
        #expect("\(error)".contains("wasi_snapshot_preview1.clock_time_get"))
        #expect(registry.names.isEmpty)
    }

    /// Registers the built module `relative` as the entry `plugins[entry]` at `line` of a
    /// `cluster.yaml`.
    private func register(
        _ relative: String,
        entry: Int,
        line: Int,
        into registry: inout StateMachineRegistry
    ) throws {
        let path = try Built.path(relative)
        let plugin = ClusterConfiguration.Plugin(
            kind: .wasm(path: path, fuel: 1_000_000, memoryBytes: 16 << 20),
            keyPath: "plugins[\(entry)]",
            source: "cluster.yaml",
            line: line,
            column: 5
        )
        try registerWasmPlugin(plugin, path: path, fuel: 1_000_000, memoryBytes: 16 << 20, into: &registry)
    }
}
