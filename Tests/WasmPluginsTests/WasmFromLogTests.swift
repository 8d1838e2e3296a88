import StateMachineAPI
import SimulationThread
import Testing
import WasmPlugins

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The bytes of a built module.
func moduleBytes(_ relative: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: try Built.path(relative))))
}

/// The command that deploys the built module `relative`.
func deployCommand(_ relative: String, fuel: UInt64 = 1_000_000, memoryBytes: Int = 4 << 20) throws -> [UInt8] {
    WasmFromLog.deployCommand(module: try moduleBytes(relative), fuel: fuel, memoryBytes: memoryBytes)
}

/// `WasmFromLog` on one replica: deploys, commands and queries to the code in place, snapshots.
@Suite(.onSimulationThread) struct WasmFromLogTests {
    /// Applies raw bytes at `index` and returns the answer as text.
    func applyBytes(_ machine: inout AnyStateMachine, _ bytes: [UInt8], index: UInt64) throws -> String {
        let answer = try machine.apply(encodedCommand: bytes, context: ApplyContext(index: index, time: 0))
        return String(decoding: answer, as: UTF8.self)
    }

    /// The answer to `command`, or its error, as text.
    func outcome(_ machine: inout AnyStateMachine, _ command: [UInt8], index: UInt64) -> String {
        do {
            return "answer: " + (try applyBytes(&machine, command, index: index))
        } catch {
            return "error: \(error)"
        }
    }

    @Test func withoutADeployEveryCommandAndQueryIsAnError() throws {
        var machine = AnyStateMachine(dynamic: WasmFromLog())
        #expect(machine.name == "WasmFromLog")
        let error = try pluginError { _ = try apply(&machine, "5") }
        #expect(error.code == .notDeployed)
        #expect(error.message == "WasmFromLog: no module is deployed yet (deploy one with `raftctl plugin deploy`)")
        let queryError = try pluginError { _ = try query(machine, "value") }
        #expect(queryError.code == .notDeployed)
        #expect(try machine.snapshot() == [1, 0])
    }

    @Test func aDeployReplacesTheCodeAndTheStateAtItsIndex() throws {
        var machine = AnyStateMachine(dynamic: WasmFromLog())
        let counter = try moduleBytes(Built.counter)
        #expect(
            try applyBytes(&machine, try deployCommand(Built.counter), index: 1)
                == "deployed WasmCounter (\(counter.count) bytes, fuel 1000000, memory 4194304) at index 1"
        )
        #expect(try apply(&machine, "5", index: 2) == "5")
        #expect(try apply(&machine, "7", index: 3) == "12")
        #expect(try query(machine, "value") == "12")

        let keyValue = try moduleBytes(Built.keyValue)
        #expect(
            try applyBytes(&machine, try deployCommand(Built.keyValue, fuel: 500_000), index: 4)
                == "deployed WasmKeyValue (\(keyValue.count) bytes, fuel 500000, memory 4194304) at index 4"
        )
        // The new code, from an empty state.
        #expect(try apply(&machine, "set a 1", index: 5) == "")
        #expect(try apply(&machine, "set a 2", index: 6) == "1")
        #expect(try query(machine, "get a") == "2")
        #expect(try query(machine, "count") == "1")
        let error = try pluginError { _ = try apply(&machine, "5", index: 7) }
        #expect(error.message.hasPrefix("WasmKeyValue: "))

        // Back to the counter: empty again.
        _ = try applyBytes(&machine, try deployCommand(Built.counter), index: 8)
        #expect(try query(machine, "value") == "0")
    }

    @Test func aDeployThatDoesNotLoadIsAnErrorAndTheCodeStays() throws {
        var machine = AnyStateMachine(dynamic: WasmFromLog())
        _ = try applyBytes(&machine, try deployCommand(Built.counter), index: 1)
        #expect(try apply(&machine, "5", index: 2) == "5")

        let garbage = WasmFromLog.deployCommand(module: [0, 1, 2, 3], fuel: 1_000, memoryBytes: 1 << 20)
        let invalid = try pluginError { _ = try applyBytes(&machine, garbage, index: 3) }
        #expect(invalid.code == .invalidModule)
        #expect(invalid.message.hasPrefix("the deployed module is not a valid WebAssembly module"))

        let clock = try pluginError { _ = try applyBytes(&machine, try deployCommand(Built.importsClock), index: 4) }
        #expect(clock.code == .forbiddenImport)

        let noMemory = try pluginError {
            _ = try applyBytes(&machine, try deployCommand(Built.keyValue, memoryBytes: 1_000), index: 5)
        }
        #expect(noMemory.message.contains("at least one WebAssembly page"))

        let truncated = try pluginError {
            _ = try applyBytes(&machine, WasmFromLog.deployMagic + [1, 2, 3], index: 6)
        }
        #expect(truncated.message.contains("this one is 19 bytes long"))

        #expect(try apply(&machine, "1", index: 7) == "6", "the counter and its state stay")
    }

    @Test func aSnapshotCarriesTheCodeAndItsState() throws {
        var machine = AnyStateMachine(dynamic: WasmFromLog())
        _ = try applyBytes(&machine, try deployCommand(Built.counter), index: 1)
        _ = try apply(&machine, "5", index: 2)
        _ = try applyBytes(&machine, try deployCommand(Built.keyValue, fuel: 300_000, memoryBytes: 2 << 20), index: 3)
        _ = try apply(&machine, "set a 1", index: 4)
        _ = try apply(&machine, "set b 2", index: 5)
        let snapshot = try machine.snapshot()

        var restored = AnyStateMachine(dynamic: WasmFromLog())
        try restored.restore(from: snapshot)
        #expect(try restored.snapshot() == snapshot)
        #expect(try query(restored, "get a") == "1")
        #expect(try query(restored, "count") == "2")
        #expect(try apply(&restored, "set a 3", index: 6) == "1")
        #expect(try apply(&machine, "set a 3", index: 6) == "1")
        #expect(try restored.snapshot() == machine.snapshot())

        // Restoring a snapshot of a group with no code empties it; a malformed one is refused.
        try restored.restore(from: try AnyStateMachine(dynamic: WasmFromLog()).snapshot())
        #expect(throws: WasmPluginError.self) { try query(restored, "count") }
        let truncated = Array(snapshot.dropLast(snapshot.count / 2))
        #expect(throws: WasmPluginError.self) { try machine.restore(from: truncated) }
        #expect(try query(machine, "get a") == "3", "a refused snapshot leaves the state")
    }

    @Test func twoReplicasFedTheSameCommandsAgree() throws {
        let commands: [[UInt8]] = [
            Array("1".utf8),
            try deployCommand(Built.counter),
            Array("4".utf8),
            Array("four".utf8),
            WasmFromLog.deployCommand(module: [0, 0x61, 0x73, 0x6d], fuel: 10, memoryBytes: 1 << 16),
            Array("-2".utf8),
            try deployCommand(Built.keyValue),
            Array("set k v".utf8),
            Array("5".utf8),
            Array("set k w".utf8),
        ]
        var first = AnyStateMachine(dynamic: WasmFromLog())
        var second = AnyStateMachine(dynamic: WasmFromLog())
        for (offset, command) in commands.enumerated() {
            let one = outcome(&first, command, index: UInt64(offset + 1))
            let two = outcome(&second, command, index: UInt64(offset + 1))
            #expect(one == two, "command \(offset + 1)")
            #expect(try first.snapshot() == second.snapshot(), "after command \(offset + 1)")
        }
        #expect(try query(first, "get k") == "w")
    }
}
