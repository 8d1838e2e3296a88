import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RaftReplica
import RaftSecurity
import RaftTransport
import StateMachineAPI
import Synchronization

/// One attempt ran out of time on its node.
struct AttemptTimedOut: Error, Sendable, CustomStringConvertible {
    var description: String { "no answer within the attempt timeout" }
}

/// The connection failed or broke while a request was waiting on it.
struct ConnectionFailed: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// One TCP connection to one node's client port. Requests are multiplexed by id: many may be
/// in flight, and their answers may come in any order.
final class NodeConnection: Sendable {
    private let channel: any Channel
    private let pending: PendingRequests
    private let codec: FrameCodec
    /// Requests sent from any thread, written together on the channel's loop: one flush for
    /// the requests of a burst (a forwarding node sends many at once).
    private let outbox: EventLoopBatcher<(id: UInt64, frame: ByteBuffer)>

    private init(channel: any Channel, pending: PendingRequests, codec: FrameCodec) {
        self.channel = channel
        self.pending = pending
        self.codec = codec
        self.outbox = EventLoopBatcher(eventLoop: channel.eventLoop) { requests in
            for (id, frame) in requests {
                channel.write(frame).whenFailure { error in
                    pending.complete(id, with: .failure(ConnectionFailed(description: "write failed: \(error)")))
                }
            }
            channel.flush()
        }
    }

    /// Opens a connection; fails after `timeout`.
    static func connect(
        to endpoint: RaftClient.Endpoint,
        eventLoopGroup: any EventLoopGroup,
        codec: FrameCodec,
        timeout: Duration,
        tls: ClientTLS? = nil,
        token: String? = nil,
        logger: Logger
    ) async throws -> NodeConnection {
        let pending = PendingRequests()
        var logger = logger
        logger[metadataKey: "raft.node"] = "\(endpoint)"
        let connectionLogger = logger
        let identityCheck = Mutex<ServerIdentityCheck?>(nil)
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let check = try tls?.addClientHandlers(to: channel) {
                        identityCheck.withLock { $0 = check }
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(FrameDecoder(codec: codec)),
                        ClientResponseHandler(pending: pending, logger: connectionLogger)
                    )
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
        if let check = identityCheck.withLock({ $0 }) {
            // Nothing, not even the token, is written before the server proves to be a node.
            try await check.verify(channel)
        }
        if let token {
            var buffer = channel.allocator.buffer(capacity: 16 + token.utf8.count)
            try codec.encode(.clientCredentials(token: token), into: &buffer)
            // Written before any request, so every request on the connection carries it.
            channel.write(buffer, promise: nil)
        }
        return NodeConnection(channel: channel, pending: pending, codec: codec)
    }

    /// Whether the connection can still carry requests.
    var isOpen: Bool { channel.isActive && !pending.isClosed }

    /// Sends one request and waits for its answer, at most `timeout`.
    ///
    /// - Throws: `AttemptTimedOut`, `ConnectionFailed`, `CancellationError`, or the codec's
    ///   `WireError` when the request is too large to send.
    func request(id: UInt64, group: String, payload: [UInt8], timeout: Duration) async throws -> ClientResponse {
        let buffer = try encode(id: id, group: group, payload: payload)
        let pending = self.pending
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<ClientResponse, any Error>) in
                send(buffer, id: id, timeout: timeout, isCancelled: { Task.isCancelled }) {
                    continuation.resume(with: $0)
                }
            }
        } onCancel: {
            pending.complete(id, with: .failure(CancellationError()))
        }
    }

    /// Sends one request and calls `completion` exactly once with its answer or with
    /// `AttemptTimedOut` or `ConnectionFailed`, from whichever thread settles it; no task.
    ///
    /// - Throws: the codec's `WireError` when the request is too large to send (`completion`
    ///   is then never called).
    func request(
        id: UInt64,
        group: String,
        payload: [UInt8],
        timeout: Duration,
        completion: @escaping @Sendable (Result<ClientResponse, any Error>) -> Void
    ) throws {
        send(try encode(id: id, group: group, payload: payload), id: id, timeout: timeout, completion: completion)
    }

    private func encode(id: UInt64, group: String, payload: [UInt8]) throws -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: 32 + group.utf8.count + payload.count)
        try codec.encode(.clientRequest(id: id, group: group, payload: payload), into: &buffer)
        return buffer
    }

    private func send(
        _ buffer: ByteBuffer,
        id: UInt64,
        timeout: Duration,
        isCancelled: () -> Bool = { false },
        completion: @escaping @Sendable (Result<ClientResponse, any Error>) -> Void
    ) {
        let pending = self.pending
        guard pending.register(id, completion) else { return }
        // Registered first, so neither the timer nor the cancellation check below can fire
        // before there is a waiter to fail.
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            pending.complete(id, with: .failure(AttemptTimedOut()))
        }
        pending.attach(timer, to: id)
        if isCancelled() {
            pending.complete(id, with: .failure(CancellationError()))
            return
        }
        outbox.send((id, buffer))
    }

    // A client dropped without `close()` must not leave sockets open behind it.
    deinit {
        channel.close(promise: nil)
    }

    /// Closes the connection; requests waiting on it fail, and it no longer counts as open.
    func close() {
        pending.closeAll(reason: "closed by the client")
        channel.close(promise: nil)
    }
}

