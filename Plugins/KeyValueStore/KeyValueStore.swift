public import StateMachineAPI

/// The reference plugin: the key/value service of the classic Raft key/value design, with
/// `Delete` and compare-and-swap added.
///
/// Keys and values are `String`s (UTF-8 on the wire): the service is text in the classic
/// design and in the HTTP/JSON API, and the codecs reject invalid UTF-8 instead of guessing.
///
/// - `Get(key)` is a ``Query``: ``Response/value(_:)``, or ``Response/noKey`` (`ErrNoKey`,
///   whose value reads as `""`) when the key is missing, so a missing key and an empty value
///   are told apart.
/// - `Put(key, value)` and `Append(key, value)` answer ``Response/ok``; appending to a missing
///   key acts as a put.
/// - `Delete(key)` answers ``Response/ok``, or ``Response/noKey`` when there was nothing to
///   delete.
/// - `CompareAndSwap(key, expected, new)` stores `new` only if the current value equals
///   `expected` (`nil`: the key must be missing) and answers
///   ``Response/compareAndSwap(swapped:current:)`` with the value after the operation.
public struct KeyValueStore: StateMachine, Hashable {
    /// The name `cluster.yaml` selects this plugin by: `stateMachine: KeyValueStore`.
    public static let name = "KeyValueStore"

    // Dictionaries are copy-on-write, so the host's snapshot capture is an O(1) copy. The keys
    // are spread over shards so that the first write after a capture copies one shard: copying
    // a single table of a million keys stalled the apply path for 88 ms on every node.
    private var shards: [[String: String]]
    private var keyCount = 0

    private static let shardCount = 256

    /// FNV-1a over the key's UTF-8, folded to 8 bits: the same shard in every process (unlike
    /// `hashValue`, which is seeded per process), so that snapshots written shard by shard are
    /// the same bytes on every node. Each shard's dictionary keeps its own seeded hashing.
    private static func shard(of key: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return Int((hash ^ (hash >> 16)) & UInt32(shardCount - 1))
    }

    public init() {
        shards = Array(repeating: [:], count: Self.shardCount)
    }

    /// A store holding `contents`, for tests and tools.
    public init(contents: [String: String]) {
        self.init()
        for (key, value) in contents {
            shards[Self.shard(of: key)][key] = value
        }
        keyCount = contents.count
    }

    /// Every key and its value.
    public var contents: [String: String] {
        shards.reduce(into: [:]) { all, shard in all.merge(shard) { first, _ in first } }
    }

    /// The number of keys.
    public var count: Int { keyCount }

    /// The value of `key`, or `nil` when it is missing.
    public subscript(key: String) -> String? { shards[Self.shard(of: key)][key] }

    public mutating func apply(_ command: Command, context: ApplyContext) -> Response {
        switch command {
        case .put(let key, let value):
            set(key, to: value)
            return .ok
        case .append(let key, let value):
            let shard = Self.shard(of: key)
            if shards[shard][key] == nil { keyCount += 1 }
            shards[shard][key, default: ""] += value
            return .ok
        case .delete(let key):
            return set(key, to: nil) == nil ? .noKey : .ok
        case .compareAndSwap(let key, let expected, let new):
            let current = self[key]
            guard current == expected else {
                return .compareAndSwap(swapped: false, current: current)
            }
            set(key, to: new)
            return .compareAndSwap(swapped: true, current: new)
        }
    }

    /// Sets or removes (`nil`) the value of `key`; returns the value it replaced.
    @discardableResult
    private mutating func set(_ key: String, to value: String?) -> String? {
        let shard = Self.shard(of: key)
        let previous =
            if let value {
                shards[shard].updateValue(value, forKey: key)
            } else {
                shards[shard].removeValue(forKey: key)
            }
        keyCount += (value == nil ? 0 : 1) - (previous == nil ? 0 : 1)
        return previous
    }

    public func query(_ query: Query, context: QueryContext) -> Response {
        switch query {
        case .get(let key):
            self[key].map(Response.value) ?? .noKey
        }
    }

    /// Format version 1: a version byte, the pair count, then each key and value as
    /// length-prefixed UTF-8. Written shard by shard, keys in ascending order within a shard,
    /// so that equal stores give equal bytes; read in any order (snapshots written before the
    /// shards, in ascending order overall, read the same). Streamed, so a large store is never
    /// held as one array (``snapshot()`` collects it).
    public func writeSnapshot(to stream: inout SnapshotOutputStream) throws {
        try stream.write {
            $0.writeUInt8(Self.snapshotVersion)
            $0.writeVarint(UInt64(keyCount))
        }
        // One shard's pairs sorted at a time: a million keys serialize in less than half the
        // time of sorting them all and looking each value up again.
        for shard in shards {
            for (key, value) in shard.sorted(by: { $0.key < $1.key }) {
                try stream.write {
                    $0.writeString(key)
                    $0.writeString(value)
                }
            }
        }
    }

