import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing

/// The conformance suite must catch the mistakes plugin authors make; these counters each
/// make one.
enum Flaw: Sendable, CaseIterable {
    case none
    /// apply answers with a random number.
    case randomResponse
    /// The snapshot leaves out part of the state.
    case forgetfulSnapshot
    /// Commands decode to something other than what was encoded.
    case lossyCodec
    /// Commands are not self-delimiting: they read every byte left.
    case greedyCodec
}

protocol FlawChoice: Sendable {
    static var flaw: Flaw { get }
}

enum Flawless: FlawChoice { static var flaw: Flaw { .none } }
enum RandomResponse: FlawChoice { static var flaw: Flaw { .randomResponse } }
enum ForgetfulSnapshot: FlawChoice { static var flaw: Flaw { .forgetfulSnapshot } }
enum LossyCodec: FlawChoice { static var flaw: Flaw { .lossyCodec } }
enum GreedyCodec: FlawChoice { static var flaw: Flaw { .greedyCodec } }

struct FlawedCounter<Choice: FlawChoice>: StateMachine {
    static var name: String { "FlawedCounter.\(Choice.flaw)" }

    var total: Int64 = 0
    var applied: UInt64 = 0

    init() {}

    struct Command: BinaryCodable {
        var amount: Int64

        init(amount: Int64) {
            self.amount = amount
        }

        func encode(to writer: inout BinaryWriter) {
            if Choice.flaw == .greedyCodec {
                writer.writeRawBytes(String(amount).utf8)
            } else {
                writer.writeZigzag(amount)
            }
        }

        init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch Choice.flaw {
            case .greedyCodec:
                let text = String(decoding: try reader.readRawBytes(count: reader.remaining), as: UTF8.self)
                guard let amount = Int64(text) else { throw reader.invalidValue("not a number: \(text)") }
                self.amount = amount
            case .lossyCodec:
                amount = Int64(try reader.readUInt8() & 0x7f)
            case .none, .randomResponse, .forgetfulSnapshot:
                amount = try reader.readZigzag()
            }
        }
    }

    struct Query: BinaryCodable {
        func encode(to writer: inout BinaryWriter) {
            writer.writeUInt8(0)
        }

        init() {}

        init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            guard try reader.readUInt8() == 0 else { throw reader.invalidValue("unknown query") }
        }
    }

    mutating func apply(_ command: Command, context: ApplyContext) -> Int64 {
        total &+= command.amount
        applied += 1
        return Choice.flaw == .randomResponse ? Int64.random(in: 0...1_000_000) : total
    }

    func query(_ query: Query, context: QueryContext) -> Int64 {
        total &+ Int64(truncatingIfNeeded: applied)
    }

    func snapshot() throws -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeZigzag(total)
        if Choice.flaw != .forgetfulSnapshot {
            writer.writeVarint(applied)
        }
        return writer.bytes
    }

    init(snapshot: [UInt8]) throws {
        var reader = BinaryReader(snapshot)
        total = try reader.readZigzag()
        applied = Choice.flaw == .forgetfulSnapshot ? 0 : try reader.readVarint()
        try reader.finish()
    }
}

@Suite("StateMachineConformance catches broken plugins", .onSimulationThread)
struct StateMachineConformanceTests {
    private func suite<Choice: FlawChoice>(_: Choice.Type) -> StateMachineConformance<FlawedCounter<Choice>> {
        StateMachineConformance(seed: 3, count: 60, queries: [.init()]) { random in
            .init(amount: Int64.random(in: -300...300, using: &random))
        }
    }

    @Test(arguments: StateMachineConformanceCheck.allCases)
    func flawlessPluginPasses(_ check: StateMachineConformanceCheck) throws {
        try suite(Flawless.self).run(check)
    }

    @Test func nondeterministicApplyFailsDeterminism() {
        let failure = #expect(throws: StateMachineConformanceFailure.self) {
            try suite(RandomResponse.self).run(.determinism)
        }
        #expect(failure?.check == .determinism)
        #expect(failure?.description.contains("FlawedCounter.randomResponse fails determinism") == true)
    }

    @Test func incompleteSnapshotFailsSnapshotRoundTrip() {
        let failure = #expect(throws: StateMachineConformanceFailure.self) {
            try suite(ForgetfulSnapshot.self).run(.snapshotRoundTrip)
        }
        #expect(failure?.message.contains("restore") == true)
    }

    @Test func lossyCodecFailsCodecRoundTrip() {
        #expect(throws: StateMachineConformanceFailure.self) { try suite(LossyCodec.self).run(.codecRoundTrip) }
    }

    @Test func greedyCodecFailsOnTruncatedAndConcatenatedInput() {
        let malformed = #expect(throws: StateMachineConformanceFailure.self) {
            try suite(GreedyCodec.self).run(.malformedInput)
        }
        #expect(malformed?.message.contains("decodes from its first") == true)
        #expect(throws: StateMachineConformanceFailure.self) { try suite(GreedyCodec.self).run(.codecRoundTrip) }
    }

    @Test func sameSeedGivesSameCommands() {
        let first = suite(Flawless.self)
        let second = suite(Flawless.self)
        #expect(first.commands.map(\.amount) == second.commands.map(\.amount))
        #expect(first.contexts == second.contexts)
        #expect(
            zip(first.contexts, first.contexts.dropFirst()).allSatisfy { $0.time <= $1.time && $0.index < $1.index }
        )
    }
}
