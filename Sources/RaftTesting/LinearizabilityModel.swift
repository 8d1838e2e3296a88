/// A sequential specification of an object, for ``LinearizabilityChecker``.
///
/// The model says which outputs an operation may return in a given state, and which states it
/// may leave. It also splits histories into independent parts ("P-compositionality"): the
/// operations on one key of a key/value store never constrain those on another, so each key
/// is checked on its own, which turns one exponential search into many small ones.
///
/// Models may be nondeterministic (``step(_:input:output:)`` returns every possible next
/// state), which is how they handle operations whose outcome is unknown.
public protocol LinearizabilityModel: Sendable {
    /// What the model remembers; hashed to memoize the search, so keep it small.
    associatedtype State: Hashable
    /// An operation's arguments.
    associatedtype Input: Sendable
    /// An operation's result.
    associatedtype Output: Sendable
    /// Identifies an independent part of the history (a key, a lock).
    associatedtype PartitionKey: Hashable & Sendable

    /// The state before any operation.
    var initialState: State { get }

    /// The states the object may be in after applying `input` in `state` and answering
    /// `output`; empty when `output` is impossible there. `output` is `nil` when the outcome is
    /// unknown (the client never heard back): any output is then acceptable.
    func step(_ state: State, input: Input, output: Output?) -> [State]

    /// The part of the history `input` belongs to. Operations in different parts must not
    /// affect each other's outputs.
    func partition(of input: Input) -> PartitionKey

    /// True when `input` never changes the state (a read). The checker drops reads of unknown
    /// outcome, which constrain nothing but would double the search space each. Defaults to
    /// `false`.
    func isReadOnly(_ input: Input) -> Bool
}

extension LinearizabilityModel {
    public func isReadOnly(_ input: Input) -> Bool { false }
}

/// One operation of a client history: what was asked, when, and what came back.
///
/// Times are in any unit (virtual nanoseconds in the simulator), as long as they are
/// consistent: an operation takes effect at one instant between its call and its return.
/// Intervals are closed, so an operation that returns at the instant another is called is
/// treated as concurrent with it.
public struct LinearizabilityOperation<Input: Sendable, Output: Sendable>: Sendable {
    /// The result of an operation.
    public enum Outcome: Sendable {
        /// The client got `output` at time `at`.
        case returned(Output, at: UInt64)
        /// The client never heard back (timeout, crash): the operation may have taken effect at
        /// any time after its call, or not at all. Its return time is taken as +infinity.
        case unknown
    }

    /// Who issued the operation, for reports.
    public var client: Int
    /// What the client asked.
    public var input: Input
    /// When the client issued the operation.
    public var call: UInt64
    /// What came back, and when.
    public var outcome: Outcome

    public init(client: Int, input: Input, call: UInt64, outcome: Outcome) {
        self.client = client
        self.input = input
        self.call = call
        self.outcome = outcome
    }

    /// An operation that returned `output` at `returned`.
    public init(client: Int, input: Input, call: UInt64, output: Output, returned: UInt64) {
        self.init(client: client, input: input, call: call, outcome: .returned(output, at: returned))
    }

    /// The output, or `nil` when the outcome is unknown.
    public var output: Output? {
        if case .returned(let output, _) = outcome { output } else { nil }
    }

    /// The return time, or `nil` (+infinity) when the outcome is unknown.
    public var returned: UInt64? {
        if case .returned(_, let time) = outcome { time } else { nil }
    }
}

extension LinearizabilityOperation: CustomStringConvertible {
    public var description: String {
        switch outcome {
        case .returned(let output, let time):
            "client \(client): \(input) -> \(output) [\(call), \(time)]"
        case .unknown:
            "client \(client): \(input) -> ? [\(call), ∞)"
        }
    }
}

/// The answer of a linearizability check.
public enum LinearizabilityVerdict: Sendable, Hashable {
    /// Every partition has a legal linearization.
    case linearizable
    /// Some partition has none; ``LinearizabilityResult/failure`` shows why.
    case notLinearizable
    /// The time limit ran out before every partition was decided (and none failed).
    case unknown
}

/// Why a partition is not linearizable.
public struct LinearizabilityFailure<Model: LinearizabilityModel>: Sendable, CustomStringConvertible {
    public typealias Operation = LinearizabilityOperation<Model.Input, Model.Output>

    /// The partition (key) that has no linearization.
    public var partition: Model.PartitionKey
    /// The longest legal sequential order the search found for the partition's operations.
    public var longestLinearization: [Operation]
    /// The operation that could not come next: it had returned, so it had to be placed, but no
    /// state reachable by the order above accepts it (nor any other order as long).
    public var stuck: Operation
    /// The shortest prefix of the partition's history that is not linearizable: the operations
    /// called by the earliest return time T at which the history stops being linearizable,
    /// sorted by call time, with those still running at T shown as unknown. Found by binary
    /// search when the time limit allows; otherwise the history up to the return of `stuck`.
    public var prefix: [Operation]

    /// A human-readable explanation, with the operations involved.
    public var description: String {
        var lines = ["partition \(partition) is not linearizable: no legal order places \(stuck)"]
        lines.append("longest legal order found (\(longestLinearization.count) operations):")
        lines += longestLinearization.suffix(Self.shownOperations).map { "  \($0)" }
        lines.append("history up to that return (\(prefix.count) operations):")
        lines += prefix.suffix(Self.shownOperations).map { "  \($0)" }
        return lines.joined(separator: "\n")
    }

    private static var shownOperations: Int { 20 }
}

/// The result of ``LinearizabilityChecker/check(_:)``.
public struct LinearizabilityResult<Model: LinearizabilityModel>: Sendable, CustomStringConvertible {
    /// Whether the history is linearizable, is not, or could not be decided in time.
    public var verdict: LinearizabilityVerdict
    /// Set when ``verdict`` is ``LinearizabilityVerdict/notLinearizable``.
    public var failure: LinearizabilityFailure<Model>?
    /// Partitions left undecided when the time limit ran out.
    public var undecidedPartitions: [Model.PartitionKey]
    /// The number of independent parts the history was split into.
    public var partitionCount: Int
    /// The number of operations in the history.
    public var operationCount: Int
    /// Model steps taken by the search, over all partitions (a measure of the work done).
    public var steps: Int
    /// Wall-clock time the check took.
    public var elapsed: Duration

    /// True when ``verdict`` is ``LinearizabilityVerdict/linearizable``.
    public var isLinearizable: Bool { verdict == .linearizable }

    public var description: String {
        let summary = "\(operationCount) operations in \(partitionCount) partitions, \(steps) steps, \(elapsed)"
        switch verdict {
        case .linearizable:
            return "linearizable (\(summary))"
        case .notLinearizable:
            return "NOT linearizable (\(summary))\n" + (failure.map(String.init(describing:)) ?? "")
        case .unknown:
            return "unknown: time limit reached with \(undecidedPartitions.count) undecided partition(s) (\(summary))"
        }
    }
}
