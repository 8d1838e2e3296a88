import KeyValueStore
import RaftCore
import RaftReplica
import RaftStorage
import StateMachineAPI
import SimulationThread
import Testing

/// The order of the driver step: what happens in `beginStep`, before the batch is durable, and
/// what must wait for `finishStep`.
@Suite("Driver step", .onSimulationThread)
struct DriverStepTests {
    @Test("the engine learns a batch is durable only in finishStep, after the sync")
    func durabilityIsReportedAfterTheSync() throws {
        var (replica, storage) = try singleNodeLeader()
        let put = KeyValueStore.Command.put(key: "k", value: "v").encoded()
        replica.submitCommand(Replica.ClientCommand(clientID: 1, sequence: 1, command: put), requestID: 1, now: 0)
        let stable = replica.engine.stableIndex
        let commit = replica.engine.commitIndex
        let step = try replica.beginStep()
        #expect(step.mustSync && !step.output.entries.isEmpty)
        // A single voter would commit (and answer) its own unsynced entry if it counted it now.
        #expect(replica.engine.stableIndex == stable)
        #expect(replica.engine.commitIndex == commit)
        #expect(step.completionsBeforeSync.isEmpty)
        try step.persist(to: storage)
        let end = try replica.finishStep(step)
        #expect(replica.engine.stableIndex > stable)
        #expect(end.completions.isEmpty)  // committed by the sync; applied by the next step
        let completions = try replica.drive(storage: storage)
        #expect(completions.map(\.requestID) == [1])
    }

    @Test("a snapshot from the leader is restored only after it is on disk")
    func snapshotIsRestoredAfterItIsDurable() throws {
        // The state to ship: a store with one key, captured as the host captures it.
        var (source, sourceStorage) = try singleNodeLeader()
        let put = KeyValueStore.Command.put(key: "k", value: "v").encoded()
        source.submitCommand(Replica.ClientCommand(clientID: 1, sequence: 1, command: put), requestID: 1, now: 0)
        _ = try source.drive(storage: sourceStorage)
        let capture = source.captureSnapshot()
        let data = try capture.serialize()

        let voters = [NodeID(1), NodeID(2), NodeID(3)]
        var follower = try Replica(
            configuration: RaftConfiguration(id: NodeID(2), voters: voters),
            machine: AnyStateMachine(KeyValueStore()),
            snapshotPolicy: .never
        )
        let storage = MemoryStorage()
        let metadata = SnapshotMetadata(index: capture.index, term: 1, voters: voters)
        let chunk = SnapshotChunk(metadata: metadata, offset: 0, totalSize: UInt64(data.count), data: data)
        follower.step(Message(from: NodeID(1), to: NodeID(2), term: 1, payload: .installSnapshot(chunk)))
        let step = try follower.beginStep()
        #expect(step.output.snapshot?.metadata.index == capture.index)
        #expect(follower.appliedIndex == 0, "restored before the snapshot was durable")
        try step.persist(to: storage)
        let end = try follower.finishStep(step)
        let restore = try #require(end.restore, "a received snapshot is restored by a job of its own")
        #expect(follower.isRestoring && follower.appliedIndex == 0)
        _ = try follower.finishRestore(restore.run())
        #expect(!follower.isRestoring)
        #expect(follower.appliedIndex == capture.index)
        #expect(follower.machine.unwrap(as: KeyValueStore.self)?["k"] == "v")
        #expect(storage.syncedState.snapshot?.metadata.index == capture.index)
    }
}
