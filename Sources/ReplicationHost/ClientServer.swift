import ClusterConfig
package import Logging
package import NIOCore
import NIOSSL
import RaftReplica
package import RaftSecurity
import RaftTransport
import StateMachineAPI

/// The native client port of a node: `clientRequest` frames in, `clientResponse` frames out.
///
/// Many requests may be in flight on one connection; each answer carries its request's id and
/// answers leave in the order they finish. A request for a group the node does not run is
/// answered with `unknownGroup`. A malformed, truncated or oversized frame, or a frame that is
/// not a client request, closes that connection with a logged reason; the others carry on.
package final class ClientServer: Sendable {
    private typealias Connection = NIOAsyncChannel<Frame, ByteBuffer>

    /// The listening socket: bind it before ``run()``; stop it through it.
    let listener: TCPListener<NIOAsyncChannel<Frame, ByteBuffer>>
    private let executors: [String: GroupExecutor]
    private let codec: FrameCodec
    private let logger: Logger
    private let access: AccessPolicy

    package init(
        host: String,
        port: Int,
        executors: [String: GroupExecutor],
        maxFrameSize: Int,
        eventLoopGroup: any EventLoopGroup,
        tls: TLSContextSource? = nil,
        access: AccessPolicy = AccessPolicy(auth: nil, nodes: []),
        logger: Logger
    ) {
        let codec = FrameCodec(maxFrameSize: maxFrameSize)
        let limiter = PortGuard.Limiter()
        self.listener = TCPListener(host: host, port: port, eventLoopGroup: eventLoopGroup) { channel in
            try channel.pipeline.syncOperations.addSecurityHandlers(
                tls: tls,
                port: "client",
                limiter: limiter,
                logger: logger
            )
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
            return try Connection(wrappingChannelSynchronously: channel)
        }
        self.executors = executors
        self.codec = codec
        self.logger = logger
        self.access = access
    }

    /// Accepts and serves connections until the listener's `stopAccepting()` and
    /// `closeConnections()` have both been called.
    package func run() async throws {
        try await listener.run { await self.serve($0) }
    }

    private struct ProtocolViolation: Error, CustomStringConvertible {
        var description: String
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        var logger = logger
        logger[metadataKey: "client.remote"] = "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await serve(inbound: inbound, outbound: outbound, channel: channel)
            }
        } catch {
            logger.warning("closing client connection: \(error)")
        }
    }

    private func serve(
        inbound: NIOAsyncChannelInboundStream<Frame>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        channel: any Channel
    ) async throws {
        let allocator = channel.allocator
        // Who the connection speaks for: its certificate, or the token it sent last.
        var identities: [CertificateIdentity]?
        var token: String?
        // Answers finish on the executors in any order; one writer per connection sends them.
        let (answers, answersContinuation) = AsyncStream.makeStream(of: Frame.self)
        let codec = codec
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await frame in answers {
                    var buffer = allocator.buffer(capacity: 64)
                    try codec.encode(frame, into: &buffer)
                    try await outbound.write(buffer)
                }
            }
            defer { answersContinuation.finish() }
            for try await frame in inbound {
                if case .clientCredentials(let sent) = frame {
                    token = sent
                    continue
                }
                guard case .clientRequest(let id, let groupName, let payload) = frame else {
                    throw ProtocolViolation(description: "expected a client request frame, got \(frame.kindName)")
                }
                let reply: GroupExecutor.Reply = { response in
                    answersContinuation.yield(.clientResponse(id: id, payload: response.encoded()))
                }
                guard let executor = executors[groupName] else {
                    reply(.unknownGroup("this cluster has no group named \"\(groupName)\""))
                    continue
                }
                let request: ClientRequest
                do {
                    request = try ClientRequest(decoding: payload)
                } catch {
                    // The frame itself was sound, so the client can be told what is wrong.
                    reply(.error(ReplicaError(.invalidRequest, "undecodable client request: \(error)")))
                    continue
                }
                if access.isEnabled {
                    if identities == nil {
                        identities = await channel.peerIdentities()
                    }
                    let principal = access.authenticate(token: token, identities: identities ?? [])
                    let needed: ClusterConfiguration.Role
                    switch request {
                    case .command(let command): needed = AccessPolicy.role(forCommand: command.command)
                    case .query: needed = .read
                    }
                    switch AccessPolicy.decide(principal, needs: needed) {
                    case .allowed:
                        break
                    case .unauthenticated(let reason):
                        reply(.error(ReplicaError(.unauthenticated, reason)))
                        continue
                    case .forbidden(let reason):
                        reply(.error(ReplicaError(.forbidden, reason)))
                        continue
                    }
                }
                executor.submit(request, reply: reply)
            }
        }
    }
}
