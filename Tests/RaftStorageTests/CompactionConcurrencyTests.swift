import RaftCore
import Synchronization
import SimulationThread
import Testing

@testable import RaftStorage

@Suite(.onSimulationThread) struct CompactionConcurrencyTests {
    /// The host compacts off its executor while the executor keeps appending: the snapshot file
    /// is written without the storage's lock, so an append and a sync go through meanwhile (from
    /// the hook itself: were the lock held, this would deadlock).
    @Test func appendsAndSyncsGoOnWhileTheSnapshotFileIsWritten() throws {
        try withTemporaryDirectory { directory in
            let storageBox = Mutex<DiskStorage?>(nil)
            let appended = Atomic<Bool>(false)
            var options = DiskStorage.Options()
            options.checkpointHook = { (step) throws(StorageError) in
                guard step == .snapshotSynced, let storage = storageBox.withLock({ $0 }) else { return }
                try storage.append(makeEntries(21...25, term: 2))
                try storage.saveHardState(HardState(term: 2, vote: NodeID(1), commit: 20))
                try storage.sync()
                appended.store(true, ordering: .relaxed)
            }
            let storage = try DiskStorage(directory: directory, options: options)
            storageBox.withLock { $0 = storage }
            try storage.append(makeEntries(1...20, term: 1))
            try storage.sync()

            try storage.compact(to: makeSnapshot(index: 15, term: 1))
            let appendedDuringCompaction = appended.load(ordering: .relaxed)
            #expect(appendedDuringCompaction)
            let state = try storage.load()
            #expect(state.snapshot == makeSnapshot(index: 15, term: 1))
            #expect(state.entries == makeEntries(16...20, term: 1) + makeEntries(21...25, term: 2))
            #expect(try fileNames(in: directory).filter { $0.hasSuffix(".tmp") } == [])
            storageBox.withLock { $0 = nil }
            storage.close()

            let reopened = try DiskStorage(directory: directory)
            let recovered = try reopened.load()
            #expect(recovered.snapshot == state.snapshot)
            #expect(recovered.entries == state.entries)
            #expect(recovered.hardState == HardState(term: 2, vote: NodeID(1), commit: 20))
        }
    }

    /// A leader's snapshot installed while a compaction's file was being written wins; the
    /// compaction is refused as stale and leaves no file behind.
    @Test func aSnapshotInstalledMeanwhileMakesTheCompactionStale() throws {
        try withTemporaryDirectory { directory in
            let storageBox = Mutex<DiskStorage?>(nil)
            var options = DiskStorage.Options()
            options.checkpointHook = { (step) throws(StorageError) in
                guard step == .snapshotWritten, let storage = storageBox.withLock({ $0.take() }) else { return }
                try storage.installSnapshot(makeSnapshot(index: 30, term: 3))
            }
            let storage = try DiskStorage(directory: directory, options: options)
            storageBox.withLock { $0 = storage }
            try storage.append(makeEntries(1...20, term: 1))
            try storage.sync()

            #expect(throws: StorageError.self) { try storage.compact(to: makeSnapshot(index: 15, term: 1)) }
            let state = try storage.load()
            #expect(state.snapshot == makeSnapshot(index: 30, term: 3))
            #expect(state.entries == [])
            #expect(try fileNames(in: directory).filter { $0.hasSuffix(".tmp") } == [])
            // Stale is not a failure of the storage: it keeps working.
            try storage.append(makeEntries(31...31, term: 3))
            try storage.sync()
            storage.close()
        }
    }
}
