/// A value with a compact, self-delimiting binary encoding: the codec of a state machine's
/// commands, queries and responses.
///
/// Encoding cannot fail. Decoding reads from a ``BinaryReader`` and throws
/// ``BinaryDecodingError`` on anything that is not a valid encoding; it must never trap,
/// because the bytes come from the network and from disk.
///
/// Encodings must be *self-delimiting*: the decoder knows where the value ends from the bytes
/// themselves (tags, counts and length prefixes, as ``BinaryWriter`` writes them), so no strict
/// prefix of a valid encoding decodes as a complete value and truncation is always detected.
///
/// ```swift
/// enum Command: BinaryCodable {
///     case add(Int64)
///     case reset
///
///     func encode(to writer: inout BinaryWriter) {
///         switch self {
///         case .add(let amount):
///             writer.writeUInt8(0)
///             writer.writeZigzag(amount)
///         case .reset:
///             writer.writeUInt8(1)
///         }
///     }
///
///     init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
///         switch try reader.readUInt8() {
///         case 0: self = .add(try reader.readZigzag())
///         case 1: self = .reset
///         case let tag: throw reader.invalidValue("unknown command tag \(tag)")
///         }
///     }
/// }
/// ```
public protocol BinaryCodable: Sendable {
    /// Appends the encoding of `self` to `writer`.
    func encode(to writer: inout BinaryWriter)

    /// Reads one value from `reader`, leaving it just after the value's last byte.
    init(from reader: inout BinaryReader) throws(BinaryDecodingError)
}

extension BinaryCodable {
    /// The encoding of `self` alone.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a value that must span `bytes` exactly: leftover bytes are an error too.
    public init(decoding bytes: [UInt8]) throws(BinaryDecodingError) {
        var reader = BinaryReader(bytes)
        self = try Self(from: &reader)
        try reader.finish()
    }
}

extension UInt8: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeUInt8(self)
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readUInt8()
    }
}

/// Encoded as a varint.
extension UInt64: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarint(self)
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readVarint()
    }
}

/// Encoded as a zigzag varint.
extension Int64: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeZigzag(self)
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readZigzag()
    }
}

/// Encoded as a zigzag varint; decoding rejects values that do not fit this platform's `Int`.
extension Int: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeZigzag(Int64(self))
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        let value = try reader.readZigzag()
        guard let exact = Int(exactly: value) else {
            throw reader.invalidValue("\(value) does not fit in Int")
        }
        self = exact
    }
}

extension Bool: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeBool(self)
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readBool()
    }
}

/// Encoded as a varint byte count followed by UTF-8.
extension String: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeString(self)
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readString()
    }
}

/// Encoded as a presence byte (0 or 1) followed by the wrapped value when present.
extension Optional: BinaryCodable where Wrapped: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case .none:
            writer.writeBool(false)
        case .some(let wrapped):
            writer.writeBool(true)
            wrapped.encode(to: &writer)
        }
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        self = try reader.readBool() ? try Wrapped(from: &reader) : nil
    }
}

/// Encoded as a varint element count followed by the elements. Decoding checks the count against
/// the bytes left, counting at least one byte per element, so elements must not encode to zero bytes.
extension Array: BinaryCodable where Element: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarint(UInt64(count))
        for element in self {
            element.encode(to: &writer)
        }
    }

    public init(from reader: inout BinaryReader) throws(BinaryDecodingError) {
        let count = try reader.readCount()
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try Element(from: &reader))
        }
        self = elements
    }
}
