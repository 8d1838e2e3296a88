import KeyValueStore
import RaftCore
import RaftReplica
import RaftTesting
import StateMachineAPI

/// The key/value service on a simulated cluster, with the lab's client helpers (`Put`,
/// `Append`, `Get`, `check`) and a history of every operation for the linearizability
/// checker.
final class KeyValueHarness {
    typealias Operation = LinearizabilityOperation<KeyValueModel.Input, KeyValueStore.Response>

    let sim: RaftSimulation
    let maxRaftState: Int?
    private(set) var history: [Operation] = []
    private var clerks: [SimulatedClerk] = []
    private var nextClientNumber = 0

    /// `leaseReads`: Gets are served from the leader's lease, as `raft.leaseReads: true` does.
    init(servers: Int, seed: UInt64, maxRaftState: Int?, leaseReads: Bool = false, testName: String) {
        self.maxRaftState = maxRaftState
        sim = RaftSimulation(
            servers: servers,
            seed: seed,
            testName: testName,
            snapshots: maxRaftState.map { .maxRaftState($0) } ?? .never,
            machine: { AnyStateMachine(KeyValueStore()) },
            configure: { configuration in
                guard leaseReads else { return }
                configuration.leaseTicks = RaftConfiguration.leaseTicks(
                    electionTimeoutTicks: configuration.electionTimeoutTicks,
                    maxClockDrift: 0.1,
                    driverLagTicks: 0
                )
            }
        )
    }

    func makeClerk(servers: [NodeID]? = nil) -> SimulatedClerk {
        let clerk = SimulatedClerk(simulation: sim, servers: servers)
        clerks.append(clerk)
        return clerk
    }

    /// Starts an operation; `completion` runs when it returns. Recorded in the history.
    func start(
        _ input: KeyValueModel.Input,
        on clerk: SimulatedClerk,
        client: Int? = nil,
        completion: @escaping (KeyValueStore.Response) -> Void = { _ in }
    ) {
        let call = sim.now
        let clientNumber = client ?? clerks.firstIndex { $0 === clerk } ?? 0
        let finish: ([UInt8]) -> Void = { [self] bytes in
            guard let response = try? KeyValueStore.Response(decoding: bytes) else {
                _ = sim.fail("undecodable response to \(input)")
                return
            }
            history.append(
                Operation(client: clientNumber, input: input, call: call, output: response, returned: sim.now)
            )
            completion(response)
        }
        switch input {
        case .command(let command): clerk.submit(command.encoded(), completion: finish)
        case .query(let query): clerk.query(query.encoded(), completion: finish)
        }
    }

    /// Runs one operation to completion (the lab's synchronous `Put`/`Get`); fails after 30 s.
    @discardableResult
    func perform(_ input: KeyValueModel.Input, on clerk: SimulatedClerk) throws -> KeyValueStore.Response {
        var result: KeyValueStore.Response?
        start(input, on: clerk) { result = $0 }
        _ = try sim.run(atMost: .seconds(30), step: .milliseconds(1)) { result != nil }
        guard let result else { throw sim.fail("\(input) did not complete within 30 s") }
        return result
    }

    func check(_ clerk: SimulatedClerk, _ key: String, _ expected: String) throws {
        let response = try perform(.get(key), on: clerk)
        guard response == .value(expected) else {
            throw sim.fail("get(\(key)) returned \(response), expected \(expected.debugDescription)")
        }
    }

    /// Every clerk's final errors (sessionExpired / invalidRequest), which never should happen.
    var finalErrors: [ReplicaError] { clerks.flatMap(\.finalErrors) }

    func checkLinearizable() throws {
        let result: LinearizabilityVerdict
        var report = ""
        if let bounded = AppendOnlyKeyValueModel(history: history) {
            let outcome = LinearizabilityChecker(model: bounded, timeLimit: .seconds(60)).check(history)
            result = outcome.verdict
            report = outcome.description
        } else {
            let outcome = LinearizabilityChecker(model: KeyValueModel(), timeLimit: .seconds(60)).check(history)
            result = outcome.verdict
            report = outcome.description
        }
        guard result == .linearizable else {
            throw sim.fail("history of \(history.count) operations is not linearizable: \(report)")
        }
    }

    /// The largest persisted Raft state of any node, in bytes.
    var largestRaftState: Int { sim.nodeIDs.map(sim.raftStateSize).max() ?? 0 }
}

/// The lab's `checkClntAppends`: `value` holds each of client `client`'s appends
/// (`x client n y`, n < count) exactly once, in order.
func appendsAppearOnceInOrder(_ value: String, client: Int, count: Int) -> String? {
    var lastOffset = -1
    for n in 0..<count {
        let wanted = "x \(client) \(n) y"
        let occurrences = value.ranges(of: wanted)
        guard occurrences.count == 1 else {
            return "client \(client)'s append \(n) appears \(occurrences.count) times"
        }
        let offset = value.distance(from: value.startIndex, to: occurrences[0].lowerBound)
        guard offset > lastOffset else { return "client \(client)'s append \(n) is out of order" }
        lastOffset = offset
    }
    return nil
}
