import Glibc
import RaftCore

/// The data of a snapshot file, read from the file when needed (``SnapshotDataSource``): the
/// storage hands it out instead of the bytes, so a large snapshot is not held in memory. The
/// file is immutable and synced; the open descriptor keeps it readable after it is renamed or
/// replaced, until the last reference goes.
final class SnapshotFileData: SnapshotDataSource {
    let fd: Int32
    /// The file's name when it was opened, for errors.
    let path: String
    /// Where the data starts in the file.
    let offset: Int64
    let count: Int
    /// The snapshot the file holds.
    let metadata: SnapshotMetadata

    init(fd: Int32, path: String, offset: Int64, count: Int, metadata: SnapshotMetadata) {
        self.fd = fd
        self.path = path
        self.offset = offset
        self.count = count
        self.metadata = metadata
    }

    deinit {
        FileIO.close(fd)
    }

    func read(_ range: Range<Int>) throws -> [UInt8] {
        try FileIO.read(fd, count: range.count, at: offset + Int64(range.lowerBound), path: path)
    }
}

extension SnapshotFile {
    /// A snapshot file opened for reading whole and unlinked at once: nothing is left behind
    /// however its reader ends, a crash included, and the open descriptor keeps the bytes
    /// readable until the last reference goes. What a node sends as a backup.
    public final class Detached: Sendable {
        /// The file's size in bytes.
        public let count: Int
        private let fd: Int32
        private let path: String

        public init(opening path: String) throws(StorageError) {
            let fd = try FileIO.open(path, O_RDONLY)
            do throws(StorageError) {
                count = Int(try FileIO.size(fd, path: path))
                try FileIO.remove(path)
            } catch {
                FileIO.close(fd)
                throw error
            }
            self.fd = fd
            self.path = path
        }

        deinit {
            FileIO.close(fd)
        }

        /// The bytes of `range`, which lies within the file.
        public func read(_ range: Range<Int>) throws(StorageError) -> [UInt8] {
            try FileIO.read(fd, count: range.count, at: Int64(range.lowerBound), path: path)
        }
    }
}

/// Keeps the unsynced bytes of a snapshot file bounded while it is written: every `interval`
/// bytes it syncs what was written. Without it the page cache fills with the whole snapshot's
/// dirty pages, which the final sync (or the kernel's writeback) pushes to the device in one go:
/// every other sync on the device, the log's included, then waits for seconds, which at 1 GB
/// stalled the group long enough for a leader change. Paced, the final sync is short and each
/// log sync waits behind at most one interval.
struct WritebackPacer {
    static let interval = 8 << 20

    private let fd: Int32
    private let path: String
    private let syncs: Bool
    private var unsynced = 0

    init(fd: Int32, path: String, options: DiskStorage.Options) {
        self.fd = fd
        self.path = path
        self.syncs = options.fsync.syncs
    }

    mutating func wrote(_ count: Int) throws(StorageError) {
        unsynced += count
        guard syncs, unsynced >= Self.interval else { return }
        unsynced = 0
        try FileIO.dataSync(fd, path: path)
    }
}

extension Store {
    /// The pieces a snapshot file is read and written in.
    static let snapshotPieceSize = 1 << 20

    /// Writes a snapshot file for `metadata` to `path` whose data `write` streams to its sink,
    /// and syncs it (the first two checkpoints). The data's length is known only at its end,
    /// so the header is written last and the checksum combined from the header's and the data's.
    /// Returns the data, read from the file from now on.
    static func writeSnapshotFile(
        _ metadata: SnapshotMetadata,
        to path: String,
        options: DiskStorage.Options,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> SnapshotFileData {
        let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_TRUNC)
        do {
            let dataStart = Int64(Format.snapshotHeaderSize(metadata))
            var count = 0
            var dataChecksum: UInt32 = 0
            var pacer = WritebackPacer(fd: fd, path: path, options: options)
            try write { (piece: [UInt8]) in
                try FileIO.write(fd, piece, at: dataStart + Int64(count), path: path)
                dataChecksum = CRC32C.update(dataChecksum, piece)
                count += piece.count
                try pacer.wrote(piece.count)
            }
            var header = Format.snapshotHeader(metadata, dataCount: count)
            let checksum = CRC32C.combine(CRC32C.checksum(header), dataChecksum, secondLength: count)
            header.appendLittleEndian(checksum)
            try FileIO.write(fd, Array(header[..<Int(dataStart)]), at: 0, path: path)
            try FileIO.write(fd, Array(header[Int(dataStart)...]), at: dataStart + Int64(count), path: path)
            try options.checkpointHook?(.snapshotWritten)
            if options.fsync.syncs {
                try FileIO.dataSync(fd, path: path)
            }
            try options.checkpointHook?(.snapshotSynced)
            return SnapshotFileData(fd: fd, path: path, offset: dataStart, count: count, metadata: metadata)
        } catch {
            FileIO.close(fd)
            throw error
        }
    }

