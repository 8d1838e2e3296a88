import Glibc
import RaftCore

extension Store {
    /// What to do about damage that recovery must not repair on its own.
    static let damageAdvice =
        "This is inside data the node acknowledged, so it is not repaired automatically. Stop the node and "
        + "restore the directory from a backup, or remove the directory so that the node rejoins empty and "
        + "receives a snapshot from the leader (only while the rest of the group has a quorum)"

    /// Opens `directory`, takes its lock and recovers the latest snapshot and the log after it.
    static func open(
        directory: String,
        options: DiskStorage.Options
    ) throws(StorageError) -> (Store, [RecoveryWarning]) {
        if options.createDirectory {
            try FileIO.makeDirectory(directory)
        }
        let directoryFD = try FileIO.open(directory, O_RDONLY | O_DIRECTORY)
        let lock: DirectoryLock
        do throws(StorageError) {
            lock = try DirectoryLock.acquire(directory: directory)
        } catch {
            FileIO.close(directoryFD)
            throw error
        }
        var store = Store(
            directory: directory,
            options: options,
            directoryFD: directoryFD,
            lock: lock,
            segments: [],
            log: LogWindow(),
            hardState: HardState()
        )
        do throws(StorageError) {
            let warnings = try store.recover()
            return (store, warnings)
        } catch {
            store.close()
            throw error
        }
    }

    private mutating func recover() throws(StorageError) -> [RecoveryWarning] {
        var warnings: [RecoveryWarning] = []
        let names = try FileIO.listDirectory(directory)
        // A rename seen now is not necessarily durable (the crash may have been the process's alone);
        // make it so before deleting anything it replaced.
        try syncDirectory()
        for name in names where name.hasSuffix(Format.temporarySuffix) {
            try FileIO.remove(path(name))
            warnings.append(
                RecoveryWarning(message: "removed a temporary file left by an interrupted write", path: path(name))
            )
        }

        let snapshotSequences = names.compactMap { Format.sequence(inName: $0, prefix: "snap-", suffix: ".snap") }
        if let latest = snapshotSequences.max() {
            let snapshotPath = path(Format.snapshotName(latest))
            let decoded = try Self.readSnapshot(snapshotPath)
            // Where the data starts depends on the file's format version (1 or 2).
            let dataOffset =
                (decoded.data.source as? SnapshotFileData)?.offset
                ?? Int64(Format.snapshotHeaderSize(decoded.metadata))
            snapshot = SnapshotFile(
                seq: latest,
                path: snapshotPath,
                metadata: decoded.metadata,
                size: dataOffset + Int64(decoded.data.count) + 4,
                dataOffset: dataOffset
            )
            for seq in snapshotSequences where seq != latest {
                try FileIO.remove(path(Format.snapshotName(seq)))
            }
        }

        let segmentSequences = names.compactMap { Format.sequence(inName: $0, prefix: "log-", suffix: ".seg") }.sorted()
        var lastResetSegment = 0
        for (position, seq) in segmentSequences.enumerated() {
            let segmentPath = path(Format.segmentName(seq))
            let fd = try FileIO.open(segmentPath, O_RDWR)
            segments.append(Segment(seq: seq, fd: fd, path: segmentPath, size: 0))
            let bytes = try FileIO.read(fd, count: Int(FileIO.size(fd, path: segmentPath)), at: 0, path: segmentPath)
            let isLast = position == segmentSequences.count - 1
            let (validSize, sawReset) = try replay(
                bytes,
                seq: seq,
                path: segmentPath,
                isLast: isLast,
                warnings: &warnings
            )
            if sawReset {
                lastResetSegment = position
            }
            segments[position].size = Int64(validSize)
            if validSize < bytes.count {
                try FileIO.truncate(fd, to: Int64(validSize), path: segmentPath)
                if options.fsync.syncs {
                    try FileIO.dataSync(fd, path: segmentPath)
                }
            }
        }
        if segments.isEmpty {
            // Saving a snapshot writes the new segment before it removes the old ones, so a snapshot
            // without any segment means the hard state (term and vote) is gone.
            if let snapshot {
                throw StorageError(
                    .corruption,
                    "there is a snapshot but no log segment, so the term and vote are lost. \(Self.damageAdvice)",
                    path: snapshot.path
                )
            }
            segments.append(try createSegment(seq: 1, records: []))
        }

        if let snapshot {
            let metadata = snapshot.metadata
            guard log.baseIndex <= metadata.index else {
                throw StorageError(
                    .corruption,
                    "the log starts after index \(log.baseIndex) but the snapshot \(snapshot.path) ends at "
                        + "\(metadata.index): the entries in between are missing. \(Self.damageAdvice)",
                    path: segments[0].path,
                    offset: Int64(Format.segmentHeaderSize)
                )
            }
            // A snapshot whose log rewrite did not finish (or finished without removing the old
            // segments): finish it now, so that the files again say what this recovery concluded.
            if log.baseIndex != metadata.index || log.baseTerm != metadata.term || lastResetSegment != 0 {
                log.rebase(index: metadata.index, term: metadata.term)
                try rewriteLog(removing: [])
                warnings.append(
                    RecoveryWarning(
                        message: "finished saving the snapshot at index \(metadata.index), which a crash interrupted",
                        path: snapshot.path
                    )
                )
            }
        } else if log.baseIndex != 0 {
            throw StorageError(
                .corruption,
                "the log starts after index \(log.baseIndex) but there is no snapshot file covering the entries "
                    + "before it. \(Self.damageAdvice)",
                path: segments[0].path,
                offset: Int64(Format.segmentHeaderSize)
            )
        }
        return warnings
    }

