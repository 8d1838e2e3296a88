public import RaftCore
public import RaftReplica
import RaftStorage
public import StateMachineAPI

/// A whole cluster of ``Replica``s (Raft engine + plugin + sessions) on virtual time, with a
/// faulty network, crashes that keep exactly what was persisted, clients, and the safety
/// invariants checked after every step.
///
/// The API mirrors the classic lab's test harness (`checkOneLeader`, `one`, `nCommitted`,
/// `disconnect`, `crash`, `restart`, ...), so its scenarios port one to one. Every run is
/// determined by its seed: a failure's message names the seed and how to replay it.
///
/// By default each node runs a ``CommandRecorder`` (index → command), as the lab's Raft
/// tests do; service tests run any plugin and send client requests with ``submit(to:_:reply:)``
/// and ``query(to:_:consistency:reply:)``.
public final class RaftSimulation {
    public let seed: UInt64
    public let nodeIDs: [NodeID]
    public private(set) var now: VirtualTime = 0
    public var network = NetworkModel()
    /// Virtual time between two ticks of a node's engine.
    public let tickInterval: VirtualTime
    /// Per-node factor on the tick interval (clock-speed skew in randomized runs).
    public var clockSkew: [NodeID: Double] = [:]
    /// Per-node time a sync takes (0: at once). As on the host, a node whose step waits for
    /// its sync handles nothing else meanwhile; a crash loses every write not yet synced, and
    /// nothing that depended on them was sent.
    public var diskLatency: [NodeID: VirtualTime] = [:]

    /// Requests and responses sent, and their approximate bytes.
    public private(set) var requestsSent = 0
    public private(set) var responsesSent = 0
    public private(set) var bytesSent = 0
    private var leaseReadsOfEndedIncarnations: UInt64 = 0
    /// Times a leader quiesced its group (see ``RaftConfiguration/quiesceAfterTicks``).
    public private(set) var quiescences = 0

    let configurationTemplate: (NodeID) -> RaftConfiguration
    let snapshotPolicy: SnapshotPolicy
    let makeMachine: () -> AnyStateMachine
    private var nextRequestID: UInt64 = 1
    private var random: SeededGenerator
    private var events = EventQueue<Event>()
    private(set) var nodes: [NodeID: Node] = [:]
    private var connected: Set<NodeID>
    /// Partition label per node; a link is up only between nodes with the same label.
    private var partitionOf: [NodeID: Int] = [:]

    // Invariant bookkeeping.
    private var leaderOfTerm: [Term: NodeID] = [:]
    /// Every entry any node applied, by index: committed entries never change.
    private var committed: [LogIndex: CommittedEntry] = [:]
    private var highestCommitted: LogIndex = 0
    /// Every applied membership entry, by index, with the bootstrap membership at 0: who must
    /// hold an entry durably before it may be applied.
    private var committedMemberships: [LogIndex: Membership] = [:]
    /// Every (index, term) any node persisted, with its data: log matching.
    private var persistedEntries: [EntryKey: [UInt8]] = [:]
    private var failure: SimulationFailure?
    private var testName: String
    /// Nodes whose process or disk is stalled until the given time: they handle nothing.
    private var pausedUntil: [NodeID: VirtualTime] = [:]
    /// For each outstanding linearizable read: the highest index any node knew committed when
    /// it was asked. ReadIndex safety: it must be served from a state at least that recent.
    private var commitAtReadRequest: [UInt64: LogIndex] = [:]

    struct CommittedEntry {
        var term: Term
        var data: [UInt8]
        /// The highest term any node had when the entry was first applied: it was committed
        /// in that term or an earlier one.
        var committedByTerm: Term
    }

    struct EntryKey: Hashable {
        var index: LogIndex
        var term: Term
    }

    enum Event {
        case tick(NodeID, incarnation: Int)
        case deliver(Message)
        case flush(NodeID)
        /// Runs `action`; with a node, as that node's input (it waits while the node is stalled).
        case action(NodeID?, () -> Void)
        /// A node's sync of its step's writes finished.
        case persisted(NodeID, incarnation: Int, DriverStep)

        var node: NodeID? {
            switch self {
            case .tick(let id, _), .flush(let id), .persisted(let id, _, _): return id
            case .deliver(let message): return message.to
            case .action(let id, _): return id
            }
        }
    }

    /// When nodes snapshot: the replica's own policy, run by the same driver as the host's.
    public typealias SnapshotPolicy = RaftReplica.SnapshotPolicy

