/// The engine's in-memory view of the log: a compacted prefix (summarised by the snapshot's
/// index and term) followed by the entries after it.
///
/// Invariant: `entries[i].index == snapshotIndex + 1 + i` for every `i`.
public struct RaftLog: Sendable {
    public private(set) var snapshotIndex: LogIndex
    public private(set) var snapshotTerm: Term
    public private(set) var entries: [Entry]

    init(snapshotIndex: LogIndex = 0, snapshotTerm: Term = 0, entries: [Entry] = []) {
        precondition(
            entries.isEmpty || entries[0].index == snapshotIndex + 1,
            "log entries must start right after the snapshot"
        )
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
    }

    public var firstIndex: LogIndex { snapshotIndex + 1 }
    public var lastIndex: LogIndex { snapshotIndex + LogIndex(entries.count) }
    public var lastTerm: Term { entries.last?.term ?? snapshotTerm }

    /// The term of the entry at `index`; nil when the index is compacted away or beyond the end.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    public func entry(at index: LogIndex) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    /// Entries in `from...through` (clamped to the stored range), stopping once `maxBytes` is
    /// reached but always returning at least one entry when the range is not empty.
    public func entries(from: LogIndex, through: LogIndex, maxBytes: Int = .max) -> ArraySlice<Entry> {
        let lower = max(from, firstIndex)
        let upper = min(through, lastIndex)
        guard lower <= upper else { return [] }
        let start = Int(lower - snapshotIndex - 1)
        var end = start
        var bytes = 0
        let limit = Int(upper - snapshotIndex)
        while end < limit {
            bytes += entries[end].approximateByteSize
            if end > start && bytes > maxBytes { break }
            end += 1
        }
        return entries[start..<end]
    }

    /// The first index of the run of `term` that contains `index`, looking backwards (used for
    /// the conflict hint of a rejected append).
    func firstIndex(ofTermContaining index: LogIndex) -> LogIndex {
        guard let term = term(at: index) else { return index }
        var candidate = index
        while candidate > firstIndex, self.term(at: candidate - 1) == term {
            candidate -= 1
        }
        return candidate
    }

    /// The last index whose entry has `term`, if the log holds any entry of that term.
    func lastIndex(ofTerm term: Term) -> LogIndex? {
        var index = lastIndex
        while index >= firstIndex {
            guard let candidate = self.term(at: index) else { return nil }
            if candidate == term { return index }
            if candidate < term { return nil }
            index -= 1
        }
        return nil
    }

    /// Whether a candidate whose log ends at (`lastIndex`, `lastTerm`) is at least as
    /// up-to-date as this log (Raft §5.4.1).
    func isUpToDate(lastIndex candidateIndex: LogIndex, lastTerm candidateTerm: Term) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    mutating func append(_ entry: Entry) {
        precondition(entry.index == lastIndex + 1, "appended entry must follow the last index")
        entries.append(entry)
    }

    /// Removes every entry at `index` and after.
    mutating func truncate(from index: LogIndex) {
        precondition(index > snapshotIndex, "cannot truncate into the compacted prefix")
        guard index <= lastIndex else { return }
        entries.removeSubrange(Int(index - snapshotIndex - 1)...)
    }

    /// Drops the prefix through `index`, which a snapshot now covers.
    mutating func compact(through index: LogIndex) {
        guard index > snapshotIndex else { return }
        precondition(index <= lastIndex, "cannot compact beyond the last index")
        let term = term(at: index)!
        entries.removeFirst(Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = term
    }

    /// Replaces the whole log with the empty suffix of a snapshot at (`index`, `term`).
    mutating func reset(toSnapshotIndex index: LogIndex, term: Term) {
        entries = []
        snapshotIndex = index
        snapshotTerm = term
    }
}
