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
        for name in names where name.hasSuffix(Format.spareSuffix) {
            try FileIO.remove(path(name))
        }
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
        // Pass 1 checks every record and finds the last anchor (reset or compaction record) and
        // hard state; pass 2 replays the entries from where the anchor says the log starts.
        var anchor: Anchor?
        var lastHardState: HardState?
        /// Earlier segments whose records end in zeros: preallocated ones that a rewrite
        /// replaced (obsolete, removed below) or, if replayed, damage.
        var zeroTails: [UInt64: Int] = [:]
        for (position, seq) in segmentSequences.enumerated() {
            let segmentPath = path(Format.segmentName(seq))
            let fd = try FileIO.open(segmentPath, O_RDWR)
            segments.append(Segment(seq: seq, fd: fd, path: segmentPath, size: 0))
            let bytes = try FileIO.read(fd, count: Int(FileIO.size(fd, path: segmentPath)), at: 0, path: segmentPath)
            let (validSize, zeroFilled) = try scan(
                bytes,
                seq: seq,
                path: segmentPath,
                isLast: position == segmentSequences.count - 1,
                anchor: &anchor,
                hardState: &lastHardState,
                warnings: &warnings
            )
            segments[position].size = Int64(validSize)
            if zeroFilled && position < segmentSequences.count - 1 {
                zeroTails[seq] = validSize
            } else if zeroFilled {
                // A preallocated segment: the zeros after the records are where the next go.
                segments[position].allocated = Int64(bytes.count)
            } else if validSize < bytes.count {
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
            // A new log starts in a preallocated segment (a small one: it may be short-lived).
            if let request = spareRequest() {
                offer(try? SpareSegment.create(request))
            }
            segments.append(try createSegment(seq: 1, records: []))
        }
        hardState = lastHardState ?? HardState()
        try replay(from: anchor, zeroTails: zeroTails, warnings: &warnings)

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
            // A snapshot saved up to its rename, not up to its log record: finish it now, so that
            // the files again say what this recovery concluded.
            if log.baseIndex != metadata.index || log.baseTerm != metadata.term {
                log.rebase(index: metadata.index, term: metadata.term)
                try finishCompaction(removing: [])
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

    /// The last reset or compaction record: where the log's base is set and where its entries start.
    struct Anchor {
        var index: LogIndex
        var term: Term
        /// Where replaying starts: after a reset record, or where a compaction record points.
        var start: LogPosition
        /// The record itself.
        var position: LogPosition
        var isCompaction: Bool
    }

    /// Pass 2: rebuilds the log window from the anchor's start (the first segment's first record
    /// without one), then removes the segments before it, which only a crash between recording a
    /// compaction and deleting them leaves behind.
    private mutating func replay(
        from anchor: Anchor?,
        zeroTails: [UInt64: Int],
        warnings: inout [RecoveryWarning]
    ) throws(StorageError) {
        log = LogWindow()
        let start = anchor?.start ?? LogPosition(segment: segments[0].seq, offset: Int64(Format.segmentHeaderSize))
        if let anchor {
            log.rebase(index: anchor.index, term: anchor.term)
        }
        guard let first = segments.firstIndex(where: { $0.seq == start.segment }),
            start.offset >= Int64(Format.segmentHeaderSize), start.offset <= segments[first].size
        else {
            let holder = segments.first { $0.seq == anchor?.position.segment } ?? segments[0]
            throw StorageError(
                .corruption,
                "the compaction record says the log continues in segment \(start.segment) at byte "
                    + "\(start.offset), which is missing. \(Self.damageAdvice)",
                path: holder.path,
                offset: anchor?.position.offset
            )
        }
        for position in first..<segments.count {
            let segment = segments[position]
            if position > first && segment.seq != segments[position - 1].seq + 1 {
                throw StorageError(
                    .corruption,
                    "segment \(segments[position - 1].seq + 1) is missing before this one. \(Self.damageAdvice)",
                    path: segment.path,
                    offset: 0
                )
            }
            if let end = zeroTails[segment.seq] {
                // Sealing a segment cuts its zeros off before the next one is created.
                throw StorageError(
                    .corruption,
                    "the segment's records end in zeros, but it is not the last segment. \(Self.damageAdvice)",
                    path: segment.path,
                    offset: Int64(end)
                )
            }
            let from = position == first ? start.offset : Int64(Format.segmentHeaderSize)
            let bytes = try FileIO.read(segment.fd, count: Int(segment.size - from), at: from, path: segment.path)
            var position = 0
            while position < bytes.count {
                let offset = Int(from) + position
                guard case .record(let record, let size) = Format.scanRecord(bytes, at: position) else {
                    // Pass 1 checked these bytes; a difference means they changed since.
                    throw StorageError(
                        .corruption,
                        "a record changed while the log was being opened. \(Self.damageAdvice)",
                        path: segment.path,
                        offset: Int64(offset)
                    )
                }
                switch record {
                case .entry(let entry):
                    guard log.canAppend(at: entry.index) else {
                        throw StorageError(
                            .corruption,
                            "entry \(entry.index) does not continue the log, which accepts "
                                + "\(log.baseIndex + 1)...\(log.lastIndex + 1). \(Self.damageAdvice)",
                            path: segment.path,
                            offset: Int64(offset)
                        )
                    }
                    log.put(
                        RecordLocation(term: entry.term, segment: segment.seq, offset: Int64(offset), size: size),
                        at: entry.index
                    )
                case .hardState:
                    break
                case .reset(let index, _), .compaction(let index, _, _):
                    // Earlier snapshots' records (and the anchor itself): a later one would be the anchor.
                    guard index <= log.baseIndex else {
                        throw StorageError(
                            .corruption,
                            "a snapshot record at index \(index) follows the one at \(log.baseIndex). "
                                + Self.damageAdvice,
                            path: segment.path,
                            offset: Int64(offset)
                        )
                    }
                }
                position += size
            }
        }
        // What counts as persisted Raft state: whole segments after a rewrite, else from the start.
        liveStart = anchor?.isCompaction == true ? start : LogPosition(segment: start.segment, offset: 0)
        guard first > 0 else {
            return
        }
        // The anchor must be durable before the segments it replaces go.
        let holder = segments[segments.count - 1]
        if options.fsync.syncs {
            try FileIO.dataSync(holder.fd, path: holder.path)
        }
        for segment in segments[..<first] {
            FileIO.close(segment.fd)
            try FileIO.remove(segment.path)
        }
        segments.removeFirst(first)
        try syncDirectory()
        warnings.append(
            RecoveryWarning(
                message: "removed \(first) log segment(s) before the latest snapshot's record, which a crash "
                    + "interrupted the removal of",
                path: segments[0].path
            )
        )
    }

    /// Pass 1 over one segment: checks its header and records, notes the last anchor and hard
    /// state; returns how many bytes of it are valid (less only at a torn end of the last one),
    /// and whether only zeros follow them (the last segment, preallocated).
    private func scan(
        _ bytes: [UInt8],
        seq: UInt64,
        path: String,
        isLast: Bool,
        anchor: inout Anchor?,
        hardState: inout HardState?,
        warnings: inout [RecoveryWarning]
    ) throws(StorageError) -> (validSize: Int, zeroFilled: Bool) {
        if let problem = Format.segmentHeaderProblem(bytes, expectedSeq: seq) {
            throw StorageError(.corruption, "\(problem). \(Self.damageAdvice)", path: path, offset: 0)
        }
        var offset = Format.segmentHeaderSize
        while offset < bytes.count {
            let problem: String
            switch Format.scanRecord(bytes, at: offset) {
            case .record(let record, let size):
                let position = LogPosition(segment: seq, offset: Int64(offset))
                switch record {
                case .entry:
                    break
                case .hardState(let state):
                    hardState = state
                case .reset(let index, let term):
                    anchor = Anchor(
                        index: index,
                        term: term,
                        start: LogPosition(segment: seq, offset: Int64(offset + size)),
                        position: position,
                        isCompaction: false
                    )
                case .compaction(let index, let term, let start):
                    guard start <= position else {
                        throw StorageError(
                            .corruption,
                            "a compaction record points after itself, to segment \(start.segment) byte "
                                + "\(start.offset). \(Self.damageAdvice)",
                            path: path,
                            offset: Int64(offset)
                        )
                    }
                    anchor = Anchor(index: index, term: term, start: start, position: position, isCompaction: true)
                }
                offset += size
                continue
            case .truncated where Self.onlyZeros(bytes, from: offset),
                .damaged where Self.onlyZeros(bytes, from: offset):
                return (offset, true)
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
                // The last write, cut short: it reaches the end of the file, or only zeros (the
                // preallocated space it was being written into) follow it, or its header.
                let torn =
                    end == bytes.count || end.map { Self.onlyZeros(bytes, from: $0) } == true
                    || Self.onlyZeros(bytes, from: offset + Format.recordHeaderSize)
                guard isLast, torn else {
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
            return (offset, false)
        }
        return (offset, false)
    }

    /// Whether every byte from `start` to the end is zero (true past the end). `memcmp` against
    /// a zero page: a preallocated segment is mostly zeros, and a byte loop over 64 MiB is slow.
    static func onlyZeros(_ bytes: [UInt8], from start: Int) -> Bool {
        guard start < bytes.count else { return true }
        return bytes.withUnsafeBytes { buffer in
            zeroPage.withUnsafeBytes { zero in
                var offset = start
                while offset < buffer.count {
                    let count = min(zero.count, buffer.count - offset)
                    guard memcmp(buffer.baseAddress! + offset, zero.baseAddress!, count) == 0 else { return false }
                    offset += count
                }
                return true
            }
        }
    }

    private static let zeroPage = [UInt8](repeating: 0, count: 1 << 16)
}
