public import RaftCore

/// Why a replica could not serve a request. Clients retry on `notLeader`, `leaderChanged`
/// and `overloaded` (after following `leaderHint`); the others are final. ``Code`` holds the
/// one table of what each code means to a client (whether and where to retry, the HTTP status).
public struct ReplicaError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: UInt8, Sendable, Hashable {
            case notLeader = 1
            case leaderChanged = 2
            case overloaded = 3
            case sessionExpired = 4
            case invalidRequest = 5
            case unauthenticated = 6
            case forbidden = 7
        }
        fileprivate var value: Value

        /// This node does not lead; try `leaderHint` or another node.
        public static let notLeader = Code(value: .notLeader)
        /// The request's log entry was lost to a leader change before it committed, or the
        /// leader refused it while handing its leadership over; retrying with the same client
        /// id and sequence number is safe.
        public static let leaderChanged = Code(value: .leaderChanged)
        /// Too much is in flight; retry shortly.
        public static let overloaded = Code(value: .overloaded)
        /// The request's sequence number is older than the client's latest applied one, or the
        /// client's session expired: the answer is no longer known.
        public static let sessionExpired = Code(value: .sessionExpired)
        /// The state machine could not decode the request.
        public static let invalidRequest = Code(value: .invalidRequest)
        /// The cluster requires credentials (`auth` in `cluster.yaml`) and the request had none
        /// the node recognises.
        public static let unauthenticated = Code(value: .unauthenticated)
        /// The client is known, but its role does not allow the request.
        public static let forbidden = Code(value: .forbidden)

        public var rawValue: UInt8 { value.rawValue }

        public init?(rawValue: UInt8) {
            guard let value = Value(rawValue: rawValue) else { return nil }
            self.value = value
        }

        private init(value: Value) {
            self.value = value
        }

        /// Where a client sends its next attempt after an answer with a retryable code.
        package enum Retry: Sendable, Hashable {
            /// To another node: the leader `leaderHint` names, else the next one.
            case anotherNode
            /// To the same node after a pause: it is up and may well lead.
            case sameNodeAfterPause
        }

        /// What a client does with each code; every client (`RaftClient`, the host's leader
        /// router and its HTTP API) follows this one table.
        ///
        /// - `retry`: where to try again, `nil` for a final code;
        /// - `httpStatus`: the status of an HTTP answer that ends with this code (a retryable
        ///   code ends a request only when it cannot be retried, as with a stale read or at the
        ///   deadline: 503).
        private var handling: (retry: Retry?, httpStatus: Int) {
            switch value {
            case .notLeader: (.anotherNode, 503)
            case .leaderChanged: (.sameNodeAfterPause, 503)
            case .overloaded: (.sameNodeAfterPause, 503)
            // The client's session moved past this sequence number: whether the command was
            // applied is no longer known, and retrying cannot tell. A conflict with the
            // session's state (the client reused an old number), not a fault of the server.
            case .sessionExpired: (nil, 409)
            case .invalidRequest: (nil, 400)
            case .unauthenticated: (nil, 401)
            case .forbidden: (nil, 403)
            }
        }

        /// Whether a client should try again (possibly on another node).
        public var isRetryable: Bool { handling.retry != nil }

        /// Where a client tries again; `nil` when the code is final.
        package var retry: Retry? { handling.retry }

        /// The HTTP status of an answer that ends with this code.
        package var httpStatus: Int { handling.httpStatus }

        public var description: String {
            switch value {
            case .notLeader: "notLeader"
            case .leaderChanged: "leaderChanged"
            case .overloaded: "overloaded"
            case .sessionExpired: "sessionExpired"
            case .invalidRequest: "invalidRequest"
            case .unauthenticated: "unauthenticated"
            case .forbidden: "forbidden"
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
