import Foundation
import RaftCore
import RaftStorage
import SimulationThread
import Testing

/// What a crash can leave on disk, and what recovery makes of it.
@Suite(.onSimulationThread) struct CrashRecoveryTests {
    /// One record each: the storage writes exactly one record per call for these.
    private enum Operation {
        case append(Entry)
        case hardState(HardState)

        func apply(to storage: any PersistentStorage) throws {
            switch self {
            case .append(let entry): try storage.append([entry])
            case .hardState(let state): try storage.saveHardState(state)
            }
        }
    }

    private static let operations: [Operation] = {
        var operations: [Operation] = []
        for index in LogIndex(1)...12 {
            operations.append(.append(makeEntries(index...index, term: 1, size: Int(index) * 7)[0]))
        }
        operations.append(.hardState(HardState(term: 2, vote: NodeID(3), commit: 9)))
        operations.append(.append(makeEntries(13...13, term: 2, size: 40)[0]))
        // The final records: a conflicting append, hard state, and more entries of several sizes.
        operations.append(.append(makeEntries(11...11, term: 3, size: 5)[0]))
        operations.append(.hardState(HardState(term: 3, vote: nil, commit: 10)))
        operations.append(.append(makeEntries(12...12, term: 3, size: 90)[0]))
        operations.append(.append(makeEntries(13...13, term: 3, size: 0)[0]))
        operations.append(.append(makeEntries(14...14, term: 3, size: 60)[0]))
        operations.append(.hardState(HardState(term: 3, vote: nil, commit: 14)))
        return operations
    }()

    @Test func recoveryAfterACutAtEveryOffsetOfTheFinalRecords() throws {
        try withTemporaryDirectory { base in
            let source = base + "/source"
            let storage = try DiskStorage(directory: source, options: fastOptions)
            let segment = try segmentPaths(in: source)[0]
            let segmentName = URL(fileURLWithPath: segment).lastPathComponent
            // After each synced record: the segment size, and the state an independent model holds.
            let model = MemoryStorage()
            var checkpoints = [(size: try fileSize(segment), state: try model.load())]
            for operation in Self.operations {
                try operation.apply(to: storage)
                try operation.apply(to: model)
                try storage.sync()
                checkpoints.append((try fileSize(segment), try model.load()))
            }
            storage.close()

            let finalRecords = 8
            var covered = 0
            for cut in checkpoints[checkpoints.count - 1 - finalRecords].size...checkpoints[checkpoints.count - 1].size
            {
                let target = base + "/cut"
                try copyDataFiles(from: source, to: target)
                try truncateFile(target + "/" + segmentName, to: cut)
                // Everything synced before the cut, nothing after it.
                let expected = checkpoints.last { $0.size <= cut }!
                let recovered = try DiskStorage(directory: target, options: fastOptions)
                #expect(try recovered.load() == expected.state, "cut at \(cut)")
                #expect(recovered.warnings.count == (cut == expected.size ? 0 : 1), "cut at \(cut)")
                #expect(recovered.warnings.first.map { $0.offset == Int64(expected.size) } ?? true, "cut at \(cut)")
                #expect(try fileSize(target + "/" + segmentName) == expected.size, "cut at \(cut)")

                // The repaired log takes new writes, and a second recovery finds nothing to repair.
                let next = (expected.state.entries.last?.index ?? 0) + 1
                try recovered.append(makeEntries(next...next, term: 9))
                try recovered.sync()
                recovered.close()
                let reopened = try DiskStorage(directory: target, options: fastOptions)
                #expect(reopened.warnings == [], "cut at \(cut)")
                #expect(try reopened.load().entries == expected.state.entries + makeEntries(next...next, term: 9))
                reopened.close()
                try FileManager.default.removeItem(atPath: target)
                covered += 1
            }
            print("crash consistency: recovered from a cut at each of \(covered) byte offsets")
            #expect(covered > 400)
        }
    }

