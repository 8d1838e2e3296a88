/// Reads the values that ``BinaryWriter`` writes, checking every bound.
///
/// Every read throws ``BinaryDecodingError`` when the input is too short or invalid; nothing
/// traps on malformed input, and a length prefix is checked against the bytes that remain
/// before anything is allocated, so a forged length cannot exhaust memory.
///
/// ```swift
/// var reader = BinaryReader(bytes)
/// let tag = try reader.readUInt8()
/// let key = try reader.readString()
/// let count = try reader.readVarint()
/// try reader.finish()             // no bytes may remain
/// ```
public struct BinaryReader: Sendable {
    private let bytes: [UInt8]
    /// The offset of the next byte to read.
    public private(set) var offset: Int

    /// A reader at the start of `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    /// A reader at `offset` of `bytes`, for ``SnapshotInputStream``.
    init(_ bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    /// How many bytes are left to read.
    public var remaining: Int { bytes.count - offset }

    /// True when every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws ``BinaryDecodingError/Code/trailingBytes`` unless every byte has been read.
    public func finish(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) {
        guard isAtEnd else {
            throw BinaryDecodingError(
                code: .trailingBytes,
                message: "\(remaining) byte(s) left after a complete value",
                offset: offset,
                location: ErrorSourceLocation(file: file, line: line)
            )
        }
    }

    /// An error for a value that was read completely but is not valid (an unknown tag, a
    /// number out of range), located at the current offset. Codecs throw it:
    /// `throw reader.invalidValue("unknown command tag \(tag)")`.
    public func invalidValue(_ message: String, file: String = #fileID, line: Int = #line) -> BinaryDecodingError {
        BinaryDecodingError(
            code: .invalidValue,
            message: message,
            offset: offset,
            location: ErrorSourceLocation(file: file, line: line)
        )
    }

    private func truncated(_ what: String, needing count: Int, file: String, line: Int) -> BinaryDecodingError {
        BinaryDecodingError(
            code: .truncated,
            message: "\(what) needs \(count) byte(s), \(remaining) left",
            offset: offset,
            location: ErrorSourceLocation(file: file, line: line)
        )
    }

    /// Reads one byte.
    public mutating func readUInt8(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> UInt8 {
        guard offset < bytes.count else {
            throw truncated("UInt8", needing: 1, file: file, line: line)
        }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads one byte that must be 0 (false) or 1 (true).
    public mutating func readBool(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> Bool {
        let byte = try readUInt8(file: file, line: line)
        switch byte {
        case 0: return false
        case 1: return true
        default: throw invalidValue("Bool byte must be 0 or 1, found \(byte)", file: file, line: line)
        }
    }

    /// Reads an LEB128 varint, rejecting encodings longer than 10 bytes or above `UInt64.max`.
    public mutating func readVarint(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else {
                throw truncated("varint", needing: 1, file: file, line: line)
            }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may only carry the single top bit of a UInt64.
            if shift == 63 && byte > 1 {
                throw invalidValue("varint overflows UInt64", file: file, line: line)
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                return result
            }
            shift += 7
        }
    }

    /// Reads a zigzag varint written by ``BinaryWriter/writeZigzag(_:)``.
    public mutating func readZigzag(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> Int64 {
        let raw = try readVarint(file: file, line: line)
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Reads 4 little-endian bytes.
    public mutating func readUInt32(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> UInt32 {
        guard remaining >= 4 else {
            throw truncated("UInt32", needing: 4, file: file, line: line)
        }
        var value: UInt32 = 0
        for index in 0..<4 {
            value |= UInt32(bytes[offset + index]) << UInt32(index * 8)
        }
        offset += 4
        return value
    }

    /// Reads 8 little-endian bytes.
    public mutating func readUInt64(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> UInt64 {
        guard remaining >= 8 else {
            throw truncated("UInt64", needing: 8, file: file, line: line)
        }
        var value: UInt64 = 0
        for index in 0..<8 {
            value |= UInt64(bytes[offset + index]) << UInt64(index * 8)
        }
        offset += 8
        return value
    }

    /// Reads a varint element count for a collection and checks that the remaining input can
    /// hold that many elements of at least `minimumElementSize` bytes each, so that a caller
    /// may `reserveCapacity(count)` safely.
    public mutating func readCount(
        minimumElementSize: Int = 1,
        file: String = #fileID,
        line: Int = #line
    ) throws(BinaryDecodingError) -> Int {
        let start = offset
        let raw = try readVarint(file: file, line: line)
        let limit = minimumElementSize > 0 ? UInt64(remaining / minimumElementSize) : UInt64(Int.max)
        guard raw <= limit else {
            offset = start
            throw truncated("\(raw) element(s)", needing: Int(clamping: raw), file: file, line: line)
        }
        return Int(raw)
    }

    /// Reads a length-prefixed byte array.
    public mutating func readBytes(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> [UInt8] {
        let count = try readCount(file: file, line: line)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Reads exactly `count` bytes with no length prefix.
    public mutating func readRawBytes(
        count: Int,
        file: String = #fileID,
        line: Int = #line
    ) throws(BinaryDecodingError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw truncated("raw bytes", needing: count, file: file, line: line)
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Reads a length-prefixed UTF-8 string, rejecting invalid UTF-8.
    public mutating func readString(file: String = #fileID, line: Int = #line) throws(BinaryDecodingError) -> String {
        let count = try readCount(file: file, line: line)
        let start = offset
        guard let string = String(validating: bytes[start..<start + count], as: UTF8.self) else {
            throw invalidValue("string of \(count) byte(s) is not valid UTF-8", file: file, line: line)
        }
        offset += count
        return string
    }

    /// Reads any ``BinaryCodable`` value.
    public mutating func read<Value: BinaryCodable>(
        _ type: Value.Type = Value.self
    ) throws(BinaryDecodingError) -> Value {
        try Value(from: &self)
    }
}
