public import Logging
public import NIOCore
public import NIOPosix
public import RaftCore
import NIOSSL
import RaftSecurity
import Synchronization

/// The TCP transport between the nodes of a cluster, on SwiftNIO.
///
/// Each node listens for peers and dials every peer it knows once: the dialled connection
/// carries this node's messages to that peer for every group (groups are multiplexed by
/// `GroupID`), and the accepted connections carry the peers' messages here. So a pair of nodes
/// has one connection per direction, each opened by its sender, and each side reconnects
/// what it dialled, with exponential backoff and jitter.
///
/// `send` never waits: messages go into a bounded queue per peer (oldest dropped and counted
/// when full), and a per-peer writer takes the whole queue at once, encodes it into one buffer
/// and writes and flushes it once. A connection that sends a malformed, truncated or oversized
/// frame, or fails the handshake, is closed with a logged reason; the others carry on.
///
/// Start it with `start()` (or `run()` inside a structured task, e.g. as a service) and stop it
/// with `shutdown()` (or by cancelling `run()`); both close every connection and finish the
/// inboxes.
public final class NIOPeerTransport: PeerTransport {
    public let localNode: NodeID

    private let configuration: NIOPeerTransportConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let codec: FrameCodec
    private let identity: PeerConnectionStateMachine.Identity
    private let registry: InboxRegistry
    /// New peer links, consumed by the running transport, which gives each a task.
    private let newLinks: AsyncStream<PeerLink>
    private let newLinksContinuation: AsyncStream<PeerLink>.Continuation

    private enum Lifecycle {
        case idle
        case starting
        case running(Task<Void, Never>?)
        case shutDown
    }

    private struct State {
        var lifecycle: Lifecycle = .idle
        var links: [NodeID: PeerLink] = [:]
        /// Accepted connections, closed at shutdown.
        var accepted: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Mutex(State())
    /// Limits the lines logged for connections speaking TLS to a plaintext port or the reverse.
    private let portGuardLimiter = PortGuard.Limiter()

    /// - Parameters:
    ///   - configuration: identity, addresses and limits.
    ///   - eventLoopGroup: where the sockets live; NIO's shared group by default.
    ///   - logger: used for connection events, with `raft.peer` and `raft.group` metadata.
    public init(
        configuration: NIOPeerTransportConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.localNode = configuration.localNode
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.codec = FrameCodec(maxFrameSize: configuration.maxFrameSize)
        self.identity = .init(
            clusterName: configuration.clusterName,
            node: configuration.localNode,
            groups: configuration.groups
        )
        self.registry = InboxRegistry(capacity: configuration.inboxCapacity)
        (newLinks, newLinksContinuation) = AsyncStream.makeStream(of: PeerLink.self)
        for (node, address) in configuration.peers {
            setPeerAddress(address, for: node)
        }
    }

    // MARK: PeerTransport

    public func send(_ messages: [Message], group: GroupID) {
        let links = state.withLock { $0.links }
        var byPeer: [NodeID: [Message]] = [:]
        for message in messages {
            byPeer[message.to, default: []].append(message)
        }
        for (peer, batch) in byPeer {
            if peer == localNode {
                for message in batch {
                    registry.deliver(message, group: group)
                }
                continue
            }
            let dropped = links[peer]?.queue.enqueue(batch, group: group) ?? batch.count
            if dropped > 0 {
                registry.update { statistics in
                    statistics.outboundDropped += UInt64(dropped)
                    statistics.outboundDroppedByPeer[peer, default: 0] += UInt64(dropped)
                }
            }
        }
    }

    public func inbox(for group: GroupID) -> AsyncStream<Message> {
        registry.inbox(for: group)
    }

    public func statistics() -> TransportStatistics {
        registry.statistics()
    }

    public func pingPeers() {
        for link in state.withLock({ Array($0.links.values) }) {
            link.queue.enqueuePing()
        }
    }

    public func lastPings() -> [NodeID: ContinuousClock.Instant] {
        registry.lastPings()
    }

    // MARK: Peers

    /// Adds a peer or changes its address. The next connection attempt uses the new address;
    /// an established connection stays up until it fails.
    public func setPeerAddress(_ address: PeerAddress, for node: NodeID) {
        guard node != localNode else { return }
        let newLink: PeerLink? = state.withLock { state in
            if case .shutDown = state.lifecycle { return nil }
            if let link = state.links[node] {
                link.address.withLock { $0 = address }
                return nil
            }
            let link = PeerLink(node: node, address: address, queueCapacity: configuration.outboundQueueCapacity)
            state.links[node] = link
            return link
        }
        if let newLink {
            newLinksContinuation.yield(newLink)
        }
    }

    // MARK: Lifecycle

    /// Binds the listener and starts accepting and dialling peers in the background.
    ///
    /// - Returns: the bound address (useful with port 0).
    @discardableResult
    public func start() async throws -> PeerAddress {
        try claimStart()
        let server: any Channel
        do {
            server = try await bind()
        } catch {
            state.withLock { $0.lifecycle = .idle }
            throw error
        }
        let task = Task { await self.serve(server) }
        let stopNow = state.withLock { state -> Bool in
            if case .shutDown = state.lifecycle { return true }
            state.lifecycle = .running(task)
            return false
        }
        if stopNow {
            task.cancel()
            await task.value
        }
        return PeerAddress(host: configuration.listenAddress.host, port: server.localAddress?.port ?? 0)
    }

