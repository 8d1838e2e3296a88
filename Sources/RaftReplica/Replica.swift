public import RaftCore
public import StateMachineAPI

/// One member of one replicated state machine: the Raft engine, the plugin, the session
/// table that makes commands exactly-once, linearizable reads, and the snapshot policy.
///
/// Deterministic and free of I/O like the engine it wraps, so the simulator and the
/// networked host drive the very same code. The driver loop:
/// 1. feed inputs: ``tick()``, ``step(_:)``, ``submitCommand(_:requestID:now:)``,
///    ``submitQuery(_:requestID:consistency:)``, and answer ``takeCompletions()``;
/// 2. while ``hasOutput``: ``beginStep()``, persist, ``finishStep(_:)`` (``DriverStep`` says
///    what is sent, written and applied when; ``drive(storage:send:)`` does it all inline);
/// 3. if ``snapshotDue(raftStateSize:)``: ``captureSnapshot()``, stream the capture into the
///    storage (``RaftStorage/PersistentStorage/writeSnapshot(_:data:)`` with
///    ``snapshotMetadata(for:)``, off the apply path if it is large) and
///    ``compact(_:metadata:snapshotData:)``, then store the returned snapshot, which drops the
///    covered log prefix (``takeSnapshot(into:)`` does it inline).
///    A driver that serializes off its apply path keeps driving meanwhile; it compacts only if
///    the engine's snapshot is still older than the capture (a follower may have installed its
///    leader's meanwhile), and asks ``snapshotDue(raftStateSize:)`` again only once stored;
/// 4. if a step ends with a ``StepEnd/restore`` (a follower installed its leader's snapshot):
///    ``readingStoredSnapshot(_:in:)`` then ``SnapshotRestore/run()`` it, at once or off the apply path, and hand the result to
///    ``finishRestore(_:)``. Meanwhile the replica keeps stepping messages, but applies nothing,
///    serves no read and takes no snapshot: what is committed meanwhile is applied, in order,
///    by ``finishRestore(_:)``.
public struct Replica: Sendable {
    public internal(set) var engine: RaftEngine
    public private(set) var machine: AnyStateMachine
    public let limits: SessionLimits
    /// When this replica snapshots and compacts its log.
    public let snapshotPolicy: SnapshotPolicy
    /// Everything through this index is applied to `machine`.
    public private(set) var appliedIndex: LogIndex
    private var sessions = SessionTable()
    /// Log time of the last applied command (never decreases).
    private var appliedTime: UInt64 = 0
    /// The leader's last stamp, so stamps never go backwards on one leader.
    private var lastStamp: UInt64 = 0

    private var pendingCommands: [LogIndex: PendingCommand] = [:]
    private var pendingReads: [UInt64: PendingQuery] = [:]
    /// Reads confirmed by ReadIndex, waiting for the state machine to reach their index.
    private var confirmedReads: [(index: LogIndex, query: PendingQuery)] = []
    private var nextReadID: UInt64 = 1
    private var completions: [Completion] = []
    /// The received snapshot being restored (see ``SnapshotRestore``), and the committed
    /// entries that wait for it.
    private var restoring: PendingRestore?
    private var nextRestoreID: UInt64 = 1

    private struct PendingRestore: Sendable {
        var id: UInt64
        var index: LogIndex
        var queued: [Entry] = []
    }

    private struct PendingCommand: Sendable {
        var requestID: UInt64
        var term: Term
    }

    private struct PendingQuery: Sendable {
        var requestID: UInt64
        /// nil for a barrier (``submitBarrier(requestID:)``): nothing to ask the plugin.
        var query: [UInt8]?
    }

    /// A client command: who sends it and its encoded plugin command.
    public struct ClientCommand: Sendable, Hashable {
        public var clientID: UInt64
        /// Increases by one with every new request of this client; a retry reuses it.
        public var sequence: UInt64
        public var command: [UInt8]

        public init(clientID: UInt64, sequence: UInt64, command: [UInt8]) {
            self.clientID = clientID
            self.sequence = sequence
            self.command = command
        }
    }

    public enum ReadConsistency: Sendable, Hashable {
        /// ReadIndex: the leader confirms it still leads, then answers once applied that far.
        case linearizable
        /// This replica's state as it is, possibly behind (opt-in).
        case stale
    }

