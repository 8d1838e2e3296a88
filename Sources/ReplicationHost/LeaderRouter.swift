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
/// until the deadline.
package final class LeaderRouter: Sendable {
    package typealias LocalSubmit = @Sendable (ClientRequest) async -> ClientResponse

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
    private let leadsLocally: @Sendable () -> Bool
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
        self.leadsLocally = leadsLocally
        self.local = local
        self.maxIdle = maxIdle
    }

    /// Applies an encoded command exactly once, giving up at `deadline`.
    ///
    /// - Throws: `RaftClientError` (`closed` once ``close()`` was called).
    package func submit(_ command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        let borrowed = state.withLock { state -> Session? in
            guard !state.closed else { return nil }
            return state.idle.popLast() ?? Session(clientID: .random(in: 1...UInt64.max), nextSequence: 1)
        }
        guard var session = borrowed else { throw RaftClientError(.closed, "the node is shutting down") }
        let request = ClientRequest.command(
            Replica.ClientCommand(clientID: session.clientID, sequence: session.nextSequence, command: command)
        )
        // Spent even if the call fails: the group may have applied it.
        session.nextSequence += 1
        defer {
            state.withLock { state in
                if !state.closed && state.idle.count < maxIdle {
                    state.idle.append(session)
                }
            }
        }
        return try await send(request, deadline: deadline)
    }

    /// Applies a command under the client's own id and sequence number, giving up at
    /// `deadline`: a retry of the same pair, through this node or another, is answered from the
    /// group's session table instead of being applied again.
    package func submit(_ command: Replica.ClientCommand, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard !state.withLock({ $0.closed }) else { throw RaftClientError(.closed, "the node is shutting down") }
        return try await send(.command(command), deadline: deadline)
    }

    /// Runs an encoded linearizable query on the leader, giving up at `deadline`.
    package func query(_ query: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await send(.query(query, consistency: .linearizable), deadline: deadline)
    }

    private func send(_ request: ClientRequest, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        if leadsLocally() {
            switch await local(request) {
            case .ok(let bytes):
                return bytes
            case .error(let error) where error.code.isRetryable:
                break
            case .error(let error):
                throw RaftClientError(final: error)
            case .unknownGroup(let message):
                throw RaftClientError(.unknownGroup, message)
            }
        }
        return try await state.withLock { $0.forwarder }.forward(request, deadline: deadline)
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
