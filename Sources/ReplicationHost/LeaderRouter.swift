package import RaftClient
package import RaftReplica
import Synchronization

/// Routes the HTTP API's requests of one group to its leader: this node's executor when it
/// leads, else the leader through a `RaftClient` over the native client ports.
///
/// Commands carry a session's client id and sequence number. Each command borrows a session
/// (a new one when none is idle) for its whole life, so a session never has two commands in
/// flight, and every retry of a command, local or forwarded, reuses its number: the group
/// applies it at most once. Up to `maxIdle` sessions are kept for reuse, which bounds the
/// sessions the API adds to the group's session table under steady load.
///
/// A command or linearizable read first goes to the local executor when this node leads;
/// a retryable answer (leadership lost meanwhile, or the request timed out there) sends the
/// same request on through the client, which finds the leader, follows its hints and retries
/// until the deadline. The entries with a `reply` callback do the same for a caller on an event
/// loop: no task unless the forwarded request has to look for the leader.
package final class LeaderRouter: Sendable {
    /// Hands a request to this node's executor of the group; the reply is called exactly once.
    package typealias LocalSubmit = @Sendable (ClientRequest, @escaping @Sendable (ClientResponse) -> Void) -> Void
    package typealias Reply = @Sendable (Result<[UInt8], any Error>) -> Void

    private struct Session {
        var clientID: UInt64
        var nextSequence: UInt64
    }

    private struct State {
        var idle: [Session] = []
        var closed = false
        var forwarder: RaftClient
        /// Replaced clients, closed with this router (a call may still use one).
        var retired: [RaftClient] = []
    }

    /// Makes the client that reaches `endpoints` (a membership change brings new ones).
    private let makeForwarder: @Sendable ([RaftClient.Endpoint]) -> RaftClient
    private let isLeader: @Sendable () -> Bool
    private let local: LocalSubmit
    private let maxIdle: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - forwarder: a client of the group reaching every node's client port.
    ///   - leadsLocally: whether this node currently leads the group.
    ///   - local: hands a request to this node's executor of the group.
    package init(
        forwarder: RaftClient,
        makeForwarder: @escaping @Sendable ([RaftClient.Endpoint]) -> RaftClient = { _ in
            preconditionFailure("this router's endpoints are fixed")
        },
        leadsLocally: @escaping @Sendable () -> Bool,
        local: @escaping LocalSubmit,
        maxIdle: Int = 64
    ) {
        self.makeForwarder = makeForwarder
        self.state = Mutex(State(forwarder: forwarder))
        self.isLeader = leadsLocally
        self.local = local
        self.maxIdle = maxIdle
    }

    /// Whether this node leads the group now.
    package var leadsLocally: Bool { isLeader() }

    /// Applies an encoded command exactly once, giving up at `deadline`.
    ///
    /// - Throws: `RaftClientError` (`closed` once ``close()`` was called).
    package func submit(_ command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard let (session, request) = borrowSession(for: command) else { throw Self.closedError }
        defer { giveBack(session) }
        return try await send(request, deadline: deadline)
    }

    /// `submit` with a callback: `reply` is called exactly once, from the local executor when
    /// it answers, else from the task that forwards the command.
    package func submit(_ command: [UInt8], deadline: ContinuousClock.Instant, reply: @escaping Reply) {
        guard let (session, request) = borrowSession(for: command) else { return reply(.failure(Self.closedError)) }
        send(request, deadline: deadline) { result in
            self.giveBack(session)
            reply(result)
        }
    }

    /// Applies a command under the client's own id and sequence number, giving up at
    /// `deadline`: a retry of the same pair, through this node or another, is answered from the
    /// group's session table instead of being applied again.
    package func submit(_ command: Replica.ClientCommand, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard !state.withLock({ $0.closed }) else { throw Self.closedError }
        return try await send(.command(command), deadline: deadline)
    }

    /// The client-session `submit` with a callback, called as for an encoded command.
    package func submit(_ command: Replica.ClientCommand, deadline: ContinuousClock.Instant, reply: @escaping Reply) {
        guard !state.withLock({ $0.closed }) else { return reply(.failure(Self.closedError)) }
        send(.command(command), deadline: deadline, reply: reply)
    }

    /// Runs an encoded linearizable query on the leader, giving up at `deadline`.
    package func query(_ query: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await send(.query(query, consistency: .linearizable), deadline: deadline)
    }

    /// ``query(_:deadline:)`` with a callback, called as for a command.
    package func query(_ query: [UInt8], deadline: ContinuousClock.Instant, reply: @escaping Reply) {
        send(.query(query, consistency: .linearizable), deadline: deadline, reply: reply)
    }

    /// Runs an encoded query on this node's own executor, however far behind the leader it is
    /// (a stale read): no leader is involved, and nothing is forwarded or retried. `reply` is
    /// called exactly once, from the executor.
    package func staleQuery(_ query: [UInt8], reply: @escaping Reply) {
        local(.query(query, consistency: .stale)) { response in
            switch response {
            case .ok(let bytes): reply(.success(bytes))
            case .error(let error): reply(.failure(error))
            case .unknownGroup(let message): reply(.failure(RaftClientError(.unknownGroup, message)))
            }
        }
    }

    private static var closedError: RaftClientError { RaftClientError(.closed, "the node is shutting down") }

    /// A session for one command (a new one when none is idle) and the command under its next
    /// sequence number; nil once closed.
    private func borrowSession(for command: [UInt8]) -> (Session, ClientRequest)? {
        let borrowed = state.withLock { state -> Session? in
            guard !state.closed else { return nil }
            return state.idle.popLast() ?? Session(clientID: .random(in: 1...UInt64.max), nextSequence: 1)
        }
        guard var session = borrowed else { return nil }
        let request = ClientRequest.command(
            Replica.ClientCommand(clientID: session.clientID, sequence: session.nextSequence, command: command)
        )
        // Spent even if the call fails: the group may have applied it.
        session.nextSequence += 1
        return (session, request)
    }

    /// Keeps a session whose command is finished for the next one, up to `maxIdle`.
    private func giveBack(_ session: Session) {
        state.withLock { state in
            if !state.closed && state.idle.count < maxIdle {
                state.idle.append(session)
            }
        }
    }

    /// What the local executor's answer leaves to do.
    private enum LocalOutcome {
        case done(Result<[UInt8], any Error>)
        /// Retryable (leadership lost, or timed out there): the same request goes to the leader.
        case forward
    }

    private static func outcome(of response: ClientResponse) -> LocalOutcome {
        switch response {
        case .ok(let bytes): .done(.success(bytes))
        case .error(let error) where error.code.isRetryable: .forward
        case .error(let error): .done(.failure(RaftClientError(final: error)))
        case .unknownGroup(let message): .done(.failure(RaftClientError(.unknownGroup, message)))
        }
    }

    private func send(_ request: ClientRequest, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        if isLeader() {
            let response = await withCheckedContinuation { continuation in
                local(request) { continuation.resume(returning: $0) }
            }
            if case .done(let result) = Self.outcome(of: response) { return try result.get() }
        }
        return try await state.withLock { $0.forwarder }.forward(request, deadline: deadline)
    }

    private func send(_ request: ClientRequest, deadline: ContinuousClock.Instant, reply: @escaping Reply) {
        guard isLeader() else { return forward(request, deadline: deadline, reply: reply) }
        local(request) { response in
            switch Self.outcome(of: response) {
            case .done(let result): reply(result)
            case .forward: self.forward(request, deadline: deadline, reply: reply)
            }
        }
    }

    /// The same request through the client: straight to the leader it last reached, without a
    /// task; in a task that finds the leader when that fails.
    private func forward(_ request: ClientRequest, deadline: ContinuousClock.Instant, reply: @escaping Reply) {
        state.withLock { $0.forwarder }.forward(request, deadline: deadline, reply: reply)
    }

    /// Forwards through the client ports at `endpoints` from now on (calls in progress finish
    /// on the previous client). Nothing changes when they are the ones in use.
    package func updateEndpoints(_ endpoints: [RaftClient.Endpoint]) {
        state.withLock { state in
            guard !state.closed, Set(state.forwarder.endpoints) != Set(endpoints) else { return }
            state.retired.append(state.forwarder)
            state.forwarder = makeForwarder(endpoints)
        }
    }

    /// Closes the client: calls in progress fail with `closed`, and so do later calls.
    package func close() async {
        let clients = state.withLock { state in
            state.closed = true
            return [state.forwarder] + state.retired
        }
        for client in clients {
            await client.close()
        }
    }
}
