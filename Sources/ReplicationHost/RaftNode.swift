public import ClusterConfig
public import CoreMetrics
public import Logging
public import NIOCore
public import NIOPosix
import RaftClient
package import RaftCore
public import RaftReplica
public import RaftSecurity
package import RaftStorage
package import RaftTransport
public import ServiceLifecycle
public import StateMachineAPI
import StateMachineHTTP
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One node of a cluster: every group of `cluster.yaml`, each driven by its own serial
/// executor over `DiskStorage` in `<data>/<node>/<group>`, the peer transport, and the native
/// client port.
///
/// Run it as a ServiceLifecycle `Service` (a graceful shutdown stops it: the client port stops
/// accepting, each group this node leads hands its leadership to its most up-to-date follower,
/// waiting at most about an election timeout, the groups finish the sync in progress and
/// answer what is still waiting with a retryable error, connections and files close), or call
/// ``start()`` first to learn the bound ports, then ``run()``, and ``shutdown()`` to stop it.
public final class RaftNode: Service {
    /// Where a started node listens.
    public struct Endpoints: Sendable, Hashable {
        /// The native client port.
        public var client: ClusterConfiguration.Address
        /// The HTTP/JSON API, status and metrics.
        public var http: ClusterConfiguration.Address
    }

    private enum Lifecycle: Sendable {
        case idle
        case started(Running)
        case stopped
    }

    private struct Running: Sendable {
        var executors: [GroupExecutor]
        var storages: [DiskStorage]
        var clientServer: ClientServer
        var httpServer: HTTPServer
        var routers: [LeaderRouter]
        var endpoints: Endpoints
    }

    /// This node's entry in the configuration.
    public let node: ClusterConfiguration.Node
    let configuration: ClusterConfiguration
    private let registry: StateMachineRegistry
    /// Tests: what each group's executor uses in place of its disk storage (a wrapper of it).
    private let wrapStorage: (@Sendable (_ group: String, _ storage: any PersistentStorage) -> any PersistentStorage)?
    private let metricsFactory: any MetricsFactory
    private let transport: any PeerTransport
    private let startTransport: @Sendable () async throws -> Void
    private let shutdownTransport: @Sendable () async -> Void
    private let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// Tells the transport where a member listens (nil: the transport knows every node already).
    let setPeerAddress: (@Sendable (PeerAddress, NodeID) -> Void)?
    private let lifecycle = Mutex(Lifecycle.idle)
    private let stopSignal: AsyncStream<Void>
    private let stopContinuation: AsyncStream<Void>.Continuation
    /// Whether ``crash()`` stopped the node.
    private let crashed = Atomic(false)
    /// The node's TLS material (`tls` in `cluster.yaml`); `nil` for plaintext.
    public let tls: NodeTLS?
    private let access: AccessPolicy

