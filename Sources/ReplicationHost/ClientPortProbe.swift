package import NIOCore
import NIOPosix
import NIOSSL
import RaftCore
package import RaftReplica
package import RaftSecurity
import RaftTransport
import StateMachineAPI

/// A one-request client of the native client port, for `rafthost up` and the host's tests (the
/// full client, with leader discovery and retries, is `RaftClient`).
package enum ClientPortProbe {
    /// What a node said about its leadership of a group.
    package enum Leadership: Sendable, Hashable {
        /// The node leads the group and confirmed it with a heartbeat round.
        case leader
        /// The node does not lead.
        case follower
        /// No answer: the node is down, starting, or cannot tell yet.
        case unknown
    }

    package struct Timeout: Error, CustomStringConvertible {
        package var description: String { "no answer in time" }
    }

    /// Sends one request on a new connection and returns the answer.
    package static func send(
        _ request: ClientRequest,
        group: String,
        host: String,
        port: Int,
        timeout: Duration,
        tls: ClientTLS? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ClientResponse {
        try await withThrowingTaskGroup(of: ClientResponse.self) { tasks in
            tasks.addTask {
                try await exchange(
                    request,
                    group: group,
                    host: host,
                    port: port,
                    tls: tls,
                    eventLoopGroup: eventLoopGroup
                )
            }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                throw Timeout()
            }
            defer { tasks.cancelAll() }
            guard let response = try await tasks.next() else { throw Timeout() }
            return response
        }
    }

    /// Asks whether the node at `host:port` leads `group`, with a linearizable read of an empty
    /// query: a leader answers it only after a heartbeat round confirmed its leadership (with the
    /// plugin's answer or, as an empty query rarely decodes, `invalidRequest`); any other node
    /// answers `notLeader` with its hint.
    package static func leadership(
        of group: String,
        host: String,
        port: Int,
        timeout: Duration,
        tls: ClientTLS? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async -> Leadership {
        let response: ClientResponse
        do {
            response = try await send(
                .query([], consistency: .linearizable),
                group: group,
                host: host,
                port: port,
                timeout: timeout,
                tls: tls,
                eventLoopGroup: eventLoopGroup
            )
        } catch {
            return .unknown
        }
        switch response {
        case .ok:
            return .leader
        case .error(let error) where error.code == .notLeader:
            return .follower
        case .error(let error) where error.code.isRetryable:
            return .unknown
        case .error(let error) where error.code == .unauthenticated || error.code == .forbidden:
            return .unknown
        case .error:
            return .leader
        case .unknownGroup:
            return .unknown
        }
    }

    private struct UnexpectedAnswer: Error, CustomStringConvertible {
        var description: String
    }

    private static func exchange(
        _ request: ClientRequest,
        group: String,
        host: String,
        port: Int,
        tls: ClientTLS?,
        eventLoopGroup: any EventLoopGroup
    ) async throws -> ClientResponse {
        let codec = FrameCodec()
        let (channel, identityCheck) = try await ClientBootstrap(group: eventLoopGroup)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let check = try tls?.addClientHandlers(to: channel)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
                    return (try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel), check)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await identityCheck?.verify(channel.channel)
            var buffer = channel.channel.allocator.buffer(capacity: 64)
            try codec.encode(.clientRequest(id: 1, group: group, payload: request.encoded()), into: &buffer)
            try await outbound.write(buffer)
            for try await frame in inbound {
                guard case .clientResponse(1, let payload) = frame else {
                    throw UnexpectedAnswer(description: "unexpected frame \(frame)")
                }
                return try ClientResponse(decoding: payload)
            }
            throw UnexpectedAnswer(description: "the node closed the connection without answering")
        }
    }
}
