import Glibc

/// An error from a storage operation.
///
/// A struct rather than an enum so that new codes can be added without breaking callers. Every
/// error that concerns a file names it, and errors about file contents name the byte offset.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Compare with the static members (`.corruption`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case io, corruption, locked, invalidArgument, notFound, permissionDenied, noSpace
            case staleSnapshot, failed
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// A system call failed for a reason not covered by a more specific code.
        public static let io = Code(.io)
        /// Stored data failed a checksum or is structurally invalid.
        public static let corruption = Code(.corruption)
        /// Another process, or another `DiskStorage` in this process, holds the directory.
        public static let locked = Code(.locked)
        /// The caller broke the storage contract (non-contiguous entries, a snapshot past the log).
        public static let invalidArgument = Code(.invalidArgument)
        /// A file or directory does not exist.
        public static let notFound = Code(.notFound)
        /// The process may not read or write a file or directory.
        public static let permissionDenied = Code(.permissionDenied)
        /// The device is full.
        public static let noSpace = Code(.noSpace)
        /// The snapshot is not newer than the one already stored.
        public static let staleSnapshot = Code(.staleSnapshot)
        /// An earlier write or sync failed, so what is on disk is unknown; reopen the storage.
        public static let failed = Code(.failed)

        public var description: String {
            switch value {
            case .io: "I/O error"
            case .corruption: "corruption"
            case .locked: "locked"
            case .invalidArgument: "invalid argument"
            case .notFound: "not found"
            case .permissionDenied: "permission denied"
            case .noSpace: "no space left on device"
            case .staleSnapshot: "stale snapshot"
            case .failed: "storage failed"
            }
        }
    }

    public var code: Code
    /// What happened and what to do about it.
    public var message: String
    /// The file or directory concerned, if any.
    public var path: String?
    /// The byte offset in `path` where the problem was found, if it concerns file contents.
    public var offset: Int64?
    /// The `errno` of the failed system call, if any.
    public var errno: Int32?
    /// Where in the storage code the error was raised.
    public var sourceLocation: String

    public init(
        _ code: Code,
        _ message: String,
        path: String? = nil,
        offset: Int64? = nil,
        errno: Int32? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.errno = errno
        self.sourceLocation = "\(file):\(line)"
    }

    public var description: String {
        var text = "\(code)"
        if let path {
            text += " in \(path)"
        }
        if let offset {
            text += " at byte \(offset)"
        }
        text += ": \(message)"
        if let errno {
            text += " (errno \(errno): \(String(cString: strerror(errno))))"
        }
        return text
    }

    /// An error for a failed system call, with the code chosen from `errno`.
    static func system(
        _ operation: String,
        path: String,
        errno: Int32,
        offset: Int64? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> StorageError {
        let (code, advice): (Code, String) =
            switch errno {
            case ENOSPC, EDQUOT: (.noSpace, "free space on the device holding this file, then restart the node")
            case EACCES, EPERM, EROFS:
                (.permissionDenied, "give the server's user read and write access to the data directory")
            case ENOENT: (.notFound, "check the configured data directory exists")
            default: (.io, "check the device and the system log")
            }
        return StorageError(
            code,
            "\(operation) failed; \(advice)",
            path: path,
            offset: offset,
            errno: errno,
            file: file,
            line: line
        )
    }
}

/// Something recovery repaired on its own, reported so that the operator can see it.
public struct RecoveryWarning: Sendable, Hashable, CustomStringConvertible {
    /// What was found and what was done.
    public var message: String
    /// The file concerned.
    public var path: String
    /// Where in the file, if it concerns file contents.
    public var offset: Int64?

    public init(message: String, path: String, offset: Int64? = nil) {
        self.message = message
        self.path = path
        self.offset = offset
    }

    public var description: String {
        if let offset {
            return "\(path) at byte \(offset): \(message)"
        }
        return "\(path): \(message)"
    }
}
