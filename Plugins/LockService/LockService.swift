public import StateMachineAPI

/// A lock service with leases and fencing tokens: a plugin of a different nature from the
/// key/value store, whose answers depend on (log) time.
///
/// - `acquire(lock, owner, leaseMs)` grants a free lock with a new fencing token and a lease
///   until `time + leaseMs`, or answers ``Response/held(_:)`` with the current holder. The
///   holder acquiring again extends its lease and keeps its token, so a retried acquire is
///   harmless.
/// - `renew(lock, owner, token, leaseMs)` extends a live lease held by `owner` with `token`.
/// - `release(lock, owner, token)` frees a live lock held by `owner` with `token`; anyone else
///   is refused with ``Response/notHolder(current:)``.
/// - The query `holder(lock)` answers the live holder, if any.
///
/// Time is ``ApplyContext/time`` (log time), never the wall clock, so every replica expires a
/// lease at the same entry. A lease is live while `expiresAt > time`.
///
/// Fencing tokens come from one counter for the whole service: every grant of a free lock
/// takes the next value, so tokens increase strictly across all grants, and a resource can
/// reject a write carrying a token lower than one it has seen.
///
/// Expired leases are dropped lazily, when a command next touches their lock; until then they
/// take space in the state and its snapshot, but no query or command ever reports them.
public struct LockService: StateMachine, Hashable {
    /// The name `cluster.yaml` selects this plugin by: `stateMachine: LockService`.
    public static let name = "LockService"

    // Dictionary storage keeps the state a value type with O(1) copy-on-write captures.
    private var locks: [String: Holder]
    private var lastToken: UInt64

    public init() {
        locks = [:]
        lastToken = 0
    }

    /// The highest fencing token granted so far (0 before the first grant).
    public var lastFencingToken: UInt64 { lastToken }

    /// The live holder of `lock` at log time `time`.
    public func holder(of lock: String, at time: UInt64) -> Holder? {
        guard let holder = locks[lock], holder.expiresAt > time else {
            return nil
        }
        return holder
    }

    public mutating func apply(_ command: Command, context: ApplyContext) -> Response {
        let now = context.time
        let live = holder(of: command.lock, at: now)
        // Drop an expired lease lazily. Only when there is one: a needless write would copy the
        // dictionary while the host serializes a captured copy of it.
        if live == nil && locks[command.lock] != nil {
            locks[command.lock] = nil
        }
        switch command {
        case .acquire(let lock, let owner, let leaseMs):
            if let live, live.owner != owner {
                return .held(live)
            }
            let token: UInt64
            if let live {
                token = live.token
            } else {
                lastToken += 1
                token = lastToken
            }
            let granted = Holder(owner: owner, token: token, expiresAt: Self.expiry(now, leaseMs))
            locks[lock] = granted
            return .granted(granted)
        case .renew(let lock, let owner, let token, let leaseMs):
            guard let live, live.owner == owner, live.token == token else {
                return .notHolder(current: live)
            }
            let renewed = Holder(owner: owner, token: token, expiresAt: Self.expiry(now, leaseMs))
            locks[lock] = renewed
            return .granted(renewed)
        case .release(let lock, let owner, let token):
            guard let live, live.owner == owner, live.token == token else {
                return .notHolder(current: live)
            }
            locks[lock] = nil
            return .released
        }
    }

    public func query(_ query: Query, context: QueryContext) -> Response {
        switch query {
        case .holder(let lock):
            .holder(holder(of: lock, at: context.time))
        }
    }

    /// Format version 1: a version byte, the last fencing token, the lock count, then each lock
    /// (name, owner, token, expiry) in ascending name order so that equal states give equal bytes.
    public func snapshot() throws -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeUInt8(Self.snapshotVersion)
        writer.writeVarint(lastToken)
        writer.writeVarint(UInt64(locks.count))
        for (lock, holder) in locks.sorted(by: { $0.key < $1.key }) {
            writer.writeString(lock)
            holder.encode(to: &writer)
        }
        return writer.bytes
    }

    public init(snapshot: [UInt8]) throws {
        var reader = BinaryReader(snapshot)
        let version = try reader.readUInt8()
        guard version == Self.snapshotVersion else {
            throw reader.invalidValue("unsupported LockService snapshot version \(version)")
        }
        let lastToken = try reader.readVarint()
        // Each lock takes at least four bytes: an empty name and owner and two one-byte varints.
        let count = try reader.readCount(minimumElementSize: 4)
        var locks: [String: Holder] = [:]
        locks.reserveCapacity(count)
        for _ in 0..<count {
            let lock = try reader.readString()
            let holder = try Holder(from: &reader)
            guard holder.token <= lastToken else {
                throw reader.invalidValue("lock \"\(lock)\" has token \(holder.token) above the last, \(lastToken)")
            }
            guard locks.updateValue(holder, forKey: lock) == nil else {
                throw reader.invalidValue("duplicate lock \"\(lock)\" in LockService snapshot")
            }
        }
        try reader.finish()
        self.locks = locks
        self.lastToken = lastToken
    }

    private static let snapshotVersion: UInt8 = 1

    /// `now + leaseMs`, saturating: an absurdly long lease never wraps around into the past.
    private static func expiry(_ now: UInt64, _ leaseMs: UInt64) -> UInt64 {
        let (sum, overflow) = now.addingReportingOverflow(leaseMs)
        return overflow ? .max : sum
    }
}

