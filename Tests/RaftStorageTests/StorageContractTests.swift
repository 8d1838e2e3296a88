import RaftCore
import RaftStorage
import SimulationThread
import Testing

/// The protocol's rules, checked against both implementations. For `DiskStorage` every test also
/// reopens the directory afterwards and expects the same state back, without warnings.
@Suite(.onSimulationThread) struct StorageContractTests {
    enum Kind: CaseIterable, CustomStringConvertible {
        case memory, disk

        var description: String { self == .memory ? "MemoryStorage" : "DiskStorage" }
    }

    /// Segments this small make every disk test roll over to new segments several times.
    static let smallSegments = DiskStorage.Options(fsync: .never, maxSegmentSize: 300)

    private func withStorage(_ kind: Kind, _ body: (any PersistentStorage) throws -> Void) throws {
        switch kind {
        case .memory:
            try body(MemoryStorage())
        case .disk:
            try withTemporaryDirectory { base in
                let directory = base + "/group"
                let storage = try DiskStorage(directory: directory, options: Self.smallSegments)
                try body(storage)
                try storage.sync()
                let before = try storage.load()
                let size = storage.persistedRaftStateSize
                storage.close()
                let reopened = try DiskStorage(directory: directory, options: Self.smallSegments)
                #expect(reopened.warnings == [])
                #expect(try reopened.load() == before)
                #expect(reopened.persistedRaftStateSize == size)
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func appendAndSaveHardState(kind: Kind) throws {
        try withStorage(kind) { storage in
            let hardState = HardState(term: 3, vote: NodeID(2), commit: 4)
            try storage.append(makeEntries(1...5, term: 1))
            try storage.append(makeEntries(6...9, term: 3))
            try storage.saveHardState(hardState)
            try storage.sync()
            let state = try storage.load()
            #expect(state.entries == makeEntries(1...5, term: 1) + makeEntries(6...9, term: 3))
            #expect(state.hardState == hardState)
            #expect(state.snapshot == nil)
            try storage.saveHardState(HardState(term: 4, vote: nil, commit: 9))
            #expect(try storage.load().hardState == HardState(term: 4, vote: nil, commit: 9))
        }
    }

    @Test(arguments: Kind.allCases)
    func conflictingSuffixIsReplaced(kind: Kind) throws {
        try withStorage(kind) { storage in
            try storage.append(makeEntries(1...10, term: 1))
            try storage.append(makeEntries(6...7, term: 2))
            #expect(try storage.load().entries == makeEntries(1...5, term: 1) + makeEntries(6...7, term: 2))
            try storage.append(makeEntries(8...9, term: 2))
            try storage.append(makeEntries(1...1, term: 5))
            try storage.append(makeEntries(2...3, term: 5))
            #expect(try storage.load().entries == makeEntries(1...3, term: 5))
        }
    }

    @Test(arguments: Kind.allCases)
    func appendsOutsideTheLogAreRefused(kind: Kind) throws {
        try withStorage(kind) { storage in
            try storage.append(makeEntries(1...5, term: 1))
            let gap = #expect(throws: StorageError.self) { try storage.append(makeEntries(7...8, term: 1)) }
            #expect(gap?.code == .invalidArgument)
            var broken = makeEntries(6...8, term: 1)
            broken[1].index = 9
            let notContiguous = #expect(throws: StorageError.self) { try storage.append(broken) }
            #expect(notContiguous?.code == .invalidArgument)
            try storage.compact(to: makeSnapshot(index: 3, term: 1))
            let covered = #expect(throws: StorageError.self) { try storage.append(makeEntries(3...4, term: 2)) }
            #expect(covered?.code == .invalidArgument)
            // A refused call changes nothing and leaves the storage usable.
            try storage.append(makeEntries(6...6, term: 1))
            #expect(try storage.load().entries == makeEntries(4...6, term: 1))
        }
    }

    @Test(arguments: Kind.allCases)
    func compactionRemovesThePrefix(kind: Kind) throws {
        try withStorage(kind) { storage in
            try storage.append(makeEntries(1...20, term: 1, size: 40))
            try storage.saveHardState(HardState(term: 1, vote: NodeID(1), commit: 18))
            try storage.sync()
            let before = storage.persistedRaftStateSize
            let snapshot = makeSnapshot(index: 15, term: 1)
            try storage.compact(to: snapshot)
            #expect(storage.persistedRaftStateSize < before / 2)
            #expect(storage.snapshotSize > snapshot.data.count)
            let state = try storage.load()
            #expect(state.snapshot == snapshot)
            #expect(state.entries == makeEntries(16...20, term: 1, size: 40))
            #expect(state.hardState == HardState(term: 1, vote: NodeID(1), commit: 18))

            let stale = #expect(throws: StorageError.self) { try storage.compact(to: makeSnapshot(index: 15, term: 1)) }
            #expect(stale?.code == .staleSnapshot)
            let beyond = #expect(throws: StorageError.self) {
                try storage.compact(to: makeSnapshot(index: 21, term: 1))
            }
            #expect(beyond?.code == .invalidArgument)
            let wrongTerm = #expect(throws: StorageError.self) {
                try storage.compact(to: makeSnapshot(index: 17, term: 2))
            }
            #expect(wrongTerm?.code == .invalidArgument)

            try storage.compact(to: makeSnapshot(index: 20, term: 1))
            try storage.append(makeEntries(21...22, term: 2))
            #expect(try storage.load().entries == makeEntries(21...22, term: 2))
        }
    }

    @Test(arguments: Kind.allCases)
    func installedSnapshotKeepsAMatchingLog(kind: Kind) throws {
        try withStorage(kind) { storage in
            try storage.append(makeEntries(1...10, term: 1))
            let snapshot = makeSnapshot(index: 7, term: 1)
            try storage.installSnapshot(snapshot)
            let state = try storage.load()
            #expect(state.snapshot == snapshot)
            #expect(state.entries == makeEntries(8...10, term: 1))
        }
    }

    @Test(arguments: Kind.allCases)
    func installedSnapshotDropsALogThatDoesNotHoldIt(kind: Kind) throws {
        try withStorage(kind) { storage in
            try storage.append(makeEntries(1...10, term: 1))
            // The log has index 8, with another term.
            try storage.installSnapshot(makeSnapshot(index: 8, term: 2))
            #expect(try storage.load().entries == [])
            try storage.append(makeEntries(9...10, term: 2))
            // The log ends before the snapshot.
            let snapshot = makeSnapshot(index: 30, term: 3)
            try storage.installSnapshot(snapshot)
            #expect(try storage.load().entries == [])
            try storage.append(makeEntries(31...33, term: 3))
            let state = try storage.load()
            #expect(state.snapshot == snapshot)
            #expect(state.entries == makeEntries(31...33, term: 3))
            let stale = #expect(throws: StorageError.self) {
                try storage.installSnapshot(makeSnapshot(index: 25, term: 3))
            }
            #expect(stale?.code == .staleSnapshot)
        }
    }

    @Test func memoryStorageForgetsUnsyncedWritesOnCrash() throws {
        let storage = MemoryStorage()
        try storage.append(makeEntries(1...3, term: 1))
        try storage.saveHardState(HardState(term: 1, vote: NodeID(1), commit: 0))
        try storage.sync()
        let synced = try storage.load()
        try storage.append(makeEntries(3...5, term: 2))
        try storage.saveHardState(HardState(term: 2, vote: NodeID(2), commit: 2))
        #expect(storage.syncedState == synced)
        storage.crash()
        #expect(try storage.load() == synced)
        #expect(storage.statistics.syncs == 1)
        #expect(storage.statistics.writes == 4)

        // Snapshots are durable on return, together with what was written before them.
        try storage.append(makeEntries(4...6, term: 1))
        try storage.compact(to: makeSnapshot(index: 5, term: 1))
        storage.crash()
        #expect(try storage.load().entries == makeEntries(6...6, term: 1))
    }
}
