package import NIOCore
package import RaftClient
import Synchronization

/// `RaftClient`s of one group that the HTTP API sends commands and linearizable reads
/// through, so that a request reaching any node is forwarded to the leader with the client's
/// leader discovery and exactly-once retries.
///
/// A `RaftClient` runs its commands one at a time (the group's session table keeps each
/// client's latest command only), so every command borrows a client of its own for its
/// duration: a new one when none is idle. Up to `maxIdle` clients are kept for reuse, which
/// bounds both the connections and the sessions the HTTP API creates under steady load.
/// Queries carry no sequence number and share one client.
package final class ClientPool: Sendable {
    private struct State {
        var idle: [RaftClient] = []
        var busy: [ObjectIdentifier: RaftClient] = [:]
        var closed = false
    }

    private let endpoints: [RaftClient.Endpoint]
    private let group: String
    private let maxIdle: Int
    private let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State())
    private let reader: RaftClient

    package init(endpoints: [RaftClient.Endpoint], group: String, maxIdle: Int = 64, eventLoopGroup: any EventLoopGroup)
    {
        self.endpoints = endpoints
        self.group = group
        self.maxIdle = maxIdle
        self.eventLoopGroup = eventLoopGroup
        self.reader = Self.makeClient(endpoints: endpoints, group: group, eventLoopGroup: eventLoopGroup)
    }

    private static func makeClient(
        endpoints: [RaftClient.Endpoint], group: String, eventLoopGroup: any EventLoopGroup
    ) -> RaftClient {
        // A shorter pause than the default between rounds of retries: an HTTP request has only
        // `requestTimeout` to find a new leader.
        RaftClient(
            endpoints: endpoints,
            group: group,
            configuration: RaftClient.Configuration(retryBackoff: .milliseconds(20)),
            eventLoopGroup: eventLoopGroup
        )
    }

    /// Applies an encoded command exactly once, giving up at `deadline`.
    ///
    /// - Throws: `RaftClientError` (`closed` once ``close()`` was called).
    package func submit(_ command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        let borrowed = state.withLock { state -> RaftClient? in
            guard !state.closed else { return nil }
            let client =
                state.idle.popLast()
                ?? Self.makeClient(endpoints: endpoints, group: group, eventLoopGroup: eventLoopGroup)
            state.busy[ObjectIdentifier(client)] = client
            return client
        }
        guard let client = borrowed else { throw RaftClientError(.closed, "the node is shutting down") }
        let result: Result<[UInt8], any Error>
        do {
            result = .success(try await client.submit(command, deadline: deadline))
        } catch {
            result = .failure(error)
        }
        let kept = state.withLock { state in
            state.busy[ObjectIdentifier(client)] = nil
            guard !state.closed, state.idle.count < maxIdle else { return false }
            state.idle.append(client)
            return true
        }
        if !kept {
            await client.close()
        }
        return try result.get()
    }

    /// Runs an encoded linearizable query on the leader, giving up at `deadline`.
    package func query(_ query: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await reader.query(query, consistency: .linearizable, deadline: deadline)
    }

    /// Closes every client, idle or in use (calls in progress fail with `closed`), and the
    /// reader; later calls fail with `closed`.
    package func close() async {
        let clients = state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.busy = [:]
            }
            return state.idle + state.busy.values
        }
        for client in clients {
            await client.close()
        }
        await reader.close()
    }
}