    final class Node {
        let id: NodeID
        var replica: Replica?
        var engine: RaftEngine? { replica?.engine }
        /// What survives a crash: what was synced (``MemoryStorage/crash()`` drops the rest).
        let storage = MemoryStorage()
        var incarnation = 0
        var flushScheduled = false
        var lastApplied: LogIndex = 0
        /// Client requests this incarnation is working on: request id → reply route.
        var replies: [UInt64: (Result<[UInt8], ReplicaError>) -> Void] = [:]
        var snapshotsTaken = 0
        /// Set while a step waits for its sync: like the host's executor, the node handles
        /// its events after the sync.
        var syncingUntil: VirtualTime?
        /// Node-level liveness, as the host's per-node pings see it: when each peer was last
        /// reachable, and which peers counted as alive at the last check.
        var lastHeard: [NodeID: VirtualTime] = [:]
        var alivePeers: Set<NodeID> = []

        init(id: NodeID) {
            self.id = id
        }

        var isUp: Bool { replica != nil }
    }

    /// - Parameters:
    ///   - servers: cluster size.
    ///   - spares: nodes started after the cluster's voters (ids `servers + 1`, ...) that
    ///     know no members: they take part once a membership change adds them.
    ///   - seed: determines every random choice of the run.
    ///   - snapshots: when nodes snapshot.
    ///   - machine: makes each node's empty state machine.
    ///   - configure: adjusts each node's engine configuration.
    public init(
        servers: Int,
        spares: Int = 0,
        seed: UInt64,
        testName: String = #function,
        tickInterval: VirtualTime = .milliseconds(10),
        snapshots: SnapshotPolicy = .never,
        machine: @escaping () -> AnyStateMachine = { AnyStateMachine(CommandRecorder()) },
        configure: @escaping (inout RaftConfiguration) -> Void = { _ in }
    ) {
        self.seed = seed
        self.testName = testName
        self.tickInterval = tickInterval
        self.snapshotPolicy = snapshots
        self.makeMachine = machine
        let voters = (1...servers).map { NodeID(UInt64($0)) }
        let ids = (1...(servers + spares)).map { NodeID(UInt64($0)) }
        nodeIDs = ids
        connected = Set(ids)
        random = SeededGenerator(seed: seed)
        committedMemberships[0] = Membership(voters: voters)
        configurationTemplate = { id in
            var configuration = RaftConfiguration(id: id, voters: voters.contains(id) ? voters : [])
            // 100 ms heartbeats and a 300-600 ms election timeout, as the lab suggests.
            configuration.heartbeatTicks = 10
            configuration.electionTimeoutTicks = 30
            configuration.randomSeed = seed
            // As the host: received chunks go to the storage, not into the engine.
            configuration.driverStoresSnapshotChunks = true
            configure(&configuration)
            return configuration
        }
        for id in ids {
            nodes[id] = Node(id: id)
            start(id)
        }
    }

    // MARK: - Running

    /// Runs the simulation for `duration` of virtual time, checking invariants at each step.
    public func run(for duration: VirtualTime) throws(SimulationFailure) {
        try run(until: now + duration)
    }

    /// Runs until `deadline` of virtual time.
    public func run(until deadline: VirtualTime) throws(SimulationFailure) {
        while let event = events.popFirst(notAfter: deadline) {
            now = max(now, event.time)
            handle(event.action)
            if let failure { throw failure }
        }
        now = max(now, deadline)
    }

    /// Runs in steps of `step` until `condition` holds or `timeout` passes; returns whether it held.
    public func run(
        atMost timeout: VirtualTime,
        step: VirtualTime = .milliseconds(10),
        until condition: () -> Bool
    ) throws(SimulationFailure) -> Bool {
        let deadline = now + timeout
        while now < deadline {
            if condition() { return true }
            try run(for: min(step, deadline - now))
        }
        return condition()
    }

    /// Schedules `action` at `delay` from now (e.g. a client's next step).
    public func schedule(after delay: VirtualTime, _ action: @escaping () -> Void) {
        events.schedule(at: now + delay, .action(nil, action))
    }

    /// `items` in a random order from the simulation's seeded stream.
    public func shuffled<Item>(_ items: [Item]) -> [Item] {
        items.shuffled(using: &random)
    }

