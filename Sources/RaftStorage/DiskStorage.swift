import Dispatch
import Glibc
public import RaftCore
import Synchronization

/// `PersistentStorage` in a directory of its own: log segments, hard state records and one snapshot.
///
/// Layout (see `Format.swift` for the bytes):
/// - `log-<seq>.seg`: log segments of bounded size holding entry, hard state and reset records;
/// - `snap-<seq>.snap`: the latest snapshot;
/// - `LOCK`: locked while the storage is open (a POSIX record lock, and a table of this process's
///   locks), so a second opener, in this process or another, is refused.
///
/// Writes are buffered and reach the file at `sync()` (or when the buffer grows large), so that the
/// entries and hard state of one step go out in one `pwrite` and one `fdatasync`. Saving a snapshot
/// writes it to a temporary file, syncs it, renames it and syncs the directory; then the log drops
/// what the snapshot covers, in one of two ways:
/// - when the entries it keeps take fewer than `Options.maxLogRewrite` bytes, they are rewritten into
///   a new segment (a reset record, the hard state, the entries) created the same way, and every
///   older segment is removed: the files hold nothing but the live log;
/// - otherwise a compaction record, which says where the kept entries start, is appended after a
///   hard state record and synced, and only the segments wholly before that position are removed.
///   This costs one small write whatever the log's size, so a snapshot of a large state taken
///   while many entries arrive does not hold the lock (and every append) for a rewrite.
///
/// The old snapshot goes last. Recovery repeats whatever part of that an interruption left undone.
/// `persistedRaftStateSize` counts from where the kept entries start, so it drops after every
/// snapshot either way.
///
/// A final class around a `Mutex`: the protocol is synchronous (the host calls it from one serial
/// executor, and from NIO's blocking thread pool on that executor's behalf), and the lock makes
/// sharing it safe.
/// After a failed write or sync every operation throws `.failed`: the kernel may have dropped the
/// unwritten pages, so retrying could report success for data that is gone.
public final class DiskStorage: PersistentStorage {
    /// When `sync()` flushes to the device.
    public struct FsyncPolicy: Hashable, Sendable {
        private enum Value: Hashable, Sendable {
            case always, never
        }

        private let value: Value

        /// `fdatasync` on every `sync()` and snapshot step. The default, and the only safe choice.
        public static let always = FsyncPolicy(value: .always)
        /// Never syncs: a power loss can lose acknowledged writes or leave damage that recovery
        /// refuses. Unsafe; for tests and benchmarks that measure everything but the device.
        public static let never = FsyncPolicy(value: .never)

        var syncs: Bool { value == .always }
    }

    /// How a `DiskStorage` behaves.
    public struct Options: Sendable {
        /// Default `.always`.
        public var fsync: FsyncPolicy
        /// A segment is closed and a new one started when the next record would take it past this
        /// many bytes. Default 64 MiB. A single record larger than this gets a segment of its own.
        public var maxSegmentSize: Int
        /// Create the directory if it is missing (its parent must exist). Default true.
        public var createDirectory: Bool
        /// Saving a snapshot rewrites the log entries it keeps into a fresh segment when they take
        /// fewer than this many bytes; otherwise it appends a compaction record instead and keeps
        /// them where they are (the first kept segment's bytes before them wait for the segment's
        /// removal). Default 1 MiB: a rewrite that small is quick and keeps the files tight; 0
        /// never rewrites.
        public var maxLogRewrite: Int
        /// Segments are files written full of zeros (and synced) ahead of use, by a background
        /// thread, and the log overwrites the zeros; a segment ends when its zeros are used up.
        /// A new log's first segment is 64 KiB; the next one is prepared once the current one is
        /// half used, at twice the live log (in 64 KiB units, up to `maxSegmentSize`), so an idle
        /// or short log (a new one, or one a small `maxraftstate` keeps short) zero-fills little
        /// that it does not use. Default true.
        ///
        /// A sync of a file that grows changes its size, so the file system commits its journal
        /// too; into space already written it flushes the data alone. Measured here: 83 µs
        /// instead of 123-137 µs per 2 KiB write and `fdatasync`, and a worst case of 4 ms
        /// instead of 47-60 ms over a few seconds. Recovery reads the zeros after the last record
        /// as the end of the log, and a record cut short before them as a torn write.
        public var preallocateSegments: Bool
        /// Tests: prepare the next preallocated segment on the calling thread, after the
        /// operation that used the previous one, so file layouts do not depend on timing.
        package var preparesSegmentsInline = false
        /// Called after each step of saving a snapshot; tests throw from it to simulate a crash there.
        package var checkpointHook: (@Sendable (CheckpointStep) throws(StorageError) -> Void)?

