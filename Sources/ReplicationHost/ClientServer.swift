package import Logging
package import NIOCore
import NIOPosix
import RaftReplica
import RaftTransport
import StateMachineAPI
import Synchronization

/// The native client port of a node: `clientRequest` frames in, `clientResponse` frames out.
///
/// Many requests may be in flight on one connection; each answer carries its request's id and
/// answers leave in the order they finish. A request for a group the node does not run is
/// answered with `unknownGroup`. A malformed, truncated or oversized frame, or a frame that is
/// not a client request, closes that connection with a logged reason; the others carry on.
package final class ClientServer: Sendable {
    private typealias Listener = NIOAsyncChannel<NIOAsyncChannel<Frame, ByteBuffer>, Never>

    private struct State {
        var listener: Listener?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let host: String
    private let port: Int
    private let executors: [String: GroupExecutor]
    private let codec: FrameCodec
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    package init(
        host: String,
        port: Int,
        executors: [String: GroupExecutor],
        maxFrameSize: Int,
        eventLoopGroup: any EventLoopGroup,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.executors = executors
        self.codec = FrameCodec(maxFrameSize: maxFrameSize)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Binds the listening socket and returns its port (useful with port 0).
    package func bind() async throws -> Int {
        let codec = codec
        let listener: Listener = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
                    return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let closeAtOnce = state.withLock { state in
            state.listener = listener
            return state.closed
        }
        if closeAtOnce {
            listener.channel.close(promise: nil)
        }
        return listener.channel.localAddress?.port ?? port
    }

    /// Accepts and serves connections until ``stopAccepting()`` and ``closeConnections()``
    /// have both been called.
    package func run() async throws {
        guard let listener = state.withLock({ $0.listener }) else {
            preconditionFailure("ClientServer.run() before bind()")
        }
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    /// Closes the listening socket; connections already open keep being served.
    package func stopAccepting() {
        let listener = state.withLock { state in
            state.closed = true
            return state.listener
        }
        listener?.channel.close(promise: nil)
    }

    /// Closes every open connection (after the executors answered what was in flight).
    package func closeConnections() {
        let connections = state.withLock { state in
            state.closed = true
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
        for connection in connections {
            connection.close(promise: nil)
        }
    }

    private struct ProtocolViolation: Error, CustomStringConvertible {
        var description: String
    }

    private func serve(_ connection: NIOAsyncChannel<Frame, ByteBuffer>) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let accepted = state.withLock { state in
            if !state.closed { state.connections[key] = channel }
            return !state.closed
        }
        guard accepted else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        defer { _ = state.withLock { $0.connections.removeValue(forKey: key) } }
        var logger = logger
        logger[metadataKey: "client.remote"] = "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await serve(inbound: inbound, outbound: outbound, allocator: channel.allocator)
            }
        } catch {
            logger.warning("closing client connection: \(error)")
        }
    }

    private func serve(
        inbound: NIOAsyncChannelInboundStream<Frame>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        allocator: ByteBufferAllocator
    ) async throws {
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
                guard case .clientRequest(let id, let groupName, let payload) = frame else {
                    throw ProtocolViolation(description: "expected a client request frame, got \(frameKind(frame))")
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
                executor.submit(request, reply: reply)
            }
        }
    }

    private func frameKind(_ frame: Frame) -> String {
        switch frame {
        case .handshake: "handshake"
        case .handshakeAccept: "handshakeAccept"
        case .handshakeReject: "handshakeReject"
        case .raft: "raft"
        case .clientRequest: "clientRequest"
        case .clientResponse: "clientResponse"
        }
    }
}
