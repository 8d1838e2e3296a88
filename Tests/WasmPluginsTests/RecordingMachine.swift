import RaftCore
import StateMachineAPI
import Synchronization

/// What the replicas' state machines answered, by log index, as text; each replica (each
/// state machine made, so a restarted node counts anew) under the number ``newReplica()``
/// gave it, in the order they were made.
final class Outcomes: Sendable {
    private struct State {
        var byIndex: [LogIndex: [(replica: Int, outcome: String)]] = [:]
        var replicas = 0
    }

    private let state = Mutex(State())

    /// The number of the next state machine made.
    func newReplica() -> Int {
        state.withLock { state in
            defer { state.replicas += 1 }
            return state.replicas
        }
    }

    func record(_ outcome: String, at index: LogIndex, by replica: Int) {
        state.withLock { $0.byIndex[index, default: []].append((replica, outcome)) }
    }

    /// Every answer given at each index, whichever replica gave it.
    var all: [LogIndex: [String]] { state.withLock { $0.byIndex.mapValues { $0.map(\.outcome) } } }

    /// The answers replica `replica` gave, by index.
    func of(replica: Int) -> [LogIndex: String] {
        state.withLock { state in
            state.byIndex.compactMapValues { answers in answers.first { $0.replica == replica }?.outcome }
        }
    }
}

/// A state machine recording each answer it gives (`answer: TEXT` or `error: TEXT`) into
/// `outcomes`.
struct Recording: DynamicStateMachine {
    var machine: AnyStateMachine
    let outcomes: Outcomes
    let replica: Int

    init(_ machine: AnyStateMachine, outcomes: Outcomes) {
        self.machine = machine
        self.outcomes = outcomes
        replica = outcomes.newReplica()
    }

    var name: String { machine.name }

    mutating func apply(encodedCommand: [UInt8], context: ApplyContext) throws -> [UInt8] {
        do {
            let answer = try machine.apply(encodedCommand: encodedCommand, context: context)
            outcomes.record("answer: " + String(decoding: answer, as: UTF8.self), at: context.index, by: replica)
            return answer
        } catch {
            outcomes.record("error: \(error)", at: context.index, by: replica)
            throw error
        }
    }

    func query(encoded: [UInt8], context: QueryContext) throws -> [UInt8] {
        try machine.query(encoded: encoded, context: context)
    }

    func snapshot() throws -> [UInt8] { try machine.snapshot() }

    mutating func restore(from snapshot: [UInt8]) throws { try machine.restore(from: snapshot) }
}
