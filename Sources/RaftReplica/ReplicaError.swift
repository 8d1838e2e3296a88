public import RaftCore

/// Why a replica could not serve a request. Clients retry on `notLeader`, `leaderChanged`
/// and `overloaded` (after following `leaderHint`); the others are final.
public struct ReplicaError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: UInt8, Sendable, Hashable {
            case notLeader = 1
            case leaderChanged = 2
            case overloaded = 3
            case sessionExpired = 4
            case invalidRequest = 5
        }
        fileprivate var value: Value

        /// This node does not lead; try `leaderHint` or another node.
        public static let notLeader = Code(value: .notLeader)
        /// The request's log entry was lost to a leader change before it committed; retrying
        /// with the same client id and sequence number is safe.
        public static let leaderChanged = Code(value: .leaderChanged)
        /// Too much is in flight; retry shortly.
        public static let overloaded = Code(value: .overloaded)
        /// The request's sequence number is older than the client's latest applied one, or the
        /// client's session expired: the answer is no longer known.
        public static let sessionExpired = Code(value: .sessionExpired)
        /// The state machine could not decode the request.
        public static let invalidRequest = Code(value: .invalidRequest)

        public var rawValue: UInt8 { value.rawValue }

        public init?(rawValue: UInt8) {
            guard let value = Value(rawValue: rawValue) else { return nil }
            self.value = value
        }

        private init(value: Value) {
            self.value = value
        }

        /// Whether a client should try again (possibly on another node).
        public var isRetryable: Bool {
            self == .notLeader || self == .leaderChanged || self == .overloaded
        }

        public var description: String {
            switch value {
            case .notLeader: "notLeader"
            case .leaderChanged: "leaderChanged"
            case .overloaded: "overloaded"
            case .sessionExpired: "sessionExpired"
            case .invalidRequest: "invalidRequest"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The leader this node knows of, for `notLeader`.
    public var leaderHint: NodeID?

    public init(_ code: Code, _ message: String, leaderHint: NodeID? = nil) {
        self.code = code
        self.message = message
        self.leaderHint = leaderHint
    }

    public var description: String {
        "\(code): \(message)" + (leaderHint.map { " (leader: \($0))" } ?? "")
    }
}
