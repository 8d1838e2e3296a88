import NativePlugins
import StateMachineAPI
import Testing

/// The example plugins loaded through the C ABI and driven as the host drives them, through
/// `AnyStateMachine`: the checks of RaftTesting's conformance suite that need no Swift types.
@Suite("native plugin libraries")
struct NativePluginLibraryTests {
    static func amount(_ value: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * $0)) }
    }

    static let contexts = (1...40).map { ApplyContext(index: UInt64($0), time: 1_000 + UInt64($0) * 7) }
    static let commands: [[UInt8]] = contexts.indices.map { amount(Int64($0 * 37 % 11) - 5) }

    /// Applies `commands`, recording every answer and a query after each.
    static func play(_ machine: inout AnyStateMachine, _ commands: ArraySlice<[UInt8]>) throws -> [[UInt8]] {
        var answers: [[UInt8]] = []
        for (offset, command) in zip(commands.indices, commands) {
            let context = contexts[offset]
            answers.append(try machine.apply(encodedCommand: command, context: context))
            answers.append(
                try machine.query(encoded: [], context: QueryContext(index: context.index, time: context.time))
            )
        }
        return answers
    }

    @Test("NativeCounter loads with its name and answers commands and queries")
    func counter() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        #expect(library.name == "NativeCounter")
        var machine = try library.makeStateMachine()
        #expect(machine.name == "NativeCounter")
        #expect(try machine.apply(encodedCommand: Self.amount(5), context: Self.contexts[0]) == Self.amount(5))
        #expect(try machine.apply(encodedCommand: Self.amount(-7), context: Self.contexts[1]) == Self.amount(-2))
        #expect(try machine.query(encoded: [], context: QueryContext(index: 2, time: 0)) == Self.amount(-2))
    }

    @Test("two instances given the same commands give the same answers and snapshots")
    func determinism() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        var first = try library.makeStateMachine()
        var second = try library.makeStateMachine()
        #expect(try Self.play(&first, Self.commands[...]) == Self.play(&second, Self.commands[...]))
        #expect(try first.snapshot() == second.snapshot())
        #expect(try first.capture().serialize() == second.snapshot())
    }

    @Test("a snapshot restored mid-way goes on exactly like the original")
    func snapshotRoundTrip() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        var original = try library.makeStateMachine()
        let middle = Self.commands.count / 2
        _ = try Self.play(&original, Self.commands[..<middle])
        var restored = try library.makeStateMachine()
        try restored.restore(from: try original.snapshot())
        #expect(try restored.snapshot() == original.snapshot())
        #expect(try Self.play(&restored, Self.commands[middle...]) == Self.play(&original, Self.commands[middle...]))
    }

    @Test("a garbage command or snapshot is an error with the plugin's message, and the state is kept")
    func malformedInput() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        var machine = try library.makeStateMachine()
        _ = try machine.apply(encodedCommand: Self.amount(3), context: Self.contexts[0])
        for garbage in [[], [1, 2, 3], Array(repeating: 0xFF, count: 9)] as [[UInt8]] {
            let error = #expect(throws: NativePluginError.self) {
                try machine.apply(encodedCommand: garbage, context: Self.contexts[1])
            }
            #expect(error?.code == .pluginError)
            #expect(error?.message.hasPrefix("NativeCounter: BinaryDecodingError") == true)
            #expect(throws: NativePluginError.self) { try machine.restore(from: garbage) }
            #expect(throws: NativePluginError.self) {
                try machine.query(encoded: [7], context: QueryContext(index: 1, time: 0))
            }
        }
        #expect(try machine.query(encoded: [], context: QueryContext(index: 1, time: 0)) == Self.amount(3))
    }

    @Test("copies are values: changing one leaves the other as it was")
    func valueSemantics() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.nativeCounter())
        var machine = try library.makeStateMachine()
        _ = try machine.apply(encodedCommand: Self.amount(10), context: Self.contexts[0])
        var copy = machine
        _ = try copy.apply(encodedCommand: Self.amount(1), context: Self.contexts[1])
        var restored = machine
        try restored.restore(from: Self.amount(99))
        let now = QueryContext(index: 2, time: 0)
        #expect(try machine.query(encoded: [], context: now) == Self.amount(10))
        #expect(try copy.query(encoded: [], context: now) == Self.amount(11))
        #expect(try restored.query(encoded: [], context: now) == Self.amount(99))
    }

    @Test("the C plugin CKeyValue: set, get, errors, snapshot round trip")
    func cKeyValue() throws {
        let library = try NativePluginLibrary.open(path: try ExampleLibraries.cKeyValue())
        #expect(library.name == "CKeyValue")
        var machine = try library.makeStateMachine()
        #expect(try machine.apply(encodedCommand: Array("b=2".utf8), context: Self.contexts[0]) == Array("2".utf8))
        #expect(try machine.apply(encodedCommand: Array("a=1".utf8), context: Self.contexts[1]) == Array("1".utf8))
        #expect(try machine.apply(encodedCommand: Array("b=".utf8), context: Self.contexts[2]) == [])
        let now = QueryContext(index: 3, time: 0)
        #expect(try machine.query(encoded: Array("a".utf8), context: now) == Array("1".utf8))
        let missing = #expect(throws: NativePluginError.self) {
            try machine.query(encoded: Array("c".utf8), context: now)
        }
        #expect(missing?.message == "CKeyValue: no such key")
        let bad = #expect(throws: NativePluginError.self) {
            try machine.apply(encodedCommand: Array("novalue".utf8), context: Self.contexts[3])
        }
        #expect(bad?.message == "CKeyValue: a command is key=value with a non-empty key")

        let snapshot = try machine.snapshot()
        var restored = try library.makeStateMachine()
        try restored.restore(from: snapshot)
        #expect(try restored.snapshot() == snapshot)
        #expect(try restored.query(encoded: Array("a".utf8), context: now) == Array("1".utf8))
        let truncated = #expect(throws: NativePluginError.self) {
            try restored.restore(from: Array(snapshot.dropLast()))
        }
        #expect(truncated?.message == "CKeyValue could not restore a snapshot: the snapshot is truncated")
        #expect(try restored.snapshot() == snapshot)
    }
}