    /// A finished request.
    public struct Completion: Sendable {
        public var requestID: UInt64
        public var result: Result<[UInt8], ReplicaError>
    }

    /// Starts (or restarts) a replica from what its storage holds.
    ///
    /// - Parameter machine: an empty instance of the group's plugin; the snapshot, if any,
    ///   replaces its state.
    public init(
        configuration: RaftConfiguration,
        machine: AnyStateMachine,
        persistentState: PersistentState = PersistentState(),
        snapshotPolicy: SnapshotPolicy,
        limits: SessionLimits = SessionLimits()
    ) throws {
        engine = RaftEngine(configuration: configuration, persistentState: persistentState)
        self.machine = machine
        self.snapshotPolicy = snapshotPolicy
        self.limits = limits
        appliedIndex = 0
        if let snapshot = persistentState.snapshot {
            install(try SnapshotRestore.decode(snapshot, into: machine), index: snapshot.metadata.index)
        }
    }

    // MARK: - Inputs

    public mutating func tick() {
        engine.tick()
    }

    /// See ``RaftEngine/livenessChanged(alive:)``: the node-level liveness check's view changed.
    public mutating func livenessChanged(alive: Set<NodeID>) {
        engine.livenessChanged(alive: alive)
    }

    /// See ``RaftEngine/clockStalled()``: the driver's ticks fell behind real time.
    public mutating func clockStalled() {
        engine.clockStalled()
    }

    public mutating func step(_ message: Message) {
        engine.step(message)
    }

    /// Asks the engine to hand its leadership to `target` (see
    /// ``RaftEngine/transferLeadership(to:)``); commands are refused with `leaderChanged`
    /// while the transfer is pending.
    @discardableResult
    public mutating func transferLeadership(to target: NodeID) -> RaftEngine.TransferResult {
        engine.transferLeadership(to: target)
    }

    /// Proposes a membership change (see ``RaftEngine/proposeMembershipChange(_:context:)``).
    /// It is in force once applied; ``RaftEngine/membership`` shows the one in force.
    @discardableResult
    public mutating func proposeMembershipChange(
        _ changes: [MembershipChange],
        context: [UInt8]
    ) -> RaftEngine.MembershipChangeResult {
        engine.proposeMembershipChange(changes, context: context)
    }

    /// Proposes a client command. The answer comes out of the driver step that applies it, or
    /// out of ``takeCompletions()`` when it is a duplicate or cannot be proposed.
    ///
    /// - Parameter now: the driver's clock in milliseconds; stamped into the entry as log time.
    /// - Returns: what the engine made of the proposal; nil when the session table answered.
    @discardableResult
    public mutating func submitCommand(
        _ request: ClientCommand,
        requestID: UInt64,
        now: UInt64
    ) -> RaftEngine.ProposalResult? {
        switch sessions.lookup(client: request.clientID, sequence: request.sequence) {
        case .duplicate(let outcome):
            complete(requestID, outcome)
            return nil
        case .stale:
            complete(requestID, .failure(staleError(request)))
            return nil
        case .new:
            break
        }
        lastStamp = max(lastStamp, now, appliedTime)
        let envelope = CommandEnvelope(
            clientID: request.clientID,
            sequence: request.sequence,
            time: lastStamp,
            command: request.command
        )
        let result = engine.propose(envelope.encoded())
        switch result {
        case .accepted(let index, let term):
            if let displaced = pendingCommands[index] {
                complete(displaced.requestID, .failure(ReplicaError(.leaderChanged, "entry \(index) was replaced")))
            }
            pendingCommands[index] = PendingCommand(requestID: requestID, term: term)
        case .notLeader(let hint):
            complete(requestID, .failure(ReplicaError(.notLeader, "not the leader", leaderHint: hint)))
        case .overloaded:
            complete(requestID, .failure(ReplicaError(.overloaded, "too many uncommitted entries")))
        case .transferringLeadership(let target):
            complete(
                requestID,
                .failure(ReplicaError(.leaderChanged, "leadership is being transferred to \(target)"))
            )
        }
        return result
    }

    /// Reads through the plugin's `query`.
    public mutating func submitQuery(_ query: [UInt8], requestID: UInt64, consistency: ReadConsistency) {
        submit(PendingQuery(requestID: requestID, query: query), consistency: consistency)
    }