    /// Runs the transport until the calling task is cancelled or `shutdown()` is called (the
    /// latter is the graceful way, e.g. from a service lifecycle's graceful shutdown), then
    /// closes every connection and finishes the inboxes before returning.
    public func run() async throws {
        try claimStart()
        let server: any Channel
        do {
            server = try await bind()
        } catch {
            state.withLock { $0.lifecycle = .idle }
            throw error
        }
        state.withLock { state in
            if case .starting = state.lifecycle {
                state.lifecycle = .running(nil)
            }
        }
        await serve(server)
    }

    /// Closes the listener and every connection and finishes the inboxes. After `start()`, it
    /// returns when all of the transport's tasks have ended; a `run()` in progress is told to
    /// stop and returns once it has cleaned up. Later sends are dropped.
    public func shutdown() async {
        let task: Task<Void, Never>? = state.withLock { state in
            defer { state.lifecycle = .shutDown }
            if case .running(let task) = state.lifecycle { return task }
            return nil
        }
        newLinksContinuation.finish()
        if let task {
            task.cancel()
            await task.value
        }
        registry.close()
    }

    private func claimStart() throws {
        try state.withLock { state in
            guard case .idle = state.lifecycle else {
                throw TransportLifecycleError(message: "NIOPeerTransport can only be started once")
            }
            state.lifecycle = .starting
        }
    }

    private typealias Connection = NIOAsyncChannel<Frame, ByteBuffer>

