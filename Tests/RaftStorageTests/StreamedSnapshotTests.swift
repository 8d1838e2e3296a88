import Foundation
import RaftCore
import SimulationThread
import Testing

@testable import RaftStorage

/// Snapshots written by streaming their data into the file (``DiskStorage/writeSnapshot(_:data:)``)
/// and read back from the file in pieces, never as one array.
@Suite("Streamed snapshot files", .onSimulationThread)
struct StreamedSnapshotTests {
    @Test("combining two CRCs gives the CRC of the concatenation")
    func crcCombine() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for split in [0, 1, 7, 8, 9, 64, 299, 300] {
            let combined = CRC32C.combine(
                CRC32C.checksum(bytes[..<split]),
                CRC32C.checksum(bytes[split...]),
                secondLength: bytes.count - split
            )
            #expect(combined == CRC32C.checksum(bytes))
        }
    }

    @Test("a streamed snapshot is compacted by renaming its file, and reloads from the file, not an array")
    func streamedCompactionAndReload() throws {
        try withTemporaryDirectory { directory in
            let data = (0..<(3 * Store.snapshotPieceSize / 2)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let metadata = SnapshotMetadata(index: 20, term: 2, voters: [NodeID(1), NodeID(2), NodeID(3)])
            do {
                let storage = try DiskStorage(directory: directory)
                try storage.append(makeEntries(1...25, term: 2))
                try storage.sync()
                let streamed = try storage.writeSnapshot(metadata) { sink in
                    for start in stride(from: 0, to: data.count, by: 70_000) {
                        try sink(Array(data[start..<min(start + 70_000, data.count)]))
                    }
                }
                #expect(streamed.bytes == nil && streamed.count == data.count)
                #expect(try streamed.read(100_000..<100_010) == Array(data[100_000..<100_010]))
                let before = storage.statistics.bytesWritten
                try storage.compact(to: Snapshot(metadata: metadata, data: streamed))
                #expect(storage.statistics.bytesWritten - before < data.count + 1_000 + 25 * 100)
                #expect(try fileNames(in: directory).allSatisfy { !$0.hasSuffix(".tmp") })
                // Still readable through the open file after the rename.
                #expect(try streamed.readAll() == data)
            }
            let reopened = try DiskStorage(directory: directory)
            let loaded = try #require(try reopened.load().snapshot)
            #expect(loaded.metadata == metadata)
            #expect(loaded.data.bytes == nil, "read from the file on demand")
            #expect(try loaded.data.readAll() == data)
            // The same bytes as a snapshot file written from an array.
            let written = try SnapshotFile.encode(Snapshot(metadata: metadata, data: data))
            let path = try #require(try snapshotPaths(in: directory).first)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(written))
        }
    }

    /// Backups (`raftctl snapshot save`, `rafthost restore`): a standalone file written from a
    /// stream and opened in pieces, with the same bytes as one encoded from an array.
    @Test("a backup file is written from a stream and opened in pieces; a truncated or damaged one names the offset")
    func backupFileStreams() throws {
        try withTemporaryDirectory { directory in
            let data = (0..<(5 * Store.snapshotPieceSize / 2)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let metadata = SnapshotMetadata(index: 40, term: 3, voters: [NodeID(1), NodeID(2), NodeID(3)])
            let path = directory + "/backup.snap"
            let size = try SnapshotFile.write(metadata, to: path) { sink in
                for start in stride(from: 0, to: data.count, by: 300_000) {
                    try sink(Array(data[start..<min(start + 300_000, data.count)]))
                }
            }
            let encoded = try SnapshotFile.encode(Snapshot(metadata: metadata, data: data))
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(bytes == encoded && size == encoded.count)

            let opened = try SnapshotFile.open(path)
            #expect(opened.metadata == metadata)
            #expect(opened.data.bytes == nil, "read from the file on demand")
            #expect(try opened.data.readAll() == data)
            #expect(SnapshotFile.size(of: opened) == size)

            let truncated = directory + "/truncated.snap"
            try Data(bytes.dropLast(10)).write(to: URL(fileURLWithPath: truncated))
            #expect(throws: StorageError.self) { try SnapshotFile.open(truncated) }
            var flipped = bytes
            flipped[bytes.count / 2] ^= 0xFF
            let damaged = directory + "/damaged.snap"
            try Data(flipped).write(to: URL(fileURLWithPath: damaged))
            let error = try #require(throws: StorageError.self) { try SnapshotFile.open(damaged) }
            #expect(error.code == .corruption && error.path == damaged && error.offset == Int64(bytes.count - 4))
            #expect(throws: StorageError.self) { try SnapshotFile.open(directory + "/missing.snap") }
        }
    }

    @Test(
        "received chunks are written to a file that installing syncs and renames; a gap is refused",
        arguments: [true, false]
    )
    func receivedChunksInstall(onDisk: Bool) throws {
        try withTemporaryDirectory { directory in
            let storage: any PersistentStorage = onDisk ? try DiskStorage(directory: directory) : MemoryStorage()
            try storage.append(makeEntries(1...3, term: 1))
            let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let metadata = SnapshotMetadata(index: 30, term: 2, voters: [NodeID(1), NodeID(2), NodeID(3)])
            func chunk(_ range: Range<Int>, _ metadata: SnapshotMetadata = metadata) -> SnapshotChunk {
                SnapshotChunk(
                    metadata: metadata,
                    offset: UInt64(range.lowerBound),
                    totalSize: UInt64(data.count),
                    data: Array(data[range])
                )
            }
            // A first transfer abandoned halfway, then one that continues at the wrong offset.
            let older = SnapshotMetadata(index: 20, term: 2, voters: [NodeID(1)])
            try storage.receiveSnapshotChunk(chunk(0..<4_000, older))
            try storage.receiveSnapshotChunk(chunk(0..<4_000))
            let gap = try #require(throws: StorageError.self) { try storage.receiveSnapshotChunk(chunk(5_000..<6_000)) }
            #expect(gap.code == .invalidArgument)
            try storage.receiveSnapshotChunk(chunk(4_000..<8_000))
            try storage.receiveSnapshotChunk(chunk(8_000..<10_000))
            try storage.installSnapshot(Snapshot(metadata: metadata, data: .stored(count: data.count)))

            let stored = try #require(try storage.storedSnapshotData(for: metadata))
            #expect(try stored.readAll() == data)
            #expect(try storage.load().snapshot == Snapshot(metadata: metadata, data: data))
            #expect(try storage.load().entries.isEmpty, "the log did not hold the snapshot's entry")
            if onDisk {
                #expect(stored.bytes == nil)
                #expect(try fileNames(in: directory).allSatisfy { !$0.hasSuffix(".tmp") })
                (storage as? DiskStorage)?.close()
                let reopened = try DiskStorage(directory: directory)
                #expect(try reopened.load().snapshot == Snapshot(metadata: metadata, data: data))
            }
        }
    }

    @Test("a snapshot file of format version 1 (a voter list, a shorter header) is read from the right offset")
    func version1SnapshotFile() throws {
        try withTemporaryDirectory { directory in
            let data = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
            let metadata = SnapshotMetadata(index: 5, term: 1, voters: [NodeID(1), NodeID(2)])
            do {
                let storage = try DiskStorage(directory: directory)
                try storage.append(makeEntries(1...8, term: 1))
                try storage.compact(to: Snapshot(metadata: metadata, data: data))
            }
            var file: [UInt8] = Array("RSNP".utf8)
            func append<T: FixedWidthInteger>(_ value: T) {
                withUnsafeBytes(of: value.littleEndian) { file.append(contentsOf: $0) }
            }
            append(UInt16(1))
            append(UInt16(0))
            append(UInt64(5))
            append(UInt64(1))
            append(UInt32(2))
            append(UInt64(1))
            append(UInt64(2))
            append(UInt64(data.count))
            file += data
            append(CRC32C.checksum(file))
            let path = try #require(try snapshotPaths(in: directory).first)
            try Data(file).write(to: URL(fileURLWithPath: path))

            let reopened = try DiskStorage(directory: directory)
            #expect(reopened.snapshotSize == file.count)
            let loaded = try #require(try reopened.load().snapshot)
            #expect(loaded.metadata == metadata)
            #expect(try loaded.data.readAll() == data)
            #expect(try reopened.storedSnapshotData(for: metadata)?.readAll() == data)
        }
    }

    @Test("a streamed snapshot discarded instead of compacted leaves no file")
    func discardedStreamedSnapshot() throws {
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory)
            try storage.append(makeEntries(1...5, term: 1))
            let metadata = SnapshotMetadata(index: 5, term: 1, voters: [NodeID(1)])
            let data = try storage.writeSnapshot(metadata) { sink in try sink([1, 2, 3]) }
            #expect(try fileNames(in: directory).contains { $0.hasSuffix(".tmp") })
            storage.discardSnapshot(data)
            #expect(try fileNames(in: directory).allSatisfy { !$0.hasSuffix(".tmp") })
        }
    }

    @Test("a streamed write that fails leaves no temporary file and stores nothing")
    func failedStreamedWrite() throws {
        struct PluginFailed: Error {}
        try withTemporaryDirectory { directory in
            let storage = try DiskStorage(directory: directory)
            try storage.append(makeEntries(1...5, term: 1))
            let metadata = SnapshotMetadata(index: 5, term: 1, voters: [NodeID(1)])
            #expect(throws: PluginFailed.self) {
                try storage.writeSnapshot(metadata) { sink in
                    try sink([1, 2, 3])
                    throw PluginFailed()
                }
            }
            #expect(try fileNames(in: directory).allSatisfy { !$0.hasSuffix(".tmp") })
            #expect(try storage.load().snapshot == nil)
        }
    }
}
