import Benchmark
import Foundation
import KeyValueStore
import NativePlugins
import StateMachineAPI
import WasmPlugins

/// What one command costs to apply through each kind of plugin, as the replica applies it
/// (`AnyStateMachine.apply(encodedCommand:context:)`): the built-in Swift `KeyValueStore`, the
/// native C key/value library of Examples/NativeCounter, and the C key/value store compiled to
/// WebAssembly (Examples/WasmKeyValue). Each puts 16-byte values over 100 keys. Build the
/// plugins first: `make native-example wasm-examples`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let keys = (0..<100).map { "key-\($0)" }
    let value = String(repeating: "v", count: 16)

    func run(
        _ name: String,
        _ makeMachine: @escaping @Sendable () throws -> AnyStateMachine,
        _ command: @escaping @Sendable (String) -> [UInt8]
    ) {
        let commands = keys.map(command)
        Benchmark("apply put: \(name)", configuration: .init(scalingFactor: .kilo)) { benchmark in
            var machine = try makeMachine()
            var index: UInt64 = 0
            for _ in benchmark.scaledIterations {
                index += 1
                let response = try machine.apply(
                    encodedCommand: commands[Int(index % UInt64(commands.count))],
                    context: ApplyContext(index: index, time: index)
                )
                blackHole(response)
            }
        }
    }

    run("built-in Swift KeyValueStore", { AnyStateMachine(KeyValueStore()) }) {
        KeyValueStore.Command.put(key: $0, value: value).encoded()
    }
    let native = root.appendingPathComponent("Examples/NativeCounter/.build/c/libCKeyValue.so").path
    run("native C library (CKeyValue)", { try NativePluginLibrary.open(path: native).makeStateMachine() }) {
        Array("\($0)=\(value)".utf8)
    }
    let wasm = root.appendingPathComponent("Examples/WasmKeyValue/build/kv.wasm").path
    run(
        "WebAssembly C module (WasmKeyValue)",
        {
            try WasmPluginModule.load(path: wasm, fuel: 100_000_000, memoryBytes: 16 << 20).makeStateMachine()
        }
    ) {
        Array("set \($0) \(value)".utf8)
    }
}