    private func bind() async throws -> any Channel {
        let socket = try makeCloseOnExecListeningSocket(
            host: configuration.listenAddress.host,
            port: configuration.listenAddress.port
        )
        return try await ServerBootstrap(group: eventLoopGroup)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.acceptConnection(channel)
                }
            }
            .withBoundSocket(socket)
            .get()
    }

    /// Sets up an accepted connection's pipeline (on its event loop) and tracks it for shutdown.
    private func acceptConnection(_ channel: any Channel) throws {
        let id = ObjectIdentifier(channel)
        let (open, knownPeers) = state.withLock { state -> (Bool, Set<NodeID>) in
            if case .shutDown = state.lifecycle { return (false, []) }
            state.accepted[id] = channel
            return (true, Set(state.links.keys))
        }
        guard open else {
            throw TransportLifecycleError(message: "the transport is shutting down")
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLock { $0.accepted.removeValue(forKey: id) }
        }
        let tls = configuration.tls
        try channel.pipeline.syncOperations.addHandler(
            PortGuard(expectsTLS: tls != nil, port: "peer", logger: logger, limiter: portGuardLimiter)
        )
        if let tls {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.contexts.peerServer.context))
        }
        try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(FrameDecoder(codec: codec)),
            InboundPeerHandler(
                machine: .acceptor(identity: identity, knownPeers: knownPeers),
                codec: codec,
                registry: registry,
                handshakeTimeout: TimeAmount(configuration.handshakeTimeout),
                tls: tls,
                logger: logger
            )
        )
    }

    /// Runs the peer links until cancelled, then closes the listener and every connection.
    private func serve(_ server: any Channel) async {
        logger.info(
            "Peer transport listening",
            metadata: ["raft.address": "\(server.localAddress.map { "\($0)" } ?? "?")"]
        )
        await withDiscardingTaskGroup { group in
            // Ends when the task is cancelled (or on shutdown, when the stream finishes).
            for await link in newLinks {
                group.addTask { await self.runLink(link) }
            }
            group.cancelAll()
        }
        try? await server.close()
        let accepted = state.withLock { state in
            if case .running = state.lifecycle {
                state.lifecycle = .shutDown
            }
            return Array(state.accepted.values)
        }
        for channel in accepted {
            try? await channel.close()
        }
        registry.close()
        logger.info("Peer transport stopped")
    }

    // MARK: Outbound connections

    /// Keeps a connection to `link.node` open for as long as the transport runs.
    private func runLink(_ link: PeerLink) async {
        var logger = self.logger
        logger[metadataKey: "raft.peer"] = "\(link.node)"
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let address = link.address.withLock { $0 }
            do {
                if try await connectAndSend(link, address: address, logger: logger) {
                    failures = 0
                }
            } catch {
                logger.debug("Peer connection failed", metadata: ["raft.address": "\(address)", "error": "\(error)"])
            }
            failures += 1
            let delay = configuration.reconnectBackoff.delay(afterFailures: failures, using: &generator)
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
        }
    }

    /// One connection to the peer: connect, handshake, then write queued messages until the
    /// connection ends. Returns whether the handshake succeeded.
    private func connectAndSend(_ link: PeerLink, address: PeerAddress, logger: Logger) async throws -> Bool {
        let codec = self.codec
        let connection = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: address.host, port: address.port) { [tls = configuration.tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.contexts.client.context, serverHostname: nil)
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(codec: codec)))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let channel = connection.channel
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(configuration.handshakeTimeout)) {
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        var machine = PeerConnectionStateMachine.initiator(identity: identity, peer: link.node)
        return try await connection.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            if case .write(let hello) = machine.start() {
                try await outbound.write(try encode(hello))
            }
            let reply: Frame?
            do {
                reply = try await frames.next()
            } catch let error as WireError {
                if case .close(let reason) = machine.decodingFailed(error) {
                    registry.update { $0.protocolErrors += 1 }
                    logger.warning("Peer handshake failed", metadata: ["reason": "\(reason)"])
                }
                return false
            }
            guard let reply else {
                logger.debug("Connection closed during the handshake (by the peer, or timed out)")
                return false
            }
            switch machine.received(reply) {
            case .established:
                if let tls = configuration.tls {
                    let certificate = try await channel.eventLoop.submit {
                        try channel.pipeline.syncOperations.nioSSL_peerCertificate()
                    }.get()
                    let identities = certificate.map(CertificateIdentity.identities(of:)) ?? []
                    if let reason = tls.refusal(claimed: link.node, identities: identities) {
                        registry.update { $0.protocolErrors += 1 }
                        logger.warning("Refused peer: wrong certificate", metadata: ["reason": "\(reason)"])
                        return false
                    }
                }
                timeout.cancel()
            case .close(let reason):
                registry.update { $0.protocolErrors += 1 }
                logger.warning("Peer handshake failed", metadata: ["reason": "\(reason)"])
                return false
            case .write, .accept, .reject, .deliver, .heard, .drop, .none:
                return false
            }
            logger.info("Connected to peer", metadata: ["raft.address": "\(address)"])
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await self.writeQueued(link, to: outbound, allocator: channel.allocator)
                    } catch {
                        // Closing ends the read loop below, which ends the connection.
                        channel.close(promise: nil)
                    }
                }
                // The peer never speaks after the handshake: any frame is a protocol error, and
                // the end of the stream is how a lost connection shows up while idle.
                do {
                    while let frame = try await frames.next() {
                        if case .close(let reason) = machine.received(frame) {
                            registry.update { $0.protocolErrors += 1 }
                            logger.warning("Closing peer connection", metadata: ["reason": "\(reason)"])
                            break
                        }
                    }
                } catch let error as WireError {
                    if case .close(let reason) = machine.decodingFailed(error) {
                        registry.update { $0.protocolErrors += 1 }
                        logger.warning("Closing peer connection", metadata: ["reason": "\(reason)"])
                    }
                } catch {
                    // A reset or a cancelled task: the connection ends either way.
                    logger.debug("Peer connection failed", metadata: ["error": "\(error)"])
                }
                group.cancelAll()
            }
            logger.info("Disconnected from peer")
            return true
        }
    }

    /// Writes everything queued for the peer, one buffer and one flush per batch, until cancelled.
    private func writeQueued(
        _ link: PeerLink,
        to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        allocator: ByteBufferAllocator
    ) async throws {
        while true {
            guard let batch = await link.queue.next() else {
                return
            }
            var buffer = allocator.buffer(
                capacity: batch.messages.reduce(8) { $0 + $1.message.approximateByteSize + 8 }
            )
            if batch.ping {
                try codec.encode(.ping, into: &buffer)
            }
            var written: UInt64 = 0
            var tooLarge: UInt64 = 0
            for (group, message) in batch.messages {
                do {
                    try codec.encode(.raft(group: group, message: message), into: &buffer)
                    written += 1
                } catch {
                    tooLarge += 1
                    logger.warning(
                        "Dropped a message too large for one frame",
                        metadata: ["raft.peer": "\(link.node)", "raft.group": "\(group)", "error": "\(error)"]
                    )
                }
            }
            // Counted before the write completes, so that a receiver never sees more than was sent.
            registry.update { statistics in
                statistics.messagesSent += written
                if tooLarge > 0 {
                    statistics.outboundDropped += tooLarge
                    statistics.outboundDroppedByPeer[link.node, default: 0] += tooLarge
                }
            }
            do {
                try await outbound.write(buffer)
            } catch {
                // The connection is gone and the batch with it.
                registry.update { statistics in
                    statistics.messagesSent -= written
                    statistics.outboundDropped += written
                    statistics.outboundDroppedByPeer[link.node, default: 0] += written
                }
                throw error
            }
        }
    }

    private func encode(_ frame: Frame) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try codec.encode(frame, into: &buffer)
        return buffer
    }
}

/// The outbound side of one peer: where to dial and what waits to be sent.
private final class PeerLink: Sendable {
    let node: NodeID
    let address: Mutex<PeerAddress>
    let queue: OutboundQueue

    init(node: NodeID, address: PeerAddress, queueCapacity: Int) {
        self.node = node
        self.address = Mutex(address)
        self.queue = OutboundQueue(capacity: queueCapacity)
    }
}

/// A transport was started twice.
public struct TransportLifecycleError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public var description: String { message }
}