    /// Writes `count` entries of 64 bytes, one synced record each; returns the record start offsets.
    private func writeLog(in directory: String, count: LogIndex, maxSegmentSize: Int = 64 << 20) throws -> [Int] {
        let storage = try DiskStorage(
            directory: directory,
            options: DiskStorage.Options(fsync: .never, maxSegmentSize: maxSegmentSize, preallocateSegments: false)
        )
        defer { storage.close() }
        var starts: [Int] = []
        for index in 1...count {
            starts.append(storage.persistedRaftStateSize)
            try storage.append(makeEntries(index...index, term: 1, size: 64))
            try storage.sync()
        }
        return starts
    }

    @Test(arguments: [("payload", 30), ("length field", 1), ("header checksum", 9)])
    func damageInTheMiddleOfTheLastSegmentIsAnError(part: String, byte: Int) throws {
        try withTemporaryDirectory { directory in
            let starts = try writeLog(in: directory, count: 10)
            let segment = try segmentPaths(in: directory)[0]
            try flipBit(in: segment, at: starts[4] + byte)
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == segment)
            #expect(error?.offset == Int64(starts[4]))
            #expect(error?.description.contains("restore") == true)
            #expect(try fileSize(segment) == starts[9] + 97, "the damaged file is left as it was")
        }
    }

    @Test func damageAtTheEndOfAnEarlierSegmentIsAnError() throws {
        try withTemporaryDirectory { directory in
            _ = try writeLog(in: directory, count: 30, maxSegmentSize: 1024)
            let segments = try segmentPaths(in: directory)
            #expect(segments.count > 2)
            let size = try fileSize(segments[1])
            try flipBit(in: segments[1], at: size - 3)
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == segments[1])
            #expect(error?.offset == Int64(size - 97))

            try truncateFile(segments[1], to: size - 3)
            let cut = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(cut?.path == segments[1])
            #expect(cut?.offset == Int64(size - 97))
        }
    }

    @Test func aDamagedFinalRecordIsTruncatedWithAWarning() throws {
        try withTemporaryDirectory { directory in
            let starts = try writeLog(in: directory, count: 10)
            let segment = try segmentPaths(in: directory)[0]
            try flipBit(in: segment, at: starts[9] + 40)
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            #expect(storage.warnings.count == 1)
            #expect(storage.warnings.first?.path == segment)
            #expect(storage.warnings.first?.offset == Int64(starts[9]))
            #expect(try storage.load().entries == makeEntries(1...9, term: 1, size: 64))
        }
    }

    /// Zeros after the last record are space preallocated for the next ones, not damage.
    @Test func aZeroFilledTailIsWhereTheLogContinues() throws {
        try withTemporaryDirectory { directory in
            let starts = try writeLog(in: directory, count: 5)
            let segment = try segmentPaths(in: directory)[0]
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: segment))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(count: 4096))
            try handle.close()
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            #expect(storage.warnings == [])
            #expect(storage.persistedRaftStateSize == starts[4] + 97)
            #expect(try storage.load().entries == makeEntries(1...5, term: 1, size: 64))
            try storage.append(makeEntries(6...6, term: 1, size: 64))
            try storage.sync()
            storage.close()
            #expect(try fileSize(segment) == starts[4] + 97 + 4096, "the record went into the zeros")
            let reopened = try DiskStorage(directory: directory, options: fastOptions)
            #expect(reopened.warnings == [])
            #expect(try reopened.load().entries == makeEntries(1...6, term: 1, size: 64))
        }
    }

    @Test func aDamagedSnapshotIsAnError() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            try storage.append(makeEntries(1...5, term: 1))
            try storage.compact(to: makeSnapshot(index: 4, term: 1, size: 1000))
            storage.close()
            let snapshot = try snapshotPaths(in: directory)[0]
            try flipBit(in: snapshot, at: 500)
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == snapshot)
            #expect(error?.offset != nil)
            #expect(error?.description.contains("snapshot checksum mismatch") == true)
        }
    }

    enum SnapshotScenario: CaseIterable, CustomStringConvertible {
        case compaction, installKeepingTheLog, installDroppingTheLog

        func apply(to storage: any PersistentStorage) throws {
            switch self {
            case .compaction: try storage.compact(to: makeSnapshot(index: 8, term: 1))
            case .installKeepingTheLog: try storage.installSnapshot(makeSnapshot(index: 11, term: 2))
            case .installDroppingTheLog: try storage.installSnapshot(makeSnapshot(index: 15, term: 3))
            }
        }

        var description: String {
            switch self {
            case .compaction: "compaction"
            case .installKeepingTheLog: "install keeping the log"
            case .installDroppingTheLog: "install dropping the log"
            }
        }
    }

    /// Each step of saving a snapshot, on the path that reaches it: the kept log rewritten
    /// (`maxLogRewrite` large) or a compaction record appended (`maxLogRewrite` 0).
    static let crashPoints: [(step: DiskStorage.CheckpointStep, rewrites: Bool)] =
        DiskStorage.CheckpointStep.allCases.flatMap { step in
            [true, false].compactMap { rewrites in
                switch step {
                case .segmentRewritten where !rewrites, .compactionRecorded where rewrites: nil
                default: (step, rewrites)
                }
            }
        }

    @Test(arguments: crashPoints, SnapshotScenario.allCases)
    func aCrashWhileSavingASnapshotLeavesTheOldOrTheNewState(
        crashPoint: (step: DiskStorage.CheckpointStep, rewrites: Bool),
        scenario: SnapshotScenario
    ) throws {
        let step = crashPoint.step
        try withTemporaryDirectory { directory in
            let options = DiskStorage.Options(maxSegmentSize: 400, maxLogRewrite: crashPoint.rewrites ? 1 << 20 : 0)
            let storage = try DiskStorage(directory: directory, options: options)
            let model = MemoryStorage()
            for target in [storage, model] as [any PersistentStorage] {
                try target.append(makeEntries(1...10, term: 1, size: 30))
                try target.compact(to: makeSnapshot(index: 3, term: 1))
                try target.append(makeEntries(11...12, term: 2, size: 30))
                try target.saveHardState(HardState(term: 2, vote: NodeID(1), commit: 9))
                try target.sync()
            }
            storage.close()
            let old = try model.load()
            try scenario.apply(to: model)
            let new = try model.load()

            var crashing = options
            crashing.checkpointHook = { reached throws(StorageError) in
                if reached == step {
                    throw StorageError(.io, "simulated crash after \(reached)")
                }
            }
            let victim = try DiskStorage(directory: directory, options: crashing)
            #expect(throws: StorageError.self) { try scenario.apply(to: victim) }
            victim.close()

            let recovered = try DiskStorage(directory: directory, options: options)
            let steps = DiskStorage.CheckpointStep.allCases
            let renamed = steps.firstIndex(of: step)! >= steps.firstIndex(of: .snapshotRenamed)!
            #expect(try recovered.load() == (renamed ? new : old))
            #expect(try snapshotPaths(in: directory).count == 1)
            #expect(try fileNames(in: directory).filter { $0.hasSuffix(".tmp") } == [])

            // Recovery finished the job: the next open is clean and the log keeps growing.
            let next = (try recovered.load().entries.last?.index ?? (renamed ? new : old).snapshot!.metadata.index) + 1
            try recovered.append(makeEntries(next...next, term: 4))
            try recovered.sync()
            recovered.close()
            let reopened = try DiskStorage(directory: directory, options: options)
            #expect(reopened.warnings == [])
            #expect(try reopened.load().entries.last == makeEntries(next...next, term: 4)[0])
        }
    }
}