        public init(
            fsync: FsyncPolicy = .always,
            maxSegmentSize: Int = 64 << 20,
            createDirectory: Bool = true,
            maxLogRewrite: Int = 1 << 20,
            preallocateSegments: Bool = true
        ) {
            self.fsync = fsync
            self.maxSegmentSize = maxSegmentSize
            self.createDirectory = createDirectory
            self.maxLogRewrite = maxLogRewrite
            self.preallocateSegments = preallocateSegments
        }
    }

    /// The steps of saving a snapshot, in order; the log is either rewritten or gets a
    /// compaction record (see `Options.maxLogRewrite`).
    package enum CheckpointStep: CaseIterable, Sendable {
        case snapshotWritten, snapshotSynced, snapshotRenamed, directorySynced
        case segmentRewritten, compactionRecorded
        /// The older segments and snapshot are closed and left for removal outside the lock.
        case oldFilesReleased
    }

    /// The directory this storage owns.
    public let directory: String
    /// What recovery repaired when the storage was opened (a torn write at the end of the log, an
    /// interrupted snapshot). Empty after a clean shutdown.
    public let warnings: [RecoveryWarning]

    private let store: Mutex<Store>
    /// What the size and statistics getters read, copied from the store at the end of every
    /// operation: the store's lock is held through syncs, which a busy device can stretch to
    /// seconds, and the host's executor reads these every iteration; it must not wait for a
    /// sync it did not ask for (a compaction's, on the snapshot thread).
    private let published: Mutex<Published>
    /// Where the next segment's file is zero-filled, off the lock and off the caller's thread.
    private let spareQueue = DispatchQueue(label: "RaftStorage.DiskStorage.spare")

    private struct Published: Sendable {
        var persistedRaftStateSize: Int
        var snapshotSize: Int
        var statistics: StorageStatistics

        init(_ store: Store) {
            persistedRaftStateSize = store.liveSize
            snapshotSize = Int(store.snapshot?.size ?? 0)
            statistics = store.statistics
        }
    }
    /// Numbers the temporary files of compactions, which are written outside the lock.
    private let compactions = Atomic<Int>(0)

    /// Opens the storage in `directory`, recovering what a crash left behind.
    ///
    /// Throws `.locked` if another process or `DiskStorage` has the directory open, and `.corruption`
    /// (naming file and byte offset) if data that was acknowledged is damaged.
    public init(directory: String, options: Options = Options()) throws(StorageError) {
        var (store, warnings) = try Store.open(directory: directory, options: options)
        let spare = store.spareRequest()
        self.directory = directory
        self.warnings = warnings
        self.published = Mutex(Published(store))
        self.store = Mutex(store)
        removeObsoleteFiles()
        prepareSpareSegment(spare)
    }

    deinit {
        store.withLock { $0.close() }
    }

    /// Closes the files and releases the directory lock. Later calls throw `.failed`. Writes not yet
    /// synced are dropped, as in a crash: call `sync()` first to shut down cleanly.
    public func close() {
        store.withLock { $0.close() }
    }

    public func load() throws(StorageError) -> PersistentState {
        try mutate { (store) throws(StorageError) in try store.load() }
    }

    public func append(_ entries: [Entry]) throws(StorageError) {
        try mutate { (store) throws(StorageError) in try store.append(entries) }
    }

    public func saveHardState(_ hardState: HardState) throws(StorageError) {
        try mutate { (store) throws(StorageError) in try store.saveHardState(hardState) }
    }