    /// A random number from the simulation's seeded stream.
    public func randomNumber(below bound: UInt64) -> UInt64 {
        random.next() % bound
    }

    /// Fails the run (the error names the seed and describes every node).
    public func fail(_ message: String) -> SimulationFailure {
        let error = SimulationFailure(
            message: message + "\n" + clusterDescription,
            seed: seed,
            testName: testName,
            time: now
        )
        if failure == nil { failure = error }
        return error
    }

    private func handle(_ event: Event) {
        if case .persisted = event {
            // The sync itself is what the node is waiting for.
        } else if let id = event.node, let until = nodes[id]?.syncingUntil, now < until {
            events.schedule(at: until, event)
            return
        }
        if let id = event.node, let until = pausedUntil[id] {
            if now < until {
                // A stalled node handles its events when it resumes, in their original order.
                events.schedule(at: until, event)
                return
            }
            pausedUntil[id] = nil
            // The host's executor notices that its ticks ran late; so does this driver.
            nodes[id]?.replica?.clockStalled()
        }
        switch event {
        case .tick(let id, let incarnation):
            guard let node = nodes[id], node.isUp, node.incarnation == incarnation else { return }
            checkPeerLiveness(of: node)
            let wasQuiescent = node.engine!.isQuiescent
            node.replica!.tick()
            if !wasQuiescent && node.engine!.isQuiescent { quiescences += 1 }
            flush(node)
            let interval = Double(tickInterval) * (clockSkew[id] ?? 1)
            events.schedule(at: now + VirtualTime(max(1, interval)), .tick(id, incarnation: incarnation))
        case .deliver(let message):
            guard linkUp(message.from, message.to), let node = nodes[message.to], node.isUp else { return }
            node.replica!.step(message)
            flush(node)
        case .flush(let id):
            guard let node = nodes[id] else { return }
            node.flushScheduled = false
            if node.isUp { flush(node) }
        case .action(_, let action):
            action()
        case .persisted(let id, let incarnation, let step):
            guard let node = nodes[id], node.isUp, node.incarnation == incarnation else { return }
            node.syncingUntil = nil
            do {
                try node.storage.sync()
            } catch {
                _ = fail("\(node.id) could not sync: \(error)")
                return
            }
            finish(step, on: node)
            flush(node)
        }
    }

    // MARK: - Driving one node

    /// Runs the driver step (``DriverStep``) until the node has no output or waits for a sync.
    private func flush(_ node: Node) {
        defer {
            if node.replica != nil {
                route(node.replica!.takeCompletions(), from: node)
            }
        }
        while node.syncingUntil == nil, node.replica?.hasOutput == true {
            let step: DriverStep
            do {
                step = try node.replica!.beginStep()
            } catch {
                _ = fail("\(node.id) could not apply: \(error)")
                return
            }
            if let softState = step.output.softState, softState.role == .leader {
                checkLeader(node, term: softState.term)
            }
            checkAppliedIsDurable(on: node)
            for message in step.messagesBeforeSync { send(message) }
            for entry in step.appliedBeforeSync { checkApplied(entry, on: node) }
            route(step.completionsBeforeSync, from: node)
            if !step.output.entries.isEmpty {
                checkLogMatching(node, step.output.entries)
            }
            do {
                try step.write(to: node.storage)
            } catch {
                _ = fail("\(node.id) could not write: \(error)")
                return
            }
            let latency = diskLatency[node.id] ?? 0
            if step.mustSync && latency > 0 {
                node.syncingUntil = now + latency
                events.schedule(at: now + latency, .persisted(node.id, incarnation: node.incarnation, step))
                return
            }
            do {
                if step.mustSync { try node.storage.sync() }
            } catch {
                _ = fail("\(node.id) could not sync: \(error)")
                return
            }
            finish(step, on: node)
        }
    }

    /// The second half of the driver step, once the node's writes are durable.
    private func finish(_ step: DriverStep, on node: Node) {
        let end: StepEnd
        do {
            end = try node.replica!.finishStep(step)
        } catch {
            _ = fail("\(node.id) could not apply: \(error)")
            return
        }
        for message in end.messages { send(message) }
        for entry in end.applied { checkApplied(entry, on: node) }
        route(end.completions, from: node)
        if let restore = end.restore {
            // Restored at once (the host restores off its executor, with the same calls).
            let restored: StepEnd
            do {
                let stored = try node.replica!.readingStoredSnapshot(restore, in: node.storage)
                restored = try node.replica!.finishRestore(stored.run())
            } catch {
                _ = fail("\(node.id) could not restore snapshot \(restore.index): \(error)")
                return
            }
            node.lastApplied = restore.index
            for entry in restored.applied { checkApplied(entry, on: node) }
            route(restored.completions, from: node)
        }
        snapshotIfDue(node)
    }

