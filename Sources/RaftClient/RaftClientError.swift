package import RaftReplica

/// Why a ``RaftClient`` call failed.
///
/// Retryable conditions (no leader yet, a lost reply, a node that is down) never surface: the
/// client retries them until the call's deadline. What surfaces is either final or the
/// deadline itself.
public struct RaftClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unavailable
            case sessionExpired
            case invalidRequest
            case unknownGroup
            case invalidResponse
            case closed
            case unauthenticated
            case forbidden
        }

        private var value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The deadline passed before any node answered: no leader was reachable. A command's
        /// outcome is unknown (it may have been applied).
        public static let unavailable = Code(.unavailable)
        /// The group no longer knows this client's session (it was idle too long, or a newer
        /// request of the client was applied), so a command's outcome is unknown. Final.
        public static let sessionExpired = Code(.sessionExpired)
        /// The group's state machine could not decode the request, or it exceeds the frame
        /// size limit. Final.
        public static let invalidRequest = Code(.invalidRequest)
        /// The node does not run a group of this name. Final.
        public static let unknownGroup = Code(.unknownGroup)
        /// The group's answer could not be decoded as the plugin's response type. Final.
        public static let invalidResponse = Code(.invalidResponse)
        /// The client was closed.
        public static let closed = Code(.closed)
        /// The cluster requires credentials and none it recognises were sent. Final.
        public static let unauthenticated = Code(.unauthenticated)
        /// The client's role does not allow the request. Final.
        public static let forbidden = Code(.forbidden)

        /// The code a call ends with after a group's final answer (see
        /// `ReplicaError.Code.retry`): `sessionExpired`, `unauthenticated` and `forbidden` keep
        /// their names, anything else is an `invalidRequest`.
        package init(final code: ReplicaError.Code) {
            switch code {
            case .sessionExpired: self = .sessionExpired
            case .unauthenticated: self = .unauthenticated
            case .forbidden: self = .forbidden
            default: self = .invalidRequest
            }
        }

        /// The HTTP status of an answer that ends with this error (the host's HTTP API); the
        /// codes of a group's final answers keep the status `ReplicaError.Code` gives them.
        package var httpStatus: Int {
            switch value {
            case .sessionExpired: ReplicaError.Code.sessionExpired.httpStatus
            case .invalidRequest: ReplicaError.Code.invalidRequest.httpStatus
            case .unknownGroup: 404
            case .invalidResponse: 502
            case .unavailable, .closed: 503
            case .unauthenticated: ReplicaError.Code.unauthenticated.httpStatus
            case .forbidden: ReplicaError.Code.forbidden.httpStatus
            }
        }

        public var description: String {
            switch value {
            case .unavailable: "unavailable"
            case .sessionExpired: "sessionExpired"
            case .invalidRequest: "invalidRequest"
            case .unknownGroup: "unknownGroup"
            case .invalidResponse: "invalidResponse"
            case .closed: "closed"
            case .unauthenticated: "unauthenticated"
            case .forbidden: "forbidden"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The error that led to this one, such as the group's `ReplicaError` or the last
    /// connection error before the deadline.
    public var cause: (any Error & Sendable)?
    /// Where the error was made (`#fileID`).
    public var file: String
    /// Where the error was made (`#line`).
    public var line: Int

    /// Creates an error; plugin clients use it for responses they cannot interpret.
    public init(
        _ code: Code,
        _ message: String,
        cause: (any Error & Sendable)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    /// The error a call ends with after a group's final answer `error` (one whose code is not
    /// retryable).
    package init(final error: ReplicaError, file: String = #fileID, line: Int = #line) {
        self.init(Code(final: error.code), error.message, cause: error, file: file, line: line)
    }

    public var description: String {
        "\(code): \(message)" + (cause.map { " (cause: \($0))" } ?? "")
    }
}