    /// What a damaged snapshot file of a data directory means to the operator.
    static let snapshotDamageAdvice =
        "The snapshot is the only copy of the state before the log; restore the data directory from a backup, "
        + "or remove it so the node receives a snapshot from the leader"

    /// Opens and checks the snapshot file at `path` in pieces, never whole: its checksum, then
    /// its header. Damage is a `corruption` error that names the file and the offset, followed
    /// by `advice` when given.
    static func readSnapshot(_ path: String, advice: String? = snapshotDamageAdvice) throws(StorageError) -> Snapshot {
        let fd = try FileIO.open(path, O_RDONLY)
        var data: SnapshotFileData?
        defer { if data == nil { FileIO.close(fd) } }
        let size = Int(try FileIO.size(fd, path: path))
        let problem: Format.SnapshotProblem
        checked: do {
            guard size >= 40 else {
                problem = Format.SnapshotProblem(message: "snapshot file is too short (\(size) bytes)", offset: 0)
                break checked
            }
            let crcOffset = size - 4
            var checksum: UInt32 = 0
            var position = 0
            while position < crcOffset {
                let count = min(snapshotPieceSize, crcOffset - position)
                checksum = CRC32C.update(checksum, try FileIO.read(fd, count: count, at: Int64(position), path: path))
                position += count
            }
            let stored = try FileIO.read(fd, count: 4, at: Int64(crcOffset), path: path)
            guard checksum == stored.littleEndian(UInt32.self, at: 0) else {
                problem = Format.SnapshotProblem(message: "snapshot checksum mismatch", offset: Int64(crcOffset))
                break checked
            }
            let first = try FileIO.read(fd, count: 28, at: 0, path: path)
            let limit = Format.snapshotHeaderLimit(first, crcOffset: crcOffset)
            let prefix = try FileIO.read(fd, count: limit, at: 0, path: path)
            switch Format.decodeSnapshotHeader(prefix, crcOffset: crcOffset) {
            case .failure(let failure):
                problem = failure
            case .success(let (metadata, dataStart)):
                let file = SnapshotFileData(
                    fd: fd,
                    path: path,
                    offset: Int64(dataStart),
                    count: crcOffset - dataStart,
                    metadata: metadata
                )
                data = file
                return Snapshot(metadata: metadata, data: SnapshotData(source: file))
            }
        }
        throw StorageError(
            .corruption,
            advice.map { "\(problem.message). \($0)" } ?? problem.message,
            path: path,
            offset: problem.offset
        )
    }

    /// Writes `snapshot`'s file to `path` and syncs it (the first two checkpoints); returns its
    /// size. Bytes in memory are written from their own array; a source is copied in pieces.
    static func writeSnapshotFile(
        _ snapshot: Snapshot,
        to path: String,
        options: DiskStorage.Options
    ) throws(StorageError) -> Int {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { FileIO.close(fd) }
        let data = snapshot.data
        var header = Format.snapshotHeader(snapshot.metadata, dataCount: data.count)
        var checksum = CRC32C.checksum(header)
        try FileIO.write(fd, header, at: 0, path: path)
        var pacer = WritebackPacer(fd: fd, path: path, options: options)
        var position = 0
        while position < data.count {
            let piece: [UInt8]
            if let bytes = data.bytes {
                piece = bytes
            } else {
                do {
                    piece = try data.read(position..<min(position + snapshotPieceSize, data.count))
                } catch {
                    throw error as? StorageError
                        ?? StorageError(.io, "reading the snapshot data failed: \(error)", path: path)
                }
            }
            try FileIO.write(fd, piece, at: Int64(header.count + position), path: path)
            checksum = CRC32C.update(checksum, piece)
            position += piece.count
            try pacer.wrote(piece.count)
        }
        let trailerOffset = Int64(header.count + data.count)
        header.removeAll(keepingCapacity: true)
        header.appendLittleEndian(checksum)
        try FileIO.write(fd, header, at: trailerOffset, path: path)
        try options.checkpointHook?(.snapshotWritten)
        if options.fsync.syncs {
            try FileIO.dataSync(fd, path: path)
        }
        try options.checkpointHook?(.snapshotSynced)
        return Int(trailerOffset) + 4
    }
}

