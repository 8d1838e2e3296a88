import RaftHostPluginExport
import StateMachineAPI

/// The library's entry point: the one line that makes `NativeCounter` a RaftHost plugin.
@_cdecl("rafthost_plugin_entry")
public func rafthostPluginEntry() -> UnsafeRawPointer { exportPlugin(NativeCounter.self) }

/// A replicated counter, served by the stock `rafthost` from this library.
///
/// Every value is 8 little-endian bytes, so that a shell can speak it: a command is the amount
/// to add (negative to subtract), a query is empty, and both answer the value after them.
struct NativeCounter: StateMachine {
    static let name = "NativeCounter"

    var value: Int64 = 0

    init() {}

    /// 8 little-endian bytes.
    struct Amount: BinaryCodable, Sendable {
        var value: Int64

        init(_ value: Int64) { self.value = value }

        func encode(to writer: inout BinaryWriter) { writer.writeUInt64(UInt64(bitPattern: value)) }

        init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
            value = Int64(bitPattern: try reader.readUInt64())
        }
    }

    /// No bytes: read the value.
    struct Read: BinaryCodable, Sendable {
        func encode(to writer: inout BinaryWriter) {}

        init() {}

        init(from reader: inout BinaryReader) throws(BinaryDecodingError) {}
    }

    typealias Command = Amount
    typealias Query = Read
    typealias Response = Amount

    mutating func apply(_ command: Amount, context: ApplyContext) -> Amount {
        value &+= command.value
        return Amount(value)
    }

    func query(_ query: Read, context: QueryContext) -> Amount { Amount(value) }

    func snapshot() throws -> [UInt8] { Amount(value).encoded() }

    init(snapshot: [UInt8]) throws { value = try Amount(decoding: snapshot).value }
}
