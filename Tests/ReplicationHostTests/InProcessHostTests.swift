import ClusterConfig
import KeyValueStore
import LockService
import Logging
import NIOCore
import NIOPosix
import RaftCore
import RaftReplica
import RaftStorage
import RaftTransport
import StateMachineAPI
import Testing

@testable import ReplicationHost

/// Three `RaftNode`s in one process over `InProcessTransport`, with disk storage in a temporary
/// directory and real client ports on loopback port 0.
final class InProcessCluster {
    let configuration: ClusterConfiguration
    let hub: InProcessTransportHub
    private(set) var nodes: [String: RaftNode] = [:]
    /// The transport of each node's latest start.
    private(set) var transports: [String: InProcessTransport] = [:]
    private var tasks: [String: Task<Void, any Error>] = [:]
    /// The node that last answered each group: the next request goes there first, as a real
    /// client's would (asking a follower first costs a redirect and the retry's pause).
    private var lastAnswered: [String: String] = [:]
    /// The plugins the nodes serve.
    private let plugins: [any StateMachine.Type]
    /// Where the nodes' client and HTTP ports run.
    private let eventLoopGroup: any EventLoopGroup

    init(
        directory: TemporaryDirectory,
        nodeCount: Int = 3,
        joining: Int = 0,
        groups: [ClusterConfiguration.Group],
        raft: ClusterConfiguration.Raft = .init(heartbeat: .milliseconds(10), electionTimeout: .milliseconds(100)),
        requestTimeout: Duration = .seconds(5),
        plugins: [any StateMachine.Type] = [KeyValueStore.self, LockService.self],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.plugins = plugins
        self.eventLoopGroup = eventLoopGroup
        let loopback = ClusterConfiguration.Address(host: "127.0.0.1", port: 0)
        configuration = ClusterConfiguration(
            name: "in-process",
            dataDirectory: directory.path,
            nodes: (1...(nodeCount + joining)).map {
                var node = ClusterConfiguration.Node(
                    id: "n\($0)",
                    numericID: UInt64($0),
                    peer: loopback,
                    client: loopback,
                    http: loopback
                )
                node.joins = $0 > nodeCount
                return node
            },
            groups: groups,
            raft: raft,
            requestTimeout: requestTimeout
        )
        hub = InProcessTransportHub(clusterName: "in-process", groups: groups.map(\.name))
    }

    /// Starts (or restarts) node `id` on its data directory.
    @discardableResult
    func start(
        _ id: String,
        logger: Logger,
        wrapStorage: (@Sendable (_ group: String, _ storage: any PersistentStorage) -> any PersistentStorage)? = nil
    ) async throws -> RaftNode {
        let member = try #require(configuration.node(id: id))
        let transport = hub.makeTransport(for: NodeID(member.numericID))
        transports[id] = transport
        let node = try RaftNode(
            configuration: configuration,
            node: id,
            transport: transport,
            startTransport: {},
            shutdownTransport: { transport.shutdown() },
            registry: try StateMachineRegistry(plugins),
            eventLoopGroup: eventLoopGroup,
            wrapStorage: wrapStorage,
            logger: logger
        )
        try await node.start()
        nodes[id] = node
        tasks[id] = Task { try await node.run() }
        return node
    }

    /// Stops node `id` gracefully and waits until its files are closed.
    func stop(_ id: String) async throws {
        nodes.removeValue(forKey: id)?.shutdown()
        try await tasks.removeValue(forKey: id)?.value
    }

    /// Kills node `id` as SIGKILL would and waits until it is gone.
    func crash(_ id: String) async throws {
        nodes.removeValue(forKey: id)?.crash()
        try await tasks.removeValue(forKey: id)?.value
    }

    func stopAll() async {
        for id in Array(nodes.keys) {
            try? await stop(id)
        }
    }

    /// Sends `request` to the leader of `group`, following `notLeader` hints and retrying
    /// retryable errors, as a client would.
    func submitToLeader(_ request: ClientRequest, group: String) async throws -> ClientResponse {
        var target = lastAnswered[group].flatMap { nodes[$0] == nil ? nil : $0 } ?? nodes.keys.sorted().first ?? "n1"
        // What each attempt got, so that a timeout says whom it asked and what came back.
        var attempts: [String] = []
        do {
            let response = try await eventually(within: .seconds(10), "an answer from the leader of \(group)") {
                try await attemptSubmit(request, group: group, target: &target, attempts: &attempts)
            }
            lastAnswered[group] = target
            return response
        } catch let timedOut as TimedOut {
            let statuses = nodes.keys.sorted().map { id in
                let status = nodes[id]?.status().first { $0.name == group }
                return "\(id): \(status.map { "\($0.role) term \($0.term) quiescent \($0.isQuiescent)" } ?? "no group")"
            }
            throw TimedOut(
                description: "\(timedOut.description); attempts: \(attempts.suffix(8).joined(separator: ", "))"
                    + "; nodes: \(statuses.joined(separator: ", "))"
            )
        }
    }