    public func installSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        defer { removeObsoleteFiles() }
        try mutate { (store) throws(StorageError) in
            guard snapshot.data.isStoredByDriver else {
                return try store.saveSnapshot(snapshot, compacting: false)
            }
            try store.checkSnapshot(snapshot, compacting: false)
            let path = try store.finishIncomingSnapshot(snapshot)
            try store.saveSnapshot(snapshot, compacting: false, writtenTo: path)
        }
    }

    /// Writes the chunk into the file of the snapshot being received, `incoming-snapshot.tmp`,
    /// whose header is known from the first chunk; ``installSnapshot(_:)`` syncs and renames it.
    public func receiveSnapshotChunk(_ chunk: SnapshotChunk) throws(StorageError) {
        try mutate { (store) throws(StorageError) in try store.receiveSnapshotChunk(chunk) }
    }

    /// Streams the snapshot's data into a temporary file and syncs it, without holding the
    /// storage's lock: the returned data is read from that file, and ``compact(to:)`` of a
    /// snapshot with it and `metadata` renames the file into place instead of writing it.
    public func writeSnapshot(
        _ metadata: SnapshotMetadata,
        data write: (_ sink: ([UInt8]) throws -> Void) throws -> Void
    ) throws -> SnapshotData {
        let (options, temporaryPath) = try mutate { (store) throws(StorageError) in
            let number = compactions.add(1, ordering: .relaxed).newValue
            return (store.options, store.path("compaction-\(number)" + Format.temporarySuffix))
        }
        do {
            let file = try Store.writeSnapshotFile(metadata, to: temporaryPath, options: options, data: write)
            return SnapshotData(source: file)
        } catch {
            try? FileIO.remove(temporaryPath)
            throw error
        }
    }

    public func discardSnapshot(_ data: SnapshotData) {
        guard let file = data.source as? SnapshotFileData, file.path.hasPrefix(directory + "/compaction-") else {
            return
        }
        // A leftover would only cost disk space until recovery removes it.
        try? FileIO.remove(file.path)
    }

    /// Writes and syncs the snapshot file without holding the storage's lock, the bulk of the
    /// time for a large state, so that the log's appends and syncs go on meanwhile (unless
    /// ``writeSnapshot(_:data:)`` wrote it already); then, under the lock, renames it into
    /// place and drops the log it covers (a rewrite or a compaction record).
    public func compact(to snapshot: Snapshot) throws(StorageError) {
        defer { removeObsoleteFiles() }
        let (options, temporaryPath) = try mutate { (store) throws(StorageError) in
            try store.checkSnapshot(snapshot, compacting: true)
            let number = compactions.add(1, ordering: .relaxed).newValue
            return (store.options, store.path("compaction-\(number)" + Format.temporarySuffix))
        }
        if let file = snapshot.data.source as? SnapshotFileData, file.metadata == snapshot.metadata,
            file.path.hasPrefix(directory + "/compaction-")
        {
            do throws(StorageError) {
                try mutate { (store) throws(StorageError) in
                    store.statistics.bytesWritten += Format.snapshotFileSize(snapshot)
                    try store.saveSnapshot(snapshot, compacting: true, writtenTo: file.path)
                }
            } catch {
                try? FileIO.remove(file.path)
                throw error
            }
            return
        }
        do throws(StorageError) {
            let size = try Store.writeSnapshotFile(snapshot, to: temporaryPath, options: options)
            try mutate { (store) throws(StorageError) in
                store.statistics.bytesWritten += size
                try store.saveSnapshot(snapshot, compacting: true, writtenTo: temporaryPath)
            }
        } catch {
            // The temporary file is garbage now (recovery would remove it too).
            try? FileIO.remove(temporaryPath)
            throw error
        }
    }

    /// The stored snapshot file's data, read from the file (which was checked when written).
    public func storedSnapshotData(for metadata: SnapshotMetadata) throws(StorageError) -> SnapshotData? {
        try mutate { (store) throws(StorageError) in
            guard let file = store.snapshot, file.metadata == metadata else { return nil }
            return try file.openData()
        }
    }

    public func sync() throws(StorageError) {
        try mutate { (store) throws(StorageError) in try store.sync() }
    }

    /// Bytes of the log from where its live part starts, plus buffered writes: after a rewrite (and
    /// before any snapshot) the segment files' total size once synced; after a compaction record,
    /// without the bytes before the kept entries, which wait for their segment's removal.
    public var persistedRaftStateSize: Int {
        published.withLock { $0.persistedRaftStateSize }
    }

    public var snapshotSize: Int {
        published.withLock { $0.snapshotSize }
    }

    public var statistics: StorageStatistics {
        published.withLock { $0.statistics }
    }

    /// Unlinks the segments and snapshot a compaction replaced, outside the lock: unlinking a
    /// large file takes the file system a while (175 ms for 1 GiB here), which appends should
    /// not wait for. Failures are left to recovery, which removes such files too.
    private func removeObsoleteFiles() {
        let paths = store.withLock { store in
            defer { store.obsoleteFiles = [] }
            return store.obsoleteFiles
        }
        for path in paths {
            try? FileIO.remove(path)
        }
    }

    /// Zero-fills and syncs the next segment's file, then offers it to the store; on the
    /// background queue unless the options ask for it inline. A failure only means the next
    /// segment grows as it is written.
    private func prepareSpareSegment(_ request: SpareRequest?) {
        guard let request else { return }
        let work = { @Sendable [weak self] in
            let spare = try? SpareSegment.create(request)
            guard let self else {
                spare?.discard()
                return
            }
            store.withLock { store in store.offer(spare) }
        }
        if request.inline {
            work()
        } else {
            spareQueue.async(execute: work)
        }
    }

    /// Runs `body` unless the storage failed or is closed; an I/O error marks it failed.
    private func mutate<Result: Sendable>(
        _ body: (inout Store) throws(StorageError) -> Result
    ) throws(StorageError) -> Result {
        var spare: SpareRequest?
        defer { prepareSpareSegment(spare) }
        return try store.withLock { (store) throws(StorageError) in
            if let failure = store.failure {
                throw failure
            }
            defer { published.withLock { $0 = Published(store) } }
            do throws(StorageError) {
                let result = try body(&store)
                spare = store.spareRequest()
                return result
            } catch {
                if error.code != .invalidArgument && error.code != .staleSnapshot {
                    store.failure = StorageError(
                        .failed,
                        "an earlier operation failed (\(error)); reopen the storage to recover",
                        path: error.path ?? store.directory
                    )
                }
                throw error
            }
        }
    }
}

