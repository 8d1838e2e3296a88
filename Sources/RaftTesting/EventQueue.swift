import HeapModule

/// Virtual time in microseconds since the start of a simulation.
public typealias VirtualTime = UInt64

extension VirtualTime {
    public static func milliseconds(_ value: UInt64) -> VirtualTime { value * 1_000 }
    public static func seconds(_ value: UInt64) -> VirtualTime { value * 1_000_000 }
}

/// Events ordered by virtual time, ties broken by scheduling order so runs replay exactly.
struct EventQueue<Action> {
    private struct Scheduled: Comparable {
        var time: VirtualTime
        var sequence: UInt64
        var action: Action

        static func < (lhs: Scheduled, rhs: Scheduled) -> Bool {
            (lhs.time, lhs.sequence) < (rhs.time, rhs.sequence)
        }

        static func == (lhs: Scheduled, rhs: Scheduled) -> Bool {
            (lhs.time, lhs.sequence) == (rhs.time, rhs.sequence)
        }
    }

    private var heap = Heap<Scheduled>()
    private var nextSequence: UInt64 = 0

    var count: Int { heap.count }

    mutating func schedule(at time: VirtualTime, _ action: Action) {
        heap.insert(Scheduled(time: time, sequence: nextSequence, action: action))
        nextSequence += 1
    }

    /// Removes and returns the earliest event if it is due at or before `limit`.
    mutating func popFirst(notAfter limit: VirtualTime) -> (time: VirtualTime, action: Action)? {
        guard let first = heap.min, first.time <= limit else { return nil }
        let event = heap.removeMin()
        return (event.time, event.action)
    }
}
