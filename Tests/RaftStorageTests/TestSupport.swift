import Foundation
import RaftCore
import RaftStorage
import Testing

/// A fresh directory under /tmp, removed after `body`.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let base = FileManager.default.temporaryDirectory.path + "/raftstorage-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: base) }
    return try body(base)
}

/// Entries `indices` of `term`, with data that differs per index and term.
func makeEntries(_ indices: ClosedRange<LogIndex>, term: Term, size: Int = 8) -> [Entry] {
    indices.map { index in
        Entry(
            term: term,
            index: index,
            data: (0..<size).map { UInt8(truncatingIfNeeded: Int(index) * 31 + Int(term) + $0) }
        )
    }
}

func makeSnapshot(index: LogIndex, term: Term, size: Int = 100) -> Snapshot {
    Snapshot(
        metadata: SnapshotMetadata(index: index, term: term, voters: [NodeID(1), NodeID(2), NodeID(3)]),
        data: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(index)) }
    )
}

func fileNames(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

func segmentPaths(in directory: String) throws -> [String] {
    try fileNames(in: directory).filter { $0.hasSuffix(".seg") }.map { directory + "/" + $0 }
}

func snapshotPaths(in directory: String) throws -> [String] {
    try fileNames(in: directory).filter { $0.hasSuffix(".snap") }.map { directory + "/" + $0 }
}

func fileSize(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.intValue ?? -1
}

/// Inverts one bit of the file at `offset`.
func flipBit(in path: String, at offset: Int) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= 0x10
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Copies the segment and snapshot files of `source` into `target` (a new directory).
func copyDataFiles(from source: String, to target: String) throws {
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    for name in try fileNames(in: source) where name.hasSuffix(".seg") || name.hasSuffix(".snap") {
        try FileManager.default.copyItem(atPath: source + "/" + name, toPath: target + "/" + name)
    }
}

func truncateFile(_ path: String, to size: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.truncate(atOffset: UInt64(size))
}

/// Options for tests that do not measure durability against power loss: the files hold the same bytes
/// either way, and skipping fdatasync keeps the suite fast. Segments grow as written, so that file
/// sizes are record boundaries (`PreallocationTests` covers preallocated ones).
let fastOptions = DiskStorage.Options(fsync: .never, preallocateSegments: false)
