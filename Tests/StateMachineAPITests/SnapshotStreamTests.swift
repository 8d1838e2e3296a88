import StateMachineAPI
import Testing

/// ``SnapshotOutputStream`` and ``SnapshotInputStream``, and the defaults that bridge the byte
/// form of a snapshot and the stream form.
@Suite("Snapshot streams")
struct SnapshotStreamTests {
    /// A source that hands out `bytes` at most `piece` bytes at a time.
    private final class PieceSource {
        let bytes: [UInt8]
        let piece: Int
        var offset = 0
        var calls = 0

        init(_ bytes: [UInt8], piece: Int) {
            self.bytes = bytes
            self.piece = piece
        }

        func next(_ count: Int) -> [UInt8] {
            calls += 1
            let end = min(offset + min(count, piece), bytes.count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
    }

    private static func stream(_ bytes: [UInt8], piece: Int, chunkSize: Int = 4) -> SnapshotInputStream {
        let source = PieceSource(bytes, piece: piece)
        return SnapshotInputStream(count: bytes.count, chunkSize: chunkSize, source: source.next)
    }

    @Test("the output stream hands the sink pieces of about its buffer size, in order")
    func outputFlushesInPieces() throws {
        var pieces: [[UInt8]] = []
        var stream = SnapshotOutputStream(bufferSize: 16) { pieces.append($0) }
        for value in 0..<100 {
            try stream.write { $0.writeUInt32(UInt32(value)) }
        }
        try stream.writeRawBytes(Array(repeating: 7, count: 40))
        try stream.flush()
        #expect(stream.count == 440)
        #expect(stream.peakBufferedBytes <= 16 + 4)
        #expect(pieces.allSatisfy { $0.count <= 20 || $0.count == 40 })
        var expected = BinaryWriter()
        for value in 0..<100 { expected.writeUInt32(UInt32(value)) }
        expected.writeRawBytes(Array(repeating: 7, count: 40))
        #expect(pieces.flatMap { $0 } == expected.bytes)
    }

    @Test("values that span the source's pieces decode, with offsets from the start of the stream")
    func inputAcrossPieces() throws {
        var writer = BinaryWriter()
        writer.writeString(String(repeating: "x", count: 300))
        writer.writeVarint(UInt64.max)
        writer.writeString("tail")
        var stream = Self.stream(writer.bytes, piece: 3)
        #expect(try stream.read { try $0.readString() } == String(repeating: "x", count: 300))
        #expect(try stream.read { try $0.readVarint() } == UInt64.max)
        #expect(stream.offset == writer.bytes.count - 5)
        #expect(try stream.read { try $0.readString() } == "tail")
        try stream.finish()

        var bad = BinaryWriter()
        bad.writeString(String(repeating: "y", count: 50))
        bad.writeUInt8(9)
        var damaged = Self.stream(bad.bytes, piece: 5)
        _ = try damaged.read { try $0.readString() }
        let error = try #require(throws: BinaryDecodingError.self) { try damaged.read { try $0.readBool() } }
        #expect(error.code == .invalidValue && error.offset == 52)
    }

    @Test("a truncated stream, a count that cannot fit and leftover bytes are errors, not traps")
    func inputErrors() throws {
        var writer = BinaryWriter()
        writer.writeVarint(1_000)
        writer.writeUInt8(1)
        var counted = Self.stream(writer.bytes, piece: 1)
        #expect(throws: BinaryDecodingError.self) { try counted.readCount() }

        var short = SnapshotInputStream(count: 10, source: { _ in [] })
        #expect(throws: BinaryDecodingError.self) { try short.read { try $0.readUInt64() } }

        var trailing = SnapshotInputStream([1, 2, 3])
        _ = try trailing.read { try $0.readUInt8() }
        #expect(trailing.remaining == 2)
        #expect(throws: BinaryDecodingError.self) { try trailing.finish() }
        #expect(try trailing.readToEnd() == [2, 3])
        try trailing.finish()
    }

    /// Implements only the byte form of a snapshot.
    private struct BytesOnly: StateMachine {
        static let name = "BytesOnly"
        var items: [UInt64] = []
        init() {}
        init(items: [UInt64]) { self.items = items }
        mutating func apply(_ command: UInt64, context: ApplyContext) -> UInt64 { command }
        func query(_ query: UInt64, context: QueryContext) -> UInt64 { query }

        func snapshot() throws -> [UInt8] {
            var writer = BinaryWriter()
            writer.write(items)
            return writer.bytes
        }

        init(snapshot: [UInt8]) throws {
            var reader = BinaryReader(snapshot)
            items = try reader.read()
            try reader.finish()
        }
    }

    /// Implements only the stream form, and the same bytes as ``BytesOnly``.
    private struct StreamOnly: StateMachine {
        static let name = "StreamOnly"
        var items: [UInt64] = []
        init() {}
        init(items: [UInt64]) { self.items = items }
        mutating func apply(_ command: UInt64, context: ApplyContext) -> UInt64 { command }
        func query(_ query: UInt64, context: QueryContext) -> UInt64 { query }

        func writeSnapshot(to stream: inout SnapshotOutputStream) throws {
            try stream.write { $0.writeVarint(UInt64(items.count)) }
            for item in items { try stream.write(item) }
        }

        init(snapshotStream stream: inout SnapshotInputStream) throws {
            let count = try stream.readCount()
            for _ in 0..<count { items.append(try stream.read()) }
        }
    }

    @Test("a plugin that implements either form can be saved and restored through both")
    func defaultsBridgeTheForms() throws {
        let items: [UInt64] = (0..<5_000).map { $0 * 977 }
        let bytes = try BytesOnly(items: items).snapshot()
        #expect(try StreamOnly(items: items).snapshot() == bytes)
        #expect(try SnapshotOutputStream.collect { try BytesOnly(items: items).writeSnapshot(to: &$0) } == bytes)
        #expect(try StreamOnly(snapshot: bytes).items == items)
        var stream = Self.stream(bytes, piece: 100, chunkSize: 64)
        #expect(try BytesOnly(snapshotStream: &stream).items == items)
        var streamed = Self.stream(bytes, piece: 100, chunkSize: 64)
        #expect(try StreamOnly(snapshotStream: &streamed).items == items)
        try streamed.finish()
        #expect(throws: BinaryDecodingError.self) { try StreamOnly(snapshot: bytes + [0]) }

        var erased = AnyStateMachine(StreamOnly())
        var input = Self.stream(bytes, piece: 100)
        try erased.restore(from: &input)
        #expect(erased.unwrap(as: StreamOnly.self)?.items == items)
        var written: [UInt8] = []
        var output = SnapshotOutputStream(bufferSize: 256) { written += $0 }
        try erased.capture().write(to: &output)
        try output.flush()
        #expect(written == bytes && output.peakBufferedBytes < 256 + 10)
    }
}
