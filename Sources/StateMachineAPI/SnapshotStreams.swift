/// Where a state machine writes its snapshot piece by piece
/// (``StateMachine/writeSnapshot(to:)``): values are encoded with a ``BinaryWriter`` into a
/// small buffer that goes to the host (a file, a network transfer) whenever it fills, so a
/// large state is never held as one byte array.
///
/// ```swift
/// func writeSnapshot(to stream: inout SnapshotOutputStream) throws {
///     try stream.write { $0.writeVarint(UInt64(items.count)) }
///     for item in items.sorted() {
///         try stream.write { $0.writeString(item) }
///     }
/// }
/// ```
public struct SnapshotOutputStream {
    /// The buffer size the host uses: large enough that writes to a file or socket are few.
    public static let defaultBufferSize = 64 * 1024

    private var writer: BinaryWriter
    private let bufferSize: Int
    private let sink: ([UInt8]) throws -> Void
    private var flushed = 0

    /// The most bytes this stream buffered at once: at most the buffer size plus the largest
    /// value written in one ``write(_:)`` call.
    public private(set) var peakBufferedBytes = 0

    /// A stream that hands its bytes to `sink` in pieces of about `bufferSize` bytes, in order.
    /// `sink` must not keep the array it is given if it wants the buffer reused.
    public init(bufferSize: Int = defaultBufferSize, sink: @escaping ([UInt8]) throws -> Void) {
        self.bufferSize = max(1, bufferSize)
        self.sink = sink
        writer = BinaryWriter(reservingCapacity: self.bufferSize)
    }

    /// Bytes written so far, flushed or not.
    public var count: Int { flushed + writer.bytes.count }

    /// Encodes values with `body`; the bytes go out once the buffer is full. Keep each call
    /// small (a record, a key and its value): a call's bytes are buffered whole.
    public mutating func write(_ body: (inout BinaryWriter) throws -> Void) throws {
        try body(&writer)
        peakBufferedBytes = max(peakBufferedBytes, writer.bytes.count)
        if writer.bytes.count >= bufferSize {
            try flush()
        }
    }

    /// Writes any ``BinaryCodable`` value.
    public mutating func write(_ value: some BinaryCodable) throws {
        try write { $0.write(value) }
    }

    /// Writes `bytes` without a length; a large array goes to the sink as it is, not copied.
    public mutating func writeRawBytes(_ bytes: [UInt8]) throws {
        guard bytes.count >= bufferSize else {
            return try write { $0.writeRawBytes(bytes) }
        }
        try flush()
        try sink(bytes)
        flushed += bytes.count
    }

    /// Hands the buffered bytes to the sink. The host calls it once the state machine is done.
    public mutating func flush() throws {
        guard !writer.bytes.isEmpty else { return }
        try sink(writer.bytes)
        flushed += writer.bytes.count
        writer.removeAll()
    }

    /// The bytes `body` writes, collected into one array: the byte form of a snapshot.
    public static func collect(
        bufferSize: Int = defaultBufferSize,
        _ body: (inout SnapshotOutputStream) throws -> Void
    ) throws -> [UInt8] {
        // A box, not a captured `var`, so the array is appended to in place.
        final class Collector {
            var bytes: [UInt8] = []
        }
        let collector = Collector()
        var stream = SnapshotOutputStream(bufferSize: bufferSize) { collector.bytes.append(contentsOf: $0) }
        try body(&stream)
        try stream.flush()
        return collector.bytes
    }
}

/// Where a state machine reads its snapshot back piece by piece
/// (``StateMachine/init(snapshotStream:)``): bytes are pulled from the host (a file, an array)
/// into a small buffer and decoded with a ``BinaryReader``, so a large snapshot is never held as
/// one byte array.
///
/// ```swift
/// init(snapshotStream stream: inout SnapshotInputStream) throws {
///     let count = try stream.readCount()
///     for _ in 0..<count {
///         items.append(try stream.read { try $0.readString() })
///     }
/// }
/// ```
///
/// Errors carry offsets from the start of the stream. The host checks that every byte was read.
public struct SnapshotInputStream {
    private var buffer: [UInt8]
    private var position = 0
    /// The stream offset of `buffer[0]`.
    private var discarded = 0
    private var unread: Int
    private let chunkSize: Int
    private let source: (Int) throws -> [UInt8]

