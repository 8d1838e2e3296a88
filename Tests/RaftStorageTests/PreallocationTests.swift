import Foundation
import RaftCore
import RaftStorage
import SimulationThread
import Testing

/// Segments written into zero-filled files prepared ahead (`Options.preallocateSegments`).
@Suite(.onSimulationThread) struct PreallocationTests {
    private static let options: DiskStorage.Options = {
        var options = DiskStorage.Options(fsync: .never, maxSegmentSize: 4 << 20)
        options.preparesSegmentsInline = true
        return options
    }()

    @Test func segmentsAreWrittenIntoPreallocatedFilesSizedByTheLog() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: Self.options)
            let record = 16 + 17 + 1024
            let entries = makeEntries(1...2500, term: 1, size: 1024)
            try storage.append(Array(entries[..<10]))
            try storage.sync()
            let first = try segmentPaths(in: directory)
            #expect(first.count == 1)
            #expect(try fileSize(first[0]) == 64 << 10, "a new log's first segment, zero-filled ahead")
            #expect(storage.persistedRaftStateSize == 20 + 10 * record)
            // No spare while the segment is less than half used.
            #expect(try !fileNames(in: directory).contains { $0.hasSuffix(".spare") })
            try storage.append(Array(entries[10..<40]))
            try storage.sync()
            #expect(try fileNames(in: directory).contains { $0.hasSuffix(".spare") }, "half used: a spare")

            for entry in entries[40...] {
                try storage.append([entry])
            }
            try storage.sync()
            let segments = try segmentPaths(in: directory)
            #expect(segments.count > 3)
            // Full ones were cut to their records when the next began; the last is preallocated
            // in 64 KiB units, larger than the first (the log grew).
            let sizes = try segments.map(fileSize)
            for size in sizes.dropLast() {
                #expect((size - 20) % record == 0)
            }
            #expect(sizes.last! % (64 << 10) == 0)
            #expect(sizes.last! > 64 << 10)
            let inLast = 2500 - sizes.dropLast().reduce(0) { $0 + ($1 - 20) / record }
            #expect(storage.persistedRaftStateSize == sizes.dropLast().reduce(0, +) + 20 + inLast * record)
            storage.close()

            let reopened = try DiskStorage(directory: directory, options: Self.options)
            #expect(reopened.warnings == [])
            #expect(try reopened.load().entries == entries)
            try reopened.append(makeEntries(2501...2501, term: 2, size: 1024))
            try reopened.sync()
            #expect(try reopened.load().entries.last == makeEntries(2501...2501, term: 2, size: 1024)[0])
        }
    }

    /// A log that a small `maxraftstate` keeps short is rewritten into a fresh segment at each
    /// snapshot; its spares stay at the minimum instead of growing.
    @Test func aShortLogKeepsSmallSpares() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory, options: Self.options)
            for round in LogIndex(0)..<20 {
                try storage.append(makeEntries(round * 50 + 1...round * 50 + 50, term: 1, size: 100))
                try storage.compact(to: makeSnapshot(index: round * 50 + 45, term: 1))
            }
            for path in try fileNames(in: directory).filter({ $0.hasSuffix(".spare") || $0.hasSuffix(".seg") }) {
                #expect(try fileSize(directory + "/" + path) <= 64 << 10, "\(path)")
            }
            #expect(try storage.load().entries == makeEntries(996...1000, term: 1, size: 100))
        }
    }

    /// A write torn in preallocated space leaves a record cut short followed by zeros, not a
    /// short file: recovery drops it with a warning, at every offset the cut can fall.
    @Test func aWriteTornInPreallocatedSpaceIsDropped() throws {
        try withTemporaryDirectory { base in
            let source = base + "/source"
            var options = Self.options
            options.maxSegmentSize = 4096
            let storage = try DiskStorage(directory: source, options: options)
            var boundaries: [Int] = []
            for index in LogIndex(1)...6 {
                try storage.append(makeEntries(index...index, term: 1, size: 40))
                try storage.sync()
                boundaries.append(storage.persistedRaftStateSize)
            }
            storage.close()
            let segment = try segmentPaths(in: source)[0]
            let name = URL(fileURLWithPath: segment).lastPathComponent
            let original = try Data(contentsOf: URL(fileURLWithPath: segment))
            #expect(original.count == 4096)

            // Zeros from `cut` on: the last record (entry 6) written only up to there.
            for cut in boundaries[4]...boundaries[5] {
                let target = base + "/cut"
                try copyDataFiles(from: source, to: target)
                var bytes = original
                bytes.replaceSubrange(cut..<boundaries[5], with: Data(count: boundaries[5] - cut))
                try bytes.write(to: URL(fileURLWithPath: target + "/" + name))
                let recovered = try DiskStorage(directory: target, options: options)
                let kept: LogIndex = cut == boundaries[5] ? 6 : 5
                #expect(try recovered.load().entries == makeEntries(1...kept, term: 1, size: 40), "cut at \(cut)")
                // A cut right at a record boundary leaves nothing but zeros: no damage to report.
                let torn = cut != boundaries[4] && cut != boundaries[5]
                #expect(recovered.warnings.map(\.offset) == (torn ? [Int64(boundaries[4])] : []), "cut at \(cut)")
                try recovered.append(makeEntries(kept + 1...kept + 1, term: 2, size: 40))
                try recovered.sync()
                recovered.close()
                let reopened = try DiskStorage(directory: target, options: options)
                #expect(reopened.warnings == [], "cut at \(cut)")
                #expect(
                    try reopened.load().entries
                        == makeEntries(1...kept, term: 1, size: 40)
                        + makeEntries(kept + 1...kept + 1, term: 2, size: 40),
                    "cut at \(cut)"
                )
                reopened.close()
                try FileManager.default.removeItem(atPath: target)
            }
        }
    }

    /// Zeros in the middle of the log are damage even when only zeros follow in that file, once
    /// a later segment exists: sealing a segment cuts its zeros off first.
    @Test func zerosAtTheEndOfAnEarlierSegmentAreDamage() throws {
        try withTemporaryDirectory { directory in
            var options = Self.options
            options.maxSegmentSize = 4096
            let storage = try DiskStorage(directory: directory, options: options)
            for index in LogIndex(1)...60 {
                try storage.append(makeEntries(index...index, term: 1, size: 64))
                try storage.sync()
            }
            storage.close()
            let segments = try segmentPaths(in: directory)
            #expect(segments.count >= 2)
            let size = try fileSize(segments[0])
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: segments[0]))
            try handle.seek(toOffset: UInt64(size - 97))
            try handle.write(contentsOf: Data(count: 97))
            try handle.close()
            let error = #expect(throws: StorageError.self) {
                _ = try DiskStorage(directory: directory, options: options)
            }
            #expect(error?.code == .corruption)
            #expect(error?.path == segments[0])
            #expect(error?.offset == Int64(size - 97))
        }
    }
}
