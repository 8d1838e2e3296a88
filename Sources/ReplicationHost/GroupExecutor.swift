package import Logging
import NIOPosix
public import RaftCore
package import RaftReplica
package import RaftStorage
package import RaftTransport
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What one group of a node is doing, as of the end of its executor's last batch.
public struct GroupStatus: Sendable, Hashable {
    /// The group's name in `cluster.yaml`.
    public var name: String
    public var role: Role
    public var term: Term
    /// The leader this node knows of (itself when it leads).
    public var leader: NodeID?
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var lastIndex: LogIndex
    public var snapshotIndex: LogIndex
    /// Syncs of the group's storage since the node started: one per batch that wrote, however
    /// many entries and votes it covered.
    public var syncs: Int
    /// Counters since the node started.
    public var metrics: GroupMetrics
    /// On a leader: entries each follower is behind this node's last index.
    public var replicationLag: [NodeID: UInt64]
    /// On a leader: the highest index each follower (learners included) is known to hold.
    public var followerMatch: [NodeID: LogIndex]
    /// The group's members as this node has applied them.
    public var membership: Membership
    /// The group removed this node: it no longer serves the group.
    public var isRemoved: Bool
    /// The group is idle and quiescent: no heartbeats, no ticks (see `raft.quiesceAfter`).
    public var isQuiescent: Bool
}

/// An operator's request to a group's leader (membership, leadership).
package enum AdminRequest: Sendable {
    /// Proposes a membership change with the resulting address book; answered once applied.
    case changeMembership([MembershipChange], context: [UInt8])
    /// Hands leadership to `target`, or to the most up-to-date follower; answered once done.
    case transferLeadership(to: NodeID?)
    /// Captures the group's state once the leader has applied everything committed before the
    /// request (a ReadIndex barrier): what `raftctl snapshot save` writes.
    case backup
}

/// How an ``AdminRequest`` ended.
package enum AdminResult: Sendable {
    /// Done: the membership now in force (for a transfer: the new leader).
    case membershipChanged(Membership)
    case leadershipTransferred(to: NodeID)
    /// The state at `capture.index` (of `term`), with the membership in force there.
    case backup(SnapshotCapture, term: Term, membership: Membership)
    /// This node does not lead; try the leader it knows of.
    case notLeader(leaderHint: NodeID?)
    /// Cannot be done as asked (the reason says why); retrying will not help.
    case rejected(String)
    /// May work later (a change in progress, a leader change, a timeout).
    case retry(String)
}

/// What a group counted since its node started (exported on `/metrics`).
public struct GroupMetrics: Sendable, Hashable {
    /// Upper bounds, in seconds, of the storage sync latency histogram's buckets.
    public static let syncLatencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    /// Client commands handed to the replica on this node.
    public var proposals: UInt64 = 0
    /// Client queries (reads) handed to the replica on this node.
    public var reads: UInt64 = 0
    /// Log entries applied (commands and the leaders' no-ops).
    public var appliedEntries: UInt64 = 0
    /// Times this node started an election (became candidate).
    public var elections: UInt64 = 0
    /// Linearizable reads a leader served from its lease, without a heartbeat round.
    public var leaseReads: UInt64 = 0
    /// Times a leader gave up its read lease because its ticks ran late (see `raft.leaseReads`).
    public var leaseStalls: UInt64 = 0
    /// Snapshots this node took, and the size of the last one.
    public var snapshots: UInt64 = 0
    public var lastSnapshotBytes: UInt64 = 0
    /// Sync latencies: counts per bucket of ``syncLatencyBounds`` (the last slot is +Inf),
    /// their sum in seconds and their number.
    public var syncLatencyBuckets: [UInt64] = Array(repeating: 0, count: syncLatencyBounds.count + 1)
    public var syncLatencySum: Double = 0
    public var syncCount: UInt64 = 0
    /// The latest leaders this node learned of, oldest first (at most ``LeaderChange/kept``).
    public var leaderChanges: [LeaderChange] = []

    mutating func recordSync(seconds: Double) {
        let slot = Self.syncLatencyBounds.firstIndex { seconds <= $0 } ?? Self.syncLatencyBounds.count
        syncLatencyBuckets[slot] += 1
        syncLatencySum += seconds
        syncCount += 1
    }
}