    private func attemptSubmit(
        _ request: ClientRequest,
        group: String,
        target: inout String,
        attempts: inout [String]
    ) async throws -> ClientResponse? {
        guard let node = nodes[target] else {
            attempts.append("\(target) gone")
            target = nodes.keys.sorted().first ?? target
            return nil
        }
        let start = ContinuousClock.now
        let response = await node.submit(request, group: group)
        attempts.append("\(target) \(response) after \(ContinuousClock.now - start)")
        if case .error(let error) = response, error.code.isRetryable {
            if let hint = error.leaderHint,
                let next = configuration.nodes.first(where: { $0.numericID == hint.rawValue })
            {
                target = next.id
            } else {
                let ids = nodes.keys.sorted()
                target = ids[((ids.firstIndex(of: target) ?? 0) + 1) % ids.count]
            }
            return nil
        }
        return response
    }

    func leader(of group: String) -> RaftNode? {
        nodes.values.first { node in node.status().contains { $0.name == group && $0.role == .leader } }
    }
}

@Suite("In-process host")
struct InProcessHostTests {
    static let groups: [ClusterConfiguration.Group] = [
        .init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: 4096),
        .init(name: "locks", stateMachine: LockService.name, maxRaftState: nil),
    ]

    @Test("three nodes with two groups elect, serve through the API and the client port, and keep data over restarts")
    func electServeRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(directory: directory, groups: Self.groups)
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
        do {
            try await withTimeout(.seconds(20), "leaders") {
                await recorder.leaderElected(in: "kv")
                await recorder.leaderElected(in: "locks")
            }

            // Enough writes to pass maxraftstate (4 KiB) several times: snapshots are taken.
            for sequence in 1...60 {
                let response = try await cluster.submitToLeader(
                    KV.put("key\(sequence % 7)", "value\(sequence)", client: 7, sequence: UInt64(sequence)),
                    group: "kv"
                )
                #expect(KV.response(response) == .ok)
            }
            let acquire = LockService.Command.acquire(lock: "printer", owner: "alice", leaseMs: 60_000)
            let lockResponse = try await cluster.submitToLeader(
                .command(.init(clientID: 8, sequence: 1, command: acquire.encoded())),
                group: "locks"
            )
            guard case .ok(let lockBytes) = lockResponse else {
                Issue.record("acquire failed: \(lockResponse)")
                return
            }
            guard case .granted(let holder) = try LockService.Response(decoding: lockBytes) else {
                Issue.record("acquire not granted")
                return
            }
            #expect(holder.owner == "alice")

            // Through the client port: a read on the leader, a redirect from a follower, an unknown group.
            let leader = try #require(cluster.leader(of: "kv"))
            let leaderPort = try await leader.start().client.port
            let read = try await ClientPortProbe.send(
                KV.get("key4"),
                group: "kv",
                host: "127.0.0.1",
                port: leaderPort,
                timeout: .seconds(5)
            )
            #expect(KV.response(read) == .value("value60"))
            let follower = try #require(cluster.nodes.values.first { $0 !== leader })
            let redirected = try await ClientPortProbe.send(
                KV.get("key4"),
                group: "kv",
                host: "127.0.0.1",
                port: try await follower.start().client.port,
                timeout: .seconds(5)
            )
            guard case .error(let error) = redirected else {
                Issue.record("a follower answered a linearizable read: \(redirected)")
                return
            }
            #expect(error.code == .notLeader)
            #expect(error.leaderHint == NodeID(leader.node.numericID))
            let unknown = try await ClientPortProbe.send(
                KV.get("key4"),
                group: "nope",
                host: "127.0.0.1",
                port: leaderPort,
                timeout: .seconds(5)
            )
            guard case .unknownGroup = unknown else {
                Issue.record("expected unknownGroup, got \(unknown)")
                return
            }
            // Snapshots are serialized off the executor: the one the writes made due may still
            // be in flight when the last write is answered.
            _ = try await eventually(within: .seconds(10), "a snapshot of kv on the leader") {
                (leader.status().first { $0.name == "kv" }?.snapshotIndex ?? 0) > 0 ? true : nil
            }

            // Restart the whole cluster from disk: nothing acknowledged is lost.
            await cluster.stopAll()
            let restarted = LogRecorder()
            for id in ["n1", "n2", "n3"] {
                try await cluster.start(id, logger: restarted.logger(label: id))
            }
            try await withTimeout(.seconds(20), "leaders after the restart") {
                await restarted.leaderElected(in: "kv")
                await restarted.leaderElected(in: "locks")
            }
            for key in 0..<7 {
                let expected = (1...60).last { $0 % 7 == key }!
                let value = try await cluster.submitToLeader(KV.get("key\(key)"), group: "kv")
                #expect(KV.response(value) == .value("value\(expected)"))
            }
            let holderQuery = LockService.Query.holder(lock: "printer")
            let holderResponse = try await cluster.submitToLeader(
                .query(holderQuery.encoded(), consistency: .linearizable),
                group: "locks"
            )
            guard case .ok(let holderBytes) = holderResponse,
                case .holder(let current) = try LockService.Response(decoding: holderBytes)
            else {
                Issue.record("holder query failed: \(holderResponse)")
                return
            }
            #expect(current?.owner == "alice")
            // A retried write is answered from the session table, not applied twice.
            let retry = try await cluster.submitToLeader(KV.put("key4", "stale", client: 7, sequence: 60), group: "kv")
            #expect(KV.response(retry) == .ok)
            let afterRetry = try await cluster.submitToLeader(KV.get("key4"), group: "kv")
            #expect(KV.response(afterRetry) == .value("value60"))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("a client or HTTP port already taken stops the start with an error naming the address, and frees the data")
    func portInUse() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let taken = try #require(squatter.localAddress?.port)
        let loopback = ClusterConfiguration.Address(host: "127.0.0.1", port: 0)
        let busy = ClusterConfiguration.Address(host: "127.0.0.1", port: taken)
        for (client, http) in [(busy, loopback), (loopback, busy)] {
            let configuration = ClusterConfiguration(
                name: "port-in-use",
                dataDirectory: directory.path,
                nodes: [.init(id: "n1", numericID: 1, peer: loopback, client: client, http: http)],
                groups: [.init(name: "kv", stateMachine: KeyValueStore.name, maxRaftState: nil)],
                raft: .init(heartbeat: .milliseconds(10), electionTimeout: .milliseconds(100))
            )
            let transport = InProcessTransportHub(clusterName: "port-in-use", groups: ["kv"])
                .makeTransport(for: NodeID(1))
            let node = try RaftNode(
                configuration: configuration,
                node: "n1",
                transport: transport,
                startTransport: {},
                shutdownTransport: { transport.shutdown() },
                registry: try StateMachineRegistry([KeyValueStore.self]),
                logger: Logger(label: "port-in-use", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            // The second round opens the same data directory: the first must have let it go.
            let error = await #expect(throws: HostError.self) { try await node.start() }
            #expect(error?.code == .listen)
            let purpose = client == busy ? "clients" : "HTTP"
            #expect(error?.description.contains("cannot listen for \(purpose) on 127.0.0.1:\(taken)") == true)
        }
        try await squatter.close()
    }

    @Test("one sync covers every command that arrived while the previous batch was written")
    func groupCommit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let cluster = InProcessCluster(
            directory: directory,
            nodeCount: 1,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)]
        )
        let recorder = LogRecorder()
        let node = try await cluster.start("n1", logger: recorder.logger(label: "n1"))
        do {
            try await withTimeout(.seconds(10), "a leader") { await recorder.leaderElected(in: "kv") }
            let syncsBefore = node.status()[0].syncs
            let commands = 200
            let answers = await withTaskGroup(of: ClientResponse.self) { group in
                for sequence in 1...commands {
                    group.addTask {
                        await node.submit(
                            KV.put("k\(sequence)", "v", client: UInt64(sequence), sequence: 1),
                            group: "kv"
                        )
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { KV.response($0) == .ok })
            let syncs = node.status()[0].syncs - syncsBefore
            #expect(syncs >= 1)
            #expect(syncs < commands / 2, "\(syncs) syncs for \(commands) concurrent commands")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    /// Three started nodes with one key/value group and no check-quorum, so that a leader cut off
    /// from its followers keeps leading and a write to it waits for `requestTimeout`.
    private static func startStubbornCluster(
        _ directory: TemporaryDirectory,
        requestTimeout: Duration
    ) async throws -> (InProcessCluster, LogRecorder) {
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            raft: .init(heartbeat: .milliseconds(10), electionTimeout: .milliseconds(100), checkQuorum: false),
            requestTimeout: requestTimeout
        )
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
        return (cluster, recorder)
    }

    @Test("a write that cannot commit is answered with a retryable error after the request timeout, never with success")
    func requestTimeout() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // Only the timeout can answer.
        let (cluster, recorder) = try await Self.startStubbornCluster(directory, requestTimeout: .milliseconds(300))
        do {
            try await withTimeout(.seconds(10), "a leader") { await recorder.leaderElected(in: "kv") }
            let leader = try await eventually(within: .seconds(10), "a stable leader") { cluster.leader(of: "kv") }
            cluster.hub.isolate(NodeID(leader.node.numericID))
            let started = ContinuousClock.now
            let response = await leader.submit(KV.put("lost", "maybe", client: 3, sequence: 1), group: "kv")
            guard case .error(let error) = response else {
                Issue.record("an uncommittable write was answered with \(response)")
                return
            }
            #expect(error.code == .leaderChanged, "retryable with the same client id and sequence")
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test("a crashed node answers nothing in flight, keeps what it synced and frees its directory at once")
    func crash() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // The write waits until the crash.
        let (cluster, recorder) = try await Self.startStubbornCluster(directory, requestTimeout: .seconds(30))
        do {
            try await withTimeout(.seconds(10), "a leader") { await recorder.leaderElected(in: "kv") }
            let kept = try await cluster.submitToLeader(KV.put("kept", "1", client: 3, sequence: 1), group: "kv")
            #expect(KV.response(kept) == .ok)
            let leader = try await eventually(within: .seconds(10), "a stable leader") { cluster.leader(of: "kv") }
            let leaderPort = try await leader.start().client.port
            cluster.hub.isolate(NodeID(leader.node.numericID))
            let proposals = leader.status()[0].metrics.proposals
            let inFlight = Task {
                try await ClientPortProbe.send(
                    KV.put("lost", "maybe", client: 3, sequence: 2),
                    group: "kv",
                    host: "127.0.0.1",
                    port: leaderPort,
                    timeout: .seconds(20)
                )
            }
            _ = try await eventually(within: .seconds(10), "the write waits on the leader") {
                leader.status()[0].metrics.proposals > proposals ? true : nil
            }
            try await cluster.crash(leader.node.id)
            // A graceful stop would answer the waiting write with leaderChanged; a crash answers nothing.
            await #expect(throws: (any Error).self) { _ = try await inFlight.value }

            // The directory is free at once, and what was acknowledged is still there.
            cluster.hub.heal()
            try await cluster.start(leader.node.id, logger: recorder.logger(label: leader.node.id))
            #expect(KV.response(try await cluster.submitToLeader(KV.get("kept"), group: "kv")) == .value("1"))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}

@Suite("In-process host: leadership hand-off")
struct LeadershipHandOffTests {
    @Test("a leader stopped gracefully hands its leadership to a follower, which wins the next term at once")
    func gracefulStopHandsOff() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // A long election timeout: a new leader within it can only come from the hand-off.
        let cluster = InProcessCluster(
            directory: directory,
            groups: [.init(name: "kv", stateMachine: KeyValueStore.name)],
            raft: .init(heartbeat: .milliseconds(50), electionTimeout: .seconds(3))
        )
        let recorder = LogRecorder()
        for id in ["n1", "n2", "n3"] {
            try await cluster.start(id, logger: recorder.logger(label: id))
        }
        do {
            try await withTimeout(.seconds(30), "a leader") { await recorder.leaderElected(in: "kv") }
            let written = try await cluster.submitToLeader(KV.put("k", "1", client: 3, sequence: 1), group: "kv")
            #expect(KV.response(written) == .ok)
            let leader = try await eventually(within: .seconds(10), "a stable leader") { cluster.leader(of: "kv") }
            let term = leader.status()[0].term
            let started = ContinuousClock.now
            try await cluster.stop(leader.node.id)
            // Without the hand-off no follower could campaign before an election timeout (3 s) after
            // the last heartbeat; the margin is for a loaded machine, not for the hand-off.
            let next = try await eventually(within: .milliseconds(2500), "the new leader") { cluster.leader(of: "kv") }
            let handedOver = ContinuousClock.now - started
            #expect(handedOver < .milliseconds(2500), "the stop and the new leader took \(handedOver)")
            #expect(next.status()[0].term == term + 1)
            let read = try await cluster.submitToLeader(KV.get("k"), group: "kv")
            #expect(KV.response(read) == .value("1"))
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
