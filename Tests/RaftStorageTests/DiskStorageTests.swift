import Foundation
import Glibc
import RaftCore
import RaftStorage
import SimulationThread
import Testing

@Suite(.onSimulationThread) struct DiskStorageTests {
    @Test func crc32cMatchesTheStandardCheckValues() {
        // RFC 3720 appendix B.4 and the common "123456789" check value.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        // Slicing-by-8 and the byte loop agree at every split point.
        let bytes = (0..<77).map { UInt8(truncatingIfNeeded: $0 * 13) }
        for split in 0...bytes.count {
            #expect(CRC32C.update(CRC32C.checksum(bytes[..<split]), bytes[split...]) == CRC32C.checksum(bytes))
        }
    }

    /// The CPU's instruction (used when present) and the portable tables agree, from any
    /// starting value, at every length around the 8-byte steps.
    @Test func crc32cInstructionAndTablesAgree() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        for length in Array(0...40) + [63, 64, 65, 4095, 4096, 65_537] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            let start = UInt32(truncatingIfNeeded: next())
            let portable = bytes.withUnsafeBytes { CRC32C.tableUpdate(start, $0) }
            #expect(CRC32C.update(start, bytes) == portable, "length \(length)")
        }
    }

    @Test func segmentsRollOverAndSnapshotsRemoveThem() throws {
        try withTemporaryDirectory { directory in
            let options = DiskStorage.Options(fsync: .never, maxSegmentSize: 1024)
            let storage = try DiskStorage(directory: directory, options: options)
            for index in LogIndex(1)...60 {
                try storage.append(makeEntries(index...index, term: 1, size: 64))
                try storage.sync()
            }
            let segments = try segmentPaths(in: directory)
            #expect(segments.count >= 6)
            for segment in segments {
                #expect(try fileSize(segment) <= 1024)
            }
            storage.close()

            let reopened = try DiskStorage(directory: directory, options: options)
            #expect(try reopened.load().entries == makeEntries(1...60, term: 1, size: 64))
            try reopened.compact(to: makeSnapshot(index: 55, term: 1))
            #expect(try segmentPaths(in: directory).count == 1)
            #expect(try snapshotPaths(in: directory).count == 1)
            try reopened.compact(to: makeSnapshot(index: 58, term: 1))
            #expect(try snapshotPaths(in: directory).count == 1)
            #expect(try fileNames(in: directory).filter { $0.hasSuffix(".tmp") } == [])
            reopened.close()

            let third = try DiskStorage(directory: directory, options: options)
            let state = try third.load()
            #expect(state.snapshot == makeSnapshot(index: 58, term: 1))
            #expect(state.entries == makeEntries(59...60, term: 1, size: 64))
        }
    }

    /// A snapshot that keeps more log than `maxLogRewrite` leaves the kept entries in their
    /// segments: it appends a compaction record and deletes only the segments wholly before them.
    @Test func aLargeKeptLogIsRecordedNotRewritten() throws {
        try withTemporaryDirectory { directory in
            let options = DiskStorage.Options(
                fsync: .never,
                maxSegmentSize: 1024,
                maxLogRewrite: 512,
                preallocateSegments: false
            )
            let storage = try DiskStorage(directory: directory, options: options)
            let entries = makeEntries(1...60, term: 1, size: 64)
            for entry in entries {
                try storage.append([entry])
            }
            try storage.saveHardState(HardState(term: 1, vote: NodeID(2), commit: 40))
            try storage.sync()
            let before = try segmentPaths(in: directory)
            let contents = try before.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
            let written = storage.statistics.bytesWritten

            try storage.compact(to: makeSnapshot(index: 30, term: 1))
            let after = try segmentPaths(in: directory)
            // Entry 31 is in the segment that now comes first; those before it are gone, the
            // others are untouched except the last, which got the two records appended.
            #expect(after.count < before.count)
            #expect(Set(after).isSubset(of: Set(before)))
            for path in after.dropLast() {
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == contents[before.firstIndex(of: path)!])
            }
            // The snapshot file and two small records: a rewrite would write 30 entries of 97 bytes.
            #expect(storage.statistics.bytesWritten - written < 600)
            // Ten entries fill a segment, so entry 31 starts the first one left, right after its
            // header: the state counts everything from there.
            let liveBytes = try after.reduce(0) { $0 + (try fileSize($1)) } - 20
            #expect(storage.persistedRaftStateSize == liveBytes)
            #expect(try storage.load().entries == Array(entries[30...]))
            storage.close()

            let reopened = try DiskStorage(directory: directory, options: options)
            #expect(reopened.warnings == [])
            #expect(reopened.persistedRaftStateSize == liveBytes)
            let state = try reopened.load()
            #expect(state.snapshot == makeSnapshot(index: 30, term: 1))
            #expect(state.hardState == HardState(term: 1, vote: NodeID(2), commit: 40))
            #expect(state.entries == Array(entries[30...]))
            // A later snapshot with little log left goes back to a rewrite: one segment.
            try reopened.compact(to: makeSnapshot(index: 58, term: 1))
            #expect(try segmentPaths(in: directory).count == 1)
            #expect(try reopened.load().entries == Array(entries[58...]))
        }
    }

    @Test func persistedRaftStateSizeMatchesTheFiles() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(
                directory: directory,
                options: DiskStorage.Options(maxSegmentSize: 2048, preallocateSegments: false)
            )
            func segmentBytes() throws -> Int {
                try segmentPaths(in: directory).reduce(0) { $0 + (try fileSize($1)) }
            }
            #expect(storage.persistedRaftStateSize == (try segmentBytes()))
            for round in LogIndex(0)..<10 {
                try storage.append(makeEntries(round * 10 + 1...round * 10 + 10, term: 1, size: 50))
                try storage.saveHardState(HardState(term: 1, vote: NodeID(1), commit: round * 10))
                try storage.sync()
                #expect(storage.persistedRaftStateSize == (try segmentBytes()))
            }
            let before = storage.persistedRaftStateSize
            try storage.compact(to: makeSnapshot(index: 95, term: 1, size: 5000))
            #expect(storage.persistedRaftStateSize == (try segmentBytes()))
            #expect(storage.persistedRaftStateSize < before / 10)
            #expect(storage.snapshotSize == (try fileSize(try snapshotPaths(in: directory)[0])))
            #expect(storage.statistics.syncs > 10)
        }
    }

    @Test func aSecondOpenerOfTheDirectoryIsRefused() throws {
        try withTemporaryDirectory { directory in
            let first = try DiskStorage(directory: directory, options: fastOptions)
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: fastOptions)
            }
            #expect(error?.code == .locked)
            #expect(error?.path == directory + "/LOCK")
            first.close()
            let second = try DiskStorage(directory: directory, options: fastOptions)
            second.close()
        }
    }

    /// The child asks for the same POSIX record lock with Python's `fcntl.lockf`.
    @Test(.enabled(if: access("/usr/bin/env", X_OK) == 0))
    func anotherProcessIsRefused() throws {
        try withTemporaryDirectory { directory in
            // A refused lock exits 1 quietly, so the suite's log shows no traceback.
            let script = """
                import fcntl, sys
                try:
                    fcntl.lockf(open(sys.argv[1], 'r+'), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    sys.exit(1)
                """
            func otherProcessCanLock() -> Bool? {
                let arguments = ["/usr/bin/env", "python3", "-c", script, directory + "/LOCK"]
                var argv = arguments.map { strdup($0) } + [nil]
                defer {
                    for argument in argv {
                        free(argument)
                    }
                }
                var pid: pid_t = 0
                guard let path = argv[0], posix_spawn(&pid, path, nil, nil, &argv, environ) == 0 else {
                    return nil
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                // Exited normally (low 7 bits zero) with status 0.
                return status & 0x7F == 0 && (status >> 8) & 0xFF == 0
            }
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            guard otherProcessCanLock() == false else {
                Issue.record("another process took the lock, or python3 could not be run")
                return
            }
            storage.close()
            #expect(otherProcessCanLock() == true)
        }
    }

    @Test func aMissingDirectoryIsReportedWithItsPath() throws {
        try withTemporaryDirectory { base in
            let nested = base + "/no-such-parent/group"
            let missingParent = #expect(throws: StorageError.self) { _ = try DiskStorage(directory: nested) }
            #expect(missingParent?.code == .notFound)
            #expect(missingParent?.path == nested)
            #expect(missingParent?.errno == ENOENT)

            let options = DiskStorage.Options(createDirectory: false)
            let notCreated = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: base + "/group", options: options)
            }
            #expect(notCreated?.code == .notFound)
            #expect(notCreated?.path == base + "/group")
        }
    }

    @Test func closedStorageRefusesWork() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            storage.close()
            let error = #expect(throws: StorageError.self) { try storage.append(makeEntries(1...1, term: 1)) }
            #expect(error?.code == .failed)
        }
    }

    @Test func damageWhileOpenIsFoundWhenTheLogIsReadBack() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: fastOptions)
            try storage.append(makeEntries(1...3, term: 1, size: 64))
            try storage.sync()
            let segment = try segmentPaths(in: directory)[0]
            // The second record starts after the 20-byte segment header and one 97-byte record.
            try flipBit(in: segment, at: 20 + 97 + 50)
            let error = #expect(throws: StorageError.self) { _ = try storage.load() }
            #expect(error?.code == .corruption)
            #expect(error?.path == segment)
            #expect(error?.offset == 117)
            let after = #expect(throws: StorageError.self) { try storage.sync() }
            #expect(after?.code == .failed)
        }
    }
}
