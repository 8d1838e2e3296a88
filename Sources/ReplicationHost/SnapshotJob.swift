import Glibc
import NIOPosix
import RaftCore
import RaftReplica

/// The one snapshot of a group in flight off its executor.
///
/// The executor captures the state (O(1), copy-on-write) and starts the job; the job streams
/// the capture into the storage's snapshot file on ``threadPool`` and reports back; the
/// executor compacts the engine's log through the captured index and hands the snapshot to the
/// storage, again on ``threadPool``; the job ends when the storage reports back. Meanwhile the executor handles ticks, messages, appends,
/// commits and reads as usual, so a slow serializer or a large state never delays a heartbeat.
struct SnapshotJob: Sendable {
    /// What the work off the executor reports, by captured index.
    enum Event: Sendable {
        case serialized(index: LogIndex, Result<Serialized, any Error>)
        case stored(index: LogIndex, Result<Void, any Error>)
    }

    /// The capture written by the storage (to a synced temporary file, on disk), not stored yet.
    struct Serialized: Sendable {
        var metadata: SnapshotMetadata
        var data: SnapshotData
    }

    /// The capture's index was compacted by a snapshot installed before it was written.
    struct Superseded: Error {}

    let capture: SnapshotCapture
    let started: ContinuousClock.Instant
    /// Set once serialized.
    var serializedBytes = 0

    init(capture: SnapshotCapture, started: ContinuousClock.Instant) {
        self.capture = capture
        self.started = started
    }

    /// The threads that serialize and store snapshots, one for the whole process: a long
    /// serialization must not hold a thread of `NIOThreadPool.singleton`, where every group's
    /// log syncs run. Snapshots of different groups queue here, which the policy tolerates (a
    /// group's log only grows a little longer meanwhile).
    ///
    /// Its thread runs at a lower priority (nice 10): serializing a large state is CPU-bound for
    /// seconds, on every node (in turn: see `SnapshotPolicy`), and should yield to the threads
    /// that answer heartbeats and clients. It still gets about a tenth of a busy core, so snapshots finish; the policy
    /// starts none while one is in flight.
    static let threadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        pool.submit { _ in lowerCurrentThreadPriority(to: 10) }
        return pool
    }()

    /// The thread that restores the snapshots followers receive (``SnapshotRestore/run()``), one
    /// for the whole process: a restore neither waits behind another group's serialization nor
    /// holds a thread where log syncs run. A group runs one restore at a time.
    static let restoreThreadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()
}

extension Result where Failure == any Error {
    /// The outcome of `body`, thrown errors included.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}

/// Sets the calling thread's nice value (Linux: per thread). Best effort: a failure only leaves
/// the thread at the process's priority.
private func lowerCurrentThreadPriority(to nice: Int32) {
    // The thread id, which setpriority takes for one thread, from /proc/thread-self -> "pid/task/tid".
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard count > 0,
        let tid = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: "/").last.flatMap({ id_t($0) })
    else { return }
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, nice)
}
