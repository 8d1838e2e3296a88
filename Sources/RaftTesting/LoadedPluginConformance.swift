public import StateMachineAPI

/// The conformance suite for plugins loaded at run time (native libraries, WebAssembly
/// modules), which the host only knows as bytes: the checks of ``StateMachineConformance``
/// that do not need the plugin's Swift types.
///
/// ```swift
/// @Test(arguments: LoadedPluginConformance.checks)
/// func conformance(_ check: StateMachineConformanceCheck) throws {
///     let suite = LoadedPluginConformance(
///         make: { try library.makeStateMachine() },
///         commands: (0..<200).map { Array("set k\($0 % 7) v\($0)".utf8) },
///         queries: [Array("get k1".utf8)]
///     )
///     try suite.run(check)
/// }
/// ```
///
/// - determinism: two instances given the same commands give the same answers, errors
///   included (their text goes into the replicated session table), and the same snapshot bytes;
/// - snapshot round trip: an instance restored from a snapshot taken half-way answers the rest
///   exactly like the original, and its own snapshot equals the original's;
/// - malformed input: truncated and random commands, queries and snapshots give a response or
///   an error, never a crash, and two instances agree on which; a rejected snapshot leaves the
///   state as it was.
public struct LoadedPluginConformance: Sendable {
    /// The checks that apply to a plugin known only as bytes (there is no codec to round-trip).
    public static let checks: [StateMachineConformanceCheck] = [.determinism, .snapshotRoundTrip, .malformedInput]

    private let make: @Sendable () throws -> AnyStateMachine
    private let commands: [[UInt8]]
    private let queries: [[UInt8]]
    private let seed: UInt64

    /// - Parameters:
    ///   - make: a fresh, empty instance of the plugin.
    ///   - commands: encoded commands, applied in order with log index and time `1, 2, ...`.
    ///   - queries: encoded queries, asked after every command.
    public init(
        seed: UInt64 = 1,
        make: @escaping @Sendable () throws -> AnyStateMachine,
        commands: [[UInt8]],
        queries: [[UInt8]]
    ) {
        self.seed = seed
        self.make = make
        self.commands = commands
        self.queries = queries
    }

    public func runAll() throws(StateMachineConformanceFailure) {
        for check in Self.checks { try run(check) }
    }

    public func run(_ check: StateMachineConformanceCheck) throws(StateMachineConformanceFailure) {
        switch check {
        case .determinism: try checkDeterminism()
        case .snapshotRoundTrip: try checkSnapshotRoundTrip()
        case .malformedInput: try checkMalformedInput()
        case .codecRoundTrip: break  // no Swift types to round-trip: nothing to check
        }
    }

    /// One answer: the response bytes, or the error's text.
    private enum Answer: Equatable {
        case response([UInt8])
        case error(String)
    }

    private func instance(
        _ check: StateMachineConformanceCheck
    ) throws(StateMachineConformanceFailure) -> AnyStateMachine {
        do {
            return try make()
        } catch {
            throw failure(check, "could not create an instance: \(error)")
        }
    }

    private func apply(_ machine: inout AnyStateMachine, _ command: [UInt8], at index: Int) -> Answer {
        let context = ApplyContext(index: UInt64(index + 1), time: UInt64(index + 1))
        do {
            return .response(try machine.apply(encodedCommand: command, context: context))
        } catch {
            return .error("\(error)")
        }
    }

    private func ask(_ machine: AnyStateMachine, _ query: [UInt8], after index: Int) -> Answer {
        do {
            return .response(
                try machine.query(
                    encoded: query,
                    context: QueryContext(index: UInt64(index + 1), time: UInt64(index + 1))
                )
            )
        } catch {
            return .error("\(error)")
        }
    }

    /// Applies commands `range`, asking every query after each; returns every answer in order.
    private func play(_ machine: inout AnyStateMachine, _ range: Range<Int>) -> [Answer] {
        var answers: [Answer] = []
        for index in range {
            answers.append(apply(&machine, commands[index], at: index))
            for query in queries { answers.append(ask(machine, query, after: index)) }
        }
        return answers
    }