/// Where one entry's record is.
struct RecordLocation: TermCarrying {
    var term: Term
    var segment: UInt64
    var offset: Int64
    var size: Int
}

/// The state behind `DiskStorage`'s lock, and the operations on it.
struct Store: Sendable {
    struct Segment: Sendable {
        var seq: UInt64
        var fd: Int32
        var path: String
        /// Bytes of records in the file (written, not necessarily synced): where the next goes.
        var size: Int64
        /// The file's length when it is longer, zero-filled ahead of the records.
        var allocated: Int64 = 0
    }

    struct SnapshotFile: Sendable {
        var seq: UInt64
        var path: String
        var metadata: SnapshotMetadata
        var size: Int64
        /// Where the data starts (after a header of the file's own format version).
        var dataOffset: Int64

        /// The file's data, read from it on demand (it was checked when written or recovered).
        func openData() throws(StorageError) -> SnapshotData {
            let fd = try FileIO.open(path, O_RDONLY)
            return SnapshotData(
                source: SnapshotFileData(
                    fd: fd,
                    path: path,
                    offset: dataOffset,
                    count: Int(size - dataOffset) - 4,
                    metadata: metadata
                )
            )
        }
    }

    /// Buffered records are written once the buffer reaches this size, even before `sync()`.
    static let flushThreshold = 1 << 20
    /// Preallocated segments are a multiple of this (or `maxSegmentSize`, when smaller).
    static let spareUnit = 64 << 10