    /// A node that talks to its peers over TCP (`peer` addresses of the configuration).
    ///
    /// - Parameters:
    ///   - node: the id of this node in `configuration.nodes` (`n1`).
    ///   - registry: the plugins the groups may name: the binary decides which it serves.
    ///   - metricsFactory: what the node records its metrics through; by default the process's
    ///     swift-metrics backend, or a Prometheus registry of the node's own when none was
    ///     bootstrapped (``RaftHostMetrics/defaultFactory()``). `GET /metrics` renders the
    ///     registry of a `PrometheusMetricsFactory`.
    ///   - logger: the node adds `raft.group`, `raft.term` and `raft.peer` metadata.
    public convenience init(
        configuration: ClusterConfiguration,
        node: String,
        registry: StateMachineRegistry,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metricsFactory: (any MetricsFactory)? = nil,
        logger: Logger
    ) throws(HostError) {
        let member = try Self.member(node, of: configuration)
        let tls = try Self.loadTLS(configuration, node: member.id)
        var peers: [NodeID: PeerAddress] = [:]
        // Nodes added later are dialled once a membership change names them (and so are the
        // file's joining nodes, which the file already knows).
        for other in configuration.nodes where other.id != member.id {
            peers[NodeID(other.numericID)] = PeerAddress(host: other.peer.host, port: other.peer.port)
        }
        var transportConfiguration = NIOPeerTransportConfiguration(
            clusterName: configuration.name,
            localNode: NodeID(member.numericID),
            groups: configuration.groups.map(\.name),
            listenAddress: PeerAddress(host: member.peer.host, port: member.peer.port),
            peers: peers
        )
        // An append batch or snapshot chunk plus framing must fit in one frame.
        transportConfiguration.maxFrameSize = max(
            FrameCodec.defaultMaxFrameSize,
            2 * max(configuration.raft.maxMessageSize, configuration.raft.snapshotChunkSize)
        )
        if let tls {
            transportConfiguration.tls = PeerTLS(
                contexts: tls,
                nodeNames: Dictionary(uniqueKeysWithValues: configuration.nodes.map { (NodeID($0.numericID), $0.id) })
            )
        }
        let transport = NIOPeerTransport(
            configuration: transportConfiguration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
        try self.init(
            configuration: configuration,
            node: node,
            transport: transport,
            startTransport: { try await transport.start() },
            shutdownTransport: { await transport.shutdown() },
            setPeerAddress: { transport.setPeerAddress($0, for: $1) },
            registry: registry,
            eventLoopGroup: eventLoopGroup,
            metricsFactory: metricsFactory,
            tls: tls,
            logger: logger
        )
    }

    /// The TLS material of `node` when the configuration has a `tls` section.
    private static func loadTLS(_ configuration: ClusterConfiguration, node: String) throws(HostError) -> NodeTLS? {
        guard let section = configuration.tls else { return nil }
        do {
            // With auth on, the client port asks for certificates: nodes forward with theirs.
            return try NodeTLS(configuration: section, node: node, requestClientCertificates: configuration.auth != nil)
        } catch {
            throw HostError(.tls, "node \(node): \(error)", underlying: error)
        }
    }

    /// Reads the node's certificate, key and CA files again (what SIGHUP does): connections
    /// accepted or dialled from now on use them, those open finish with the old ones. When a
    /// file cannot be used, nothing changes and the error says which.
    public func reloadTLS() throws(HostError) {
        guard let tls else { return }
        do {
            try tls.reload()
        } catch {
            logger.error("TLS reload failed; keeping the current certificates", metadata: ["error": "\(error)"])
            throw HostError(.tls, "node \(node.id): \(error)", underlying: error)
        }
        logger.info("TLS certificates reloaded")
    }

    /// A node over any transport (tests use `InProcessTransport`).
    package init(
        configuration: ClusterConfiguration,
        node: String,
        transport: any PeerTransport,
        startTransport: @escaping @Sendable () async throws -> Void,
        shutdownTransport: @escaping @Sendable () async -> Void,
        setPeerAddress: (@Sendable (PeerAddress, NodeID) -> Void)? = nil,
        registry: StateMachineRegistry,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metricsFactory: (any MetricsFactory)? = nil,
        tls: NodeTLS? = nil,
        wrapStorage: (@Sendable (_ group: String, _ storage: any PersistentStorage) -> any PersistentStorage)? = nil,
        logger: Logger
    ) throws(HostError) {
        self.node = try Self.member(node, of: configuration)
        self.wrapStorage = wrapStorage
        self.setPeerAddress = setPeerAddress
        if let tls {
            self.tls = tls
        } else {
            self.tls = try Self.loadTLS(configuration, node: node)
        }
        self.access = AccessPolicy(auth: configuration.auth, nodes: configuration.nodes.map(\.id))
        self.metricsFactory = metricsFactory ?? RaftHostMetrics.defaultFactory()
        self.configuration = configuration
        self.registry = registry
        self.transport = transport
        self.startTransport = startTransport
        self.shutdownTransport = shutdownTransport
        self.eventLoopGroup = eventLoopGroup
        var logger = logger
        logger[metadataKey: "raft.node"] = "\(node)"
        self.logger = logger
        (stopSignal, stopContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    private static func member(
        _ id: String,
        of configuration: ClusterConfiguration
    ) throws(HostError)
        -> ClusterConfiguration.Node
    {
        guard let member = configuration.node(id: id) else {
            let known = configuration.nodes.map(\.id).joined(separator: ", ")
            throw HostError(.unknownNode, "no node \"\(id)\" in cluster \"\(configuration.name)\" (nodes: \(known))")
        }
        return member
    }

    // MARK: - Lifecycle

    /// Opens every group's storage (recovering what it holds), binds the client port and starts
    /// the peer transport. Calling it again returns the same endpoints.
    @discardableResult
    public func start() async throws -> Endpoints {
        switch lifecycle.withLock({ $0 }) {
        case .started(let running): return running.endpoints
        case .stopped: throw HostError(.lifecycle, "the node was shut down")
        case .idle: break
        }
        var storages: [DiskStorage] = []
        var executors: [GroupExecutor] = []
        do {
            for (index, group) in configuration.groups.enumerated() {
                let (executor, storage) = try openGroup(group, id: GroupID(UInt32(index)))
                storages.append(storage)
                executors.append(executor)
            }
        } catch {
            storages.forEach { $0.close() }
            logger.critical("cannot start: \(error)")
            throw error
        }
        let clientServer = ClientServer(
            host: node.client.host,
            port: node.client.port,
            executors: Dictionary(uniqueKeysWithValues: executors.map { ($0.name, $0) }),
            maxFrameSize: FrameCodec.defaultMaxFrameSize,
            eventLoopGroup: eventLoopGroup,
            tls: tls?.clientServer,
            access: access,
            logger: logger
        )
        let clientPort: Int
        do {
            clientPort = try await Self.listen(for: "clients", on: node.client) {
                try await clientServer.listener.bind()
            }
        } catch {
            storages.forEach { $0.close() }
            logger.critical("cannot start: \(error)")
            throw error
        }
        let (httpServer, routers) = makeHTTPServer(clientPort: clientPort, executors: executors)
        let httpPort: Int
        do {
            httpPort = try await Self.listen(for: "HTTP", on: node.http) { try await httpServer.listener.bind() }
            try await startTransport()
        } catch {
            clientServer.listener.stopAccepting()
            httpServer.listener.stopAccepting()
            storages.forEach { $0.close() }
            logger.critical("cannot start: \(error)")
            throw error
        }
        let endpoints = Endpoints(
            client: .init(host: node.client.host, port: clientPort),
            http: .init(host: node.http.host, port: httpPort)
        )
        let running = Running(
            executors: executors,
            storages: storages,
            clientServer: clientServer,
            httpServer: httpServer,
            routers: routers,
            endpoints: endpoints
        )
        let raced = lifecycle.withLock { lifecycle -> Bool in
            guard case .idle = lifecycle else { return true }
            lifecycle = .started(running)
            return false
        }
        if raced {
            clientServer.listener.stopAccepting()
            httpServer.listener.stopAccepting()
            await shutdownTransport()
            storages.forEach { $0.close() }
            throw HostError(.lifecycle, "the node was started twice at once or shut down while starting")
        }
        logger.info(
            "node started",
            metadata: [
                "client": "\(endpoints.client)", "http": "\(endpoints.http)", "peer": "\(node.peer)",
                "groups": "\(configuration.groups.map(\.name).joined(separator: ","))",
            ]
        )
        return endpoints
    }

    /// Binds a listener, naming its address in the error: "Address already in use" alone does
    /// not say which of the node's ports is taken.
    private static func listen(
        for purpose: String,
        on address: ClusterConfiguration.Address,
        _ bind: () async throws -> Int
    ) async throws -> Int {
        do {
            return try await bind()
        } catch {
            throw HostError(
                .listen,
                "cannot listen for \(purpose) on \(address.host):\(address.port)",
                underlying: error
            )
        }
    }

    /// The HTTP API and the leader routers it sends requests through, one per group. The routers
    /// reach every node of the file and every member of the group at its client address, this
    /// node at the port it bound (``forwardingEndpoints(of:configuration:node:clientPort:)``).
    private func makeHTTPServer(clientPort: Int, executors: [GroupExecutor]) -> (HTTPServer, [LeaderRouter]) {
        let forwarding = forwardingConfiguration()
        let routers = executors.map { executor in
            let makeForwarder: @Sendable ([RaftClient.Endpoint]) -> RaftClient = { [eventLoopGroup] endpoints in
                RaftClient(
                    endpoints: endpoints,
                    group: executor.name,
                    configuration: forwarding,
                    eventLoopGroup: eventLoopGroup
                )
            }
            return LeaderRouter(
                forwarder: makeForwarder(
                    Self.forwardingEndpoints(
                        of: executor.status,
                        configuration: configuration,
                        node: node,
                        clientPort: clientPort
                    )
                ),
                makeForwarder: makeForwarder,
                leadsLocally: { executor.isLeader },
                local: { request, reply in executor.submit(request, reply: reply) }
            )
        }
        let api = HTTPAPI(
            nodeID: node.id,
            configuration: configuration,
            metricsFactory: metricsFactory,
            routers: Dictionary(uniqueKeysWithValues: zip(executors.map(\.name), routers)),
            interfaces: Dictionary(
                uniqueKeysWithValues: configuration.groups.map { group in
                    let type = registry.type(named: group.stateMachine)
                    return (group.name, type.map { PluginHTTPInterface(for: $0) } ?? .bytesOnly)
                }
            ),
            status: { [weak self] in self?.status() ?? [] },
            recordMetrics: { [weak self] in self?.recordMetrics() },
            local: { [weak self] request, group in
                guard let self else { return .error(ReplicaError(.leaderChanged, "the node is not running; retry")) }
                return await self.submit(request, group: group)
            },
            membership: MembershipHTTP(
                members: { [weak self] group in self?.members(of: group) },
                perform: { [weak self] operation, group in
                    guard let self else { return .unavailable("the node is not running") }
                    return await self.perform(operation, group: group)
                },
                backup: { [weak self] group in
                    guard let self else { return .failure(.unavailable("the node is not running")) }
                    return await self.backup(of: group)
                },
                scheme: configuration.tls == nil ? "http" : "https"
            ),
            nodeTLS: tls.map(ClientTLS.init(node:))
        )
        let access = HTTPAccess(policy: self.access)
        let server = HTTPServer(
            host: node.http.host,
            port: node.http.port,
            maxBodySize: configuration.http.maxBodySize,
            eventLoopGroup: eventLoopGroup,
            tls: tls?.clientServer,
            logger: logger,
            immediate: { request, reply in
                if let refusal = access.refusal(request) {
                    reply(refusal)
                    return true
                }
                return api.handleWithoutTask(request, reply: reply)
            },
            handler: { request in
                if let refusal = access.refusal(request) { return refusal }
                return await api.handle(request)
            }
        )
        return (server, routers)
    }

    /// How the HTTP API's routers reach the leader: a shorter pause between rounds of retries
    /// than the default (an HTTP request has only `requestTimeout` to find a new leader), and
    /// over TLS with the node's certificate when the cluster has TLS.
    private func forwardingConfiguration() -> RaftClient.Configuration {
        var forwarding = RaftClient.Configuration(retryBackoff: .milliseconds(20))
        forwarding.tls = tls.map(ClientTLS.init(node:))
        return forwarding
    }

    private func openGroup(_ group: ClusterConfiguration.Group, id: GroupID) throws -> (GroupExecutor, DiskStorage) {
        let machine: AnyStateMachine
        do {
            machine = try registry.make(named: group.stateMachine)
        } catch {
            throw HostError(.unknownStateMachine, "group \"\(group.name)\": \(error.message)")
        }
        let directory = configuration.dataDirectory(for: node) + "/" + group.name
        let fsync: DiskStorage.FsyncPolicy = configuration.storage.fsync == .always ? .always : .never
        let storage: DiskStorage
        let state: PersistentState
        do {
            try createDirectories(configuration.dataDirectory(for: node))
            storage = try DiskStorage(
                directory: directory,
                options: DiskStorage.Options(fsync: fsync, maxSegmentSize: configuration.storage.segmentSize)
            )
            state = try storage.load()
        } catch {
            throw HostError(.storage, "group \"\(group.name)\" in \(directory)", underlying: error)
        }
        var groupLogger = logger
        groupLogger[metadataKey: "raft.group"] = "\(group.name)"
        for warning in storage.warnings {
            groupLogger.warning("storage recovered with a warning: \(warning)")
        }
        let replica: Replica
        do {
            replica = try Replica(
                configuration: raftConfiguration(),
                machine: machine,
                persistentState: state,
                snapshotPolicy: SnapshotPolicy(maxRaftState: group.maxRaftState)
            )
        } catch {
            storage.close()
            throw HostError(
                .storage,
                "group \"\(group.name)\": cannot restore the snapshot in \(directory)",
                underlying: error
            )
        }
        groupLogger.info(
            "group opened",
            metadata: [
                "raft.term": "\(state.hardState.term)", "raft.commit": "\(state.hardState.commit)",
                "raft.snapshotIndex": "\(state.snapshot?.metadata.index ?? 0)",
                "raft.entries": "\(state.entries.count)",
            ]
        )
        let executor = GroupExecutor(
            name: group.name,
            groupID: id,
            replica: replica,
            storage: wrapStorage?(group.name, storage) ?? storage,
            transport: transport,
            heartbeat: configuration.raft.heartbeat,
            requestTimeout: configuration.requestTimeout,
            instruments: GroupInstruments(
                node: node.id,
                group: group.name,
                factory: metricsFactory,
                peerName: { [configuration] peer in
                    configuration.nodes.first { $0.numericID == peer.rawValue }?.id ?? "\(peer.rawValue)"
                }
            ),
            membershipChanged: { [weak self] status in self?.membershipChanged(status) },
            logger: logger
        )
        if !replica.engine.membership.members.isEmpty {
            membershipChanged(executor.status)
        }
        return (executor, storage)
    }

    /// The clock-rate difference between nodes that lease reads tolerate.
    static let leaseClockDrift = 0.1

    private func raftConfiguration() -> RaftConfiguration {
        let raft = configuration.raft
        // A new group's first membership: the founding nodes. A joining node knows none; the
        // leader's log (or snapshot) tells it. Once the log has a membership, this is unused.
        var engine = RaftConfiguration(
            id: NodeID(node.numericID),
            voters: node.joins ? [] : configuration.nodes.filter { !$0.joins }.map { NodeID($0.numericID) }
        )
        engine.heartbeatTicks = 1
        engine.electionTimeoutTicks = max(2, Int(raft.electionTimeout / raft.heartbeat))
        engine.preVote = raft.preVote
        engine.checkQuorum = raft.checkQuorum
        engine.maxMessageBytes = raft.maxMessageSize
        engine.maxInflightMessages = raft.maxInflightMessages
        engine.coalescesAppends = raft.coalesceAppends
        engine.snapshotChunkBytes = raft.snapshotChunkSize
        if let quiesceAfter = raft.quiesceAfter {
            engine.quiesceAfterTicks = max(2, Int(quiesceAfter / raft.heartbeat))
        }
        // Received chunks go straight to the storage's file, not into one array.
        engine.driverStoresSnapshotChunks = true
        if raft.leaseReads {
            // The executor drops the lease when its ticks run more than one tick late.
            engine.leaseTicks = RaftConfiguration.leaseTicks(
                electionTimeoutTicks: engine.electionTimeoutTicks,
                maxClockDrift: Self.leaseClockDrift,
                driverLagTicks: 1
            )
        }
        // Nodes must not draw the same election timeouts, or they would split every vote.
        engine.randomSeed = UInt64.random(in: .min ... .max)
        return engine
    }

    /// Serves until a graceful shutdown, ``shutdown()`` or cancellation; then stops accepting
    /// clients, lets every group finish the sync in progress, closes connections, the transport
    /// and the files. Throws (after the same cleanup) when a group's storage fails.
    public func run() async throws {
        try await start()
        guard case .started(let running) = lifecycle.withLock({ $0 }) else {
            throw HostError(.lifecycle, "the node was shut down")
        }
        var failure: (any Error)?
        // An election timeout without a ping: a quiescent follower then starts its own election
        // timer, so a dead leader is replaced within about three election timeouts. Shorter
        // timeouts flap on a loaded machine, and every flap wakes groups for `quiesceAfter`.
        let liveness = PeerLiveness(transport: transport, timeout: configuration.raft.electionTimeout) {
            [logger] alive, stopped, started in
            for peer in stopped.sorted() {
                logger.info("peer node stopped answering", metadata: ["raft.peer": "\(peer)"])
            }
            for peer in started.sorted() {
                logger.info("peer node is answering", metadata: ["raft.peer": "\(peer)"])
            }
            running.executors.forEach { $0.livenessChanged(alive: alive) }
        }
        let livenessTicker = SharedTicker.every(configuration.raft.heartbeat)
        let livenessSubscription = livenessTicker.subscribe { liveness.check() }
        defer { livenessTicker.unsubscribe(livenessSubscription) }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask {
                        do {
                            try await running.clientServer.run()
                        } catch is CancellationError {
                            // The node is stopping: not a failure of the port.
                        } catch {
                            self.logger.error("client port failed: \(error)")
                        }
                    }
                    group.addTask {
                        do {
                            try await running.httpServer.run()
                        } catch is CancellationError {
                            // The node is stopping: not a failure of the port.
                        } catch {
                            self.logger.error("HTTP port failed: \(error)")
                        }
                    }
                    group.addTask {
                        for await _ in self.stopSignal {}
                        let crashed = self.crashed.load(ordering: .acquiring)
                        if crashed {
                            await self.dropEverything(running)
                        } else {
                            running.httpServer.listener.stopAccepting()
                            running.clientServer.listener.stopAccepting()
                        }
                        // A graceful stop hands each group's leadership over first, so clients
                        // wait for one quick election instead of an election timeout.
                        running.executors.forEach { $0.stop(handingOffLeadership: !crashed) }
                    }
                    do {
                        try await withThrowingDiscardingTaskGroup { executors in
                            for executor in running.executors {
                                executors.addTask {
                                    do {
                                        try await executor.run()
                                    } catch {
                                        throw HostError(
                                            .storage,
                                            "group \"\(executor.name)\" stopped",
                                            underlying: error
                                        )
                                    }
                                }
                            }
                        }
                    } catch {
                        if self.crashed.load(ordering: .acquiring) {
                            // A write after the crash closed the storage: one a killed process never made.
                            self.logger.debug("a group stopped with the crash: \(error)")
                        } else {
                            self.logger.critical("stopping the node: \(error)")
                            failure = error
                        }
                    }
                    self.shutdown()
                    running.httpServer.listener.closeConnections()
                    running.clientServer.listener.closeConnections()
                    for router in running.routers {
                        await router.close()
                    }
                }
            } onCancel: {
                self.shutdown()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        await shutdownTransport()
        running.storages.forEach { $0.close() }
        lifecycle.withLock { $0 = .stopped }
        logger.info(crashed.load(ordering: .acquiring) ? "node crashed" : "node stopped")
        if let failure { throw failure }
    }

    /// Starts a graceful stop of ``run()``; returns at once.
    public func shutdown() {
        stopContinuation.finish()
    }

    /// Stops ``run()`` as if the process were killed (SIGKILL); returns at once. A graceful
    /// stop already under way goes on gracefully.
    ///
    /// What a killed process leaves is what the node leaves: the listeners and every client,
    /// HTTP and peer connection close at once, so requests in flight get no answer (a command
    /// already handed to the group may still commit, as after a real crash); no request is
    /// forwarded to the leader any more; each group's storage closes, dropping the writes not yet
    /// synced and releasing the directory lock, so a new node can start from the data directory
    /// at once. Only a storage operation already running (one write or sync, which the kernel
    /// would finish too) completes; a group's next write fails and the group stops.
    package func crash() {
        crashed.store(true, ordering: .releasing)
        stopContinuation.finish()
    }

    /// The crash of ``crash()``: everything is dropped before the executors are told to stop.
    private func dropEverything(_ running: Running) async {
        running.httpServer.listener.stopAccepting()
        running.clientServer.listener.stopAccepting()
        running.httpServer.listener.closeConnections()
        running.clientServer.listener.closeConnections()
        for router in running.routers {
            await router.close()
        }
        await shutdownTransport()
        for storage in running.storages {
            storage.close()
        }
    }

    // MARK: - Requests and status

    /// Each group's state, in configuration order (empty before ``start()``).
    public func status() -> [GroupStatus] {
        guard case .started(let running) = lifecycle.withLock({ $0 }) else { return [] }
        return running.executors.map(\.status)
    }

    /// Records every group's latest status to its metrics instruments (executors do it once a
    /// second; a scrape wants the values of now).
    private func recordMetrics() {
        guard case .started(let running) = lifecycle.withLock({ $0 }) else { return }
        for executor in running.executors { executor.recordInstruments() }
    }

    /// The HTTP router of `group` and the client port this node bound, while the node runs.
    func router(of group: String) -> (LeaderRouter, Int)? {
        guard case .started(let running) = lifecycle.withLock({ $0 }),
            let index = running.executors.firstIndex(where: { $0.name == group })
        else { return nil }
        return (running.routers[index], running.endpoints.client.port)
    }

    /// The executor of `group`, while the node runs.
    func executor(named group: String) -> GroupExecutor? {
        guard case .started(let running) = lifecycle.withLock({ $0 }) else { return nil }
        return running.executors.first { $0.name == group }
    }

    /// Serves a client request on `group`, as the client port would.
    public func submit(_ request: ClientRequest, group: String) async -> ClientResponse {
        guard case .started(let running) = lifecycle.withLock({ $0 }) else {
            return .error(ReplicaError(.leaderChanged, "the node is not running; retry"))
        }
        guard let executor = running.executors.first(where: { $0.name == group }) else {
            return .unknownGroup("this cluster has no group named \"\(group)\"")
        }
        return await withCheckedContinuation { continuation in
            executor.submit(request) { continuation.resume(returning: $0) }
        }
    }
}

/// `mkdir -p`: the storage creates its own directory, the host the node's directory above it.
private func createDirectories(_ path: String) throws(HostError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component + "/"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            let reason = String(cString: strerror(errno))
            throw HostError(.storage, "cannot create the data directory \(prefix): \(reason) (errno \(errno))")
        }
    }
}