extension LockService {
    /// Who holds a lock, with which fencing token, until when (log time, milliseconds).
    public struct Holder: BinaryCodable, Hashable {
        /// The client that holds the lock, as it named itself.
        public var owner: String
        /// The fencing token of this grant: pass it along with every write to the protected
        /// resource, which rejects tokens lower than the highest it has seen.
        public var token: UInt64
        /// The log time at which the lease ends; the lock is free from then on.
        public var expiresAt: UInt64

        public init(owner: String, token: UInt64, expiresAt: UInt64) {
            self.owner = owner
            self.token = token
            self.expiresAt = expiresAt
        }

        public func encode(to writer: inout BinaryWriter) {
            writer.writeString(owner)
            writer.writeVarint(token)
            writer.writeVarint(expiresAt)
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            owner = try reader.readString()
            token = try reader.readVarint()
            expiresAt = try reader.readVarint()
        }
    }

    /// A change to a lock.
    public enum Command: BinaryCodable, Hashable {
        /// Takes `lock` for `owner` for `leaseMs` milliseconds of log time.
        case acquire(lock: String, owner: String, leaseMs: UInt64)
        /// Extends the lease of the holder `owner` with fencing token `token`.
        case renew(lock: String, owner: String, token: UInt64, leaseMs: UInt64)
        /// Frees `lock` if `owner` holds it with fencing token `token`.
        case release(lock: String, owner: String, token: UInt64)

        /// The lock the command is about.
        public var lock: String {
            switch self {
            case .acquire(let lock, _, _), .renew(let lock, _, _, _), .release(let lock, _, _): lock
            }
        }

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .acquire(let lock, let owner, let leaseMs):
                writer.writeUInt8(0)
                writer.writeString(lock)
                writer.writeString(owner)
                writer.writeVarint(leaseMs)
            case .renew(let lock, let owner, let token, let leaseMs):
                writer.writeUInt8(1)
                writer.writeString(lock)
                writer.writeString(owner)
                writer.writeVarint(token)
                writer.writeVarint(leaseMs)
            case .release(let lock, let owner, let token):
                writer.writeUInt8(2)
                writer.writeString(lock)
                writer.writeString(owner)
                writer.writeVarint(token)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0:
                self = .acquire(
                    lock: try reader.readString(),
                    owner: try reader.readString(),
                    leaseMs: try reader.readVarint()
                )
            case 1:
                self = .renew(
                    lock: try reader.readString(),
                    owner: try reader.readString(),
                    token: try reader.readVarint(),
                    leaseMs: try reader.readVarint()
                )
            case 2:
                self = .release(
                    lock: try reader.readString(),
                    owner: try reader.readString(),
                    token: try reader.readVarint()
                )
            case let tag:
                throw reader.invalidValue("unknown LockService command tag \(tag)")
            }
        }
    }

    /// A read of a lock.
    public enum Query: BinaryCodable, Hashable {
        /// The live holder of `lock` at the query's log time.
        case holder(lock: String)

        /// The lock the query reads.
        public var lock: String {
            switch self {
            case .holder(let lock): lock
            }
        }

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .holder(let lock):
                writer.writeUInt8(0)
                writer.writeString(lock)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .holder(lock: try reader.readString())
            case let tag: throw reader.invalidValue("unknown LockService query tag \(tag)")
            }
        }
    }

    /// The answer to a command or a query.
    public enum Response: BinaryCodable, Hashable {
        /// Acquire or renew succeeded: the caller holds the lock as described.
        case granted(Holder)
        /// Acquire refused: someone else holds the lock.
        case held(Holder)
        /// Release succeeded: the lock is free.
        case released
        /// Renew or release refused: the caller does not hold the lock with that token. Carries
        /// the live holder, if any.
        case notHolder(current: Holder?)
        /// The answer to ``Query/holder(lock:)``.
        case holder(Holder?)

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .granted(let holder):
                writer.writeUInt8(0)
                holder.encode(to: &writer)
            case .held(let holder):
                writer.writeUInt8(1)
                holder.encode(to: &writer)
            case .released:
                writer.writeUInt8(2)
            case .notHolder(let current):
                writer.writeUInt8(3)
                writer.write(current)
            case .holder(let holder):
                writer.writeUInt8(4)
                writer.write(holder)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .granted(try Holder(from: &reader))
            case 1: self = .held(try Holder(from: &reader))
            case 2: self = .released
            case 3: self = .notHolder(current: try reader.read())
            case 4: self = .holder(try reader.read())
            case let tag: throw reader.invalidValue("unknown LockService response tag \(tag)")
            }
        }
    }
}
