public import StateMachineAPI

/// The checks every ``StateMachine`` plugin must pass, run from the plugin's own tests.
///
/// The plugin author supplies commands and queries that exercise the plugin (a list, or a
/// seeded generator); the suite applies them with increasing log indices and log times and
/// checks the properties replication relies on:
/// - ``StateMachineConformanceCheck/determinism``: the same commands give the same responses,
///   the same query answers and the same snapshot bytes, typed or through ``AnyStateMachine``;
/// - ``StateMachineConformanceCheck/snapshotRoundTrip``: a state restored from a snapshot
///   answers like the original, now and after more commands;
/// - ``StateMachineConformanceCheck/codecRoundTrip``: commands, queries and responses decode
///   to what was encoded, also when concatenated (encodings are self-delimiting);
/// - ``StateMachineConformanceCheck/malformedInput``: truncated and random bytes throw
///   ``BinaryDecodingError`` (or a snapshot error) instead of trapping.
///
/// ```swift
/// @Test(arguments: StateMachineConformanceCheck.allCases)
/// func conformance(_ check: StateMachineConformanceCheck) throws {
///     let suite = StateMachineConformance<Counter>(seed: 7, count: 200, queries: [.value]) { random in
///         Bool.random(using: &random) ? .add(Int64.random(in: -5...5, using: &random)) : .reset
///     }
///     try suite.run(check)
/// }
/// ```
public struct StateMachineConformance<Machine: StateMachine>: Sendable {
    /// The commands applied, in order.
    public var commands: [Machine.Command]
    /// The queries asked after every command.
    public var queries: [Machine.Query]
    /// The context of each command: index `i + 1`, log time increasing by steps drawn from
    /// the suite's seed.
    public var contexts: [ApplyContext]
    /// Seeds the log times and the random garbage of the malformed-input check.
    public var seed: UInt64

    /// A suite applying `commands` and asking `queries` after each of them. Log time advances
    /// by a random step in `timeStep` (milliseconds) per command, so leases and expiry are
    /// exercised.
    public init(
        commands: [Machine.Command],
        queries: [Machine.Query],
        seed: UInt64 = 1,
        timeStep: ClosedRange<UInt64> = 0...1_000
    ) {
        self.commands = commands
        self.queries = queries
        self.seed = seed
        var random = ConformanceRandom(seed: seed)
        var time = UInt64.random(in: 0...1_000_000, using: &random)
        contexts = commands.indices.map { index in
            time += UInt64.random(in: timeStep, using: &random)
            return ApplyContext(index: UInt64(index + 1), time: time)
        }
    }

