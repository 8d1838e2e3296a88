import Synchronization

/// Records a concurrent client history for ``LinearizabilityChecker``, from any number of
/// tasks or threads at once.
///
/// Call ``call(client:_:)`` just before sending a request and ``returned(_:_:)`` as soon as
/// its response arrives; an operation that never returns (the client timed out, the test ended)
/// goes into the history with an unknown outcome, as the checker expects.
///
/// ```swift
/// let recorder = LinearizabilityRecorder<KeyValueModel.Input, KeyValueStore.Response>(now: { simulator.now })
/// let ticket = recorder.call(client: 3, .append("k", "x 3 1 y"))
/// let response = try await clerk.append("k", "x 3 1 y")
/// recorder.returned(ticket, response)
/// ...
/// let result = LinearizabilityChecker(model: KeyValueModel()).check(recorder.history())
/// ```
public final class LinearizabilityRecorder<Input: Sendable, Output: Sendable>: Sendable {
    public typealias Operation = LinearizabilityOperation<Input, Output>

    /// Identifies one recorded call, to report its return.
    public struct Ticket: Sendable, Hashable {
        fileprivate let index: Int
    }

    private let now: @Sendable () -> UInt64
    private let operations = Mutex<[Operation]>([])

    /// A recorder reading time from `now`: the simulator's virtual clock, for example. It must
    /// never go backwards.
    public init(now: @escaping @Sendable () -> UInt64) {
        self.now = now
    }

    /// A recorder reading nanoseconds of `ContinuousClock` since its creation, for tests
    /// against real processes.
    public convenience init() {
        let clock = ContinuousClock()
        let start = clock.now
        self.init(now: {
            let elapsed = (clock.now - start).components
            return UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
        })
    }

    /// Records that `client` is about to send `input`, stamped now.
    public func call(client: Int, _ input: Input) -> Ticket {
        operations.withLock { operations in
            // Read the clock under the lock so that call times follow the recording order.
            operations.append(Operation(client: client, input: input, call: now(), outcome: .unknown))
            return Ticket(index: operations.count - 1)
        }
    }

    /// Records that the call of `ticket` returned `output`, stamped now. Only the first return
    /// of a ticket counts.
    public func returned(_ ticket: Ticket, _ output: Output) {
        operations.withLock { operations in
            guard case .unknown = operations[ticket.index].outcome else { return }
            operations[ticket.index].outcome = .returned(output, at: now())
        }
    }

    /// Everything recorded so far; calls that have not returned have an unknown outcome.
    public func history() -> [Operation] {
        operations.withLock { $0 }
    }
}
