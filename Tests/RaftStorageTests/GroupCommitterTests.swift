import Dispatch
import RaftCore
import RaftStorage
import Synchronization
import Testing

/// A storage whose first sync blocks until the test opens the gate, so that the test controls
/// what arrives while a sync is in flight.
private final class GatedStorage<Base: PersistentStorage>: PersistentStorage {
    let base: Base
    private let gate = DispatchSemaphore(value: 0)
    private let firstSync = Atomic(true)

    init(_ base: Base) {
        self.base = base
    }

    func openGate() { gate.signal() }

    func load() throws(StorageError) -> PersistentState { try base.load() }
    func append(_ entries: [Entry]) throws(StorageError) { try base.append(entries) }
    func saveHardState(_ hardState: HardState) throws(StorageError) { try base.saveHardState(hardState) }
    func installSnapshot(_ snapshot: Snapshot) throws(StorageError) { try base.installSnapshot(snapshot) }
    func compact(to snapshot: Snapshot) throws(StorageError) { try base.compact(to: snapshot) }
    var persistedRaftStateSize: Int { base.persistedRaftStateSize }
    var snapshotSize: Int { base.snapshotSize }
    var statistics: StorageStatistics { base.statistics }

    func sync() throws(StorageError) {
        if firstSync.exchange(false, ordering: .acquiringAndReleasing) {
            gate.wait()
        }
        try base.sync()
    }
}

/// A lock-protected value that tasks can share.
private final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }
}

@Suite struct GroupCommitterTests {
    @Test func appendsDuringASyncShareTheNextSyncAndReturnOnlyWhenDurable() async throws {
        let storage = GatedStorage(MemoryStorage())
        let committer = GroupCommitter(storage: storage)
        let callers = 100
        let returned = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in LogIndex(1)...LogIndex(callers) {
                let ticket = committer.submit(makeEntries(index...index, term: 1))
                group.addTask {
                    try await committer.waitUntilDurable(ticket)
                    #expect(storage.base.syncedState.entries.count >= Int(index))
                    returned.value.withLock { $0 += 1 }
                }
            }
            // The first sync is held, so nothing can be durable yet.
            #expect(returned.value.withLock { $0 } == 0)
            #expect(storage.base.syncedState.entries.isEmpty)
            storage.openGate()
            try await group.waitForAll()
        }
        #expect(returned.value.withLock { $0 } == callers)
        // Either the first sync took entry 1 alone and the second all the others, or one took all.
        #expect(storage.statistics.syncs <= 2)
        #expect(storage.base.syncedState.entries == makeEntries(1...LogIndex(callers), term: 1))
    }

    @Test func concurrentCallersOnDiskShareSyncs() async throws {
        try await withAsyncTemporaryDirectory { directory in
            let disk = try DiskStorage(directory: directory)
            let before = disk.statistics
            let storage = GatedStorage(disk)
            let committer = GroupCommitter(storage: storage)
            let callers = 200
            // Indices are handed out under the same lock as the submission, so they arrive in order.
            let nextIndex = Shared<LogIndex>(1)
            let (submitted, submission) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        let ticket = nextIndex.value.withLock { next in
                            defer { next += 1 }
                            let hardState = caller % 10 == 0 ? HardState(term: 1, vote: NodeID(1), commit: next) : nil
                            return committer.submit(makeEntries(next...next, term: 1, size: 128), hardState: hardState)
                        }
                        submission.yield()
                        try await committer.waitUntilDurable(ticket)
                    }
                }
                // Hold the first sync until every caller has submitted: they all arrive during it.
                var count = 0
                for await _ in submitted {
                    count += 1
                    if count == callers {
                        break
                    }
                }
                storage.openGate()
                try await group.waitForAll()
            }
            #expect(disk.statistics.syncs - before.syncs <= 2)
            #expect(disk.statistics.writes - before.writes <= 2)
            disk.close()
            let reopened = try DiskStorage(directory: directory)
            #expect(try reopened.load().entries == makeEntries(1...LogIndex(callers), term: 1, size: 128))
        }
    }

    @Test func conflictingSubmissionsAreMergedLikeTheStorageWould() async throws {
        let storage = GatedStorage(MemoryStorage())
        let committer = GroupCommitter(storage: storage)
        let first = committer.submit(makeEntries(1...3, term: 1))
        let second = committer.submit(makeEntries(4...6, term: 1))
        let third = committer.submit(makeEntries(5...5, term: 2), hardState: HardState(term: 2, vote: nil, commit: 4))
        storage.openGate()
        for ticket in [first, second, third] {
            try await committer.waitUntilDurable(ticket)
        }
        let state = storage.base.syncedState
        #expect(state.entries == makeEntries(1...4, term: 1) + makeEntries(5...5, term: 2))
        #expect(state.hardState == HardState(term: 2, vote: nil, commit: 4))
    }

    @Test func aFailedWriteFailsItsCallersAndEveryLaterOne() async throws {
        let storage = MemoryStorage()
        let committer = GroupCommitter(storage: storage)
        try await committer.append(makeEntries(1...2, term: 1))
        // Index 5 leaves a gap: the storage refuses the batch.
        let error = await #expect(throws: StorageError.self) { try await committer.append(makeEntries(5...5, term: 1)) }
        #expect(error?.code == .invalidArgument)
        let later = await #expect(throws: StorageError.self) { try await committer.append(makeEntries(3...3, term: 1)) }
        #expect(later?.code == .invalidArgument)
        #expect(storage.syncedState.entries == makeEntries(1...2, term: 1))
    }
}