    /// A linearizable read of nothing: completes (with no bytes) once this replica has applied
    /// everything committed before the call, as confirmed by a quorum (ReadIndex). A backup
    /// taken then holds every write acknowledged before it was asked for.
    public mutating func submitBarrier(requestID: UInt64) {
        submit(PendingQuery(requestID: requestID, query: nil), consistency: .linearizable)
    }

    private mutating func submit(_ pending: PendingQuery, consistency: ReadConsistency) {
        switch consistency {
        case .stale where restoring != nil:
            // Served once the restored state is in place, not from the state it replaces.
            confirmedReads.append((0, pending))
        case .stale:
            serve(pending)
        case .linearizable:
            let readID = nextReadID
            nextReadID += 1
            switch engine.requestRead(id: readID) {
            case .pending:
                pendingReads[readID] = pending
            case .notLeader(let hint):
                complete(pending.requestID, .failure(ReplicaError(.notLeader, "not the leader", leaderHint: hint)))
            }
        }
    }

    // MARK: - Driving

    /// Whether ``beginStep()`` has work.
    public var hasOutput: Bool { engine.hasOutput }

    /// Requests finished outside a driver step (answered from the session table, refused on a
    /// follower, ...). The driver SHOULD collect them after submitting requests.
    public mutating func takeCompletions() -> [Completion] {
        defer { completions = [] }
        return completions
    }

    /// Applies what `output` committed, serves reads that became safe, and returns every
    /// request finished since the last call. Only the driver step calls it, at the point of the
    /// batch where that is safe.
    ///
    /// A batch that installs a snapshot starts its restore instead (returned, for the driver to
    /// run, see ``SnapshotRestore``); until ``finishRestore(_:)`` committed entries are queued.
    mutating func apply(_ output: RaftOutput) -> (completions: [Completion], restore: SnapshotRestore?) {
        var restore: SnapshotRestore?
        if let snapshot = output.snapshot {
            restore = beginRestore(snapshot)
            failAllPending(ReplicaError(.leaderChanged, "replaced by a snapshot"))
        }
        for entry in output.committedEntries {
            if restoring != nil {
                if entry.index > restoring!.index { restoring!.queued.append(entry) }
            } else {
                apply(entry)
            }
        }
        if let softState = output.softState, softState.role != .leader {
            failAllPending(ReplicaError(.notLeader, "leadership lost", leaderHint: softState.leader))
        }
        for readID in output.failedReads {
            if let pending = pendingReads.removeValue(forKey: readID) {
                complete(
                    pending.requestID,
                    .failure(ReplicaError(.notLeader, "leadership lost", leaderHint: engine.leader))
                )
            }
        }
        for read in output.readStates {
            if let pending = pendingReads.removeValue(forKey: read.id) {
                confirmedReads.append((read.index, pending))
            }
        }
        serveConfirmedReads()
        let finished = completions
        completions = []
        return (finished, restore)
    }

    private mutating func apply(_ entry: Entry) {
        appliedIndex = entry.index
        let pending = pendingCommands.removeValue(forKey: entry.index)
        if let pending, pending.term != entry.term {
            complete(pending.requestID, .failure(ReplicaError(.leaderChanged, "entry \(entry.index) was replaced")))
        }
        guard entry.kind == .command else { return }
        let outcome: Result<[UInt8], ReplicaError>
        do {
            let envelope = try CommandEnvelope(decoding: entry.data)
            appliedTime = max(appliedTime, envelope.time)
            sessions.expire(now: appliedTime, limits: limits)
            outcome = applyOnce(envelope, at: entry.index)
        } catch {
            // Not written by a replica of this version: answer, never crash or skip silently.
            outcome = .failure(ReplicaError(.invalidRequest, "undecodable log entry \(entry.index): \(error)"))
        }
        if let pending, pending.term == entry.term {
            complete(pending.requestID, outcome)
        }
    }

    private mutating func applyOnce(_ envelope: CommandEnvelope, at index: LogIndex) -> Result<[UInt8], ReplicaError> {
        switch sessions.lookup(client: envelope.clientID, sequence: envelope.sequence) {
        case .duplicate(let outcome):
            return result(of: outcome)
        case .stale:
            return .failure(
                ReplicaError(.sessionExpired, "client \(envelope.clientID) already moved past \(envelope.sequence)")
            )
        case .new:
            break
        }
        let outcome: SessionTable.Outcome
        do {
            outcome = .response(
                try machine.apply(
                    encodedCommand: envelope.command,
                    context: ApplyContext(index: index, time: appliedTime)
                )
            )
        } catch {
            outcome = .invalidRequest("\(error)")
        }
        sessions.record(
            client: envelope.clientID,
            sequence: envelope.sequence,
            outcome: outcome,
            time: appliedTime,
            limits: limits
        )
        return result(of: outcome)
    }

