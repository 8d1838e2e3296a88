import KeyValueStore
import LockService
import RaftTesting
import StateMachineAPI

typealias KVOperation = LinearizabilityOperation<KeyValueModel.Input, KeyValueStore.Response>
typealias LockOperation = LinearizabilityOperation<LockServiceModel.Input, LockService.Response>

/// An operation that returned `output`, for hand-written histories.
func op(
    _ client: Int,
    _ input: KeyValueModel.Input,
    _ call: UInt64,
    _ returned: UInt64,
    _ output: KeyValueStore.Response
) -> KVOperation {
    KVOperation(client: client, input: input, call: call, output: output, returned: returned)
}

/// An operation whose outcome the client never learned.
func pending(_ client: Int, _ input: KeyValueModel.Input, _ call: UInt64) -> KVOperation {
    KVOperation(client: client, input: input, call: call, outcome: .unknown)
}

/// Random histories that are linearizable by construction: each client issues operations one
/// after another; each operation takes effect at a random instant inside its interval, on a
/// real state machine, in the order of those instants. Some operations have an unknown
/// outcome: they take effect or not, at random, and the client moves on.
struct HistoryGenerator<Machine: StateMachine> {
    var random: ConformanceRandom
    var clients: Int
    var operationsPerClient: Int
    var unknownOutcomeChance: Double

    /// A planned operation: its interval, the instant it takes effect (nil: never) and input.
    private struct Plan {
        var client: Int
        var call: UInt64
        var effect: UInt64?
        var returned: UInt64?
        var input: Input
    }

    enum Input {
        case command(Machine.Command)
        case query(Machine.Query)
    }

    /// Builds the history; `makeInput` draws the next operation of a client. Log time is the
    /// instant of effect, in the unit of the interval times.
    mutating func generate<ModelInput>(
        makeInput: (inout ConformanceRandom, Int) -> Input,
        modelInput: (Input) -> ModelInput
    ) -> [LinearizabilityOperation<ModelInput, Machine.Response>] {
        var plans: [Plan] = []
        for client in 0..<clients {
            var time = UInt64.random(in: 0...50, using: &random)
            for _ in 0..<operationsPerClient {
                let call = time
                let effect = call + UInt64.random(in: 0...40, using: &random)
                let returned = effect + UInt64.random(in: 0...40, using: &random)
                let input = makeInput(&random, client)
                if Double.random(in: 0..<1, using: &random) < unknownOutcomeChance {
                    let happens = Bool.random(using: &random)
                    plans.append(
                        Plan(client: client, call: call, effect: happens ? effect : nil, returned: nil, input: input)
                    )
                } else {
                    plans.append(Plan(client: client, call: call, effect: effect, returned: returned, input: input))
                }
                time = returned + UInt64.random(in: 0...20, using: &random)
            }
        }
        var machine = Machine()
        var index: UInt64 = 0
        var outputs: [Int: Machine.Response] = [:]
        let applied = plans.indices.filter { plans[$0].effect != nil }.sorted {
            (plans[$0].effect ?? 0, $0) < (plans[$1].effect ?? 0, $1)
        }
        for position in applied {
            let time = plans[position].effect ?? 0
            switch plans[position].input {
            case .command(let command):
                index += 1
                outputs[position] = machine.apply(command, context: ApplyContext(index: index, time: time))
            case .query(let query):
                outputs[position] = machine.query(query, context: QueryContext(index: index, time: time))
            }
        }
        return plans.indices.map { position in
            let plan = plans[position]
            let outcome: LinearizabilityOperation<ModelInput, Machine.Response>.Outcome =
                if let returned = plan.returned, let output = outputs[position] {
                    .returned(output, at: returned)
                } else {
                    .unknown
                }
            return LinearizabilityOperation(
                client: plan.client,
                input: modelInput(plan.input),
                call: plan.call,
                outcome: outcome
            )
        }
    }
}