    /// Applies the records of one segment; returns how many bytes of it are valid and whether it holds
    /// a reset record.
    private mutating func replay(
        _ bytes: [UInt8],
        seq: UInt64,
        path: String,
        isLast: Bool,
        warnings: inout [RecoveryWarning]
    ) throws(StorageError) -> (validSize: Int, sawReset: Bool) {
        if let problem = Format.segmentHeaderProblem(bytes, expectedSeq: seq) {
            throw StorageError(.corruption, "\(problem). \(Self.damageAdvice)", path: path, offset: 0)
        }
        var offset = Format.segmentHeaderSize
        var sawReset = false
        while offset < bytes.count {
            let problem: String
            switch Format.scanRecord(bytes, at: offset) {
            case .record(let record, let size):
                switch record {
                case .entry(let entry):
                    guard log.canAppend(at: entry.index) else {
                        throw StorageError(
                            .corruption,
                            "entry \(entry.index) does not continue the log, which accepts "
                                + "\(log.baseIndex + 1)...\(log.lastIndex + 1). \(Self.damageAdvice)",
                            path: path,
                            offset: Int64(offset)
                        )
                    }
                    let location = RecordLocation(term: entry.term, segment: seq, offset: Int64(offset), size: size)
                    log.put(location, at: entry.index)
                case .hardState(let state):
                    hardState = state
                case .reset(let index, let term):
                    log = LogWindow()
                    log.rebase(index: index, term: term)
                    sawReset = true
                }
                offset += size
                continue
            case .truncated:
                guard isLast else {
                    throw StorageError(
                        .corruption,
                        "the segment ends inside a record, but it is not the last segment. \(Self.damageAdvice)",
                        path: path,
                        offset: Int64(offset)
                    )
                }
                problem = "a record that is cut short"
            case .damaged(let why, let end):
                guard isLast, end == bytes.count || bytes[offset...].allSatisfy({ $0 == 0 }) else {
                    throw StorageError(.corruption, "\(why). \(Self.damageAdvice)", path: path, offset: Int64(offset))
                }
                problem = why
            }
            // Only the last write can be torn, it was not synced, so nobody was told it was durable.
            warnings.append(
                RecoveryWarning(
                    message: "\(problem) at the end of the log: a write interrupted by a crash, never acknowledged; "
                        + "removed the last \(bytes.count - offset) bytes",
                    path: path,
                    offset: Int64(offset)
                )
            )
            return (offset, sawReset)
        }
        return (offset, sawReset)
    }
}
