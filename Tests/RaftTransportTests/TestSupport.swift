import Logging
import RaftCore
import Synchronization

/// SplitMix64: a tiny seeded generator, so every random test replays exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One example of every payload kind, with edge cases of their variable parts.
let samplePayloads: [Message.Payload] = [
    .preVote(VoteRequest(lastLogIndex: 7, lastLogTerm: 3)),
    .preVoteResponse(VoteResponse(granted: true)),
    .vote(VoteRequest(lastLogIndex: .max, lastLogTerm: .max)),
    .vote(VoteRequest(lastLogIndex: 9, lastLogTerm: 4, transfer: true)),
    .timeoutNow,
    .removed,
    .voteResponse(VoteResponse(granted: false)),
    .append(AppendRequest(prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0)),
    .append(
        AppendRequest(
            prevLogIndex: 41,
            prevLogTerm: 5,
            entries: [
                Entry(term: 5, index: 42, kind: .noop),
                Entry(term: 5, index: 43, data: []),
                Entry(term: 6, index: 44, data: [1, 2, 3, 0, 255]),
                Entry(term: 6, index: 45, kind: .membership, data: Membership(voters: [NodeID(1)]).encoded),
            ],
            leaderCommit: 40
        )
    ),
    .append(
        AppendRequest(
            prevLogIndex: 1,
            prevLogTerm: 1,
            entries: [Entry(term: 2, index: 2, data: Array(repeating: 0xAB, count: 1 << 20))],
            leaderCommit: 1
        )
    ),
    .appendResponse(AppendResponse(success: true, matchIndex: 44)),
    .appendResponse(AppendResponse(success: false, matchIndex: 41, conflictIndex: 30, conflictTerm: 4)),
    .appendResponse(AppendResponse(success: false, matchIndex: 41, conflictIndex: 12, conflictTerm: nil)),
    .heartbeat(Heartbeat(commit: 12, readRound: 3)),
    .heartbeat(Heartbeat(commit: 12, readRound: 3, quiesce: true)),
    .heartbeatResponse(HeartbeatResponse(readRound: 3)),
    .installSnapshot(
        SnapshotChunk(
            metadata: SnapshotMetadata(index: 100, term: 7, voters: [NodeID(1), NodeID(2), NodeID(3)]),
            offset: 0,
            totalSize: 3,
            data: [9, 8, 7]
        )
    ),
    .installSnapshot(
        SnapshotChunk(
            metadata: SnapshotMetadata(index: 100, term: 7, voters: []),
            offset: 1 << 40,
            totalSize: 1 << 41,
            data: []
        )
    ),
    .installSnapshot(
        SnapshotChunk(
            metadata: SnapshotMetadata(
                index: 5,
                term: 2,
                membership: try! Membership(voters: [NodeID(1), NodeID(2)], learners: [NodeID(7)], removed: [NodeID(3)])
                    .applying([.addVoter(NodeID(4)), .remove(NodeID(2))], context: Array("n4 at 10.0.0.4".utf8))
            ),
            offset: 0,
            totalSize: 1,
            data: [1]
        )
    ),
    .installSnapshotResponse(SnapshotChunkResponse(snapshotIndex: 100, snapshotTerm: 7, nextOffset: 3, done: true)),
]

func message(_ payload: Message.Payload, from: UInt64 = 1, to: UInt64 = 2, term: Term = 9) -> Message {
    Message(from: NodeID(from), to: NodeID(to), term: term, payload: payload)
}

/// A small message whose term tells tests which one arrived.
func ping(from: UInt64 = 1, to: UInt64 = 2, term: Term = 9) -> Message {
    message(.heartbeatResponse(HeartbeatResponse(readRound: 0)), from: from, to: to, term: term)
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

    func record(_ record: Record) {
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

    func count(where predicate: (Record) -> Bool) -> Int {
        state.withLock { $0.records.filter(predicate).count }
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
