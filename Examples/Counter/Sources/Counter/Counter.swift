public import StateMachineAPI

/// A replicated counter. Its commands, queries and responses are `Codable`, so the host
/// takes them as JSON too: `{"add":5}` adds 5, `{}` reads, and both answer the value.
public struct Counter: StateMachine, Hashable {
    /// What `cluster.yaml` names: `stateMachine: Counter`.
    public static let name = "Counter"

    public private(set) var value: Int64 = 0

    public init() {}

    /// Adds `add` (negative to subtract): `{"add":5}`.
    public struct Command: BinaryCodable, Codable, Hashable, Sendable {
        public var add: Int64

        public init(add: Int64) { self.add = add }

        public func encode(to writer: inout BinaryWriter) { writer.writeZigzag(add) }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) { add = try reader.readZigzag() }
    }

    /// Reads the value: `{}`.
    public struct Query: BinaryCodable, Codable, Hashable, Sendable {
        public init() {}

        public func encode(to writer: inout BinaryWriter) {}

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {}
    }

    /// Every command and query answers the value after it: `5`.
    public typealias Response = Int64

    public mutating func apply(_ command: Command, context: ApplyContext) -> Int64 {
        value &+= command.add
        return value
    }

    public func query(_ query: Query, context: QueryContext) -> Int64 { value }

    public func snapshot() throws -> [UInt8] { value.encoded() }

    public init(snapshot: [UInt8]) throws { value = try Int64(decoding: snapshot) }
}