    private func route(_ completions: [Replica.Completion], from node: Node) {
        for completion in completions {
            if let required = commitAtReadRequest.removeValue(forKey: completion.requestID),
                case .success = completion.result, node.lastApplied < required
            {
                _ = fail(
                    "read \(completion.requestID) on \(node.id) served at \(node.lastApplied), below commit \(required)"
                )
            }
            node.replies.removeValue(forKey: completion.requestID)?(completion.result)
        }
    }

    private func scheduleFlush(_ node: Node) {
        guard !node.flushScheduled else { return }
        node.flushScheduled = true
        events.schedule(at: now, .flush(node.id))
    }

    private func send(_ message: Message) {
        if message.isResponse { responsesSent += 1 } else { requestsSent += 1 }
        bytesSent += message.approximateByteSize
        guard linkUp(message.from, message.to), let delay = network.delay(for: message, using: &random) else {
            return
        }
        events.schedule(at: now + delay, .deliver(message))
    }

    /// The host's node-level liveness check: a peer is alive while it was reachable (up, not
    /// stalled, linked) within an election timeout. Changes go to the engine as the host hands
    /// them over (``RaftEngine/livenessChanged(alive:)``).
    private func checkPeerLiveness(of node: Node) {
        let timeout = tickInterval * VirtualTime(configurationTemplate(node.id).electionTimeoutTicks)
        var alive: Set<NodeID> = []
        for peer in nodeIDs where peer != node.id {
            if linkUp(node.id, peer), nodes[peer]?.isUp == true, (pausedUntil[peer].map { now >= $0 } ?? true) {
                node.lastHeard[peer] = now
            }
            if let heard = node.lastHeard[peer], now - heard < timeout { alive.insert(peer) }
        }
        if alive != node.alivePeers {
            node.alivePeers = alive
            node.replica!.livenessChanged(alive: alive)
        }
    }

    private func linkUp(_ a: NodeID, _ b: NodeID) -> Bool {
        connected.contains(a) && connected.contains(b) && partitionOf[a] == partitionOf[b]
    }

    private func checkApplied(_ entry: Entry, on node: Node) {
        guard entry.index == node.lastApplied + 1 else {
            _ = fail("\(node.id) applied index \(entry.index) after \(node.lastApplied): out of order or twice")
            return
        }
        node.lastApplied = entry.index
        // Committed means durable on a majority: applying (and answering) earlier is a promise
        // a crash of the right nodes can break. The majority is of the membership the leader
        // had applied when it committed: the latest one before the entry, or (when the leader
        // committed both at once) the one before that.
        let durable = Set(
            nodes.values.filter { $0.storage.hasSynced(index: entry.index, term: entry.term) }.map(\.id)
        )
        let candidates = committedMemberships.keys.filter { $0 < entry.index }.sorted().suffix(2)
        let heldByMajority = candidates.contains { index in
            let membership = committedMemberships[index]!
            return [membership.voters, membership.outgoingVoters].allSatisfy { voters in
                voters.isEmpty || voters.filter(durable.contains).count > voters.count / 2
            }
        }
        if !heldByMajority {
            _ = fail(
                "\(node.id) applied index \(entry.index) while it was durable only on \(durable.sorted()), not on a "
                    + "majority of \(candidates.map { committedMemberships[$0]!.description })"
            )
        }
        if entry.kind == .membership, committedMemberships[entry.index] == nil {
            committedMemberships[entry.index] = try? Membership(decoding: entry.data)
        }
        if let previous = committed[entry.index] {
            if previous.term != entry.term || previous.data != entry.data {
                _ = fail(
                    "\(node.id) applied a different entry at index \(entry.index): term \(entry.term) vs \(previous.term)"
                )
            }
        } else {
            let maxTerm = nodes.values.compactMap { $0.engine?.term }.max() ?? entry.term
            committed[entry.index] = CommittedEntry(term: entry.term, data: entry.data, committedByTerm: maxTerm)
            highestCommitted = max(highestCommitted, entry.index)
        }
    }