extension CrashRecoveryTests {
    /// A crash while the compaction record is written, after the snapshot file was renamed into
    /// place: whatever prefix of the hard state and compaction records reached the disk,
    /// recovery ends with the new snapshot and the log it keeps, and removes the segments before it.
    @Test func aTornCompactionRecordStillEndsWithTheNewSnapshot() throws {
        try withTemporaryDirectory { base in
            let source = base + "/source"
            // Growing segments: the cut below is a file length (`PreallocationTests` has zeros).
            let options = DiskStorage.Options(
                fsync: .never,
                maxSegmentSize: 1024,
                maxLogRewrite: 0,
                preallocateSegments: false
            )
            let storage = try DiskStorage(directory: source, options: options)
            let model = MemoryStorage()
            for target in [storage, model] as [any PersistentStorage] {
                try target.append(makeEntries(1...40, term: 1, size: 64))
                try target.saveHardState(HardState(term: 1, vote: NodeID(2), commit: 35))
                try target.sync()
            }
            storage.close()
            let segmentsBefore = try segmentPaths(in: source)

            var crashing = options
            crashing.checkpointHook = { step throws(StorageError) in
                if step == .compactionRecorded {
                    throw StorageError(.io, "simulated crash after \(step)")
                }
            }
            let victim = try DiskStorage(directory: source, options: crashing)
            #expect(throws: StorageError.self) { try victim.compact(to: makeSnapshot(index: 30, term: 1)) }
            victim.close()
            try model.compact(to: makeSnapshot(index: 30, term: 1))
            let expected = try model.load()
            // The crash came before the old segments were removed.
            #expect(try segmentPaths(in: source) == segmentsBefore)
            let last = segmentsBefore.last!
            let lastName = URL(fileURLWithPath: last).lastPathComponent
            let end = try fileSize(last)

            for cut in (end - 41 - 48)...end {
                let target = base + "/cut"
                try copyDataFiles(from: source, to: target)
                try truncateFile(target + "/" + lastName, to: cut)
                let recovered = try DiskStorage(directory: target, options: options)
                #expect(try recovered.load() == expected, "cut at \(cut)")
                #expect(!recovered.warnings.isEmpty, "cut at \(cut)")
                #expect(try segmentPaths(in: target).count < segmentsBefore.count, "cut at \(cut)")
                try recovered.append(makeEntries(41...41, term: 2))
                try recovered.sync()
                recovered.close()
                let reopened = try DiskStorage(directory: target, options: options)
                #expect(reopened.warnings == [], "cut at \(cut)")
                #expect(try reopened.load().entries == expected.entries + makeEntries(41...41, term: 2))
                reopened.close()
                try FileManager.default.removeItem(atPath: target)
            }
        }
    }

