import ClusterConfig
import Foundation
import KeyValueStore
import Logging
import NIOCore
import NIOPosix
import RaftCore
import RaftReplica
import RaftTransport
import ReplicationHost
import StateMachineAPI
import Synchronization
import Testing

/// A fresh directory under the system's temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("rafthost-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A log handler that records every event, so tests can wait for one instead of sleeping.
final class LogRecorder: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private struct State {
        var records: [Record] = []
        var waiters: [(predicate: @Sendable (Record) -> Bool, continuation: CheckedContinuation<Record, Never>)] = []
    }

    private let state = Mutex(State())

    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { _ in Handler(recorder: self) }
        logger.logLevel = .debug
        return logger
    }

    private func record(_ record: Record) {
        let ready = state.withLock { state in
            state.records.append(record)
            var ready: [CheckedContinuation<Record, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.predicate(record) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready {
            continuation.resume(returning: record)
        }
    }

    /// Every record so far.
    var records: [Record] { state.withLock { $0.records } }

    /// The first record (past or future) that matches.
    func first(where predicate: @escaping @Sendable (Record) -> Bool) async -> Record {
        await withCheckedContinuation { continuation in
            let found: Record? = state.withLock { state in
                if let record = state.records.first(where: predicate) {
                    return record
                }
                state.waiters.append((predicate, continuation))
                return nil
            }
            if let found {
                continuation.resume(returning: found)
            }
        }
    }

    /// How many records so far match.
    func count(where predicate: (Record) -> Bool) -> Int {
        state.withLock { $0.records.filter(predicate).count }
    }

    /// Waits for a leader of `group` to be elected (as logged by its node).
    func leaderElected(in group: String) async {
        _ = await first { $0.message == "became leader" && $0.metadata["raft.group"] == "\(group)" }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            recorder.record(
                Record(
                    level: event.level,
                    message: "\(event.message)",
                    metadata: metadata.merging(event.metadata ?? [:]) { $1 }
                )
            )
        }
    }
}

/// Waits until `process` exits and returns its status. Polled: `waitUntilExit()` blocks its
/// thread, one of the concurrency pool's two on a 2-core machine, and with it the in-process
/// nodes of every test running meanwhile (a quiescence test once missed a leader's answer for
/// 10 s while `rafthost up` stopped its cluster under `waitUntilExit()`).
func terminationStatus(of process: Process, within limit: Duration, _ what: String) async throws -> Int32 {
    _ = try await eventually(within: limit, "\(what) exiting") { process.isRunning ? nil : true }
    return process.terminationStatus
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Runs `operation`, failing with `TimedOut` if it takes longer than `limit`.
func withTimeout<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut(description: "\(what): not done within \(limit)")
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() else { throw TimedOut(description: what) }
        return value
    }
}

/// Repeats `attempt` until it returns a value, for at most `limit`. For conditions on real
/// processes and sockets that offer no event to wait for.
func eventually<T: Sendable>(
    within limit: Duration,
    _ what: String,
    _ attempt: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if let value = try await attempt() {
            return value
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimedOut(description: "\(what): not true within \(limit)")
}

enum KV {
    static func put(_ key: String, _ value: String, client: UInt64, sequence: UInt64) -> ClientRequest {
        .command(
            Replica.ClientCommand(
                clientID: client,
                sequence: sequence,
                command: KeyValueStore.Command.put(key: key, value: value).encoded()
            )
        )
    }

    static func get(_ key: String, consistency: Replica.ReadConsistency = .linearizable) -> ClientRequest {
        .query(KeyValueStore.Query.get(key: key).encoded(), consistency: consistency)
    }

    /// The plugin's answer inside `response`, or nil when the node answered with an error.
    static func response(_ response: ClientResponse) -> KeyValueStore.Response? {
        guard case .ok(let bytes) = response else { return nil }
        return try? KeyValueStore.Response(decoding: bytes)
    }
}

/// Ports for servers that must be named in a configuration before they start, handed out by
/// one counter for the whole test process: below the kernel's ephemeral range (32768 and up
/// here), so no outgoing connection can take one between the check and the bind, and distinct
/// across tests running in parallel. Each is checked to be free before it is handed out.
///
/// Another test process (a second `swift test`, a fresh clone's CI beside a local run) counts
/// through the same range, and a port checked free by both would be bound by whichever server
/// starts first. So each port handed out is also claimed with an exclusive `flock` on a file
/// named after it, held until this process exits (the kernel drops it then, even on a crash);
/// a port another live process has claimed is skipped.
func freePorts(_ count: Int) async throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let candidate = portCounter.withLock { next -> Int in
            defer { next = next >= 31_999 ? 20_000 : next + 1 }
            return next
        }
        guard claimAcrossProcesses(port: candidate) else { continue }
        // A close-on-exec socket: a rafthost child spawned at this moment by another test must
        // not inherit it and keep the port (NIO's own sockets are inheritable).
        if let socket = try? makeCloseOnExecListeningSocket(host: "127.0.0.1", port: candidate) {
            close(socket)
            ports.append(candidate)
        }
    }
    return ports
}

private let portClaimDirectory: String = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rafthost-test-ports").path
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}()

/// Takes `port`'s claim file for the rest of the process; false when another process holds it.
/// The descriptor is left open on purpose: closing it would release the claim.
private func claimAcrossProcesses(port: Int) -> Bool {
    let descriptor = open("\(portClaimDirectory)/\(port)", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
    guard descriptor >= 0 else { return true }  // no claim possible: the bind check still applies
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
        close(descriptor)
        return false
    }
    return true
}

private let portCounter = Mutex(20_000 + Int(getpid() % 1_000) * 10)