    /// A suite applying `count` commands made by `makeCommand` from a generator seeded with
    /// `seed`: the same seed gives the same commands.
    public init(
        seed: UInt64,
        count: Int,
        queries: [Machine.Query],
        timeStep: ClosedRange<UInt64> = 0...1_000,
        makeCommand: (inout ConformanceRandom) -> Machine.Command
    ) {
        var random = ConformanceRandom(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        let commands = (0..<count).map { _ in makeCommand(&random) }
        self.init(commands: commands, queries: queries, seed: seed, timeStep: timeStep)
    }

    /// Runs every check, stopping at the first failure.
    public func runAll() throws(StateMachineConformanceFailure) {
        for check in StateMachineConformanceCheck.allCases {
            try run(check)
        }
    }

    /// Runs one check; throws a failure that says what differed and where.
    public func run(_ check: StateMachineConformanceCheck) throws(StateMachineConformanceFailure) {
        switch check {
        case .determinism: try checkDeterminism()
        case .snapshotRoundTrip: try checkSnapshotRoundTrip()
        case .codecRoundTrip: try checkCodecRoundTrip()
        case .malformedInput: try checkMalformedInput()
        }
    }

    // MARK: - Determinism

    /// What a run observed: every response and query answer, encoded, in order.
    private struct Trace: Equatable {
        var answers: [[UInt8]] = []
        var labels: [String] = []

        mutating func record(_ answer: [UInt8], _ label: @autoclosure () -> String) {
            answers.append(answer)
            labels.append(label())
        }

        /// The first answer that differs from `other`'s, described for a failure message.
        func firstDifference(from other: Trace) -> String? {
            for index in 0..<min(answers.count, other.answers.count) where answers[index] != other.answers[index] {
                return "\(labels[index]): \(answers[index]) vs \(other.answers[index])"
            }
            return answers.count == other.answers.count
                ? nil : "\(answers.count) answers vs \(other.answers.count)"
        }
    }

    private func queryContext(after index: Int) -> QueryContext {
        let context = contexts[index]
        return QueryContext(index: context.index, time: context.time)
    }

    /// Applies commands `range` to `machine`, asking every query after each command.
    private func play(_ machine: inout Machine, _ range: Range<Int>, into trace: inout Trace) {
        for index in range {
            let response = machine.apply(commands[index], context: contexts[index])
            trace.record(response.encoded(), "response to command #\(index)")
            let context = queryContext(after: index)
            for (number, query) in queries.enumerated() {
                trace.record(
                    machine.query(query, context: context).encoded(),
                    "query #\(number) after command #\(index)"
                )
            }
        }
    }

    /// The same as ``play(_:_:into:)`` through the type-erased box, with encoded bytes.
    private func playErased(
        _ machine: inout AnyStateMachine,
        _ range: Range<Int>,
        into trace: inout Trace
    ) throws(StateMachineConformanceFailure) {
        for index in range {
            do {
                let response = try machine.apply(encodedCommand: commands[index].encoded(), context: contexts[index])
                trace.record(response, "response to command #\(index)")
                let context = queryContext(after: index)
                for (number, query) in queries.enumerated() {
                    let answer = try machine.query(encoded: query.encoded(), context: context)
                    trace.record(answer, "query #\(number) after command #\(index)")
                }
            } catch {
                throw failure(.determinism, "AnyStateMachine rejected the encoding of command #\(index): \(error)")
            }
        }
    }

    private func snapshotBytes(
        _ machine: Machine,
        _ check: StateMachineConformanceCheck,
        _ when: String
    ) throws(StateMachineConformanceFailure) -> [UInt8] {
        do {
            return try machine.snapshot()
        } catch {
            throw failure(check, "snapshot() threw \(when): \(error)")
        }
    }

    private func checkDeterminism() throws(StateMachineConformanceFailure) {
        var first = Machine()
        var second = Machine()
        var erased = AnyStateMachine(Machine())
        var firstTrace = Trace()
        var secondTrace = Trace()
        var erasedTrace = Trace()
        play(&first, commands.indices, into: &firstTrace)
        play(&second, commands.indices, into: &secondTrace)
        try playErased(&erased, commands.indices, into: &erasedTrace)
        if let difference = firstTrace.firstDifference(from: secondTrace) {
            throw failure(.determinism, "two runs of the same commands differ at \(difference)")
        }
        if let difference = firstTrace.firstDifference(from: erasedTrace) {
            throw failure(.determinism, "the typed run and the AnyStateMachine run differ at \(difference)")
        }
        let bytes = try snapshotBytes(first, .determinism, "after all commands")
        guard try snapshotBytes(second, .determinism, "after all commands") == bytes else {
            throw failure(.determinism, "two runs of the same commands give different snapshot bytes")
        }
        guard try snapshotBytes(first, .determinism, "the second time") == bytes else {
            throw failure(.determinism, "two snapshots of the same state give different bytes")
        }
        let erasedBytes: [UInt8]
        do {
            erasedBytes = try erased.capture().serialize()
        } catch {
            throw failure(.determinism, "AnyStateMachine.capture().serialize() threw: \(error)")
        }
        guard erasedBytes == bytes else {
            throw failure(.determinism, "the AnyStateMachine run gives different snapshot bytes")
        }
    }

    // MARK: - Snapshot round trip

    /// Where the snapshot checks cut the command sequence: start, thirds and end.
    private var cutPoints: [Int] {
        var points: [Int] = []
        for point in [0, commands.count / 3, 2 * commands.count / 3, commands.count] where !points.contains(point) {
            points.append(point)
        }
        return points
    }

    private func checkSnapshotRoundTrip() throws(StateMachineConformanceFailure) {
        for cut in cutPoints {
            var original = Machine()
            var ignored = Trace()
            play(&original, 0..<cut, into: &ignored)
            let bytes = try snapshotBytes(original, .snapshotRoundTrip, "after \(cut) commands")
            var restored: Machine
            do {
                restored = try Machine(snapshot: bytes)
            } catch {
                throw failure(
                    .snapshotRoundTrip,
                    "init(snapshot:) rejected a snapshot taken after \(cut) commands: \(error)"
                )
            }
            guard try snapshotBytes(restored, .snapshotRoundTrip, "after a restore") == bytes else {
                throw failure(.snapshotRoundTrip, "a state restored after \(cut) commands snapshots to different bytes")
            }
            if cut > 0 {
                let context = queryContext(after: cut - 1)
                for (number, query) in queries.enumerated()
                where original.query(query, context: context).encoded()
                    != restored.query(query, context: context).encoded()
                {
                    throw failure(.snapshotRoundTrip, "query #\(number) answers differently after a restore at \(cut)")
                }
            }
            var originalTrace = Trace()
            var restoredTrace = Trace()
            play(&original, cut..<commands.count, into: &originalTrace)
            play(&restored, cut..<commands.count, into: &restoredTrace)
            if let difference = originalTrace.firstDifference(from: restoredTrace) {
                throw failure(.snapshotRoundTrip, "after a restore at \(cut) commands, answers differ at \(difference)")
            }
            var erased = AnyStateMachine(emptyOf: Machine.self)
            do {
                try erased.restore(from: bytes)
            } catch {
                throw failure(
                    .snapshotRoundTrip,
                    "AnyStateMachine.restore(from:) threw after \(cut) commands: \(error)"
                )
            }
            var erasedTrace = Trace()
            try playErased(&erased, cut..<commands.count, into: &erasedTrace)
            if let difference = originalTrace.firstDifference(from: erasedTrace) {
                throw failure(
                    .snapshotRoundTrip,
                    "after AnyStateMachine.restore at \(cut), answers differ at \(difference)"
                )
            }
        }
    }

    // MARK: - Codec round trip

    /// Every response the commands and queries produce, for the codec checks.
    private func sampleResponses() -> [Machine.Response] {
        var machine = Machine()
        var responses: [Machine.Response] = []
        for index in commands.indices {
            responses.append(machine.apply(commands[index], context: contexts[index]))
            let context = queryContext(after: index)
            responses += queries.map { machine.query($0, context: context) }
        }
        return responses
    }

    private func checkRoundTrip<Value: BinaryCodable>(
        _ values: [Value],
        _ kind: String
    ) throws(StateMachineConformanceFailure) {
        var concatenated = BinaryWriter()
        for (number, value) in values.enumerated() {
            let bytes = value.encoded()
            let decoded: Value
            do {
                decoded = try Value(decoding: bytes)
            } catch {
                throw failure(
                    .codecRoundTrip,
                    "\(kind) #\(number) does not decode from its own encoding \(bytes): \(error)"
                )
            }
            guard decoded.encoded() == bytes else {
                throw failure(.codecRoundTrip, "\(kind) #\(number) re-encodes differently after decoding: \(bytes)")
            }
            value.encode(to: &concatenated)
        }
        // Values written back to back must read back one by one: encodings are self-delimiting.
        var reader = BinaryReader(concatenated.bytes)
        for (number, value) in values.enumerated() {
            let decoded: Value
            do {
                decoded = try Value(from: &reader)
            } catch {
                throw failure(
                    .codecRoundTrip,
                    "\(kind) #\(number) does not decode when not alone in its buffer: \(error)"
                )
            }
            guard decoded.encoded() == value.encoded() else {
                throw failure(.codecRoundTrip, "\(kind) #\(number) decodes differently when not alone in its buffer")
            }
        }
    }

    private func checkCodecRoundTrip() throws(StateMachineConformanceFailure) {
        try checkRoundTrip(commands, "command")
        try checkRoundTrip(queries, "query")
        try checkRoundTrip(sampleResponses(), "response")
    }

    // MARK: - Malformed input

    /// At most this many truncation points per encoding, spread over its length.
    private static var truncationSamples: Int { 64 }

    private func truncations(of bytes: [UInt8]) -> [Int] {
        guard bytes.count > Self.truncationSamples else {
            return Array(0..<bytes.count)
        }
        return (0..<Self.truncationSamples).map { $0 * bytes.count / Self.truncationSamples }
    }

    private func checkTruncations<Value: BinaryCodable>(
        _ values: [Value],
        _ kind: String
    ) throws(StateMachineConformanceFailure) {
        for (number, value) in values.enumerated() {
            let bytes = value.encoded()
            for length in truncations(of: bytes) {
                if (try? Value(decoding: Array(bytes[..<length]))) != nil {
                    throw failure(
                        .malformedInput,
                        "\(kind) #\(number) decodes from its first \(length) of \(bytes.count) bytes"
                    )
                }
            }
        }
    }

    /// Decodes each of `inputs` as `Value`, which may succeed or throw but must not trap; a
    /// success must re-encode to bytes that decode again.
    private func checkGarbage<Value: BinaryCodable>(
        _ inputs: [[UInt8]],
        as _: Value.Type,
        _ kind: String
    ) throws(StateMachineConformanceFailure) {
        for input in inputs {
            guard let value = try? Value(decoding: input) else { continue }
            if (try? Value(decoding: value.encoded())) == nil {
                throw failure(.malformedInput, "\(kind) decoded from garbage \(input) does not round-trip")
            }
        }
    }

    private func checkMalformedInput() throws(StateMachineConformanceFailure) {
        try checkTruncations(commands, "command")
        try checkTruncations(queries, "query")
        try checkTruncations(sampleResponses(), "response")

        var random = ConformanceRandom(seed: seed)
        var garbage: [[UInt8]] = (0..<256).map { _ in
            (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        // Valid encodings with one byte flipped: garbage that gets past the first tag byte.
        for value in commands.map({ $0.encoded() }) + queries.map({ $0.encoded() }) where !value.isEmpty {
            var flipped = value
            flipped[Int.random(in: 0..<value.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            garbage.append(flipped)
        }
        try checkGarbage(garbage, as: Machine.Command.self, "command")
        try checkGarbage(garbage, as: Machine.Query.self, "query")
        try checkGarbage(garbage, as: Machine.Response.self, "response")

        var machine = AnyStateMachine(emptyOf: Machine.self)
        for input in garbage {
            // Either outcome is fine; trapping is not.
            _ = try? machine.apply(encodedCommand: input, context: ApplyContext(index: 1, time: 0))
            _ = try? machine.query(encoded: input, context: QueryContext(index: 1, time: 0))
        }

        var state = Machine()
        var ignored = Trace()
        play(&state, commands.indices, into: &ignored)
        let snapshot = try snapshotBytes(state, .malformedInput, "after all commands")
        for length in truncations(of: snapshot) where (try? Machine(snapshot: Array(snapshot[..<length]))) != nil {
            throw failure(
                .malformedInput,
                "init(snapshot:) accepts the first \(length) of \(snapshot.count) snapshot bytes"
            )
        }
        for input in garbage {
            _ = try? Machine(snapshot: input)
        }
    }

    private func failure(_ check: StateMachineConformanceCheck, _ message: String) -> StateMachineConformanceFailure {
        StateMachineConformanceFailure(stateMachine: Machine.name, check: check, message: message)
    }
}

/// One property checked by ``StateMachineConformance``.
public enum StateMachineConformanceCheck: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case determinism
    case snapshotRoundTrip
    case codecRoundTrip
    case malformedInput

    public var description: String { rawValue }
}

/// A plugin that failed a ``StateMachineConformance`` check, and how.
public struct StateMachineConformanceFailure: Error, Sendable, CustomStringConvertible {
    /// The ``StateMachine/name`` of the plugin.
    public var stateMachine: String
    /// The check that failed.
    public var check: StateMachineConformanceCheck
    /// What differed, and where in the command sequence.
    public var message: String

    public var description: String { "\(stateMachine) fails \(check): \(message)" }
}

/// The seeded pseudo-random generator of ``StateMachineConformance`` (SplitMix64): the same
/// seed gives the same sequence on every platform.
public struct ConformanceRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