    // MARK: - Snapshots

    /// The snapshot policy, for every driver: whether ``snapshotPolicy`` asks for a snapshot
    /// (measured against the Raft state and the last snapshot's size) and something new is
    /// applied to capture. A driver that snapshots off its apply path asks only while none is
    /// in flight.
    ///
    /// - Parameter raftStateSize: the storage's
    ///   ``RaftStorage/PersistentStorage/persistedRaftStateSize``, the one measure of the
    ///   persisted Raft state.
    public func snapshotDue(raftStateSize: Int) -> Bool {
        guard restoring == nil, appliedIndex > engine.log.snapshotIndex else { return false }
        return snapshotPolicy.isDue(
            raftStateSize: raftStateSize,
            appliedIndex: appliedIndex,
            snapshotIndex: engine.log.snapshotIndex,
            snapshotSize: engine.snapshot?.data.count ?? 0,
            member: memberPlace
        )
    }

    /// This node's place in the group, 1 for the lowest id (``SnapshotPolicy``'s stagger); a
    /// node outside the membership, on its way out, goes by its id.
    var memberPlace: Int {
        let membership = engine.membership
        let ids = Set(membership.voters + membership.outgoingVoters + membership.learners)
        guard ids.contains(engine.id) else { return Int(truncatingIfNeeded: engine.id.rawValue) }
        return ids.count { $0 < engine.id } + 1
    }

    /// The replicated state at ``appliedIndex``: a copy-on-write copy, cheap to take on the
    /// apply path; write it with ``SnapshotCapture/write(to:)`` wherever convenient.
    /// Not while ``isRestoring`` (``snapshotDue(raftStateSize:)`` is false then, and reads wait).
    public func captureSnapshot() -> SnapshotCapture {
        SnapshotCapture(index: appliedIndex, appliedTime: appliedTime, sessions: sessions, machine: machine.capture())
    }

    /// Compacts the log through the capture's index. Persist the returned snapshot, then
    /// drop the log prefix it covers.
    public mutating func compact(_ capture: SnapshotCapture, snapshotData: [UInt8]) throws -> Snapshot {
        try engine.compact(through: capture.index, snapshotData: snapshotData)
    }

    /// Compacts the log through the capture's index into a snapshot whose bytes were written
    /// already (``RaftStorage/PersistentStorage/writeSnapshot(_:data:)``) with `metadata`.
    public mutating func compact(
        _ capture: SnapshotCapture,
        metadata: SnapshotMetadata,
        snapshotData: SnapshotData
    ) throws -> Snapshot {
        // The compacted prefix is committed and cannot change, so this only fails on misuse.
        guard engine.snapshotMetadata(at: capture.index) == metadata else {
            throw ReplicaError(
                .invalidRequest,
                "snapshot metadata \(metadata) does not match the log at \(capture.index)"
            )
        }
        return try engine.compact(through: capture.index, snapshotData: snapshotData)
    }

    /// What the snapshot of `capture` records besides its bytes, for a driver that writes its
    /// file before it compacts; nil if a newer snapshot was installed meanwhile.
    public func snapshotMetadata(for capture: SnapshotCapture) -> SnapshotMetadata? {
        engine.snapshotMetadata(at: capture.index)
    }

    /// Whether a received snapshot is being restored: nothing is applied, no read is served
    /// and no snapshot is due until ``finishRestore(_:)``.
    public var isRestoring: Bool { restoring != nil }

    /// Committed entries waiting for the restore in progress.
    public var queuedEntryCount: Int { restoring?.queued.count ?? 0 }

    /// Starts restoring `snapshot`, which the engine installed: a newer one supersedes the
    /// restore in progress, and queued entries it covers are dropped.
    private mutating func beginRestore(_ snapshot: Snapshot) -> SnapshotRestore {
        let id = nextRestoreID
        nextRestoreID += 1
        let index = snapshot.metadata.index
        let queued = restoring?.queued.filter { $0.index > index } ?? []
        restoring = PendingRestore(id: id, index: index, queued: queued)
        return SnapshotRestore(id: id, snapshot: snapshot, machine: machine)
    }