/// The requests waiting for an answer on one connection. Shared by the callers, the timers and
/// the channel handler, hence the lock; no waiter is completed while it is held.
final class PendingRequests: Sendable {
    typealias Completion = @Sendable (Result<ClientResponse, any Error>) -> Void

    private struct Waiter {
        var completion: Completion
        var timer: Scheduled<Void>?
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        /// Set once the connection closed: later requests fail at once.
        var closedReason: String?
    }

    private let state = Mutex(State())

    var isClosed: Bool { state.withLock { $0.closedReason != nil } }

    /// Adds a waiter, or fails it at once (returning false) if the connection is closed.
    func register(_ id: UInt64, _ completion: @escaping Completion) -> Bool {
        let closedReason = state.withLock { state -> String? in
            if let reason = state.closedReason { return reason }
            state.waiters[id] = Waiter(completion: completion)
            return nil
        }
        guard let closedReason else { return true }
        completion(.failure(ConnectionFailed(description: closedReason)))
        return false
    }

    /// Gives a waiter its timeout timer, or cancels the timer if the waiter is already gone.
    func attach(_ timer: Scheduled<Void>, to id: UInt64) {
        let attached = state.withLock { state in
            guard state.waiters[id] != nil else { return false }
            state.waiters[id]?.timer = timer
            return true
        }
        if !attached { timer.cancel() }
    }

    /// Resumes the waiter of `id`, if it still waits. A late answer to an abandoned attempt
    /// finds no waiter and is dropped.
    func complete(_ id: UInt64, with result: Result<ClientResponse, any Error>) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.timer?.cancel()
        waiter.completion(result)
    }

    /// Fails every waiter and every later request.
    func closeAll(reason: String) {
        let waiters = state.withLock { state in
            if state.closedReason == nil { state.closedReason = reason }
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.completion(.failure(ConnectionFailed(description: reason)))
        }
    }
}

/// Hands each response frame to its waiter. Anything a node should never send (a frame that
/// does not decode, another frame type, a payload that is not a `ClientResponse`) closes the
/// connection: its waiters fail and the client retries elsewhere or on a new connection.
final class ClientResponseHandler: ChannelInboundHandler {
    typealias InboundIn = Frame

    private let pending: PendingRequests
    private let logger: Logger

    init(pending: PendingRequests, logger: Logger) {
        self.pending = pending
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .clientResponse(let id, let payload) = unwrapInboundIn(data) else {
            close(context: context, reason: "unexpected frame from a node's client port")
            return
        }
        do {
            pending.complete(id, with: .success(try ClientResponse(decoding: payload)))
        } catch {
            close(context: context, reason: "undecodable client response \(id): \(error)")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context, reason: "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending.closeAll(reason: "connection closed")
        context.fireChannelInactive()
    }

    private func close(context: ChannelHandlerContext, reason: String) {
        logger.warning("closing the connection to a node", metadata: ["raft.reason": "\(reason)"])
        pending.closeAll(reason: reason)
        context.close(promise: nil)
    }
}
