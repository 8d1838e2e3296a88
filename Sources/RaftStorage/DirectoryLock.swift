import Glibc
import Synchronization

/// The exclusive lock on a storage directory: a POSIX record lock (`fcntl(F_SETLK)`) on its `LOCK`
/// file against other processes, and a process-wide table against a second storage in this process.
///
/// Not `flock`: an `flock` belongs to the open file description, which a child process shares from
/// `fork` until its `exec` closes the descriptor. A process that starts children (a test runner, a
/// host that launches nodes) could then find a directory it has just closed still locked. POSIX
/// record locks belong to the process and are never inherited. They cannot tell two opens in one
/// process apart, and closing any descriptor of the file drops them, hence the table: it is checked
/// before the file is opened, so a refused second opener never opens (and closes) the file.
struct DirectoryLock: Sendable {
    private struct FileID: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    /// `LOCK` files this process holds.
    private static let held = Mutex<Set<FileID>>([])

    let path: String
    private let fd: Int32
    private let id: FileID

    static func acquire(directory: String) throws(StorageError) -> DirectoryLock {
        let path = directory + "/LOCK"
        return try held.withLock { (held) throws(StorageError) in
            var info = stat()
            if stat(path, &info) == 0, held.contains(FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))) {
                throw lockedError(path: path, errno: nil)
            }
            let fd = try FileIO.open(path, O_RDWR | O_CREAT)
            guard fstat(fd, &info) == 0 else {
                let code = errno
                FileIO.close(fd)
                throw .system("fstat", path: path, errno: code)
            }
            var request = flock()
            request.l_type = Int16(F_WRLCK)
            request.l_whence = Int16(SEEK_SET)
            while fcntl(fd, F_SETLK, &request) != 0 {
                let code = errno
                if code == EINTR {
                    continue
                }
                FileIO.close(fd)
                if code == EAGAIN || code == EACCES {
                    throw lockedError(path: path, errno: code)
                }
                throw .system("fcntl(F_SETLK)", path: path, errno: code)
            }
            let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            held.insert(id)
            return DirectoryLock(path: path, fd: fd, id: id)
        }
    }

    /// Releases the lock (closing the descriptor drops it) and forgets it, in one step.
    func release() {
        Self.held.withLock { held in
            FileIO.close(fd)
            held.remove(id)
        }
    }

    private static func lockedError(path: String, errno: Int32?) -> StorageError {
        StorageError(
            .locked,
            "another process, or another DiskStorage in this process, has this directory open; "
                + "two writers would corrupt the log, so stop the other one first",
            path: path,
            errno: errno
        )
    }
}