/// The snapshot file a follower writes as the chunks of its leader's snapshot arrive: header
/// first (the first chunk gives the metadata and the size), data at each chunk's offset, the
/// checksum kept as it goes.
struct IncomingSnapshot: Sendable {
    static let name = "incoming-snapshot" + Format.temporarySuffix

    var fd: Int32
    var path: String
    var metadata: SnapshotMetadata
    var totalSize: UInt64
    var dataStart: Int64
    var received: UInt64 = 0
    var checksum: UInt32
    var pacer: WritebackPacer
}

extension Store {
    mutating func receiveSnapshotChunk(_ chunk: SnapshotChunk) throws(StorageError) {
        if chunk.offset == 0 {
            if let previous = incoming {
                FileIO.close(previous.fd)
                incoming = nil
            }
            let path = path(IncomingSnapshot.name)
            let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_TRUNC)
            let header = Format.snapshotHeader(chunk.metadata, dataCount: Int(chunk.totalSize))
            incoming = IncomingSnapshot(
                fd: fd,
                path: path,
                metadata: chunk.metadata,
                totalSize: chunk.totalSize,
                dataStart: Int64(header.count),
                checksum: CRC32C.checksum(header),
                pacer: WritebackPacer(fd: fd, path: path, options: options)
            )
            try FileIO.write(fd, header, at: 0, path: path)
        }
        guard var file = incoming, file.metadata == chunk.metadata, file.totalSize == chunk.totalSize,
            file.received == chunk.offset, file.received + UInt64(chunk.data.count) <= file.totalSize
        else {
            throw StorageError(
                .invalidArgument,
                "snapshot chunk at offset \(chunk.offset) does not continue the one received",
                path: path(IncomingSnapshot.name)
            )
        }
        try FileIO.write(file.fd, chunk.data, at: file.dataStart + Int64(file.received), path: file.path)
        file.checksum = CRC32C.update(file.checksum, chunk.data)
        file.received += UInt64(chunk.data.count)
        try file.pacer.wrote(chunk.data.count)
        incoming = file
        statistics.bytesWritten += chunk.data.count
    }

    /// Completes the received snapshot's file (checksum, sync: the first two checkpoints) and
    /// returns its path, for ``saveSnapshot(_:compacting:writtenTo:)``.
    mutating func finishIncomingSnapshot(_ snapshot: Snapshot) throws(StorageError) -> String {
        guard let file = incoming, file.metadata == snapshot.metadata, file.received == file.totalSize,
            file.totalSize == UInt64(snapshot.data.count)
        else {
            throw StorageError(
                .invalidArgument,
                "the chunks of snapshot \(snapshot.metadata.index) were not received",
                path: path(IncomingSnapshot.name)
            )
        }
        incoming = nil
        defer { FileIO.close(file.fd) }
        var trailer: [UInt8] = []
        trailer.appendLittleEndian(file.checksum)
        try FileIO.write(file.fd, trailer, at: file.dataStart + Int64(file.totalSize), path: file.path)
        statistics.bytesWritten += Int(file.dataStart) + 4
        try options.checkpointHook?(.snapshotWritten)
        if options.fsync.syncs {
            try FileIO.dataSync(file.fd, path: file.path)
        }
        try options.checkpointHook?(.snapshotSynced)
        return file.path
    }
}
