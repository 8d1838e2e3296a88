import Glibc

/// Thin wrappers over the system calls the disk storage needs: every return value is checked,
/// `EINTR` is retried, short reads and writes are continued, and failures become `StorageError`s
/// naming the path.
enum FileIO {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(StorageError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 {
                return fd
            }
            if errno != EINTR {
                throw .system("open", path: path, errno: errno)
            }
        }
    }

    /// Closes `fd`. Errors are ignored: data that matters was synced before, and Linux releases the
    /// descriptor even when close reports an error.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, path: String) throws(StorageError) {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if written < 0 {
                if errno == EINTR {
                    continue
                }
                throw .system("write", path: path, errno: errno, offset: offset + Int64(done))
            }
            done += written
        }
    }

    static func read(_ fd: Int32, count: Int, at offset: Int64, path: String) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                Glibc.pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if result < 0 {
                if errno == EINTR {
                    continue
                }
                throw .system("read", path: path, errno: errno, offset: offset + Int64(done))
            }
            if result == 0 {
                throw StorageError(
                    .corruption,
                    "file ends before the expected \(count) bytes; it was changed behind the storage",
                    path: path,
                    offset: offset + Int64(done)
                )
            }
            done += result
        }
        return bytes
    }

    /// The whole contents of the file at `path`.
    static func readFile(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try read(fd, count: Int(size(fd, path: path)), at: 0, path: path)
    }

    static func size(_ fd: Int32, path: String) throws(StorageError) -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .system("fstat", path: path, errno: errno)
        }
        return Int64(info.st_size)
    }

    /// `fdatasync`: data and the metadata needed to read it back (the file size), not timestamps.
    static func dataSync(_ fd: Int32, path: String) throws(StorageError) {
        while fdatasync(fd) != 0 {
            if errno != EINTR {
                throw .system("fdatasync", path: path, errno: errno)
            }
        }
    }

    /// `fsync`, for directories: makes created, renamed and removed names durable.
    static func fullSync(_ fd: Int32, path: String) throws(StorageError) {
        while fsync(fd) != 0 {
            if errno != EINTR {
                throw .system("fsync", path: path, errno: errno)
            }
        }
    }

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws(StorageError) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR {
                throw .system("ftruncate", path: path, errno: errno, offset: size)
            }
        }
    }

    static func rename(_ from: String, to: String) throws(StorageError) {
        guard Glibc.rename(from, to) == 0 else {
            throw .system("rename to \(to)", path: from, errno: errno)
        }
    }

    static func remove(_ path: String) throws(StorageError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .system("unlink", path: path, errno: errno)
        }
    }

    static func makeDirectory(_ path: String) throws(StorageError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw .system("mkdir", path: path, errno: errno)
        }
    }

    static func listDirectory(_ path: String) throws(StorageError) -> [String] {
        guard let directory = opendir(path) else {
            throw .system("opendir", path: path, errno: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 {
                    throw .system("readdir", path: path, errno: errno)
                }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." {
                names.append(name)
            }
        }
    }
}
