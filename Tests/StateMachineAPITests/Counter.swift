// The example of Docs.docc/WritingAStateMachine.md, compiled and tested so that the guide
// stays true to the API. Keep the two in sync.
public import StateMachineAPI

/// A replicated counter: add to it, reset it, read it.
public struct Counter: StateMachine {
    public static let name = "Counter"

    public private(set) var value: Int64 = 0

    public init() {}

    public enum Command: BinaryCodable {
        case add(Int64)
        case reset

        public func encode(to writer: inout BinaryWriter) {
            switch self {
            case .add(let amount):
                writer.writeUInt8(0)
                writer.writeZigzag(amount)
            case .reset:
                writer.writeUInt8(1)
            }
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            switch try reader.readUInt8() {
            case 0: self = .add(try reader.readZigzag())
            case 1: self = .reset
            case let tag: throw reader.invalidValue("unknown Counter command tag \(tag)")
            }
        }
    }

    public enum Query: BinaryCodable {
        case value

        public func encode(to writer: inout BinaryWriter) {
            writer.writeUInt8(0)
        }

        public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            let tag = try reader.readUInt8()
            guard tag == 0 else {
                throw reader.invalidValue("unknown Counter query tag \(tag)")
            }
            self = .value
        }
    }

    /// Every command and query answers the value of the counter after it.
    public typealias Response = Int64

    public mutating func apply(_ command: Command, context: ApplyContext) -> Int64 {
        switch command {
        case .add(let amount): value &+= amount
        case .reset: value = 0
        }
        return value
    }

    public func query(_ query: Query, context: QueryContext) -> Int64 {
        value
    }

    public func snapshot() throws -> [UInt8] {
        value.encoded()
    }

    public init(snapshot: [UInt8]) throws {
        value = try Int64(decoding: snapshot)
    }
}
