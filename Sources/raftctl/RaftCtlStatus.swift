import ArgumentParser
import ClusterConfig
import RaftClient

/// raftctl's exit statuses, the contract scripts rely on.
enum RaftCtlStatus: Int32 {
    case success = 0
    /// A key that is missing, or a compare-and-swap that did not swap.
    case notFound = 1
    /// Bad arguments or configuration, or a group the cluster does not run.
    case usage = 2
    /// No node answered before the deadline.
    case unavailable = 3
    /// The cluster refused the credentials (none, an unknown token or certificate: HTTP 401) or
    /// the client's role does not allow the operation (HTTP 403).
    case denied = 4

    /// The status for an error that ended a command.
    init(for error: any Error) {
        switch error {
        case let exit as ExitCode:
            self = RaftCtlStatus(rawValue: exit.rawValue) ?? .usage
        case let error as RaftClientError:
            switch error.code {
            case .unknownGroup, .invalidRequest, .invalidResponse: self = .usage
            case .unauthenticated, .forbidden: self = .denied
            default: self = .unavailable
            }
        case is ConfigurationError:
            self = .usage
        case let error as RaftCtlError:
            self = error.status
        default:
            // The parser's own errors: --help (success) or bad arguments.
            self = RaftCtl.exitCode(for: error) == .success ? .success : .usage
        }
    }

    /// Whether `error` came from running a command rather than from parsing its arguments, so
    /// it is reported as itself and not with the usage text.
    static func isCommandError(_ error: any Error) -> Bool {
        error is RaftClientError || error is ConfigurationError || error is RaftCtlError
    }
}

/// A command's own failure: the message for standard error (after "raftctl: ") and the exit status.
struct RaftCtlError: Error, CustomStringConvertible {
    var status: RaftCtlStatus
    var description: String

    init(_ status: RaftCtlStatus, _ description: String) {
        self.status = status
        self.description = description
    }
}
