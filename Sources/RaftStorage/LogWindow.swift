import RaftCore

/// Something stored per log position that knows its term.
protocol TermCarrying: Sendable {
    var term: Term { get }
}

extension Entry: TermCarrying {}

/// The log after a base point `(baseIndex, baseTerm)` (the snapshot point, or `(0, 0)`): the
/// element at array position `i` is index `baseIndex + 1 + i`.
///
/// Shared by `MemoryStorage` (elements are entries), `DiskStorage` (elements are file locations)
/// and recovery, so that the three apply the same rules.
struct LogWindow<Element: TermCarrying>: Sendable {
    private(set) var baseIndex: LogIndex = 0
    private(set) var baseTerm: Term = 0
    private(set) var elements: [Element] = []

    var lastIndex: LogIndex { baseIndex + LogIndex(elements.count) }

    /// The term at `index`, including the base point; nil outside the window.
    func term(at index: LogIndex) -> Term? {
        if index == baseIndex {
            return baseTerm
        }
        guard index > baseIndex, index <= lastIndex else {
            return nil
        }
        return elements[Int(index - baseIndex - 1)].term
    }

    /// Whether an append starting at `index` is allowed: after the base, at most one past the end.
    func canAppend(at index: LogIndex) -> Bool {
        index > baseIndex && index <= lastIndex + 1
    }

    /// Drops the elements from `index` on, then appends `element` as `index`. `canAppend(at:)` must hold.
    mutating func put(_ element: Element, at index: LogIndex) {
        precondition(canAppend(at: index), "log window: index \(index) outside \(baseIndex + 1)...\(lastIndex + 1)")
        elements.removeSubrange(Int(index - baseIndex - 1)...)
        elements.append(element)
    }

    /// Makes `(index, term)` the new base. Keeps the elements after it only if the window holds that
    /// exact `(index, term)`; otherwise the window becomes empty.
    mutating func rebase(index: LogIndex, term: Term) {
        if self.term(at: index) == term {
            elements.removeFirst(Int(index - baseIndex))
        } else {
            elements.removeAll()
        }
        baseIndex = index
        baseTerm = term
    }

    /// Replaces every element, keeping positions; used when the elements' storage moves.
    mutating func replaceElements(_ newElements: [Element]) {
        precondition(newElements.count == elements.count)
        elements = newElements
    }

    /// Validates `entries` against the window (contiguous, in range) without changing anything.
    func validate(_ entries: [Entry]) throws(StorageError) {
        guard let first = entries.first else {
            return
        }
        guard canAppend(at: first.index) else {
            throw StorageError(
                .invalidArgument,
                "append at index \(first.index), but the log accepts \(baseIndex + 1)...\(lastIndex + 1)"
            )
        }
        for (offset, entry) in entries.enumerated() where entry.index != first.index + LogIndex(offset) {
            throw StorageError(
                .invalidArgument,
                "entries are not contiguous: found index \(entry.index) where \(first.index + LogIndex(offset)) belongs"
            )
        }
    }
}