    private func snapshotIfDue(_ node: Node) {
        guard let replica = node.replica,
            replica.snapshotDue(raftStateSize: node.storage.persistedRaftStateSize)
        else { return }
        do {
            try node.replica!.takeSnapshot(into: node.storage)
            node.snapshotsTaken += 1
        } catch {
            _ = fail("\(node.id) could not snapshot at \(replica.appliedIndex): \(error)")
        }
    }

    // MARK: - Invariants

    /// What `beginStep` applied before the batch's write must already be durable on this node:
    /// a state machine is never ahead of its own storage.
    private func checkAppliedIsDurable(on node: Node) {
        guard let replica = node.replica, replica.appliedIndex > 0,
            let term = replica.engine.log.term(at: replica.appliedIndex)
        else { return }
        if !node.storage.hasSynced(index: replica.appliedIndex, term: term) {
            _ = fail("\(node.id) applied through \(replica.appliedIndex) before it was durable on that node")
        }
    }

    private func checkLeader(_ node: Node, term: Term) {
        if let other = leaderOfTerm[term], other != node.id {
            _ = fail("two leaders in term \(term): \(other) and \(node.id)")
            return
        }
        leaderOfTerm[term] = node.id
        // Leader completeness: every entry committed in an earlier term is in the new
        // leader's log. (A leader of an old term may appear after a newer term committed more:
        // entries first applied when some node was already at `term` or later are exempt.)
        guard let engine = node.engine else { return }
        let log = engine.log
        var index = highestCommitted
        while index > log.snapshotIndex {
            if let known = committed[index], known.committedByTerm < term {
                guard let entry = log.entry(at: index) else {
                    _ = fail("leader \(node.id) of term \(term) lacks committed index \(index) (last \(log.lastIndex))")
                    return
                }
                if entry.term != known.term || entry.data != known.data {
                    _ = fail("leader \(node.id) of term \(term) has a different entry at committed index \(index)")
                    return
                }
            }
            index -= 1
        }
    }

    private func checkLogMatching(_ node: Node, _ entries: [Entry]) {
        for entry in entries {
            let key = EntryKey(index: entry.index, term: entry.term)
            if let known = persistedEntries[key] {
                if known != entry.data {
                    _ = fail("log matching violated at index \(entry.index) term \(entry.term) on \(node.id)")
                    return
                }
            } else {
                persistedEntries[key] = entry.data
            }
        }
    }

    /// Checks that any two logs that hold an entry with the same index and term are
    /// identical up to it (the Log Matching property), over what each still holds.
    public func checkLogsMatch() throws(SimulationFailure) {
        let logs = nodes.values.compactMap { $0.engine?.log }
        for a in logs.indices {
            for b in logs.indices where b > a {
                let left = logs[a]
                let right = logs[b]
                var index = min(left.lastIndex, right.lastIndex)
                let floor = max(left.snapshotIndex, right.snapshotIndex)
                // Find the highest shared (index, term), then everything below must agree.
                while index > floor, left.term(at: index) != right.term(at: index) {
                    index -= 1
                }
                while index > floor {
                    if left.entry(at: index) != right.entry(at: index) {
                        throw fail("logs differ at index \(index) below a shared entry")
                    }
                    index -= 1
                }
            }
        }
    }

    // MARK: - Faults

    public func isConnected(_ id: NodeID) -> Bool { connected.contains(id) }

    public func disconnect(_ id: NodeID) {
        connected.remove(id)
    }

    public func connect(_ id: NodeID) {
        connected.insert(id)
    }

    /// Splits the nodes into partitions; nodes not listed form one more partition.
    public func partition(_ groups: [[NodeID]]) {
        partitionOf = [:]
        for (label, group) in groups.enumerated() {
            for id in group { partitionOf[id] = label + 1 }
        }
    }

    public func healPartition() {
        partitionOf = [:]
    }

    /// Stalls a node (a stopped process or a stuck disk) for `duration`: it handles no tick,
    /// message or flush until then, and then catches up in order.
    public func pause(_ id: NodeID, for duration: VirtualTime) {
        pausedUntil[id] = max(pausedUntil[id] ?? 0, now + duration)
    }

    /// Crashes a node: it keeps exactly what it had persisted.
    public func crash(_ id: NodeID) {
        guard let node = nodes[id], node.isUp else { return }
        leaseReadsOfEndedIncarnations += node.engine?.leaseReadCount ?? 0
        node.replica = nil
        node.replies = [:]
        node.incarnation += 1
        node.syncingUntil = nil
        node.lastHeard = [:]
        node.alivePeers = []
        node.storage.crash()
    }