    /// A compaction record that names a segment which is not there is damage, reported with the
    /// record's file and offset; so is one that points after itself.
    @Test func aCompactionRecordWhoseSegmentIsMissingIsAnError() throws {
        try withTemporaryDirectory { directory in
            let options = DiskStorage.Options(fsync: .never, maxSegmentSize: 1024, maxLogRewrite: 0)
            let storage = try DiskStorage(directory: directory, options: options)
            try storage.append(makeEntries(1...40, term: 1, size: 64))
            try storage.saveHardState(HardState(term: 1, vote: NodeID(2), commit: 35))
            try storage.compact(to: makeSnapshot(index: 30, term: 1))
            storage.close()
            let segments = try segmentPaths(in: directory)
            #expect(segments.count == 2)
            try FileManager.default.removeItem(atPath: segments[0])
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: options)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == segments[1])
            // After the segment header and two hard state records.
            #expect(error?.offset == Int64(20 + 41 + 41))
            #expect(error?.description.contains("which is missing") == true)
        }
    }
}

@Suite(.onSimulationThread) struct MissingFilesTests {
    @Test func aSnapshotWithoutTheLogIsAnError() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            try storage.append(makeEntries(1...5, term: 1))
            try storage.saveHardState(HardState(term: 1, vote: NodeID(2), commit: 3))
            try storage.compact(to: makeSnapshot(index: 3, term: 1))
            storage.close()
            for segment in try segmentPaths(in: directory) {
                try FileManager.default.removeItem(atPath: segment)
            }
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == (try snapshotPaths(in: directory)).first)
        }
    }

    @Test func aMissingSegmentIsAnError() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(
                directory: directory,
                options: DiskStorage.Options(fsync: .never, maxSegmentSize: 512)
            )
            for index in LogIndex(1)...20 {
                try storage.append(makeEntries(index...index, term: 1, size: 64))
            }
            try storage.sync()
            storage.close()
            let segments = try segmentPaths(in: directory)
            try FileManager.default.removeItem(atPath: segments[1])
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == segments[2])
            #expect(error?.offset == 0)
            #expect(error?.description.contains("segment 2 is missing") == true)
        }
    }
}
