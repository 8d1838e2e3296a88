public import ClusterConfig
public import Logging
public import NIOCore
import NIOPosix
package import RaftReplica
import RaftTransport
import StateMachineAPI
import Synchronization

/// A client of one Raft group: the classic Clerk, generalized to any state machine.
///
/// It sends a group's encoded commands and queries over the native client protocol and keeps
/// trying until a leader answers:
/// - it starts with the first node, then remembers the node that answered last as the leader;
/// - a `notLeader` answer that names a leader sends the next attempt there;
/// - a timeout (``Configuration/attemptTimeout``), a connection error, or `notLeader` without
///   a usable hint moves on to the next node in the list;
/// - after every node failed once in a row, or after `leaderChanged` or `overloaded`, it
///   pauses for ``Configuration/retryBackoff`` before the next attempt.
///
/// A call gives up only at its deadline (``RaftClientError/Code-swift.struct/unavailable``)
/// or on a final answer (`sessionExpired`, `invalidRequest`, unknown group). By default
/// there is no deadline.
///
/// Exactly-once: the client has a random 64-bit id and numbers its commands 1, 2, 3, ...;
/// every retry of a command reuses its number, so the group applies it at most once and
/// answers a retry from its session table. Concurrent ``submit(_:deadline:)`` calls on one
/// client run one after another, in call order, because the group keeps only each client's
/// latest command; use several clients for parallel writes. Queries carry no number and run
/// concurrently.
///
/// One connection per node is opened on first use and replaced when it fails.
public actor RaftClient {
    /// The id the group's session table knows this client by.
    public nonisolated let clientID: UInt64
    /// The group every request goes to.
    public nonisolated let group: String
    /// The nodes, in the order the client tries them.
    public nonisolated let endpoints: [Endpoint]
    /// How the client retries.
    public nonisolated let configuration: Configuration

    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let codec: FrameCodec

    private var nextSequence: UInt64 = 1
    /// Request ids, unique per client (and so per connection), taken with or without the actor.
    private nonisolated let requestIDs = Atomic<UInt64>(1)
    /// The node that answered last and its open connection: where ``forward(_:deadline:reply:)``
    /// sends without a task. Set by the actor on an answer, cleared on a failure there.
    private nonisolated let lastAnswered = Mutex<AnsweringNode?>(nil)
    /// Index into `endpoints` of the node believed to lead.
    private var leader: Int?
    /// Index of the node to try next when no leader is known.
    private var cursor = 0
    private var connections: [Int: Task<NodeConnection, any Error>] = [:]
    private var isClosed = false
    private var commandRunning = false
    private var commandQueue: [CheckedContinuation<Void, Never>] = []

    /// Creates a client of `group` on the nodes at `endpoints`.
    ///
    /// - Parameters:
    ///   - endpoints: every node's client address; not empty, node ids unique.
    ///   - clientID: the session id; random by default. Reuse one only if no other client
    ///     uses it and this one starts after the previous user stopped: its sequence numbers
    ///     restart at 1.
    ///   - eventLoopGroup: where the connections run; NIO's shared singleton group by default.
    ///   - logger: for connection problems; logs nothing by default.
    public init(
        endpoints: [Endpoint],
        group: String,
        configuration: Configuration = Configuration(),
        clientID: UInt64 = .random(in: 1...UInt64.max),
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "RaftClient", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        precondition(!endpoints.isEmpty, "a RaftClient needs at least one endpoint")
        precondition(Set(endpoints.map(\.node)).count == endpoints.count, "endpoint node ids must be unique")
        self.endpoints = endpoints
        self.group = group
        self.configuration = configuration
        self.clientID = clientID
        self.eventLoopGroup = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.codec = FrameCodec(maxFrameSize: configuration.maxFrameSize)
        var logger = logger
        logger[metadataKey: "raft.group"] = "\(group)"
        logger[metadataKey: "raft.client"] = "\(clientID)"
        self.logger = logger
    }

    /// Creates a client of a group of a configured cluster, reaching every node at its
    /// `client` address.
    ///
    /// - Parameter group: the group's name; the first configured group when `nil`.
    public init(
        cluster: ClusterConfiguration,
        group: String? = nil,
        configuration: Configuration = Configuration(),
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "RaftClient", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.init(
            endpoints: cluster.nodes.map(Endpoint.init),
            group: group ?? cluster.groups.first?.name ?? "",
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
    }

    /// Applies an encoded command of the group's state machine exactly once and returns its
    /// encoded response.
    ///
    /// - Parameter deadline: when to give up; `nil` uses ``Configuration/timeout`` from now.
    /// - Throws: ``RaftClientError``; `unavailable` leaves the outcome unknown. Or
    ///   `CancellationError`.
    public func submit(_ command: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws -> [UInt8] {
        let deadline = deadline ?? configuration.timeout.map { ContinuousClock.now + $0 }
        await waitForCommandTurn()
        defer { finishCommandTurn() }
        let sequence = nextSequence
        // Spent even if the call fails: the group may have applied it.
        nextSequence += 1
        let request = ClientRequest.command(
            Replica.ClientCommand(clientID: clientID, sequence: sequence, command: command)
        )
        return try await perform(request.encoded(), deadline: deadline)
    }

    /// Runs an encoded query of the group's state machine and returns its encoded response.
    ///
    /// - Parameters:
    ///   - consistency: `.linearizable` (default) is served by the leader after it confirms
    ///     its leadership; `.stale` by whichever node the client tries (the cached leader, else
    ///     the next in the list), possibly behind.
    ///   - deadline: when to give up; `nil` uses ``Configuration/timeout`` from now.
    /// - Throws: ``RaftClientError`` or `CancellationError`.
    public func query(
        _ query: [UInt8],
        consistency: ReadConsistency = .linearizable,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> [UInt8] {
        let deadline = deadline ?? configuration.timeout.map { ContinuousClock.now + $0 }
        let request = ClientRequest.query(query, consistency: consistency.replicaConsistency)
        return try await perform(request.encoded(), deadline: deadline)
    }

    /// Closes every connection. Calls in progress and later calls fail with
    /// ``RaftClientError/Code-swift.struct/closed``. A client that is released without it
    /// closes its connections then.
    public func close() async {
        isClosed = true
        lastAnswered.withLock { $0 = nil }
        let connections = self.connections
        self.connections = [:]
        for task in connections.values {
            (try? await task.value)?.close()
        }
        let waiting = commandQueue
        commandQueue = []
        for continuation in waiting { continuation.resume() }
    }

    // MARK: - Retrying

    private struct AnsweringNode: Sendable {
        var node: Int
        var connection: NodeConnection
    }

    /// What one attempt on one node came to.
    private enum Outcome {
        case answered([UInt8])
        /// The node named another node as leader.
        case redirect(to: Int)
        /// Worth trying on the same node after a pause.
        case retryLater(String)
        /// Try the next node.
        case moveOn(String)
        case final(RaftClientError)
    }

    /// Sends `payload` until a node answers it, a final answer comes or `deadline` passes.
    /// `earlier` is an attempt already made elsewhere (``forward(_:deadline:reply:)``): the loop
    /// goes on from its outcome, as from one of its own.
    private func perform(
        _ payload: [UInt8],
        deadline: ContinuousClock.Instant?,
        after earlier: (node: Int, outcome: Outcome)? = nil
    ) async throws -> [UInt8] {
        var earlier = earlier
        var failuresInARow = 0
        var lastProblem = "no node tried"
        while true {
            guard !isClosed else { throw RaftClientError(.closed, "the client is closed") }
            try Task.checkCancellation()
            let now = ContinuousClock.now
            var attemptTimeout = configuration.attemptTimeout
            if let deadline {
                guard now < deadline else {
                    throw RaftClientError(
                        .unavailable,
                        "no node of group \(group) answered in time; last: \(lastProblem)"
                    )
                }
                attemptTimeout = min(attemptTimeout, now.duration(to: deadline))
            }
            let node: Int
            let outcome: Outcome
            if let (earlierNode, earlierOutcome) = earlier {
                (node, outcome) = (earlierNode, earlierOutcome)
                earlier = nil
            } else {
                node = leader ?? cursor
                outcome = try await attempt(payload, on: node, timeout: attemptTimeout)
            }
            var pause = false
            switch outcome {
            case .answered(let response):
                leader = node
                return response
            case .redirect(let hinted):
                lastProblem = "\(endpoints[node]) named \(endpoints[hinted]) as leader"
                leader = hinted
            case .retryLater(let problem):
                lastProblem = "\(endpoints[node]): \(problem)"
                leader = node
                pause = true
            case .moveOn(let problem):
                lastProblem = "\(endpoints[node]): \(problem)"
                // Another call may have found the leader meanwhile; keep what it found.
                if leader == node { leader = nil }
                cursor = (node + 1) % endpoints.count
            case .final(let error):
                throw error
            }
            logger.debug("retrying", metadata: ["raft.reason": "\(lastProblem)"])
            failuresInARow += 1
            if failuresInARow >= endpoints.count {
                pause = true
            }
            if pause {
                failuresInARow = 0
                var backoff = configuration.retryBackoff
                if let deadline {
                    backoff = min(backoff, ContinuousClock.now.duration(to: deadline))
                }
                if backoff > .zero {
                    try await Task.sleep(for: backoff)
                }
            }
        }
    }

    private func attempt(_ payload: [UInt8], on node: Int, timeout: Duration) async throws -> Outcome {
        let connection: NodeConnection
        do {
            connection = try await self.connection(to: node, timeout: timeout)
        } catch {
            return .moveOn("cannot connect: \(error)")
        }
        let id = requestIDs.wrappingAdd(1, ordering: .relaxed).oldValue
        let response: ClientResponse
        do {
            response = try await connection.request(id: id, group: group, payload: payload, timeout: timeout)
        } catch let error as CancellationError {
            throw error
        } catch {
            forget(node)
            return outcome(ofFailure: error, on: connection)
        }
        let outcome = outcome(of: response, from: node)
        if case .answered = outcome {
            lastAnswered.withLock { $0 = AnsweringNode(node: node, connection: connection) }
        } else {
            forget(node)
        }
        return outcome
    }

    /// What a node's answer means for the call.
    private nonisolated func outcome(of response: ClientResponse, from node: Int) -> Outcome {
        switch response {
        case .ok(let bytes):
            return .answered(bytes)
        case .unknownGroup(let message):
            return .final(RaftClientError(.unknownGroup, "\(endpoints[node]) does not run group \(group): \(message)"))
        case .error(let error):
            switch error.code.retry {
            case .anotherNode:
                if let hint = error.leaderHint, let hinted = endpoints.firstIndex(where: { $0.node == hint }),
                    hinted != node
                {
                    return .redirect(to: hinted)
                }
                return .moveOn("\(error)")
            case .sameNodeAfterPause:
                return .retryLater("\(error)")
            case nil:
                return .final(RaftClientError(final: error))
            }
        }
    }

    /// What a request that got no answer on `connection` means for the call. A broken
    /// connection is closed: no longer open, it is replaced on the next attempt on its node.
    private nonisolated func outcome(ofFailure error: any Error, on connection: NodeConnection) -> Outcome {
        switch error {
        case let error as AttemptTimedOut:
            // The connection may be fine and the node merely slow or paused: keep it.
            return .moveOn("\(error)")
        case let error as WireError:
            return .final(RaftClientError(.invalidRequest, "cannot send the request: \(error)", cause: error))
        default:
            connection.close()
            return .moveOn("\(error)")
        }
    }

    /// No longer sends to `node` without the actor, until it answers again.
    private nonisolated func forget(_ node: Int) {
        lastAnswered.withLock { answering in
            if answering?.node == node { answering = nil }
        }
    }

    // MARK: - Connections

    private func connection(to node: Int, timeout: Duration) async throws -> NodeConnection {
        if let existing = connections[node] {
            if let connection = try? await existing.value, connection.isOpen {
                return connection
            }
            if let current = connections[node], current != existing {
                // Another call replaced it while this one waited.
                return try await current.value
            }
            connections[node] = nil
        }
        let endpoint = endpoints[node]
        let eventLoopGroup = self.eventLoopGroup
        let codec = self.codec
        let logger = self.logger
        let configuration = self.configuration
        let task = Task {
            try await NodeConnection.connect(
                to: endpoint,
                eventLoopGroup: eventLoopGroup,
                codec: codec,
                timeout: timeout,
                tls: configuration.tls,
                token: configuration.token,
                logger: logger
            )
        }
        connections[node] = task
        let connection = try await task.value
        if isClosed {
            connection.close()
            throw RaftClientError(.closed, "the client is closed")
        }
        return connection
    }

    // MARK: - One command at a time

    private func waitForCommandTurn() async {
        guard commandRunning else {
            commandRunning = true
            return
        }
        await withCheckedContinuation { commandQueue.append($0) }
    }

    /// Hands the turn to the next waiting command, in call order.
    private func finishCommandTurn() {
        if commandQueue.isEmpty {
            commandRunning = false
        } else {
            commandQueue.removeFirst().resume()
        }
    }
}

extension RaftClient {
    /// Sends a request built by the caller (a command with the caller's own client id and
    /// sequence number, or a query) with this client's leader discovery and retries, and returns
    /// the group's encoded answer.
    ///
    /// For a host forwarding requests it received: unlike ``submit(_:deadline:)`` it does not
    /// number or serialize commands, so the caller keeps at most one command per client id in
    /// flight and retries a command only with its original sequence number.
    package func forward(_ request: ClientRequest, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await perform(request.encoded(), deadline: deadline)
    }

    /// ``forward(_:deadline:)`` with a callback, called exactly once from whichever thread
    /// settles the call. While the node that answered last keeps answering, the request goes
    /// to it over its open connection without a task or the actor; anything else (no such
    /// node, `notLeader`, a timeout, a broken connection) hands the same request to the
    /// actor's retry loop in a task, so a command keeps its sequence number.
    package nonisolated func forward(
        _ request: ClientRequest,
        deadline: ContinuousClock.Instant,
        reply: @escaping @Sendable (Result<[UInt8], any Error>) -> Void
    ) {
        let payload = request.encoded()
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard let answering = lastAnswered.withLock({ $0 }), answering.connection.isOpen, remaining > .zero else {
            return performInTask(payload, deadline: deadline, reply: reply)
        }
        let id = requestIDs.wrappingAdd(1, ordering: .relaxed).oldValue
        let node = answering.node
        @Sendable func settle(_ outcome: Outcome) {
            switch outcome {
            case .answered(let bytes):
                reply(.success(bytes))
            case .final(let error):
                reply(.failure(error))
            case .redirect, .retryLater, .moveOn:
                forget(node)
                performInTask(payload, deadline: deadline, after: (node, outcome), reply: reply)
            }
        }
        do {
            try answering.connection.request(
                id: id,
                group: group,
                payload: payload,
                timeout: min(configuration.attemptTimeout, remaining)
            ) { result in
                switch result {
                case .success(let response): settle(self.outcome(of: response, from: node))
                case .failure(let error): settle(self.outcome(ofFailure: error, on: answering.connection))
                }
            }
        } catch {
            // A request that cannot be encoded: final, as on the actor's path.
            settle(outcome(ofFailure: error, on: answering.connection))
        }
    }

    private nonisolated func performInTask(
        _ payload: [UInt8],
        deadline: ContinuousClock.Instant,
        after earlier: (node: Int, outcome: Outcome)? = nil,
        reply: @escaping @Sendable (Result<[UInt8], any Error>) -> Void
    ) {
        Task {
            do {
                reply(.success(try await perform(payload, deadline: deadline, after: earlier)))
            } catch {
                reply(.failure(error))
            }
        }
    }
}
