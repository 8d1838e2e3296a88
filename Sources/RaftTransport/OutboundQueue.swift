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

    /// What the consumer takes at once: the queued messages, and whether a liveness ping is
    /// due (one at most, however many were asked for meanwhile).
    struct Batch {
        var messages: [Element]
        var ping: Bool
    }

    private typealias Waiter = CheckedContinuation<Batch?, Never>

    private struct State {
        var buffer: CircularBuffer<Element>
        var pingDue = false
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
        let (waiter, batch, dropped) = state.withLock { state -> (Waiter?, Batch?, Int) in
            var dropped = 0
            for message in messages {
                if state.buffer.count == capacity {
                    state.buffer.removeFirst()
                    dropped += 1
                }
                state.buffer.append((group, message))
            }
            guard let waiter = state.waiter else { return (nil, nil, dropped) }
            state.waiter = nil
            return (waiter, Self.drain(&state), dropped)
        }
        waiter?.resume(returning: batch)
        return dropped
    }

    /// Asks for a liveness ping with the next write.
    func enqueuePing() {
        let (waiter, batch) = state.withLock { state -> (Waiter?, Batch?) in
            state.pingDue = true
            guard let waiter = state.waiter else { return (nil, nil) }
            state.waiter = nil
            return (waiter, Self.drain(&state))
        }
        waiter?.resume(returning: batch)
    }

    /// Waits for messages or a ping and takes everything queued; returns nil when the task is
    /// cancelled.
    func next() async -> Batch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                let immediate: Batch?? = state.withLock { state in
                    if !state.buffer.isEmpty || state.pingDue {
                        return .some(Self.drain(&state))
                    }
                    if Task.isCancelled {
                        return .some(nil)
                    }
                    state.waiter = continuation
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    private static func drain(_ state: inout State) -> Batch {
        defer {
            state.buffer.removeAll(keepingCapacity: true)
            state.pingDue = false
        }
        return Batch(messages: Array(state.buffer), ping: state.pingDue)
    }
}
