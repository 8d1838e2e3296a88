import Dispatch
import Synchronization

import class Foundation.Thread

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether a concurrent history of operations is linearizable with respect to a
/// sequential ``LinearizabilityModel``.
///
/// The search is Wing & Gong's, with Lowe's memoization, as in Porcupine: the history becomes a
/// list of call and return events sorted by time; the search walks it, linearizing any
/// operation whose call has been seen and that the model accepts, and backtracks when it meets
/// the return of an operation it has not linearized. A cache of (set of linearized operations,
/// model state) pairs prunes every configuration already explored, which keeps typical
/// histories near-linear. Each partition of the history (``LinearizabilityModel/partition(of:)``)
/// is searched on its own, in parallel, all under one time limit: a search that runs out of
/// time yields ``LinearizabilityVerdict/unknown`` instead of hanging.
///
/// The problem is NP-complete, and the search shows it where many operations on one key
/// overlap with long runs of writes between reads (the order of the writes is only revealed by
/// the next read, so wrong orders are explored until then). With up to about two clients busy
/// on each key, tens of thousands of operations take well under a second; with four or more,
/// expect the time limit. Proving a history wrong costs more than accepting a right one: the
/// search must exhaust every order before the failure, then shrinks it to the shortest failing
/// prefix.
///
/// ```swift
/// let checker = LinearizabilityChecker(model: KeyValueModel())
/// let result = checker.check(history)
/// #expect(result.isLinearizable, "\(result)")
/// ```
public struct LinearizabilityChecker<Model: LinearizabilityModel>: Sendable {
    public typealias Operation = LinearizabilityOperation<Model.Input, Model.Output>

    /// The sequential specification histories are checked against.
    public var model: Model
    /// How long a whole check may take before it gives up with an unknown verdict.
    public var timeLimit: Duration

    /// A checker for `model` that gives up after `timeLimit` (shared by all partitions).
    public init(model: Model, timeLimit: Duration = .seconds(30)) {
        self.model = model
        self.timeLimit = timeLimit
    }

