public import RaftCore
public import RaftReplica

/// A client of a simulated cluster that behaves like the classic Clerk: it remembers which
/// node led last, follows `notLeader` hints, moves on to the next node when an attempt gets
/// no answer within `attemptTimeout`, and retries the same request (same client id and
/// sequence number, so the servers apply it once) until it succeeds.
///
/// One request at a time per clerk, as the Clerk's contract says.
public final class SimulatedClerk {
    public let simulation: RaftSimulation
    public let clientID: UInt64
    /// The nodes this clerk can reach (the lab's `makeClient(servers)`).
    public var servers: [NodeID]
    public var attemptTimeout: VirtualTime = .milliseconds(200)
    /// Requests that came back with a final error (sessionExpired, invalidRequest): the
    /// scenario fails on any.
    public private(set) var finalErrors: [ReplicaError] = []
    public private(set) var isBusy = false

    private var sequence: UInt64 = 0
    private var leaderGuess = 0
    /// Bumped per attempt, so that a timer of an old attempt does nothing.
    private var attempt: UInt64 = 0

    public init(simulation: RaftSimulation, servers: [NodeID]? = nil) {
        self.simulation = simulation
        self.servers = servers ?? simulation.nodeIDs
        clientID = simulation.randomNumber(below: .max) | 1
        leaderGuess = Int(simulation.randomNumber(below: UInt64(self.servers.count)))
    }

    /// Sends a command until some node answers it; `completion` gets the plugin's response.
    public func submit(_ command: [UInt8], completion: @escaping ([UInt8]) -> Void) {
        sequence += 1
        let request = Replica.ClientCommand(clientID: clientID, sequence: sequence, command: command)
        run { [simulation] node, reply in
            simulation.submit(to: node, request, reply: reply)
        } completion: {
            completion($0)
        }
    }

    /// Reads until some node answers: linearizable by default.
    public func query(
        _ query: [UInt8],
        consistency: Replica.ReadConsistency = .linearizable,
        completion: @escaping ([UInt8]) -> Void
    ) {
        run { [simulation] node, reply in
            simulation.query(to: node, query, consistency: consistency, reply: reply)
        } completion: {
            completion($0)
        }
    }

    private func run(
        _ send: @escaping (NodeID, @escaping (Result<[UInt8], ReplicaError>) -> Void) -> Void,
        completion: @escaping ([UInt8]) -> Void
    ) {
        precondition(!isBusy, "one request at a time per clerk")
        isBusy = true
        var done = false
        func tryOnce() {
            guard !done else { return }
            attempt += 1
            let thisAttempt = attempt
            let node = servers[leaderGuess % servers.count]
            send(node) { [self] result in
                guard !done else { return }
                switch result {
                case .success(let bytes):
                    // A late answer to an earlier attempt is as good as any: the request is
                    // applied once, whichever attempt reached the leader.
                    done = true
                    isBusy = false
                    completion(bytes)
                case .failure(let error) where error.code.isRetryable:
                    guard thisAttempt == attempt else { return }
                    if let hint = error.leaderHint, let index = servers.firstIndex(of: hint), index != leaderGuess {
                        leaderGuess = index
                    } else {
                        leaderGuess = (leaderGuess + 1) % servers.count
                    }
                    attempt += 1
                    simulation.schedule(after: .milliseconds(5), tryOnce)
                case .failure(let error):
                    done = true
                    isBusy = false
                    finalErrors.append(error)
                }
            }
            simulation.schedule(after: attemptTimeout) { [self] in
                guard !done, thisAttempt == attempt else { return }
                leaderGuess = (leaderGuess + 1) % servers.count
                tryOnce()
            }
        }
        tryOnce()
    }
}