    public init(snapshotStream stream: inout SnapshotInputStream) throws {
        let version = try stream.read { try $0.readUInt8() }
        guard version == Self.snapshotVersion else {
            throw BinaryDecodingError(
                code: .invalidValue,
                message: "unsupported KeyValueStore snapshot version \(version)",
                offset: stream.offset - 1
            )
        }
        // Each pair takes at least two bytes: two empty strings.
        let count = try stream.readCount(minimumElementSize: 2)
        self.init()
        for index in shards.indices {
            shards[index].reserveCapacity(count / Self.shardCount)
        }
        for _ in 0..<count {
            let (key, value) = try stream.read { reader in
                (try reader.readString(), try reader.readString())
            }
            guard set(key, to: value) == nil else {
                throw BinaryDecodingError(
                    code: .invalidValue,
                    message: "duplicate key \"\(key)\" in KeyValueStore snapshot",
                    offset: stream.offset
                )
            }
        }
    }

    private static let snapshotVersion: UInt8 = 1
}

extension KeyValueStore {
    /// A change to the store.
    public enum Command: BinaryCodable, Hashable, Codable {
        /// Sets `key` to `value`.
        case put(key: String, value: String)
        /// Appends `value` to the value of `key`; a missing key acts as a put.
        case append(key: String, value: String)
        /// Removes `key`.
        case delete(key: String)
        /// Sets `key` to `new` if its value is `expected`; `expected == nil` means "must be missing".
        case compareAndSwap(key: String, expected: String?, new: String)

        /// The key the command changes.
        public var key: String {
            switch self {
            case .put(let key, _), .append(let key, _), .delete(let key), .compareAndSwap(let key, _, _):
                key
            }
        }

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .put(let key, let value):
                writer.writeUInt8(0)
                writer.writeString(key)
                writer.writeString(value)
            case .append(let key, let value):
                writer.writeUInt8(1)
                writer.writeString(key)
                writer.writeString(value)
            case .delete(let key):
                writer.writeUInt8(2)
                writer.writeString(key)
            case .compareAndSwap(let key, let expected, let new):
                writer.writeUInt8(3)
                writer.writeString(key)
                writer.write(expected)
                writer.writeString(new)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .put(key: try reader.readString(), value: try reader.readString())
            case 1: self = .append(key: try reader.readString(), value: try reader.readString())
            case 2: self = .delete(key: try reader.readString())
            case 3:
                self = .compareAndSwap(
                    key: try reader.readString(),
                    expected: try reader.read(),
                    new: try reader.readString()
                )
            case let tag: throw reader.invalidValue("unknown KeyValueStore command tag \(tag)")
            }
        }
    }

    /// A read of the store.
    public enum Query: BinaryCodable, Hashable, Codable {
        /// The value of `key`: ``Response/value(_:)`` or ``Response/noKey``.
        case get(key: String)

        /// The key the query reads.
        public var key: String {
            switch self {
            case .get(let key): key
            }
        }

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .get(let key):
                writer.writeUInt8(0)
                writer.writeString(key)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .get(key: try reader.readString())
            case let tag: throw reader.invalidValue("unknown KeyValueStore query tag \(tag)")
            }
        }
    }

    /// The answer to a command or a query.
    public enum Response: BinaryCodable, Hashable, Codable {
        /// Put, Append, or Delete of an existing key: done.
        case ok
        /// `ErrNoKey`: Get or Delete of a missing key. A Get reads it as the value `""`.
        case noKey
        /// Get of an existing key (the value may be empty).
        case value(String)
        /// Compare-and-swap: whether it stored the new value, and the key's value afterwards
        /// (`nil` when missing).
        case compareAndSwap(swapped: Bool, current: String?)

        /// The value a Get returns in the classic service: the value, or `""` for ``noKey``.
        public var valueOrEmpty: String {
            if case .value(let value) = self { value } else { "" }
        }

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .ok:
                writer.writeUInt8(0)
            case .noKey:
                writer.writeUInt8(1)
            case .value(let value):
                writer.writeUInt8(2)
                writer.writeString(value)
            case .compareAndSwap(let swapped, let current):
                writer.writeUInt8(3)
                writer.writeBool(swapped)
                writer.write(current)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .ok
            case 1: self = .noKey
            case 2: self = .value(try reader.readString())
            case 3: self = .compareAndSwap(swapped: try reader.readBool(), current: try reader.read())
            case let tag: throw reader.invalidValue("unknown KeyValueStore response tag \(tag)")
            }
        }
    }
}
