import Foundation
import KeyValueStore
import RaftCore
import RaftReplica
import RaftStorage
import RaftTesting
import StateMachineAPI
import SimulationThread
import Testing

@Suite("Streaming snapshots through the replica", .onSimulationThread)
struct StreamingSnapshotTests {
    private static let voters = [NodeID(1), NodeID(2), NodeID(3)]

    private static func leader(storage: some PersistentStorage) throws -> Replica {
        var replica = try Replica(
            configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
            machine: AnyStateMachine(StreamOnlyKeyValueStore()),
            snapshotPolicy: .never
        )
        for _ in 0..<30 { replica.tick() }
        _ = try replica.drive(storage: storage)
        try #require(replica.engine.role == .leader)
        for n in 1...300 {
            let put = KeyValueStore.Command.put(key: "k\(n)", value: String(repeating: "v", count: n)).encoded()
            replica.submitCommand(
                Replica.ClientCommand(clientID: 1, sequence: UInt64(n), command: put),
                requestID: UInt64(n),
                now: UInt64(n)
            )
            _ = try replica.drive(storage: storage)
        }
        return replica
    }

    private static func contents(_ replica: Replica) -> [String: String]? {
        replica.machine.unwrap(as: StreamOnlyKeyValueStore.self)?.store.contents
    }

    @Test("a plugin whose byte form fails is snapshotted to disk, recovered and restored by streaming")
    func streamOnlyPluginSurvivesDiskAndRestart() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/streaming-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let expected: [String: String]?
        let snapshotIndex: LogIndex
        do {
            let storage = try DiskStorage(directory: directory)
            var replica = try Self.leader(storage: storage)
            // As the host does: the capture streams straight into the snapshot file.
            let capture = replica.captureSnapshot()
            let metadata = try #require(replica.snapshotMetadata(for: capture))
            var peak = 0
            let data = try storage.writeSnapshot(metadata) { sink in
                try withoutActuallyEscaping(sink) { sink in
                    var stream = SnapshotOutputStream(bufferSize: 4_096, sink: sink)
                    try capture.write(to: &stream)
                    peak = stream.peakBufferedBytes
                }
            }
            #expect(data.count > 40_000 && peak < 4_096 + 400, "never more than a buffer in memory")
            let snapshot = try replica.compact(capture, metadata: metadata, snapshotData: data)
            try storage.compact(to: snapshot)
            #expect(replica.engine.snapshot?.data.bytes == nil, "the engine's snapshot is read from its file")
            snapshotIndex = snapshot.metadata.index
            expected = Self.contents(replica)
            try #require(expected?.count == 300)
        }
        let reopened = try DiskStorage(directory: directory)
        let state = try reopened.load()
        #expect(state.snapshot?.metadata.index == snapshotIndex)
        #expect(state.snapshot?.data.bytes == nil, "recovered from the file, restored as a stream")
        let restarted = try Replica(
            configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
            machine: AnyStateMachine(StreamOnlyKeyValueStore()),
            persistentState: state,
            snapshotPolicy: .never
        )
        #expect(restarted.appliedIndex == snapshotIndex)
        #expect(Self.contents(restarted) == expected)
    }

    @Test("a snapshot of many chunks reaches a follower, which restores it by streaming")
    func multiChunkInstallRestoresByStreaming() throws {
        let leaderStorage = MemoryStorage()
        var leader = try Self.leader(storage: leaderStorage)
        let snapshot = try leader.takeSnapshot(into: leaderStorage)
        let data = try snapshot.data.readAll()
        let chunkSize = 1_000
        try #require(data.count > 10 * chunkSize)
        let metadata = SnapshotMetadata(index: snapshot.metadata.index, term: 1, voters: Self.voters)

        var follower = try Replica(
            configuration: RaftConfiguration(id: NodeID(2), voters: Self.voters),
            machine: AnyStateMachine(StreamOnlyKeyValueStore()),
            snapshotPolicy: .never
        )
        let directory = FileManager.default.temporaryDirectory.path + "/streaming-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storage = try DiskStorage(directory: directory)
        var restores: [SnapshotRestore] = []
        for start in stride(from: 0, to: data.count, by: chunkSize) {
            let chunk = SnapshotChunk(
                metadata: metadata,
                offset: UInt64(start),
                totalSize: UInt64(data.count),
                data: Array(data[start..<min(start + chunkSize, data.count)])
            )
            follower.step(Message(from: NodeID(1), to: NodeID(2), term: 1, payload: .installSnapshot(chunk)))
            while follower.hasOutput {
                let step = try follower.beginStep()
                try step.persist(to: storage)
                restores += try follower.finishStep(step).restore.map { [$0] } ?? []
            }
        }
        let received = try #require(restores.first)
        #expect(restores.count == 1 && received.snapshot.data == SnapshotData(data))
        // The follower keeps the file it stored, not the array it received, and restores from it.
        let restore = try follower.readingStoredSnapshot(received, in: storage)
        #expect(restore.snapshot.data.bytes == nil && follower.engine.snapshot?.data.bytes == nil)
        #expect(follower.engine.snapshot?.data == SnapshotData(data))
        _ = try follower.finishRestore(restore.run())
        #expect(follower.appliedIndex == snapshot.metadata.index)
        #expect(Self.contents(follower) == Self.contents(leader))
    }

    @Test("a snapshot of format version 1 (the plugin's state length-prefixed) is still restored")
    func version1SnapshotsAreRead() throws {
        let store = KeyValueStore(contents: ["a": "1", "b": "2"])
        var writer = BinaryWriter()
        writer.writeUInt32(0x5248_534E)
        writer.writeUInt8(1)
        writer.writeString(KeyValueStore.name)
        writer.writeVarint(42)
        writer.writeVarint(0)  // the session table: next sweep
        writer.writeVarint(0)  // and no sessions
        writer.writeBytes(try store.snapshot())
        let metadata = SnapshotMetadata(index: 7, term: 1, voters: [NodeID(1)])
        let replica = try Replica(
            configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
            machine: AnyStateMachine(KeyValueStore()),
            persistentState: PersistentState(snapshot: Snapshot(metadata: metadata, data: writer.bytes)),
            snapshotPolicy: .never
        )
        #expect(replica.machine.unwrap(as: KeyValueStore.self) == store)

        var damaged = writer.bytes
        damaged.append(0)
        #expect(throws: (any Error).self) {
            try Replica(
                configuration: RaftConfiguration(id: NodeID(1), voters: [NodeID(1)]),
                machine: AnyStateMachine(KeyValueStore()),
                persistentState: PersistentState(snapshot: Snapshot(metadata: metadata, data: damaged)),
                snapshotPolicy: .never
            )
        }
    }
}