    /// Restarts a crashed node from its persisted state (a running node is crashed first).
    public func restart(_ id: NodeID) {
        crash(id)
        start(id)
    }

    private func start(_ id: NodeID) {
        guard let node = nodes[id] else { return }
        let persisted: PersistentState
        do {
            persisted = try node.storage.load()
        } catch {
            _ = fail("\(id) could not load its storage: \(error)")
            return
        }
        var configuration = configurationTemplate(id)
        configuration.randomSeed = configuration.randomSeed &+ UInt64(node.incarnation) &* 7919
        do {
            node.replica = try Replica(
                configuration: configuration,
                machine: makeMachine(),
                persistentState: persisted,
                snapshotPolicy: snapshotPolicy
            )
        } catch {
            _ = fail("\(id) could not restart from its persisted state: \(error)")
            return
        }
        node.lastApplied = persisted.snapshot?.metadata.index ?? 0
        let phase = random.next() % tickInterval
        events.schedule(at: now + phase + 1, .tick(id, incarnation: node.incarnation))
        scheduleFlush(node)
    }

    // MARK: - Observing

    /// One line per node: liveness, links, role, term, log and apply positions.
    public var clusterDescription: String {
        nodeIDs.map { id in
            let links = connected.contains(id) ? "connected" : "disconnected"
            let group = partitionOf[id].map { " partition \($0)" } ?? ""
            guard let engine = nodes[id]?.engine else { return "  \(id): down, \(links)\(group)" }
            return "  \(id): \(engine.role) term \(engine.term) leader \(engine.leader?.description ?? "-") "
                + "commit \(engine.commitIndex) applied \(lastApplied(id)) stable \(engine.stableIndex) "
                + "log \(engine.log.snapshotIndex)...\(engine.log.lastIndex), \(links)\(group), "
                + "members \(engine.membership)\(engine.isRemoved ? " (removed)" : "")"
        }.joined(separator: "\n")
    }

    public func isUp(_ id: NodeID) -> Bool { nodes[id]?.isUp == true }

    /// Whether node `id` is waiting for a sync: a crash now loses that sync's writes.
    public func isSyncing(_ id: NodeID) -> Bool { nodes[id]?.syncingUntil != nil }

    public func engine(_ id: NodeID) -> RaftEngine? { nodes[id]?.engine }

    /// Linearizable reads that leaders served from their leases, crashed incarnations included.
    public var leaseReadsServed: UInt64 {
        nodes.values.reduce(leaseReadsOfEndedIncarnations) { $0 + ($1.engine?.leaseReadCount ?? 0) }
    }

    /// Bytes of persisted Raft state (hard state + log, no snapshot) of a node.
    public func raftStateSize(_ id: NodeID) -> Int { nodes[id]?.storage.persistedRaftStateSize ?? 0 }

    public func snapshotCount(_ id: NodeID) -> Int { nodes[id]?.snapshotsTaken ?? 0 }

    public func persistedSnapshot(_ id: NodeID) -> Snapshot? { nodes[id]?.storage.syncedState.snapshot }

    /// The command node `id` applied at `index`, if it runs a ``CommandRecorder``.
    public func applied(_ id: NodeID, at index: LogIndex) -> [UInt8]? {
        nodes[id]?.replica?.machine.unwrap(as: CommandRecorder.self)?.commands[index]
    }

    /// The state machine of node `id`, if it is up and runs a `Machine`.
    public func machine<Machine: StateMachine>(_ id: NodeID, as type: Machine.Type) -> Machine? {
        nodes[id]?.replica?.machine.unwrap(as: type)
    }

    /// The state machine of node `id` whatever its type (a plugin loaded at run time too), if
    /// the node is up.
    public func stateMachine(_ id: NodeID) -> AnyStateMachine? { nodes[id]?.replica?.machine }

    public func lastApplied(_ id: NodeID) -> LogIndex { nodes[id]?.lastApplied ?? 0 }