    /// Puts the state restored by `restored` in place, then applies the entries committed
    /// meanwhile, in order, and serves the reads that waited. A result of a restore that a newer
    /// snapshot superseded is discarded (nothing finishes).
    ///
    /// - Throws: the restore's error (the snapshot or the plugin failed): the node must stop.
    public mutating func finishRestore(_ restored: RestoredSnapshot) throws -> StepEnd {
        guard let pending = restoring, pending.id == restored.id else {
            return StepEnd(messages: [], completions: [], applied: [])
        }
        let state = try restored.state.get()
        restoring = nil
        install(state, index: pending.index)
        var applied: [Entry] = []
        for entry in pending.queued where entry.index > appliedIndex {
            apply(entry)
            applied.append(entry)
        }
        serveConfirmedReads()
        return StepEnd(messages: [], completions: takeCompletions(), applied: applied)
    }

    private mutating func install(_ state: SnapshotRestore.State, index: LogIndex) {
        machine = state.machine
        sessions = state.sessions
        appliedTime = state.appliedTime
        appliedIndex = index
    }

    // MARK: - Helpers

    private mutating func serveConfirmedReads() {
        guard restoring == nil, !confirmedReads.isEmpty else { return }
        let applied = appliedIndex
        let ready = confirmedReads.filter { $0.index <= applied }
        confirmedReads.removeAll { $0.index <= applied }
        for read in ready { serve(read.query) }
    }

    private mutating func serve(_ pending: PendingQuery) {
        guard let query = pending.query else {
            complete(pending.requestID, .success([]))
            return
        }
        do {
            let response = try machine.query(
                encoded: query,
                context: QueryContext(index: appliedIndex, time: appliedTime)
            )
            complete(pending.requestID, .success(response))
        } catch {
            complete(pending.requestID, .failure(ReplicaError(.invalidRequest, "\(error)")))
        }
    }

    private mutating func failAllPending(_ error: ReplicaError) {
        for pending in pendingCommands.values.sorted(by: { $0.requestID < $1.requestID }) {
            complete(pending.requestID, .failure(error))
        }
        pendingCommands = [:]
    }

    private func staleError(_ request: ClientCommand) -> ReplicaError {
        ReplicaError(.sessionExpired, "client \(request.clientID) already moved past \(request.sequence)")
    }

    private func result(of outcome: SessionTable.Outcome) -> Result<[UInt8], ReplicaError> {
        switch outcome {
        case .response(let bytes): .success(bytes)
        case .invalidRequest(let message): .failure(ReplicaError(.invalidRequest, message))
        }
    }

    private mutating func complete(_ requestID: UInt64, _ outcome: SessionTable.Outcome) {
        completions.append(Completion(requestID: requestID, result: result(of: outcome)))
    }

    private mutating func complete(_ requestID: UInt64, _ result: Result<[UInt8], ReplicaError>) {
        completions.append(Completion(requestID: requestID, result: result))
    }
}

/// The replicated state of a group at one index, captured without serializing it.
///
/// Format version 2: magic, version, the plugin's name, the log time, the session table, then
/// the plugin's snapshot to the end (version 1 prefixed it with its length, which a stream
/// does not know in advance; both are read).
public struct SnapshotCapture: Sendable {
    static let magic: UInt32 = 0x5248_534E  // "RHSN"
    static let version: UInt8 = 2

    public let index: LogIndex
    let appliedTime: UInt64
    let sessions: SessionTable
    let machine: StateMachineCapture

    /// Encodes the capture as one array: session table and plugin state. May run off the
    /// apply path.
    public func serialize() throws -> [UInt8] {
        try SnapshotOutputStream.collect { try write(to: &$0) }
    }

    /// Encodes the capture to `stream`, the plugin's state streamed (see
    /// ``StateMachine/writeSnapshot(to:)``). May run off the apply path.
    public func write(to stream: inout SnapshotOutputStream) throws {
        try stream.write {
            $0.writeUInt32(Self.magic)
            $0.writeUInt8(Self.version)
            $0.writeString(machine.name)
            $0.writeVarint(appliedTime)
            sessions.encode(to: &$0)
        }
        try machine.write(to: &stream)
        try stream.flush()
    }
}

