import NIOCore
import RaftCore
import Synchronization

/// The bounded queue of messages waiting for one peer's connection.
///
/// Producers never wait: when the queue is full the oldest messages make room and are counted
/// as dropped (Raft resends what matters, and the newest messages carry the freshest state).
/// One consumer takes everything queued at once, so a burst becomes one write and one flush.
final class OutboundQueue: Sendable {
    typealias Element = (group: GroupID, message: Message)
    private typealias Waiter = CheckedContinuation<[Element], Never>

    private struct State {
        var buffer: CircularBuffer<Element>
        var waiter: Waiter?
    }

    private let state: Mutex<State>
    private let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "queue capacity must be positive")
        self.capacity = capacity
        self.state = Mutex(State(buffer: CircularBuffer(initialCapacity: min(capacity, 64))))
    }

    /// Appends `messages`; returns how many queued messages were dropped to make room.
    func enqueue(_ messages: some Collection<Message>, group: GroupID) -> Int {
        let (waiter, batch, dropped) = state.withLock { state -> (Waiter?, [Element], Int) in
            var dropped = 0
            for message in messages {
                if state.buffer.count == capacity {
                    state.buffer.removeFirst()
                    dropped += 1
                }
                state.buffer.append((group, message))
            }
            guard let waiter = state.waiter else { return (nil, [], dropped) }
            state.waiter = nil
            return (waiter, Self.drain(&state), dropped)
        }
        waiter?.resume(returning: batch)
        return dropped
    }

    /// Waits for messages and takes all of them; returns an empty batch when the task is cancelled.
    func next() async -> [Element] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                let batch: [Element]? = state.withLock { state in
                    if !state.buffer.isEmpty {
                        return Self.drain(&state)
                    }
                    if Task.isCancelled {
                        return []
                    }
                    state.waiter = continuation
                    return nil
                }
                if let batch {
                    continuation.resume(returning: batch)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: [])
        }
    }

    private static func drain(_ state: inout State) -> [Element] {
        defer { state.buffer.removeAll(keepingCapacity: true) }
        return Array(state.buffer)
    }
}