    let directory: String
    let options: DiskStorage.Options
    var directoryFD: Int32
    /// Nil once closed.
    var lock: DirectoryLock?
    /// Ascending by sequence; the last one is appended to.
    var segments: [Segment]
    /// Records for the last segment, starting at its `size`, not yet written.
    var buffer: [UInt8] = []
    /// Where the live log starts: nothing before it is read again.
    var liveStart = LogPosition(segment: 0, offset: 0)
    /// Files no longer part of the storage (closed), for `DiskStorage` to unlink outside the lock.
    var obsoleteFiles: [String] = []
    /// A zero-filled, synced file for the next segment (`Options.preallocateSegments`).
    var spare: SpareSegment?
    /// Whether a spare is being prepared (or preparing one failed: not retried until used).
    var preparingSpare = false
    var sparesPrepared = 0
    var log: LogWindow<RecordLocation>
    var hardState: HardState
    var snapshot: SnapshotFile?
    /// The file of the snapshot being received from the leader, written chunk by chunk.
    var incoming: IncomingSnapshot?
    var statistics = StorageStatistics()
    var failure: StorageError?

    func path(_ name: String) -> String { directory + "/" + name }

    /// What to prepare when the next segment has no spare yet; marks it as being prepared.
    mutating func spareRequest() -> SpareRequest? {
        guard options.preallocateSegments, lock != nil, spare == nil, !preparingSpare else { return nil }
        // Only once the current segment is half used: a thousand idle groups on a node must not
        // zero-fill a spare each, and a short log rewritten at every snapshot needs none.
        if let last = segments.last {
            guard 2 * (Int(last.size) + buffer.count) >= capacity(of: last) else { return nil }
        }
        // Twice the live log, in 64 KiB units, within [64 KiB, maxSegmentSize]: a log that
        // snapshots often (a small `maxraftstate`) must not zero-fill 64 MiB each time.
        let wanted = max(Self.spareUnit, (2 * liveSize + Self.spareUnit - 1) / Self.spareUnit * Self.spareUnit)
        let spareSize = min(options.maxSegmentSize, wanted)
        preparingSpare = true
        sparesPrepared += 1
        return SpareRequest(
            path: path("spare-\(sparesPrepared)-\(UInt32.random(in: 0...UInt32.max))" + Format.spareSuffix),
            size: spareSize,
            syncs: options.fsync.syncs,
            inline: options.preparesSegmentsInline
        )
    }

    /// Takes a prepared spare, unless the storage was closed meanwhile. A failed preparation
    /// (nil) leaves `preparingSpare` set: the next segment grows as written, and a new spare is
    /// asked for once it exists.
    mutating func offer(_ prepared: SpareSegment?) {
        guard let prepared else { return }
        guard lock != nil, spare == nil else {
            prepared.discard()
            return
        }
        spare = prepared
    }

    /// Bytes from `position` to the end of the log, buffered writes included.
    func bytes(from position: LogPosition) -> Int {
        var total = buffer.count
        for segment in segments where segment.seq >= position.segment {
            total += Int(segment.size)
            if segment.seq == position.segment {
                total -= Int(position.offset)
            }
        }
        return total
    }

    var liveSize: Int { bytes(from: liveStart) }

    /// Where a segment ends: its preallocated length, or `maxSegmentSize` for one that grows.
    func capacity(of segment: Segment) -> Int {
        segment.allocated > 0 ? Int(segment.allocated) : options.maxSegmentSize
    }

    mutating func close() {
        guard let lock else {
            return
        }
        if let incoming {
            FileIO.close(incoming.fd)
            self.incoming = nil
        }
        spare?.discard()
        spare = nil
        for segment in segments {
            FileIO.close(segment.fd)
        }
        segments = []
        FileIO.close(directoryFD)
        lock.release()
        self.lock = nil
        failure = StorageError(.failed, "the storage is closed", path: directory)
    }

    // MARK: Writing

    mutating func append(_ entries: [Entry]) throws(StorageError) {
        try log.validate(entries)
        // Recovery refuses longer records, so they must never be written.
        if let entry = entries.first(where: {
            Format.entryRecordSize($0) - Format.recordHeaderSize > Format.maxPayloadSize
        }) {
            throw StorageError(
                .invalidArgument,
                "entry \(entry.index) holds \(entry.data.count) bytes, over the 1 GiB limit"
            )
        }
        for entry in entries {
            let size = Format.entryRecordSize(entry)
            try makeRoom(for: size)
            let offset = segments[segments.count - 1].size + Int64(buffer.count)
            Format.appendEntryRecord(entry, to: &buffer)
            log.put(
                RecordLocation(term: entry.term, segment: segments[segments.count - 1].seq, offset: offset, size: size),
                at: entry.index
            )
            if buffer.count >= Self.flushThreshold {
                try flush()
            }
        }
    }

