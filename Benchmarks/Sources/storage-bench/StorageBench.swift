import Glibc
import RaftCore
import RaftStorage
import Synchronization

/// Append throughput of `DiskStorage` with fsync `always`, next to the raw `fdatasync` rate of the
/// same file system, measured in the same run.
///
/// The last row shows group commit: many tasks appending one entry each through a `GroupCommitter`.
///
/// Usage: `storage-bench [directory] [seconds per measurement]` (defaults: /tmp, 3).
@main
struct StorageBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let parent = arguments.count > 1 ? arguments[1] : "/tmp"
        let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3
        let duration = Duration.milliseconds(Int(seconds * 1000))

        var template = Array("\(parent)/storage-bench-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            fatalError("cannot create a directory under \(parent): \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: created)
        defer { removeTree(directory) }

        print("directory: \(directory), \(seconds) s per row\n")
        print("| workload | entries/s | fsyncs/s | MiB/s |")
        print("| --- | ---: | ---: | ---: |")
        let raw = try rawSyncRate(path: directory + "/raw", duration: duration)
        print(row("raw 4 KiB pwrite + fdatasync", entries: nil, syncs: raw.syncs, bytes: raw.bytes))
        for batch in [1, 16, 256] {
            let result = try appendRate(
                directory: "\(directory)/batch-\(batch)",
                batch: batch,
                entrySize: 128,
                duration: duration
            )
            let name = "append \(batch) × 128 B + sync"
            print(row(name, entries: result.entries, syncs: result.syncs, bytes: result.bytes))
        }
        let tasks = 64
        let grouped = try await groupCommitRate(
            directory: directory + "/group-commit",
            tasks: tasks,
            entrySize: 128,
            duration: duration
        )
        let name = "group commit: \(tasks) tasks × 1 × 128 B"
        print(row(name, entries: grouped.entries, syncs: grouped.syncs, bytes: grouped.bytes))
    }

    struct Rates {
        var entries: Double = 0
        var syncs: Double = 0
        var bytes: Double = 0
    }

    /// A loop of 4 KiB appends, each followed by `fdatasync`: the device's sync rate for a growing file.
    static func rawSyncRate(path: String, duration: Duration) throws -> Rates {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            fatalError("open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let block = [UInt8](repeating: 0xA5, count: 4096)
        var count = 0
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < duration {
            let written = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(count * 4096)) }
            guard written == block.count, fdatasync(fd) == 0 else {
                fatalError("write or fdatasync on \(path): \(String(cString: strerror(errno)))")
            }
            count += 1
        }
        let elapsed = seconds(clock.now - start)
        return Rates(entries: 0, syncs: Double(count) / elapsed, bytes: Double(count * 4096) / elapsed)
    }

    /// `append` of `batch` entries then `sync()`, repeated, on a fresh `DiskStorage` with fsync `always`.
    static func appendRate(directory: String, batch: Int, entrySize: Int, duration: Duration) throws -> Rates {
        let storage = try DiskStorage(directory: directory, options: DiskStorage.Options(fsync: .always))
        defer { storage.close() }
        let data = [UInt8](repeating: 0x5A, count: entrySize)
        var next: LogIndex = 1
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < duration {
            let entries = (0..<batch).map { Entry(term: 1, index: next + LogIndex($0), data: data) }
            try storage.append(entries)
            try storage.sync()
            next += LogIndex(batch)
        }
        let elapsed = seconds(clock.now - start)
        let statistics = storage.statistics
        return Rates(
            entries: Double(next - 1) / elapsed,
            syncs: Double(statistics.syncs) / elapsed,
            bytes: Double(statistics.bytesWritten) / elapsed
        )
    }

    /// `tasks` tasks, each appending one entry at a time through one `GroupCommitter` and waiting for it.
    static func groupCommitRate(
        directory: String,
        tasks: Int,
        entrySize: Int,
        duration: Duration
    ) async throws -> Rates {
        let storage = try DiskStorage(directory: directory, options: DiskStorage.Options(fsync: .always))
        defer { storage.close() }
        let committer = GroupCommitter(storage: storage)
        let nextIndex = NextIndex()
        let data = [UInt8](repeating: 0x5A, count: entrySize)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    while clock.now < deadline {
                        // Indices are taken under the lock that orders submissions, so they arrive in order.
                        let ticket = nextIndex.value.withLock { next in
                            defer { next += 1 }
                            return committer.submit([Entry(term: 1, index: next, data: data)])
                        }
                        try await committer.waitUntilDurable(ticket)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = seconds(clock.now - start)
        let statistics = storage.statistics
        return Rates(
            entries: Double(nextIndex.value.withLock { $0 } - 1) / elapsed,
            syncs: Double(statistics.syncs) / elapsed,
            bytes: Double(statistics.bytesWritten) / elapsed
        )
    }

    final class NextIndex: Sendable {
        let value = Mutex<LogIndex>(1)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func row(_ name: String, entries: Double?, syncs: Double, bytes: Double) -> String {
        let entriesText = entries.map { String(Int($0.rounded())) } ?? "—"
        let mebibytes = (bytes / 1_048_576 * 100).rounded() / 100
        return "| \(name) | \(entriesText) | \(Int(syncs.rounded())) | \(mebibytes) |"
    }

    static func removeTree(_ path: String) {
        guard let directory = opendir(path) else {
            return
        }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else {
                continue
            }
            let child = path + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        closedir(directory)
        rmdir(path)
    }
}