/// The serial executor of one Raft group on one node: the only owner of the group's
/// ``Replica`` and storage.
///
/// Inputs (ticks, peer messages, client requests) go into a locked queue and ring a doorbell.
/// The executor's task wakes up, takes *everything* queued, feeds it to the replica and then
/// handles the replica's output once, so a single `sync()` makes durable every entry and vote
/// that arrived while the previous batch was being written (group commit). Storage calls run
/// on NIO's blocking thread pool so that an fsync never parks a cooperative thread. A leader
/// goes on stepping while its own fsync runs (`PersistPipeline`); other roles wait for it,
/// and new inputs accumulate for the next batch.
package final class GroupExecutor: Sendable {
    package typealias Reply = @Sendable (ClientResponse) -> Void

    private enum Event: Sendable {
        case tick
        /// The node-level liveness check's view changed: the peer nodes answering now.
        case liveness(alive: Set<NodeID>)
        case message(Message)
        case request(ClientRequest, Reply)
        /// `handOff`: a leader first transfers its leadership (see ``GroupExecutor/stop(handingOffLeadership:)``).
        case stop(handOff: Bool)
        case admin(AdminRequest, @Sendable (AdminResult) -> Void)
        /// The snapshot in flight finished a stage off the executor (see ``SnapshotJob``).
        case snapshot(SnapshotJob.Event)
        /// The restore of a received snapshot finished off the executor (see ``SnapshotRestore``).
        case restored(RestoredSnapshot, started: ContinuousClock.Instant)
        /// The leader's write numbered so in ``PersistPipeline`` is durable (or failed).
        case persisted(UInt64)
    }

    /// A leader's steps whose writes are in flight, so that the executor goes on stepping
    /// acknowledgements, proposals, heartbeats and reads while its own fsync runs (etcd-raft's
    /// asynchronous storage writes). One write at a time, in order: the steps queued meanwhile
    /// go out together with one sync. Each step is finished (``Replica/finishStep(_:)``) once
    /// its write is durable, in the order taken; until then the engine does not count the
    /// leader's own copy of their entries towards a commit.
    ///
    /// Only a leader's steps without a snapshot overtake their sync: what a leader sends
    /// before its sync (appends, heartbeats) depends only on its term, durable since it
    /// campaigned. Any other step first waits for the writes in flight and is then persisted
    /// inline, as before: a follower's acknowledgement vouches for its write, and a snapshot
    /// must be restored before any later step applies entries.
    private struct PersistPipeline {
        var writing: (id: UInt64, steps: [DriverStep], task: Task<Duration, any Error>)?
        var queued: [DriverStep] = []
        var lastID: UInt64 = 0

        var isIdle: Bool { writing == nil && queued.isEmpty }
    }

    /// An admin request accepted by the engine, answered once its outcome is known.
    private struct PendingAdmin {
        var request: AdminRequest
        var reply: @Sendable (AdminResult) -> Void
        var deadline: ContinuousClock.Instant
        /// For a membership change: the entry that carries it; for a backup: its barrier's
        /// request id.
        var index: LogIndex
        var term: Term
    }

    private struct Waiting {
        var reply: Reply
        var deadline: ContinuousClock.Instant
    }

    /// The group's name, its wire id and the host's settings for it.
    package let name: String
    package let groupID: GroupID
    private let heartbeat: Duration
    private let requestTimeout: Duration
    private let transport: any PeerTransport
    private let storage: any PersistentStorage
    private let logger: Logger
    /// The swift-metrics instruments the status is recorded to, once per tick and on a scrape.
    private let instruments: GroupInstruments
    /// Called after a batch that changed the membership in force (or removed this node).
    private let membershipChanged: @Sendable (GroupStatus) -> Void
    /// Inputs not yet taken by the executor; nil once it has returned, when requests are
    /// answered at once instead.
    private let queue = Mutex<[Event]?>([])
    private let doorbell: AsyncStream<Void>
    private let doorbellContinuation: AsyncStream<Void>.Continuation
    private let replica: Mutex<Replica?>
    private let currentStatus: Mutex<GroupStatus>
    private let metrics = Mutex(GroupMetrics())

    /// - Parameters:
    ///   - replica: restored from `storage` by the caller; handed over to the executor.
    ///   - storage: the group's storage; the executor is its only writer from now on.
    package init(
        name: String,
        groupID: GroupID,
        replica: Replica,
        storage: any PersistentStorage,
        transport: any PeerTransport,
        heartbeat: Duration,
        requestTimeout: Duration,
        instruments: GroupInstruments,
        membershipChanged: @escaping @Sendable (GroupStatus) -> Void = { _ in },
        logger: Logger
    ) {
        self.membershipChanged = membershipChanged
        self.instruments = instruments
        self.name = name
        self.groupID = groupID
        self.heartbeat = heartbeat
        self.requestTimeout = requestTimeout
        self.transport = transport
        self.storage = storage
        var logger = logger
        logger[metadataKey: "raft.group"] = "\(name)"
        self.logger = logger
        (doorbell, doorbellContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.replica = Mutex(replica)
        self.currentStatus = Mutex(Self.status(of: replica, name: name, storage: storage, metrics: GroupMetrics()))
    }

    /// Records the group's latest status to its swift-metrics instruments now (before a scrape).
    package func recordInstruments() {
        instruments.record(status)
    }

    /// The group's state at the end of the last batch.
    package var status: GroupStatus {
        currentStatus.withLock { $0 }
    }

    /// Whether this node led the group at the end of the last batch: ``status``'s role
    /// without copying the whole status (the HTTP API asks on every request).
    package var isLeader: Bool {
        currentStatus.withLock { $0.role == .leader }
    }

    /// Hands the node-level liveness check's new view to the group: a quiescent group wakes if
    /// its leader's node (or a quorum of its voters) stopped answering
    /// (``RaftEngine/livenessChanged(alive:)``).
    package func livenessChanged(alive: Set<NodeID>) {
        enqueue(.liveness(alive: alive))
    }

    /// Hands a client request to the group; `reply` is called exactly once, from the executor,
    /// with the answer or with a retryable error after the request timeout.
    package func submit(_ request: ClientRequest, reply: @escaping Reply) {
        enqueue(.request(request, reply))
    }

    /// Asks the executor to finish: it completes the batch in progress (its sync included),
    /// answers the requests still waiting with a retryable error and returns from ``run()``.
    ///
    /// With `handingOffLeadership` (a graceful shutdown), a leader first hands its leadership
    /// to its most up-to-date follower (``RaftEngine/transferLeadership(to:)``) and keeps
    /// running until that follower has taken over or the transfer is abandoned, which the
    /// engine does after one election timeout; the transport must stay up meanwhile.
    package func stop(handingOffLeadership: Bool = false) {
        enqueue(.stop(handOff: handingOffLeadership))
    }

    /// Hands an admin request to the group; `reply` is called exactly once, when the change is
    /// applied (or the transfer done), refused, or after the request timeout.
    package func admin(_ request: AdminRequest, reply: @escaping @Sendable (AdminResult) -> Void) {
        enqueue(.admin(request, reply))
    }

    /// ``admin(_:reply:)`` as an async call.
    package func admin(_ request: AdminRequest) async -> AdminResult {
        await withCheckedContinuation { continuation in
            admin(request) { continuation.resume(returning: $0) }
        }
    }

    private func enqueue(_ event: Event) {
        let accepted = queue.withLock { queue in
            queue?.append(event)
            return queue != nil
        }
        if accepted {
            doorbellContinuation.yield()
        } else if case .request(_, let reply) = event {
            reply(.error(Self.shuttingDown))
        } else if case .admin(_, let reply) = event {
            reply(.retry("the node is shutting down"))
        }
    }

    private static let shuttingDown = ReplicaError(.leaderChanged, "the node is shutting down; retry")

    /// Drives the group until ``stop()`` is called or the task is cancelled; throws when the
    /// storage fails (the node must stop: its disk no longer matches what it promised).
    package func run() async throws {
        // Take the replica out of its box: from here on only this task touches it.
        guard var replica = replica.withLock({ $0.take() }) else {
            preconditionFailure("GroupExecutor.run() called twice")
        }
        let inbox = transport.inbox(for: groupID)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [self] in
                for await message in inbox {
                    enqueue(.message(message))
                }
            }
            // One timer per node (per process) for every group, not a sleeping task per group;
            // a quiescent group leaves it.
            var ticks = TickSubscription(ticker: SharedTicker.every(heartbeat)) { [weak self] in self?.enqueue(.tick) }
            defer {
                ticks.set(active: false)
                group.cancelAll()
            }
            try await loop(&replica, ticks: &ticks, tasks: &group)
        }
    }

    private func loop(
        _ replica: inout Replica,
        ticks: inout TickSubscription,
        tasks: inout ThrowingDiscardingTaskGroup<any Error>
    ) async throws {
        var waiting: [UInt64: Waiting] = [:]
        var pendingAdmin: [PendingAdmin] = []
        defer {
            // However the executor ends, what is still queued or waiting gets an answer.
            let unserved = queue.withLock { queue in
                defer { queue = nil }
                return queue ?? []
            }
            for case .request(_, let reply) in unserved {
                reply(.error(Self.shuttingDown))
            }
            for entry in waiting.values {
                entry.reply(.error(Self.shuttingDown))
            }
            for case .admin(_, let reply) in unserved {
                reply(.retry("the node is shutting down"))
            }
            for entry in pendingAdmin {
                entry.reply(.retry("the node is shutting down; the change may still be applied"))
            }
        }
        var nextRequestID: UInt64 = 1
        var lastSoftState = Leadership(replica.engine)
        let clock = ContinuousClock()
        var lastTick = clock.now
        var nextInstrumentsRecord = clock.now

        /// Backups whose barrier passed (by request id), or failed.
        var barriers: [UInt64: Result<[UInt8], ReplicaError>] = [:]
        func answer(_ completions: [Replica.Completion]) {
            for completion in completions {
                if let waiter = waiting.removeValue(forKey: completion.requestID) {
                    waiter.reply(ClientResponse(completion.result))
                } else {
                    barriers[completion.requestID] = completion.result
                }
            }
        }

        /// The one snapshot of this group being serialized or stored off the executor.
        var snapshotJob: SnapshotJob?
        /// Whether a received snapshot is being restored off the executor, and the newer one
        /// to restore next (restores of a group run one at a time, in order: a plugin loaded at
        /// run time restores into its one instance).
        var restoreRunning = false
        var nextRestore: SnapshotRestore?

        var stopping = false
        /// While handing off: the latest time to stop at, should ticks stall.
        var handOffDeadline: ContinuousClock.Instant?
        var pipeline = PersistPipeline()
        for await _ in doorbell {
            let events = queue.withLock { queue in
                defer { queue = [] }
                return queue ?? []
            }
            var ticked = false
            var persisted: UInt64?
            // A tick more than one interval late means the engine's clock lags real time by
            // that much: a lease counted in those ticks would outlast the followers' promise.
            if replica.engine.hasLease, lastTick.duration(to: clock.now) > heartbeat * 2 {
                replica.clockStalled()
                metrics.withLock { $0.leaseStalls += 1 }
            }
            for event in events {
                switch event {
                case .tick:
                    replica.tick()
                    lastTick = clock.now
                    ticked = true
                case .liveness(let alive):
                    replica.livenessChanged(alive: alive)
                case .message(let message):
                    replica.step(message)
                case .request(let request, let reply):
                    let requestID = nextRequestID
                    nextRequestID += 1
                    waiting[requestID] = Waiting(reply: reply, deadline: clock.now.advanced(by: requestTimeout))
                    switch request {
                    case .command(let command):
                        metrics.withLock { $0.proposals += 1 }
                        replica.submitCommand(command, requestID: requestID, now: wallClockMilliseconds())
                    case .query(let query, let consistency):
                        metrics.withLock { $0.reads += 1 }
                        replica.submitQuery(query, requestID: requestID, consistency: consistency)
                    }
                case .admin(.backup, let reply):
                    guard replica.engine.role == .leader else {
                        reply(.notLeader(leaderHint: replica.engine.leader))
                        break
                    }
                    let requestID = nextRequestID
                    nextRequestID += 1
                    replica.submitBarrier(requestID: requestID)
                    pendingAdmin.append(
                        PendingAdmin(
                            request: .backup,
                            reply: reply,
                            deadline: clock.now.advanced(by: requestTimeout),
                            index: requestID,
                            term: replica.engine.term
                        )
                    )
                case .admin(let request, let reply):
                    let deadline = clock.now.advanced(by: requestTimeout)
                    if let pending = startAdmin(request, reply: reply, deadline: deadline, &replica) {
                        pendingAdmin.append(pending)
                    }
                case .stop(let handOff):
                    if handOff && !stopping && beginHandOff(&replica) {
                        let ticks = replica.engine.configuration.electionTimeoutTicks
                        handOffDeadline = clock.now.advanced(by: heartbeat * (2 * ticks))
                    }
                    stopping = true
                case .snapshot(let event):
                    try snapshotProgressed(event, job: &snapshotJob, &replica, tasks: &tasks)
                case .persisted(let id):
                    persisted = id
                case .restored(let restored, let started):
                    restoreRunning = false
                    let end: StepEnd
                    do {
                        end = try replica.finishRestore(restored)
                    } catch {
                        // A snapshot that does not restore: the node stops, as it did when the
                        // restore ran inline.
                        logger.error(
                            "snapshot restore failed",
                            metadata: ["raft.index": "\(restored.index)", "raft.error": "\(error)"]
                        )
                        throw error
                    }
                    answer(end.completions)
                    if !end.applied.isEmpty {
                        metrics.withLock { $0.appliedEntries += UInt64(end.applied.count) }
                    }
                    logger.info(
                        replica.isRestoring ? "snapshot restore superseded by a newer snapshot" : "snapshot restored",
                        metadata: [
                            "raft.index": "\(restored.index)", "raft.appliedAfter": "\(end.applied.count)",
                            "raft.restoreMs": "\((ContinuousClock.now - started).wholeMilliseconds)",
                        ]
                    )
                    if let next = nextRestore {
                        nextRestore = nil
                        restoreRunning = true
                        startRestore(next, tasks: &tasks)
                    }
                }
            }
            answer(replica.takeCompletions())
            if let persisted, pipeline.writing?.id == persisted {
                try await finishWriting(&pipeline, &replica, answer: answer)
            }
            if let restore = try await flush(
                &replica,
                pipeline: &pipeline,
                lastSoftState: &lastSoftState,
                answer: answer
            ) {
                if restoreRunning {
                    // Superseded ones never run: the replica would discard their results.
                    nextRestore = restore
                } else {
                    restoreRunning = true
                    startRestore(restore, tasks: &tasks)
                }
            }
            if snapshotJob == nil, !stopping,
                replica.snapshotDue(raftStateSize: storage.persistedRaftStateSize)
            {
                snapshotJob = startSnapshot(&replica, tasks: &tasks)
            }
            if ticked {
                let now = clock.now
                for (requestID, entry) in waiting where entry.deadline <= now {
                    waiting[requestID] = nil
                    entry.reply(.error(ReplicaError(.leaderChanged, "not finished within \(requestTimeout); retry")))
                }
            }
            let status = Self.status(of: replica, name: name, storage: storage, metrics: metrics.withLock { $0 })
            let previous = currentStatus.withLock { current in
                defer { current = status }
                return current
            }
            // After the status: an answer shows the membership it reports.
            pendingAdmin = pendingAdmin.filter { pending in
                if case .backup = pending.request, let barrier = barriers.removeValue(forKey: pending.index) {
                    switch barrier {
                    case .success:
                        let capture = replica.captureSnapshot()
                        let term = replica.engine.log.term(at: capture.index) ?? replica.engine.log.snapshotTerm
                        pending.reply(.backup(capture, term: term, membership: replica.engine.membership))
                    case .failure(let error):
                        pending.reply(.retry("the read barrier failed: \(error.message)"))
                    }
                    return false
                }
                return !finishAdmin(pending, replica.engine, now: clock.now)
            }
            if previous.membership != status.membership || previous.isRemoved != status.isRemoved {
                logMembership(status, previous: previous.membership)
                membershipChanged(status)
            }
            if status.isRemoved {
                // Nothing to serve any more; the log line above says why.
                break
            }
            // At most once a second (a scrape records the latest status itself): a thousand
            // idle groups must not update a dozen instruments each on every tick.
            if stopping || (ticked && clock.now >= nextInstrumentsRecord) {
                instruments.record(status)
                nextInstrumentsRecord = clock.now.advanced(by: .seconds(1))
            }
            // Nothing to count while quiescent: no timer, no election, no request to time out.
            ticks.set(active: stopping || !replica.engine.isQuiescent || !waiting.isEmpty || !pendingAdmin.isEmpty)
            if Task.isCancelled { break }
            if stopping {
                // A hand-off ends when the transfer does: this node stepped down, or the engine
                // abandoned it after an election timeout.
                guard let deadline = handOffDeadline,
                    replica.engine.transferTarget != nil && clock.now < deadline
                else {
                    if handOffDeadline != nil { logHandOffEnd(replica.engine) }
                    break
                }
            }
        }
        // However the loop ended, the leader's writes in flight finish before the storage closes.
        try await drain(&pipeline, &replica, answer: answer)
    }

    /// Proposes an admin request; returns what to wait for, or nil when it was answered at once.
    private func startAdmin(
        _ request: AdminRequest,
        reply: @escaping @Sendable (AdminResult) -> Void,
        deadline: ContinuousClock.Instant,
        _ replica: inout Replica
    ) -> PendingAdmin? {
        let engine = replica.engine
        switch request {
        case .backup:
            preconditionFailure("backups are started by the executor loop")
        case .changeMembership(let changes, let context):
            switch replica.proposeMembershipChange(changes, context: context) {
            case .accepted(let index, let term):
                logger.info(
                    "membership change proposed",
                    metadata: ["raft.index": "\(index)", "raft.change": "\(changes)"]
                )
                return PendingAdmin(request: request, reply: reply, deadline: deadline, index: index, term: term)
            case .notLeader(let hint):
                reply(.notLeader(leaderHint: hint))
            case .changeInProgress(let index):
                reply(.retry("the membership change at index \(index) is not applied yet"))
            case .transferringLeadership(let target):
                reply(.retry("leadership is being handed to \(target)"))
            case .rejected(let reason):
                reply(.rejected(reason))
            }
            return nil
        case .transferLeadership(let target):
            guard engine.role == .leader else {
                reply(.notLeader(leaderHint: engine.leader))
                return nil
            }
            let chosen =
                target
                ?? engine.followerMatchIndexes
                .filter { engine.membership.voters.contains($0.key) }
                .min { ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue) }?.key
            guard let chosen, replica.transferLeadership(to: chosen) == .started else {
                let named = target.map { "\($0)" } ?? "no follower"
                reply(.rejected("\(named) cannot take over: a target must be another voter"))
                return nil
            }
            return PendingAdmin(request: request, reply: reply, deadline: deadline, index: 0, term: engine.term)
        }
    }

    /// Answers `pending` if its outcome is known; returns whether it did.
    private func finishAdmin(_ pending: PendingAdmin, _ engine: RaftEngine, now: ContinuousClock.Instant) -> Bool {
        switch pending.request {
        case .changeMembership:
            if engine.membershipIndex >= pending.index {
                let sameEntry = engine.log.term(at: pending.index).map { $0 == pending.term }
                if sameEntry ?? (engine.membershipIndex > pending.index) {
                    pending.reply(.membershipChanged(engine.membership))
                } else {
                    pending.reply(.retry("the leader changed before the membership change was committed; retry"))
                }
                return true
            }
            if engine.term != pending.term || engine.role != .leader {
                if engine.log.term(at: pending.index) != pending.term {
                    pending.reply(.retry("the leader changed before the membership change was committed; retry"))
                    return true
                }
            }
        case .backup:
            break  // answered when its barrier completes, or at its deadline
        case .transferLeadership:
            if engine.term > pending.term, let leader = engine.leader, leader != engine.id {
                pending.reply(.leadershipTransferred(to: leader))
                return true
            }
            if engine.role == .leader && engine.transferTarget == nil && engine.term == pending.term {
                pending.reply(.retry("the transfer was abandoned after an election timeout; this node still leads"))
                return true
            }
        }
        if now >= pending.deadline {
            pending.reply(.retry("not finished within \(requestTimeout); it may still happen"))
            return true
        }
        return false
    }

    private func logMembership(_ status: GroupStatus, previous: Membership) {
        if status.isRemoved {
            logger.error(
                "this node was removed from the group; it stops serving it (its data stays on disk)",
                metadata: ["raft.members": "\(status.membership)"]
            )
        } else {
            logger.info(
                "membership changed",
                metadata: ["raft.members": "\(status.membership)", "raft.previous": "\(previous)"]
            )
        }
    }

    /// Starts a graceful stop's leadership transfer to the follower with the highest match
    /// index; returns false when this node does not lead or has no follower to hand over to.
    private func beginHandOff(_ replica: inout Replica) -> Bool {
        guard replica.engine.role == .leader else { return false }
        // Highest match index first; the lowest id among equals, so the choice is stable.
        let best = replica.engine.followerMatchIndexes.min {
            ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue)
        }
        guard let target = best?.key, replica.transferLeadership(to: target) == .started else { return false }
        logger.info(
            "handing leadership over before stopping",
            metadata: ["raft.term": "\(replica.engine.term)", "raft.target": "\(target)"]
        )
        return true
    }

    private func logHandOffEnd(_ engine: RaftEngine) {
        if engine.role == .leader {
            logger.warning("leadership hand-off did not finish; stopping as leader")
        } else {
            logger.info(
                "leadership handed over",
                metadata: ["raft.term": "\(engine.term)", "raft.leader": "\(engine.leader.map { "\($0)" } ?? "none")"]
            )
        }
    }

    /// Runs the driver step (``DriverStep``) until the replica has no output: the only place
    /// the host persists, sends and applies.
    ///
    /// - Returns: the restore of the latest snapshot this installed, for the caller to run off
    ///   the executor (an earlier one of the same flush is superseded already).
    private func flush(
        _ replica: inout Replica,
        pipeline: inout PersistPipeline,
        lastSoftState: inout Leadership,
        answer: ([Replica.Completion]) -> Void
    ) async throws -> SnapshotRestore? {
        var restore: SnapshotRestore?
        while replica.hasOutput {
            let step = try replica.beginStep()
            if step.output.softState != nil, Leadership(replica.engine) != lastSoftState {
                let current = Leadership(replica.engine)
                if current.role == .candidate && lastSoftState.role != .candidate {
                    metrics.withLock { $0.elections += 1 }
                }
                if let leader = current.leader, leader != lastSoftState.leader {
                    let change = LeaderChange(term: current.term, leader: leader, at: wallClockMilliseconds())
                    metrics.withLock { $0.leaderChanges = LeaderChange.appending(change, to: $0.leaderChanges) }
                }
                logTransition(from: lastSoftState, to: current)
                lastSoftState = current
            }
            transport.send(step.messagesBeforeSync, group: groupID)
            answer(step.completionsBeforeSync)
            if replica.engine.role == .leader && step.output.snapshot == nil && (step.mustSync || !pipeline.isIdle) {
                pipeline.queued.append(step)
                if pipeline.writing == nil { startWriting(&pipeline) }
                continue
            }
            // Nothing overtakes the leader's writes in flight (see PersistPipeline).
            try await drain(&pipeline, &replica, answer: answer)
            if step.mustSync {
                try await persist(step)
            } else if step.hasWrites {
                // Only the commit index moved: the buffered write rides with the next sync.
                try step.write(to: storage)
            }
            let end = try replica.finishStep(step)
            transport.send(end.messages, group: groupID)
            answer(end.completions)
            if let started = end.restore {
                restore = try replica.readingStoredSnapshot(started, in: storage)
            }
            let applied = step.appliedBeforeSync.count + end.applied.count
            if applied > 0 {
                metrics.withLock { $0.appliedEntries += UInt64(applied) }
            }
        }
        answer(replica.takeCompletions())
        return restore
    }

    /// Restores a snapshot this follower received on the snapshot restore thread, while the
    /// executor goes on stepping heartbeats and appends; the replica applies what is committed
    /// meanwhile once the result is back (``Replica/finishRestore(_:)``).
    private func startRestore(_ restore: SnapshotRestore, tasks: inout ThrowingDiscardingTaskGroup<any Error>) {
        logger.info(
            "restoring a snapshot from the leader",
            metadata: ["raft.index": "\(restore.index)", "raft.snapshotBytes": "\(restore.snapshot.data.count)"]
        )
        let started = ContinuousClock.now
        tasks.addTask { [self] in
            let restored = try await SnapshotJob.restoreThreadPool.runIfActive { restore.run() }
            enqueue(.restored(restored, started: started))
        }
    }

    /// Writes the queued steps of `pipeline` (and syncs them) on the thread pool; rings the
    /// doorbell once done.
    private func startWriting(_ pipeline: inout PersistPipeline) {
        let steps = pipeline.queued
        pipeline.queued = []
        pipeline.lastID += 1
        let id = pipeline.lastID
        let storage = storage
        let task = Task { [self] in
            defer { enqueue(.persisted(id)) }
            let started = ContinuousClock.now
            try await NIOThreadPool.singleton.runIfActive {
                for step in steps {
                    try step.write(to: storage)
                }
                if steps.contains(where: \.mustSync) {
                    try storage.sync()
                }
            }
            return ContinuousClock.now - started
        }
        pipeline.writing = (id, steps, task)
    }

    /// Waits for the write in flight, finishes its steps in order (sending what waited for
    /// it, answering what it completed), then starts writing what was queued meanwhile.
    private func finishWriting(
        _ pipeline: inout PersistPipeline,
        _ replica: inout Replica,
        answer: ([Replica.Completion]) -> Void
    ) async throws {
        guard let writing = pipeline.writing else { return }
        let elapsed = try await writing.task.value
        pipeline.writing = nil
        if writing.steps.contains(where: \.mustSync) {
            recordSync(elapsed)
        }
        for step in writing.steps {
            let end = try replica.finishStep(step)
            transport.send(end.messages, group: groupID)
            answer(end.completions)
            let applied = step.appliedBeforeSync.count + end.applied.count
            if applied > 0 {
                metrics.withLock { $0.appliedEntries += UInt64(applied) }
            }
        }
        if !pipeline.queued.isEmpty { startWriting(&pipeline) }
    }

    /// Finishes every write in flight or queued, in order.
    private func drain(
        _ pipeline: inout PersistPipeline,
        _ replica: inout Replica,
        answer: ([Replica.Completion]) -> Void
    ) async throws {
        // finishWriting starts the next write when steps are queued, so one is always in flight.
        while pipeline.writing != nil {
            try await finishWriting(&pipeline, &replica, answer: answer)
        }
    }

    private func recordSync(_ elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        metrics.withLock { $0.recordSync(seconds: seconds) }
        instruments.recordSync(seconds: seconds)
    }

    private func persist(_ step: DriverStep) async throws {
        let storage = storage
        let started = ContinuousClock.now
        try await NIOThreadPool.singleton.runIfActive { try step.persist(to: storage) }
        recordSync(ContinuousClock.now - started)
    }

    /// The `maxraftstate` policy, stage one: captures the state at the applied index on the
    /// executor (a copy-on-write copy, O(1)) and streams it into the storage's snapshot file on
    /// the snapshot thread, while the executor goes on with ticks, messages, appends, commits
    /// and reads.
    private func startSnapshot(
        _ replica: inout Replica,
        tasks: inout ThrowingDiscardingTaskGroup<any Error>
    ) -> SnapshotJob {
        let capture = replica.captureSnapshot()
        // Known now: the captured index is applied and committed, so its term and membership stay.
        let metadata = replica.snapshotMetadata(for: capture)
        let job = SnapshotJob(capture: capture, started: .now)
        let storage = storage
        tasks.addTask { [self] in
            let result = await Result(catching: { () async throws -> SnapshotJob.Serialized in
                guard let metadata else { throw SnapshotJob.Superseded() }
                let data = try await SnapshotJob.threadPool.runIfActive {
                    try capture.write(into: storage, metadata: metadata)
                }
                return SnapshotJob.Serialized(metadata: metadata, data: data)
            })
            enqueue(.snapshot(.serialized(index: capture.index, result)))
        }
        return job
    }

    /// Stages two and three: once serialized, compacts the engine's log through the captured
    /// index (entries appended meanwhile stay) and stores the snapshot off the executor; once
    /// stored, the job ends and the policy may start the next one.
    ///
    /// A follower that installed a newer snapshot from its leader meanwhile drops the capture:
    /// the engine is past it, and the storage refuses it as stale.
    private func snapshotProgressed(
        _ event: SnapshotJob.Event,
        job: inout SnapshotJob?,
        _ replica: inout Replica,
        tasks: inout ThrowingDiscardingTaskGroup<any Error>
    ) throws {
        guard let current = job else { return }
        switch event {
        case .serialized(let index, .failure(is SnapshotJob.Superseded)):
            job = nil
            logger.debug("snapshot dropped: a newer one was installed meanwhile", metadata: ["raft.index": "\(index)"])
        case .serialized(let index, .failure(let error)):
            // A plugin that cannot save its state: the node stops, as it did when serialization
            // ran inline, rather than let its log grow without bound.
            logger.error(
                "snapshot serialization failed",
                metadata: ["raft.index": "\(index)", "raft.error": "\(error)"]
            )
            throw error
        case .serialized(let index, .success(let serialized)):
            guard index > replica.engine.log.snapshotIndex else {
                job = nil
                storage.discardSnapshot(serialized.data)
                logger.debug(
                    "snapshot dropped: a newer one was installed meanwhile",
                    metadata: ["raft.index": "\(index)", "raft.snapshotIndex": "\(replica.engine.log.snapshotIndex)"]
                )
                return
            }
            let snapshot = try replica.compact(
                current.capture,
                metadata: serialized.metadata,
                snapshotData: serialized.data
            )
            job?.serializedBytes = serialized.data.count
            let storage = storage
            tasks.addTask { [self] in
                let result = await Result(catching: { () async throws -> Void in
                    try await SnapshotJob.threadPool.runIfActive { try storage.compact(to: snapshot) }
                })
                enqueue(.snapshot(.stored(index: snapshot.metadata.index, result)))
            }
        case .stored(let index, let result):
            job = nil
            switch result {
            case .success:
                let elapsed = ContinuousClock.now - current.started
                metrics.withLock {
                    $0.snapshots += 1
                    $0.lastSnapshotBytes = UInt64(current.serializedBytes)
                }
                logger.info(
                    "snapshot taken",
                    metadata: [
                        "raft.term": "\(replica.engine.term)", "raft.index": "\(index)",
                        "raft.snapshotBytes": "\(current.serializedBytes)",
                        "raft.snapshotMs": "\(elapsed.wholeMilliseconds)",
                    ]
                )
            case .failure(let error as StorageError) where error.code == .staleSnapshot:
                logger.debug(
                    "snapshot not stored: a newer one was installed meanwhile",
                    metadata: ["raft.index": "\(index)"]
                )
            case .failure(let error):
                // The storage failed: the node must stop, as after a failed sync.
                throw error
            }
        }
    }

    private func logTransition(from old: Leadership, to new: Leadership) {
        let metadata: Logger.Metadata = [
            "raft.term": "\(new.term)", "raft.leader": "\(new.leader.map { "\($0)" } ?? "none")",
        ]
        if new.role == .leader && old.role != .leader {
            logger.info("became leader", metadata: metadata)
        } else if new.role != old.role {
            logger.info("role changed to \(new.role)", metadata: metadata)
        } else if new.leader != old.leader || new.term != old.term {
            logger.debug("leader or term changed", metadata: metadata)
        }
    }

    private static func status(
        of replica: Replica,
        name: String,
        storage: any PersistentStorage,
        metrics: GroupMetrics
    ) -> GroupStatus {
        let engine = replica.engine
        let lastIndex = engine.log.lastIndex
        var metrics = metrics
        metrics.leaseReads = engine.leaseReadCount
        return GroupStatus(
            name: name,
            role: engine.role,
            term: engine.term,
            leader: engine.leader,
            commitIndex: engine.commitIndex,
            appliedIndex: replica.appliedIndex,
            lastIndex: lastIndex,
            snapshotIndex: engine.log.snapshotIndex,
            syncs: storage.statistics.syncs,
            metrics: metrics,
            replicationLag: engine.followerMatchIndexes.mapValues { lastIndex - min($0, lastIndex) },
            followerMatch: engine.followerMatchIndexes,
            membership: engine.membership,
            isRemoved: engine.isRemoved,
            isQuiescent: engine.isQuiescent
        )
    }
}

/// Role, term and known leader: what the executor logs changes of.
private struct Leadership: Equatable {
    var role: Role
    var term: Term
    var leader: NodeID?

    init(_ engine: RaftEngine) {
        role = engine.role
        term = engine.term
        leader = engine.leader
    }
}

/// Milliseconds since the Unix epoch: the log time a leader stamps into commands.
private func wallClockMilliseconds() -> UInt64 {
    UInt64((Date().timeIntervalSince1970 * 1000).rounded(.down))
}

extension Duration {
    /// The duration in whole milliseconds, for log fields such as `raft.snapshotMs`.
    fileprivate var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