    mutating func saveHardState(_ state: HardState) throws(StorageError) {
        try makeRoom(for: Format.hardStateRecordSize)
        Format.appendHardStateRecord(state, to: &buffer)
        hardState = state
    }

    mutating func sync() throws(StorageError) {
        try flush()
        if options.fsync.syncs {
            let last = segments[segments.count - 1]
            try FileIO.dataSync(last.fd, path: last.path)
            statistics.syncs += 1
        }
    }

    /// Writes the buffer to the last segment.
    private mutating func flush() throws(StorageError) {
        guard !buffer.isEmpty else {
            return
        }
        let last = segments.count - 1
        try FileIO.write(segments[last].fd, buffer, at: segments[last].size, path: segments[last].path)
        segments[last].size += Int64(buffer.count)
        statistics.writes += 1
        statistics.bytesWritten += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Starts a new segment if a record of `size` bytes would take the last one past the limit.
    private mutating func makeRoom(for size: Int) throws(StorageError) {
        let last = segments[segments.count - 1]
        let used = Int(last.size) + buffer.count
        guard used + size > capacity(of: last), used > Format.segmentHeaderSize else {
            return
        }
        // The closed segment must be durable before a later one exists: recovery tolerates a torn
        // tail only in the last segment, and reads zeros after the records only there.
        try sync()
        let sealed = segments[segments.count - 1]
        if sealed.allocated > sealed.size {
            try FileIO.truncate(sealed.fd, to: sealed.size, path: sealed.path)
            if options.fsync.syncs {
                try FileIO.dataSync(sealed.fd, path: sealed.path)
            }
            segments[segments.count - 1].allocated = 0
        }
        segments.append(try createSegment(seq: last.seq + 1, records: []))
    }

    /// Creates a complete segment atomically: temporary name, sync, rename, directory sync.
    mutating func createSegment(seq: UInt64, records: [UInt8]) throws(StorageError) -> Store.Segment {
        let finalPath = path(Format.segmentName(seq))
        let bytes = Format.segmentHeader(seq: seq) + records
        // The prepared spare if the records fit, else a file that grows as it is written.
        let file: (fd: Int32, path: String, allocated: Int64)
        if let spare, bytes.count <= spare.size {
            self.spare = nil
            file = (spare.fd, spare.path, Int64(spare.size))
        } else {
            let temporaryPath = finalPath + Format.temporarySuffix
            file = (try FileIO.open(temporaryPath, O_RDWR | O_CREAT | O_TRUNC), temporaryPath, 0)
        }
        // Ask for a spare again after this segment, including after a failed preparation.
        preparingSpare = spare != nil
        do throws(StorageError) {
            try FileIO.write(file.fd, bytes, at: 0, path: file.path)
            statistics.writes += 1
            statistics.bytesWritten += bytes.count
            if options.fsync.syncs {
                try FileIO.dataSync(file.fd, path: file.path)
            }
            try FileIO.rename(file.path, to: finalPath)
            try syncDirectory()
            return Segment(seq: seq, fd: file.fd, path: finalPath, size: Int64(bytes.count), allocated: file.allocated)
        } catch {
            FileIO.close(file.fd)
            try? FileIO.remove(file.path)
            throw error
        }
    }

    func syncDirectory() throws(StorageError) {
        if options.fsync.syncs {
            try FileIO.fullSync(directoryFD, path: directory)
        }
    }

    private func checkpoint(_ step: DiskStorage.CheckpointStep) throws(StorageError) {
        try options.checkpointHook?(step)
    }

    // MARK: Snapshots

    /// Throws unless `snapshot` may be stored now.
    func checkSnapshot(_ snapshot: Snapshot, compacting: Bool) throws(StorageError) {
        let index = snapshot.metadata.index
        let current = self.snapshot?.metadata.index ?? 0
        guard index > current else {
            throw StorageError(.staleSnapshot, "snapshot at index \(index) is not newer than \(current)")
        }
        if compacting && log.term(at: index) != snapshot.metadata.term {
            throw StorageError(
                .invalidArgument,
                "compaction at index \(index) term \(snapshot.metadata.term), which the log does not hold"
            )
        }
    }

    /// Stores `snapshot`: writes its file (unless `writtenTo` names a synced temporary file that
    /// holds it already), renames it into place, then drops the log it covers.
    mutating func saveSnapshot(_ snapshot: Snapshot, compacting: Bool, writtenTo: String? = nil) throws(StorageError) {
        try checkSnapshot(snapshot, compacting: compacting)
        let index = snapshot.metadata.index
        // Everything written before the snapshot becomes durable with it, and the rewrite below
        // reads the kept entries back from the files.
        try sync()

        let seq = (self.snapshot?.seq ?? 0) + 1
        let finalPath = path(Format.snapshotName(seq))
        let temporaryPath: String
        let size: Int
        if let writtenTo {
            temporaryPath = writtenTo
            size = Format.snapshotFileSize(snapshot)
        } else {
            temporaryPath = finalPath + Format.temporarySuffix
            size = try Self.writeSnapshotFile(snapshot, to: temporaryPath, options: options)
            statistics.bytesWritten += size
        }
        try FileIO.rename(temporaryPath, to: finalPath)
        try checkpoint(.snapshotRenamed)
        try syncDirectory()
        try checkpoint(.directorySynced)

        let replaced = self.snapshot
        self.snapshot = SnapshotFile(
            seq: seq,
            path: finalPath,
            metadata: snapshot.metadata,
            size: Int64(size),
            dataOffset: Int64(Format.snapshotHeaderSize(snapshot.metadata))
        )
        log.rebase(index: index, term: snapshot.metadata.term)
        try finishCompaction(removing: replaced.map { [$0.path] } ?? [])
    }

    /// Drops the log before its (new) base from the files: rewrites the kept entries if they are
    /// small, else records where they start. Releases the files in `obsolete` last.
    mutating func finishCompaction(removing obsolete: [String]) throws(StorageError) {
        let kept = log.elements.first.map { bytes(from: LogPosition(segment: $0.segment, offset: $0.offset)) } ?? 0
        if kept < options.maxLogRewrite {
            try rewriteLog(removing: obsolete)
        } else {
            try recordCompaction(removing: obsolete)
        }
    }

    /// Appends the hard state and a compaction record pointing at the first kept entry, syncs
    /// them, then releases the segments before that entry's and the files in `obsolete` for removal.
    private mutating func recordCompaction(removing obsolete: [String]) throws(StorageError) {
        // The hard state goes first, in the same write: replay ignores what precedes the start,
        // so the latest hard state must not be only in a segment about to go.
        try makeRoom(for: Format.hardStateRecordSize + Format.compactionRecordSize)
        let last = segments[segments.count - 1]
        let hardStatePosition = LogPosition(segment: last.seq, offset: last.size + Int64(buffer.count))
        let start = log.elements.first.map { LogPosition(segment: $0.segment, offset: $0.offset) } ?? hardStatePosition
        Format.appendHardStateRecord(hardState, to: &buffer)
        Format.appendCompactionRecord(index: log.baseIndex, term: log.baseTerm, start: start, to: &buffer)
        try sync()
        try checkpoint(.compactionRecorded)

        liveStart = start
        let dropped = segments.prefix { $0.seq < start.segment }
        segments.removeFirst(dropped.count)
        for file in dropped {
            FileIO.close(file.fd)
        }
        obsoleteFiles += dropped.map(\.path) + obsolete
        try checkpoint(.oldFilesReleased)
    }

    /// Writes the live log (reset to the current base, hard state, kept entries) as a new segment,
    /// then releases every older segment and the files in `obsolete` for removal.
    private mutating func rewriteLog(removing obsolete: [String]) throws(StorageError) {
        try flush()
        let seq = segments[segments.count - 1].seq + 1
        var records: [UInt8] = []
        Format.appendResetRecord(index: log.baseIndex, term: log.baseTerm, to: &records)
        Format.appendHardStateRecord(hardState, to: &records)
        var locations: [RecordLocation] = []
        locations.reserveCapacity(log.elements.count)
        for (location, raw, _) in try readRecords(log.elements[...]) {
            locations.append(
                RecordLocation(
                    term: location.term,
                    segment: seq,
                    offset: Int64(Format.segmentHeaderSize + records.count),
                    size: location.size
                )
            )
            records.append(contentsOf: raw)
        }
        let segment = try createSegment(seq: seq, records: records)
        try checkpoint(.segmentRewritten)

        let old = segments
        segments = [segment]
        liveStart = LogPosition(segment: seq, offset: 0)
        log.replaceElements(locations)
        for file in old {
            FileIO.close(file.fd)
        }
        obsoleteFiles += old.map(\.path) + obsolete
        try checkpoint(.oldFilesReleased)
    }

    // MARK: Reading

    mutating func load() throws(StorageError) -> PersistentState {
        try flush()
        var loaded: Snapshot?
        if let snapshot {
            // Checked when recovered or written: read from the file from now on, not again here.
            loaded = Snapshot(metadata: snapshot.metadata, data: try snapshot.openData())
        }
        let entries = try readRecords(log.elements[...]).map(\.entry)
        return PersistentState(hardState: hardState, snapshot: loaded, entries: entries)
    }

    /// Each located entry and its raw record bytes, verified, read in runs of adjacent records.
    private func readRecords(
        _ locations: ArraySlice<RecordLocation>
    ) throws(StorageError) -> [(location: RecordLocation, raw: ArraySlice<UInt8>, entry: Entry)] {
        var result: [(location: RecordLocation, raw: ArraySlice<UInt8>, entry: Entry)] = []
        result.reserveCapacity(locations.count)
        var start = locations.startIndex
        while start < locations.endIndex {
            var end = start + 1
            var runSize = locations[start].size
            while end < locations.endIndex, locations[end].segment == locations[start].segment,
                locations[end].offset == locations[start].offset + Int64(runSize)
            {
                runSize += locations[end].size
                end += 1
            }
            guard let segment = segments.first(where: { $0.seq == locations[start].segment }) else {
                preconditionFailure("log refers to segment \(locations[start].segment), which is not open")
            }
            let run = try FileIO.read(segment.fd, count: runSize, at: locations[start].offset, path: segment.path)
            var position = 0
            for location in locations[start..<end] {
                guard case .record(.entry(let entry), location.size) = Format.scanRecord(run, at: position),
                    entry.term == location.term
                else {
                    throw StorageError(
                        .corruption,
                        "an entry record that was valid when written is not any more: the file was changed or "
                            + "damaged while open. \(Self.damageAdvice)",
                        path: segment.path,
                        offset: location.offset
                    )
                }
                result.append((location, run[position..<position + location.size], entry))
                position += location.size
            }
            start = end
        }
        return result
    }
}

/// A request for the next segment's file: created, zero-filled and synced off the lock.
struct SpareRequest: Sendable {
    var path: String
    var size: Int
    var syncs: Bool
    var inline: Bool
}

/// A zero-filled file of a segment's full size, synced, named `spare-*.spare` until it becomes
/// the next segment (recovery removes it otherwise).
struct SpareSegment: Sendable {
    var fd: Int32
    var path: String
    var size: Int

    static func create(_ request: SpareRequest) throws(StorageError) -> SpareSegment {
        let fd = try FileIO.open(request.path, O_RDWR | O_CREAT | O_TRUNC)
        do throws(StorageError) {
            // Written, not fallocate'd: a write into an unwritten extent changes metadata too.
            // Synced a piece at a time, like a snapshot file: the log's syncs share the device.
            let zeros = [UInt8](repeating: 0, count: min(request.size, 1 << 20))
            var offset = 0
            while offset < request.size {
                let count = min(zeros.count, request.size - offset)
                try FileIO.write(
                    fd,
                    count == zeros.count ? zeros : Array(zeros[..<count]),
                    at: Int64(offset),
                    path: request.path
                )
                offset += count
                if request.syncs {
                    try FileIO.dataSync(fd, path: request.path)
                }
            }
            return SpareSegment(fd: fd, path: request.path, size: request.size)
        } catch {
            FileIO.close(fd)
            try? FileIO.remove(request.path)
            throw error
        }
    }

    func discard() {
        FileIO.close(fd)
        try? FileIO.remove(path)
    }
}
