public import RaftCore
public import RaftStorage
import StateMachineAPI

/// One batch of the engine's work, cut where it must wait for the disk: the one driver step
/// that the host's executors, the simulator and every test harness run.
///
/// A driver runs, for as long as ``Replica/hasOutput``:
/// ```swift
/// let step = try replica.beginStep()
/// send(step.messagesBeforeSync)            // a leader's appends, heartbeats, snapshot chunks
/// answer(step.completionsBeforeSync)       // entries that were already durable, applied
/// try step.write(to: storage)              // snapshot, entries, hard state (buffered)
/// if step.mustSync { try storage.sync() }  // may take a while: off the executor, or virtual time
/// let end = try replica.finishStep(step)   // didPersist, then what waited for the sync
/// send(end.messages)                       // votes and acknowledgements
/// answer(end.completions)
/// if let restore = end.restore {          // the batch installed a received snapshot
///     answer(try replica.finishRestore(restore.run()).completions)  // or run() off the executor
/// }
/// if replica.snapshotDue(raftStateSize: storage.persistedRaftStateSize) { ... }
/// ```
/// Why this order is the correct one:
/// - Committed entries are durable on this node already (the engine hands out entries only
///   through its stable index) and on a majority (a leader counts itself only through its
///   stable index), so they are applied and answered before the sync of the batch's new
///   entries, not one sync later. A batch that installs a snapshot applies nothing before the
///   snapshot is on disk: a crash must not leave a state machine ahead of its storage. Its
///   restore, which may take long for a large state, is a separate job (``StepEnd/restore``):
///   a driver may run it off its executor and keep stepping messages meanwhile; the replica
///   queues what is committed until ``Replica/finishRestore(_:)``.
/// - A leader's appends, heartbeats and snapshot chunks depend only on its term, which it
///   made durable when it campaigned, so they leave before its own write (thesis §10.2.1);
///   votes and acknowledgements promise what this node stored, so they wait for the sync.
/// - `mustSync` comes from the engine (``RaftOutput/mustSync``): a batch that only moves the
///   commit index is written without a sync of its own; the next sync makes it durable.
public struct DriverStep: Sendable {
    /// The engine's batch, for drivers that observe it (logging, metrics, invariant checks).
    public let output: RaftOutput
    /// Messages to send now, before ``write(to:)`` is durable.
    public let messagesBeforeSync: [Message]
    /// Requests answered by entries and reads that did not have to wait for the sync.
    public let completionsBeforeSync: [Replica.Completion]
    /// Committed entries applied by ``Replica/beginStep()`` (none while a snapshot restores).
    public let appliedBeforeSync: [Entry]
    /// Whether committed entries and reads wait for ``Replica/finishStep(_:)``.
    let appliesAfterSync: Bool

    /// Whether the batch must be synced before ``Replica/finishStep(_:)``: it holds a snapshot,
    /// new entries, or a new term or vote.
    public var mustSync: Bool { output.mustSync }

    /// Whether ``write(to:)`` has anything to write.
    public var hasWrites: Bool {
        output.snapshot != nil || !output.receivedSnapshotChunks.isEmpty || !output.entries.isEmpty
            || output.hardState != nil
    }

    /// Writes the batch to `storage` in the order recovery expects: the chunks of a snapshot
    /// being received, the snapshot (durable on return), then the entries, then the hard state
    /// (buffered until the next sync).
    public func write(to storage: some PersistentStorage) throws(StorageError) {
        for chunk in output.receivedSnapshotChunks {
            try storage.receiveSnapshotChunk(chunk)
        }
        if let snapshot = output.snapshot {
            try storage.installSnapshot(snapshot)
        }
        if !output.entries.isEmpty {
            try storage.append(output.entries)
        }
        if let hardState = output.hardState {
            try storage.saveHardState(hardState)
        }
    }

    /// ``write(to:)``, then a sync when ``mustSync``: the whole persistence of the step, for a
    /// driver that may block on it.
    public func persist(to storage: some PersistentStorage) throws(StorageError) {
        try write(to: storage)
        if mustSync {
            try storage.sync()
        }
    }
}

/// What a driver does once a ``DriverStep`` is durable.
public struct StepEnd: Sendable {
    /// Messages that had to wait for the sync (votes, acknowledgements, refusals).
    public var messages: [Message]
    /// Requests finished by this step's applying, reads and failures.
    public var completions: [Replica.Completion]
    /// Committed entries applied by ``Replica/finishStep(_:)``.
    public var applied: [Entry]
    /// The restore of the snapshot this step installed, for the driver to run and hand to
    /// ``Replica/finishRestore(_:)``; committed entries wait for it.
    public var restore: SnapshotRestore? = nil
}

