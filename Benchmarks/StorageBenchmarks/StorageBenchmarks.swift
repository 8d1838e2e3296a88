import Benchmark
import Glibc
import RaftCore
import RaftStorage

/// `DiskStorage` appends with fsync `always`, next to the raw `pwrite` + `fdatasync` rate of
/// the same file system in the same run (the floor any durable log pays), and the CPU cost of an
/// append without a sync.
///
/// Files go under `STORAGE_BENCH_DIR` (default /tmp): point it at the disk you care about.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )
    let entry = [UInt8](repeating: 0x5A, count: 128)

    Benchmark("raw 4 KiB pwrite + fdatasync, growing file (baseline)") { benchmark in
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let fd = open(directory.path + "/raw", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "open: \(String(cString: strerror(errno)))")
        defer { close(fd) }
        let block = [UInt8](repeating: 0xA5, count: 4096)
        var offset: off_t = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let written = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
            precondition(written == block.count && fdatasync(fd) == 0, "write: \(String(cString: strerror(errno)))")
            offset += off_t(block.count)
        }
        benchmark.stopMeasurement()
    }

    for batch in [1, 16, 256] {
        Benchmark("append \(batch) x 128 B + sync") { benchmark in
            try appendLoop(benchmark, batch: batch, entry: entry, fsync: .always, sync: true)
        }
    }

    Benchmark("append 64 x 128 B, no sync (CPU cost)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        try appendLoop(benchmark, batch: 64, entry: entry, fsync: .never, sync: false)
    }
}

private func appendLoop(
    _ benchmark: Benchmark,
    batch: Int,
    entry: [UInt8],
    fsync: DiskStorage.FsyncPolicy,
    sync: Bool
) throws {
    let directory = TemporaryDirectory()
    defer { directory.remove() }
    let storage = try DiskStorage(directory: directory.path, options: DiskStorage.Options(fsync: fsync))
    defer { storage.close() }
    var next: LogIndex = 1
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        try storage.append((0..<batch).map { Entry(term: 1, index: next + LogIndex($0), data: entry) })
        if sync { try storage.sync() }
        next += LogIndex(batch)
    }
    benchmark.stopMeasurement()
}

/// A fresh directory under `STORAGE_BENCH_DIR` (default /tmp), removed with its files.
private struct TemporaryDirectory {
    let path: String

    init() {
        let parent = getenv("STORAGE_BENCH_DIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(parent)/rafthost-storage-bench-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            fatalError("cannot create a directory under \(parent): \(String(cString: strerror(errno)))")
        }
        path = String(cString: created)
    }

    func remove() {
        Self.removeTree(path)
    }

    private static func removeTree(_ path: String) {
        guard let directory = opendir(path) else { return }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else { continue }
            let child = path + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { unlink(child) }
        }
        closedir(directory)
        rmdir(path)
    }
}
