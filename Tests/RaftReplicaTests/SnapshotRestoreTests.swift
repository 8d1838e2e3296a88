import KeyValueStore
import RaftCore
import RaftReplica
import RaftStorage
import StateMachineAPI
import SimulationThread
import Testing

/// A follower restores a received snapshot in a job of its own (``SnapshotRestore``): the engine
/// keeps stepping meanwhile, and what is committed waits for ``Replica/finishRestore(_:)``.
@Suite("Snapshot restore off the apply path", .onSimulationThread)
struct SnapshotRestoreTests {
    private static let voters = [NodeID(1), NodeID(2), NodeID(3)]

    /// A single-node leader (term 1) that wrote `k1 = v1` ... `k<count> = v<count>`.
    private static func source(writes count: Int) throws -> (Replica, MemoryStorage) {
        var (replica, storage) = try singleNodeLeader()
        try write(count, to: &replica, storage: storage)
        return (replica, storage)
    }

    private static func write(_ count: Int, to replica: inout Replica, storage: MemoryStorage) throws {
        for _ in 0..<count {
            let n = replica.appliedIndex + 1
            let put = KeyValueStore.Command.put(key: "k\(n)", value: "v\(n)").encoded()
            let command = Replica.ClientCommand(clientID: 1, sequence: UInt64(n), command: put)
            replica.submitCommand(command, requestID: n, now: 0)
            _ = try replica.drive(storage: storage)
        }
    }

    private static func follower() throws -> Replica {
        try Replica(
            configuration: RaftConfiguration(id: NodeID(2), voters: voters),
            machine: AnyStateMachine(KeyValueStore()),
            snapshotPolicy: .everyEntries(1)
        )
    }

    private static func message(_ payload: Message.Payload) -> Message {
        Message(from: NodeID(1), to: NodeID(2), term: 1, payload: payload)
    }

    private static func installSnapshot(_ capture: SnapshotCapture) throws -> Message {
        let data = try capture.serialize()
        let metadata = SnapshotMetadata(index: capture.index, term: 1, voters: voters)
        return message(
            .installSnapshot(SnapshotChunk(metadata: metadata, offset: 0, totalSize: UInt64(data.count), data: data))
        )
    }

    private static func append(
        _ source: Replica,
        after previous: LogIndex,
        through last: LogIndex,
        commit: LogIndex
    )
        -> Message
    {
        let entries = Array(source.engine.log.entries(from: previous + 1, through: last))
        let request = AppendRequest(prevLogIndex: previous, prevLogTerm: 1, entries: entries, leaderCommit: commit)
        return message(.append(request))
    }

    /// What driver steps produced while the follower's restores did not run.
    private struct Stepped {
        var messages: [Message] = []
        var applied: [Entry] = []
        var completions: [Replica.Completion] = []
        var restores: [SnapshotRestore] = []
    }

    /// Runs driver steps like the host's executor, holding back the restores they start.
    private static func steps(_ replica: inout Replica, storage: MemoryStorage) throws -> Stepped {
        var stepped = Stepped()
        while replica.hasOutput {
            let step = try replica.beginStep()
            stepped.messages += step.messagesBeforeSync
            stepped.applied += step.appliedBeforeSync
            stepped.completions += step.completionsBeforeSync
            try step.persist(to: storage)
            let end = try replica.finishStep(step)
            stepped.messages += end.messages
            stepped.applied += end.applied
            stepped.completions += end.completions
            stepped.restores += end.restore.map { [$0] } ?? []
        }
        stepped.completions += replica.takeCompletions()
        return stepped
    }

    private static func keys(_ replica: Replica) -> [String] {
        guard let store = replica.machine.unwrap(as: KeyValueStore.self) else { return [] }
        return (1...200).map { "k\($0)" }.filter { store[$0] != nil }
    }

    @Test("entries committed while a snapshot restores are acknowledged at once and applied after it, in order")
    func entriesCommittedDuringARestoreWait() throws {
        var (source, sourceStorage) = try Self.source(writes: 5)
        let capture = source.captureSnapshot()
        let storage = MemoryStorage()
        try Self.write(6, to: &source, storage: sourceStorage)
        let last = source.engine.log.lastIndex
        try #require(last > capture.index + 5)

        var follower = try Self.follower()
        follower.step(try Self.installSnapshot(capture))
        let installed = try Self.steps(&follower, storage: storage)
        let restore = try #require(installed.restores.first)
        #expect(installed.restores.count == 1 && restore.index == capture.index)
        #expect(storage.syncedState.snapshot?.metadata.index == capture.index, "on disk before its restore begins")
        #expect(follower.isRestoring && follower.appliedIndex == 0)

        // While the restore runs: appends (committing everything) are persisted and acknowledged,
        // a heartbeat is answered, nothing is applied, no read is served, no snapshot is due.
        follower.step(Self.append(source, after: capture.index, through: last, commit: last))
        follower.step(Self.message(.heartbeat(Heartbeat(commit: last, readRound: 0))))
        follower.submitQuery(KeyValueStore.Query.get(key: "k\(last)").encoded(), requestID: 100, consistency: .stale)
        let meanwhile = try Self.steps(&follower, storage: storage)
        #expect(meanwhile.restores.isEmpty && meanwhile.applied.isEmpty && meanwhile.completions.isEmpty)
        #expect(follower.engine.commitIndex == last && follower.appliedIndex == 0)
        #expect(follower.queuedEntryCount == Int(last - capture.index))
        #expect(storage.syncedState.entries.last?.index == last)
        #expect(!follower.snapshotDue(raftStateSize: .max))
        let acknowledged = meanwhile.messages.contains {
            if case .appendResponse(let response) = $0.payload {
                response.success && response.matchIndex == last
            } else {
                false
            }
        }
        #expect(acknowledged, "the append was not acknowledged during the restore")
        #expect(meanwhile.messages.contains { if case .heartbeatResponse = $0.payload { true } else { false } })

        let end = try follower.finishRestore(restore.run())
        #expect(!follower.isRestoring)
        #expect(end.applied.map(\.index) == Array(capture.index + 1...last))
        #expect(follower.appliedIndex == last)
        #expect(Self.keys(follower) == Self.keys(source))
        let read = try #require(end.completions.first { $0.requestID == 100 })
        #expect(try KeyValueStore.Response(decoding: read.result.get()) == KeyValueStore.Response.value("v\(last)"))
        #expect(follower.snapshotDue(raftStateSize: .max))
        // Later commits are applied by the step again.
        #expect(try Self.steps(&follower, storage: storage).restores.isEmpty)
    }

