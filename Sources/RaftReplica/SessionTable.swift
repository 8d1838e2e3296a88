import StateMachineAPI

/// Exactly-once bookkeeping: per client, the last sequence number applied and its outcome,
/// so that a retried command is answered from here instead of being applied twice.
///
/// Part of the replicated state: it changes only as entries apply and is saved in
/// snapshots. Idle clients expire by log time, and the table is capped in size (least
/// recently active clients go first), both decided by the log alone, so that every replica
/// holds the same table at the same index.
struct SessionTable: Hashable, Sendable {
    struct Session: Hashable, Sendable {
        var lastSequence: UInt64
        var outcome: Outcome
        var lastActive: UInt64
    }

    /// A cached answer: the state machine's response or a deterministic error.
    enum Outcome: Hashable, Sendable {
        case response([UInt8])
        case invalidRequest(String)
    }

    enum Lookup: Equatable {
        /// Never seen: apply it.
        case new
        /// Already applied: here is its answer.
        case duplicate(Outcome)
        /// Older than the last applied request of this client: its answer is gone.
        case stale
    }

    private(set) var sessions: [UInt64: Session] = [:]
    /// Log time of the next sweep for idle sessions.
    private var nextSweep: UInt64 = 0

    var count: Int { sessions.count }

    func lookup(client: UInt64, sequence: UInt64) -> Lookup {
        guard let session = sessions[client] else { return .new }
        if sequence == session.lastSequence { return .duplicate(session.outcome) }
        return sequence < session.lastSequence ? .stale : .new
    }

    mutating func record(client: UInt64, sequence: UInt64, outcome: Outcome, time: UInt64, limits: SessionLimits) {
        sessions[client] = Session(lastSequence: sequence, outcome: outcome, lastActive: time)
        if sessions.count > limits.maxSessions {
            evictLeastRecentlyActive(keeping: limits.maxSessions * 9 / 10)
        }
    }

    /// Drops sessions idle for longer than the timeout. Cheap on most calls: it sweeps at most
    /// every quarter timeout of log time.
    mutating func expire(now: UInt64, limits: SessionLimits) {
        guard now >= nextSweep else { return }
        nextSweep = now + max(1, limits.idleTimeout / 4)
        guard now > limits.idleTimeout else { return }
        let cutoff = now - limits.idleTimeout
        sessions = sessions.filter { $0.value.lastActive >= cutoff }
    }

    private mutating func evictLeastRecentlyActive(keeping target: Int) {
        let keep = sessions.sorted {
            ($0.value.lastActive, $0.key) > ($1.value.lastActive, $1.key)
        }.prefix(target)
        sessions = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
    }

    func encode(to writer: inout BinaryWriter) {
        writer.writeVarint(nextSweep)
        writer.writeVarint(UInt64(sessions.count))
        // Sorted, so that equal tables give equal snapshot bytes.
        for (client, session) in sessions.sorted(by: { $0.key < $1.key }) {
            writer.writeVarint(client)
            writer.writeVarint(session.lastSequence)
            writer.writeVarint(session.lastActive)
            switch session.outcome {
            case .response(let bytes):
                writer.writeUInt8(0)
                writer.writeBytes(bytes)
            case .invalidRequest(let message):
                writer.writeUInt8(1)
                writer.writeString(message)
            }
        }
    }

    init() {}

    init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        nextSweep = try reader.readVarint()
        let count = try reader.readCount()
        for _ in 0..<count {
            let client = try reader.readVarint()
            let sequence = try reader.readVarint()
            let lastActive = try reader.readVarint()
            let outcome: Outcome
            switch try reader.readUInt8() {
            case 0: outcome = .response(try reader.readBytes())
            case 1: outcome = .invalidRequest(try reader.readString())
            case let tag: throw reader.invalidValue("unknown session outcome tag \(tag)")
            }
            sessions[client] = Session(lastSequence: sequence, outcome: outcome, lastActive: lastActive)
        }
    }
}

/// Bounds on the session table. Every replica of a group MUST use the same values.
public struct SessionLimits: Sendable, Hashable {
    /// A client silent for this long (log time, milliseconds) loses its session: a retry of
    /// its last request after that is refused as `sessionExpired`, never applied twice.
    public var idleTimeout: UInt64 = 10 * 60 * 1000
    /// At most this many sessions; beyond it the least recently active are dropped.
    public var maxSessions: Int = 100_000

    public init() {}
}
