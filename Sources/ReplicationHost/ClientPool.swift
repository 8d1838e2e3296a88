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
    private let endpoints: [RaftClient.Endpoint]
    private let group: String
    private let maxIdle: Int
    private let eventLoopGroup: any EventLoopGroup
    private let idle = Mutex<[RaftClient]>([])
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
        // Short attempts: a node that does not answer within 1 s is skipped for the next one.
        RaftClient(
            endpoints: endpoints,
            group: group,
            configuration: RaftClient.Configuration(retryBackoff: .milliseconds(20)),
            eventLoopGroup: eventLoopGroup
        )
    }

    /// Applies an encoded command exactly once, giving up at `deadline`.
    package func submit(_ command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        let client =
            idle.withLock { $0.popLast() }
            ?? Self.makeClient(endpoints: endpoints, group: group, eventLoopGroup: eventLoopGroup)
        let result: Result<[UInt8], any Error>
        do {
            result = .success(try await client.submit(command, deadline: deadline))
        } catch {
            result = .failure(error)
        }
        let kept = idle.withLock { idle in
            guard idle.count < maxIdle else { return false }
            idle.append(client)
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

    /// Closes every idle client and the reader; clients in use close when they are released.
    package func close() async {
        let clients = idle.withLock { idle in
            defer { idle = [] }
            return idle
        }
        for client in clients {
            await client.close()
        }
        await reader.close()
    }
}
