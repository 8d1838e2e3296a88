// Snapshots: compaction of the log into a snapshot, the leader's chunked transfer of its
// snapshot to a follower behind the compacted log, and the follower's install (Raft §7,
// thesis §5.1).
extension RaftEngine {
    /// Compacts the log through `index` into a snapshot of the state machine taken right after
    /// it applied `index`. The driver MUST persist the returned snapshot before it removes
    /// the covered log prefix from storage.
    public mutating func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftError) -> Snapshot {
        try compact(through: index, snapshotData: SnapshotData(snapshotData))
    }

    /// What a snapshot through `index` would record (its entry's term, the membership in force
    /// then), so that a driver can write the snapshot's file before ``compact(through:snapshotData:)``;
    /// nil unless `index` is applied and not compacted yet.
    public func snapshotMetadata(at index: LogIndex) -> SnapshotMetadata? {
        guard index > log.snapshotIndex, index <= appliedIndex, let term = log.term(at: index) else { return nil }
        return SnapshotMetadata(index: index, term: term, membership: membership(at: index))
    }

    /// Compacts the log through `index` into a snapshot whose bytes are `snapshotData` (in
    /// memory, or a file the driver wrote). The driver MUST persist the returned snapshot
    /// before it removes the covered log prefix from storage.
    public mutating func compact(through index: LogIndex, snapshotData: SnapshotData) throws(RaftError) -> Snapshot {
        guard index > log.snapshotIndex else {
            throw RaftError(
                .compactionBehindSnapshot,
                "index \(index) is already compacted (snapshot at \(log.snapshotIndex))"
            )
        }
        guard index <= appliedIndex, let entryTerm = log.term(at: index) else {
            throw RaftError(.compactionBeyondApplied, "index \(index) is beyond the applied index \(appliedIndex)")
        }
        let newSnapshot = Snapshot(
            metadata: SnapshotMetadata(index: index, term: entryTerm, membership: membership(at: index)),
            data: snapshotData
        )
        log.compact(through: index)
        membershipHistory.removeAll { $0.index <= index }
        snapshot = newSnapshot
        return newSnapshot
    }

    /// Swaps the bytes of the current snapshot for the same bytes held elsewhere (the file the
    /// driver stored it in), so that a follower does not keep the array it received. Ignored
    /// unless `metadata` and the count match the current snapshot.
    public mutating func useStoredSnapshotData(_ data: SnapshotData, for metadata: SnapshotMetadata) {
        guard var current = snapshot, current.metadata == metadata, current.data.count == data.count else { return }
        current.data = data
        snapshot = current
    }

    // MARK: - Follower

    mutating func handleSnapshotChunk(from leaderID: NodeID, _ chunk: SnapshotChunk) {
        let metadata = chunk.metadata
        if metadata.index <= commitIndex {
            incomingSnapshot = nil
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: chunk.totalSize, done: true)
            return
        }
        if incomingSnapshot?.metadata != metadata {
            guard chunk.offset == 0 else {
                sendSnapshotResponse(to: leaderID, metadata, nextOffset: 0, done: false)
                return
            }
            incomingSnapshot = (metadata, [], 0)
        }
        guard var incoming = incomingSnapshot, chunk.offset == incoming.received else {
            let expected = incomingSnapshot?.received ?? 0
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: expected, done: false)
            return
        }
        incomingSnapshot = nil  // keeps `incoming.data` uniquely referenced while appending
        if configuration.driverStoresSnapshotChunks {
            output.receivedSnapshotChunks.append(chunk)
        } else {
            incoming.data.append(contentsOf: chunk.data)
        }
        incoming.received += UInt64(chunk.data.count)
        guard chunk.isLast else {
            incomingSnapshot = incoming
            sendSnapshotResponse(to: leaderID, metadata, nextOffset: incoming.received, done: false)
            return
        }
        if log.term(at: metadata.index) == metadata.term {
            // We already hold the snapshot's last entry: keep the log, just learn the commit.
            commitIndex = metadata.index
        } else {
            let data =
                configuration.driverStoresSnapshotChunks
                ? SnapshotData.stored(count: Int(incoming.received)) : SnapshotData(incoming.data)
            let installed = Snapshot(metadata: metadata, data: data)
            log.reset(toSnapshotIndex: metadata.index, term: metadata.term)
            membership = metadata.membership
            membershipIndex = metadata.index
            membershipHistory = []
            if membership.hasRemoved(id) { isRemoved = true }
            commitIndex = metadata.index
            appliedIndex = metadata.index
            stableIndex = metadata.index
            unstableFrom = nil
            snapshot = installed
            output.snapshot = installed
        }
        sendSnapshotResponse(to: leaderID, metadata, nextOffset: chunk.totalSize, done: true)
    }

    private mutating func sendSnapshotResponse(
        to leaderID: NodeID,
        _ metadata: SnapshotMetadata,
        nextOffset: UInt64,
        done: Bool
    ) {
        send(
            to: leaderID,
            .installSnapshotResponse(
                SnapshotChunkResponse(
                    snapshotIndex: metadata.index,
                    snapshotTerm: metadata.term,
                    nextOffset: nextOffset,
                    done: done
                )
            )
        )
    }

    // MARK: - Leader

    mutating func handleSnapshotResponse(from follower: NodeID, _ response: SnapshotChunkResponse) {
        guard var peer = progress[follower], case .snapshot(var transfer) = peer.state,
            response.snapshotIndex == transfer.index, response.snapshotTerm == transfer.term
        else { return }
        if response.done {
            peer.match = max(peer.match, response.snapshotIndex)
            peer.becomeProbe()
            progress[follower] = peer
            sendAppend(to: follower, sendEmpty: false)
            return
        }
        if response.nextOffset == 0, let snapshot, snapshot.metadata.index > transfer.index {
            // The follower holds none of it (it restarted, or never got the first chunk): the
            // newest snapshot costs it nothing more and leaves less log to catch up with.
            startSnapshotTransfer(to: follower)
            return
        }
        transfer.offset = response.nextOffset
        peer.state = .snapshot(transfer)
        progress[follower] = peer
        sendSnapshotChunk(to: follower)
    }

    mutating func startSnapshotTransfer(to follower: NodeID) {
        guard let snapshot, var peer = progress[follower] else { return }
        peer.state = .snapshot(Progress.SnapshotTransfer(snapshot: snapshot, offset: 0))
        peer.inflight.removeAll()
        progress[follower] = peer
        sendSnapshotChunk(to: follower)
    }

    mutating func sendSnapshotChunk(to follower: NodeID) {
        guard let peer = progress[follower], case .snapshot(let transfer) = peer.state else { return }
        let data = transfer.snapshot.data
        let start = min(Int(transfer.offset), data.count)
        let end = min(start + configuration.snapshotChunkBytes, data.count)
        // A source that fails to read (a disk error) sends nothing: a lost chunk, resent when
        // heartbeat answers show the transfer stalled. The error stays out of the engine.
        guard let bytes = try? data.read(start..<end) else { return }
        send(
            to: follower,
            .installSnapshot(
                SnapshotChunk(
                    metadata: transfer.snapshot.metadata,
                    offset: UInt64(start),
                    totalSize: UInt64(data.count),
                    data: bytes
                )
            )
        )
    }
}
