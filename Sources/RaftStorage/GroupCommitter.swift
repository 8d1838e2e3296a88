import Dispatch
public import RaftCore
import Synchronization

/// Group commit in front of a `PersistentStorage`: everything submitted while a sync is in flight
/// goes out together in the next single append and sync.
///
/// Callers on any task `await append(...)` and return once their data is durable. Submissions are
/// applied in the order `submit` was called, so callers that need an order (entries carry indices)
/// submit from one place and may wait anywhere. A lock guards the queue; the writes and syncs run
/// on a serial dispatch queue of their own, since a blocking `fdatasync` must not occupy a thread
/// of Swift's cooperative pool.
public final class GroupCommitter: Sendable {
    /// Identifies one submission; wait on it with `waitUntilDurable(_:)`.
    public struct Ticket: Sendable, Hashable {
        fileprivate let number: UInt64
    }

    private struct State: Sendable {
        /// Entries submitted and not yet handed to the storage, merged like the storage would.
        var entries: [Entry] = []
        var hardState: HardState?
        var lastSubmitted: UInt64 = 0
        /// Every submission up to this number is durable.
        var lastDurable: UInt64 = 0
        /// Set when a write or sync failed: that and every later submission fail with it.
        var failure: StorageError?
        var flushing = false
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Result<Void, StorageError>, Never>)] = []
    }

    private let storage: any PersistentStorage
    private let queue = DispatchQueue(label: "RaftStorage.GroupCommitter")
    private let state = Mutex(State())

    /// Commits through `storage`, which nobody else should write to meanwhile.
    public init(storage: any PersistentStorage) {
        self.storage = storage
    }

    /// Queues `entries` (with the storage's append semantics: they replace anything queued or stored
    /// from their first index on) and `hardState`, and starts a flush if none is running.
    public func submit(_ entries: [Entry], hardState: HardState? = nil) -> Ticket {
        let (ticket, startFlush) = state.withLock { state in
            if let first = entries.first?.index {
                if let kept = state.entries.firstIndex(where: { $0.index >= first }) {
                    state.entries.removeSubrange(kept...)
                }
                state.entries.append(contentsOf: entries)
            }
            if let hardState {
                state.hardState = hardState
            }
            state.lastSubmitted += 1
            let startFlush = !state.flushing
            state.flushing = true
            return (Ticket(number: state.lastSubmitted), startFlush)
        }
        if startFlush {
            queue.async { self.flushUntilIdle() }
        }
        return ticket
    }

    /// Returns once the submission is durable; throws the storage's error if its write or sync failed.
    /// Not cancellable: the write goes ahead regardless.
    public func waitUntilDurable(_ ticket: Ticket) async throws(StorageError) {
        let result = await withCheckedContinuation { continuation in
            let immediate: Result<Void, StorageError>? = state.withLock { state in
                if ticket.number <= state.lastDurable {
                    return .success(())
                }
                if let failure = state.failure {
                    return .failure(failure)
                }
                state.waiters.append((ticket.number, continuation))
                return nil
            }
            if let immediate {
                continuation.resume(returning: immediate)
            }
        }
        try result.get()
    }

    /// Submits and waits: returns once `entries` and `hardState` are durable.
    public func append(_ entries: [Entry], hardState: HardState? = nil) async throws(StorageError) {
        try await waitUntilDurable(submit(entries, hardState: hardState))
    }

    private func flushUntilIdle() {
        while true {
            let batch: (entries: [Entry], hardState: HardState?, through: UInt64)? = state.withLock { state in
                guard state.lastSubmitted > state.lastDurable, state.failure == nil else {
                    state.flushing = false
                    return nil
                }
                defer {
                    state.entries = []
                    state.hardState = nil
                }
                return (state.entries, state.hardState, state.lastSubmitted)
            }
            guard let batch else {
                return
            }
            var outcome = Result<Void, StorageError>.success(())
            do throws(StorageError) {
                try storage.append(batch.entries)
                if let hardState = batch.hardState {
                    try storage.saveHardState(hardState)
                }
                try storage.sync()
            } catch {
                outcome = .failure(error)
            }
            let finished = state.withLock { state in
                switch outcome {
                case .success: state.lastDurable = batch.through
                case .failure(let error): state.failure = error
                }
                // After a failure every waiter fails, including those of later submissions.
                let failed = state.failure != nil
                let finished = state.waiters.filter { failed || $0.ticket <= batch.through }
                state.waiters.removeAll { failed || $0.ticket <= batch.through }
                return finished
            }
            for waiter in finished {
                waiter.continuation.resume(returning: outcome)
            }
        }
    }
}