    private func snapshot(
        _ machine: AnyStateMachine,
        _ check: StateMachineConformanceCheck
    ) throws(StateMachineConformanceFailure) -> [UInt8] {
        do {
            return try machine.snapshot()
        } catch {
            throw failure(check, "snapshot() threw: \(error)")
        }
    }

    private func firstDifference(_ first: [Answer], _ second: [Answer]) -> Int? {
        first.indices.first { $0 >= second.count || first[$0] != second[$0] }
    }

    private func checkDeterminism() throws(StateMachineConformanceFailure) {
        var first = try instance(.determinism)
        var second = try instance(.determinism)
        let firstAnswers = play(&first, commands.indices)
        let secondAnswers = play(&second, commands.indices)
        if let index = firstDifference(firstAnswers, secondAnswers) {
            throw failure(.determinism, "answer #\(index) differs: \(firstAnswers[index]) vs \(secondAnswers[index])")
        }
        guard try snapshot(first, .determinism) == snapshot(second, .determinism) else {
            throw failure(.determinism, "two instances that applied the same commands give different snapshots")
        }
    }

    private func checkSnapshotRoundTrip() throws(StateMachineConformanceFailure) {
        let half = commands.count / 2
        var original = try instance(.snapshotRoundTrip)
        _ = play(&original, 0..<half)
        let bytes = try snapshot(original, .snapshotRoundTrip)
        var restored = try instance(.snapshotRoundTrip)
        do {
            try restored.restore(from: bytes)
        } catch {
            throw failure(.snapshotRoundTrip, "restore(from:) rejected its own snapshot: \(error)")
        }
        guard try snapshot(restored, .snapshotRoundTrip) == bytes else {
            throw failure(.snapshotRoundTrip, "a restored instance snapshots to different bytes")
        }
        let expected = play(&original, half..<commands.count)
        let actual = play(&restored, half..<commands.count)
        if let index = firstDifference(expected, actual) {
            throw failure(
                .snapshotRoundTrip,
                "after restoring, answer #\(index) differs: \(expected[index]) vs \(actual[index])"
            )
        }
    }

    private func checkMalformedInput() throws(StateMachineConformanceFailure) {
        var random = ConformanceRandom(seed: seed)
        var inputs: [[UInt8]] = (0..<128).map { _ in
            (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        for value in commands.prefix(32) + queries {
            for length in stride(from: 0, to: value.count, by: max(1, value.count / 4)) {
                inputs.append(Array(value[..<length]))
            }
        }
        var first = try instance(.malformedInput)
        var second = try instance(.malformedInput)
        for (index, input) in inputs.enumerated() {
            let answers = (apply(&first, input, at: index), apply(&second, input, at: index))
            guard answers.0 == answers.1 else {
                throw failure(
                    .malformedInput,
                    "two instances answer input \(input) differently: \(answers.0) vs \(answers.1)"
                )
            }
            _ = ask(first, input, after: index)
        }
        let before = try snapshot(first, .malformedInput)
        for input in inputs where !input.isEmpty {
            if (try? first.restore(from: input)) == nil {
                guard try snapshot(first, .malformedInput) == before else {
                    throw failure(.malformedInput, "a rejected snapshot \(input) changed the state")
                }
            } else {
                // Accepted as a snapshot: go back to the known state for the next input.
                do {
                    try first.restore(from: before)
                } catch {
                    throw failure(.malformedInput, "restore(from:) rejected a snapshot it produced: \(error)")
                }
            }
        }
    }

    private func failure(_ check: StateMachineConformanceCheck, _ message: String) -> StateMachineConformanceFailure {
        let name = (try? make().name) ?? "plugin"
        return StateMachineConformanceFailure(stateMachine: name, check: check, message: message)
    }
}