    /// Proposes `command` on node `id`, as the lab's `Start`: returns the index and term it
    /// would be committed at, or nil when the node is down or not the leader.
    @discardableResult
    public func start(_ id: NodeID, _ command: [UInt8]) -> (index: LogIndex, term: Term)? {
        guard let node = nodes[id], node.isUp else { return nil }
        let request = Replica.ClientCommand(
            clientID: random.next(),
            sequence: 1,
            command: CommandRecorder.Command(bytes: command).encoded()
        )
        let result = node.replica!.submitCommand(request, requestID: takeRequestID(), now: now / 1_000)
        scheduleFlush(node)
        guard case .accepted(let index, let term) = result else { return nil }
        return (index, term)
    }

    /// Asks node `from` to hand its leadership to `to` (see
    /// ``RaftEngine/transferLeadership(to:)``); nil when `from` is down.
    @discardableResult
    public func transferLeadership(from: NodeID, to target: NodeID) -> RaftEngine.TransferResult? {
        guard let node = nodes[from], node.isUp else { return nil }
        let result = node.replica!.transferLeadership(to: target)
        scheduleFlush(node)
        return result
    }

    /// Proposes a membership change on node `id` (see
    /// ``RaftEngine/proposeMembershipChange(_:context:)``); nil when the node is down.
    @discardableResult
    public func proposeMembershipChange(
        on id: NodeID,
        _ changes: [MembershipChange]
    ) -> RaftEngine.MembershipChangeResult? {
        guard let node = nodes[id], node.isUp else { return nil }
        let result = node.replica!.proposeMembershipChange(changes, context: [])
        scheduleFlush(node)
        return result
    }

    /// Asks node `id` for a linearizable read of its recorder; `reply` gets whether it was
    /// served. The simulator checks that it observed everything committed before the call.
    public func requestRead(_ id: NodeID, reply: @escaping (Bool) -> Void = { _ in }) {
        query(to: id, CommandRecorder.Query(index: 0).encoded(), consistency: .linearizable) { result in
            reply((try? result.get()) != nil)
        }
    }

    // MARK: - Clients

    private func takeRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// Sends a client command to node `id` over the client network (reachable in every
    /// partition; lossy when the network is unreliable). `reply` runs when an answer
    /// arrives; a lost request or reply never answers, so clients need timeouts.
    public func submit(
        to id: NodeID,
        _ command: Replica.ClientCommand,
        reply: @escaping (Result<[UInt8], ReplicaError>) -> Void
    ) {
        clientHop(to: id) { [self] in
            guard let node = nodes[id], node.isUp else { return }
            let requestID = takeRequestID()
            node.replies[requestID] = { [self] result in clientHop { reply(result) } }
            node.replica!.submitCommand(command, requestID: requestID, now: now / 1_000)
            scheduleFlush(node)
        }
    }

    /// Sends a query to node `id`; see ``submit(to:_:reply:)``.
    public func query(
        to id: NodeID,
        _ query: [UInt8],
        consistency: Replica.ReadConsistency,
        reply: @escaping (Result<[UInt8], ReplicaError>) -> Void
    ) {
        clientHop(to: id) { [self] in
            guard let node = nodes[id], node.isUp else { return }
            let requestID = takeRequestID()
            if consistency == .linearizable {
                commitAtReadRequest[requestID] = nodes.values.compactMap { $0.engine?.commitIndex }.max() ?? 0
            }
            node.replies[requestID] = { [self] result in clientHop { reply(result) } }
            node.replica!.submitQuery(query, requestID: requestID, consistency: consistency)
            scheduleFlush(node)
        }
    }

    /// One trip over the client network: 1-3 ms (clients are further away than the nodes are
    /// from each other), or 0-26 ms and a 10% loss when the network is unreliable.
    /// Carries a client's request to `node` (or, with no node, a reply back to the client).
    private func clientHop(to node: NodeID? = nil, _ action: @escaping () -> Void) {
        let delay: VirtualTime
        if network.unreliable {
            guard random.next() % 10 != 0 else { return }
            delay = VirtualTime(random.next() % 26_001)
        } else {
            delay = 1_000 + VirtualTime(random.next() % 2_000)
        }
        events.schedule(at: now + delay, .action(node, action))
    }
}

/// A failed simulation: what went wrong, and the seed that replays it.
public struct SimulationFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var seed: UInt64
    public var testName: String
    public var time: VirtualTime

    public var description: String {
        let name = testName.split(separator: "(").first.map(String.init) ?? testName
        return "\(message) [at \(time / 1_000) ms virtual; seed \(seed); replay: "
            + "RAFT_SIM_SEED=\(seed) swift test --filter \(name)]"
    }
}