extension Replica {
    /// Takes the engine's next batch and applies what is durable already (nothing while a
    /// snapshot is restoring: committed entries are queued for ``finishRestore(_:)``).
    ///
    /// Does not throw any more (a snapshot's restore fails in ``finishRestore(_:)``); `throws`
    /// stays so that drivers need not change.
    public mutating func beginStep() throws -> DriverStep {
        let output = engine.takeOutput()
        var before: [Message] = []
        for message in output.messages where message.mayBeSentBeforePersisting {
            before.append(message)
        }
        let appliesAfterSync = output.snapshot != nil
        var completions: [Completion] = []
        if !appliesAfterSync {
            completions = apply(output).completions
        }
        return DriverStep(
            output: output,
            messagesBeforeSync: before,
            completionsBeforeSync: completions,
            appliedBeforeSync: appliesAfterSync || isRestoring ? [] : output.committedEntries,
            appliesAfterSync: appliesAfterSync
        )
    }

    /// Completes `step` once its writes are durable: tells the engine, applies what waited; for
    /// a step that installed a snapshot, starts its restore (``StepEnd/restore``) instead.
    public mutating func finishStep(_ step: DriverStep) throws -> StepEnd {
        engine.didPersist(step.output)
        var messages: [Message] = []
        for message in step.output.messages where !message.mayBeSentBeforePersisting {
            messages.append(message)
        }
        var completions: [Completion] = []
        var restore: SnapshotRestore?
        if step.appliesAfterSync {
            (completions, restore) = apply(step.output)
        }
        completions += takeCompletions()
        return StepEnd(
            messages: messages,
            completions: completions,
            // A step that installed a snapshot applies its entries through finishRestore(_:).
            applied: [],
            restore: restore
        )
    }

    /// Runs steps until the replica has no output, with a storage that syncs inline and
    /// messages handed to `send`: the whole driver for a single-threaded caller (tests, tools).
    ///
    /// - Returns: every request finished meanwhile.
    public mutating func drive(
        storage: some PersistentStorage,
        send: ([Message]) -> Void = { _ in }
    ) throws -> [Completion] {
        var finished = takeCompletions()
        while hasOutput {
            let step = try beginStep()
            send(step.messagesBeforeSync)
            finished += step.completionsBeforeSync
            try step.persist(to: storage)
            let end = try finishStep(step)
            send(end.messages)
            finished += end.completions
            if let restore = end.restore {
                finished += try finishRestore(readingStoredSnapshot(restore, in: storage).run()).completions
            }
            if snapshotDue(raftStateSize: storage.persistedRaftStateSize) {
                try takeSnapshot(into: storage)
            }
        }
        return finished
    }

    /// Captures, serializes and compacts in one go, then stores the snapshot: for drivers
    /// that may block on serialization. The host serializes off its executor instead, with
    /// the same three calls.
    @discardableResult
    public mutating func takeSnapshot(into storage: some PersistentStorage) throws -> Snapshot {
        let capture = captureSnapshot()
        guard let metadata = snapshotMetadata(for: capture) else {
            throw ReplicaError(.invalidRequest, "nothing applied since the snapshot at \(engine.log.snapshotIndex)")
        }
        let data = try capture.write(into: storage, metadata: metadata)
        let snapshot = try compact(capture, metadata: metadata, snapshotData: data)
        try storage.compact(to: snapshot)
        return snapshot
    }

    /// After the step that started `restore` stored its snapshot: lets the engine and the
    /// restore read the snapshot from the storage's file rather than keep the array received
    /// (`restore` itself for a storage that keeps snapshots in memory).
    public mutating func readingStoredSnapshot(
        _ restore: SnapshotRestore,
        in storage: some PersistentStorage
    ) throws(StorageError) -> SnapshotRestore {
        let metadata = restore.snapshot.metadata
        guard let data = try storage.storedSnapshotData(for: metadata) else { return restore }
        engine.useStoredSnapshotData(data, for: metadata)
        return restore.reading(data)
    }
}

extension SnapshotCapture {
    /// Streams the capture into a standalone snapshot file at `path` (``SnapshotFile``, synced):
    /// a backup, never held as one array. Returns the file's size. May run off the apply path.
    public func writeFile(_ metadata: SnapshotMetadata, to path: String) throws -> Int {
        try SnapshotFile.write(metadata, to: path) { try stream(to: $0) }
    }

    /// Streams the capture into a new snapshot file of `storage` (synced, not in place yet:
    /// ``PersistentStorage/compact(to:)`` puts it there), never as one array of the whole state.
    /// May run off the apply path.
    public func write(into storage: some PersistentStorage, metadata: SnapshotMetadata) throws -> SnapshotData {
        try storage.writeSnapshot(metadata) { try stream(to: $0) }
    }

    /// Hands the capture's bytes to `sink` piece by piece.
    private func stream(to sink: ([UInt8]) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            var stream = SnapshotOutputStream(sink: sink)
            try write(to: &stream)
        }
    }
}