/// The restore of a snapshot a follower received, started by the driver step that installed it
/// (``StepEnd/restore``): decodes the snapshot and rebuilds the plugin's state from it, which
/// for a large state takes a while. Run it at once (``Replica/drive(storage:send:)``, the
/// simulator) or off the apply path (the host), then hand the result to
/// ``Replica/finishRestore(_:)``.
///
/// The snapshot is durable on this node before its restore begins. Restores of one replica
/// run one at a time, in the order they were started: a plugin loaded at run time restores into
/// the replica's own instance.
public struct SnapshotRestore: Sendable {
    let id: UInt64
    public let snapshot: Snapshot
    let machine: AnyStateMachine

    /// The snapshot's last included index.
    public var index: LogIndex { snapshot.metadata.index }

    /// The same restore reading the snapshot's bytes from `data` (its stored file), so that
    /// the array received needs not be kept while it runs; `self` unless the counts match.
    public func reading(_ data: SnapshotData) -> SnapshotRestore {
        guard data.count == snapshot.data.count else { return self }
        return SnapshotRestore(id: id, snapshot: Snapshot(metadata: snapshot.metadata, data: data), machine: machine)
    }

    /// The restored state, not yet in place.
    struct State: Sendable {
        var machine: AnyStateMachine
        var sessions: SessionTable
        var appliedTime: UInt64
    }

    /// Decodes the snapshot and restores the plugin's state from it; never throws: a failure is
    /// in the result, thrown by ``Replica/finishRestore(_:)``.
    public func run() -> RestoredSnapshot {
        let state = Result { () throws -> State in try Self.decode(snapshot, into: machine) }
        return RestoredSnapshot(id: id, index: index, state: state)
    }

    static func decode(_ snapshot: Snapshot, into machine: AnyStateMachine) throws -> State {
        var stream: SnapshotInputStream
        if let bytes = snapshot.data.bytes {
            stream = SnapshotInputStream(bytes)
        } else {
            // Streamed from its file in pieces, never read whole.
            let data = snapshot.data
            var offset = 0
            stream = SnapshotInputStream(count: data.count) { count in
                defer { offset += count }
                return try data.read(offset..<offset + count)
            }
        }
        return try decode(&stream, index: snapshot.metadata.index, into: machine)
    }

    /// Decodes a snapshot from `stream`, read to its end, the plugin's state restored from the
    /// stream (see ``StateMachine/init(snapshotStream:)``).
    static func decode(
        _ stream: inout SnapshotInputStream,
        index: LogIndex,
        into machine: AnyStateMachine
    ) throws -> State {
        let (magic, version) = try stream.read { reader in
            (try reader.readUInt32(), try reader.readUInt8())
        }
        guard magic == SnapshotCapture.magic else {
            throw ReplicaError(.invalidRequest, "snapshot \(index) is not a RaftHost snapshot")
        }
        guard version == 1 || version == SnapshotCapture.version else {
            throw ReplicaError(.invalidRequest, "snapshot format version \(version) is not supported")
        }
        let name = try stream.read { try $0.readString() }
        guard name == machine.name else {
            throw ReplicaError(
                .invalidRequest,
                "snapshot holds state machine '\(name)' but this group runs '\(machine.name)'"
            )
        }
        let (time, table) = try stream.read { reader in
            (try reader.readVarint(), try SessionTable(from: &reader))
        }
        if version == 1 {
            let start = stream.offset
            let length = try stream.read { try $0.readVarint() }
            guard length == stream.remaining else {
                throw BinaryDecodingError(
                    code: .invalidValue,
                    message: "state machine snapshot of \(length) byte(s) where \(stream.remaining) remain",
                    offset: start
                )
            }
        }
        var machine = machine
        try machine.restore(from: &stream)
        try stream.finish()
        return State(machine: machine, sessions: table, appliedTime: time)
    }
}

/// What a ``SnapshotRestore`` produced, for ``Replica/finishRestore(_:)``.
public struct RestoredSnapshot: Sendable {
    let id: UInt64
    /// The snapshot's last included index.
    public let index: LogIndex
    let state: Result<SnapshotRestore.State, any Error>

    /// Whether the restore failed (``Replica/finishRestore(_:)`` throws the error).
    public var failed: Bool {
        if case .failure = state { true } else { false }
    }
}
