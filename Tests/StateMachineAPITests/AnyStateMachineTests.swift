import StateMachineAPI
import Testing

@Suite("AnyStateMachine and StateMachineRegistry")
struct AnyStateMachineTests {
    private func context(_ index: UInt64) -> ApplyContext {
        ApplyContext(index: index, time: index * 10)
    }

    @Test func appliesAndQueriesEncodedBytes() throws {
        var machine = AnyStateMachine(emptyOf: Counter.self)
        #expect(machine.name == "Counter")
        let response = try machine.apply(encodedCommand: Counter.Command.add(5).encoded(), context: context(1))
        #expect(try Int64(decoding: response) == 5)
        let answer = try machine.query(
            encoded: Counter.Query.value.encoded(),
            context: QueryContext(index: 1, time: 10)
        )
        #expect(try Int64(decoding: answer) == 5)
        #expect(machine.unwrap(as: Counter.self)?.value == 5)
    }

    @Test func garbageCommandThrowsAndLeavesStateUnchanged() throws {
        var machine = AnyStateMachine(Counter())
        _ = try machine.apply(encodedCommand: Counter.Command.add(3).encoded(), context: context(1))
        #expect(throws: BinaryDecodingError.self) {
            try machine.apply(encodedCommand: [9, 9, 9], context: context(2))
        }
        #expect(throws: BinaryDecodingError.self) {
            try machine.query(encoded: [], context: QueryContext(index: 2, time: 20))
        }
        #expect(machine.unwrap(as: Counter.self)?.value == 3)
    }

    @Test func captureIsFrozenWhileApplyingContinues() throws {
        var machine = AnyStateMachine(emptyOf: Counter.self)
        _ = try machine.apply(encodedCommand: Counter.Command.add(7).encoded(), context: context(1))
        let capture = machine.capture()
        _ = try machine.apply(encodedCommand: Counter.Command.add(100).encoded(), context: context(2))
        // The capture serializes the state at capture time, not the state now.
        let restored = try Counter(snapshot: try capture.serialize())
        #expect(restored.value == 7)
        #expect(capture.name == "Counter")
        #expect(machine.unwrap(as: Counter.self)?.value == 107)
    }

    @Test func restoreReplacesStateAndKeepsItOnError() throws {
        var machine = AnyStateMachine(emptyOf: Counter.self)
        try machine.restore(from: Int64(42).encoded())
        #expect(machine.unwrap(as: Counter.self)?.value == 42)
        #expect(throws: BinaryDecodingError.self) { try machine.restore(from: [0x80]) }
        #expect(machine.unwrap(as: Counter.self)?.value == 42)
    }

    @Test func registryMakesByNameAndListsKnownNamesOnError() throws {
        var registry = StateMachineRegistry()
        try registry.register(Counter.self)
        try registry.register(Counter.self)
        #expect(registry.names == ["Counter"])
        #expect(try registry.make(named: "Counter").name == "Counter")
        let error = #expect(throws: StateMachineRegistryError.self) { try registry.make(named: "Countr") }
        #expect(error?.code == .unknownName)
        #expect(error?.knownNames == ["Counter"])
        #expect(error?.message.contains("known: Counter") == true)
    }

    /// A different type that claims the name of another.
    private struct Impostor: StateMachine {
        static let name = "Counter"
        init() {}
        mutating func apply(_ command: Bool, context: ApplyContext) -> Bool { command }
        func query(_ query: Bool, context: QueryContext) -> Bool { query }
        func snapshot() throws -> [UInt8] { [] }
        init(snapshot: [UInt8]) throws {}
    }

    @Test func registryRejectsTwoTypesWithOneName() throws {
        var registry = StateMachineRegistry()
        try registry.register(Counter.self)
        let error = #expect(throws: StateMachineRegistryError.self) { try registry.register(Impostor.self) }
        #expect(error?.code == .duplicateName)
        #expect(throws: StateMachineRegistryError.self) {
            try StateMachineRegistry([Counter.self, Impostor.self])
        }
    }

    @Test func counterExampleOfTheGuideWorks() throws {
        var counter = Counter()
        #expect(counter.apply(.add(2), context: context(1)) == 2)
        #expect(counter.apply(.add(-5), context: context(2)) == -3)
        #expect(counter.apply(.reset, context: context(3)) == 0)
        #expect(throws: BinaryDecodingError.self) { try Counter.Command(decoding: [7]) }
        #expect(try Counter(snapshot: try counter.snapshot()).value == 0)
    }
}