    /// A stream of `count` bytes pulled from `source`, which is asked for at most the number of
    /// bytes it is given and returns the next bytes (at least one while any remain).
    public init(
        count: Int,
        chunkSize: Int = SnapshotOutputStream.defaultBufferSize,
        source: @escaping (Int) throws -> [UInt8]
    ) {
        buffer = []
        unread = count
        self.chunkSize = max(1, chunkSize)
        self.source = source
    }

    /// A stream over bytes already in memory; they are read in place, not copied.
    public init(_ bytes: [UInt8]) {
        buffer = bytes
        unread = 0
        chunkSize = 1
        source = { _ in [] }
    }

    /// Bytes not read yet.
    public var remaining: Int { unread + buffer.count - position }

    /// The stream offset of the next byte to read.
    public var offset: Int { discarded + position }

    /// True when every byte has been read.
    public var isAtEnd: Bool { remaining == 0 }

    /// Decodes one value with `body`. If the buffered bytes end within the value, more are
    /// pulled and `body` runs again from the same place, so it must do nothing but read.
    ///
    /// ``BinaryReader/readCount(minimumElementSize:file:line:)`` inside `body` checks against
    /// the buffered bytes only; read collection counts with ``readCount(minimumElementSize:)``.
    public mutating func read<Value>(_ body: (inout BinaryReader) throws -> Value) throws -> Value {
        while true {
            var reader = BinaryReader(buffer, offset: position)
            do {
                let value = try body(&reader)
                position = reader.offset
                return value
            } catch let error as BinaryDecodingError where error.code == .truncated && unread > 0 {
                // At least double what is buffered, so a large value costs few retries.
                try fill(max(chunkSize, buffer.count - position))
            } catch var error as BinaryDecodingError {
                error.offset += discarded
                throw error
            }
        }
    }

    /// Reads any ``BinaryCodable`` value.
    public mutating func read<Value: BinaryCodable>(_ type: Value.Type = Value.self) throws -> Value {
        try read { try Value(from: &$0) }
    }

    /// Reads a varint element count and checks that the rest of the stream can hold that many
    /// elements of at least `minimumElementSize` bytes each, so that a caller may
    /// `reserveCapacity(count)` safely.
    public mutating func readCount(minimumElementSize: Int = 1) throws -> Int {
        let start = offset
        let raw = try read { try $0.readVarint() }
        let limit = minimumElementSize > 0 ? UInt64(remaining / minimumElementSize) : UInt64(Int.max)
        guard raw <= limit else {
            throw BinaryDecodingError(
                code: .truncated,
                message: "\(raw) element(s) need more than the \(remaining) byte(s) left",
                offset: start
            )
        }
        return Int(raw)
    }

    /// Every byte not read yet, as one array: the byte form of a snapshot.
    public mutating func readToEnd() throws -> [UInt8] {
        try fill(unread)
        defer { position = buffer.count }
        return position == 0 ? buffer : Array(buffer[position...])
    }

    /// Throws ``BinaryDecodingError/Code/trailingBytes`` unless every byte has been read.
    public func finish() throws(BinaryDecodingError) {
        guard isAtEnd else {
            throw BinaryDecodingError(
                code: .trailingBytes,
                message: "\(remaining) byte(s) left after a complete snapshot",
                offset: offset
            )
        }
    }

    /// Drops the bytes read and appends up to `count` more from the source.
    private mutating func fill(_ count: Int) throws {
        if position > 0 {
            buffer.removeFirst(position)
            discarded += position
            position = 0
        }
        var wanted = min(count, unread)
        while wanted > 0 {
            let bytes = try source(wanted)
            guard !bytes.isEmpty, bytes.count <= wanted else {
                throw BinaryDecodingError(
                    code: .truncated,
                    message: "the snapshot source ended with \(unread) byte(s) still expected",
                    offset: discarded + buffer.count
                )
            }
            buffer.append(contentsOf: bytes)
            unread -= bytes.count
            wanted -= bytes.count
        }
    }
}
