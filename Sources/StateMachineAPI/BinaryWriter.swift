/// Appends values to a byte buffer in the compact format that ``BinaryReader`` reads back.
///
/// The format is self-delimiting, so values can be concatenated without separators:
/// - unsigned integers are LEB128 varints (1 byte below 128, at most 10 bytes);
/// - signed integers are zigzag-encoded varints (small negative numbers stay small);
/// - `Bool` is one byte, 0 or 1;
/// - strings and byte arrays are a varint length followed by the bytes (UTF-8 for strings);
/// - fixed-width integers are little-endian, for fields where a constant size matters.
///
/// ```swift
/// var writer = BinaryWriter()
/// writer.writeUInt8(1)            // a tag
/// writer.writeString("key")
/// writer.writeVarint(42)
/// let bytes = writer.bytes
/// ```
public struct BinaryWriter: Sendable {
    /// Everything written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer, optionally reserving room for `capacity` bytes.
    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Forgets what was written, keeping the storage for reuse.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Writes one byte.
    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    /// Writes one byte: 1 for `true`, 0 for `false`.
    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// Writes `value` as an LEB128 varint: 7 bits per byte, high bit set on all but the last.
    public mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// Writes a signed integer as a zigzag varint (0, -1, 1, -2, ... map to 0, 1, 2, 3, ...).
    public mutating func writeZigzag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Writes `value` as 4 little-endian bytes.
    public mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Writes `value` as 8 little-endian bytes.
    public mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Writes the UTF-8 bytes of `value`, prefixed with their count.
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes `value` prefixed with its count.
    public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Writes `value` without a length: the reader must know where it ends.
    public mutating func writeRawBytes(_ value: some Sequence<UInt8>) {
        bytes.append(contentsOf: value)
    }

    /// Writes any ``BinaryCodable`` value.
    public mutating func write(_ value: some BinaryCodable) {
        value.encode(to: &self)
    }
}