    /// Checks `history`. Operations may come in any order.
    public func check(_ history: [Operation]) -> LinearizabilityResult<Model> {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeLimit

        var keys: [Model.PartitionKey] = []
        var partitions: [Model.PartitionKey: [Operation]] = [:]
        for operation in history where operation.returned != nil || !model.isReadOnly(operation.input) {
            let key = model.partition(of: operation.input)
            if partitions[key] == nil {
                keys.append(key)
            }
            partitions[key, default: []].append(operation)
        }
        let parts = keys.map { partitions[$0] ?? [] }

        // Partitions are independent: search them on all cores, largest first so that one big
        // partition does not start last. A failure anywhere stops the others.
        let schedule = parts.indices.sorted { parts[$0].count > parts[$1].count }
        let outcomes = Mutex<[Int: PartitionOutcome]>([:])
        let stop = Atomic<Bool>(false)
        let next = Atomic<Int>(0)
        let workers = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), schedule.count))
        let model = self.model
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while !stop.load(ordering: .relaxed) {
                let position = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard position < schedule.count else { return }
                let index = schedule[position]
                var search = PartitionSearch(model: model, operations: parts[index])
                var outcome = search.run(clock: clock, deadline: deadline, stop: stop)
                if case .failure(let details, let steps) = outcome {
                    stop.store(true, ordering: .relaxed)
                    outcome = Self.shrink(
                        details,
                        steps: steps,
                        of: parts[index],
                        model: model,
                        clock: clock,
                        deadline: deadline
                    )
                }
                outcomes.withLock { $0[index] = outcome }
            }
        }

        let results = outcomes.withLock { $0 }
        var steps = 0
        var undecided: [Model.PartitionKey] = []
        var failure: LinearizabilityFailure<Model>?
        for index in parts.indices {
            switch results[index] {
            case .linearizable(let count):
                steps += count
            case .failure(let details, let count):
                steps += count
                if failure == nil {
                    failure = LinearizabilityFailure(
                        partition: keys[index],
                        longestLinearization: details.longest,
                        stuck: details.stuck,
                        prefix: details.prefix
                    )
                }
            case .undecided(let count):
                steps += count
                undecided.append(keys[index])
            case nil:
                // Never started: another partition failed first.
                undecided.append(keys[index])
            }
        }
        let verdict: LinearizabilityVerdict =
            failure != nil ? .notLinearizable : (undecided.isEmpty ? .linearizable : .unknown)
        return LinearizabilityResult(
            verdict: verdict,
            failure: failure,
            undecidedPartitions: failure == nil ? undecided : [],
            partitionCount: parts.count,
            operationCount: history.count,
            steps: steps,
            elapsed: clock.now - start
        )
    }

    /// ``check(_:)`` on a thread of its own, for async tests: a search of up to ``timeLimit``
    /// must not hold one of the few threads of Swift's cooperative pool, which servers under
    /// test in the same process need.
    public func checkOnDedicatedThread(_ history: [Operation]) async -> LinearizabilityResult<Model> {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: check(history)) }.start()
        }
    }

    /// Finds the shortest failing prefix of a partition's history by binary search over return
    /// times: linearizability is prefix-closed, so if the history up to time T is not
    /// linearizable, neither is any longer one. Stops early, keeping what it has, at the deadline.
    private static func shrink(
        _ failure: FailureDetails,
        steps: Int,
        of operations: [Operation],
        model: Model,
        clock: ContinuousClock,
        deadline: ContinuousClock.Instant
    ) -> PartitionOutcome {
        let times = Set(operations.compactMap(\.returned)).sorted()
        var best = failure
        var total = steps
        // prefix(times[linearizable]) is linearizable (-1: the empty prefix); prefix(times[failing])
        // is not (times.count: the whole history).
        var linearizable = -1
        var failing = times.count
        let neverStop = Atomic<Bool>(false)
        shrinking: while failing - linearizable > 1 {
            let middle = (linearizable + failing) / 2
            let prefix = Self.prefix(of: operations, at: times[middle], model: model)
            var search = PartitionSearch(model: model, operations: prefix)
            switch search.run(clock: clock, deadline: deadline, stop: neverStop) {
            case .failure(var details, let steps):
                total += steps
                details.prefix = prefix.sorted { $0.call < $1.call }
                best = details
                failing = middle
            case .linearizable(let steps):
                total += steps
                linearizable = middle
            case .undecided(let steps):
                total += steps
                break shrinking
            }
        }
        return .failure(best, steps: total)
    }

    /// The history as it stood at `time`: operations called by then, those still running shown
    /// with an unknown outcome (reads of unknown outcome dropped, as ``check(_:)`` does).
    private static func prefix(of operations: [Operation], at time: UInt64, model: Model) -> [Operation] {
        operations.compactMap { operation in
            guard operation.call <= time else { return nil }
            guard let returned = operation.returned, returned <= time else {
                if model.isReadOnly(operation.input) { return nil }
                var pending = operation
                pending.outcome = .unknown
                return pending
            }
            return operation
        }
    }

    fileprivate struct FailureDetails: Sendable {
        var longest: [Operation]
        var stuck: Operation
        var prefix: [Operation]
    }

    fileprivate enum PartitionOutcome: Sendable {
        case linearizable(steps: Int)
        case failure(FailureDetails, steps: Int)
        case undecided(steps: Int)
    }

    /// The search over one partition: a doubly linked list of events ("dancing links", so that
    /// removing and restoring a linearized operation is O(1)) and a stack of choices.
    private struct PartitionSearch {
        let model: Model
        let operations: [Operation]
        // Node 0 is the head sentinel; operation i has call node 2i+1 and return node 2i+2.
        var next: [Int]
        var prev: [Int]

        init(model: Model, operations: [Operation]) {
            self.model = model
            self.operations = operations

            var events: [(node: Int, unknown: Bool, time: UInt64)] = []
            events.reserveCapacity(operations.count * 2)
            for (index, operation) in operations.enumerated() {
                events.append((node: 2 * index + 1, unknown: false, time: operation.call))
                // A return before the call is a clock glitch of the recorder: treat it as instant.
                let returned = operation.returned.map { max($0, operation.call) }
                events.append((node: 2 * index + 2, unknown: returned == nil, time: returned ?? .max))
            }
            // Unknown outcomes return at +infinity. At equal times calls come before returns,
            // so touching intervals count as concurrent (the permissive reading).
            events.sort { lhs, rhs in
                if lhs.unknown != rhs.unknown { return !lhs.unknown }
                if lhs.time != rhs.time { return lhs.time < rhs.time }
                return lhs.node % 2 > rhs.node % 2
            }
            next = Array(repeating: -1, count: operations.count * 2 + 1)
            prev = Array(repeating: -1, count: operations.count * 2 + 1)
            var last = 0
            for event in events {
                next[last] = event.node
                prev[event.node] = last
                last = event.node
            }
        }

        private mutating func unlink(_ node: Int) {
            next[prev[node]] = next[node]
            if next[node] >= 0 {
                prev[next[node]] = prev[node]
            }
        }

        private mutating func relink(_ node: Int) {
            next[prev[node]] = node
            if next[node] >= 0 {
                prev[next[node]] = node
            }
        }

        private struct CacheKey: Hashable {
            var linearized: [UInt64]
            var state: Model.State
        }

        mutating func run(
            clock: ContinuousClock,
            deadline: ContinuousClock.Instant,
            stop: borrowing Atomic<Bool>
        ) -> PartitionOutcome {
            var state = model.initialState
            var linearized = [UInt64](repeating: 0, count: (operations.count + 63) / 64)
            var cache = Set<CacheKey>()
            var stack: [(operation: Int, state: Model.State)] = []
            var longest: [Int] = []
            var stuck = -1
            var steps = 0

            var entry = next[0]
            while entry >= 0 {
                steps += 1
                if steps & 0x3ff == 0 && (clock.now >= deadline || stop.load(ordering: .relaxed)) {
                    return .undecided(steps: steps)
                }
                let index = (entry - 1) / 2
                if entry % 2 == 1 {
                    let operation = operations[index]
                    linearized[index / 64] |= 1 << UInt64(index % 64)
                    var advanced = false
                    for successor in model.step(state, input: operation.input, output: operation.output) {
                        if cache.insert(CacheKey(linearized: linearized, state: successor)).inserted {
                            stack.append((index, state))
                            state = successor
                            unlink(entry)
                            unlink(entry + 1)
                            entry = next[0]
                            advanced = true
                            break
                        }
                    }
                    if !advanced {
                        linearized[index / 64] &= ~(1 << UInt64(index % 64))
                        entry = next[entry]
                    }
                } else {
                    // Only operations of unknown outcome are left: they never took effect.
                    if operations[index].returned == nil {
                        return .linearizable(steps: steps)
                    }
                    if stack.count > longest.count || stuck < 0 {
                        longest = stack.map(\.operation)
                        stuck = index
                    }
                    guard let frame = stack.popLast() else {
                        return .failure(failureDetails(longest: longest, stuck: stuck), steps: steps)
                    }
                    linearized[frame.operation / 64] &= ~(1 << UInt64(frame.operation % 64))
                    state = frame.state
                    let call = 2 * frame.operation + 1
                    relink(call + 1)
                    relink(call)
                    // Retry the same operation: its next state not yet in the cache, if any, is
                    // the next choice; otherwise the search moves past it.
                    entry = call
                }
            }
            return .linearizable(steps: steps)
        }

        private func failureDetails(longest: [Int], stuck: Int) -> FailureDetails {
            let stuckOperation = operations[stuck]
            let end = stuckOperation.returned ?? .max
            let prefix =
                operations
                .filter { $0.call <= end }
                .sorted { $0.call < $1.call }
                .map { operation in
                    var operation = operation
                    if let returned = operation.returned, returned > end {
                        operation.outcome = .unknown
                    }
                    return operation
                }
            return FailureDetails(longest: longest.map { operations[$0] }, stuck: stuckOperation, prefix: prefix)
        }
    }
}
