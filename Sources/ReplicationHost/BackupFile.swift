import Glibc
import Synchronization

/// A backup file being sent (``RaftNode/backup(of:)``): opened, then unlinked at once, so that
/// nothing is left behind however the sending ends, a crash included. The open descriptor
/// keeps the data readable until the last reference goes.
final class BackupFile: Sendable {
    /// The file's size in bytes.
    let count: Int
    private let descriptor: Int32
    private let path: String

    private static let written = Atomic<Int>(0)

    /// A name for a new backup file, unique in the process. It ends in `.tmp`, which storage
    /// recovery removes should the process stop between writing and opening it.
    static func temporaryName() -> String {
        "backup-\(getpid())-\(written.add(1, ordering: .relaxed).newValue).tmp"
    }

    init(opening path: String) throws(Failure) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(call: "open", path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let failure = Failure(call: "fstat", path: path)
            close(descriptor)
            throw failure
        }
        unlink(path)
        self.descriptor = descriptor
        self.path = path
        self.count = Int(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    /// The bytes of `range`, which lies within the file.
    func read(_ range: Range<Int>) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw count == 0
                    ? Failure(message: "\(path) ended at byte \(range.lowerBound + done)")
                    : Failure(call: "pread", path: path)
            }
            done += count
        }
        return bytes
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String

        init(message: String) {
            description = message
        }

        /// A failed system call, with `errno`.
        init(call: String, path: String) {
            description = "\(call) \(path): \(String(cString: strerror(errno)))"
        }
    }
}
