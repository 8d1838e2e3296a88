public import StateMachineAPI

/// The state machine of the Raft-level scenarios: it remembers which command it applied at
/// which index (the classic lab's `logs[i][index]`), and snapshots that record.
public struct CommandRecorder: StateMachine, Hashable {
    public static let name = "CommandRecorder"

    public private(set) var commands: [UInt64: [UInt8]] = [:]

    public init() {}

    public struct Command: BinaryCodable, Hashable {
        public var bytes: [UInt8]

        public init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        public func encode(to writer: inout BinaryWriter) {
            writer.writeBytes(bytes)
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            bytes = try reader.readBytes()
        }
    }

    /// The command applied at `index`.
    public struct Query: BinaryCodable, Hashable {
        public var index: UInt64

        public init(index: UInt64) {
            self.index = index
        }

        public func encode(to writer: inout BinaryWriter) {
            writer.writeVarint(index)
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            index = try reader.readVarint()
        }
    }

    public typealias Response = [UInt8]?

    public mutating func apply(_ command: Command, context: ApplyContext) -> [UInt8]? {
        commands[context.index] = command.bytes
        return nil
    }

    public func query(_ query: Query, context: QueryContext) -> [UInt8]? {
        commands[query.index]
    }

    public func snapshot() throws -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeVarint(UInt64(commands.count))
        for (index, bytes) in commands.sorted(by: { $0.key < $1.key }) {
            writer.writeVarint(index)
            writer.writeBytes(bytes)
        }
        return writer.bytes
    }

    public init(snapshot: [UInt8]) throws {
        var reader = BinaryReader(snapshot)
        let count = try reader.readCount()
        for _ in 0..<count {
            let index = try reader.readVarint()
            commands[index] = try reader.readBytes()
        }
        try reader.finish()
    }
}