    @Test("a newer snapshot supersedes the one restoring: its result is discarded and the entries it covers dropped")
    func newerSnapshotSupersedes() throws {
        var (source, sourceStorage) = try Self.source(writes: 4)
        let older = source.captureSnapshot()
        try Self.write(4, to: &source, storage: sourceStorage)
        let newer = source.captureSnapshot()
        try Self.write(4, to: &source, storage: sourceStorage)
        let last = source.engine.log.lastIndex
        let storage = MemoryStorage()

        var follower = try Self.follower()
        follower.step(try Self.installSnapshot(older))
        let first = try #require(try Self.steps(&follower, storage: storage).restores.first)
        // One entry past the older snapshot is committed and queued ...
        follower.step(Self.append(source, after: older.index, through: older.index + 1, commit: older.index + 1))
        #expect(try Self.steps(&follower, storage: storage).applied.isEmpty)
        #expect(follower.queuedEntryCount == 1)
        // ... then the leader sends a newer snapshot, which covers it, and the entries after that.
        follower.step(try Self.installSnapshot(newer))
        let second = try #require(try Self.steps(&follower, storage: storage).restores.first)
        #expect(second.index == newer.index)
        #expect(follower.queuedEntryCount == 0, "entries at or below the newer snapshot stay queued")
        follower.step(Self.append(source, after: newer.index, through: last, commit: last))
        #expect(try Self.steps(&follower, storage: storage).applied.isEmpty)
        #expect(follower.queuedEntryCount == Int(last - newer.index))

        // The older restore comes back first: discarded, the replica still waits.
        let discarded = try follower.finishRestore(first.run())
        #expect(discarded.applied.isEmpty && discarded.completions.isEmpty)
        #expect(follower.isRestoring && follower.appliedIndex == 0)
        let end = try follower.finishRestore(second.run())
        #expect(end.applied.map(\.index) == Array(newer.index + 1...last))
        #expect(follower.appliedIndex == last && !follower.isRestoring)
        #expect(Self.keys(follower) == Self.keys(source))
    }

    @Test("a restore that fails throws from finishRestore, as an inline restore did; a superseded failure does not")
    func failedRestoreStopsTheNode() throws {
        var (source, sourceStorage) = try Self.source(writes: 2)
        let metadata = SnapshotMetadata(index: source.appliedIndex, term: 1, voters: Self.voters)
        let garbage: [UInt8] = [1, 2, 3, 4, 5, 6]
        var follower = try Self.follower()
        follower.step(
            Self.message(.installSnapshot(SnapshotChunk(metadata: metadata, offset: 0, totalSize: 6, data: garbage)))
        )
        let restore = try #require(try Self.steps(&follower, storage: MemoryStorage()).restores.first)
        let restored = restore.run()
        #expect(restored.failed)
        #expect(throws: (any Error).self) { try follower.finishRestore(restored) }
        #expect(follower.isRestoring && follower.appliedIndex == 0)

        // The same failure, superseded by a good snapshot before it comes back: discarded.
        try Self.write(3, to: &source, storage: sourceStorage)
        var other = try Self.follower()
        other.step(
            Self.message(.installSnapshot(SnapshotChunk(metadata: metadata, offset: 0, totalSize: 6, data: garbage)))
        )
        let bad = try #require(try Self.steps(&other, storage: MemoryStorage()).restores.first)
        other.step(try Self.installSnapshot(source.captureSnapshot()))
        let good = try #require(try Self.steps(&other, storage: MemoryStorage()).restores.first)
        let discarded = try other.finishRestore(bad.run())
        #expect(discarded.applied.isEmpty && other.isRestoring)
        _ = try other.finishRestore(good.run())
        #expect(!other.isRestoring && other.appliedIndex == source.appliedIndex)
        #expect(Self.keys(other) == Self.keys(source))
    }

    @Test("drive(storage:) restores inline")
    func driveRestoresInline() throws {
        var (source, sourceStorage) = try Self.source(writes: 3)
        let capture = source.captureSnapshot()
        try Self.write(2, to: &source, storage: sourceStorage)
        var follower = try Self.follower()
        follower.step(try Self.installSnapshot(capture))
        let last = source.engine.log.lastIndex
        follower.step(Self.append(source, after: capture.index, through: last, commit: last))
        _ = try follower.drive(storage: MemoryStorage())
        #expect(!follower.isRestoring && follower.appliedIndex == last)
        #expect(Self.keys(follower) == Self.keys(source))
    }
}
